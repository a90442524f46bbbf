#!/usr/bin/env bash
# The private PostgreSQL cluster of scripts/lib/common.sh follows CJHUB_PG_PORT: a cluster created
# on one port and started again with another is restarted on the new one when it runs, moved when
# it does not, and answers there only; a port among the kernel's ephemeral ones gets a warning.
# A real cluster (initdb, pg_ctl, psql) in a directory of its own.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export CJHUB_VAR
CJHUB_VAR=$(mktemp -d /tmp/cjhub-port-test.XXXXXX)
chmod 755 "$CJHUB_VAR"  # as root the cluster's own account must reach it (see service_dir)
# shellcheck source=../../scripts/lib/common.sh
source "$root/scripts/lib/common.sh"
set +euo pipefail
cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$CJHUB_VAR"
}
trap cleanup EXIT
[ -x "$PG_BIN/initdb" ] || { echo "FAIL: no PostgreSQL 15 in $PG_BIN (scripts/test installs it)"; exit 1; }

fails=0 passes=0
check() {  # NAME COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok: $name"; passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
answers() { psql -X -q "postgresql://$CJHUB_PG_SUPERUSER@127.0.0.1:$1/postgres?connect_timeout=3" -Atc 'SELECT 1' 2>/dev/null | grep -qx 1; }
refuses() { ! answers "$1"; }
conf_port() { sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$(pg_dir)/data/postgresql.conf" | tail -1; }
listened() { ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .; }
free_port() {  # a port below the ephemeral range that nothing listens on
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 10000))
    listened "$p" || { echo "$p"; return; }
  done
  echo 0
}
a=$(free_port); b=$(free_port); c=$(free_port)
while [ "$b" = "$a" ]; do b=$(free_port); done
while [ "$c" = "$a" ] || [ "$c" = "$b" ]; do c=$(free_port); done

CJHUB_PG_PORT=$a
(pg_start) >"$CJHUB_VAR/out" 2>&1
check "a new cluster listens on CJHUB_PG_PORT ($a)" answers "$a"
check "its postgresql.conf names that port" test "$(conf_port)" = "$a"

CJHUB_PG_PORT=$b
(pg_start) >"$CJHUB_VAR/out" 2>&1
check "a running cluster started with another port says it restarts it" \
  grep -q "PostgreSQL runs on port $a; restarting it on port $b" "$CJHUB_VAR/out"
check "it answers on the new port ($b)" answers "$b"
check "and no longer on the old one ($a)" refuses "$a"
check "its postgresql.conf names the new port" test "$(conf_port)" = "$b"

(pg_stop) >/dev/null 2>&1
CJHUB_PG_PORT=$c
(pg_start) >"$CJHUB_VAR/out" 2>&1
check "a stopped cluster started with another port says it moves it" \
  grep -q "moving the private PostgreSQL cluster from port $b to port $c" "$CJHUB_VAR/out"
check "it answers on the new port ($c)" answers "$c"
check "its postgresql.conf names it" test "$(conf_port)" = "$c"

(pg_start) >"$CJHUB_VAR/out" 2>&1
check "started again with the same port, it is left running" grep -q "already running on port $c" "$CJHUB_VAR/out"
check "with no move" bash -c "! grep -q 'moving\|restarting' '$CJHUB_VAR/out'"

read -r low high </proc/sys/net/ipv4/ip_local_port_range
check "a port among the ephemeral ones ($low) gets a warning" \
  bash -c "source '$root/scripts/lib/common.sh'; warn_if_ephemeral $low $low 'port $low is' | grep -q 'warning: port $low is among'"
check "ports below them ($((low - 33)) to $((low - 1))) get none" \
  bash -c "source '$root/scripts/lib/common.sh'; [ -z \"\$(warn_if_ephemeral $((low - 33)) $((low - 1)) x)\" ]"
check "a range that reaches them does ($((low - 32)) to $low)" \
  bash -c "source '$root/scripts/lib/common.sh'; warn_if_ephemeral $((low - 32)) $low x | grep -q warning"
check "and so does the last of them ($high)" \
  bash -c "source '$root/scripts/lib/common.sh'; warn_if_ephemeral $high $high x | grep -q warning"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
