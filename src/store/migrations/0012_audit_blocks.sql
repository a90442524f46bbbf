-- 0012: the audit trail sealed in blocks. A record is inserted once and never updated: it carries
-- the id of the transaction that wrote it (`xid`), and the sealer, instead of writing a hash into
-- every record, appends one block per round to `audit_blocks`: the records of every transaction
-- that finished since the last block (the transaction ids below the oldest one still running,
-- `pg_snapshot_xmin`, are final: none of them can still add a record), each record's own hash, and
-- the block's hash chained to the block before it.
--   record hash = SHA-256(canonical record, with its chain position)
--   block hash  = SHA-256(previous block's hash || block number || first position || record hashes)
-- Records sealed before this migration keep their per-record chain (chain_seq, prev_hash, hash);
-- the first block links to its head. Records written before it but not yet sealed go into the
-- first block.
ALTER TABLE audit_log ADD COLUMN xid xid8;
ALTER TABLE audit_log ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_log_by_xid ON audit_log (xid, id);
DROP INDEX audit_log_unsealed;
-- Records written before this migration and never sealed (the first block takes them).
CREATE INDEX audit_log_legacy_unsealed ON audit_log (id) WHERE xid IS NULL AND chain_seq IS NULL;

CREATE TABLE audit_blocks (
  block_seq  bigint PRIMARY KEY,
  first_pos  bigint NOT NULL,    -- chain position of its first record; the next follow in order
  ids        bigint[] NOT NULL,  -- its records, in chain order (transaction id, then record id)
  hashes     bytea[] NOT NULL,   -- each record's own hash, in the same order
  xid_to     xid8 NOT NULL,      -- it holds the records of transactions below this id (and at or
                                 -- above the previous block's xid_to)
  prev_hash  bytea NOT NULL,
  hash       bytea NOT NULL,
  sealed_at  timestamptz NOT NULL DEFAULT now()
);
-- The block holding a record: the first whose bound is above the record's transaction id.
CREATE INDEX audit_blocks_by_xid ON audit_blocks (xid_to);

-- Where the chain of blocks starts after retention removed its oldest blocks: the last block
-- removed (its number, the position after its last record, its transaction bound and hash).
CREATE TABLE audit_block_anchor (
  block_seq  bigint PRIMARY KEY,
  next_pos   bigint NOT NULL,
  xid_to     xid8 NOT NULL,
  hash       bytea NOT NULL,
  pruned_at  timestamptz NOT NULL DEFAULT now()
);
