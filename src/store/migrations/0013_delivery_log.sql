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
  read_through bigint NOT NULL DEFAULT 0,       -- entries after it were never read: never sent
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
  INSERT INTO endpoint_cursors (endpoint_id, position, read_through)
  SELECT NEW.id, m, m FROM (SELECT coalesce(max(seq), 0) AS m FROM messages) e;
  RETURN NULL;
END $$;
CREATE TRIGGER endpoints_cursor AFTER INSERT ON endpoints
  FOR EACH ROW EXECUTE FUNCTION cjhub_endpoint_cursor();
SELECT pg_advisory_xact_lock(7, 0);
INSERT INTO endpoint_cursors (endpoint_id, position, read_through)
SELECT id, m, m FROM endpoints, (SELECT coalesce(max(seq), 0) AS m FROM messages) e;

-- The delivery id of a log entry: the endpoint and the position in a UUID (as log_delivery_id in
-- src/store/log_repo.cpp), the same for the first attempt and for the row a retry becomes.
CREATE FUNCTION cjhub_log_delivery_id(endpoint_id bigint, seq bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT (lpad(to_hex((endpoint_id & 281474976710655) >> 16), 8, '0') || '-' ||
          lpad(to_hex(endpoint_id & 65535), 4, '0') || '-8000-8000-' ||
          lpad(to_hex(seq & 281474976710655), 12, '0'))::uuid
$$;

-- A lane's rows that wait behind log entries are promoted when the cursor passes them.
CREATE INDEX deliveries_queued_by_seq ON deliveries (endpoint_id, seq) WHERE state = 'queued';

-- Every delivery, a row or an entry on the log, as one relation for operators' queries: an entry
-- is delivered once its cursor finished it, in flight while the hub holding its cursor's lease has
-- read it (leased_by: that hub), pending otherwise.
CREATE VIEW delivery_states AS
SELECT d.id, d.message_id, d.endpoint_id, d.recipient_ori, d.case_key, d.seq, d.state, d.attempts, d.leased_by,
       d.ack_required, d.erasure_id, d.delivered_at, d.last_status, d.last_error, false AS on_log
FROM deliveries d
UNION ALL
SELECT cjhub_log_delivery_id(r.endpoint_id, m.seq), m.id, r.endpoint_id, e.ori, m.case_key, m.seq,
       CASE WHEN m.seq <= k.position OR m.seq = ANY (k.done) THEN 'delivered'
            WHEN m.seq <= k.read_through AND k.lease_until > now() THEN 'in_flight' ELSE 'pending' END,
       CASE WHEN m.seq <= k.position OR m.seq = ANY (k.done) THEN 1 ELSE 0 END,
       CASE WHEN m.seq > k.position AND NOT (m.seq = ANY (k.done)) AND m.seq <= k.read_through
            AND k.lease_until > now() THEN k.leased_by END,
       false, NULL::uuid,
       CASE WHEN m.seq <= k.position OR m.seq = ANY (k.done) THEN k.advanced_at END, NULL::integer, NULL::text, true
FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id)
JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id
WHERE NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = r.endpoint_id);
