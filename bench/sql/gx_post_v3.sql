-- A PROTOTYPE of a faster gx_post (migration 0002), for measurement only: it replaces
-- gx_post in the bench's scratch database (bench/ledger --sql bench/sql/gx_post_v3.sql).
-- It is gx_post_v2.sql plus a fast path for the common case, a transfer of one unit type
-- and vintage from one holding account to another (two lines, no serials), which runs
-- 3 SQL statements instead of about 20:
--   1. lock both accounts (account_id order) and read id, type, state, and the unit type;
--   2. after the locks: the idempotency key and the debited balance;
--   3. one statement writing the 2 lines, both balances, the entry and journal_unsealed.
-- The checks are the same, in the same order, with the same refusals; the digest is the
-- text of gx_entry_digest computed in place (Ledger::verify() recomputes it with
-- gx_entry_digest from the tables, so any difference shows as ENTRY_HASH_MISMATCH).
-- Anything else (other kinds, more lines, a credited balance row that does not exist yet)
-- takes the general path of gx_post_v2.sql.
CREATE OR REPLACE FUNCTION gx_post(p_key text, p_sha text, p_kind text, p_cause_type text, p_cause_ref text,
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
  u_transferable boolean;
  u_serials boolean;
  v_held  bigint;
  v_lines_text text;
  -- fast path
  f_from  text;
  f_to    text;
  f_unit  text;
  f_vint  smallint;
  f_q     bigint;
  f_ok    boolean := false;
  f_hash  text;
  f_n     integer;
BEGIN
  IF p_lines IS NULL OR jsonb_typeof(p_lines) <> 'array' OR jsonb_array_length(p_lines) = 0 THEN
    RAISE EXCEPTION 'gx_post: p_lines must be a non-empty JSON array' USING ERRCODE = '22023';
  END IF;

  -- ---- fast path: a plain transfer between two accounts ----
  IF p_kind = 'transfer' AND jsonb_array_length(p_lines) = 2 AND jsonb_array_length(v_serials) = 0 THEN
    f_from := p_lines->0->>'account';
    f_to := p_lines->1->>'account';
    f_unit := p_lines->0->>'unit';
    f_vint := (p_lines->0->>'vintage')::smallint;
    f_q := -(p_lines->0->>'delta')::bigint;
    f_ok := f_from IS DISTINCT FROM f_to AND f_from IS NOT NULL AND f_to IS NOT NULL AND f_q > 0
            AND f_unit = p_lines->1->>'unit' AND f_vint = (p_lines->1->>'vintage')::smallint
            AND (p_lines->1->>'delta')::bigint = f_q;
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
    -- 2. After the locks: the idempotency key, and what the debited account holds.
    SELECT e.entry_id, e.request_sha256,
           (SELECT b.quantity FROM balances b WHERE b.account_id = a_id[array_position(a_num, f_from)]
               AND b.unit_type = f_unit AND b.vintage = f_vint) AS quantity
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
    -- The line checks of the general path, line 1 (debit) then line 2 (credit).
    FOR i IN 1..2 LOOP
      k := array_position(a_num, CASE WHEN i = 1 THEN f_from ELSE f_to END);
      IF NOT u_known THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNKNOWN_UNIT_TYPE'::text, jsonb_build_object('unit', f_unit);
        RETURN;
      END IF;
      IF i = 1 AND a_type[k] = 300 THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'SURRENDERED_UNITS_FINAL'::text,
                            jsonb_build_object('account', f_from);
        RETURN;
      END IF;
      IF a_type[k] <> 100 THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_TYPE_NOT_ALLOWED'::text,
                            jsonb_build_object('account', CASE WHEN i = 1 THEN f_from ELSE f_to END,
                                               'account_type', a_type[k], 'kind', p_kind,
                                               'side', CASE WHEN i = 1 THEN 'debit' ELSE 'credit' END);
        RETURN;
      END IF;
      IF u_serials THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'UNIT_NOT_TRANSFERABLE'::text,
                            jsonb_build_object('unit', f_unit, 'kind', p_kind);
        RETURN;
      END IF;
      IF i = 1 AND a_state[k] <> 'open' THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                            jsonb_build_object('account', f_from, 'state', a_state[k], 'side', 'debit');
        RETURN;
      END IF;
      IF i = 2 AND a_state[k] = 'closed' THEN
        RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'ACCOUNT_NOT_OPEN'::text,
                            jsonb_build_object('account', f_to, 'state', a_state[k], 'side', 'credit');
        RETURN;
      END IF;
    END LOOP;
    v_held := coalesce(v_existing.quantity, 0);
    IF v_held < f_q THEN
      RETURN QUERY SELECT 'refused'::text, NULL::bigint, 'INSUFFICIENT_BALANCE'::text,
                          jsonb_build_object('account', f_from, 'unit', f_unit, 'vintage', f_vint,
                                             'holds', v_held, 'needs', f_q, 'kind', p_kind);
      RETURN;
    END IF;
    -- 3. One statement writes everything (the credited balance row must exist).
    v_id := nextval('journal_entry_seq');
    f_hash := encode(sha256(convert_to(concat_ws(E'\x1f', 'gx-journal-v1', v_id::text, p_kind, p_key, p_sha,
                p_cause_type, p_cause_ref, coalesce(p_reason, ''), coalesce(p_approved_by, ''),
                coalesce(p_reverses::text, '-'),
                to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                concat_ws(',', 1, f_from, f_unit, f_vint, -f_q) || ';' || concat_ws(',', 2, f_to, f_unit, f_vint, f_q),
                ''), 'UTF8')), 'hex');
    WITH lines AS (
           INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
           VALUES (v_id, 1, a_id[array_position(a_num, f_from)], f_unit, f_vint, -f_q),
                  (v_id, 2, a_id[array_position(a_num, f_to)], f_unit, f_vint, f_q)),
         debit AS (
           UPDATE balances b SET quantity = b.quantity - f_q
            WHERE b.account_id = a_id[array_position(a_num, f_from)] AND b.unit_type = f_unit AND b.vintage = f_vint),
         credit AS (
           UPDATE balances b SET quantity = b.quantity + f_q
            WHERE b.account_id = a_id[array_position(a_num, f_to)] AND b.unit_type = f_unit AND b.vintage = f_vint
           RETURNING 1),
         entry AS (
           INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                                        reason, approved_by, reverses_entry, posted_at, entry_hash)
           VALUES (v_id, p_kind, p_key, p_sha, p_cause_type, p_cause_ref, coalesce(p_reason, ''),
                   coalesce(p_approved_by, ''), p_reverses, v_now, f_hash)),
         unsealed AS (INSERT INTO journal_unsealed (entry_id) VALUES (v_id))
    SELECT count(*) INTO f_n FROM credit;
    IF f_n = 0 THEN
      INSERT INTO balances (account_id, account_type, unit_type, vintage, quantity)
      VALUES (a_id[array_position(a_num, f_to)], a_type[array_position(a_num, f_to)], f_unit, f_vint, f_q);
    END IF;
    RETURN QUERY SELECT 'posted'::text, v_id, NULL::text, NULL::jsonb;
    RETURN;
  END IF;
  -- ---- general path (gx_post_v2.sql) ----
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

  -- 2. Idempotency, after the locks.
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

  -- 3. Which account types each kind may debit and credit.
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
    SELECT true, ut.transferable, ut.has_serials INTO u_known, u_transferable, u_serials
      FROM unit_types ut WHERE ut.code = l_unit[i];
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
  IF p_kind <> 'issuance' AND EXISTS (
       SELECT 1 FROM unnest(l_unit, l_vint, l_delta) x(unit, vintage, delta)
        GROUP BY x.unit, x.vintage HAVING sum(x.delta) <> 0) THEN
    RAISE EXCEPTION 'gx_post: the lines of a % do not balance per unit type and vintage', p_kind USING ERRCODE = '22023';
  END IF;
  IF p_kind = 'issuance' AND EXISTS (SELECT 1 FROM unnest(l_unit, l_delta) x(unit, delta) WHERE x.delta < 0 OR x.unit <> 'GXA') THEN
    RAISE EXCEPTION 'gx_post: an issuance creates GXA only' USING ERRCODE = '22023';
  END IF;

  -- 4. Enough units on every debited account (net per account, unit type and vintage).
  FOR r IN
    SELECT x.acc AS account, x.unit, x.vintage, -sum(x.delta) AS needs, x.id AS account_id,
           a_type[array_position(a_num, x.acc)] AS account_type
      FROM unnest(l_acc, l_unit, l_vint, l_delta, l_id) x(acc, unit, vintage, delta, id)
     GROUP BY x.acc, x.unit, x.vintage, x.id
    HAVING sum(x.delta) < 0
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

  -- 5. Serial blocks (credit intake): unchanged but for the account look-up.
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
