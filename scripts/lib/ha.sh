# shellcheck shell=bash
# The two-site PostgreSQL topology on one machine (scripts/ha, the ha test tier): a three-member
# etcd and one PostgreSQL node per site managed by Patroni, with synchronous replication. Source
# it after common.sh. Everything listens on 127.0.0.1 on ports of its own, from CJHUB_HA_PORT:
#   +1..+3   etcd clients        +11..+13  etcd peers
#   +21 site-a PostgreSQL        +22 site-b PostgreSQL
#   +31 site-a Patroni REST API  +32 site-b Patroni REST API
# As root, every process belongs to the PostgreSQL account (cjhub-pg), which PostgreSQL needs.
# The default lies below the kernel's ephemeral ports (32768 and up on Linux): the members dial
# each other while they start, and an outgoing connection given a port that a member is about to
# listen on makes that member fail to bind.

CJHUB_HA_PORT="${CJHUB_HA_PORT:-26400}"
CJHUB_HA_SITES=(site-a site-b)
CJHUB_HA_SCOPE=cjhub-ha

ha_dir() { service_dir cjhub-pg ha; }
ha_index() { case "$1" in site-a) echo 1 ;; site-b) echo 2 ;; *) die "unknown site: $1 (site-a or site-b)" ;; esac; }
ha_pg_port() { echo $((CJHUB_HA_PORT + 20 + $(ha_index "$1"))); }
ha_rest_port() { echo $((CJHUB_HA_PORT + 30 + $(ha_index "$1"))); }
ha_etcd_hosts() { echo "127.0.0.1:$((CJHUB_HA_PORT + 1)),127.0.0.1:$((CJHUB_HA_PORT + 2)),127.0.0.1:$((CJHUB_HA_PORT + 3))"; }

# The URL a hub uses: both nodes, and libpq keeps only the one that accepts writes.
ha_url() {
  echo "postgresql://$CJHUB_PG_SUPERUSER@127.0.0.1:$(ha_pg_port site-a),127.0.0.1:$(ha_pg_port site-b)/${1:-postgres}?target_session_attrs=read-write&connect_timeout=2"
}

# Dies, naming the holder, when a port the topology is about to listen on already has a listener
# (another service, or a member of an earlier topology that outlived its data): the member would
# fail to bind and the topology never come up.
ha_need_port() {  # PORT WHAT
  command -v ss >/dev/null || return 0
  local held
  held=$(ss -Hltnp "( sport = :$1 )" 2>/dev/null || true)
  [ -z "$held" ] || die "port $1 ($2) is in use; choose other ports with CJHUB_HA_PORT (now $CJHUB_HA_PORT):
$held"
}

# The topology keeps the ports it was created with (etcd records its members' addresses in its
# data): var/ha notes its port base, and a start with another one stops before anything runs.
ha_check_port_base() {
  local dir stamp; dir=$(ha_dir); stamp="$dir/port-base"
  if [ -f "$stamp" ]; then
    [ "$(cat "$stamp")" = "$CJHUB_HA_PORT" ] || die "the topology in $dir was created with CJHUB_HA_PORT=$(cat "$stamp"), \
not $CJHUB_HA_PORT: set CJHUB_HA_PORT=$(cat "$stamp"), or remove it with scripts/ha reset"
  elif compgen -G "$dir/etcd*/member" >/dev/null; then
    die "the topology in $dir was created before it recorded its ports (with CJHUB_HA_PORT, 56400 by default then): \
start it with that CJHUB_HA_PORT, or remove it with scripts/ha reset"
  else
    echo "$CJHUB_HA_PORT" >"$stamp"
  fi
  warn_if_ephemeral $((CJHUB_HA_PORT + 1)) $((CJHUB_HA_PORT + 32)) \
    "ports $((CJHUB_HA_PORT + 1)) to $((CJHUB_HA_PORT + 32)) (CJHUB_HA_PORT=$CJHUB_HA_PORT) are"
}

# --- etcd ----------------------------------------------------------------------------------------
ha_etcd_pid() { pgrep -f -- "etcd --name cjhub-etcd$1 --data-dir $(ha_dir)/etcd$1 " | paste -sd' ' || true; }

ha_etcd_start() {
  local dir cluster="" i
  dir=$(ha_dir)
  for i in 1 2 3; do cluster+="${cluster:+,}cjhub-etcd$i=http://127.0.0.1:$((CJHUB_HA_PORT + 10 + i))"; done
  for i in 1 2 3; do
    [ -n "$(ha_etcd_pid $i)" ] && continue
    local state=new
    [ -d "$dir/etcd$i/member" ] && state=existing
    ha_need_port $((CJHUB_HA_PORT + i)) "etcd member $i, clients"
    ha_need_port $((CJHUB_HA_PORT + 10 + i)) "etcd member $i, peers"
    as_pg setsid etcd --name "cjhub-etcd$i" --data-dir "$dir/etcd$i" \
      --listen-client-urls "http://127.0.0.1:$((CJHUB_HA_PORT + i))" \
      --advertise-client-urls "http://127.0.0.1:$((CJHUB_HA_PORT + i))" \
      --listen-peer-urls "http://127.0.0.1:$((CJHUB_HA_PORT + 10 + i))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((CJHUB_HA_PORT + 10 + i))" \
      --initial-cluster "$cluster" --initial-cluster-token "$CJHUB_HA_SCOPE" --initial-cluster-state "$state" \
      --log-level warn >>"$dir/etcd$i.log" 2>&1 </dev/null &
  done
}

# --- Patroni -------------------------------------------------------------------------------------
ha_config() {  # SITE: writes the node's Patroni configuration, prints its path
  local site=$1 dir; dir=$(ha_dir)
  local file="$dir/$site.yml"
  cat >"$file" <<YAML
# Patroni, $site of the cjhub two-site topology (written by scripts/ha).
scope: $CJHUB_HA_SCOPE
name: $site
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$(ha_rest_port "$site")
  connect_address: 127.0.0.1:$(ha_rest_port "$site")
etcd3:
  hosts: $(ha_etcd_hosts)
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only once the synchronous standby has it. With strict off, a lone
    # survivor accepts writes again after it drops its lost standby (docs/operations.md).
    synchronous_mode: true
    synchronous_mode_strict: ${CJHUB_HA_STRICT:-false}
    # A killed postmaster is not restarted in place: the standby takes over.
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_log_hints: 'on'
        max_connections: 200
        shared_buffers: 256MB
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        hot_standby: 'on'
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:$(ha_pg_port "$site")
  connect_address: 127.0.0.1:$(ha_pg_port "$site")
  data_dir: $dir/$site/data
  bin_dir: $PG_BIN
  pgpass: $dir/$site/pgpass
  authentication:
    superuser: {username: $CJHUB_PG_SUPERUSER, password: cjhub}
    replication: {username: replicator, password: replicator}
    rewind: {username: rewinder, password: rewinder}
  parameters:
    unix_socket_directories: '$dir/$site'
  # Loopback only, trust authentication: a development topology, never a deployment's.
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
YAML
  echo "$file"
}

# The processes of a site's Patroni (as root, runuser's too), space-separated.
ha_patroni_pid() { pgrep -f -- "patroni $(ha_dir)/$1.yml" | paste -sd' ' || true; }
ha_postmaster_pid() {
  local f; f="$(ha_dir)/$1/data/postmaster.pid"
  [ -f "$f" ] && head -1 "$f" && return
  true
}

ha_site_start() {  # SITE
  local site=$1 dir cfg postmaster; dir=$(ha_dir)
  [ -n "$(ha_patroni_pid "$site")" ] && return
  # A site's PostgreSQL may outlive its Patroni (crash-site kills both; a kill of Patroni alone
  # does not): the new Patroni takes that one over, so only a port with no postmaster is checked.
  postmaster=$(ha_postmaster_pid "$site")
  if [ -z "$postmaster" ] || ! kill -0 "$postmaster" 2>/dev/null; then
    ha_need_port "$(ha_pg_port "$site")" "$site PostgreSQL"
  fi
  ha_need_port "$(ha_rest_port "$site")" "$site Patroni REST API"
  mkdir -p "$dir/$site"; [ "$(id -u)" -eq 0 ] && chown "$(pg_owner)" "$dir/$site"
  chmod 700 "$dir/$site"
  cfg=$(ha_config "$site")
  as_pg setsid patroni "$cfg" >>"$dir/$site.log" 2>&1 </dev/null &
}

# The members as Patroni's REST API lists them: "name role state lag" per line.
ha_members() {
  local site
  for site in "${CJHUB_HA_SITES[@]}"; do
    curl -fsS --max-time 2 "http://127.0.0.1:$(ha_rest_port "$site")/cluster" 2>/dev/null && return
  done
  return 1
}
ha_member_lines() {
  ha_members | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m["name"], m["role"], m["state"], m.get("lag", 0))'
}
ha_leader() { ha_member_lines 2>/dev/null | awk '$2 == "leader" && $3 == "running" {print $1}'; }
ha_sync_standby() { ha_member_lines 2>/dev/null | awk '$2 == "sync_standby" && ($3 == "running" || $3 == "streaming") {print $1}'; }

ha_wait_healthy() {  # [SECONDS]: a leader and a synchronous standby
  local limit=${1:-90} start=$SECONDS
  while [ $((SECONDS - start)) -lt "$limit" ]; do
    if [ -n "$(ha_leader)" ] && [ -n "$(ha_sync_standby)" ]; then return 0; fi
    sleep 0.5
  done
  return 1
}

# The last LINES (default 20) of each etcd member's and each site's log: what an operator reads
# when the topology does not come up, and what ha_start prints when it gives up.
ha_logs() {
  local dir n=${1:-20} f; dir=$(ha_dir)
  for f in "$dir"/etcd1.log "$dir"/etcd2.log "$dir"/etcd3.log "$dir"/site-a.log "$dir"/site-b.log; do
    [ -f "$f" ] || continue
    printf -- '---- %s (last %s lines) ----\n' "$f" "$n"
    tail -n "$n" "$f"
  done
}

# Gives up on a start: says what did not happen, then the logs that say why.
ha_give_up() { ha_logs 30 >&2; die "$*"; }

ha_start() {
  local dir start; dir=$(ha_dir)
  mkdir -p "$dir"; [ "$(id -u)" -eq 0 ] && chown "$(pg_owner)" "$dir"
  if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
    die "patroni and etcd are needed (scripts/ha installs them)"
  fi
  ha_check_port_base
  # Every wait is bounded in seconds, not in tries: a probe that itself takes seconds (etcdctl's
  # dial timeout, curl's) cannot stretch it.
  ha_etcd_start
  start=$SECONDS
  until ETCDCTL_API=3 timeout 5 etcdctl --dial-timeout 2s --command-timeout 3s --endpoints "$(ha_etcd_hosts)" endpoint health >/dev/null 2>&1; do
    [ $((SECONDS - start)) -lt 30 ] || ha_give_up "etcd did not become healthy within 30 s (logs above, in $dir)"
    sleep 0.5
  done
  ha_site_start site-a
  # The first node bootstraps; the second clones it once there is a leader.
  start=$SECONDS
  until [ -n "$(ha_leader)" ]; do
    [ $((SECONDS - start)) -lt 60 ] || ha_give_up "no leader within 60 s (logs above, in $dir)"
    sleep 0.5
  done
  ha_site_start site-b
  ha_wait_healthy 90 || ha_give_up "no synchronous standby within 90 s (logs above, in $dir)"
}

ha_stop() {
  local site i pid
  for site in "${CJHUB_HA_SITES[@]}"; do
    pid=$(ha_patroni_pid "$site")
    # shellcheck disable=SC2086  # one or more pids
    if [ -n "$pid" ]; then kill $pid 2>/dev/null || true; fi
  done
  for i in $(seq 1 60); do
    [ -z "$(ha_patroni_pid site-a)$(ha_patroni_pid site-b)" ] && break
    sleep 0.5
  done
  # A PostgreSQL whose Patroni was killed (the failover tier kills them) outlives it: stop it too.
  for site in "${CJHUB_HA_SITES[@]}"; do
    pid=$(ha_postmaster_pid "$site")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      as_pg "$PG_BIN/pg_ctl" -D "$(ha_dir)/$site/data" -m fast -w -t 30 stop >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # shellcheck disable=SC2086  # one or more pids
  for i in 1 2 3; do pid=$(ha_etcd_pid $i); if [ -n "$pid" ]; then kill $pid 2>/dev/null || true; fi; done
  for i in $(seq 1 20); do
    [ -z "$(ha_etcd_pid 1)$(ha_etcd_pid 2)$(ha_etcd_pid 3)" ] && break
    sleep 0.5
  done
}
