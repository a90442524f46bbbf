-- 0016: endpoint availability. An outage is a row, opened by the first failed attempt or probe
-- after the endpoint was last up and closed by the next success; availability over any period is
-- exact (seconds of overlap with outages). Per-minute buckets of what the dispatchers saw (attempts,
-- probes, answer times), rolled up by hour and day as they are written, give volumes and answer
-- time quantiles. Written by src/store/endpoint_health.cpp and src/store/availability_repo.cpp.

-- Availability counts from when the hub started watching an endpoint (existing endpoints: now).
ALTER TABLE endpoints ADD COLUMN watched_since timestamptz NOT NULL DEFAULT now();

CREATE TABLE endpoint_outages (
  id           bigserial PRIMARY KEY,
  endpoint_id  bigint NOT NULL REFERENCES endpoints (id),
  started_at   timestamptz NOT NULL,   -- when the first failed attempt or probe began
  ended_at     timestamptz,            -- when the first successful one began; NULL: still down
  cause        text NOT NULL,          -- the first failure ("connect: ...", "timeout: ...", "HTTP 503")
  last_cause   text NOT NULL,
  failures     integer NOT NULL DEFAULT 1,
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- At most one open outage per endpoint.
CREATE UNIQUE INDEX endpoint_outages_open ON endpoint_outages (endpoint_id) WHERE ended_at IS NULL;
CREATE INDEX endpoint_outages_by_start ON endpoint_outages (endpoint_id, started_at);
CREATE INDEX endpoint_outages_by_end ON endpoint_outages (ended_at);

-- Answer times are counted in fixed buckets (milliseconds, upper bounds inclusive):
-- 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, +Inf (src/ops/endpoint_watch.cpp).
CREATE FUNCTION cjhub_add_counts(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
    (SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i))
  END
$$;
CREATE AGGREGATE cjhub_sum_counts(bigint[]) (SFUNC = cjhub_add_counts, STYPE = bigint[]);

-- One row per endpoint and minute (hour, day), added to by every hub that saw something then.
CREATE TABLE endpoint_minutes (
  endpoint_id    bigint NOT NULL,
  bucket         timestamptz NOT NULL,
  attempts_up    integer NOT NULL DEFAULT 0,  -- answered 2xx
  attempts_down  integer NOT NULL DEFAULT 0,  -- refused, TLS failure, timeout, reset, 408/429/5xx
  attempts_other integer NOT NULL DEFAULT 0,  -- answered, but refused the message (other 4xx)
  probes_up      integer NOT NULL DEFAULT 0,
  probes_down    integer NOT NULL DEFAULT 0,
  answer_ms      bigint[] NOT NULL,           -- answer-time histogram (the buckets above)
  PRIMARY KEY (endpoint_id, bucket)
);
CREATE TABLE endpoint_hours (LIKE endpoint_minutes INCLUDING ALL);
CREATE TABLE endpoint_days (LIKE endpoint_minutes INCLUDING ALL);
CREATE INDEX endpoint_minutes_by_bucket ON endpoint_minutes (bucket);
CREATE INDEX endpoint_hours_by_bucket ON endpoint_hours (bucket);
CREATE INDEX endpoint_days_by_bucket ON endpoint_days (bucket);
