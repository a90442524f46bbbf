-- 0014: cheaper messages.
--
-- Payloads compressed with LZ4, as 0007 meant. 0001 stored bodies uncompressed out of line
-- (STORAGE EXTERNAL), which also switches compression off, so 0007's LZ4 setting never applied:
-- every 4.8 KB arrest packet cost three TOAST rows and their index entries, and as many bytes of
-- WAL. With EXTENDED storage a body is compressed first (LZ4, several times cheaper than pglz) and
-- moved out of line only if it is still large. Bodies already stored stay as they are.
ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTENDED;

-- The sender of every message is the agency its certificate maps to in the directory, checked
-- when the message is admitted, and agencies are never deleted (`cjhub apply` deactivates them),
-- so the reference cannot dangle. Checking it cost a look-up and a row lock on the sender's
-- agency row for each message stored (the same reasoning as 0007's for deliveries).
ALTER TABLE messages DROP CONSTRAINT messages_sender_ori_fkey;
