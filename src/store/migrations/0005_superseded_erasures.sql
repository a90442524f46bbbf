-- 0005: a whole-case erasure supersedes the charge-level erasures of the same case: their
-- undelivered notices are suppressed (the whole-case notice covers them) and the ledger shows
-- them as superseded rather than owed.
ALTER TABLE erasures ADD COLUMN superseded_by uuid REFERENCES erasures (id);
