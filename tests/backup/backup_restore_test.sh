#!/usr/bin/env bash
# Backup and restore of the private PostgreSQL cluster (docs/backup-restore.md), against
# the running cluster (CTest fixture "services"):
#   a scratch ledger database -> base backup -> more postings -> time T -> more postings
#   -> restore (a) to the latest point and (b) to T into temporary directories on free
#   ports, and compare balances and the journal's hash chain with what the live cluster
#   held. The live cluster is only read (and given a WAL switch); it keeps running.
# Exit 0 only when every check passes. Everything it made is removed on exit.
set -euo pipefail

ROOT=${HUB_SOURCE_ROOT:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)}
HUB_VAR=${HUB_VAR:-$ROOT/var}
[[ $HUB_VAR == /* ]] || HUB_VAR=$PWD/$HUB_VAR
export HUB_VAR
HUB_DB_PORT=${HUB_DB_PORT:-55432}
export HUB_DB_PORT
PG=$ROOT/hub/services/postgres.sh
PSQL=/usr/lib/postgresql/15/bin/psql
MIGRATIONS=$ROOT/hub/db/migrations
unset PGSERVICE PGSERVICEFILE PGOPTIONS PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD
export PGCONNECT_TIMEOUT=10

say() { echo "backup-test: $*"; }
fatal() { echo "backup-test: FATAL: $*" >&2; exit 1; }

CHECKS=0
FAILED=0
check() { # check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the outcome
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then
    echo "  ok   $what"
  else
    echo "  FAIL $what"
    FAILED=$((FAILED + 1))
  fi
}
same_file() { # same_file A B: identical, else the first differences on stderr
  if cmp -s -- "$1" "$2"; then return 0; fi
  diff -u -- "$1" "$2" | head -n 20 >&2 || true
  return 1
}
equals() { [[ $1 == "$2" ]] || { echo "    expected '$2', got '$1'" >&2; return 1; }; }
positive() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 > 0 )); }
differ() { ! cmp -s -- "$1" "$2"; }

# ---- preconditions -----------------------------------------------------------------
[[ -x $PSQL ]] || fatal "psql not found at $PSQL (run ./gxhub setup)"
"$PG" status >/dev/null || fatal "the private PostgreSQL cluster is not running: ./gxhub services start"
[[ -r $HUB_VAR/secrets/pg_owner.password && -r $HUB_VAR/secrets/pg_app.password ]] \
  || fatal "no passwords in $HUB_VAR/secrets (./gxhub services start)"
OWNER_PW=$(<"$HUB_VAR/secrets/pg_owner.password")
APP_PW=$(<"$HUB_VAR/secrets/pg_app.password")
LIVE_PID=$(sed -n 1p "$HUB_VAR/pg/data/postmaster.pid")
ARCHIVE=$HUB_VAR/pg/wal-archive

DB=backup_test_$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d /tmp/gxhub-backup-test.XXXXXX)
chmod 0711 "$WORK"  # the cluster owner (postgres) must reach the restored directories
BACKUP=""
RESTORED=()

cleanup() {
  local rc=$?
  set +e
  local d
  for d in "${RESTORED[@]}"; do "$PG" restore-stop --target-dir "$d" >/dev/null; done
  rm -rf -- "$WORK"
  [[ -n $BACKUP && $BACKUP == "$HUB_VAR/backups/"* ]] && rm -rf -- "$BACKUP"
  PGPASSWORD=$OWNER_PW "$PSQL" -X -q -h 127.0.0.1 -p "$HUB_DB_PORT" -U gx_owner -d postgres \
    -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# sql ROLE PORT DB SQL: one psql call over TCP as gx_owner or gx_app; unaligned output.
sql() {
  local role=$1 port=$2 db=$3 pw
  shift 3
  [[ $role == gx_app ]] && pw=$APP_PW || pw=$OWNER_PW
  PGPASSWORD=$pw "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$role" -d "$db" -c "$*"
}
live_owner() { sql gx_owner "$HUB_DB_PORT" "$DB" "$@"; }
live_app() { sql gx_app "$HUB_DB_PORT" "$DB" "$@"; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 40000 + RANDOM % 20000 ))
    [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]] && { echo "$p"; return 0; }
  done
  fatal "no free TCP port found"
}

BALANCES_SQL="SELECT a.account_number, b.unit_type, b.vintage, b.quantity FROM balances b
  JOIN accounts a USING (account_id) ORDER BY a.account_number, b.unit_type, b.vintage"
JOURNAL_SQL="SELECT (SELECT count(*) FROM journal_entries), (SELECT max(entry_id) FROM journal_entries),
  (SELECT count(*) FROM journal_chain), (SELECT count(*) FROM journal_unsealed),
  (SELECT chain_hash FROM journal_chain ORDER BY seq DESC LIMIT 1)"

# The ledger checks 1-5 of registry/ledger/src/ledger.cpp (Ledger::verify), each
# counting the rows that break it.
VERIFY_NAMES=("1 entry hashes recompute" "2 hash chain links recompute" "2 every entry chained or waiting"
              "3 balances = sum of journal lines" "4 entries balance (double entry)" "5 no negative balance")
VERIFY_SQL=(
"SELECT count(*) FROM (
   WITH l AS (SELECT l.entry_id, string_agg(concat_ws(',', l.line_no, a.account_number, l.unit_type, l.vintage,
                     l.delta), ';' ORDER BY l.line_no) AS t
                FROM journal_lines l JOIN accounts a USING (account_id) GROUP BY l.entry_id),
        s AS (SELECT s.entry_id, string_agg(concat_ws(',', s.serial_prefix, s.serial_first, s.serial_last,
                     s.digits, a.account_number, s.unit_type, s.vintage), ';'
                     ORDER BY s.serial_prefix, s.serial_first) AS t
                FROM serial_blocks s JOIN accounts a USING (account_id) GROUP BY s.entry_id)
   SELECT e.entry_id FROM journal_entries e LEFT JOIN l USING (entry_id) LEFT JOIN s USING (entry_id)
    WHERE e.entry_hash <> gx_entry_digest(e.entry_id, e.kind, e.idempotency_key, e.request_sha256, e.cause_type,
          e.cause_ref, e.reason, e.approved_by, e.reverses_entry, e.posted_at, l.t, s.t)) x"
"SELECT count(*) FROM (
   SELECT c.seq, CASE
     WHEN e.entry_id IS NULL THEN 'links an entry that does not exist'
     WHEN c.seq <> row_number() OVER w THEN 'a link is missing before it'
     WHEN c.prev_hash <> coalesce(lag(c.chain_hash) OVER w, repeat('0', 64)) THEN 'previous hash mismatch'
     WHEN c.chain_hash <> encode(sha256(convert_to(c.prev_hash || e.entry_hash, 'UTF8')), 'hex') THEN 'chain hash mismatch'
     END AS problem
   FROM journal_chain c LEFT JOIN journal_entries e USING (entry_id) WINDOW w AS (ORDER BY c.seq)) x
 WHERE problem IS NOT NULL"
"SELECT count(*) FROM journal_entries e
  WHERE NOT EXISTS (SELECT 1 FROM journal_chain c WHERE c.entry_id = e.entry_id)
    AND NOT EXISTS (SELECT 1 FROM journal_unsealed u WHERE u.entry_id = e.entry_id)"
"SELECT count(*) FROM (
   WITH j AS (SELECT account_id, unit_type, vintage, sum(delta) AS q FROM journal_lines GROUP BY 1, 2, 3)
   SELECT 1 FROM j FULL JOIN balances b USING (account_id, unit_type, vintage)
    WHERE coalesce(j.q, 0) <> coalesce(b.quantity, 0)) x"
"SELECT count(*) FROM (
   SELECT l.entry_id FROM journal_lines l JOIN journal_entries e USING (entry_id) WHERE e.kind <> 'issuance'
    GROUP BY l.entry_id, l.unit_type, l.vintage HAVING sum(l.delta) <> 0) x"
"SELECT count(*) FROM balances b WHERE b.quantity < 0 AND b.account_type NOT IN (400, 900)"
)
verify_ledger() { # verify_ledger PORT LABEL: the checks above on the restored scratch database
  local port=$1 label=$2 i n
  for i in "${!VERIFY_SQL[@]}"; do
    n=$(sql gx_owner "$port" "$DB" "${VERIFY_SQL[$i]}")
    check "$label: ledger check ${VERIFY_NAMES[$i]} ($n breaks)" equals "$n" 0
  done
}

# post_transfers PREFIX COUNT: COUNT transfers as gx_app through gx_post, one commit each.
post_transfers() {
  live_app "DO \$\$
DECLARE
  acc text[] := ARRAY(SELECT account_number FROM accounts WHERE account_type = 100 ORDER BY account_id);
  n integer := cardinality(acc);
  r record;
  f integer; t integer; k text; lines jsonb;
BEGIN
  FOR i IN 1..$2 LOOP
    f := 1 + (i * 7 + length('$1')) % n;
    t := 1 + (f + i % (n - 1)) % n;
    k := '$1-' || i;
    lines := jsonb_build_array(
      jsonb_build_object('account', acc[f], 'unit', 'GXA', 'vintage', 2026, 'delta', -(1 + i % 50)),
      jsonb_build_object('account', acc[t], 'unit', 'GXA', 'vintage', 2026, 'delta', 1 + i % 50));
    SELECT * INTO r FROM gx_post(k, md5(k || lines::text), 'transfer', 'user', 'backup-test', '', '', NULL, lines);
    IF r.outcome <> 'posted' THEN
      RAISE EXCEPTION 'transfer % not posted: % % %', k, r.outcome, r.check_code, r.detail;
    END IF;
    COMMIT;
  END LOOP;
END \$\$"
}
seal() { while [[ "$(live_app "SELECT gx_seal_journal()")" != 0 ]]; do :; done; }

# restore_to NAME [--time T]: restores the backup into $WORK/NAME on a free port; sets
# R_PORT, R_DIR and R_SECONDS.
restore_to() {
  local name=$1; shift
  R_DIR=$WORK/$name
  R_PORT=$(free_port)
  RESTORED+=("$R_DIR")
  local out
  if ! out=$("$PG" restore --backup "$BACKUP" --target-dir "$R_DIR" --port "$R_PORT" --timeout 600 "$@" 2>&1); then
    echo "$out" >&2
    [[ -f $R_DIR.log ]] && { echo "---- $R_DIR.log ----" >&2; tail -n 30 "$R_DIR.log" >&2; }
    fatal "restore $name failed"
  fi
  while IFS= read -r l; do echo "    | $l"; done <<<"$out"
  R_SECONDS=$(sed -n 's/^postgres: restore done in \([0-9.]*\) s.*/\1/p' <<<"$out")
}

# ---- 1. a scratch ledger ---------------------------------------------------------------
say "scratch database $DB on 127.0.0.1:$HUB_DB_PORT (live cluster pid $LIVE_PID), work dir $WORK"
sql gx_owner "$HUB_DB_PORT" postgres "CREATE DATABASE $DB TEMPLATE template0 ENCODING 'UTF8'"
# The migration files are not standalone: 0001 grants on schema_migrations, which hubd's
# migration runner creates (hub/db/src/migrations.cpp). Same table, same bookkeeping.
live_owner "CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  sha256     text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL DEFAULT current_user)"
for f in "$MIGRATIONS"/[0-9][0-9][0-9][0-9]_*.sql; do
  name=$(basename "$f" .sql)
  PGPASSWORD=$OWNER_PW "$PSQL" -X -q -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$HUB_DB_PORT" -U gx_owner -d "$DB" \
    -f "$f" >/dev/null || fatal "migration $name failed"
  live_owner "INSERT INTO schema_migrations (version, name, sha256)
              VALUES (${name%%_*}, '$name', '$(sha256sum "$f" | cut -d' ' -f1)')"
done
say "schema applied as gx_owner: $(live_owner "SELECT string_agg(name, ', ' ORDER BY version) FROM schema_migrations")"

live_app "SELECT gx_create_company('7000012050002', 'GX推進機構', 'organization', 'backup-test'),
                 gx_create_company('7123456789012', '株式会社サンプル製鉄', 'covered', 'backup-test')" >/dev/null
live_app "SELECT gx_open_account(200::smallint, '7000012050002', '発行口座', 'backup-test')" >/dev/null
live_app "SELECT gx_open_account(100::smallint, '7123456789012', '保有口座 ' || i, 'backup-test')
            FROM generate_series(1, 12) i" >/dev/null
live_app "DO \$\$
DECLARE
  iss text := (SELECT account_number FROM accounts WHERE account_type = 200);
  r record; k text; lines jsonb; a text;
BEGIN
  k := 'bt-issue-2026';
  lines := jsonb_build_array(jsonb_build_object('account', iss, 'unit', 'GXA', 'vintage', 2026, 'delta', 1200000));
  -- Issuance needs four eyes: proposed by alice (cause), approved by bob.
  SELECT * INTO r FROM gx_post(k, md5(k), 'issuance', 'user', 'alice', '', 'bob', NULL, lines);
  IF r.outcome <> 'posted' THEN RAISE EXCEPTION 'issuance: % % %', r.outcome, r.check_code, r.detail; END IF;
  COMMIT;
  FOR a IN SELECT account_number FROM accounts WHERE account_type = 100 ORDER BY account_id LOOP
    k := 'bt-alloc-' || a;
    lines := jsonb_build_array(
      jsonb_build_object('account', iss, 'unit', 'GXA', 'vintage', 2026, 'delta', -100000),
      jsonb_build_object('account', a, 'unit', 'GXA', 'vintage', 2026, 'delta', 100000));
    SELECT * INTO r FROM gx_post(k, md5(k), 'allocation', 'user', 'alice', '', '', NULL, lines);
    IF r.outcome <> 'posted' THEN RAISE EXCEPTION 'allocation: % % %', r.outcome, r.check_code, r.detail; END IF;
    COMMIT;
  END LOOP;
END \$\$"
post_transfers bt-a 50
seal
say "before the backup: $(live_owner "SELECT count(*) FROM journal_entries") journal entries, sealed"

# ---- 2. base backup -----------------------------------------------------------------------
BACKUP=$("$PG" backup --label backup-test) || fatal "backup failed"
say "backup: $BACKUP"
check "backup has data/, backup_label and manifest.json" \
  test -f "$BACKUP/data/backup_label" -a -f "$BACKUP/manifest.json"
check "manifest.json names the end LSN, the PostgreSQL version and the size" \
  grep -q '"end_lsn": "[0-9A-F]*/[0-9A-F]*"' "$BACKUP/manifest.json"

# ---- 3. postings after the backup, time T between two batches ---------------------------
post_transfers bt-b 100
seal
sleep 1.2
T=$(live_owner "SELECT to_char(date_trunc('second', clock_timestamp()) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
live_owner "$BALANCES_SQL" >"$WORK/balances_T.txt"
live_owner "$JOURNAL_SQL" >"$WORK/journal_T.txt"
# Nothing of the next batch may commit within T's second.
until [[ "$(live_owner "SELECT clock_timestamp() >= '$T'::timestamptz + interval '1.2 s'")" == t ]]; do sleep 0.2; done
post_transfers bt-c 100
seal
live_owner "$BALANCES_SQL" >"$WORK/balances_latest.txt"
live_owner "$JOURNAL_SQL" >"$WORK/journal_latest.txt"
say "T = $T: journal at T $(cut -d'|' -f1 "$WORK/journal_T.txt") entries, latest $(cut -d'|' -f1 "$WORK/journal_latest.txt")"
check "the postings after T changed the balances (so the two restores are distinguishable)" \
  differ "$WORK/balances_T.txt" "$WORK/balances_latest.txt"
# WAL and history files of other timelines than the live one (restored copies promote
# to a new timeline; none of it may reach the live archive).
LIVE_TLI=$(printf '%08X' "$(live_owner "SELECT timeline_id FROM pg_control_checkpoint()")")
other_timelines() { find "$ARCHIVE" -maxdepth 1 -type f ! -name "$LIVE_TLI*" ! -name ".*" -printf '%f\n' | sort; }
other_timelines >"$WORK/archive_other_before.txt"
"$PG" switch-wal

# ---- 4a. restore to the latest point --------------------------------------------------------
say "restore (a): to the latest point"
restore_to latest
LATEST_SECONDS=$R_SECONDS
check "(a) restored cluster promoted (not in recovery)" equals "$(sql gx_owner "$R_PORT" "$DB" "SELECT pg_is_in_recovery()")" f
check "(a) archive_mode is off on the restored copy" equals "$(sql gx_owner "$R_PORT" "$DB" "SHOW archive_mode")" off
check "(a) listens on 127.0.0.1 only" equals "$(sql gx_owner "$R_PORT" "$DB" "SHOW listen_addresses")" 127.0.0.1
sql gx_owner "$R_PORT" "$DB" "$BALANCES_SQL" >"$WORK/balances_a.txt"
sql gx_owner "$R_PORT" "$DB" "$JOURNAL_SQL" >"$WORK/journal_a.txt"
check "(a) balances identical to the live cluster ($(wc -l <"$WORK/balances_latest.txt") rows)" \
  same_file "$WORK/balances_latest.txt" "$WORK/balances_a.txt"
check "(a) journal entries, chain length and last chain hash identical to the live cluster" \
  same_file "$WORK/journal_latest.txt" "$WORK/journal_a.txt"
verify_ledger "$R_PORT" "(a)"
# Negative control: the checks are not vacuous. Alter one journal line in the restored
# copy (never the live one) and the entry hash and balance checks must see it.
sql gx_owner "$R_PORT" "$DB" "ALTER TABLE journal_lines DISABLE TRIGGER USER;
  UPDATE journal_lines SET delta = delta + 1 WHERE (entry_id, line_no) = (SELECT max(entry_id), 2 FROM journal_lines)"
check "(a) negative control: an altered journal line breaks check 1" \
  positive "$(sql gx_owner "$R_PORT" "$DB" "${VERIFY_SQL[0]}")"
check "(a) negative control: an altered journal line breaks check 3" \
  positive "$(sql gx_owner "$R_PORT" "$DB" "${VERIFY_SQL[3]}")"
"$PG" restore-stop --target-dir "$R_DIR" >/dev/null
check "(a) restore-stop stopped it" test ! -f "$R_DIR/postmaster.pid"

# ---- 4b. restore to time T --------------------------------------------------------------------
say "restore (b): to T = $T"
restore_to pitr --time "$T"
PITR_SECONDS=$R_SECONDS
check "(b) restored cluster promoted (not in recovery)" equals "$(sql gx_owner "$R_PORT" "$DB" "SELECT pg_is_in_recovery()")" f
sql gx_owner "$R_PORT" "$DB" "$BALANCES_SQL" >"$WORK/balances_b.txt"
sql gx_owner "$R_PORT" "$DB" "$JOURNAL_SQL" >"$WORK/journal_b.txt"
check "(b) balances identical to those recorded at T" same_file "$WORK/balances_T.txt" "$WORK/balances_b.txt"
check "(b) journal entries, chain length and last chain hash as at T" same_file "$WORK/journal_T.txt" "$WORK/journal_b.txt"
check "(b) none of the postings made after T is there" \
  equals "$(sql gx_owner "$R_PORT" "$DB" "SELECT count(*) FROM journal_entries WHERE idempotency_key LIKE 'bt-c-%'")" 0
verify_ledger "$R_PORT" "(b)"
"$PG" restore-stop --target-dir "$R_DIR" >/dev/null
check "(b) restore-stop stopped it" test ! -f "$R_DIR/postmaster.pid"

# ---- 5. the live cluster is untouched -------------------------------------------------------
check "live cluster still running with the same pid ($LIVE_PID)" \
  equals "$(sed -n 1p "$HUB_VAR/pg/data/postmaster.pid")" "$LIVE_PID"
check "live cluster is not in recovery" equals "$(live_owner "SELECT pg_is_in_recovery()")" f
live_owner "$BALANCES_SQL" >"$WORK/balances_after.txt"
check "live scratch ledger unchanged by the restores" same_file "$WORK/balances_latest.txt" "$WORK/balances_after.txt"
other_timelines >"$WORK/archive_other_after.txt"
check "nothing of the restored copies' new timelines reached the live WAL archive" \
  same_file "$WORK/archive_other_before.txt" "$WORK/archive_other_after.txt"

echo
say "restore to the latest point: ${LATEST_SECONDS:-?} s; to T: ${PITR_SECONDS:-?} s (backup $(grep -o '"size_bytes": [0-9]*' "$BACKUP/manifest.json" | grep -o '[0-9]*$') bytes)"
if (( FAILED > 0 )); then
  say "FAILED: $FAILED of $CHECKS checks"
  exit 1
fi
say "PASSED: all $CHECKS checks"
