#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the hub: data in $HUB_VAR/pg/data, unix socket in
# $HUB_VAR/pg/run, TCP on 127.0.0.1:$HUB_DB_PORT only, log in $HUB_VAR/log/postgres.log.
# It never touches a system cluster.
#
# Usage: hub/services/postgres.sh start|stop|status|psql [psql args...]
#
# Roles: gx_super (superuser, made by initdb), gx_owner (owns database gxhub, CREATEDB),
# gx_app (LOGIN only). Their passwords are in $HUB_VAR/secrets/pg_*.password.
# Over the unix socket authentication is "trust"; the socket directory is 0700 so that
# only the cluster's owner (and root) can reach it. Over TCP only scram-sha-256.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
HUB_VAR=${HUB_VAR:-$REPO/var}
[[ $HUB_VAR == /* ]] || HUB_VAR=$PWD/$HUB_VAR
HUB_DB_PORT=${HUB_DB_PORT:-55432}

PGBIN=/usr/lib/postgresql/15/bin
PG_BASE=$HUB_VAR/pg
PG_DATA=$PG_BASE/data
PG_RUN=$PG_BASE/run
PG_ARCHIVE=$PG_BASE/wal-archive
LOG_DIR=$HUB_VAR/log
PG_LOG=$LOG_DIR/postgres.log
SECRETS=$HUB_VAR/secrets
RUN_DIR=$HUB_VAR/run
SAFE_PATH=/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "postgres: error: $*" >&2; exit 1; }
say() { echo "postgres: $*"; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! [[ $HUB_DB_PORT =~ ^[0-9]+$ ]] || (( 10#$HUB_DB_PORT < 1 || 10#$HUB_DB_PORT > 65535 )); then
  die "HUB_DB_PORT must be a TCP port number, got '$HUB_DB_PORT'"
fi
# The paths end up inside quoted settings and a shell archive_command.
[[ $HUB_VAR != *[\'\"\\\$\`]* ]] || die "HUB_VAR must not contain quotes, \\, \$ or \`: $HUB_VAR"
# A unix socket path is limited to 107 bytes.
(( ${#PG_RUN} + 20 <= 107 )) || die "socket path too long ($PG_RUN): choose a shorter HUB_VAR"

if (( EUID == 0 )); then
  # initdb refuses to run as root, so the cluster belongs to the Debian "postgres" user.
  PG_USER=postgres
  id -u postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (run ./gxhub setup)"
  AS_PG=(runuser -u postgres --)
else
  PG_USER=$(id -un)
  AS_PG=()
fi

# as_pg CMD...: runs CMD as the cluster owner with a clean environment, from / so that
# the owner need not be able to read the caller's working directory.
as_pg() {
  (cd / && "${AS_PG[@]}" env -i PATH="$SAFE_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC "$@")
}

# Fails unless the cluster owner can traverse every existing directory down to HUB_VAR.
check_traverse() {
  (( EUID == 0 )) || return 0
  local d="" part
  local -a parts
  IFS=/ read -r -a parts <<<"${HUB_VAR#/}"
  for part in "" "${parts[@]}"; do
    [[ -z $part ]] && d=/ || d=${d%/}/$part
    [[ -d $d ]] || break
    runuser -u "$PG_USER" -- test -x "$d" \
      || die "user '$PG_USER' cannot traverse $d: run 'chmod o+x $d' (or set HUB_VAR to a directory it can reach)"
  done
}

require_binaries() {
  [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl && -x $PGBIN/psql ]] \
    || die "PostgreSQL 15 binaries not found in $PGBIN (run ./gxhub setup)"
}

mkdir_owned() { # mkdir_owned MODE DIR: creates DIR (owned by the cluster owner) if needed
  local mode=$1 dir=$2
  mkdir -p -- "$dir"
  chmod "$mode" -- "$dir"
  (( EUID == 0 )) && chown "$PG_USER:" -- "$dir"
  return 0
}

mkdir_root() { # mkdir_root DIR: a directory of the hub's own (0755, caller-owned)
  if [[ ! -d $1 ]]; then mkdir -p -- "$1" && chmod 0755 -- "$1"; fi
}

lock() { # serialises start/stop of this cluster between concurrent callers
  mkdir_root "$RUN_DIR"
  exec 9>"$RUN_DIR/postgres.lock"
  flock -w 120 9 || die "another start/stop of the cluster is still running (lock $RUN_DIR/postgres.lock)"
}

ensure_secrets() {
  if [[ ! -d $SECRETS ]]; then mkdir -p -- "$SECRETS"; fi
  chmod 0700 -- "$SECRETS"
  local name tmp pw
  for name in pg_super pg_owner pg_app; do
    if [[ ! -s $SECRETS/$name.password ]]; then
      tmp=$(mktemp "$SECRETS/.$name.XXXXXX")
      # No trailing newline: readers take the file's bytes as the password.
      pw=$(openssl rand -hex 24) || die "openssl rand failed"
      printf '%s' "$pw" >"$tmp"
      chmod 0600 -- "$tmp"
      mv -f -- "$tmp" "$SECRETS/$name.password"
      say "generated $SECRETS/$name.password"
    fi
    chmod 0600 -- "$SECRETS/$name.password"
  done
}

is_running() {
  [[ -f $PG_DATA/PG_VERSION ]] || return 1
  as_pg "$PGBIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

running_pid()  { sed -n 1p "$PG_DATA/postmaster.pid" 2>/dev/null; }
running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  if [[ -d $PG_DATA && -n "$(ls -A -- "$PG_DATA")" ]]; then
    die "$PG_DATA exists but holds no cluster (an interrupted initdb?): remove it and start again"
  fi
  mkdir_owned 0700 "$PG_DATA"
  # initdb reads the superuser password from a file: give it a copy that the cluster
  # owner can read, and remove the copy whatever happens.
  local pwfile
  pwfile=$(mktemp "$PG_BASE/.pwfile.XXXXXX")
  trap 'rm -f -- "$pwfile"' EXIT
  cat -- "$SECRETS/pg_super.password" >"$pwfile"
  chmod 0400 -- "$pwfile"
  (( EUID == 0 )) && chown "$PG_USER:" -- "$pwfile"
  say "initdb in $PG_DATA"
  if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U gx_super --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
      >"$PG_BASE/initdb.log" 2>&1; then
    cat "$PG_BASE/initdb.log" >&2
    die "initdb failed (output above, also in $PG_BASE/initdb.log)"
  fi
  rm -f -- "$pwfile"
  trap - EXIT
}

# Written on every start so that a changed port or path takes effect; postgresql.conf
# itself only gains one include line.
write_config() {
  local conf=$PG_DATA/gxhub.conf hba=$PG_DATA/pg_hba.conf
  if ! grep -qxF "include 'gxhub.conf'" "$PG_DATA/postgresql.conf"; then
    printf "\n# Settings of the GX hub (hub/services/postgres.sh)\ninclude 'gxhub.conf'\n" \
      >>"$PG_DATA/postgresql.conf"
  fi
  cat >"$conf.tmp" <<EOF
# Generated by hub/services/postgres.sh on every start: edit the script, not this file.
port = $HUB_DB_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_RUN'
max_connections = 200
shared_buffers = 256MB
password_encryption = scram-sha-256

# Durability: nothing acknowledged may be lost.
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
archive_mode = on
archive_command = 'test ! -f "$PG_ARCHIVE/%f" && cp "%p" "$PG_ARCHIVE/%f"'

timezone = 'UTC'
log_timezone = 'UTC'
# pg_ctl -l sends stderr to $PG_LOG
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  cat >"$hba.tmp" <<'EOF'
# Generated by hub/services/postgres.sh on every start: edit the script, not this file.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
EOF
  local f
  for f in "$conf" "$hba"; do
    chmod 0600 -- "$f.tmp"
    (( EUID == 0 )) && chown "$PG_USER:" -- "$f.tmp"
    mv -f -- "$f.tmp" "$f"
  done
}

# Creates the roles and the database if absent and (re)sets the passwords from the
# secret files, so that the files are always the truth. Passwords go over stdin, never
# on a command line.
provision() {
  local super owner app port
  owner=$(<"$SECRETS/pg_owner.password")
  app=$(<"$SECRETS/pg_app.password")
  super=$(<"$SECRETS/pg_super.password")
  port=$(running_port)
  [[ $owner =~ ^[0-9a-f]+$ && $app =~ ^[0-9a-f]+$ && $super =~ ^[0-9a-f]+$ ]] \
    || die "a password file in $SECRETS is not hex (it should come from openssl rand -hex 24)"
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$port" -U gx_super -d postgres \
    >/dev/null <<EOF || die "creating roles/database failed (see above)"
\\set owner_pw '$owner'
\\set app_pw '$app'
\\set super_pw '$super'
SELECT format('CREATE ROLE gx_owner LOGIN CREATEDB PASSWORD %L', :'owner_pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gx_owner') \\gexec
SELECT format('CREATE ROLE gx_app LOGIN PASSWORD %L', :'app_pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gx_app') \\gexec
ALTER ROLE gx_owner WITH LOGIN CREATEDB PASSWORD :'owner_pw';
ALTER ROLE gx_app WITH LOGIN PASSWORD :'app_pw';
ALTER ROLE gx_super WITH PASSWORD :'super_pw';
SELECT 'CREATE DATABASE gxhub OWNER gx_owner'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'gxhub') \\gexec
EOF
}

port_in_use() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

cmd_start() {
  require_binaries
  command -v openssl >/dev/null || die "openssl not found (run ./gxhub setup)"
  lock
  local t0; t0=$(now)
  mkdir_root "$HUB_VAR"
  mkdir_root "$LOG_DIR"
  check_traverse
  ensure_secrets
  mkdir_owned 0700 "$PG_BASE"
  mkdir_owned 0700 "$PG_RUN"
  mkdir_owned 0700 "$PG_ARCHIVE"
  if (( EUID != 0 )) && [[ -d $PG_DATA && ! -O $PG_DATA ]]; then
    die "$PG_DATA belongs to another user: run this script as that user (or as root)"
  fi
  init_cluster

  if is_running; then
    say "already running (pid $(running_pid), port $(running_port))"
  else
    port_in_use "$HUB_DB_PORT" \
      && die "port $HUB_DB_PORT is already in use: $(ss -Hltnp "sport = :$HUB_DB_PORT" | head -n 1); set HUB_DB_PORT to a free port"
    write_config
    [[ -e $PG_LOG ]] || : >"$PG_LOG"
    (( EUID == 0 )) && chown "$PG_USER:" -- "$PG_LOG"
    # In its own session, stdin from /dev/null, output to the log: the postmaster never
    # holds the caller's terminal or stdout pipe. fd 9 is our lock: not inherited either.
    if ! as_pg setsid -w "$PGBIN/pg_ctl" start -D "$PG_DATA" -w -t 60 -l "$PG_LOG" \
        </dev/null >"$PG_BASE/pg_ctl.out" 2>&1 9>&-; then
      cat -- "$PG_BASE/pg_ctl.out" >&2 2>/dev/null || true
      echo "---- last 30 lines of $PG_LOG ----" >&2
      tail -n 30 -- "$PG_LOG" >&2
      die "the cluster did not start"
    fi
  fi
  provision
  say "running (pid $(running_pid), 127.0.0.1:$(running_port), socket $PG_RUN) - ready in $(since "$t0") s"
}

cmd_stop() {
  require_binaries
  lock
  if ! is_running; then
    say "not running"
    return 0
  fi
  local t0; t0=$(now)
  as_pg "$PGBIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null \
    || die "pg_ctl stop failed; see $PG_LOG"
  say "stopped in $(since "$t0") s"
}

cmd_status() {
  if [[ -x $PGBIN/pg_ctl ]] && is_running; then
    say "running (pid $(running_pid), 127.0.0.1:$(running_port), socket $PG_RUN, data $PG_DATA)"
    return 0
  fi
  say "stopped"
  return 1
}

# Runs as the caller, not the cluster owner: the socket directory is reachable by root,
# and the caller's own files (psql -f ...) stay readable.
cmd_psql() {
  require_binaries
  is_running || die "not running (hub/services/postgres.sh start)"
  unset PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS
  PGHOST=$PG_RUN PGPORT=$(running_port) PGUSER=gx_super PGDATABASE=gxhub \
    exec "$PGBIN/psql" "$@"
}

usage() {
  cat <<EOF
usage: $0 start|stop|status|psql [psql args...]
  start   initialise (first time), start and provision the private cluster
  stop    fast shutdown (fine if not running)
  status  exit 0 and print pid/port if running, exit 1 otherwise
  psql    psql as gx_super over the unix socket (database gxhub unless -d is given)
Environment: HUB_VAR (default $REPO/var), HUB_DB_PORT (default 55432)
EOF
}

case ${1:-} in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  psql)   shift; cmd_psql "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
