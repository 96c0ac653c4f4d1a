#!/usr/bin/env bash
# A private RabbitMQ 3.10 node for the hub (see /work/shared/NOTES.md): node gxhub@localhost,
# AMQP on 127.0.0.1:$HUB_MQ_PORT, Erlang distribution on 127.0.0.1:$HUB_MQ_DIST_PORT, its
# own epmd on 127.0.0.1:$HUB_EPMD_PORT, all state under $HUB_VAR. It never touches a system
# node, /etc/rabbitmq or a home directory.
#
# Usage: hub/services/rabbitmq.sh start|stop|status|ctl [rabbitmqctl args...]
#
# The AMQP user is "gxhub" (administrator, full permissions on vhost /) with the password
# in $HUB_VAR/secrets/mq.password; the default "guest" user is deleted.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
HUB_VAR=${HUB_VAR:-$REPO/var}
[[ $HUB_VAR == /* ]] || HUB_VAR=$PWD/$HUB_VAR
HUB_MQ_PORT=${HUB_MQ_PORT:-55672}
HUB_MQ_DIST_PORT=${HUB_MQ_DIST_PORT:-55673}
HUB_EPMD_PORT=${HUB_EPMD_PORT:-55369}

MQ_BIN=/usr/lib/rabbitmq/bin
MQ_BASE=$HUB_VAR/rabbitmq
MQ_HOME=$MQ_BASE/home
MQ_MNESIA=$MQ_BASE/mnesia
MQ_CONF=$MQ_BASE/rabbitmq.conf
MQ_CONF_D=$MQ_BASE/conf.d
MQ_ENV_CONF=$MQ_BASE/rabbitmq-env.conf
MQ_ADVANCED=$MQ_BASE/advanced.config
MQ_PLUGINS=$MQ_BASE/enabled_plugins
MQ_PID=$MQ_BASE/rabbitmq.pid
MQ_LAUNCHER_PID=$MQ_BASE/launcher.pid
MQ_LOG_DIR=$HUB_VAR/log/rabbitmq
MQ_STARTUP_LOG=$MQ_LOG_DIR/startup.log
SECRETS=$HUB_VAR/secrets
RUN_DIR=$HUB_VAR/run
NODE=gxhub@localhost
MQ_USER_NAME=gxhub
START_TIMEOUT=120
STOP_TIMEOUT=60

die() { echo "rabbitmq: error: $*" >&2; exit 1; }
say() { echo "rabbitmq: $*"; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for v in HUB_MQ_PORT HUB_MQ_DIST_PORT HUB_EPMD_PORT; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]] || (( 10#${!v} < 1 || 10#${!v} > 65535 )); then
    die "$v must be a TCP port number, got '${!v}'"
  fi
done
[[ $HUB_VAR != *[\'\"\\\$\`[:space:]]* ]] \
  || die "HUB_VAR must not contain spaces, quotes, \\, \$ or \`: $HUB_VAR"

if (( EUID == 0 )); then
  # The node runs as the Debian "rabbitmq" system user, like the packaged service.
  MQ_OS_USER=rabbitmq
  id -u rabbitmq >/dev/null 2>&1 || die "user 'rabbitmq' does not exist (run ./gxhub setup)"
  AS_MQ=(runuser -u rabbitmq --)
else
  MQ_OS_USER=$(id -un)
  AS_MQ=()
fi

# One environment for the server and for rabbitmqctl: if they differ, rabbitmqctl cannot
# reach the node, starts a second epmd on all interfaces or writes a cookie elsewhere.
# env -i keeps out anything of the caller's (NOTIFY_SOCKET, RABBITMQ_* ...), and our own
# (empty) rabbitmq-env.conf, conf.d and advanced.config replace those in /etc/rabbitmq.
DIST_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
MQ_ENV=(
  PATH=/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8 LC_ALL=C.UTF-8
  HOME="$MQ_HOME"
  RABBITMQ_NODENAME="$NODE"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  RABBITMQ_NODE_PORT="$HUB_MQ_PORT"
  RABBITMQ_DIST_PORT="$HUB_MQ_DIST_PORT"
  RABBITMQ_MNESIA_BASE="$MQ_MNESIA"
  RABBITMQ_LOG_BASE="$MQ_LOG_DIR"
  RABBITMQ_CONFIG_FILE="$MQ_CONF"
  RABBITMQ_CONFIG_FILES="$MQ_CONF_D"
  RABBITMQ_ADVANCED_CONFIG_FILE="$MQ_ADVANCED"
  RABBITMQ_CONF_ENV_FILE="$MQ_ENV_CONF"
  RABBITMQ_ENABLED_PLUGINS_FILE="$MQ_PLUGINS"
  RABBITMQ_PID_FILE="$MQ_PID"
  ERL_EPMD_ADDRESS=127.0.0.1
  ERL_EPMD_PORT="$HUB_EPMD_PORT"
  ERL_CRASH_DUMP="$MQ_LOG_DIR/erl_crash.dump"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$DIST_ARGS"
  RABBITMQ_CTL_ERL_ARGS="$DIST_ARGS"
)

as_mq() { (cd / && "${AS_MQ[@]}" env -i "${MQ_ENV[@]}" "$@"); }
ctl() { as_mq "$MQ_BIN/rabbitmqctl" "$@"; }

require_binaries() {
  [[ -x $MQ_BIN/rabbitmq-server && -x $MQ_BIN/rabbitmqctl ]] \
    || die "RabbitMQ not found in $MQ_BIN (run ./gxhub setup)"
  command -v epmd >/dev/null || die "epmd not found (run ./gxhub setup)"
}

check_traverse() {
  (( EUID == 0 )) || return 0
  local d="" part
  local -a parts
  IFS=/ read -r -a parts <<<"${HUB_VAR#/}"
  for part in "" "${parts[@]}"; do
    [[ -z $part ]] && d=/ || d=${d%/}/$part
    [[ -d $d ]] || break
    runuser -u "$MQ_OS_USER" -- test -x "$d" \
      || die "user '$MQ_OS_USER' cannot traverse $d: run 'chmod o+x $d' (or set HUB_VAR to a directory it can reach)"
  done
}

mkdir_root() { if [[ ! -d $1 ]]; then mkdir -p -- "$1" && chmod 0755 -- "$1"; fi; }

mkdir_owned() { # mkdir_owned MODE DIR: DIR and everything in it owned by the node's user
  local mode=$1 dir=$2
  mkdir -p -- "$dir"
  chmod "$mode" -- "$dir"
  if (( EUID == 0 )); then
    find "$dir" ! -user "$MQ_OS_USER" -exec chown "$MQ_OS_USER:" {} +
  fi
}

lock() {
  mkdir_root "$RUN_DIR"
  exec 9>"$RUN_DIR/rabbitmq.lock"
  flock -w 180 9 || die "another start/stop of the node is still running (lock $RUN_DIR/rabbitmq.lock)"
}

# pid of our node if it runs: the PID file's process, and only if its environment says
# it is this node (a stale file may name a reused pid).
node_pid() {
  local pid
  pid=$(cat -- "$MQ_PID" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$MQ_MNESIA" \
    || return 1
  echo "$pid"
}

launcher_alive() {
  local pid
  pid=$(cat -- "$MQ_LAUNCHER_PID" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

port_in_use() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

ensure_password() {
  if [[ ! -d $SECRETS ]]; then mkdir -p -- "$SECRETS"; fi
  chmod 0700 -- "$SECRETS"
  if [[ ! -s $SECRETS/mq.password ]]; then
    local tmp pw
    tmp=$(mktemp "$SECRETS/.mq.XXXXXX")
    # No trailing newline: readers take the file's bytes as the password.
    pw=$(openssl rand -hex 24) || die "openssl rand failed"
    printf '%s' "$pw" >"$tmp"
    chmod 0600 -- "$tmp"
    mv -f -- "$tmp" "$SECRETS/mq.password"
    say "generated $SECRETS/mq.password"
  fi
  chmod 0600 -- "$SECRETS/mq.password"
}

write_files() {
  mkdir_owned 0750 "$MQ_BASE"
  mkdir_owned 0700 "$MQ_HOME"
  mkdir_owned 0750 "$MQ_MNESIA"
  mkdir_owned 0750 "$MQ_CONF_D"
  mkdir_owned 0750 "$MQ_LOG_DIR"
  # Our own cookie, made before anything Erlang runs, so that the server and rabbitmqctl
  # cannot race to create different ones.
  if [[ ! -s $MQ_HOME/.erlang.cookie ]]; then
    openssl rand -hex 20 | tr a-f A-F | tr -d '\n' >"$MQ_HOME/.erlang.cookie"
  fi
  chmod 0400 -- "$MQ_HOME/.erlang.cookie"
  cat >"$MQ_CONF" <<EOF
# Generated by hub/services/rabbitmq.sh on every start: edit the script, not this file.
# Listeners come from RABBITMQ_NODE_IP_ADDRESS/RABBITMQ_NODE_PORT (127.0.0.1:$HUB_MQ_PORT).
log.console = false
log.file.level = info
# The hub publishes with confirms; leave room before the broker blocks publishers.
disk_free_limit.absolute = 500MB
EOF
  echo '[].' >"$MQ_PLUGINS"
  : >"$MQ_ENV_CONF"
  echo '[].' >"$MQ_ADVANCED"
  if (( EUID == 0 )); then
    chown "$MQ_OS_USER:" -- "$MQ_CONF" "$MQ_PLUGINS" "$MQ_ENV_CONF" "$MQ_ADVANCED" \
      "$MQ_HOME/.erlang.cookie"
  fi
}

# Creates/updates the gxhub user and removes guest. Each rabbitmqctl call boots an Erlang
# VM (about a second), so look first and change only what differs. The password goes
# over stdin, never on a command line.
provision() {
  local pw users perms
  pw=$(<"$SECRETS/mq.password")
  users=$(ctl list_users --quiet --no-table-headers) || die "rabbitmqctl list_users failed"
  if ! awk -v u="$MQ_USER_NAME" '$1 == u { f = 1 } END { exit !f }' <<<"$users"; then
    printf '%s\n' "$pw" | ctl add_user "$MQ_USER_NAME" >/dev/null \
      || die "rabbitmqctl add_user failed"
    say "created user $MQ_USER_NAME"
  elif ! printf '%s\n' "$pw" | ctl authenticate_user "$MQ_USER_NAME" >/dev/null 2>&1; then
    printf '%s\n' "$pw" | ctl change_password "$MQ_USER_NAME" >/dev/null \
      || die "rabbitmqctl change_password failed"
    say "reset the password of $MQ_USER_NAME from $SECRETS/mq.password"
  fi
  if ! awk -v u="$MQ_USER_NAME" '$1 == u && /administrator/ { f = 1 } END { exit !f }' <<<"$users"; then
    ctl set_user_tags "$MQ_USER_NAME" administrator >/dev/null || die "rabbitmqctl set_user_tags failed"
  fi
  perms=$(ctl list_user_permissions "$MQ_USER_NAME" --quiet --no-table-headers 2>/dev/null || true)
  if ! grep -qxF "$(printf '/\t.*\t.*\t.*')" <<<"$perms"; then
    ctl set_permissions -p / "$MQ_USER_NAME" '.*' '.*' '.*' >/dev/null \
      || die "rabbitmqctl set_permissions failed"
  fi
  if awk '$1 == "guest" { f = 1 } END { exit !f }' <<<"$users"; then
    ctl delete_user guest >/dev/null || die "rabbitmqctl delete_user guest failed"
    say "deleted user guest"
  fi
}

# Log sizes before a start, so that a failure shows only what this start wrote.
declare -A LOG_OFFSET=()
mark_logs() {
  local f
  for f in "$MQ_STARTUP_LOG" "$MQ_LOG_DIR/$NODE.log"; do
    LOG_OFFSET[$f]=$(stat -c %s -- "$f" 2>/dev/null || echo 0)
  done
}

show_log_tail() {
  local f new
  for f in "$MQ_STARTUP_LOG" "$MQ_LOG_DIR/$NODE.log"; do
    new=$(tail -c +"$(( ${LOG_OFFSET[$f]:-0} + 1 ))" -- "$f" 2>/dev/null | tail -n 30)
    [[ -n $new ]] || continue
    echo "---- $f (last 30 lines of this start) ----" >&2
    printf '%s\n' "$new" >&2
  done
}

cmd_start() {
  require_binaries
  command -v openssl >/dev/null || die "openssl not found (run ./gxhub setup)"
  lock
  local t0 pid; t0=$(now)
  mkdir_root "$HUB_VAR"
  mkdir_root "$HUB_VAR/log"
  check_traverse
  ensure_password
  if pid=$(node_pid); then
    say "already running (pid $pid)"
  else
    local p
    for p in HUB_MQ_PORT HUB_MQ_DIST_PORT; do
      port_in_use "${!p}" \
        && die "port ${!p} ($p) is already in use: $(ss -Hltnp "sport = :${!p}" | head -n 1)"
    done
    write_files
    rm -f -- "$MQ_PID"
    [[ -e $MQ_STARTUP_LOG ]] || : >"$MQ_STARTUP_LOG"
    mark_logs
    # setsid + stdin from /dev/null + output to a log: the node never holds the caller's
    # terminal or stdout pipe. fd 9 (our lock) is not inherited. The launcher records its
    # own pid before exec, so that an early death can be seen while we wait.
    # shellcheck disable=SC2016 # $$, $1 and $@ belong to the inner shell
    (cd "$MQ_BASE" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$MQ_LAUNCHER_PID" \
      "${AS_MQ[@]}" env -i "${MQ_ENV[@]}" "$MQ_BIN/rabbitmq-server" \
      </dev/null >>"$MQ_STARTUP_LOG" 2>&1 9>&- &)

    local deadline=$(( SECONDS + START_TIMEOUT )) started=0
    while (( SECONDS < deadline )); do
      sleep 0.5
      if ! launcher_alive && ! node_pid >/dev/null; then
        show_log_tail
        stop_epmd
        die "the node exited during start-up (logs above, in $MQ_LOG_DIR)"
      fi
      node_pid >/dev/null || continue
      if ctl await_startup --timeout $(( deadline - SECONDS > 0 ? deadline - SECONDS : 1 )) \
          >/dev/null 2>&1; then
        started=1
        break
      fi
    done
    if (( ! started )); then
      show_log_tail
      die "the node did not start within ${START_TIMEOUT} s (logs above); it may still be running: $0 stop"
    fi
  fi
  provision
  say "running (pid $(node_pid), amqp 127.0.0.1:$HUB_MQ_PORT, node $NODE) - ready in $(since "$t0") s"
}

stop_epmd() {
  # Our epmd only: the one on our private port. "-kill" is refused while nodes are
  # registered, so fall back to the process listening on the port.
  local pid
  if [[ -z "$(ss -Hltn "sport = :$HUB_EPMD_PORT" 2>/dev/null)" ]]; then return 0; fi
  env -i PATH=/usr/bin:/bin ERL_EPMD_ADDRESS=127.0.0.1 \
    epmd -port "$HUB_EPMD_PORT" -kill >/dev/null 2>&1 || true
  sleep 0.2
  pid=$(ss -Hltnp "sport = :$HUB_EPMD_PORT" 2>/dev/null | grep -o '"epmd",pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  return 0
}

cmd_stop() {
  lock
  local pid t0; t0=$(now)
  if pid=$(node_pid); then
    kill -TERM "$pid"
    local deadline=$(( SECONDS + STOP_TIMEOUT ))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "rabbitmq: warning: node pid $pid still running after ${STOP_TIMEOUT} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
    # The launcher (runuser and the rabbitmq-server shell script) exits with the node.
    for _ in $(seq 1 25); do launcher_alive || break; sleep 0.2; done
    say "stopped in $(since "$t0") s"
  else
    say "not running"
  fi
  rm -f -- "$MQ_PID" "$MQ_LAUNCHER_PID"
  stop_epmd
}

# rabbitmqctl starts an epmd (on our private port) even when the node is down, and
# "-start_epmd false" does not stop it: clean up after it then.
cmd_ctl() {
  require_binaries
  local rc=0
  ctl "$@" || rc=$?
  node_pid >/dev/null || stop_epmd
  return "$rc"
}

cmd_status() {
  local pid
  if pid=$(node_pid); then
    if port_in_use "$HUB_MQ_PORT"; then
      say "running (pid $pid, amqp 127.0.0.1:$HUB_MQ_PORT, node $NODE)"
    else
      say "running (pid $pid, node $NODE) but not listening on $HUB_MQ_PORT yet"
    fi
    return 0
  fi
  say "stopped"
  return 1
}

usage() {
  cat <<EOF
usage: $0 start|stop|status|ctl [rabbitmqctl args...]
  start   start the private node (gxhub@localhost) and provision user gxhub
  stop    graceful stop (SIGTERM, up to ${STOP_TIMEOUT} s), then stop our epmd
  status  exit 0 if running
  ctl     rabbitmqctl with the node's environment, e.g. "$0 ctl list_queues"
Environment: HUB_VAR (default $REPO/var), HUB_MQ_PORT (55672), HUB_MQ_DIST_PORT (55673),
             HUB_EPMD_PORT (55369)
EOF
}

case ${1:-} in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  ctl)    shift; cmd_ctl "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
