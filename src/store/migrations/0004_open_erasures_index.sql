-- 0004: the erasure deliveries still owed a confirmation, for the metrics and the ledger's
-- overdue filter, without scanning every settled erasure delivery.
CREATE INDEX deliveries_erasure_open ON deliveries (recipient_ori, erasure_id)
  WHERE erasure_id IS NOT NULL AND ack_status IS DISTINCT FROM 'completed';
