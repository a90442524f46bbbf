-- 0013: delivery on a shared log. The messages are the log: `seq` is their order, and each records
-- where the hub sends it, computed when it is stored: `recipients` (endpoint ids) and `routes` (the
-- subscription that chose each, same positions). Nothing is written per delivery on the normal
-- path: each endpoint reads the log after its cursor and moves the cursor once per batch. Only what
-- leaves the normal path becomes a row in `deliveries` (a retry, what waits behind it in the same
-- case, dead letters, suppressed deliveries, deliveries that owe an acknowledgement).
ALTER TABLE messages ADD COLUMN recipients bigint[], ADD COLUMN routes bigint[];
CREATE UNIQUE INDEX messages_seq ON messages (seq);

-- `seq` order is commit order: every transaction that stores messages holds the append lock from
-- its first insert until it ends, so a reader that has seen seq N has seen every message that will
-- ever commit with a lower seq. (The two-key form: a key space apart from the case locks.)
CREATE FUNCTION cjhub_log_append_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7, 0);
  RETURN NULL;
END $$;
CREATE TRIGGER messages_append_order BEFORE INSERT ON messages
  FOR EACH STATEMENT EXECUTE FUNCTION cjhub_log_append_lock();

-- One cursor per endpoint: every log entry at or before `position` was sent (or became a row in
-- `deliveries`), and so was every entry in `done`. A case's next entry is sent only once its
-- previous one is recorded here, so no restart sends a case's messages out of order. One hub at a
-- time reads an endpoint's log, under a lease.
CREATE TABLE endpoint_cursors (
  endpoint_id  bigint PRIMARY KEY REFERENCES endpoints (id),
  position     bigint NOT NULL,
  done         bigint[] NOT NULL DEFAULT '{}',  -- entries after `position` already finished
  leased_by    text,
  lease_until  timestamptz,
  advanced_at  timestamptz NOT NULL DEFAULT now()
);
-- The dispatchers alive now (each renews its row with its leases): each reads at most its share of
-- the endpoints' logs, so hubs sharing a database share the work.
CREATE TABLE dispatchers (
  instance_id  text PRIMARY KEY,
  seen_at      timestamptz NOT NULL
);

-- A new endpoint starts at the end of the log (under the append lock: nothing stored meanwhile
-- can be missed). Existing endpoints start there too: the deliveries already routed to them stay
-- rows and drain as before.
CREATE FUNCTION cjhub_endpoint_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7, 0);
  INSERT INTO endpoint_cursors (endpoint_id, position)
  VALUES (NEW.id, coalesce((SELECT max(seq) FROM messages), 0));
  RETURN NULL;
END $$;
CREATE TRIGGER endpoints_cursor AFTER INSERT ON endpoints
  FOR EACH ROW EXECUTE FUNCTION cjhub_endpoint_cursor();
SELECT pg_advisory_xact_lock(7, 0);
INSERT INTO endpoint_cursors (endpoint_id, position)
SELECT id, coalesce((SELECT max(seq) FROM messages), 0) FROM endpoints;

-- A lane's rows that wait behind log entries are promoted when the cursor passes them.
CREATE INDEX deliveries_queued_by_seq ON deliveries (endpoint_id, seq) WHERE state = 'queued';
