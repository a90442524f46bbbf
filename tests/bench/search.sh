# shellcheck shell=bash disable=SC2153  # sourced by tests/bench/run after lib.sh
# j. The message search over a year of traffic: MESSAGES messages (default 10,000,000) written
# straight into the database (generate_series; setup, not timed), then GET /v1/messages through the
# hub over one keep-alive mutual-TLS connection per client (cjhub-loadgen get): QUERIES case-key
# queries and QUERIES filtered pages (first pages and the pages after them), as the operator and as
# a police department (whose answers are limited to its own traffic).
#
# The traffic: 100 police departments (Hartford and New Haven PD, whose dev certificates the queries
# use, and 98 more), the court, DESPP and DCJ. A case has five messages spread over the year; of the
# messages 35 % are arrest packets (police department to court, DESPP, DCJ), 15 % early arrest
# notifications (to court, DESPP), 35 % case updates (court to DESPP, DCJ and the case's police
# department), 14 % acknowledgements (no recipients) and 1 % erasure notices (court; a row per
# recipient owing an acknowledgement, most acknowledged). The cases of the erasure notices are
# erased (about 5 % of the messages: payload removed). One message in 2,000 has a dead letter;
# DESPP's cursor is 2,000 entries behind the end of the log (pending). Bodies are ~20 bytes.
# One message in 1,000 has the same receive time as the one before it.
SEARCH_PDS=100

search_agencies() {
  local file=$1 i
  {
    echo "agencies:"
    echo "  - {ori: ops1, name: cjhub operations, role: operator, identities: [{san_uri: 'urn:cjhub:operator:ops1'}]}"
    echo "  - ori: CTJUD0000"
    echo "    name: Connecticut Judicial Branch"
    echo "    identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}]"
    echo "    publish: [CaseUpdate, ErasureNotice, Acknowledgement]"
    echo "    endpoints: [{name: main, url: 'https://localhost:9/court'}]"
    echo "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket, EarlyArrestNotification]}]"
    echo "  - ori: CTDESPP00"
    echo "    name: DESPP"
    echo "    identities: [{san_uri: 'urn:cjhub:ori:CTDESPP00'}]"
    echo "    publish: [Acknowledgement]"
    echo "    endpoints: [{name: main, url: 'https://localhost:9/despp'}]"
    echo "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, EarlyArrestNotification, CaseUpdate, ErasureNotice]}]"
    echo "  - ori: CTDCJ0000"
    echo "    name: DCJ"
    echo "    identities: [{san_uri: 'urn:cjhub:ori:CTDCJ0000'}]"
    echo "    publish: [Acknowledgement]"
    echo "    endpoints: [{name: main, url: 'https://localhost:9/dcj'}]"
    echo "    subscriptions: [{name: prosecution, endpoint: main, types: [ArrestPacket, CaseUpdate, ErasureNotice]}]"
    for i in $(seq 0 $((SEARCH_PDS - 1))); do
      local ori identity
      case $i in
        0) ori=CT0064000; identity="san_uri: 'urn:cjhub:ori:CT0064000'" ;;
        1) ori=CT0093000; identity="san_uri: 'urn:cjhub:ori:CT0093000'" ;;
        *) ori=$(printf 'CT1%06d' "$i"); identity="sha256: '$(printf '%064d' "$((i + 1000))")'" ;;
      esac
      echo "  - ori: $ori"
      echo "    name: Police department $i"
      echo "    identities: [{$identity}]"
      echo "    publish: [ArrestPacket, EarlyArrestNotification, Acknowledgement]"
      echo "    endpoints: [{name: main, url: 'https://localhost:9/pd$i'}]"
      echo "    subscriptions: [{name: own-cases, endpoint: main, types: [CaseUpdate, ErasureNotice], own_cases_only: true}]"
    done
  } >"$file"
}

# search_generate MESSAGES: the traffic above, in chunks of a million, with the indexes of
# `messages` other than its constraints' built once at the end (faster than row by row).
search_generate() {
  local n=$1 chunk=1000000 from
  psql -Xq -v ON_ERROR_STOP=1 "$CJHUB_DATABASE_URL" <<SQL
CREATE TABLE bench_pd AS
  SELECT (row_number() OVER (ORDER BY a.ori) - 1)::int AS n, a.ori, e.id AS endpoint_id
  FROM agencies a JOIN endpoints e ON e.ori = a.ori WHERE a.ori ~ '^CT[01]';
CREATE TABLE bench_ep AS SELECT
  (SELECT id FROM endpoints WHERE ori = 'CTJUD0000') AS court,
  (SELECT id FROM endpoints WHERE ori = 'CTDESPP00') AS despp,
  (SELECT id FROM endpoints WHERE ori = 'CTDCJ0000') AS dcj;
CREATE TABLE bench_indexes AS SELECT indexname, indexdef FROM pg_indexes
  WHERE tablename = 'messages' AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'messages'::regclass);
DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT indexname FROM bench_indexes LOOP EXECUTE 'DROP INDEX ' || quote_ident(r.indexname); END LOOP;
END \$\$;
-- Positions are drawn below, in order (the trigger would take the append lock for every row).
ALTER TABLE messages DISABLE TRIGGER messages_log_order;
SQL
  for ((from = 1; from <= n; from += chunk)); do
    local to=$((from + chunk - 1)); [ "$to" -gt "$n" ] && to=$n
    psql -Xq -v ON_ERROR_STOP=1 "$CJHUB_DATABASE_URL" <<SQL
SET synchronous_commit = off;
INSERT INTO messages (id, message_type, sender_ori, idempotency_key, document_id, case_key, origin_ori, jurisdiction,
                      erasure, body, body_sha256, body_size, received_at, stored_at, seq, recipients, routes)
SELECT encode(overlay(decode(lpad(to_hex(g.i), 32, '0'), 'hex')
              PLACING substring(int8send(floor(extract(epoch FROM g.at) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 'hex')::uuid,
       g.type, g.sender, 'bench-' || lpad(g.i::text, 9, '0'), 'bench-' || lpad(g.i::text, 9, '0'), g.case_key, g.sender,
       'GA' || lpad((g.c % 13 + 1)::text, 2, '0'), g.type = 'ErasureNotice', g.body, sha256(g.body), length(g.body), g.at, g.at,
       g.i, g.recipients, g.recipients
FROM (SELECT i, c, at, case_key, type, body,
             CASE WHEN type IN ('ArrestPacket', 'EarlyArrestNotification') THEN pd.ori
                  WHEN type = 'Acknowledgement' THEN (ARRAY['CTDESPP00', 'CTDCJ0000', 'CTJUD0000'])[i % 3 + 1]
                  ELSE 'CTJUD0000' END AS sender,
             CASE type WHEN 'ArrestPacket' THEN ARRAY[ep.court, ep.despp, ep.dcj]
                       WHEN 'EarlyArrestNotification' THEN ARRAY[ep.court, ep.despp]
                       WHEN 'CaseUpdate' THEN ARRAY[ep.despp, ep.dcj, pd.endpoint_id] END AS recipients
      FROM (SELECT i, c, at, 'OTN-' || lpad(c::text, 9, '0') AS case_key,
                   CASE WHEN k < 35 THEN 'ArrestPacket' WHEN k < 50 THEN 'EarlyArrestNotification'
                        WHEN k < 85 THEN 'CaseUpdate' WHEN k < 99 THEN 'Acknowledgement' ELSE 'ErasureNotice' END AS type,
                   convert_to('<m n="' || i || '"/>', 'UTF8') AS body
            FROM (SELECT i, i % ($n / 5) AS c, ((i::bigint * 2654435761) % 4294967296) / 65536 % 100 AS k,
                         now() - interval '365 days' + (i - (i % 1000 = 0)::int) * (interval '365 days' / $n) AS at
                  FROM generate_series($from, $to) i) x) g0
      JOIN bench_pd pd ON pd.n = (g0.c * 7) % $SEARCH_PDS CROSS JOIN bench_ep ep) g;
SQL
    echo "messages: $to of $n"
  done
  psql -Xq -v ON_ERROR_STOP=1 "$CJHUB_DATABASE_URL" <<SQL
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
ALTER TABLE messages ENABLE TRIGGER messages_log_order;
DO \$\$ BEGIN PERFORM setval('messages_seq_seq', $n); END \$\$;
-- The erasure notices: the erasures, their cases erased, payloads removed, a row per recipient.
INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, redacted_messages,
                      suppressed_deliveries)
SELECT id, case_key, 'case', sender_ori, received_at, received_at + interval '60 days', received_at + interval '30 days', 4, 0
FROM messages WHERE message_type = 'ErasureNotice';
INSERT INTO erased_cases (case_key, erasure_id, erased_at)
SELECT DISTINCT ON (case_key) case_key, id, received_at FROM erasures ORDER BY case_key, received_at;
UPDATE messages m SET body = NULL, redacted_at = x.erased_at FROM erased_cases x WHERE x.case_key = m.case_key;
INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, ack_required,
                        attempts, next_attempt_at, expires_at, created_at, delivered_at, acknowledged_at, ack_status,
                        erasure_id)
SELECT cjhub_uuid_v7(), m.id, NULL, r.endpoint_id, e.ori, m.case_key, m.seq,
       CASE WHEN m.seq % 7 = 0 THEN 'delivered' ELSE 'acknowledged' END, true, 1, m.received_at,
       m.received_at + interval '72 hours', m.received_at, m.received_at + interval '1 second',
       CASE WHEN m.seq % 7 <> 0 THEN m.received_at + interval '1 hour' END,
       CASE WHEN m.seq % 7 <> 0 THEN 'completed' END, m.id
FROM messages m JOIN bench_pd pd ON pd.n = (substring(m.case_key FROM 5)::bigint * 7) % $SEARCH_PDS
CROSS JOIN bench_ep ep CROSS JOIN LATERAL unnest(ARRAY[ep.despp, ep.dcj, pd.endpoint_id]) AS r(endpoint_id)
JOIN endpoints e ON e.id = r.endpoint_id
WHERE m.message_type = 'ErasureNotice';
-- Dead letters: one message in 2,000 never reached its first recipient.
INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, ack_required,
                        attempts, next_attempt_at, expires_at, created_at, last_status, last_error, dead_at)
SELECT cjhub_uuid_v7(), m.id, NULL, m.recipients[1], e.ori, m.case_key, m.seq, 'dead', false, 5, m.received_at,
       m.received_at + interval '72 hours', m.received_at, 500, 'HTTP 500', m.received_at + interval '72 hours'
FROM messages m JOIN endpoints e ON e.id = m.recipients[1] WHERE m.seq % 2000 = 7 AND m.recipients IS NOT NULL;
-- Every endpoint has finished the log but DESPP, 2,000 entries behind.
UPDATE endpoint_cursors c SET position = $n - CASE WHEN c.endpoint_id = ep.despp THEN 2000 ELSE 0 END,
  read_through = $n - CASE WHEN c.endpoint_id = ep.despp THEN 2000 ELSE 0 END FROM bench_ep ep;
DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT indexdef FROM bench_indexes LOOP EXECUTE r.indexdef; END LOOP;
END \$\$;
DROP TABLE bench_indexes;
VACUUM ANALYZE;
SQL
}

# search_targets FILE KIND N: N request targets of one kind.
search_targets() {
  local file=$1 kind=$2 n=$3 cases=$(($4 / 5))
  python3 - "$kind" "$n" "$cases" "$SEARCH_PDS" >"$file" <<'PYT'
import datetime, random, sys
kind, n, cases, pds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(16)
now = datetime.datetime.now(datetime.timezone.utc)
def ts(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
def pd(i): return ["CT0064000", "CT0093000"][i] if i < 2 else "CT1%06d" % i
# The cases of Hartford PD (department 0): (c * 7) % pds == 0.
own = [c for c in range(0, min(cases, 200000)) if (c * 7) % pds == 0]
types = ["ArrestPacket", "EarlyArrestNotification", "CaseUpdate", "Acknowledgement", "ErasureNotice"]
for q in range(n):
    if kind == "case":
        print("/v1/messages?case_key=OTN-%09d" % rnd.randrange(cases))
    elif kind == "case-own":
        print("/v1/messages?case_key=OTN-%09d" % rnd.choice(own))
    else:
        start = now - datetime.timedelta(days=rnd.uniform(7, 358))
        window = "&received_from=%s&received_to=%s" % (ts(start), ts(start + datetime.timedelta(days=7)))
        choice = q % 6
        if kind == "filtered":
            print(["/v1/messages?type=%s%s" % (rnd.choice(types), window),
                   "/v1/messages?sender=%s" % pd(rnd.randrange(pds)),
                   "/v1/messages?recipient=%s&type=CaseUpdate" % pd(rnd.randrange(pds)),
                   "/v1/messages?state=dead",
                   "/v1/messages?sender=CTJUD0000&recipient=CTDCJ0000%s" % window,
                   "/v1/messages?state=pending&recipient=CTDESPP00"][choice])
        else:  # an agency's own traffic
            print(["/v1/messages",
                   "/v1/messages?type=CaseUpdate",
                   "/v1/messages?type=ArrestPacket%s" % window,
                   "/v1/messages?state=acknowledged",
                   "/v1/messages?recipient=CT0064000%s" % window,
                   "/v1/messages?sender=CT0064000&type=EarlyArrestNotification"][choice])
PYT
}

# search_run NAME CLIENT TARGETS PAGES: the loadgen's `get` over TARGETS as CLIENT (a dev PKI
# client name); prints its output (kept in $BENCH/NAME.out) and its result line.
search_run() {
  "$BENCH_BIN/cjhub-loadgen" get --port "$BENCH_PORT" --ca "$CJHUB_PKI/ca.crt" \
    --cert "$CJHUB_PKI/clients/$2.crt" --key "$CJHUB_PKI/clients/$2.key" --targets "$3" --pages "$4" |
    tee "$BENCH/$1.out" >&2 || die "search queries ($1) failed: $(grep 'last error' "$BENCH/$1.out")"
  grep '^result' "$BENCH/$1.out"
}

scenario_search() {
  local messages=${1:-10000000} queries=${2:-200}
  bench_prepare search
  bench_header | tee "$BENCH/summary.txt"
  local config="$CJHUB_ROOT/config/cjhub.example.yaml"
  search_agencies "$BENCH/agencies.yaml"
  "$CJHUB_BIN" migrate -c "$config" >/dev/null
  "$CJHUB_BIN" apply -c "$config" -f "$BENCH/agencies.yaml" >/dev/null
  say "traffic: $messages messages over a year, written in SQL (setup, not timed)"
  local t0; t0=$(date +%s)
  search_generate "$messages"
  local setup_s=$(($(date +%s) - t0)) stored
  stored=$(psql -XtA "$CJHUB_DATABASE_URL" -c "SELECT (SELECT count(*) FROM messages) || ' messages, ' ||
    (SELECT count(*) FROM erased_cases) || ' erased cases, ' || (SELECT count(*) FROM deliveries) || ' delivery rows; ' ||
    pg_size_pretty(pg_total_relation_size('messages')) || ' of messages with their indexes'")
  echo "written in $setup_s s: $stored" | tee -a "$BENCH/summary.txt"

  CJHUB_DELIVERY_ENABLED=false bench_hub_start "$BENCH/agencies.yaml"
  search_targets "$BENCH/case.txt" case "$queries" "$messages"
  search_targets "$BENCH/case-own.txt" case-own "$queries" "$messages"
  search_targets "$BENCH/filtered.txt" filtered "$queries" "$messages"
  search_targets "$BENCH/own.txt" own "$queries" "$messages"
  # A first pass over other targets warms the caches as a hub in service would have them.
  search_targets "$BENCH/warm.txt" filtered 60 "$messages"
  local warm; warm=$(search_run warm operator "$BENCH/warm.txt" 1)
  say "case-key queries: $queries as the operator, $queries as Hartford PD (its own cases)"
  local case_op case_pd filt_op filt_pd
  case_op=$(search_run case-operator operator "$BENCH/case.txt" 1)
  case_pd=$(search_run case-agency hartford-pd "$BENCH/case-own.txt" 1)
  say "filtered pages: $queries targets as the operator and $queries as Hartford PD, each followed for 3 pages"
  filt_op=$(search_run filtered-operator operator "$BENCH/filtered.txt" 3)
  filt_pd=$(search_run filtered-agency hartford-pd "$BENCH/own.txt" 3)
  local rss; rss=$(rss_mb "$HUB_PID")
  bench_hub_stop

  local verdict_case=met verdict_page=met p
  for p in "$(result_of "$case_op" p99_ms)" "$(result_of "$case_pd" p99_ms)"; do
    awk -v p="$p" 'BEGIN{exit !(p < 50)}' || verdict_case=missed
  done
  for p in "$(result_of "$filt_op" p99_ms)" "$(result_of "$filt_pd" p99_ms)"; do
    awk -v p="$p" 'BEGIN{exit !(p < 200)}' || verdict_page=missed
  done
  row() { echo "| $1 | $(result_of "$2" answers) | $(result_of "$2" p50_ms) ms | **$(result_of "$2" p99_ms) ms** | $(result_of "$2" max_ms) ms |"; }
  {
    echo "case key, operator: p50 $(result_of "$case_op" p50_ms) ms, p99 $(result_of "$case_op" p99_ms) ms, max $(result_of "$case_op" max_ms) ms"
    echo "case key, Hartford PD: p50 $(result_of "$case_pd" p50_ms) ms, p99 $(result_of "$case_pd" p99_ms) ms, max $(result_of "$case_pd" max_ms) ms"
    echo "filtered pages, operator: p50 $(result_of "$filt_op" p50_ms) ms, p99 $(result_of "$filt_op" p99_ms) ms, max $(result_of "$filt_op" max_ms) ms ($(result_of "$filt_op" answers) pages)"
    echo "filtered pages, Hartford PD: p50 $(result_of "$filt_pd" p50_ms) ms, p99 $(result_of "$filt_pd" p99_ms) ms, max $(result_of "$filt_pd" max_ms) ms ($(result_of "$filt_pd" answers) pages)"
    echo "case-key query p99 < 50 ms: $verdict_case; filtered page p99 < 200 ms: $verdict_page"
    echo "hub peak RSS: $rss MB"
  } | tee -a "$BENCH/summary.txt"
  {
    echo "Measured $(date -u +%Y-%m-%d) at commit $(bench_commit) on $(bench_machine); \`tests/bench/run search $messages $queries\`."
    echo "$stored, written in SQL in $setup_s s (not timed; the traffic is described in \`tests/bench/search.sh\`)."
    echo "Each client sends its queries one after another over one keep-alive mutual-TLS connection (\`cjhub-loadgen get\`);"
    echo "a filtered target is followed through its \`next\` cursor for up to 3 pages (50 messages each), every page timed."
    echo "Filtered targets: a type in a week, a sender, a recipient with a type, dead letters, a sender and recipient in"
    echo "a week, what waits for DESPP; for Hartford PD (only its own traffic): the newest, a type, a type in a week,"
    echo "acknowledged notices, what it received in a week, its early arrest notifications."
    echo
    echo "| queries | answers | p50 | p99 | max |"
    echo "|---|---|---|---|---|"
    row "case key, operator" "$case_op"
    row "case key, Hartford PD (its own cases)" "$case_pd"
    row "filtered pages, operator" "$filt_op"
    row "filtered pages, Hartford PD" "$filt_pd"
    echo
    echo "Targets: a case-key query p99 < 50 ms: **$verdict_case**; a filtered page p99 < 200 ms: **$verdict_page**."
    echo "Before the timed queries, $(result_of "$warm" answers) first pages of other filtered targets warm the caches as a hub"
    echo "in service would have them (not counted: p50 $(result_of "$warm" p50_ms) ms, p99 $(result_of "$warm" p99_ms) ms from cold)."
    echo "Hub peak RSS: $rss MB."
  } >"$BENCH/doc.md"
  bench_write_doc search "$BENCH/doc.md"
}
