# Shared by scripts/demo and scripts/test: dependencies, build, the private PostgreSQL cluster and
# the dev PKI. Source it; every function prints what it does and stops the script on failure.
set -euo pipefail

CJHUB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CJHUB_VAR="${CJHUB_VAR:-$CJHUB_ROOT/var}"
CJHUB_PRESET="${CJHUB_PRESET:-ci}"
CJHUB_BUILD="$CJHUB_ROOT/build/$CJHUB_PRESET"
CJHUB_BIN="$CJHUB_BUILD/src/cjhub"
# Below the kernel's ephemeral ports (32768 and up on Linux): an outgoing connection could
# otherwise hold the port while the cluster is down (the outage tests stop and start it) and the
# cluster would fail to bind it again.
CJHUB_PG_PORT="${CJHUB_PG_PORT:-25432}"
CJHUB_PG_SUPERUSER=cjhub
CJHUB_PKI="$CJHUB_VAR/pki"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build, the tests and the demo need.
CJHUB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git curl openssl ca-certificates
  libboost1.81-all-dev libboost-json1.81-dev libssl-dev libxerces-c-dev libpqxx-dev libc-ares-dev libsystemd-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev libcmark-dev libgtest-dev libgmock-dev
  postgresql-15 postgresql-client-15 libxml2-utils python3
  prometheus  # promtool: the alert rules' tests (tests/config/promtool_test.sh)
  help2man dpkg-dev lintian man-db  # the Debian package: manual pages, dpkg-shlibdeps, its checks (tests/package)
)
# The failover tier and scripts/ha: the two-site PostgreSQL topology (scripts/lib/ha.sh).
CJHUB_HA_PACKAGES=(patroni etcd-server etcd-client)
# The fuzz targets (scripts/fuzz) need clang and its libFuzzer runtime.
CJHUB_FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# The benchmark suite (tests/bench/run): the RabbitMQ peer and perf for the profiles.
CJHUB_BENCH_PACKAGES=(rabbitmq-server librabbitmq-dev linux-perf)
# The console's browser test (tests/browser/console_test.py, run with Debian's /usr/bin/python3):
# headless Chromium driven by Selenium, and NSS's tools for the test users' client certificates.
CJHUB_BROWSER_PACKAGES=(chromium chromium-driver python3-selenium libnss3-tools)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (install sudo or run as root)"; fi
}

install_deps() {
  local missing=()
  for p in "${CJHUB_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then say "dependencies: all present"; return; fi
  say "installing ${#missing[@]} missing packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
  say "building ($CJHUB_PRESET preset) in $CJHUB_BUILD"
  export CCACHE_DIR="${CCACHE_DIR:-$CJHUB_ROOT/build/.ccache}"
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-2G}"
  (cd "$CJHUB_ROOT" && cmake --preset "$CJHUB_PRESET" >/dev/null)
  local jobs; jobs=$(nproc)
  cmake --build "$CJHUB_BUILD" -j "$jobs" "$@"
}

# --- private servers (PostgreSQL here, RabbitMQ for the benchmarks) ----------------------------
# They refuse to run as root (PostgreSQL) or should not, so as root each belongs to an
# unprivileged system account of its own.
service_owner() {  # ACCOUNT
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  if ! id "$1" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
  fi
  echo "$1"
}

as_service() {  # ACCOUNT COMMAND...
  local owner; owner=$(service_owner "$1"); shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

service_dir() {  # ACCOUNT NAME
  # The owner must be able to reach the data directory; a repository under /root is not
  # reachable by another account, so root uses a directory outside it.
  if [ "$(id -u)" -eq 0 ] && ! runuser -u "$(service_owner "$1")" -- test -x "$CJHUB_VAR" 2>/dev/null; then
    echo "/var/tmp/cjhub-$2-$(echo -n "$CJHUB_ROOT" | sha256sum | cut -c1-12)"
  else
    echo "$CJHUB_VAR/$2"
  fi
}

# --- the private PostgreSQL cluster ---------------------------------------------------------
pg_owner() { service_owner cjhub-pg; }
as_pg() { as_service cjhub-pg "$@"; }
pg_dir() { service_dir cjhub-pg pg; }

pg_url() { echo "postgresql://$CJHUB_PG_SUPERUSER@127.0.0.1:$CJHUB_PG_PORT/${1:-postgres}"; }

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1; }

pg_start() {
  mkdir -p "$CJHUB_VAR"
  local dir owner; dir=$(pg_dir); owner=$(pg_owner)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$owner" "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $dir (owner $owner)"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U "$CJHUB_PG_SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    mkdir -p "$dir/run"; [ "$(id -u)" -eq 0 ] && chown "$owner" "$dir/run"
    cat >>"$dir/data/postgresql.conf" <<CONF
# cjhub development cluster: loopback only, trust authentication (never use outside a dev box).
listen_addresses = '127.0.0.1'
port = $CJHUB_PG_PORT
unix_socket_directories = '$dir/run'
max_connections = 200
shared_buffers = 1GB
wal_compression = on
max_wal_size = 8GB
checkpoint_timeout = 15min
shared_preload_libraries = 'pg_stat_statements'   # per-statement figures for the benchmarks
pg_stat_statements.track_planning = on            # planning time too: a statement planned on every call shows
CONF
  fi
  warn_if_ephemeral "$CJHUB_PG_PORT" "$CJHUB_PG_PORT" "PostgreSQL's port $CJHUB_PG_PORT (CJHUB_PG_PORT) is"
  pg_move_port "$dir/data"
  if pg_running; then say "PostgreSQL already running on port $CJHUB_PG_PORT"; return; fi
  say "starting PostgreSQL on 127.0.0.1:$CJHUB_PG_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/postgresql.log" >&2; die "PostgreSQL did not start"; }
}

# Warns when ports FIRST to LAST lie among the kernel's ephemeral ports, which outgoing connections
# are given: one may hold a port before what should listen on it binds.
warn_if_ephemeral() {  # FIRST LAST WHAT
  local range low high
  range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
  read -r low high <<<"$range"
  if [ -n "$low" ] && [ "$2" -ge "$low" ] && [ "$1" -le "$high" ]; then
    say "warning: $3 among the kernel's ephemeral ports ($low to $high): an outgoing connection may take one before it listens"
  fi
}

# The port an existing cluster was created with (its postgresql.conf) follows CJHUB_PG_PORT: a
# cluster created before the default moved (55432) is moved to the new port, and a running one is
# restarted on it (the scripts and the tests connect to CJHUB_PG_PORT only).
pg_move_port() {
  local data=$1 conf was
  conf="$data/postgresql.conf"
  was=$(sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$conf" | tail -1)
  [ -n "$was" ] && [ "$was" != "$CJHUB_PG_PORT" ] || return 0
  if pg_running; then
    say "PostgreSQL runs on port $was; restarting it on port $CJHUB_PG_PORT (CJHUB_PG_PORT)"
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  else
    say "moving the private PostgreSQL cluster from port $was to port $CJHUB_PG_PORT (CJHUB_PG_PORT)"
  fi
  as_pg sed -i "s/^port = $was\b/port = $CJHUB_PG_PORT/" "$conf"
}

pg_stop() {
  if pg_running; then
    say "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)/data" -m fast -w stop >/dev/null
  fi
}

pg_recreate_db() {
  local db=$1
  PGOPTIONS='-c client_min_messages=warning' psql -q "$(pg_url)" -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
}

dev_pki() {
  "$CJHUB_ROOT/scripts/dev-pki" "$CJHUB_PKI" | tail -1
}
