-- 0019: the message search (GET /v1/messages): newest first, by (received_at, id), filtered by
-- sender, type or recipient, and limited to an agency's own traffic.
--
-- Each index below ends in (received_at, id), the search's order and its paging key, so a page is
-- read from the top of one index and stops after `limit` rows however many messages match. The
-- case key keeps its index of 0001 (a case has few messages: they are sorted after the look-up).
CREATE INDEX messages_received ON messages (received_at, id);
CREATE INDEX messages_sender_received ON messages (sender_ori, received_at, id);
CREATE INDEX messages_type_received ON messages (message_type, received_at, id);
-- A sender and a type together: without it, an agency asking for a type it never sends (a police
-- department's case updates) would walk its whole sending history to find none.
CREATE INDEX messages_sender_type_received ON messages (sender_ori, message_type, received_at, id);
-- A message's log recipients (endpoint ids): an agency's received messages, and the recipient
-- filter, for agencies that receive too little for a walk down `messages_received` to find a page.
CREATE INDEX messages_recipients ON messages USING gin (recipients);
-- The recipients that are rows (those that owe an acknowledgement: erasure notices, receipts), by
-- agency.
CREATE INDEX deliveries_recipient_message ON deliveries (recipient_ori, message_id);
-- The rows in a state (the search's state filter starts from them when they are few: dead letters,
-- deliveries in flight, rejected or suppressed ones). Rows change state off the normal path only.
CREATE INDEX deliveries_state_message ON deliveries (state, message_id);
