-- 0001: agencies, their certificate identities and publish rights; the message outbox.

CREATE TABLE agencies (
  ori         text PRIMARY KEY,
  name        text NOT NULL,
  role        text NOT NULL CHECK (role IN ('agency', 'operator')),
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A certificate identity maps to exactly one agency (the primary key makes that so).
CREATE TABLE agency_identities (
  kind   text NOT NULL CHECK (kind IN ('san_uri', 'subject', 'sha256')),
  value  text NOT NULL,
  ori    text NOT NULL REFERENCES agencies (ori) ON DELETE CASCADE,
  PRIMARY KEY (kind, value)
);

CREATE TABLE agency_publish (
  ori           text NOT NULL REFERENCES agencies (ori) ON DELETE CASCADE,
  message_type  text NOT NULL,
  PRIMARY KEY (ori, message_type)
);

-- Every accepted message. A row exists before the sender is told 202.
CREATE TABLE messages (
  id               uuid PRIMARY KEY,
  message_type     text NOT NULL,
  sender_ori       text NOT NULL REFERENCES agencies (ori),
  idempotency_key  text NOT NULL,
  document_id      text,
  case_key         text,
  origin_ori       text,
  jurisdiction     text,
  erasure          boolean NOT NULL DEFAULT false,
  body             bytea,                -- NULL once redacted or past retention
  body_sha256      bytea NOT NULL,
  body_size        integer NOT NULL,
  received_at      timestamptz NOT NULL, -- when the hub finished reading the request
  stored_at        timestamptz NOT NULL DEFAULT now(),
  redacted_at      timestamptz,
  CONSTRAINT messages_idempotency UNIQUE (sender_ori, idempotency_key)
);
-- XML bodies are stored uncompressed out of line: cheaper to write than pglz on the hot path.
ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX messages_case_key ON messages (case_key) WHERE case_key IS NOT NULL;
CREATE INDEX messages_received_at ON messages (received_at);
