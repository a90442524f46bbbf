-- 0015: only log entries take the append lock. Since 0013 every insert into `messages` took it and
-- held it to its commit, so that `seq` order is commit order for the log's readers. Messages that
-- are nobody's log entry (erasure notices, whose recipients owe an acknowledgement and are rows;
-- acknowledgements; messages that match no subscription) need no such order: no cursor reads them.
-- Serialising them too made an erasure night (an erasure and five acknowledgements per case, each
-- transaction holding the lock through its erasure work) wait on one lock.
--
-- Now a row trigger takes the lock for a row with log recipients, and then gives the row its
-- position: the default `nextval` ran before the trigger, so it is drawn again under the lock
-- (the first value is left unused). Every log entry still gets a higher position than every log
-- entry committed before its transaction took the lock, so a reader that has seen position N of
-- the log has seen every log entry that will commit below N. The end of the log for a reader is
-- the last committed log entry (`messages_log_seq`), not the last message: a message off the log
-- may commit with a higher position while a log entry below it is still open.
DROP TRIGGER messages_append_order ON messages;
DROP FUNCTION cjhub_log_append_lock();

CREATE FUNCTION cjhub_log_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7, 0);
  NEW.seq := nextval('messages_seq_seq'::regclass);
  RETURN NEW;
END $$;
CREATE TRIGGER messages_log_order BEFORE INSERT ON messages
  FOR EACH ROW WHEN (NEW.recipients IS NOT NULL) EXECUTE FUNCTION cjhub_log_append();

-- The log's positions (and its end), for the readers; positions of other messages are not looked
-- up by position.
CREATE UNIQUE INDEX messages_log_seq ON messages (seq) WHERE recipients IS NOT NULL;
DROP INDEX messages_seq;
