-- 0011: who holds which case. An agency becomes a holder of a case the first time the hub sends it
-- a message of the case (the attempt starts: the bytes may reach it even if the answer is lost).
-- Erasures are routed to every holder from here, so a holder is told even after retention has
-- removed the deliveries that made it one, and whatever its subscriptions say today. Retention
-- never prunes this table.
CREATE TABLE case_holders (
  case_key         text NOT NULL,
  recipient_ori    text NOT NULL,
  endpoint_id      bigint NOT NULL,        -- the endpoint it was first sent to
  first_message_id uuid NOT NULL,
  first_sent_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_key, recipient_ori)
);

-- The holders so far, from the deliveries retention has not yet removed.
INSERT INTO case_holders (case_key, recipient_ori, endpoint_id, first_message_id, first_sent_at)
SELECT DISTINCT ON (d.case_key, d.recipient_ori) d.case_key, d.recipient_ori, d.endpoint_id, d.message_id,
       coalesce(d.delivered_at, d.created_at)
FROM deliveries d
WHERE d.case_key IS NOT NULL AND d.attempts > 0
ORDER BY d.case_key, d.recipient_ori, d.created_at;
