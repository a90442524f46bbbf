-- 0025: two indexes leave out the NULLs that most rows written now carry, so those rows add no
-- entry to them (an index entry is a page change and a WAL record per row written).
--
-- The log's recipients (0019) are NULL for every message that is not on the log
-- (acknowledgements, erasure notices, receipts: all that owe an acknowledgement or went to no one),
-- and a GIN index keeps an entry for a NULL too: on a Clean Slate night every message stored (the
-- notices and their acknowledgements) is such a row. Every look-up through the index
-- (`recipients && ...`) is strict, which implies `recipients IS NOT NULL`, so the planner still
-- uses the partial index for each of them.
DROP INDEX IF EXISTS messages_recipients;
CREATE INDEX messages_recipients ON messages USING gin (recipients) WHERE recipients IS NOT NULL;
-- An audit record's chain position (0009) is set only for records sealed one by one before the
-- blocks of 0012; every record written since keeps it NULL, and a unique b-tree indexes NULLs
-- too. The positions stay unique; every look-up by position names one (`=`, `>`, `<=`, `max`).
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_chain_seq_key;
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_chain_seq ON audit_log (chain_seq) WHERE chain_seq IS NOT NULL;
