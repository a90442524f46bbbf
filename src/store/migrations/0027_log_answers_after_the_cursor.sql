-- 0027: an endpoint's cursor is written on a clock, not at every recorded round.
--
-- Each round of an endpoint's log still commits its delivered entries with their answers
-- (`log_answers`, only inserted), but moves the cursor (`endpoint_cursors.position` and `done`) at
-- most once a second: every update of the cursor leaves a row version that no vacuum may remove
-- while a long snapshot (a backup, a report, a standby's feedback) lives, and a round per loop of
-- the dispatcher made that hundreds a second. An entry of the log is finished when it is at or
-- before the cursor, among the cursor's `done`, or answered by a round after the cursor (a row of
-- `log_answers` of the endpoint with a `last_seq` at or after it), or it became a row of
-- `deliveries`.
--
-- `last_seq` is the highest entry a round answered; rows written before this migration have none
-- (their rounds moved the cursor past or onto `done`), so the index leaves them out.
ALTER TABLE log_answers ADD COLUMN last_seq bigint;
CREATE INDEX log_answers_after ON log_answers (endpoint_id, last_seq) WHERE last_seq IS NOT NULL;

-- Operators' view of every delivery (0013), with the same rule: an entry is delivered once it is
-- finished (delivered_at: when the round that answered it was recorded, else when the cursor moved
-- past it), in flight while the hub holding its cursor's lease has read it, pending otherwise.
CREATE OR REPLACE VIEW delivery_states AS
SELECT d.id, d.message_id, d.endpoint_id, d.recipient_ori, d.case_key, d.seq, d.state, d.attempts, d.leased_by,
       d.ack_required, d.erasure_id, d.delivered_at, d.last_status, d.last_error, false AS on_log
FROM deliveries d
UNION ALL
SELECT cjhub_log_delivery_id(r.endpoint_id, m.seq), m.id, r.endpoint_id, e.ori, m.case_key, m.seq,
       CASE WHEN f.done THEN 'delivered'
            WHEN m.seq <= k.read_through AND k.lease_until > now() THEN 'in_flight' ELSE 'pending' END,
       CASE WHEN f.done THEN 1 ELSE 0 END,
       CASE WHEN NOT f.done AND m.seq <= k.read_through AND k.lease_until > now() THEN k.leased_by END,
       false, NULL::uuid,
       CASE WHEN f.done THEN coalesce((SELECT max(la.recorded_at) FROM log_answers la
                                       WHERE la.endpoint_id = k.endpoint_id AND la.seqs @> ARRAY[m.seq]),
                                      k.advanced_at) END,
       NULL::integer, NULL::text, true
FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id)
JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id
CROSS JOIN LATERAL (SELECT m.seq <= k.position OR m.seq = ANY (k.done)
                           OR EXISTS (SELECT 1 FROM log_answers la WHERE la.endpoint_id = k.endpoint_id
                                      AND la.last_seq >= m.seq AND la.seqs @> ARRAY[m.seq]) AS done) f
WHERE NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = r.endpoint_id);
