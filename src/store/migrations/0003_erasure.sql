-- 0003: erasure by operation of law. An erasure redacts the hub's copies of a case, suppresses
-- what was not yet delivered, and owes every agency that holds the record a notice with a
-- required acknowledgement before a statutory deadline. The ledger is erasures + their deliveries.

CREATE TABLE erasures (
  id                     uuid PRIMARY KEY,          -- the id of the message that carried it
  case_key               text NOT NULL,
  scope                  text NOT NULL CHECK (scope IN ('case', 'charges')),
  requested_by           text NOT NULL REFERENCES agencies (ori),
  received_at            timestamptz NOT NULL,
  deadline_at            timestamptz NOT NULL,      -- every recipient must confirm deletion by then
  follow_up_at           timestamptz NOT NULL,      -- unconfirmed recipients are chased from then
  redacted_messages      integer NOT NULL,
  suppressed_deliveries  integer NOT NULL
);
CREATE INDEX erasures_case ON erasures (case_key);
CREATE INDEX erasures_received ON erasures (received_at, id);

-- Cases erased as a whole; later messages about them follow the configured policy.
CREATE TABLE erased_cases (
  case_key    text PRIMARY KEY,
  erasure_id  uuid NOT NULL REFERENCES erasures (id),
  erased_at   timestamptz NOT NULL DEFAULT now()
);

-- Agencies that received a case's record owe deletion even without a subscription to erasures.
ALTER TABLE deliveries ALTER COLUMN subscription_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN erasure_id uuid REFERENCES erasures (id);
CREATE INDEX deliveries_erasure ON deliveries (erasure_id) WHERE erasure_id IS NOT NULL;
CREATE INDEX deliveries_case ON deliveries (case_key) WHERE case_key IS NOT NULL;
