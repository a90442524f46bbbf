#!/usr/bin/env bash
# The Clean Slate bulk benchmark: CASES erasure notices (default 440,000), each for a case already
# delivered to 5 agencies, submitted by the court over CONNECTIONS mutual-TLS connections; runs
# until every recipient's acknowledgement is recorded. Loopback only; stops by itself.
#
#   tests/bench/clean-slate.sh [CASES] [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
CASES=${1:-440000}
CONNS=${2:-32}
BENCH="$CJHUB_VAR/bench/clean-slate"
PORT=${CJHUB_BENCH_PORT:-8460}

build --target cjhub --target cjhub-clean-slate >/dev/null
dev_pki >/dev/null
pg_start >/dev/null
pg_recreate_db cjhub_bench
rm -rf "$BENCH"; mkdir -p "$BENCH"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Five receiving agencies, each a sink that acknowledges in its 2xx answer.
agencies=("despp CTDESPP00 9451" "hartford-pd CT0064000 9452" "newhaven-pd CT0093000 9453" "dcj CTDCJ0000 9454" "judicial CTBENCH05 9455")
{
  echo "agencies:"
  echo "  - {ori: CTJUD0000, name: Judicial Branch, identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}], publish: [ErasureNotice]}"
  for a in "${agencies[@]}"; do
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
  set -- $a
  "$CJHUB_BIN" sink --listen "127.0.0.1:$3" --cert "$CJHUB_PKI/sinks/$1.crt" --key "$CJHUB_PKI/sinks/$1.key" \
    --ca "$CJHUB_PKI/ca.crt" --ori "$2" --log /dev/null --ready-file "$BENCH/$1.ready" >"$BENCH/$1.out" 2>&1 &
  pids+=($!)
done

export CJHUB_TLS_DIR="$CJHUB_PKI" CJHUB_DATABASE_URL; CJHUB_DATABASE_URL=$(pg_url cjhub_bench)
export CJHUB_PORT=$PORT CJHUB_LISTEN_ADDRESS=127.0.0.1 CJHUB_LOG_LEVEL=warn CJHUB_POLL_INTERVAL_MS=200
CONFIG="$CJHUB_ROOT/config/cjhub.example.yaml"
"$CJHUB_BIN" apply -c "$CONFIG" -f "$BENCH/agencies.yaml" >/dev/null
"$CJHUB_BIN" serve -c "$CONFIG" --ready-file "$BENCH/hub.ready" >"$BENCH/hub.log" 2>&1 &
hub=$!
pids+=($hub)
for _ in $(seq 1 200); do [ -f "$BENCH/hub.ready" ] && break; sleep 0.05; done
[ -f "$BENCH/hub.ready" ] || { cat "$BENCH/hub.log"; die "hub did not start"; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; commit $(git -C "$CJHUB_ROOT" rev-parse --short HEAD)"
echo "cases=$CASES connections=$CONNS"
"$CJHUB_ROOT/build/$CJHUB_PRESET/tests/cjhub-clean-slate" --port "$PORT" --pki "$CJHUB_PKI" --db "$CJHUB_DATABASE_URL" \
  --hub-pid "$hub" --data "$CJHUB_ROOT/tests/data/ciss" --cases "$CASES" --connections "$CONNS"
