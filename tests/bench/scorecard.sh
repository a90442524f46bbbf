# shellcheck shell=bash disable=SC2153  # sourced by tests/bench/run after lib.sh
# i. The scorecard over a month of synthetic history: ENDPOINTS endpoints (default 1,000), each
# with a minute bucket for every minute of last month (rolled up into hour and day rows as the
# dispatchers' flushes do) and a few outages of random length; then `cjhub scorecard` for that
# month (5 runs, each a fresh process: connection, the four reads, JSON), and retention's pass,
# which must leave the minute rows inside `watchers.minute_days`.
scenario_scorecard() {
  local endpoints=${1:-1000}
  bench_prepare scorecard
  bench_header | tee "$BENCH/summary.txt"
  local config="$CJHUB_ROOT/config/cjhub.example.yaml"
  local month from to
  month=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
  from="$month-01T00:00:00Z"
  to=$(date -u -d "$month-01 +1 month" +%Y-%m-01T00:00:00Z)
  {
    echo "agencies:"
    local i
    for i in $(seq 1 "$endpoints"); do
      printf '  - {ori: CTS%06d, name: Agency %d, identities: [{sha256: %064d}], endpoints: [{name: main, url: "https://localhost:9/inbox"}]}\n' "$i" "$i" "$i"
    done
  } >"$BENCH/agencies.yaml"
  "$CJHUB_BIN" migrate -c "$config" >/dev/null
  "$CJHUB_BIN" apply -c "$config" -f "$BENCH/agencies.yaml" >/dev/null
  say "history: $endpoints endpoints x every minute of $month, rolled up by hour and day, 5 outages each (setup, not timed)"
  local t0; t0=$(date +%s)
  psql -Xq -v ON_ERROR_STOP=1 "$CJHUB_DATABASE_URL" <<SQL
SET synchronous_commit = off;
UPDATE endpoints SET watched_since = '$from'::timestamptz - interval '1 day';
INSERT INTO endpoint_minutes (endpoint_id, bucket, attempts_up, attempts_down, attempts_other, probes_up, probes_down, answer_ms)
SELECT e.id, m, 3 + (e.id + extract(minute FROM m)::int) % 5, (e.id + extract(hour FROM m)::int) % 97 / 96, 0, 0, 0,
       ARRAY[1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]::bigint[]
FROM endpoints e, generate_series('$from'::timestamptz, '$to'::timestamptz - interval '1 minute', interval '1 minute') m;
-- (Every minute's histogram is the same here, so the roll-ups' are multiples of it.)
INSERT INTO endpoint_hours SELECT endpoint_id, date_trunc('hour', bucket, 'UTC'), sum(attempts_up), sum(attempts_down),
  sum(attempts_other), sum(probes_up), sum(probes_down), ARRAY[count(*), 2 * count(*), count(*), 0, 0, 0, 0, 0, 0, 0, 0]::bigint[]
FROM endpoint_minutes GROUP BY 1, 2;
INSERT INTO endpoint_days SELECT endpoint_id, date_trunc('day', bucket, 'UTC'), sum(attempts_up), sum(attempts_down),
  sum(attempts_other), sum(probes_up), sum(probes_down),
  ARRAY[sum(answer_ms[1]), sum(answer_ms[2]), sum(answer_ms[3]), 0, 0, 0, 0, 0, 0, 0, 0]::bigint[]
FROM endpoint_hours GROUP BY 1, 2;
INSERT INTO endpoint_outages (endpoint_id, started_at, ended_at, cause, last_cause, failures)
SELECT e.id, s, s + make_interval(secs => 30 + (e.id * 7919 + k * 104729) % 1800), 'connect: refused', 'connect: refused', 3
FROM endpoints e, generate_series(1, 5) k,
     LATERAL (SELECT '$from'::timestamptz + make_interval(days => (k - 1) * 6, secs => (e.id * 31337 + k) % 86400) AS s) x;
VACUUM ANALYZE endpoint_minutes;
VACUUM ANALYZE endpoint_hours;
VACUUM ANALYZE endpoint_days;
VACUUM ANALYZE endpoint_outages;
SQL
  local rows_before; rows_before=$(psql -XtA "$CJHUB_DATABASE_URL" -c \
    "SELECT (SELECT count(*) FROM endpoint_minutes) || ' minute, ' || (SELECT count(*) FROM endpoint_hours) || ' hour, ' || (SELECT count(*) FROM endpoint_days) || ' day rows, ' || (SELECT count(*) FROM endpoint_outages) || ' outages; ' || pg_size_pretty(pg_total_relation_size('endpoint_minutes')) || ' of minute rows'")
  echo "history written in $(( $(date +%s) - t0 )) s: $rows_before"

  say "cjhub scorecard --month $month --format json, 5 runs"
  local times=() n
  for n in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N)
    "$CJHUB_BIN" scorecard -c "$config" --month "$month" --format json >"$BENCH/scorecard.json"
    e=$(date +%s.%N)
    times+=("$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f", e - s}')")
  done
  local scored; scored=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(a['endpoints']) for a in d['agencies']))" "$BENCH/scorecard.json")
  [ "$scored" -eq "$endpoints" ] || die "the scorecard has $scored endpoints, expected $endpoints"
  local median max
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
  echo "scorecard runs (s): ${times[*]}"

  say "retention: the hub's pass with the default watchers.minute_days (14)"
  # The mark: every minute row older than 14 days at the hub's start must go in its first pass.
  local mark; mark=$(date -u -d '-14 days' +%Y-%m-%dT%H:%M:%SZ)
  t0=$(date +%s.%N)
  CJHUB_DELIVERY_ENABLED=false bench_hub_start "$BENCH/agencies.yaml"
  local cutoff_ok=0 _
  for _ in $(seq 1 1200); do
    if [ "$(psql -XtA "$CJHUB_DATABASE_URL" -c "SELECT count(*) FROM endpoint_minutes WHERE bucket < '$mark'::timestamptz")" = 0 ]; then
      cutoff_ok=1; break
    fi
    sleep 0.5
  done
  bench_hub_stop
  local pass_s; pass_s=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN{printf "%.0f", e - s}')
  [ "$cutoff_ok" = 1 ] || die "retention left minute rows older than 14 days"
  local rows_after; rows_after=$(psql -XtA "$CJHUB_DATABASE_URL" -c \
    "SELECT (SELECT count(*) FROM endpoint_minutes) || ' minute, ' || (SELECT count(*) FROM endpoint_hours) || ' hour, ' || (SELECT count(*) FROM endpoint_days) || ' day rows'")
  {
    echo "endpoints: $endpoints; month: $month; history: $rows_before"
    echo "cjhub scorecard --month $month --format json (a fresh process each run): median $median s, slowest $max s (runs: ${times[*]})"
    echo "retention pass (hub start to no minute row older than 14 days): $pass_s s; left: $rows_after"
  } | tee -a "$BENCH/summary.txt"
  {
    echo '```'
    cat "$BENCH/summary.txt"
    echo '```'
  } >"$BENCH/doc.md"
  bench_write_doc scorecard "$BENCH/doc.md"
}
