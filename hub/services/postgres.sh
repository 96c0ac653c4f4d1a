#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the hub: data in $HUB_VAR/pg/data, unix socket in
# $HUB_VAR/pg/run, TCP on 127.0.0.1:$HUB_DB_PORT only, log in $HUB_VAR/log/postgres.log.
# It never touches a system cluster.
#
# Usage: hub/services/postgres.sh start|stop|status|psql [psql args...]
#        hub/services/postgres.sh backup [--label L] | switch-wal
#        hub/services/postgres.sh restore --backup DIR --target-dir NEWDATA --port P [--time T]
#        hub/services/postgres.sh restore-stop --target-dir NEWDATA
# (backup and restore: see docs/backup-restore.md)
#
# Roles: gx_super (superuser, made by initdb), gx_owner (owns database gxhub, CREATEDB),
# gx_app (LOGIN only). Their passwords are in $HUB_VAR/secrets/pg_*.password.
# Over the unix socket authentication is "trust"; the socket directory is 0700 so that
# only the cluster's owner (and root) can reach it. Over TCP only scram-sha-256.
# Replication connections (base backups) only over the unix socket, only for the OS user
# that owns the cluster (peer, mapped to gx_super); never over TCP.
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
BACKUP_DIR=$HUB_VAR/backups
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

# check_traverse [DIR]: fails unless the cluster owner can traverse every existing
# directory down to DIR (default HUB_VAR).
check_traverse() {
  (( EUID == 0 )) || return 0
  local target=${1:-$HUB_VAR} d="" part
  local -a parts
  IFS=/ read -r -a parts <<<"${target#/}"
  for part in "" "${parts[@]}"; do
    [[ -z $part ]] && d=/ || d=${d%/}/$part
    [[ -d $d ]] || break
    runuser -u "$PG_USER" -- test -x "$d" \
      || die "user '$PG_USER' cannot traverse $d: run 'chmod o+x $d' (or choose a directory it can reach)"
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
  local conf=$PG_DATA/gxhub.conf
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
# A segment appears in the archive only complete and on disk (copy, fsync, rename), so
# that a restore reading the archive never takes a half-copied file; a file that is
# already there counts as archived only if it is identical.
archive_command = 'if test -f "$PG_ARCHIVE/%f"; then cmp -s "%p" "$PG_ARCHIVE/%f"; else cp "%p" "$PG_ARCHIVE/.%f.tmp" && sync "$PG_ARCHIVE/.%f.tmp" && mv "$PG_ARCHIVE/.%f.tmp" "$PG_ARCHIVE/%f" && sync "$PG_ARCHIVE"; fi'

timezone = 'UTC'
log_timezone = 'UTC'
# pg_ctl -l sends stderr to $PG_LOG
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  install_conf "$conf"
  write_hba "$PG_DATA" >/dev/null
}

install_conf() { # install_conf FILE: FILE.tmp -> FILE, 0600, owned by the cluster owner
  chmod 0600 -- "$1.tmp"
  (( EUID == 0 )) && chown "$PG_USER:" -- "$1.tmp"
  mv -f -- "$1.tmp" "$1"
}

# The client authentication of the cluster. "all" in the DATABASE column does not cover
# replication connections: those are allowed by the one replication line only, over the
# unix socket, for the OS user that owns the cluster (peer, mapped to gx_super by
# pg_ident.conf); no replication over TCP, with or without a password.
hba_text() {
  cat <<'EOF'
# Generated by hub/services/postgres.sh: edit the script, not this file.
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          all                      trust
local   replication  gx_super                 peer map=gxhub_backup
host    all          all       127.0.0.1/32   scram-sha-256
EOF
}
ident_text() {
  cat <<EOF
# Generated by hub/services/postgres.sh: edit the script, not this file.
# MAPNAME       SYSTEM-USERNAME  PG-USERNAME
gxhub_backup    "$PG_USER"       gx_super
EOF
}

# write_hba DATADIR: (re)writes pg_hba.conf and pg_ident.conf when they differ from what
# the script generates; prints "changed" if it wrote anything. Idempotent.
write_hba() {
  local dir=$1 changed="" f
  hba_text >"$dir/pg_hba.conf.tmp"
  ident_text >"$dir/pg_ident.conf.tmp"
  for f in "$dir/pg_hba.conf" "$dir/pg_ident.conf"; do
    if [[ -f $f ]] && cmp -s -- "$f.tmp" "$f"; then
      rm -f -- "$f.tmp"
    else
      install_conf "$f"
      changed=changed
    fi
  done
  echo "$changed"
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

# A cluster restored in place (docs/backup-restore.md) was promoted with archiving off,
# so the history file of its new timeline never reached the archive; later restores
# need it to follow the timeline. Copies every missing one (a few bytes each).
archive_history_files() {
  local f name
  for f in "$PG_DATA"/pg_wal/*.history; do
    [[ -f $f ]] || continue
    name=${f##*/}
    [[ -f $PG_ARCHIVE/$name ]] && continue
    if ! as_pg cp -- "$f" "$PG_ARCHIVE/.$name.tmp" || ! as_pg mv -- "$PG_ARCHIVE/.$name.tmp" "$PG_ARCHIVE/$name"; then
      die "cannot copy $f into $PG_ARCHIVE"
    fi
    say "archived the timeline history file $name"
  done
}

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
  archive_history_files
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

# ---- backup and restore (docs/backup-restore.md) ---------------------------------------
# Progress goes to stderr: "backup" prints only the backup's path on stdout.
info() { echo "postgres: $*" >&2; }

# live_sql SQL: runs SQL on the live cluster as gx_super over the unix socket; prints
# the result unaligned.
live_sql() {
  as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$(running_port)" -U gx_super \
    -d postgres -c "$1"
}

# archive_wait [LSN]: forces a WAL switch and waits (up to ARCHIVE_WAIT s) until the WAL
# segment that holds LSN (default: all WAL written so far) is in the archive. Prints the
# segment's name.
ARCHIVE_WAIT=${HUB_ARCHIVE_WAIT:-120}
archive_wait() {
  local lsn=${1:-} seg
  if [[ -n $lsn ]]; then
    [[ $lsn =~ ^[0-9A-F]+/[0-9A-F]+$ ]] || die "not an LSN: '$lsn'"
    seg=$(live_sql "SELECT pg_walfile_name('$lsn')")
    live_sql "SELECT pg_switch_wal()" >/dev/null
  else
    # pg_switch_wal returns the end of the segment it closed (or, with nothing written
    # since the last switch, the start of the current one): either way the segment
    # named is the last one that holds WAL.
    seg=$(live_sql "SELECT pg_walfile_name(pg_switch_wal())")
  fi
  [[ $seg =~ ^[0-9A-F]{24}$ ]] || die "unexpected WAL segment name '$seg'"
  local deadline=$(( SECONDS + ARCHIVE_WAIT ))
  # Archived = the file is there and the archiver has reported it (or a later one) done.
  until [[ -f $PG_ARCHIVE/$seg ]] \
      && [[ "$(live_sql "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver")" == t ]]; do
    if (( SECONDS >= deadline )); then
      die "WAL segment $seg is not in $PG_ARCHIVE after ${ARCHIVE_WAIT} s (pg_stat_archiver: $(live_sql \
        "SELECT format('last archived %s, last failed %s at %s, %s failures', last_archived_wal, last_failed_wal, last_failed_time, failed_count) FROM pg_stat_archiver")); see $PG_LOG"
    fi
    sleep 0.2
  done
  echo "$seg"
}

# Makes sure the live cluster accepts the backup's replication connection: regenerates
# pg_hba.conf/pg_ident.conf (write_hba, the same text as at start; nothing is written when
# they are current) and reloads the configuration if they changed.
allow_replication() {
  local changed port
  port=$(running_port)
  changed=$(write_hba "$PG_DATA")
  if [[ -n $changed ]]; then
    info "pg_hba.conf/pg_ident.conf updated (replication over the unix socket for OS user $PG_USER only); reloading"
    live_sql "SELECT pg_reload_conf()" >/dev/null
  fi
  for _ in $(seq 1 50); do
    if as_pg "$PGBIN/psql" -X -q -At \
        "host=$PG_RUN port=$port user=gx_super dbname=replication replication=true" \
        -c IDENTIFY_SYSTEM >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "the replication connection (gx_super over $PG_RUN, as OS user $PG_USER) is refused; see $PG_LOG"
}

json_str() { # json_str TEXT: TEXT as a JSON string (the texts here have no control characters)
  local t=${1//\\/\\\\}
  printf '"%s"' "${t//\"/\\\"}"
}

cmd_switch_wal() {
  require_binaries
  (( $# == 0 )) || die "switch-wal takes no arguments"
  is_running || die "not running (hub/services/postgres.sh start)"
  local seg t0; t0=$(now)
  seg=$(archive_wait)
  say "WAL switched; segment $seg is archived in $PG_ARCHIVE ($(since "$t0") s)"
}

cmd_backup() {
  require_binaries
  local label=""
  while (( $# )); do
    case $1 in
      --label) (( $# >= 2 )) || die "--label needs a value"; label=$2; shift 2 ;;
      *) die "backup: unknown argument '$1' (usage: backup [--label L])" ;;
    esac
  done
  [[ -z $label || $label =~ ^[A-Za-z0-9._-]{1,40}$ ]] \
    || die "--label: 1 to 40 characters of A-Z a-z 0-9 . _ -, got '$label'"
  is_running || die "the cluster is not running (hub/services/postgres.sh start): the base backup is taken from the running cluster"
  [[ -x $PGBIN/pg_basebackup ]] || die "pg_basebackup not found in $PGBIN"
  local port t0 started name final part
  port=$(running_port)
  t0=$(now)
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  allow_replication
  mkdir_owned 0700 "$BACKUP_DIR"
  name=$(date -u +%Y%m%dT%H%M%SZ)${label:+-$label}
  final=$BACKUP_DIR/$name
  part=$BACKUP_DIR/.$name.partial
  [[ ! -e $final ]] || die "$final exists already (two backups within one second?): try again"
  rm -rf -- "$part"
  mkdir_owned 0700 "$part"
  # A failed backup leaves nothing that looks like a backup.
  trap 'rm -rf -- "$part"' EXIT
  info "base backup of the cluster on port $port into $final"
  # Plain format, no WAL in the backup (-X none): the WAL comes from the archive. The
  # server waits until the backup's last WAL segment is archived before it answers.
  if ! as_pg "$PGBIN/pg_basebackup" -h "$PG_RUN" -p "$port" -U gx_super -w -D "$part/data" \
      -Fp -X none --checkpoint=fast --label "gxhub $name" >"$part/pg_basebackup.log" 2>&1; then
    cat -- "$part/pg_basebackup.log" >&2
    die "pg_basebackup failed (output above)"
  fi
  local start_lsn start_seg timeline end_lsn end_seg
  start_lsn=$(sed -n 's|^START WAL LOCATION: \([0-9A-F/]*\) (file [0-9A-F]*)$|\1|p' "$part/data/backup_label")
  start_seg=$(sed -n 's|^START WAL LOCATION: [0-9A-F/]* (file \([0-9A-F]*\))$|\1|p' "$part/data/backup_label")
  timeline=$(sed -n 's|^START TIMELINE: \([0-9]*\)$|\1|p' "$part/data/backup_label")
  end_lsn=$(grep -o '"End-LSN": "[0-9A-F/]*"' "$part/data/backup_manifest" | tail -n 1 | sed 's|.*: "\(.*\)"|\1|')
  [[ -n $start_lsn && -n $start_seg && -n $timeline && -n $end_lsn ]] \
    || die "cannot read the WAL range from $part/data/backup_label and backup_manifest"
  # Restorable only with every WAL segment up to the end of the backup in the archive.
  end_seg=$(archive_wait "$end_lsn")
  local size version version_num sysid finished
  size=$(du -sb -- "$part/data" | cut -f1)
  version=$(live_sql "SHOW server_version")
  version_num=$(live_sql "SHOW server_version_num")
  sysid=$(live_sql "SELECT system_identifier FROM pg_control_system()")
  finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  cat >"$part/manifest.json" <<EOF
{
  "format": "gxhub-base-backup-1",
  "name": $(json_str "$name"),
  "label": $(json_str "$label"),
  "started_at": "$started",
  "finished_at": "$finished",
  "seconds": $(since "$t0"),
  "start_lsn": "$start_lsn",
  "end_lsn": "$end_lsn",
  "timeline": $timeline,
  "start_wal_segment": "$start_seg",
  "end_wal_segment": "$end_seg",
  "postgresql_version": $(json_str "$version"),
  "server_version_num": $version_num,
  "system_identifier": "$sysid",
  "size_bytes": $size,
  "pg_basebackup": "plain format, -X none: WAL from the archive",
  "wal_archive": $(json_str "$PG_ARCHIVE"),
  "data": "data"
}
EOF
  chmod 0600 -- "$part/manifest.json" "$part/pg_basebackup.log"
  if (( EUID == 0 )); then chown "$PG_USER:" -- "$part/manifest.json" "$part/pg_basebackup.log"; fi
  mv -- "$part" "$final"
  trap - EXIT
  info "backup done in $(since "$t0") s: $(numfmt --to=iec --suffix=B "$size"), WAL $start_lsn .. $end_lsn (segments $start_seg .. $end_seg, archived)"
  echo "$final"
}

# manifest_field FILE KEY: a scalar value of manifest.json (one key per line).
manifest_field() {
  sed -n "s/^  \"$2\": \"\{0,1\}\([^\"]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1" | head -n 1
}

# Canonical absolute path (need not exist).
abs_path() { realpath -m -- "$1"; }

# is_within PATH DIR: PATH is DIR or below it.
is_within() { [[ $1 == "$2" || $1 == "$2"/* ]]; }

restored_pid() { # restored_pid DATADIR: the postmaster's pid if it runs on DATADIR
  local dir=$1 pid
  pid=$(sed -n 1p "$dir/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A stale PID file may name a reused pid: it must be a postgres on this data directory.
  [[ "$(readlink -f "/proc/$pid/cwd" 2>/dev/null)" == "$dir" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'postgres' || return 1
  echo "$pid"
}

restore_cleanup() {
  rm -rf -- "$RESTORE_SOCK"
  if (( RESTORE_MADE_TARGET )); then
    rm -rf -- "$RESTORE_TARGET"
  else
    find "$RESTORE_TARGET" -mindepth 1 -delete 2>/dev/null || true
  fi
}

cmd_restore() {
  require_binaries
  local backup="" target="" port="" time="" archive=$PG_ARCHIVE timeout=43200 pg_wal=""
  while (( $# )); do
    case $1 in
      --backup|--target-dir|--port|--time|--wal-archive|--timeout|--pg-wal)
        (( $# >= 2 )) || die "$1 needs a value"
        case $1 in
          --backup) backup=$2 ;;
          --target-dir) target=$2 ;;
          --port) port=$2 ;;
          --time) time=$2 ;;
          --wal-archive) archive=$2 ;;
          --timeout) timeout=$2 ;;
          --pg-wal) pg_wal=$2 ;;
        esac
        shift 2 ;;
      *) die "restore: unknown argument '$1' (see: $0 help)" ;;
    esac
  done
  [[ -n $backup && -n $target && -n $port ]] || die "restore needs --backup DIR --target-dir NEWDATA --port P"
  if ! [[ $port =~ ^[0-9]+$ ]] || (( 10#$port < 1024 || 10#$port > 65535 )); then
    die "--port must be a TCP port 1024-65535, got '$port'"
  fi
  port=$((10#$port))
  if ! [[ $timeout =~ ^[0-9]+$ ]] || (( 10#$timeout == 0 )); then
    die "--timeout must be a number of seconds"
  fi
  if [[ -n $time ]]; then
    # The zone is required: a restore to 09:00 meant in JST but read as UTC is 9 h off.
    [[ $time =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}[\ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$ ]] \
      || die "--time must be 'YYYY-MM-DD HH:MM:SS+ZZ' with the zone (e.g. '2026-04-01 09:30:00+09' or +00), got '$time'"
    date -d "$time" +%s >/dev/null 2>&1 || die "--time '$time' is not a valid time"
  fi

  # The backup: the directory made by "backup" (manifest.json, data/) or a plain
  # pg_basebackup directory.
  [[ -d $backup ]] || die "no backup directory $backup"
  backup=$(abs_path "$backup")
  local src=$backup/data manifest=$backup/manifest.json
  [[ -f $src/backup_label ]] || { src=$backup; manifest=""; }
  [[ -f $src/backup_label && -f $src/PG_VERSION ]] \
    || die "$backup is not a base backup (no backup_label and PG_VERSION in it or in its data/)"
  [[ "$(<"$src/PG_VERSION")" == 15 ]] || die "$backup is a backup of PostgreSQL $(<"$src/PG_VERSION"), not 15"
  if [[ -n $time && -n $manifest && -f $manifest ]]; then
    local started; started=$(manifest_field "$manifest" started_at)
    if [[ -n $started ]] && (( $(date -d "$time" +%s) < $(date -d "$started" +%s) )); then
      die "--time $time is before this backup was taken ($started): restore from an older backup"
    fi
  fi
  [[ -d $archive ]] || die "no WAL archive $archive"
  archive=$(abs_path "$archive")
  if [[ -n $pg_wal ]]; then
    [[ -d $pg_wal ]] || die "--pg-wal: no directory $pg_wal"
    pg_wal=$(abs_path "$pg_wal")
    if [[ $pg_wal == "$(abs_path "$PG_DATA")/pg_wal" ]] && is_running; then
      info "warning: --pg-wal is the pg_wal of the RUNNING live cluster: its last segment is still being written"
    fi
  fi

  # The target: a new, empty directory, never the live cluster's data nor inside any
  # cluster, backup or archive.
  target=$(abs_path "$target")
  [[ $target != *[\'\"\\\$\`\ ]* && $archive != *[\'\"\\\$\`\ ]* ]] \
    || die "--target-dir and the WAL archive must not contain quotes, spaces, \\, \$ or \`"
  local live; live=$(abs_path "$PG_DATA")
  if [[ $target == "$live" ]] && is_running; then
    die "$target is the data directory of the running live cluster: never restore over it (see docs/backup-restore.md)"
  fi
  [[ $target == "$live"/* ]] && die "$target is inside the live data directory $live"
  is_within "$target" "$archive" && die "$target is inside the WAL archive $archive"
  is_within "$target" "$backup" && die "$target is inside the backup $backup"
  if [[ -e $target ]]; then
    [[ -d $target ]] || die "$target exists and is not a directory"
    [[ -z "$(ls -A -- "$target")" ]] || die "$target is not empty: restore builds a NEW data directory"
  fi
  local d=$target
  while d=$(dirname -- "$d"); [[ $d != / ]]; do
    [[ ! -f $d/PG_VERSION ]] || die "$target would be inside the cluster data directory $d"
  done
  local parent base sock log
  parent=$(dirname -- "$target")
  base=$(basename -- "$target")
  sock=$parent/$base.run
  log=$parent/$base.log
  (( ${#sock} + 20 <= 107 )) || die "socket path too long ($sock): choose a shorter --target-dir"
  port_in_use "$port" && die "port $port is in use: $(ss -Hltnp "sport = :$port" | head -n 1)"
  if [[ -e $sock/.s.PGSQL.$port ]]; then
    die "$sock/.s.PGSQL.$port exists: is a restored cluster still running there? (restore-stop --target-dir $target)"
  fi

  local t0 t_copy t_start; t0=$(now)
  mkdir_root "$parent"
  check_traverse "$parent"
  # Until the server starts, a failure removes what this restore made (afterwards the
  # data directory stays, for the log and restore-stop).
  RESTORE_TARGET=$target RESTORE_SOCK=$sock RESTORE_MADE_TARGET=0
  [[ -e $target ]] || RESTORE_MADE_TARGET=1
  trap restore_cleanup EXIT
  mkdir_owned 0700 "$target"
  mkdir_owned 0700 "$sock"

  # 1. Check the backup against its manifest (and its WAL range in the archive), copy it.
  if [[ -f $src/backup_manifest ]]; then
    info "verifying $src against its backup_manifest and the WAL archive"
    as_pg "$PGBIN/pg_verifybackup" -q -w "$archive" "$src" >&2 \
      || die "pg_verifybackup found the backup or its WAL incomplete or damaged (see above); nothing was restored"
  else
    info "warning: $src has no backup_manifest: not verified"
  fi
  info "copying $src to $target"
  as_pg cp -a -- "$src/." "$target/" || die "copying the backup to $target failed"
  rm -f -- "$target/backup_manifest" "$target/postmaster.pid" "$target/postmaster.opts"
  if [[ -n $pg_wal ]]; then
    # WAL that never reached the archive (the segment being written when the cluster
    # failed): recovery reads pg_wal for what the archive does not have.
    local n
    n=$(find "$pg_wal" -maxdepth 1 -regextype posix-extended -type f \( -regex '.*/[0-9A-F]{24}' -o -name '*.history' \) | wc -l)
    info "copying $n WAL file(s) from $pg_wal into $target/pg_wal"
    find "$pg_wal" -maxdepth 1 -regextype posix-extended -type f \( -regex '.*/[0-9A-F]{24}' -o -name '*.history' \) -print0 \
      | as_pg xargs -0 -r cp -p -t "$target/pg_wal/" \
      || die "copying WAL from $pg_wal failed"
  fi
  t_copy=$(since "$t0")

  # 2. Settings of the restored copy, last in gxhub.conf so that they win over the live
  #    settings copied with it. "postgres.sh start" rewrites gxhub.conf, so they do not
  #    outlive a restore made to replace the live cluster. Settings the recovery depends
  #    on are taken out of postgresql.auto.conf (ALTER SYSTEM) in the copy.
  local segsize
  segsize=$(as_pg "$PGBIN/pg_controldata" -D "$target" | sed -n 's/^Bytes per WAL segment: *\([0-9]*\)$/\1/p')
  [[ $segsize =~ ^[0-9]+$ ]] || die "cannot read the WAL segment size from the backup's pg_control"
  if ! grep -qxF "include 'gxhub.conf'" "$target/postgresql.conf"; then
    printf "\n# Settings of the GX hub (hub/services/postgres.sh)\ninclude 'gxhub.conf'\n" >>"$target/postgresql.conf"
  fi
  if [[ -f $target/postgresql.auto.conf ]]; then
    sed -i -E '/^[[:space:]]*(port|listen_addresses|unix_socket_directories|archive_mode|archive_command|archive_library|restore_command|recovery_target[a-z_]*|primary_conninfo|primary_slot_name|cluster_name)[[:space:]]*=/d' \
      "$target/postgresql.auto.conf"
  fi
  local target_lines
  if [[ -n $time ]]; then
    target_lines="recovery_target_time = '$time'
recovery_target_inclusive = on"
  else
    target_lines="# no recovery target: replay to the end of the WAL archive (the latest point)"
  fi
  [[ -f $target/gxhub.conf ]] || : >"$target/gxhub.conf"
  cat >>"$target/gxhub.conf" <<EOF

# ---- Restored copy: written by hub/services/postgres.sh restore on $(date -u +%Y-%m-%dT%H:%M:%SZ) ----
# from $backup
# "hub/services/postgres.sh start" rewrites this file with the live settings.
cluster_name = 'gxhub-restored'
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
# Never archive into the live cluster's archive.
archive_mode = off
archive_command = ''
# Reads the archive, never writes it. A segment of the wrong size (still being copied
# by the live archiver) counts as the end of the archive.
restore_command = 'f="$archive/%f"; test -f "\$f" || exit 1; case "%f" in ????????????????????????) test "\$(stat -c %%s "\$f")" = $segsize || { echo "restore_command: \$f is incomplete, taken as the end of the archive" >&2; exit 1; } ;; esac; cp "\$f" "%p"'
$target_lines
recovery_target_action = 'promote'
recovery_target_timeline = 'latest'
EOF
  : >"$target/recovery.signal"
  if (( EUID == 0 )); then chown "$PG_USER:" -- "$target/gxhub.conf" "$target/recovery.signal" "$target/postgresql.conf"; fi
  chmod 0600 -- "$target/gxhub.conf" "$target/recovery.signal"

  # 3. Start it; it replays the archive, then promotes itself.
  : >>"$log"
  if (( EUID == 0 )); then chown "$PG_USER:" -- "$log"; fi
  local log_offset; log_offset=$(stat -c %s -- "$log")
  info "starting the restored cluster on 127.0.0.1:$port (log $log); replaying WAL from $archive"
  t_start=$(now)
  trap - EXIT
  if ! as_pg setsid -w "$PGBIN/pg_ctl" start -D "$target" -w -t "$timeout" -l "$log" \
      </dev/null >"$parent/$base.pg_ctl.out" 2>&1; then
    cat -- "$parent/$base.pg_ctl.out" >&2 2>/dev/null || true
    echo "---- last 30 lines of $log ----" >&2
    tail -c +"$((log_offset + 1))" -- "$log" | tail -n 30 >&2
    die "the restored cluster did not start (it may still be running: restore-stop --target-dir $target)"
  fi
  local deadline=$(( SECONDS + timeout )) state pid
  while :; do
    state=$(as_pg "$PGBIN/psql" -X -q -At -h "$sock" -p "$port" -U gx_super -d postgres \
              -c "SELECT pg_is_in_recovery()" 2>/dev/null || true)
    [[ $state == f ]] && break
    if ! restored_pid "$target" >/dev/null; then
      echo "---- last 30 lines of $log ----" >&2
      tail -c +"$((log_offset + 1))" -- "$log" | tail -n 30 >&2
      die "the restored cluster stopped during recovery (log above)"
    fi
    (( SECONDS < deadline )) || die "recovery did not finish within $timeout s (still running: restore-stop --target-dir $target)"
    sleep 0.2
  done
  local t_replay total
  t_replay=$(since "$t_start")
  total=$(since "$t0")
  pid=$(restored_pid "$target")
  local recovered
  recovered=$(tail -c +"$((log_offset + 1))" -- "$log" \
    | grep -E 'recovery stopping|last completed transaction was at log time|redo done at' \
    | sed -E 's/^[^]]*\] +//; s/^[^ ]*@[^ ]* +//' || true)
  cat <<EOF
postgres: restore done in $total s (verify and copy $t_copy s, WAL replay to promotion $t_replay s)
  backup           : $backup
  recovered to     : ${time:-the end of the WAL archive (latest point)}
$(while IFS= read -r l; do [[ -n $l ]] && echo "  server log       : $l"; done <<<"$recovered")
  data directory   : $target  ($(numfmt --to=iec --suffix=B "$(du -sb -- "$target" | cut -f1)"))
  pid              : $pid
  connect          : host=127.0.0.1 port=$port dbname=gxhub (the roles and passwords of the backup's time)
  unix socket      : $sock (as OS user $PG_USER)
  log              : $log
  stop it          : $0 restore-stop --target-dir $target
EOF
}

cmd_restore_stop() {
  local target=""
  while (( $# )); do
    case $1 in
      --target-dir) (( $# >= 2 )) || die "--target-dir needs a value"; target=$2; shift 2 ;;
      *) die "restore-stop: unknown argument '$1' (usage: restore-stop --target-dir NEWDATA)" ;;
    esac
  done
  [[ -n $target ]] || die "restore-stop needs --target-dir NEWDATA"
  target=$(abs_path "$target")
  [[ $target != "$(abs_path "$PG_DATA")" ]] \
    || die "$target is the live data directory: use 'hub/services/postgres.sh stop'"
  local pid
  if ! pid=$(restored_pid "$target"); then
    say "no restored cluster runs on $target"
    return 0
  fi
  # SIGINT = fast shutdown; after 60 s SIGQUIT = immediate shutdown.
  kill -INT "$pid"
  local deadline=$(( SECONDS + 60 ))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "postgres: warning: pid $pid still running after 60 s; immediate shutdown" >&2
    kill -QUIT "$pid" 2>/dev/null || true
    deadline=$(( SECONDS + 30 ))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "pid $pid did not stop"
  fi
  say "restored cluster on $target (pid $pid) stopped"
}

usage() {
  cat <<EOF
usage: $0 start|stop|status|psql [psql args...]
       $0 backup [--label L] | switch-wal
       $0 restore --backup DIR --target-dir NEWDATA --port P [--time T] [--wal-archive DIR] [--timeout S]
       $0 restore-stop --target-dir NEWDATA
  start         initialise (first time), start and provision the private cluster
  stop          fast shutdown (fine if not running)
  status        exit 0 and print pid/port if running, exit 1 otherwise
  psql          psql as gx_super over the unix socket (database gxhub unless -d is given)
  backup        base backup of the running cluster into \$HUB_VAR/backups/<UTC time>[-L]/
                (data/ + manifest.json); prints the backup's path
  switch-wal    close the current WAL segment and wait until it is archived
  restore       build a NEW data directory from a backup, replay the WAL archive to the
                end (latest point) or to --time 'YYYY-MM-DD HH:MM:SS+ZZ', start it on
                127.0.0.1:P (socket in NEWDATA.run, log NEWDATA.log), wait until promoted
  restore-stop  stop a restored cluster (by the PID in NEWDATA/postmaster.pid)
Environment: HUB_VAR (default $REPO/var), HUB_DB_PORT (default 55432)
See docs/backup-restore.md.
EOF
}

case ${1:-} in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  psql)   shift; cmd_psql "$@" ;;
  backup) shift; cmd_backup "$@" ;;
  switch-wal)   shift; cmd_switch_wal "$@" ;;
  restore)      shift; cmd_restore "$@" ;;
  restore-stop) shift; cmd_restore_stop "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
