-- 0021: each delivery's attempts, with the answer's status and how long it took, for a message's
-- timeline (GET /v1/messages/{id}, the console). Kept compactly, so the normal path still writes
-- nothing per delivery:
--   * the log's normal path: one row per endpoint and recorded round in `log_answers`, the round's
--     delivered entries side by side in arrays (inserted once, never updated; retention deletes
--     them with the finished deliveries);
--   * a row in `deliveries` (a retry, a dead letter, an acknowledgement owed): its latest attempts
--     in arrays on the row, appended by the update that records each outcome.
-- A status of NULL is an attempt without an answer (refused, timed out, TLS failure).
ALTER TABLE deliveries
  ADD COLUMN attempt_at timestamptz[] NOT NULL DEFAULT '{}',  -- when each exchange began
  ADD COLUMN attempt_status integer[] NOT NULL DEFAULT '{}',
  ADD COLUMN attempt_ms integer[] NOT NULL DEFAULT '{}',      -- from the start to the answer
  ADD COLUMN attempt_error text[] NOT NULL DEFAULT '{}';

-- The last `n` elements of `a` with `v` appended: a row keeps its latest attempts, however long it
-- retries.
CREATE FUNCTION cjhub_keep_last(a anycompatiblearray, v anycompatible, n integer) RETURNS anycompatiblearray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT x[greatest(1, cardinality(x) - n + 1):] FROM (SELECT array_append(a, v) AS x) t
$$;

CREATE TABLE log_answers (
  endpoint_id  bigint NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  seqs         bigint[] NOT NULL,       -- the entries (messages.seq) delivered in the round
  attempt_at   timestamptz[] NOT NULL,  -- the same positions: when each exchange began,
  statuses     integer[] NOT NULL,      -- the answer's status,
  took_ms      integer[] NOT NULL       -- and how long the answer took
);
-- A message's answers: by its seq (one lookup per timeline); pruned by age.
CREATE INDEX log_answers_seqs ON log_answers USING gin (seqs);
CREATE INDEX log_answers_recorded ON log_answers USING brin (recorded_at);
