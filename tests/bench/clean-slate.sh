#!/usr/bin/env bash
# c. The Clean Slate bulk benchmark: CASES erasure notices (default 440,000), each for a case
# already delivered to 5 agencies, submitted by the court over CONNECTIONS mutual-TLS connections;
# runs until every recipient's acknowledgement is recorded, then writes its figures into
# docs/benchmarks.md (CJHUB_BENCH_DOCS=0: print only). Loopback only; stops by itself.
#
#   tests/bench/clean-slate.sh [CASES] [CONNECTIONS]      (also: tests/bench/run clean-slate)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../scripts/lib/common.sh"
# shellcheck source=tests/bench/lib.sh disable=SC2153
source "$CJHUB_ROOT/tests/bench/lib.sh"
CASES=${1:-440000}
CONNS=${2:-32}

bench_prepare clean-slate
bench_header | tee "$BENCH/summary.txt"

# Five receiving agencies, each a `cjhub sink` that acknowledges in its 2xx answer.
agencies=("despp CTDESPP00 9451" "hartford-pd CT0064000 9452" "newhaven-pd CT0093000 9453" "dcj CTDCJ0000 9454" "judicial CTBENCH05 9455")
{
  echo "agencies:"
  echo "  - {ori: CTJUD0000, name: Judicial Branch, identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}], publish: [ErasureNotice]}"
  for a in "${agencies[@]}"; do
    # shellcheck disable=SC2086  # name ori port
    set -- $a
    echo "  - ori: $2"
    echo "    name: Agency $2"
    echo "    identities: [{sha256: '$(printf '%064d' "${3}")'}]"
    echo "    publish: [Acknowledgement]"
    echo "    endpoints: [{name: main, url: 'https://localhost:$3/inbox', max_in_flight: 32, timeout_ms: 10000}]"
    echo "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, ErasureNotice]}]"
  done
} >"$BENCH/agencies.yaml"

for a in "${agencies[@]}"; do
  # shellcheck disable=SC2086  # name ori port
  set -- $a
  "$CJHUB_BIN" sink --listen "127.0.0.1:$3" --cert "$CJHUB_PKI/sinks/$1.crt" --key "$CJHUB_PKI/sinks/$1.key" \
    --ca "$CJHUB_PKI/ca.crt" --ori "$2" --log /dev/null --ready-file "$BENCH/$1.ready" >"$BENCH/$1.out" 2>&1 &
  BENCH_PIDS+=($!)
done

bench_hub_start "$BENCH/agencies.yaml"
echo "cases=$CASES connections=$CONNS writers=${CJHUB_INGEST_WRITERS:-2}"
"$BENCH_BIN/cjhub-clean-slate" --port "$BENCH_PORT" --pki "$CJHUB_PKI" --db "$CJHUB_DATABASE_URL" \
  --hub-pid "$HUB_PID" --data "$CJHUB_ROOT/tests/data/ciss" --cases "$CASES" --connections "$CONNS" | tee "$BENCH/run.txt"
bench_hub_stop
out=$(grep '^result ' "$BENCH/run.txt")
[ "$(result_of "$out" acknowledgements)" = "$(result_of "$out" recipients)" ] || die "not every acknowledgement was recorded"

secs=$(result_of "$out" seconds)
minutes=$(awk -v s="$secs" 'BEGIN{t = int(s + 0.5); printf "%d min %d s", int(t / 60), t % 60}')
verdict="met"; awk -v s="$secs" 'BEGIN{exit !(s > 600)}' && verdict="missed"
stretch="met"; awk -v s="$secs" 'BEGIN{exit !(s > 300)}' && stretch="missed by $(awk -v s="$secs" 'BEGIN{printf "%d s", s-300}')"
cat >"$BENCH/doc.md" <<DOC
Measured $(date -u +%Y-%m-%d) at commit $(bench_commit) on $(bench_machine);
\`CJHUB_INGEST_WRITERS=${CJHUB_INGEST_WRITERS:-2} tests/bench/clean-slate.sh $CASES $CONNS\`.

| figure | value |
|---|---|
| erasure notices / recipients owed an acknowledgement | $CASES / $(result_of "$out" recipients) |
| all notices accepted after | $(awk -v s="$(result_of "$out" submission_seconds)" 'BEGIN{printf "%.1f", s}') s |
| **every acknowledgement recorded after** | **$(awk -v s="$secs" 'BEGIN{printf "%.1f", s}') s ($minutes)** (target 10 min: $verdict; stretch 5 min: $stretch) |
| erasures/s, acknowledgements/s | $(result_of "$out" erasures_per_s), $(result_of "$out" acknowledgements_per_s) |
| hub peak resident memory | $(result_of "$out" hub_peak_rss_mb) MB |
| database size at the end | $(awk -v g="$(result_of "$out" database_gb)" 'BEGIN{printf "%.1f", g}') GB |
DOC
bench_write_doc clean-slate "$BENCH/doc.md"
