-- 0009: the audit trail (FBI CJIS Security Policy, AU family): who (certificate identity and
-- ORI), what, when (UTC), where from, and the outcome of every submission, delivery attempt,
-- acknowledgement, administrative action, authorization failure and erasure.
--
-- Records are written by the transactions they describe (or, for refusals that store nothing,
-- shortly after) and then sealed into a hash chain, in order of `chain_seq`:
--   hash = SHA-256(prev_hash || the record's fields), prev_hash = the hash of position chain_seq - 1.
-- Altering a record breaks its hash; deleting one leaves a gap in chain_seq; `cjhub audit verify`
-- reports both. Records never carry payload content, only ids.
CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor      text NOT NULL,   -- certificate identity (SAN URI, subject or fingerprint), or hub:<instance>, cli:<user>
  ori        text,            -- the agency acting or addressed
  action     text NOT NULL,   -- submission, delivery, admin, authorization, erasure, audit
  outcome    text NOT NULL,   -- accepted, duplicate, refused:<problem>, delivered, acknowledged:<status>, ...
  object     text,            -- ids (message, delivery, erasure, endpoint)
  source     text,            -- remote address, endpoint, or host
  detail     text,            -- a short reason; never payload content
  chain_seq  bigint UNIQUE,   -- position in the chain; NULL until sealed
  prev_hash  bytea,
  hash       bytea
);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE chain_seq IS NULL;
CREATE INDEX audit_log_at ON audit_log (at);

-- Where the chain starts after retention removed its oldest records: the position and hash of
-- the last record removed, so verification can still link the first record kept.
CREATE TABLE audit_anchor (
  chain_seq  bigint PRIMARY KEY,
  hash       bytea NOT NULL,
  pruned_at  timestamptz NOT NULL DEFAULT now()
);
