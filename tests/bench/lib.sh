# shellcheck shell=bash disable=SC2153  # CJHUB_* come from scripts/lib/common.sh
# Shared by the benchmark scenarios (tests/bench/run, tests/bench/clean-slate.sh): a fresh
# database, agencies with sink endpoints, the hub started and stopped, figures written into
# docs/benchmarks.md. Source it after scripts/lib/common.sh.

BENCH_PORT=${CJHUB_BENCH_PORT:-8460}
BENCH_BIN="$CJHUB_BUILD/tests/bench"
BENCH_DOC="$CJHUB_ROOT/docs/benchmarks.md"
BENCH_PIDS=()

# The hub's settings the caller changed: the example configuration's ${CJHUB_...:-default}
# placeholders set in the environment to something else (CJHUB_READ_LOG_EVERY_MS=0, say), read
# before a scenario sets its own. The header prints them and every documented figure names them.
bench_caller_settings() {
  local var def out=""
  # shellcheck disable=SC2016  # the placeholders' text, not expanded
  while IFS=$'\t' read -r var def; do
    if [ -n "${!var+x}" ] && [ "${!var}" != "$def" ]; then out+="${out:+ }$var=${!var}"; fi
  done < <(grep -o '\${CJHUB_[A-Z0-9_]*:-[^}]*}' "$CJHUB_ROOT/config/cjhub.example.yaml" |
           sed 's/^\${\([A-Z0-9_]*\):-\(.*\)}$/\1\t\2/' | sort -u)
  echo "$out"
}
BENCH_CALLER_SETTINGS=$(bench_caller_settings)

bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  BENCH_PIDS=()
  bench_kernel_restore
}

# The kernel's default lets dirty page cache grow to 10 % of memory (2.4 GB here) and writes it
# out when it is 30 s old, in one burst that the WAL's fdatasync then waits behind: commits stall
# for about 300 ms every half minute. A database host is set to write back continuously instead
# (docs/operations.md); the suite does the same for its run when it can (root), and says so.
BENCH_DIRTY_SAVED=
bench_kernel() {
  local want=${CJHUB_BENCH_DIRTY_BACKGROUND_BYTES:-16777216} f=/proc/sys/vm/dirty_background_bytes
  [ "$(cat "$f" 2>/dev/null)" = "$want" ] && return 0
  local bytes ratio; bytes=$(cat "$f" 2>/dev/null || echo 0); ratio=$(cat /proc/sys/vm/dirty_background_ratio 2>/dev/null || echo 10)
  if [ "$(id -u)" -eq 0 ] && echo "$want" >"$f" 2>/dev/null; then
    BENCH_DIRTY_SAVED="$bytes $ratio"
    say "vm.dirty_background_bytes = $want for this run (restored afterwards)"
  else
    say "warning: vm.dirty_background_bytes left at the kernel's setting (needs root): latency figures include writeback stalls"
  fi
}
bench_kernel_restore() {
  [ -n "$BENCH_DIRTY_SAVED" ] || return 0
  # shellcheck disable=SC2086  # two words: bytes, ratio
  set -- $BENCH_DIRTY_SAVED
  if [ "$1" != 0 ]; then echo "$1" >/proc/sys/vm/dirty_background_bytes; else echo "$2" >/proc/sys/vm/dirty_background_ratio; fi
  BENCH_DIRTY_SAVED=
}

# bench_prepare NAME: builds what the scenarios run, starts the private cluster, empties the
# benchmark database and the scenario's directory ($BENCH).
bench_prepare() {
  BENCH="$CJHUB_VAR/bench/$1"
  [ "${CJHUB_BENCH_NO_DEPS:-0}" = 1 ] || install_deps "${CJHUB_BENCH_PACKAGES[@]}" >/dev/null
  local peer=(); [ "$1" = fanout ] && peer=(--target cjhub-rabbitmq-peer)
  build --target cjhub --target cjhub-loadgen --target cjhub-validate-bench --target cjhub-clean-slate \
    --target cjhub-make-packet "${peer[@]}" >/dev/null
  dev_pki >/dev/null
  pg_start >/dev/null
  pg_recreate_db cjhub_bench
  # Per-statement figures for the profiles (the cluster preloads the module).
  psql -q "$(pg_url cjhub_bench)" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
    -c 'SELECT pg_stat_statements_reset()' -c 'CHECKPOINT' >/dev/null  # an earlier run's dirty pages written first
  rm -rf "$BENCH"; mkdir -p "$BENCH"
  export CJHUB_TLS_DIR="$CJHUB_PKI" CJHUB_DATABASE_URL; CJHUB_DATABASE_URL=$(pg_url cjhub_bench)
  export CJHUB_PORT=$BENCH_PORT CJHUB_LISTEN_ADDRESS=127.0.0.1 CJHUB_LOG_LEVEL=warn CJHUB_POLL_INTERVAL_MS=200
  # Capacity runs measure the hub, not its per-agency limits (the fairness scenario sets its own).
  export CJHUB_AGENCY_RATE_PER_S=${CJHUB_AGENCY_RATE_PER_S:-1000000} CJHUB_AGENCY_BURST=${CJHUB_AGENCY_BURST:-10000000}
  trap bench_cleanup EXIT
  bench_kernel
}

bench_commit() { git -C "$CJHUB_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown; }
bench_machine() {
  local cpu; cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
  echo "$(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
}
bench_header() {
  echo "machine: $(bench_machine)"
  echo "commit:  $(bench_commit)$(git -C "$CJHUB_ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel:  vm.dirty_background_bytes=$(cat /proc/sys/vm/dirty_background_bytes) vm.dirty_background_ratio=$(cat /proc/sys/vm/dirty_background_ratio)"
  echo "hub:     config/cjhub.example.yaml as the scenario sets it${BENCH_CALLER_SETTINGS:+; the caller set $BENCH_CALLER_SETTINGS}"
}

# bench_agencies FILE PUBLISHER_ORI TYPES SINK_PORT...: the publisher (a police department's
# identity from the dev PKI) and one subscribed agency per sink port, each with one endpoint.
bench_agencies() {
  local file=$1 publisher=$2 types=$3; shift 3
  local name=${BENCH_PUBLISHER_NAME:-Publisher}
  {
    echo "agencies:"
    echo "  - {ori: $publisher, name: $name, identities: [{san_uri: 'urn:cjhub:ori:$publisher'}], publish: [$types]}"
    local i=0 port
    for port in "$@"; do
      i=$((i + 1))
      echo "  - ori: CTBENCH0$i"
      echo "    name: Receiving agency $i"
      echo "    identities: [{sha256: '$(printf '%064d' "$port")'}]"
      echo "    publish: [Acknowledgement]"
      echo "    endpoints: [{name: main, url: 'https://localhost:$port/inbox', max_in_flight: ${BENCH_MAX_IN_FLIGHT:-32}, timeout_ms: 10000}]"
      echo "    subscriptions: [{name: all, endpoint: main, types: [$types]}]"
    done
    echo "  - {ori: ops1, name: Operations, role: operator, identities: [{san_uri: 'urn:cjhub:operator:ops1'}]}"
  } >"$file"
}

# bench_metrics: the running hub's /metrics, read as an operator (bench_agencies adds one; the fairness
# scenario names its own).
bench_metrics() {
  curl -s --cacert "$CJHUB_PKI/ca.crt" --cert "$CJHUB_PKI/clients/operator.crt" \
    --key "$CJHUB_PKI/clients/operator.key" "https://localhost:$BENCH_PORT/metrics" 2>/dev/null
}

# bench_metric_mean BEFORE AFTER NAME [SCALE]: a histogram's mean between two scrapes
# ((sum after - sum before) / (count after - count before)), times SCALE (1000: seconds as ms).
bench_metric_mean() {
  awk -v n="$3" -v k="${4:-1}" '
    FNR == 1 { f++ }
    $1 == n "_sum" { s[f] = $2 } $1 == n "_count" { c[f] = $2 }
    END { d = c[2] - c[1]; if (d > 0) printf "%.2f", k * (s[2] - s[1]) / d; else printf "?" }' "$1" "$2"
}

# bench_hub_start AGENCIES_FILE: applies the agencies and starts the hub; sets HUB_PID.
bench_hub_start() {
  local config="$CJHUB_ROOT/config/cjhub.example.yaml"
  "$CJHUB_BIN" apply -c "$config" -f "$1" >/dev/null
  rm -f "$BENCH/hub.ready"
  "$CJHUB_BIN" serve -c "$config" --ready-file "$BENCH/hub.ready" >>"$BENCH/hub.log" 2>&1 &
  HUB_PID=$!
  BENCH_PIDS+=("$HUB_PID")
  local _
  for _ in $(seq 1 400); do [ -f "$BENCH/hub.ready" ] && return 0; sleep 0.025; done
  tail -20 "$BENCH/hub.log" >&2
  die "the hub did not start"
}

# bench_warmup LOADGEN_ARGS...: a short load, then ANALYZE, as autovacuum would have done on a
# database in service. On tables that have never been analyzed PostgreSQL keeps plans made for
# empty tables: the dispatcher's claims then take 26 ms instead of 1.5 ms, and delivery runs at a
# quarter of its rate until autovacuum's first pass (up to a minute later).
bench_warmup() {
  "$BENCH_BIN/cjhub-loadgen" post --port "$BENCH_PORT" --ca "$CJHUB_PKI/ca.crt" \
    --cert "$CJHUB_PKI/clients/newhaven-pd.crt" --key "$CJHUB_PKI/clients/newhaven-pd.key" "$@" >"$BENCH/warmup.txt" 2>&1 ||
    { cat "$BENCH/warmup.txt"; die "warm-up failed"; }
  psql -Xq "$CJHUB_DATABASE_URL" -c 'ANALYZE' >/dev/null
  say "warmed up ($(grep '^accepted' "$BENCH/warmup.txt" | cut -d';' -f1)), tables analyzed"
}

bench_hub_stop() {
  kill -TERM "$HUB_PID" 2>/dev/null || true
  wait "$HUB_PID" 2>/dev/null || true
}

# bench_row_versions: "TOTAL table=n ..." where n is the rows each table has inserted, updated and
# deleted so far (pg_stat_user_tables). A backend reports its counts when it goes idle, at most
# once a second, and when it exits: take the figures with the hub stopped.
bench_row_versions() {
  psql -XtA "$CJHUB_DATABASE_URL" -c "SELECT sum(n)::bigint || ' ' || string_agg(relname || '=' || n, ' ' ORDER BY n DESC)
    FROM (SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables) t WHERE n > 0"
}

# bench_row_versions_per_message BEFORE AFTER MESSAGES: the difference per message (or per any
# other count, which may be fractional: minutes), total and by table ("17.0 (deliveries 9.0,
# audit_log 6.0, ...)").
bench_row_versions_per_message() {
  python3 - "$1" "$2" "$3" <<'PYROWS'
import sys
def parse(s):
    parts = s.split()
    return int(parts[0]) if parts else 0, dict(p.split("=") for p in parts[1:])
(b_total, b), (a_total, a), n = parse(sys.argv[1]), parse(sys.argv[2]), float(sys.argv[3]) or 1
per = sorted(((int(v) - int(b.get(k, 0))) / n, k) for k, v in a.items())
print(f"{(a_total - b_total) / n:.1f} (" + ", ".join(f"{k} {v:.1f}" for v, k in reversed(per) if v >= 0.05) + ")")
PYROWS
}

# bench_median_index VALUES...: the index (from 0) of the median value; for an even count, of the
# lower of the two middle ones.
bench_median_index() {
  local i=0 v
  for v in "$@"; do echo "$v $i"; i=$((i + 1)); done | sort -g -k1,1 | sed -n "$(( ($# + 1) / 2 ))p" | cut -d' ' -f2
}

# The value of KEY in a `result k=v ...` line.
result_of() { sed -n 's/.*[[:space:]]'"$2"'=\([^[:space:]]*\).*/\1/p' <<<"$1" | tail -1; }

# bench_write_doc SECTION FILE: replaces the part of docs/benchmarks.md between
# "<!-- bench:SECTION -->" and "<!-- /bench:SECTION -->" with FILE's contents.
bench_write_doc() {
  local section=$1 file=$2
  [ "${CJHUB_BENCH_DOCS:-1}" = 1 ] || { say "docs/benchmarks.md left as it is (CJHUB_BENCH_DOCS=0)"; return; }
  grep -q "<!-- bench:$section -->" "$BENCH_DOC" || die "docs/benchmarks.md has no <!-- bench:$section --> marker"
  if [ -n "$BENCH_CALLER_SETTINGS" ]; then
    # shellcheck disable=SC2016  # backquotes for Markdown, not a command
    printf '\nThe hub ran with %s set by the caller (the rest of config/cjhub.example.yaml as the scenario sets it).\n' \
      "$(sed 's/[^ ][^ ]*/`&`/g; s/ /, /g' <<<"$BENCH_CALLER_SETTINGS")" >>"$file"
  fi
  python3 - "$BENCH_DOC" "$section" "$file" <<'PY'
import sys, re
doc, section, part = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
text = open(doc).read()
begin, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(f"{head}{begin}\n{part}\n{end}{tail}")
PY
  say "docs/benchmarks.md: section $section written"
}

# With CJHUB_BENCH_PROFILE=1, bench_profile_start NAME samples every process on the machine
# (perf, software clock: this kind of machine has no hardware counters) until bench_profile_stop,
# which writes $BENCH/profile-NAME.txt: CPU time per process, then the hottest symbols.
bench_profile_start() {
  PROFILE_NAME=$1 PROFILE_PID=
  [ "${CJHUB_BENCH_PROFILE:-0}" = 1 ] || return 0
  command -v perf >/dev/null || { say "perf not installed (linux-perf): no profile"; return 0; }
  perf record -e cpu-clock -F 499 -a -g -o "$BENCH/perf-$1.data" >/dev/null 2>"$BENCH/perf-$1.log" &
  PROFILE_PID=$!
  sleep 0.5
}

bench_profile_stop() {
  [ -n "${PROFILE_PID:-}" ] || return 0
  kill -INT "$PROFILE_PID"; wait "$PROFILE_PID" 2>/dev/null || true
  PROFILE_PID=
  bench_profile_report "$PROFILE_NAME"
}

# bench_profile_report NAME: the reports of $BENCH/perf-NAME.data (also to redo them by hand).
bench_profile_report() {
  local PROFILE_NAME=$1
  local data="$BENCH/perf-$PROFILE_NAME.data" out="$BENCH/profile-$PROFILE_NAME.txt"
  # (head ends perf's output early: no pipefail here.)
  ( set +o pipefail
  {
    echo "# CPU time by process (all CPUs, $(nproc) cores)"
    perf report -i "$data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -15
    echo
    echo "# by process and shared object"
    perf report -i "$data" --no-children --sort comm,dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25
    echo
    echo "# hottest symbols"
    perf report -i "$data" --no-children --sort comm,dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -60
  } >"$out"
  say "profile: $out"
  # For the docs: the split by process and shared object, and the hub's hottest symbols. The hub
  # names its threads (cjhub-https, cjhub-writer, ...), and perf reports each by its own name; the
  # sinks (`cjhub sink`) name theirs the same way, so the hub's are told apart by its process id
  # (perf's --pid keeps each share of the whole machine).
  local hub_select=(--pid "${HUB_PID:-0}")
  if [ -z "${HUB_PID:-}" ]; then  # no hub process known: every name of the hub's threads instead
    local hub_threads
    hub_threads=$(perf report -i "$data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' |
      awk '$2 ~ /^cjhub(-|$)/ && $2 !~ /^cjhub-(loadgen|rabbitmq|clean-sla|validate|make-pac)/ {print $2}' | paste -sd, -)
    hub_select=(--comm "${hub_threads:-cjhub}")  # an empty list would select every process
  fi
  {
    echo "Profile of \`tests/bench/run $PROFILE_NAME\` at commit ${BENCH_PROFILE_COMMIT:-$(bench_commit)} (perf, software clock, every process,"
    echo "share of both cores' time while the load ran):"
    echo
    echo "| process (the hub's by thread) | share |"
    echo "|---|---|"
    # Each thread name's share, the hub's threads apart from the other processes' of the same name.
    awk 'FILENAME == ARGV[1] { hub[$2] = $1 + 0; next }
         { n = $2; v = $1 + 0
           if (n in hub) { printf "%.2f the hub: %s\n", hub[n], n; v -= hub[n]; n = n " (other processes)" }
           if (v >= 0.005) printf "%.2f %s\n", v, (n == "swapper" ? "(idle)" : n) }' \
      <(perf report -i "$data" --no-children "${hub_select[@]}" --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9.]+%') \
      <(perf report -i "$data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9.]+%') |
      sort -rn | head -8 | awk '{share = $1; $1 = ""; sub(/^ /, ""); printf "| %s | %.2f%% |\n", $0, share}'
    echo
    echo "| process | object | share |"
    echo "|---|---|---|"
    perf report -i "$data" --no-children --sort comm,dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | grep -v swapper |
      head -12 | awk '{printf "| %s | %s | %s |\n", $2, $3, $1}'
    echo
    echo "The hub's hottest symbols (share of both cores):"
    echo
    echo "| object | symbol | share |"
    echo "|---|---|---|"
    perf report -i "$data" --no-children "${hub_select[@]}" --sort dso,symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -15 |
      awk '{share=$1; dso=$2; $1=""; $2=""; $3=""; sub(/^ +/, ""); sub(/ +-.*$/, ""); gsub(/\|/, "\\|"); printf "| %s | `%s` | %s |\n", dso, substr($0, 1, 90), share}'
  } >"$BENCH/profile-$PROFILE_NAME.md"
  )
  bench_write_doc "profile-$PROFILE_NAME" "$BENCH/profile-$PROFILE_NAME.md"
}
