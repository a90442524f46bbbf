-- 0024: the request id of the POST that brought a message in (the client's X-Request-Id when it
-- is 1 to 128 characters of [A-Za-z0-9._:-], else one the hub made). The dispatcher sends it to
-- the recipients as X-Request-Id and logs it with every attempt, so one id follows a message from
-- its POST to each delivery. NULL for messages stored before this migration and for
-- acknowledgements found in delivery answers. Nullable without a default: adding it rewrites
-- nothing.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS request_id text;
