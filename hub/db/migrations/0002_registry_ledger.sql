-- 0002: the allowance registry ledger (../shared/specs/domain.md).
--
-- The rules that must always hold are enforced here, by the database, whatever code
-- runs: check digits of corporate and account numbers, account types and states,
-- balances that never go negative (but for the counter-side accounts 400 and 900), serial
-- ranges that never overlap any range ever credited, and a journal that cannot be
-- changed. The working role gx_app cannot write any ledger table directly: every change
-- goes through the SECURITY DEFINER functions below (gx_post is the posting engine's
-- only way to change a balance).

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- ---- check digits -----------------------------------------------------------------
-- Luhn check digit of a string of digits (the digit that would be appended).
CREATE FUNCTION gx_luhn_digit(digits text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  s integer := 0;
  d integer;
  dbl boolean := true;  -- the rightmost payload digit is doubled
BEGIN
  FOR i IN REVERSE length(digits)..1 LOOP
    d := substr(digits, i, 1)::integer;
    IF dbl THEN
      d := d * 2;
      IF d > 9 THEN d := d - 9; END IF;
    END IF;
    s := s + d;
    dbl := NOT dbl;
  END LOOP;
  RETURN (10 - s % 10) % 10;
END $$;

-- JP-GX-{type}-{7 digits}, the 7th digit the Luhn check digit of the first six.
CREATE FUNCTION gx_account_number_valid(n text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT n ~ '^JP-GX-(100|200|300|400|900)-[0-9]{7}$'
     AND gx_luhn_digit(substr(n, 11, 6)) = substr(n, 17, 1)::integer
$$;

-- Corporate Number (法人番号): 13 digits, the first is the check digit:
-- 9 - (sum of the 12 base digits x weight (1 at odd, 2 at even positions from the right)) mod 9.
CREATE FUNCTION gx_corporate_number_valid(n text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  s integer := 0;
BEGIN
  IF n !~ '^[0-9]{13}$' THEN RETURN false; END IF;
  FOR i IN 1..12 LOOP  -- i counts from the rightmost digit
    s := s + substr(n, 14 - i, 1)::integer * (CASE WHEN i % 2 = 1 THEN 1 ELSE 2 END);
  END LOOP;
  RETURN substr(n, 1, 1)::integer = 9 - (s % 9);
END $$;

-- ---- parties and accounts -----------------------------------------------------------
CREATE TABLE companies (
  corporate_number text PRIMARY KEY
    CONSTRAINT corporate_number_check_digit CHECK (gx_corporate_number_valid(corporate_number)),
  name       text NOT NULL CHECK (length(btrim(name)) > 0),
  kind       text NOT NULL CHECK (kind IN ('covered', 'participant', 'government', 'organization')),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL
);

CREATE TABLE accounts (
  account_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_number text NOT NULL UNIQUE
    CONSTRAINT account_number_check_digit CHECK (gx_account_number_valid(account_number)),
  account_type   smallint NOT NULL CHECK (account_type IN (100, 200, 300, 400, 900)),
  holder         text NOT NULL REFERENCES companies (corporate_number),
  name           text NOT NULL DEFAULT '',
  state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'blocked', 'closed')),
  opened_at      timestamptz NOT NULL DEFAULT now(),
  opened_by      text NOT NULL,
  CONSTRAINT account_type_matches_number CHECK (substr(account_number, 7, 3)::smallint = account_type),
  UNIQUE (account_id, account_type)
);

-- Every state change of an account: who, when, why. Append-only.
CREATE TABLE account_events (
  event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts,
  event      text NOT NULL CHECK (event IN ('opened', 'blocked', 'unblocked', 'closed')),
  actor      text NOT NULL,
  reason     text NOT NULL DEFAULT '',
  at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE unit_types (
  code         text PRIMARY KEY,
  description  text NOT NULL,
  transferable boolean NOT NULL,  -- between holding accounts
  has_serials  boolean NOT NULL
);
INSERT INTO unit_types VALUES
  ('GXA', 'GX-ETS allowance (排出枠), 1 t-CO2e', true, false),
  ('JCR', 'J-Credit cancelled for GX-ETS use', false, true),
  ('JCM', 'JCM credit cancelled for GX-ETS use', false, true);

CREATE TABLE balances (
  account_id   bigint NOT NULL,
  account_type smallint NOT NULL,
  unit_type    text NOT NULL REFERENCES unit_types,
  vintage      smallint NOT NULL CHECK (vintage BETWEEN 2000 AND 2100),
  quantity     bigint NOT NULL,
  PRIMARY KEY (account_id, unit_type, vintage),
  FOREIGN KEY (account_id, account_type) REFERENCES accounts (account_id, account_type),
  -- Only the counter-side accounts (400 cancellation intake, 900 adjustment) go below zero.
  CONSTRAINT balance_never_negative CHECK (quantity >= 0 OR account_type IN (400, 900))
);

-- ---- the journal ----------------------------------------------------------------------
CREATE SEQUENCE journal_entry_seq;

CREATE TABLE journal_entries (
  entry_id        bigint PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('issuance', 'allocation', 'transfer', 'credit_intake',
                                                'intake_reversal', 'surrender', 'correction')),
  idempotency_key text NOT NULL UNIQUE,
  request_sha256  text NOT NULL,
  cause_type      text NOT NULL CHECK (cause_type IN ('user', 'connector_message', 'workflow_step', 'system')),
  cause_ref       text NOT NULL CHECK (length(cause_ref) > 0),
  reason          text NOT NULL DEFAULT '',
  approved_by     text NOT NULL DEFAULT '',
  reverses_entry  bigint REFERENCES journal_entries,
  posted_at       timestamptz NOT NULL,
  entry_hash      text NOT NULL  -- SHA-256 over the entry's content, lines and serial blocks
);
CREATE INDEX journal_entries_posted_at ON journal_entries (posted_at);

CREATE TABLE journal_lines (
  entry_id   bigint NOT NULL REFERENCES journal_entries DEFERRABLE INITIALLY DEFERRED,
  line_no    smallint NOT NULL,
  account_id bigint NOT NULL REFERENCES accounts,
  unit_type  text NOT NULL REFERENCES unit_types,
  vintage    smallint NOT NULL,
  delta      bigint NOT NULL CHECK (delta <> 0),
  PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX journal_lines_account ON journal_lines (account_id, entry_id);

-- Serial blocks of credits. No serial is ever credited twice: the exclusion constraint
-- refuses any range that overlaps a range already recorded with the same prefix, across
-- all messages, connectors and time (reversed intakes keep their blocks).
CREATE TABLE serial_blocks (
  block_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entry_id      bigint NOT NULL REFERENCES journal_entries DEFERRABLE INITIALLY DEFERRED,
  unit_type     text NOT NULL REFERENCES unit_types,
  serial_prefix text NOT NULL CHECK (length(serial_prefix) > 0),
  serial_first  bigint NOT NULL CHECK (serial_first >= 0),
  serial_last   bigint NOT NULL,
  digits        smallint NOT NULL CHECK (digits BETWEEN 1 AND 18),
  account_id    bigint NOT NULL REFERENCES accounts,
  vintage       smallint NOT NULL,
  serials       int8range GENERATED ALWAYS AS (int8range(serial_first, serial_last, '[]')) STORED,
  CHECK (serial_first <= serial_last),
  CONSTRAINT serial_never_credited_twice EXCLUDE USING gist (serial_prefix WITH =, serials WITH &&)
);
CREATE INDEX serial_blocks_entry ON serial_blocks (entry_id);

-- The hash chain, in commit order. A posting computes its entry_hash without waiting for
-- anyone; the sealer (gx_seal_journal) then links committed entries one after another:
-- chain_hash = sha256(prev_hash || entry_hash). Commits are not serialized behind one
-- chain head (see docs/adr/0005-journal-hash-chain.md).
CREATE TABLE journal_chain (
  seq        bigint PRIMARY KEY,
  entry_id   bigint NOT NULL UNIQUE REFERENCES journal_entries,
  prev_hash  text NOT NULL,
  chain_hash text NOT NULL,
  sealed_at  timestamptz NOT NULL DEFAULT now()
);
-- Entries committed but not linked yet (the sealer's work list).
CREATE TABLE journal_unsealed (entry_id bigint PRIMARY KEY REFERENCES journal_entries);

-- Append-only, whoever asks: UPDATE, DELETE and TRUNCATE raise, also for the owner.
CREATE FUNCTION gx_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the % table is append-only: entries are never changed or deleted (post a correction instead)',
    TG_TABLE_NAME USING ERRCODE = 'GX900';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER serial_blocks_append_only BEFORE UPDATE OR DELETE ON serial_blocks
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER journal_chain_append_only BEFORE UPDATE OR DELETE ON journal_chain
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE ON account_events
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER serial_blocks_no_truncate BEFORE TRUNCATE ON serial_blocks
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_change();
CREATE TRIGGER journal_chain_no_truncate BEFORE TRUNCATE ON journal_chain
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_change();

-- ---- the digest of an entry ---------------------------------------------------------
-- One text layout, used when posting and when verifying.
CREATE FUNCTION gx_entry_digest(p_entry_id bigint, p_kind text, p_key text, p_sha text,
                                p_cause_type text, p_cause_ref text, p_reason text,
                                p_approved_by text, p_reverses bigint, p_posted_at timestamptz,
                                p_lines text, p_serials text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT encode(sha256(convert_to(concat_ws(E'\x1f', 'gx-journal-v1', p_entry_id::text, p_kind, p_key, p_sha,
           p_cause_type, p_cause_ref, p_reason, p_approved_by, coalesce(p_reverses::text, '-'),
           to_char(p_posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           coalesce(p_lines, ''), coalesce(p_serials, '')), 'UTF8')), 'hex')
$$;

CREATE FUNCTION gx_entry_lines_text(p_entry_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT string_agg(concat_ws(',', l.line_no, a.account_number, l.unit_type, l.vintage, l.delta), ';'
                    ORDER BY l.line_no)
    FROM journal_lines l JOIN accounts a USING (account_id) WHERE l.entry_id = p_entry_id
$$;

CREATE FUNCTION gx_entry_serials_text(p_entry_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT string_agg(concat_ws(',', s.serial_prefix, s.serial_first, s.serial_last, s.digits,
                              a.account_number, s.unit_type, s.vintage), ';'
                    ORDER BY s.serial_prefix, s.serial_first)
    FROM serial_blocks s JOIN accounts a USING (account_id) WHERE s.entry_id = p_entry_id
$$;

-- ---- the posting engine's one write path --------------------------------------------
-- Posts one journal entry, or refuses it without changing anything. Returns
-- (outcome, entry_id, check_code, detail):
--   posted     a new entry
--   duplicate  the same idempotency key with the same request hash: the first entry
--   conflict   the same key with another request hash (IDEMPOTENCY_CONFLICT)
--   refused    a business check failed (check_code, detail with the facts)
-- p_lines:   [{"account","unit","vintage","delta"}, ...]   (debits negative)
-- p_serials: [{"account","unit","vintage","prefix","first","last","digits"}, ...]
-- Locks the accounts involved in account_id order (the one lock order), so concurrent
-- postings never deadlock and never lose an update.
CREATE FUNCTION gx_post(p_key text, p_sha text, p_kind text, p_cause_type text, p_cause_ref text,
                        p_reason text, p_approved_by text, p_reverses bigint,
                        p_lines jsonb, p_serials jsonb DEFAULT '[]')
RETURNS TABLE (outcome text, entry_id bigint, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_numbers  text[];
  v_missing  text[];
  v_existing record;
  r          record;
  v_id       bigint;
  v_now      timestamptz := clock_timestamp();
  v_debit    smallint[];
  v_credit   smallint[];
  v_serials  jsonb := coalesce(p_serials, '[]'::jsonb);
BEGIN
  IF p_lines IS NULL OR jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
    RAISE EXCEPTION 'gx_post: p_lines must be a non-empty JSON array' USING ERRCODE = '22023';
  END IF;

  -- 1. Lock every account involved, in account_id order.
  v_numbers := ARRAY(SELECT DISTINCT x->>'account' FROM jsonb_array_elements(p_lines) x
                     UNION SELECT DISTINCT x->>'account' FROM jsonb_array_elements(v_serials) x);
  PERFORM 1 FROM accounts a WHERE a.account_number = ANY (v_numbers) ORDER BY a.account_id FOR NO KEY UPDATE;
  v_missing := ARRAY(SELECT n FROM unnest(v_numbers) n
                     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.account_number = n) ORDER BY n);
  IF cardinality(v_missing) > 0 THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_ACCOUNT'::text,
                        jsonb_build_object('accounts', to_jsonb(v_missing));
    RETURN;
  END IF;

  -- 2. Idempotency, after the locks: a concurrent posting of the same request has
  --    committed or rolled back by now.
  SELECT e.entry_id, e.request_sha256 INTO v_existing FROM journal_entries e WHERE e.idempotency_key = p_key;
  IF FOUND THEN
    IF v_existing.request_sha256 = p_sha THEN
      RETURN QUERY SELECT 'duplicate'::text, v_existing.entry_id, NULL::text, NULL::jsonb;
    ELSE
      RETURN QUERY SELECT 'conflict'::text, v_existing.entry_id, 'IDEMPOTENCY_CONFLICT'::text,
                          jsonb_build_object('idempotency_key', p_key, 'entry_id', v_existing.entry_id);
    END IF;
    RETURN;
  END IF;

  -- 3. Which account types each kind may debit and credit (domain.md, "Transactions").
  CASE p_kind
    WHEN 'issuance'        THEN v_debit := '{}';            v_credit := '{200}';
    WHEN 'allocation'      THEN v_debit := '{200}';         v_credit := '{100}';
    WHEN 'transfer'        THEN v_debit := '{100}';         v_credit := '{100}';
    WHEN 'credit_intake'   THEN v_debit := '{400}';         v_credit := '{100}';
    WHEN 'intake_reversal' THEN v_debit := '{100}';         v_credit := '{400}';
    WHEN 'surrender'       THEN v_debit := '{100}';         v_credit := '{300}';
    WHEN 'correction'      THEN v_debit := '{100,200,400,900}'; v_credit := '{100,200,400,900}';
    ELSE RAISE EXCEPTION 'gx_post: unknown kind %', p_kind USING ERRCODE = '22023';
  END CASE;

  FOR r IN
    SELECT x.ord, x.v->>'account' AS account, x.v->>'unit' AS unit, (x.v->>'vintage')::smallint AS vintage,
           (x.v->>'delta')::bigint AS delta, a.account_id, a.account_type, a.state,
           ut.code IS NOT NULL AS unit_known, coalesce(ut.transferable, false) AS transferable,
           coalesce(ut.has_serials, false) AS has_serials
      FROM jsonb_array_elements(p_lines) WITH ORDINALITY x(v, ord)
      JOIN accounts a ON a.account_number = x.v->>'account'
      LEFT JOIN unit_types ut ON ut.code = x.v->>'unit'
     ORDER BY x.ord
  LOOP
    IF NOT r.unit_known THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_UNIT_TYPE'::text, jsonb_build_object('unit', r.unit);
      RETURN;
    END IF;
    IF r.delta IS NULL OR r.delta = 0 THEN
      RAISE EXCEPTION 'gx_post: line % has no quantity', r.ord USING ERRCODE = '22023';
    END IF;
    IF r.delta < 0 AND r.account_type = 300 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SURRENDERED_UNITS_FINAL'::text,
                          jsonb_build_object('account', r.account);
      RETURN;
    END IF;
    IF (r.delta < 0 AND NOT r.account_type = ANY (v_debit)) OR (r.delta > 0 AND NOT r.account_type = ANY (v_credit)) THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                          jsonb_build_object('account', r.account, 'account_type', r.account_type, 'kind', p_kind,
                                             'side', CASE WHEN r.delta < 0 THEN 'debit' ELSE 'credit' END);
      RETURN;
    END IF;
    IF p_kind IN ('issuance', 'allocation', 'transfer', 'surrender') AND r.has_serials AND p_kind <> 'surrender' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNIT_NOT_TRANSFERABLE'::text,
                          jsonb_build_object('unit', r.unit, 'kind', p_kind);
      RETURN;
    END IF;
    IF p_kind IN ('credit_intake', 'intake_reversal') AND NOT r.has_serials THEN
      RAISE EXCEPTION 'gx_post: % carries credits (JCR, JCM), not %', p_kind, r.unit USING ERRCODE = '22023';
    END IF;
    IF r.delta < 0 AND r.state <> 'open' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', r.account, 'state', r.state, 'side', 'debit');
      RETURN;
    END IF;
    IF r.delta > 0 AND r.state = 'closed' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', r.account, 'state', r.state, 'side', 'credit');
      RETURN;
    END IF;
  END LOOP;

  IF p_kind = 'transfer' AND (SELECT count(DISTINCT x->>'account') FROM jsonb_array_elements(p_lines) x) < 2 THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SAME_ACCOUNT'::text,
                        jsonb_build_object('account', p_lines->0->>'account');
    RETURN;
  END IF;
  IF p_kind = 'correction' AND NOT EXISTS (
       SELECT 1 FROM jsonb_array_elements(p_lines) x JOIN accounts a ON a.account_number = x->>'account'
        WHERE a.account_type = 900) THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                        jsonb_build_object('kind', p_kind, 'detail', 'a correction moves units to or from the adjustment account (900)');
    RETURN;
  END IF;
  -- Double entry: but for issuance, every unit type and vintage nets to zero.
  IF p_kind <> 'issuance' AND EXISTS (
       SELECT 1 FROM jsonb_array_elements(p_lines) x
        GROUP BY x->>'unit', x->>'vintage' HAVING sum((x->>'delta')::bigint) <> 0) THEN
    RAISE EXCEPTION 'gx_post: the lines of a % do not balance per unit type and vintage', p_kind USING ERRCODE = '22023';
  END IF;
  IF p_kind = 'issuance' AND EXISTS (SELECT 1 FROM jsonb_array_elements(p_lines) x WHERE (x->>'delta')::bigint < 0 OR x->>'unit' <> 'GXA') THEN
    RAISE EXCEPTION 'gx_post: an issuance creates GXA only' USING ERRCODE = '22023';
  END IF;

  -- 4. Enough units on every debited account (net per account, unit type and vintage).
  FOR r IN
    SELECT x->>'account' AS account, x->>'unit' AS unit, (x->>'vintage')::smallint AS vintage,
           -sum((x->>'delta')::bigint) AS needs, a.account_id, a.account_type
      FROM jsonb_array_elements(p_lines) x JOIN accounts a ON a.account_number = x->>'account'
     GROUP BY 1, 2, 3, a.account_id, a.account_type
    HAVING sum((x->>'delta')::bigint) < 0
  LOOP
    IF r.account_type NOT IN (400, 900) THEN
      DECLARE v_held bigint;
      BEGIN
        SELECT b.quantity INTO v_held FROM balances b
         WHERE b.account_id = r.account_id AND b.unit_type = r.unit AND b.vintage = r.vintage;
        v_held := coalesce(v_held, 0);
        IF v_held < r.needs THEN
          RETURN QUERY SELECT 'refused'::text, NULL::bigint,
                              (CASE WHEN p_kind = 'intake_reversal' THEN 'REVERSAL_NOT_POSSIBLE' ELSE 'INSUFFICIENT_BALANCE' END)::text,
                              jsonb_build_object('account', r.account, 'unit', r.unit, 'vintage', r.vintage,
                                                 'holds', v_held, 'needs', r.needs, 'kind', p_kind);
          RETURN;
        END IF;
      END;
    END IF;
  END LOOP;

  -- 5. Serial blocks: required for credit intake, must add up, must be new.
  IF p_kind = 'credit_intake' THEN
    IF jsonb_array_length(v_serials) = 0 THEN
      RAISE EXCEPTION 'gx_post: a credit intake needs its serial blocks' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (
         SELECT 1 FROM (
           SELECT x->>'account' AS account, x->>'unit' AS unit, x->>'vintage' AS vintage, sum((x->>'delta')::bigint) AS q
             FROM jsonb_array_elements(p_lines) x WHERE (x->>'delta')::bigint > 0 GROUP BY 1, 2, 3) l
         FULL JOIN (
           SELECT s->>'account' AS account, s->>'unit' AS unit, s->>'vintage' AS vintage,
                  sum((s->>'last')::bigint - (s->>'first')::bigint + 1) AS q
             FROM jsonb_array_elements(v_serials) s GROUP BY 1, 2, 3) b USING (account, unit, vintage)
        WHERE l.q IS DISTINCT FROM b.q) THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SERIAL_RANGE_INVALID'::text,
                          jsonb_build_object('detail', 'the serial blocks do not add up to the quantities credited');
      RETURN;
    END IF;
    FOR r IN
      SELECT s->>'prefix' AS prefix, (s->>'first')::bigint AS first, (s->>'last')::bigint AS last,
             sb.entry_id AS other_entry, sb.serial_first AS other_first, sb.serial_last AS other_last,
             oa.account_number AS other_account
        FROM jsonb_array_elements(v_serials) s
        JOIN serial_blocks sb ON sb.serial_prefix = s->>'prefix'
                             AND sb.serials && int8range((s->>'first')::bigint, (s->>'last')::bigint, '[]')
        JOIN accounts oa ON oa.account_id = sb.account_id
       LIMIT 1
    LOOP
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SERIAL_ALREADY_USED'::text,
                          jsonb_build_object('prefix', r.prefix, 'first', r.first, 'last', r.last,
                                             'credited_entry', r.other_entry, 'credited_first', r.other_first,
                                             'credited_last', r.other_last, 'credited_account', r.other_account);
      RETURN;
    END LOOP;
    IF EXISTS (
         SELECT 1 FROM jsonb_array_elements(v_serials) WITH ORDINALITY s1(v, i)
         JOIN jsonb_array_elements(v_serials) WITH ORDINALITY s2(v, j)
           ON s1.i < s2.j AND s1.v->>'prefix' = s2.v->>'prefix'
          AND int8range((s1.v->>'first')::bigint, (s1.v->>'last')::bigint, '[]')
           && int8range((s2.v->>'first')::bigint, (s2.v->>'last')::bigint, '[]')) THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SERIAL_ALREADY_USED'::text,
                          jsonb_build_object('detail', 'two serial blocks of this request overlap each other');
      RETURN;
    END IF;
  END IF;
  IF p_kind = 'intake_reversal' THEN
    IF p_reverses IS NULL OR NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.entry_id = p_reverses AND e.kind = 'credit_intake') THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'REVERSAL_NOT_POSSIBLE'::text,
                          jsonb_build_object('reverses', p_reverses, 'detail', 'no credit intake with this entry id');
      RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM journal_entries e WHERE e.reverses_entry = p_reverses) THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'REVERSAL_NOT_POSSIBLE'::text,
                          jsonb_build_object('reverses', p_reverses, 'detail', 'this intake was reversed already');
      RETURN;
    END IF;
  END IF;
  -- Issuance is decided by two people of the Organization (domain.md).
  IF p_kind = 'issuance' AND (coalesce(p_approved_by, '') = '' OR p_approved_by = p_cause_ref) THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'FOUR_EYES_VIOLATION'::text,
                        jsonb_build_object('kind', p_kind, 'proposed_by', p_cause_ref, 'approved_by', coalesce(p_approved_by, ''));
    RETURN;
  END IF;
  IF p_kind IN ('correction', 'intake_reversal') AND length(btrim(coalesce(p_reason, ''))) = 0 THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'INVALID_REASON'::text,
                        jsonb_build_object('kind', p_kind);
    RETURN;
  END IF;

  -- 6. Write: lines, balances, serial blocks, then the entry with its digest.
  v_id := nextval('journal_entry_seq');
  INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
  SELECT v_id, x.ord, a.account_id, x.v->>'unit', (x.v->>'vintage')::smallint, (x.v->>'delta')::bigint
    FROM jsonb_array_elements(p_lines) WITH ORDINALITY x(v, ord)
    JOIN accounts a ON a.account_number = x.v->>'account';
  -- Update the rows that exist, insert the others. (Not INSERT ... ON CONFLICT: PostgreSQL
  -- checks the CHECK constraint on the proposed new row, i.e. on the bare delta.) The
  -- account locks taken above make this race-free.
  WITH d AS (
    SELECT a.account_id, a.account_type, x->>'unit' AS unit, (x->>'vintage')::smallint AS vintage,
           sum((x->>'delta')::bigint) AS q
      FROM jsonb_array_elements(p_lines) x JOIN accounts a ON a.account_number = x->>'account'
     GROUP BY 1, 2, 3, 4),
  u AS (
    UPDATE balances b SET quantity = b.quantity + d.q
      FROM d WHERE b.account_id = d.account_id AND b.unit_type = d.unit AND b.vintage = d.vintage
    RETURNING b.account_id, b.unit_type, b.vintage)
  INSERT INTO balances (account_id, account_type, unit_type, vintage, quantity)
  SELECT d.account_id, d.account_type, d.unit, d.vintage, d.q FROM d
   WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.account_id = d.account_id AND u.unit_type = d.unit
                                      AND u.vintage = d.vintage);
  IF p_kind = 'credit_intake' THEN
    INSERT INTO serial_blocks (entry_id, unit_type, serial_prefix, serial_first, serial_last, digits, account_id, vintage)
    SELECT v_id, s->>'unit', s->>'prefix', (s->>'first')::bigint, (s->>'last')::bigint, (s->>'digits')::smallint,
           a.account_id, (s->>'vintage')::smallint
      FROM jsonb_array_elements(v_serials) s JOIN accounts a ON a.account_number = s->>'account';
  END IF;
  INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                               reason, approved_by, reverses_entry, posted_at, entry_hash)
  VALUES (v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
          coalesce(p_approved_by, ''), p_reverses, v_now,
          gx_entry_digest(v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
                          coalesce(p_approved_by, ''), p_reverses, v_now,
                          gx_entry_lines_text(v_id), gx_entry_serials_text(v_id)));
  INSERT INTO journal_unsealed (entry_id) VALUES (v_id);
  RETURN QUERY SELECT 'posted'::text, v_id, NULL::text, NULL::jsonb;
END $$;

-- Locks accounts in the one lock order, for a batch of postings in one transaction:
-- after this, the batch's postings wait for nobody and nobody deadlocks with them.
CREATE FUNCTION gx_lock_accounts(p_numbers text[]) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT count(*)::integer FROM (
    SELECT 1 FROM accounts WHERE account_number = ANY (p_numbers) ORDER BY account_id FOR NO KEY UPDATE) x
$$;

-- Links committed entries into the hash chain, oldest first; returns how many. Only one
-- sealer works at a time (others return 0 at once).
CREATE FUNCTION gx_seal_journal(p_max integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq  bigint;
  v_prev text;
  v_ids  bigint[];
  v_n    integer := 0;
  r      record;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7390412238) THEN RETURN 0; END IF;
  v_ids := ARRAY(SELECT u.entry_id FROM journal_unsealed u ORDER BY u.entry_id LIMIT p_max);
  IF cardinality(v_ids) = 0 THEN RETURN 0; END IF;
  SELECT c.seq, c.chain_hash INTO v_seq, v_prev FROM journal_chain c ORDER BY c.seq DESC LIMIT 1;
  v_seq := coalesce(v_seq, 0);
  v_prev := coalesce(v_prev, repeat('0', 64));
  DELETE FROM journal_unsealed u WHERE u.entry_id = ANY (v_ids);
  FOR r IN SELECT e.entry_id, e.entry_hash FROM journal_entries e WHERE e.entry_id = ANY (v_ids) ORDER BY e.entry_id LOOP
    v_seq := v_seq + 1;
    INSERT INTO journal_chain (seq, entry_id, prev_hash, chain_hash)
    VALUES (v_seq, r.entry_id, v_prev, encode(sha256(convert_to(v_prev || r.entry_hash, 'UTF8')), 'hex'))
    RETURNING chain_hash INTO v_prev;
    v_n := v_n + 1;
  END LOOP;
  RETURN v_n;
END $$;

-- ---- companies and accounts -------------------------------------------------------------
CREATE FUNCTION gx_create_company(p_corporate_number text, p_name text, p_kind text, p_actor text)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO companies (corporate_number, name, kind, created_by)
  VALUES (p_corporate_number, p_name, p_kind, p_actor) RETURNING corporate_number
$$;

-- Opens an account: with the given number, or the next free number of its type.
CREATE FUNCTION gx_open_account(p_type smallint, p_holder text, p_name text, p_actor text,
                                p_number text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_number text := p_number;
  v_serial integer;
  v_id bigint;
BEGIN
  IF v_number IS NULL THEN
    PERFORM pg_advisory_xact_lock(7390412300 + p_type);
    SELECT coalesce(max(substr(account_number, 11, 6)::integer), 0) + 1 INTO v_serial
      FROM accounts WHERE account_type = p_type;
    v_number := 'JP-GX-' || p_type::text || '-' || lpad(v_serial::text, 6, '0')
                || gx_luhn_digit(lpad(v_serial::text, 6, '0'))::text;
  END IF;
  INSERT INTO accounts (account_number, account_type, holder, name, opened_by)
  VALUES (v_number, p_type, p_holder, coalesce(p_name, ''), p_actor) RETURNING account_id INTO v_id;
  INSERT INTO account_events (account_id, event, actor) VALUES (v_id, 'opened', p_actor);
  RETURN v_number;
END $$;

-- open -> blocked (no debits) -> open; open|blocked -> closed (only when it holds nothing).
CREATE FUNCTION gx_set_account_state(p_number text, p_state text, p_actor text, p_reason text)
RETURNS TABLE (outcome text, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_acc record;
BEGIN
  SELECT a.account_id, a.state INTO v_acc FROM accounts a WHERE a.account_number = p_number FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'refused'::text, 'UNKNOWN_ACCOUNT'::text, jsonb_build_object('accounts', jsonb_build_array(p_number));
    RETURN;
  END IF;
  IF p_state NOT IN ('open', 'blocked', 'closed') THEN
    RAISE EXCEPTION 'gx_set_account_state: unknown state %', p_state USING ERRCODE = '22023';
  END IF;
  IF v_acc.state = p_state THEN
    RETURN QUERY SELECT 'unchanged'::text, NULL::text, NULL::jsonb;
    RETURN;
  END IF;
  IF v_acc.state = 'closed' THEN
    RETURN QUERY SELECT 'refused'::text, 'ACCOUNT_STATE_CHANGE_NOT_ALLOWED'::text,
                        jsonb_build_object('account', p_number, 'from', v_acc.state, 'to', p_state);
    RETURN;
  END IF;
  IF p_state = 'closed' AND EXISTS (SELECT 1 FROM balances b WHERE b.account_id = v_acc.account_id AND b.quantity <> 0) THEN
    RETURN QUERY SELECT 'refused'::text, 'ACCOUNT_HAS_BALANCE'::text,
                        jsonb_build_object('account', p_number,
                          'balances', (SELECT jsonb_agg(jsonb_build_object('unit', b.unit_type, 'vintage', b.vintage, 'quantity', b.quantity))
                                         FROM balances b WHERE b.account_id = v_acc.account_id AND b.quantity <> 0));
    RETURN;
  END IF;
  UPDATE accounts SET state = p_state WHERE account_id = v_acc.account_id;
  INSERT INTO account_events (account_id, event, actor, reason)
  VALUES (v_acc.account_id, CASE p_state WHEN 'open' THEN 'unblocked' ELSE p_state END, p_actor, coalesce(p_reason, ''));
  RETURN QUERY SELECT 'changed'::text, NULL::text, NULL::jsonb;
END $$;

-- ---- corrections: proposed by one person, approved by another -------------------------
CREATE TABLE corrections (
  correction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  proposed_by   text NOT NULL,
  proposed_at   timestamptz NOT NULL DEFAULT now(),
  reason        text NOT NULL CHECK (length(btrim(reason)) > 0),
  lines         jsonb NOT NULL,
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
  decided_by    text,
  decided_at    timestamptz,
  decision_note text,
  entry_id      bigint REFERENCES journal_entries,
  CHECK (decided_by IS NULL OR decided_by <> proposed_by)
);

CREATE FUNCTION gx_propose_correction(p_actor text, p_reason text, p_lines jsonb)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO corrections (proposed_by, reason, lines) VALUES (p_actor, p_reason, p_lines) RETURNING correction_id
$$;

-- Approve (posts the correction) or reject. The approver must not be the proposer.
CREATE FUNCTION gx_decide_correction(p_id bigint, p_actor text, p_approve boolean, p_note text, p_sha text)
RETURNS TABLE (outcome text, entry_id bigint, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_c record;
  v_r record;
BEGIN
  SELECT * INTO v_c FROM corrections c WHERE c.correction_id = p_id FOR UPDATE;
  IF NOT FOUND OR v_c.state <> 'pending' THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'CORRECTION_NOT_PENDING'::text,
                        jsonb_build_object('correction_id', p_id, 'state', coalesce(v_c.state, 'unknown'));
    RETURN;
  END IF;
  IF v_c.proposed_by = p_actor THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'FOUR_EYES_VIOLATION'::text,
                        jsonb_build_object('correction_id', p_id, 'proposed_by', v_c.proposed_by);
    RETURN;
  END IF;
  IF NOT p_approve THEN
    UPDATE corrections SET state = 'rejected', decided_by = p_actor, decided_at = now(), decision_note = p_note
     WHERE correction_id = p_id;
    RETURN QUERY SELECT 'rejected'::text, NULL::bigint, NULL::text, NULL::jsonb;
    RETURN;
  END IF;
  SELECT * INTO v_r FROM gx_post('correction:' || p_id, p_sha, 'correction', 'user', v_c.proposed_by,
                                 v_c.reason, p_actor, NULL, v_c.lines, '[]'::jsonb);
  IF v_r.outcome IN ('posted', 'duplicate') THEN
    UPDATE corrections SET state = 'approved', decided_by = p_actor, decided_at = now(),
                           decision_note = p_note, entry_id = v_r.entry_id
     WHERE correction_id = p_id;
  END IF;
  RETURN QUERY SELECT v_r.outcome, v_r.entry_id, v_r.check_code, v_r.detail;
END $$;

-- ---- rights --------------------------------------------------------------------------
-- gx_app reads the ledger; it changes it only through the functions above.
REVOKE ALL ON companies, accounts, account_events, unit_types, balances, journal_entries,
              journal_lines, serial_blocks, journal_chain, journal_unsealed, corrections FROM gx_app;
GRANT SELECT ON companies, accounts, account_events, unit_types, balances, journal_entries,
                journal_lines, serial_blocks, journal_chain, journal_unsealed, corrections TO gx_app;
REVOKE ALL ON SEQUENCE journal_entry_seq FROM gx_app;
REVOKE EXECUTE ON FUNCTION gx_post(text, text, text, text, text, text, text, bigint, jsonb, jsonb),
  gx_seal_journal(integer), gx_lock_accounts(text[]), gx_create_company(text, text, text, text),
  gx_open_account(smallint, text, text, text, text), gx_set_account_state(text, text, text, text),
  gx_propose_correction(text, text, jsonb), gx_decide_correction(bigint, text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gx_post(text, text, text, text, text, text, text, bigint, jsonb, jsonb),
  gx_seal_journal(integer), gx_lock_accounts(text[]), gx_create_company(text, text, text, text),
  gx_open_account(smallint, text, text, text, text), gx_set_account_state(text, text, text, text),
  gx_propose_correction(text, text, jsonb), gx_decide_correction(bigint, text, boolean, text, text) TO gx_app;
