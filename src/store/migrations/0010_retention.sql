-- 0010: retention. Payloads of messages that every recipient has (and, where required, has
-- acknowledged) are removed after `retention.payload_days`; finished deliveries after
-- `retention.delivery_days`. What stays: the message row (id, type, sender, times, SHA-256),
-- erasure deliveries (the ledger) and dead letters.
ALTER TABLE messages ADD COLUMN purged_at timestamptz;

-- Only messages that still hold a payload, oldest first: the retention job walks these and
-- nothing it already emptied (this replaces the index on every message's receive time, which
-- nothing else read).
DROP INDEX messages_received_at;
CREATE INDEX messages_holding_payload ON messages (received_at) WHERE body IS NOT NULL;

-- How far the pruning of deliveries has got (their ids are time-ordered).
CREATE TABLE retention_cursors (
  name     text PRIMARY KEY,
  position uuid NOT NULL
);
