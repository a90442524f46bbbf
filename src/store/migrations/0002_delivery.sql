-- 0002: endpoints, subscriptions and deliveries: fan-out with per-case order, retries,
-- dead letters and business acknowledgements.

-- The order messages were stored in; a case's deliveries go out in this order.
ALTER TABLE messages ADD COLUMN seq bigserial;
CREATE INDEX messages_document_id ON messages (document_id);

CREATE TABLE endpoints (
  id                    bigserial PRIMARY KEY,
  ori                   text NOT NULL REFERENCES agencies (ori),
  name                  text NOT NULL,
  url                   text NOT NULL,
  max_in_flight         integer NOT NULL,
  timeout_ms            integer NOT NULL,
  active                boolean NOT NULL DEFAULT true,
  paused                boolean NOT NULL DEFAULT false,
  paused_at             timestamptz,
  paused_reason         text,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  last_success_at       timestamptz,
  last_failure_at       timestamptz,
  UNIQUE (ori, name)
);

CREATE TABLE subscriptions (
  id              bigserial PRIMARY KEY,
  ori             text NOT NULL REFERENCES agencies (ori),
  name            text NOT NULL,
  endpoint_id     bigint NOT NULL REFERENCES endpoints (id),
  message_types   text[] NOT NULL,
  origin_oris     text[],            -- NULL: any originating agency
  jurisdictions   text[],            -- NULL: any court location
  own_cases_only  boolean NOT NULL DEFAULT false,
  ack_required    boolean,           -- NULL: the message type's setting
  retry_window    interval NOT NULL,
  active          boolean NOT NULL DEFAULT true,
  UNIQUE (ori, name)
);

-- One row per (message, recipient endpoint).
--   queued     waiting behind an earlier delivery of the same case to the same endpoint
--   pending    due at next_attempt_at
--   in_flight  claimed by a dispatcher until lease_until
--   delivered  the endpoint answered 2xx
--   acknowledged / rejected  the recipient's business acknowledgement (received/completed, rejected)
--   dead       undeliverable (4xx, or the retry window ended); an operator may replay it
--   suppressed never to be sent (the case was erased)
CREATE TABLE deliveries (
  id               uuid PRIMARY KEY,
  message_id       uuid NOT NULL REFERENCES messages (id),
  subscription_id  bigint NOT NULL REFERENCES subscriptions (id),
  endpoint_id      bigint NOT NULL REFERENCES endpoints (id),
  recipient_ori    text NOT NULL REFERENCES agencies (ori),
  case_key         text,
  seq              bigint NOT NULL,
  state            text NOT NULL CHECK (state IN ('queued', 'pending', 'in_flight', 'delivered',
                                                  'acknowledged', 'rejected', 'dead', 'suppressed')),
  ack_required     boolean NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  lease_until      timestamptz,
  leased_by        text,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  acknowledged_at  timestamptz,
  ack_status       text CHECK (ack_status IN ('received', 'completed', 'rejected')),
  ack_reason       text,
  ack_message_id   uuid,
  dead_at          timestamptz
);
CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_lane ON deliveries (endpoint_id, case_key, seq)
  WHERE state IN ('queued', 'pending', 'in_flight');
CREATE INDEX deliveries_leases ON deliveries (lease_until) WHERE state = 'in_flight';
CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_dead ON deliveries (endpoint_id, dead_at) WHERE state = 'dead';
