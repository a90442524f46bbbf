#!/usr/bin/env bash
# A private RabbitMQ broker for the broker comparison benchmark (tests/bench/rabbitmq_peer.cpp).
# Source it for mq_start, mq_stop, mq_running, mq_port and mq_ctl, or run it:
#
#   tests/bench/rabbitmq.sh start|stop|status
#
# The broker is a node of its own (cjhub-bench@localhost) with its own AMQP, distribution and
# epmd ports and its own directories, so it neither needs nor disturbs a system RabbitMQ. It
# listens on loopback only, where the default guest/guest account is allowed.
#
# Configuration: the broker's defaults, on purpose. Queues are classic queues (the default type;
# version 1 in RabbitMQ 3.10), the peer declares them durable and publishes persistent messages,
# which the message store writes and fsyncs before it confirms them (fsync is not disabled; no
# lazy queues).
#
#   CJHUB_MQ_PORT        AMQP port (default 55672)
#   CJHUB_MQ_DIST_PORT   Erlang distribution port (default AMQP port + 10)
#   CJHUB_MQ_EPMD_PORT   port of the node's own epmd (default 54369)
#   CJHUB_MQ_NODE        node name (default cjhub-bench@localhost)
# shellcheck source-path=SCRIPTDIR/../.. source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

CJHUB_MQ_PORT="${CJHUB_MQ_PORT:-55672}"
CJHUB_MQ_DIST_PORT="${CJHUB_MQ_DIST_PORT:-$((CJHUB_MQ_PORT + 10))}"
CJHUB_MQ_EPMD_PORT="${CJHUB_MQ_EPMD_PORT:-54369}"
CJHUB_MQ_NODE="${CJHUB_MQ_NODE:-cjhub-bench@localhost}"
CJHUB_MQ_START_TIMEOUT="${CJHUB_MQ_START_TIMEOUT:-90}"
# The broker's own scripts; the /usr/sbin wrappers would switch to the rabbitmq account.
MQ_BIN="${MQ_BIN:-/usr/lib/rabbitmq/bin}"

mq_port() { echo "$CJHUB_MQ_PORT"; }

# As root the broker runs as an unprivileged account, like the PostgreSQL cluster.
mq_owner() { service_owner cjhub-mq; }
as_mq() { as_service cjhub-mq "$@"; }
mq_dir() { service_dir cjhub-mq mq; }

# Runs a command in the broker's environment, as its owner: every path and port is private and
# nothing is read from /etc/rabbitmq or /var/lib/rabbitmq.
mq_env() {
  local dir; dir=$(mq_dir)
  as_mq env \
    HOME="$dir/home" LC_ALL=C.UTF-8 \
    RABBITMQ_NODENAME="$CJHUB_MQ_NODE" \
    RABBITMQ_DIST_PORT="$CJHUB_MQ_DIST_PORT" \
    RABBITMQ_CTL_DIST_PORT_MIN="$((CJHUB_MQ_DIST_PORT + 1))" \
    RABBITMQ_CTL_DIST_PORT_MAX="$((CJHUB_MQ_DIST_PORT + 9))" \
    ERL_EPMD_PORT="$CJHUB_MQ_EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
    "$@"
}

# rabbitmqctl against the private node, e.g. mq_ctl list_queues name type durable messages
mq_ctl() { mq_env "$MQ_BIN/rabbitmqctl" -n "$CJHUB_MQ_NODE" "$@"; }

# The rabbitmq-server script stays in front of the VM: it turns SIGTERM into an orderly stop and
# exits when the VM does. Its pid is the broker's handle; the VM's own pid is in rabbitmq.pid.
mq_pid() {
  local f; f="$(mq_dir)/server.pid"
  [ -s "$f" ] && cat "$f"
}

mq_running() {
  local pid; pid=$(mq_pid) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rabbitmq-server ]
}

mq_accepting() { (exec 3<>"/dev/tcp/127.0.0.1/$CJHUB_MQ_PORT") 2>/dev/null; }

mq_start() {
  [ -x "$MQ_BIN/rabbitmq-server" ] || die "RabbitMQ is not installed (apt-get install rabbitmq-server)"
  if mq_running; then say "RabbitMQ already running on port $CJHUB_MQ_PORT (pid $(mq_pid))"; return; fi
  mq_accepting && die "port $CJHUB_MQ_PORT is taken by another program (set CJHUB_MQ_PORT)"
  mkdir -p "$CJHUB_VAR"
  local dir owner; dir=$(mq_dir); owner=$(mq_owner)
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  : >"$dir/rabbitmq-env.conf"
  echo '[].' >"$dir/enabled_plugins"
  cat >"$dir/rabbitmq.conf" <<CONF
# cjhub benchmark broker: loopback only, the broker's defaults otherwise.
listeners.tcp.1 = 127.0.0.1:$CJHUB_MQ_PORT
log.console = false
log.file.level = info
CONF
  rm -f "$dir/server.pid" "$dir/rabbitmq.pid"
  [ "$(id -u)" -eq 0 ] && chown -R "$owner" "$dir"

  say "starting RabbitMQ node $CJHUB_MQ_NODE on 127.0.0.1:$CJHUB_MQ_PORT in $dir (owner $owner)"
  local out="$dir/log/server.out" node_log="$dir/log/$CJHUB_MQ_NODE.log"
  local node_log_at; node_log_at=$(stat -c %s "$node_log" 2>/dev/null || echo 0)
  # Detached: its own session, and a grandchild of this shell so that a caller's `wait` does not
  # wait for it. The launcher records its pid, then becomes rabbitmq-server, in the broker's
  # directory (where a crash dump would go).
  # shellcheck disable=SC2016  # $$ and the positional parameters are for the inner sh
  (mq_env ERL_CRASH_DUMP="$dir/log/erl_crash.dump" setsid sh -c 'echo $$ >"$1"; cd "$2" && exec "$3"' \
    sh "$dir/server.pid" "$dir" "$MQ_BIN/rabbitmq-server" </dev/null >"$out" 2>&1 &)
  local start=$SECONDS problem=
  until mq_accepting; do
    if [ -s "$dir/server.pid" ] && ! mq_running; then problem="RabbitMQ exited while starting"
    elif [ $((SECONDS - start)) -ge "$CJHUB_MQ_START_TIMEOUT" ]; then problem="RabbitMQ did not start within ${CJHUB_MQ_START_TIMEOUT}s"
    fi
    if [ -n "$problem" ]; then
      tail -n 30 "$out" >&2
      [ -f "$node_log" ] && tail -c "+$((node_log_at + 1))" "$node_log" | tail -n 30 >&2
      mq_stop
      die "$problem (logs in $dir/log)"
    fi
    sleep 0.2
  done
  say "RabbitMQ up after $((SECONDS - start))s (pid $(mq_pid))"
}

mq_stop() {
  local dir; dir=$(mq_dir)
  if mq_running; then
    local pid beam; pid=$(mq_pid); beam=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
    say "stopping RabbitMQ (pid $pid)"
    # rabbitmq-server passes SIGTERM on to the VM, which shuts down in order (init:stop).
    kill -TERM "$pid"
    for _ in $(seq 1 600); do mq_running || break; sleep 0.1; done
    if mq_running; then
      say "RabbitMQ still running after 60s, killing it"
      kill -KILL "$pid"
    fi
    if [ -n "$beam" ] && [ "$(cat "/proc/$beam/comm" 2>/dev/null)" = beam.smp ]; then kill -KILL "$beam"; fi
  fi
  rm -f "$dir/server.pid"
  # The VM started an epmd of its own on the private port; it outlives the node.
  if mq_env epmd -port "$CJHUB_MQ_EPMD_PORT" -names >/dev/null 2>&1; then
    mq_env epmd -port "$CJHUB_MQ_EPMD_PORT" -kill >/dev/null 2>&1 || true
    local epmd
    for epmd in $(ss -Hltnp "sport = :$CJHUB_MQ_EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      if [ "$(cat "/proc/$epmd/comm" 2>/dev/null)" = epmd ]; then kill -TERM "$epmd"; fi
    done
  fi
}

mq_status() {
  if mq_running; then
    echo "RabbitMQ node $CJHUB_MQ_NODE running (pid $(mq_pid)), AMQP on 127.0.0.1:$CJHUB_MQ_PORT, data in $(mq_dir)"
  else
    echo "RabbitMQ node $CJHUB_MQ_NODE not running"
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start) mq_start ;;
    stop) mq_stop ;;
    status) mq_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
fi
