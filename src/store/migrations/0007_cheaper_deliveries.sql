-- 0007: cheaper deliveries and payloads. Every state change of a delivery writes a new row
-- version into each index whose predicate it satisfies, so each index costs on every claim and
-- completion. Two are redundant:
--  * deliveries_case: look-ups of a case's open lanes use deliveries_lane (case first); the
--    earlier recipients of a case are found through messages_case_key and deliveries_message.
--  * deliveries_erasure: an erasure's deliveries are the deliveries of its notice (the erasure's
--    id is the notice's message id), found through deliveries_message.
DROP INDEX deliveries_case;
DROP INDEX deliveries_erasure;

-- Deliveries are created only by the routing statements, which join the active agencies,
-- endpoints and subscriptions; those rows are never deleted (`cjhub apply` deactivates them), so
-- references to them cannot dangle and checking them on every delivery inserted (three look-ups
-- each) buys nothing. The references to the message and the erasure stay enforced.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_subscription_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_endpoint_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_recipient_ori_fkey;

-- Payloads compressed with LZ4 instead of pglz: several times cheaper to compress and read.
ALTER TABLE messages ALTER COLUMN body SET COMPRESSION lz4;
