-- 0003: the posting engine made fast without changing a rule (issue 3, point 8).
--
-- Why and what was measured: docs/benchmarks.md; decisions: docs/adr/0008-ledger-performance.md.
-- Every check of 0002 is made, in the same order, with the same refusal and detail; only
-- the way the work is done changes:
--   * gx_post parses its lines once and never joins the JSON lines with a table (0002's
--     plans scanned every account and every balance on every posting); balances are
--     updated by primary key; a plain transfer takes a fast path of three statements;
--     its plans are generic (planned once per session).
--   * gx_post_transfers posts many transfers in one call with a fixed number of
--     statements, and answers each one (posted, duplicate, refused) without raising.
--   * The journal's own rows no longer carry foreign keys whose only writers are these
--     SECURITY DEFINER functions (ADR 0008 decides key by key); what the keys protected
--     is kept by triggers that refuse to delete or renumber accounts and unit types, and
--     checked by Ledger::verify().
--   * gx_seal_journal links a whole batch in one INSERT; gx_journal_backlog tells how far
--     the sealer is behind.

-- ---- the digest: STABLE, so that it is inlined into the statements that call it ----------
-- Declared IMMUTABLE in 0002 while calling STABLE functions (to_char, concat_ws,
-- convert_to), it was never inlined: every INSERT parsed and planned its body again.
-- Same text, same hash.
ALTER FUNCTION gx_entry_digest(bigint, text, text, text, text, text, text, text, bigint, timestamptz, text, text) STABLE;

-- The lines text of a transfer, as gx_entry_lines_text() reads it back from the tables:
-- "1,<from>,<unit>,<vintage>,-<q>;2,<to>,<unit>,<vintage>,<q>". STABLE and plain SQL, so it
-- is inlined too.
CREATE FUNCTION gx_transfer_lines_text(p_from text, p_to text, p_unit text, p_vintage smallint, p_q bigint)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT concat_ws(',', 1, p_from, p_unit, p_vintage, -p_q) || ';' || concat_ws(',', 2, p_to, p_unit, p_vintage, p_q)
$$;

-- An intake reversal asks "was this intake reversed already?": 0002 answered it with a
-- scan of the whole journal. Only reversals have the column set.
CREATE INDEX journal_entries_reverses ON journal_entries (reverses_entry) WHERE reverses_entry IS NOT NULL;

-- ---- foreign keys of the journal's own rows (ADR 0008) ---------------------------------
-- Each costs a look-up per row written (about 21 us here; seven per transfer). Their only
-- writers are gx_post, gx_post_transfers and gx_seal_journal, which take the ids from rows
-- they have just locked or inserted in the same statement; gx_app cannot write these
-- tables, and the journal cannot be deleted from (0002's triggers).
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_entry_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_account_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_unit_type_fkey;
ALTER TABLE journal_unsealed DROP CONSTRAINT journal_unsealed_entry_id_fkey;
ALTER TABLE journal_chain DROP CONSTRAINT journal_chain_entry_id_fkey;
-- gx_post itself checks that the entry an intake reversal names exists and is a credit
-- intake, a stronger rule than this key, which cost a trigger call on every entry.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_reverses_entry_fkey;

-- What those keys also guaranteed, that an account or unit type named by the journal
-- never disappears or changes its identity, is now said directly, for every role:
-- accounts are closed, never deleted or renumbered; unit types are never removed.
CREATE FUNCTION gx_refuse_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'accounts' THEN
    RAISE EXCEPTION 'accounts are never deleted or renumbered: the journal names them (close the account instead)'
      USING ERRCODE = 'GX900';
  END IF;
  RAISE EXCEPTION 'the % table is never deleted from or renamed in: the journal names its rows', TG_TABLE_NAME
    USING ERRCODE = 'GX900';
END $$;
CREATE TRIGGER accounts_never_removed BEFORE DELETE OR UPDATE OF account_id, account_number, account_type ON accounts
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_removal();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_removal();
CREATE TRIGGER unit_types_never_removed BEFORE DELETE OR UPDATE OF code ON unit_types
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_removal();
CREATE TRIGGER unit_types_no_truncate BEFORE TRUNCATE ON unit_types
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_removal();

-- ---- gx_post: same contract and outcomes as 0002 ------------------------------------------
-- Returns (outcome, entry_id, check_code, detail): posted | duplicate | conflict | refused.
-- Two paths with the same checks in the same order:
--   * a plain transfer (two lines, one unit type and vintage, from one account to another,
--     no serials): 1. lock both accounts and read them; 2. the idempotency key and the
--     debited balance; 3. one statement writing lines, balances, entry and
--     journal_unsealed (a fourth when the credited balance row does not exist yet);
--   * everything else: the lines parsed once into arrays, the accounts read by the
--     locking query, balances updated by primary key, the digest from the lines in memory.
CREATE OR REPLACE FUNCTION gx_post(p_key text, p_sha text, p_kind text, p_cause_type text, p_cause_ref text,
                        p_reason text, p_approved_by text, p_reverses bigint,
                        p_lines jsonb, p_serials jsonb DEFAULT '[]')
RETURNS TABLE (outcome text, entry_id bigint, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
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
  -- the request lines, in order
  l_acc   text[];
  l_unit  text[];
  l_vint  smallint[];
  l_delta bigint[];
  l_id    bigint[];
  n       integer;
  -- the accounts involved, as locked
  a_num   text[];
  a_id    bigint[];
  a_type  smallint[];
  a_state text[];
  k       integer;
  u_known boolean;
  u_serials boolean;
  v_held  bigint;
  v_lines_text text;
  -- the fast path
  f_from  text;
  f_to    text;
  f_unit  text;
  f_vint  smallint;
  f_q     bigint;
  f_ok    boolean := false;
  f_kf    integer;
  f_kt    integer;
  f_n     integer;
BEGIN
  IF p_lines IS NULL OR jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
    RAISE EXCEPTION 'gx_post: p_lines must be a non-empty JSON array' USING ERRCODE = '22023';
  END IF;

  -- ---- the fast path: a plain transfer from one account to another ----
  IF p_kind = 'transfer' AND jsonb_array_length(p_lines) = 2 AND jsonb_array_length(v_serials) = 0 THEN
    f_from := p_lines->0->>'account';
    f_to := p_lines->1->>'account';
    f_unit := p_lines->0->>'unit';
    f_vint := (p_lines->0->>'vintage')::smallint;
    f_q := -(p_lines->0->>'delta')::bigint;
    f_ok := f_from <> f_to AND f_q > 0 AND f_unit = p_lines->1->>'unit'
            AND f_vint = (p_lines->1->>'vintage')::smallint AND (p_lines->1->>'delta')::bigint = f_q;
  END IF;
  IF f_ok THEN
    -- 1. Lock both accounts in account_id order; what the checks need, and the unit type.
    SELECT array_agg(t.account_number), array_agg(t.account_id), array_agg(t.account_type), array_agg(t.state),
           EXISTS (SELECT 1 FROM unit_types ut WHERE ut.code = f_unit),
           (SELECT ut.has_serials FROM unit_types ut WHERE ut.code = f_unit)
      INTO a_num, a_id, a_type, a_state, u_known, u_serials
      FROM (SELECT a.account_number, a.account_id, a.account_type, a.state FROM accounts a
             WHERE a.account_number IN (f_from, f_to) ORDER BY a.account_id FOR NO KEY UPDATE) t;
    IF coalesce(cardinality(a_num), 0) < 2 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_ACCOUNT'::text,
                          jsonb_build_object('accounts', to_jsonb(ARRAY(
                            SELECT x FROM unnest(ARRAY[f_from, f_to]) x WHERE x <> ALL (coalesce(a_num, '{}')) ORDER BY x)));
      RETURN;
    END IF;
    f_kf := array_position(a_num, f_from);
    f_kt := array_position(a_num, f_to);
    -- 2. After the locks: the idempotency key, and what the debited account holds.
    SELECT e.entry_id, e.request_sha256,
           (SELECT b.quantity FROM balances b WHERE b.account_id = a_id[f_kf] AND b.unit_type = f_unit
                                                AND b.vintage = f_vint) AS quantity
      INTO v_existing
      FROM (SELECT 1) one LEFT JOIN journal_entries e ON e.idempotency_key = p_key;
    IF v_existing.entry_id IS NOT NULL THEN
      IF v_existing.request_sha256 = p_sha THEN
        RETURN QUERY SELECT 'duplicate'::text, v_existing.entry_id, NULL::text, NULL::jsonb;
      ELSE
        RETURN QUERY SELECT 'conflict'::text, v_existing.entry_id, 'IDEMPOTENCY_CONFLICT'::text,
                            jsonb_build_object('idempotency_key', p_key, 'entry_id', v_existing.entry_id);
      END IF;
      RETURN;
    END IF;
    -- The line checks of the general path: line 1 (the debit), then line 2 (the credit).
    IF NOT u_known THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_UNIT_TYPE'::text, jsonb_build_object('unit', f_unit);
      RETURN;
    END IF;
    IF a_type[f_kf] = 300 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SURRENDERED_UNITS_FINAL'::text,
                          jsonb_build_object('account', f_from);
      RETURN;
    END IF;
    IF a_type[f_kf] <> 100 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                          jsonb_build_object('account', f_from, 'account_type', a_type[f_kf], 'kind', p_kind,
                                             'side', 'debit');
      RETURN;
    END IF;
    IF u_serials THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNIT_NOT_TRANSFERABLE'::text,
                          jsonb_build_object('unit', f_unit, 'kind', p_kind);
      RETURN;
    END IF;
    IF a_state[f_kf] <> 'open' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', f_from, 'state', a_state[f_kf], 'side', 'debit');
      RETURN;
    END IF;
    IF a_type[f_kt] <> 100 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                          jsonb_build_object('account', f_to, 'account_type', a_type[f_kt], 'kind', p_kind,
                                             'side', 'credit');
      RETURN;
    END IF;
    IF a_state[f_kt] = 'closed' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', f_to, 'state', a_state[f_kt], 'side', 'credit');
      RETURN;
    END IF;
    v_held := coalesce(v_existing.quantity, 0);
    IF v_held < f_q THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'INSUFFICIENT_BALANCE'::text,
                          jsonb_build_object('account', f_from, 'unit', f_unit, 'vintage', f_vint,
                                             'holds', v_held, 'needs', f_q, 'kind', p_kind);
      RETURN;
    END IF;
    -- 3. One statement writes everything; the credited balance row is inserted after it
    --    when it does not exist yet.
    v_id := nextval('journal_entry_seq');
    WITH lines AS (
           INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
           VALUES (v_id, 1, a_id[f_kf], f_unit, f_vint, -f_q), (v_id, 2, a_id[f_kt], f_unit, f_vint, f_q)),
         debit AS (
           UPDATE balances b SET quantity = b.quantity - f_q
            WHERE b.account_id = a_id[f_kf] AND b.unit_type = f_unit AND b.vintage = f_vint),
         credit AS (
           UPDATE balances b SET quantity = b.quantity + f_q
            WHERE b.account_id = a_id[f_kt] AND b.unit_type = f_unit AND b.vintage = f_vint
           RETURNING 1),
         entry AS (
           INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                                        reason, approved_by, reverses_entry, posted_at, entry_hash)
           VALUES (v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
                   coalesce(p_approved_by, ''), p_reverses, v_now,
                   gx_entry_digest(v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
                                   coalesce(p_approved_by, ''), p_reverses, v_now,
                                   gx_transfer_lines_text(f_from, f_to, f_unit, f_vint, f_q), NULL))),
         unsealed AS (INSERT INTO journal_unsealed (entry_id) VALUES (v_id))
    SELECT count(*) INTO f_n FROM credit;
    IF f_n = 0 THEN
      INSERT INTO balances (account_id, account_type, unit_type, vintage, quantity)
      VALUES (a_id[f_kt], a_type[f_kt], f_unit, f_vint, f_q);
    END IF;
    -- The answer without another statement.
    outcome := 'posted';
    entry_id := v_id;
    RETURN NEXT;
    RETURN;
  END IF;

  -- ---- the general path ----
  SELECT array_agg(x.v->>'account' ORDER BY x.ord), array_agg(x.v->>'unit' ORDER BY x.ord),
         array_agg((x.v->>'vintage')::smallint ORDER BY x.ord), array_agg((x.v->>'delta')::bigint ORDER BY x.ord)
    INTO l_acc, l_unit, l_vint, l_delta
    FROM jsonb_array_elements(p_lines) WITH ORDINALITY x(v, ord);
  n := cardinality(l_acc);

  -- 1. Lock every account involved, in account_id order, reading what the checks need.
  IF jsonb_array_length(v_serials) = 0 THEN
    v_numbers := ARRAY(SELECT DISTINCT a FROM unnest(l_acc) a);
  ELSE
    v_numbers := ARRAY(SELECT a FROM unnest(l_acc) a
                       UNION SELECT x->>'account' FROM jsonb_array_elements(v_serials) x);
  END IF;
  SELECT array_agg(t.account_number), array_agg(t.account_id), array_agg(t.account_type), array_agg(t.state)
    INTO a_num, a_id, a_type, a_state
    FROM (SELECT a.account_number, a.account_id, a.account_type, a.state FROM accounts a
           WHERE a.account_number = ANY (v_numbers) ORDER BY a.account_id FOR NO KEY UPDATE) t;
  IF coalesce(cardinality(a_num), 0) < cardinality(v_numbers) THEN
    v_missing := ARRAY(SELECT x FROM unnest(v_numbers) x WHERE x IS NULL OR x <> ALL (coalesce(a_num, '{}')) ORDER BY x);
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

  l_id := array_fill(NULL::bigint, ARRAY[n]);
  FOR i IN 1..n LOOP
    k := array_position(a_num, l_acc[i]);
    l_id[i] := a_id[k];
    SELECT true, ut.has_serials INTO u_known, u_serials FROM unit_types ut WHERE ut.code = l_unit[i];
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_UNIT_TYPE'::text, jsonb_build_object('unit', l_unit[i]);
      RETURN;
    END IF;
    IF l_delta[i] IS NULL OR l_delta[i] = 0 THEN
      RAISE EXCEPTION 'gx_post: line % has no quantity', i USING ERRCODE = '22023';
    END IF;
    IF l_delta[i] < 0 AND a_type[k] = 300 THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SURRENDERED_UNITS_FINAL'::text,
                          jsonb_build_object('account', l_acc[i]);
      RETURN;
    END IF;
    IF (l_delta[i] < 0 AND NOT a_type[k] = ANY (v_debit)) OR (l_delta[i] > 0 AND NOT a_type[k] = ANY (v_credit)) THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                          jsonb_build_object('account', l_acc[i], 'account_type', a_type[k], 'kind', p_kind,
                                             'side', CASE WHEN l_delta[i] < 0 THEN 'debit' ELSE 'credit' END);
      RETURN;
    END IF;
    IF p_kind IN ('issuance', 'allocation', 'transfer') AND u_serials THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNIT_NOT_TRANSFERABLE'::text,
                          jsonb_build_object('unit', l_unit[i], 'kind', p_kind);
      RETURN;
    END IF;
    IF p_kind IN ('credit_intake', 'intake_reversal') AND NOT u_serials THEN
      RAISE EXCEPTION 'gx_post: % carries credits (JCR, JCM), not %', p_kind, l_unit[i] USING ERRCODE = '22023';
    END IF;
    IF l_delta[i] < 0 AND a_state[k] <> 'open' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', l_acc[i], 'state', a_state[k], 'side', 'debit');
      RETURN;
    END IF;
    IF l_delta[i] > 0 AND a_state[k] = 'closed' THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                          jsonb_build_object('account', l_acc[i], 'state', a_state[k], 'side', 'credit');
      RETURN;
    END IF;
  END LOOP;

  IF p_kind = 'transfer' AND (SELECT count(DISTINCT a) FROM unnest(l_acc) a) < 2 THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SAME_ACCOUNT'::text,
                        jsonb_build_object('account', l_acc[1]);
    RETURN;
  END IF;
  IF p_kind = 'correction' AND NOT EXISTS (
       SELECT 1 FROM unnest(l_acc) a WHERE a_type[array_position(a_num, a)] = 900) THEN
    RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                        jsonb_build_object('kind', p_kind, 'detail', 'a correction moves units to or from the adjustment account (900)');
    RETURN;
  END IF;
  -- Double entry: but for issuance, every unit type and vintage nets to zero.
  IF p_kind <> 'issuance' AND EXISTS (
       SELECT 1 FROM unnest(l_unit, l_vint, l_delta) x(unit, vintage, delta)
        GROUP BY x.unit, x.vintage HAVING sum(x.delta) <> 0) THEN
    RAISE EXCEPTION 'gx_post: the lines of a % do not balance per unit type and vintage', p_kind USING ERRCODE = '22023';
  END IF;
  IF p_kind = 'issuance' AND EXISTS (SELECT 1 FROM unnest(l_unit, l_delta) x(unit, delta) WHERE x.delta < 0 OR x.unit <> 'GXA') THEN
    RAISE EXCEPTION 'gx_post: an issuance creates GXA only' USING ERRCODE = '22023';
  END IF;

  -- 4. Enough units on every debited account (net per account, unit type and vintage);
  --    the first shortfall in account, unit, vintage order is named.
  FOR r IN
    SELECT x.acc AS account, x.unit, x.vintage, -sum(x.delta) AS needs, x.id AS account_id,
           a_type[array_position(a_num, x.acc)] AS account_type
      FROM unnest(l_acc, l_unit, l_vint, l_delta, l_id) x(acc, unit, vintage, delta, id)
     GROUP BY x.acc, x.unit, x.vintage, x.id
    HAVING sum(x.delta) < 0
     ORDER BY x.acc, x.unit, x.vintage
  LOOP
    IF r.account_type NOT IN (400, 900) THEN
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
    END IF;
  END LOOP;

  -- 5. Serial blocks: required for credit intake, must add up, must be new (as in 0002).
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

  -- 6. Write: lines, balances (by primary key), serial blocks, then the entry.
  v_id := nextval('journal_entry_seq');
  INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
  SELECT v_id, x.ord, x.id, x.unit, x.vintage, x.delta
    FROM unnest(l_id, l_unit, l_vint, l_delta) WITH ORDINALITY x(id, unit, vintage, delta, ord);
  FOR r IN
    SELECT x.id, x.unit, x.vintage, sum(x.delta) AS q
      FROM unnest(l_id, l_unit, l_vint, l_delta) x(id, unit, vintage, delta)
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  LOOP
    UPDATE balances b SET quantity = b.quantity + r.q
     WHERE b.account_id = r.id AND b.unit_type = r.unit AND b.vintage = r.vintage;
    IF NOT FOUND THEN
      INSERT INTO balances (account_id, account_type, unit_type, vintage, quantity)
      VALUES (r.id, a_type[array_position(a_id, r.id)], r.unit, r.vintage, r.q);
    END IF;
  END LOOP;
  IF p_kind = 'credit_intake' THEN
    INSERT INTO serial_blocks (entry_id, unit_type, serial_prefix, serial_first, serial_last, digits, account_id, vintage)
    SELECT v_id, s->>'unit', s->>'prefix', (s->>'first')::bigint, (s->>'last')::bigint, (s->>'digits')::smallint,
           a_id[array_position(a_num, s->>'account')], (s->>'vintage')::smallint
      FROM jsonb_array_elements(v_serials) s;
  END IF;
  -- The same text as gx_entry_lines_text(v_id): line_no, account number, unit, vintage, delta.
  SELECT string_agg(concat_ws(',', x.ord, x.acc, x.unit, x.vintage, x.delta), ';' ORDER BY x.ord) INTO v_lines_text
    FROM unnest(l_acc, l_unit, l_vint, l_delta) WITH ORDINALITY x(acc, unit, vintage, delta, ord);
  INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                               reason, approved_by, reverses_entry, posted_at, entry_hash)
  VALUES (v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
          coalesce(p_approved_by, ''), p_reverses, v_now,
          gx_entry_digest(v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
                          coalesce(p_approved_by, ''), p_reverses, v_now, v_lines_text,
                          CASE WHEN p_kind = 'credit_intake' THEN gx_entry_serials_text(v_id) END));
  INSERT INTO journal_unsealed (entry_id) VALUES (v_id);
  RETURN QUERY SELECT 'posted'::text, v_id, NULL::text, NULL::jsonb;
END $$;

-- ---- gx_post_transfers: many transfers in one call -------------------------------------
-- The batch's plan, for gx_post_transfers (not called on its own): for every side of every
-- transfer (side j = i: the debit of transfer i, j = n + i: its credit) the index of its
-- account in p_accounts (NULL: unknown) and its balance slot; per slot (one account, unit
-- type and vintage) the account index, unit, vintage, the quantity held now (NULL: no
-- balance row yet) and where that row is (its ctid: the caller holds the account's lock,
-- so the row stays where it is until the caller updates it); per transfer the first transfer of the batch with the same
-- idempotency key. Arrays are matched with arrays in memory by hash joins (never by
-- nested loops, which grow with the square of the batch); the balances are read by index,
-- one look-up per slot. PL/pgSQL, so that its plan is made once per session.
CREATE FUNCTION gx_transfers_plan(p_accounts text[], p_account_ids bigint[], p_keys text[], p_from text[], p_to text[],
                                  p_units text[], p_vintages smallint[],
                                  OUT side_account integer[], OUT side_slot integer[], OUT slot_account integer[],
                                  OUT slot_unit text[], OUT slot_vintage smallint[], OUT slot_quantity bigint[],
                                  OUT slot_row tid[], OUT key_first integer[])
LANGUAGE plpgsql STABLE
SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan
SET enable_nestloop = off SET enable_hashjoin = on SET enable_mergejoin = off SET jit = off AS $$
BEGIN
  WITH acc AS (SELECT a.num, a.k::integer AS k FROM unnest(p_accounts) WITH ORDINALITY a(num, k)),
       sides AS MATERIALIZED (
         SELECT x.j::integer AS j, acc.k, x.u, x.v
           FROM unnest(p_from || p_to, p_units || p_units, p_vintages || p_vintages) WITH ORDINALITY x(num, u, v, j)
           LEFT JOIN acc ON acc.num = x.num),
       slots AS MATERIALIZED (
         SELECT d.k, d.u, d.v, (row_number() OVER ())::integer AS slot
           FROM (SELECT DISTINCT sides.k, sides.u, sides.v FROM sides WHERE sides.k IS NOT NULL) d),
       keys AS (SELECT x.key, min(x.i)::integer AS first FROM unnest(p_keys) WITH ORDINALITY x(key, i) GROUP BY x.key)
  SELECT sd.k, sd.slot, sl.k, sl.u, sl.v, sl.q, sl.row, kf.first
    INTO side_account, side_slot, slot_account, slot_unit, slot_vintage, slot_quantity, slot_row, key_first
    FROM (SELECT array_agg(sides.k ORDER BY sides.j) AS k, array_agg(slots.slot ORDER BY sides.j) AS slot
            FROM sides LEFT JOIN slots ON slots.k = sides.k AND slots.u = sides.u AND slots.v = sides.v) sd,
         (SELECT array_agg(slots.k ORDER BY slots.slot) AS k, array_agg(slots.u ORDER BY slots.slot) AS u,
                 array_agg(slots.v ORDER BY slots.slot) AS v, array_agg(b.quantity ORDER BY slots.slot) AS q,
                 array_agg(b.ctid ORDER BY slots.slot) AS row
            FROM slots
            LEFT JOIN LATERAL (SELECT b.quantity, b.ctid FROM balances b
                                WHERE b.account_id = p_account_ids[slots.k] AND b.unit_type = slots.u
                                  AND b.vintage = slots.v LIMIT 1) b ON true) sl,
         (SELECT array_agg(keys.first ORDER BY x.i) AS first
            FROM unnest(p_keys) WITH ORDINALITY x(key, i) JOIN keys ON keys.key = x.key) kf;
END $$;

-- Posts n transfers (transfer i: p_keys[i], p_shas[i], p_cause_types[i], p_cause_refs[i],
-- p_from[i] -> p_to[i], p_quantities[i] units of p_units[i] / p_vintages[i]) in the order
-- given, each exactly as gx_post would post it on its own at that point: the same checks
-- in the same order, the same refusal and detail, a key seen before (in the journal or
-- earlier in this call) answered as duplicate or conflict, a refused transfer changing
-- nothing and the next one seeing the balances without it. Returns one row per transfer:
-- (ord, outcome, entry_id, check_code, detail), outcome posted | duplicate | conflict |
-- refused.
--
-- It never raises for a refusal, so it can run inside a caller's transaction (the intake
-- consumer commits its inbox and the postings together). It raises only for arguments no
-- caller should send (22023: arrays of different lengths, NULLs, a quantity <= 0, an
-- unknown cause type) and when other transactions keep committing this batch's
-- idempotency keys (40001 after 3 attempts: run the transaction again).
--
-- Work per call, whatever n is: one statement locks every account involved (account_id
-- order, the one lock order); one (gx_transfers_plan) matches sides, balances and keys
-- and reads the balances; one probes the idempotency keys; a PL/pgSQL loop over arrays
-- decides each transfer; one statement writes all lines, balances, entries and
-- journal_unsealed rows. The write runs in a subtransaction: if another transaction
-- commits one of the keys between the probe and the write (a unique violation), only the
-- write is undone and the batch is decided again (the account locks, taken before, stay).
CREATE FUNCTION gx_post_transfers(p_keys text[], p_shas text[], p_cause_types text[], p_cause_refs text[],
                                  p_from text[], p_to text[], p_units text[], p_vintages smallint[],
                                  p_quantities bigint[])
RETURNS TABLE (ord integer, outcome text, entry_id bigint, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER
-- Joins with tables are index look-ups whatever the (unknown) sizes of the arrays.
SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan
SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  n        integer := coalesce(cardinality(p_keys), 0);
  v_now    timestamptz := clock_timestamp();
  -- the accounts involved, as locked
  a_num    text[];
  a_id     bigint[];
  a_type   smallint[];
  a_state  text[];
  -- gx_transfers_plan's answer (see there)
  sd_k     integer[];
  sd_slot  integer[];
  s_k      integer[];
  s_unit   text[];
  s_vint   smallint[];
  s_q0     bigint[];
  s_row    tid[];
  i_first  integer[];
  s_q      bigint[];     -- per slot: the quantity as the transfers decided so far leave it
  i_entry  bigint[];     -- per transfer: the entry holding its key (in the journal, or posted
  i_sha    text[];       -- earlier in this batch), indexed by the key's first transfer
  -- unit types that may move between holding accounts; all unit types
  u_plain  text[];
  u_all    text[];
  -- outcomes
  o_outcome text[];
  o_entry  bigint[];
  o_code   text[];
  o_detail jsonb[];
  w_id     bigint[];     -- the new entry of each transfer posted, else NULL
  kf integer; kt integer; sf integer; st integer; g integer; q bigint; v_held bigint;
  r        record;
  m        integer;
  v_new_rows boolean;
  v_ok     boolean;
  v_constraint text;
BEGIN
  IF n = 0 THEN RETURN; END IF;
  IF cardinality(p_shas) IS DISTINCT FROM n OR cardinality(p_cause_types) IS DISTINCT FROM n
     OR cardinality(p_cause_refs) IS DISTINCT FROM n OR cardinality(p_from) IS DISTINCT FROM n
     OR cardinality(p_to) IS DISTINCT FROM n OR cardinality(p_units) IS DISTINCT FROM n
     OR cardinality(p_vintages) IS DISTINCT FROM n OR cardinality(p_quantities) IS DISTINCT FROM n THEN
    RAISE EXCEPTION 'gx_post_transfers: every array needs one element per transfer (% keys)', n USING ERRCODE = '22023';
  END IF;
  IF array_position(p_keys, NULL) IS NOT NULL OR array_position(p_shas, NULL) IS NOT NULL
     OR array_position(p_cause_refs, NULL) IS NOT NULL OR '' = ANY (p_cause_refs)
     OR array_position(p_from, NULL) IS NOT NULL OR array_position(p_to, NULL) IS NOT NULL
     OR array_position(p_units, NULL) IS NOT NULL OR array_position(p_vintages, NULL) IS NOT NULL
     OR array_position(p_quantities, NULL) IS NOT NULL OR NOT (0 < ALL (p_quantities))
     OR array_position(p_cause_types, NULL) IS NOT NULL
     OR NOT (p_cause_types <@ ARRAY['user', 'connector_message', 'workflow_step', 'system']) THEN
    RAISE EXCEPTION 'gx_post_transfers: a key, hash, cause, account, unit, vintage or a quantity > 0 is missing'
      USING ERRCODE = '22023';
  END IF;

  -- 1. Lock every account involved, in account_id order, reading what the checks need.
  SELECT array_agg(t.account_number), array_agg(t.account_id), array_agg(t.account_type), array_agg(t.state)
    INTO a_num, a_id, a_type, a_state
    FROM (SELECT a.account_number, a.account_id, a.account_type, a.state FROM accounts a
           WHERE a.account_number = ANY (p_from || p_to) ORDER BY a.account_id FOR NO KEY UPDATE) t;
  a_num := coalesce(a_num, '{}');
  SELECT array_agg(ut.code) FILTER (WHERE NOT ut.has_serials), array_agg(ut.code) INTO u_plain, u_all FROM unit_types ut;

  FOR attempt IN 1..3 LOOP
    -- 2. After the locks: accounts, balance slots and key groups of the batch, the
    --    balances involved, and the keys the journal holds already (as a rule none).
    SELECT p.side_account, p.side_slot, p.slot_account, p.slot_unit, p.slot_vintage, p.slot_quantity, p.slot_row,
           p.key_first
      INTO sd_k, sd_slot, s_k, s_unit, s_vint, s_q0, s_row, i_first
      FROM gx_transfers_plan(a_num, a_id, p_keys, p_from, p_to, p_units, p_vintages) p;
    s_q := s_q0;
    i_entry := array_fill(NULL::bigint, ARRAY[n]);
    i_sha := array_fill(NULL::text, ARRAY[n]);
    FOR r IN SELECT x.i::integer AS i, e.entry_id, e.request_sha256
               FROM unnest(p_keys) WITH ORDINALITY x(key, i)
               JOIN LATERAL (SELECT e.entry_id, e.request_sha256 FROM journal_entries e
                              WHERE e.idempotency_key = x.key LIMIT 1) e ON true LOOP
      i_entry[i_first[r.i]] := r.entry_id;
      i_sha[i_first[r.i]] := r.request_sha256;
    END LOOP;

    -- 3. Decide each transfer in order, as gx_post would.
    o_outcome := array_fill(NULL::text, ARRAY[n]);
    o_entry := array_fill(NULL::bigint, ARRAY[n]);
    o_code := array_fill(NULL::text, ARRAY[n]);
    o_detail := array_fill(NULL::jsonb, ARRAY[n]);
    w_id := array_fill(NULL::bigint, ARRAY[n]);
    m := 0;
    v_new_rows := false;
    FOR i IN 1..n LOOP
      kf := sd_k[i];
      kt := sd_k[n + i];
      q := p_quantities[i];
      IF kf IS NULL OR kt IS NULL THEN
        o_outcome[i] := 'refused';
        o_code[i] := 'UNKNOWN_ACCOUNT';
        o_detail[i] := jsonb_build_object('accounts', to_jsonb(ARRAY(
                         SELECT DISTINCT x FROM unnest(ARRAY[p_from[i], p_to[i]]) x WHERE x <> ALL (a_num) ORDER BY x)));
        CONTINUE;
      END IF;
      g := i_first[i];
      IF i_entry[g] IS NOT NULL THEN
        o_entry[i] := i_entry[g];
        IF i_sha[g] = p_shas[i] THEN
          o_outcome[i] := 'duplicate';
        ELSE
          o_outcome[i] := 'conflict';
          o_code[i] := 'IDEMPOTENCY_CONFLICT';
          o_detail[i] := jsonb_build_object('idempotency_key', p_keys[i], 'entry_id', i_entry[g]);
        END IF;
        CONTINUE;
      END IF;
      IF NOT (a_type[kf] = 100 AND a_type[kt] = 100 AND a_state[kf] = 'open' AND a_state[kt] <> 'closed'
              AND kf <> kt AND p_units[i] = ANY (u_plain)) THEN
        -- Refused: the first check that fails, in gx_post's order (line 1, line 2, then
        -- the pair).
        o_outcome[i] := 'refused';
        IF NOT p_units[i] = ANY (u_all) THEN
          o_code[i] := 'UNKNOWN_UNIT_TYPE';
          o_detail[i] := jsonb_build_object('unit', p_units[i]);
        ELSIF a_type[kf] = 300 THEN
          o_code[i] := 'SURRENDERED_UNITS_FINAL';
          o_detail[i] := jsonb_build_object('account', p_from[i]);
        ELSIF a_type[kf] <> 100 THEN
          o_code[i] := 'ACCOUNT_TYPE_NOT_ALLOWED';
          o_detail[i] := jsonb_build_object('account', p_from[i], 'account_type', a_type[kf], 'kind', 'transfer',
                                            'side', 'debit');
        ELSIF NOT p_units[i] = ANY (u_plain) THEN
          o_code[i] := 'UNIT_NOT_TRANSFERABLE';
          o_detail[i] := jsonb_build_object('unit', p_units[i], 'kind', 'transfer');
        ELSIF a_state[kf] <> 'open' THEN
          o_code[i] := 'ACCOUNT_NOT_OPEN';
          o_detail[i] := jsonb_build_object('account', p_from[i], 'state', a_state[kf], 'side', 'debit');
        ELSIF a_type[kt] <> 100 THEN
          o_code[i] := 'ACCOUNT_TYPE_NOT_ALLOWED';
          o_detail[i] := jsonb_build_object('account', p_to[i], 'account_type', a_type[kt], 'kind', 'transfer',
                                            'side', 'credit');
        ELSIF a_state[kt] = 'closed' THEN
          o_code[i] := 'ACCOUNT_NOT_OPEN';
          o_detail[i] := jsonb_build_object('account', p_to[i], 'state', a_state[kt], 'side', 'credit');
        ELSE
          o_code[i] := 'SAME_ACCOUNT';
          o_detail[i] := jsonb_build_object('account', p_from[i]);
        END IF;
        CONTINUE;
      END IF;
      sf := sd_slot[i];
      st := sd_slot[n + i];
      v_held := coalesce(s_q[sf], 0);
      IF v_held < q THEN
        o_outcome[i] := 'refused';
        o_code[i] := 'INSUFFICIENT_BALANCE';
        o_detail[i] := jsonb_build_object('account', p_from[i], 'unit', p_units[i], 'vintage', p_vintages[i],
                                          'holds', v_held, 'needs', q, 'kind', 'transfer');
        CONTINUE;
      END IF;
      s_q[sf] := v_held - q;
      IF s_q[st] IS NULL THEN
        v_new_rows := true;
        s_q[st] := q;
      ELSE
        s_q[st] := s_q[st] + q;
      END IF;
      w_id[i] := nextval('journal_entry_seq');
      o_outcome[i] := 'posted';
      o_entry[i] := w_id[i];
      i_entry[g] := w_id[i];
      i_sha[g] := p_shas[i];
      m := m + 1;
    END LOOP;

    -- 4. Write everything in one statement (two when a balance row is new).
    EXIT WHEN m = 0;
    BEGIN
      WITH lines AS (
             INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
             SELECT x.id, 1, a_id[sd_k[x.i]], x.u, x.v, -x.q
               FROM unnest(w_id, p_units, p_vintages, p_quantities) WITH ORDINALITY x(id, u, v, q, i)
              WHERE x.id IS NOT NULL
             UNION ALL
             SELECT x.id, 2, a_id[sd_k[n + x.i]], x.u, x.v, x.q
               FROM unnest(w_id, p_units, p_vintages, p_quantities) WITH ORDINALITY x(id, u, v, q, i)
              WHERE x.id IS NOT NULL),
           -- The balance rows read by gx_transfers_plan, found again by where they are.
           bal AS (
             UPDATE balances b SET quantity = b.quantity + (x.q - x.q0)
               FROM unnest(s_row, s_k, s_unit, s_vint, s_q0, s_q) x(row, k, u, v, q0, q)
              WHERE x.q0 IS NOT NULL AND x.q <> x.q0 AND b.ctid = x.row
                AND b.account_id = a_id[x.k] AND b.unit_type = x.u AND b.vintage = x.v
             RETURNING 1),
           entries AS (
             INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                                          reason, approved_by, reverses_entry, posted_at, entry_hash)
             SELECT x.id, 'transfer', x.key, x.sha, x.ct, x.cr, '', '', NULL, v_now,
                    gx_entry_digest(x.id, 'transfer', x.key, x.sha, x.ct, x.cr, '', '', NULL, v_now,
                                    gx_transfer_lines_text(x.f, x.t, x.u, x.v, x.q), NULL)
               FROM unnest(w_id, p_keys, p_shas, p_cause_types, p_cause_refs, p_from, p_to, p_units, p_vintages,
                           p_quantities) x(id, key, sha, ct, cr, f, t, u, v, q)
              WHERE x.id IS NOT NULL),
           unsealed AS (INSERT INTO journal_unsealed (entry_id) SELECT x.id FROM unnest(w_id) x(id) WHERE x.id IS NOT NULL)
      SELECT (SELECT count(*) FROM bal) = (SELECT count(*) FROM unnest(s_q0, s_q) x(q0, q) WHERE x.q0 <> x.q)
        INTO v_ok;
      IF NOT v_ok THEN
        RAISE EXCEPTION 'gx_post_transfers: a balance row moved while its account was locked' USING ERRCODE = 'XX000';
      END IF;
      IF v_new_rows THEN
        INSERT INTO balances (account_id, account_type, unit_type, vintage, quantity)
        SELECT a_id[x.k], a_type[x.k], x.u, x.v, x.q
          FROM unnest(s_k, s_unit, s_vint, s_q0, s_q) x(k, u, v, q0, q)
         WHERE x.q0 IS NULL AND x.q IS NOT NULL;
      END IF;
      EXIT;
    EXCEPTION WHEN unique_violation THEN
      -- Another transaction committed one of these keys after our probe: decide again.
      GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
      IF v_constraint <> 'journal_entries_idempotency_key_key' THEN RAISE; END IF;
      IF attempt = 3 THEN
        RAISE EXCEPTION 'gx_post_transfers: idempotency keys of this batch keep being posted concurrently'
          USING ERRCODE = '40001';
      END IF;
    END;
  END LOOP;

  RETURN QUERY SELECT x.i::integer, x.o, x.e, x.c, x.d
                 FROM unnest(o_outcome, o_entry, o_code, o_detail) WITH ORDINALITY x(o, e, c, d, i);
END $$;

-- ---- the sealer, set-based -----------------------------------------------------------------
-- Links committed entries into the hash chain (ADR 0005), oldest entry id first; returns
-- how many. It takes up to p_max entry ids off journal_unsealed (an index range from the
-- lowest, so its cost follows p_max, not the backlog), reads their hashes, computes the
-- chain hashes in memory and writes the links in one INSERT. Only one sealer works at a
-- time (others return 0 at once). Plans are made for each call (a few a second), so that
-- they know p_max and the number of ids.
CREATE OR REPLACE FUNCTION gx_seal_journal(p_max integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  v_seq    bigint;
  v_prev   text;
  v_ids    bigint[];
  v_hashes text[];
  v_prevs  text[];
  v_chain  text[];
  n        integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7390412238) THEN RETURN 0; END IF;
  v_ids := ARRAY(SELECT u.entry_id FROM journal_unsealed u ORDER BY u.entry_id LIMIT p_max);
  IF cardinality(v_ids) = 0 THEN RETURN 0; END IF;
  DELETE FROM journal_unsealed u WHERE u.entry_id = ANY (v_ids);
  SELECT array_agg(e.entry_id ORDER BY e.entry_id), array_agg(e.entry_hash ORDER BY e.entry_id)
    INTO v_ids, v_hashes
    FROM journal_entries e WHERE e.entry_id = ANY (v_ids);
  n := coalesce(cardinality(v_ids), 0);
  IF n = 0 THEN RETURN 0; END IF;
  SELECT c.seq, c.chain_hash INTO v_seq, v_prev FROM journal_chain c ORDER BY c.seq DESC LIMIT 1;
  v_seq := coalesce(v_seq, 0);
  v_prev := coalesce(v_prev, repeat('0', 64));
  v_prevs := array_fill(NULL::text, ARRAY[n]);
  v_chain := array_fill(NULL::text, ARRAY[n]);
  FOR i IN 1..n LOOP
    v_prevs[i] := v_prev;
    v_prev := encode(sha256(convert_to(v_prev || v_hashes[i], 'UTF8')), 'hex');
    v_chain[i] := v_prev;
  END LOOP;
  INSERT INTO journal_chain (seq, entry_id, prev_hash, chain_hash)
  SELECT v_seq + x.i, x.id, x.prev, x.chain FROM unnest(v_ids, v_prevs, v_chain) WITH ORDINALITY x(id, prev, chain, i);
  RETURN n;
END $$;

-- How far the sealer is behind: entries committed but not yet linked, and the posting
-- time of the oldest of them (NULL when none). For hubd's metrics and `hubctl status`.
CREATE FUNCTION gx_journal_backlog() RETURNS TABLE (unsealed bigint, oldest_posted_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT (SELECT count(*) FROM journal_unsealed),
         (SELECT e.posted_at FROM journal_entries e
           WHERE e.entry_id = (SELECT min(u.entry_id) FROM journal_unsealed u))
$$;

-- ---- rights ----------------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION gx_post_transfers(text[], text[], text[], text[], text[], text[], text[], smallint[], bigint[]),
  gx_journal_backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gx_post_transfers(text[], text[], text[], text[], text[], text[], text[], smallint[], bigint[]),
  gx_journal_backlog() TO gx_app;
REVOKE EXECUTE ON FUNCTION gx_transfers_plan(text[], bigint[], text[], text[], text[], text[], smallint[]) FROM PUBLIC;
