-- A PROTOTYPE of a set-based batch posting function, for measurement only
-- (bench/ledger --modes set_batched --sql bench/sql/gx_post_transfers.sql).
--
-- Posts n transfers in one call with a fixed number of statements whatever n is, instead
-- of n calls of gx_post (about 20 statements each, plus a round trip each):
--   lock all accounts (account_id order), read them; look up all idempotency keys; check
--   every balance with the postings applied in order (a running sum per account); then
--   one INSERT of all lines, one UPDATE of all balances, one INSERT of all entries (digest
--   computed in the statement, the same text as gx_entry_digest), one INSERT into
--   journal_unsealed.
-- When anything is not plain (an unknown account or unit, a key seen before or twice, a
-- balance that would go below zero at some posting, an account not open, ...) it falls
-- back to calling gx_post for each posting in order, which gives every posting the exact
-- outcome (posted, duplicate, conflict, refused) it would have had on its own.
-- Returns one row per posting, in order.
CREATE OR REPLACE FUNCTION gx_post_transfers(p_keys text[], p_shas text[], p_cause_type text, p_cause_ref text,
                                             p_from text[], p_to text[], p_unit text[], p_vintage smallint[],
                                             p_q bigint[])
RETURNS TABLE (ord integer, outcome text, entry_id bigint, check_code text, detail jsonb)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
  n        integer := cardinality(p_keys);
  v_now    timestamptz := clock_timestamp();
  v_ids    bigint[];
  a_num    text[];
  a_id     bigint[];
  v_plain  boolean;
  r        record;
BEGIN
  IF n IS NULL OR n = 0 THEN RETURN; END IF;
  -- 1. Lock every account involved, in account_id order.
  SELECT array_agg(t.account_number), array_agg(t.account_id),
         bool_and(t.account_type = 100 AND t.state = 'open')
    INTO a_num, a_id, v_plain
    FROM (SELECT a.account_number, a.account_id, a.account_type, a.state FROM accounts a
           WHERE a.account_number = ANY (p_from || p_to) ORDER BY a.account_id FOR NO KEY UPDATE) t;
  -- 2. After the locks: is everything plain? (Otherwise the exact path, posting by posting.)
  v_plain := coalesce(v_plain, false)
    AND cardinality(a_num) = (SELECT count(DISTINCT x) FROM unnest(p_from || p_to) x)
    AND NOT EXISTS (SELECT 1 FROM unnest(p_from, p_to, p_unit, p_q) x(f, t, u, q)
                     WHERE f IS NULL OR t IS NULL OR f = t OR q IS NULL OR q <= 0
                        OR NOT EXISTS (SELECT 1 FROM unit_types ut WHERE ut.code = u AND NOT ut.has_serials))
    AND (SELECT count(DISTINCT k) FROM unnest(p_keys) k) = n
    AND NOT EXISTS (SELECT 1 FROM unnest(p_keys) k JOIN journal_entries e ON e.idempotency_key = k)
    -- every debit covered, the postings applied in order
    AND NOT EXISTS (
      SELECT 1 FROM (
        SELECT d.acc, d.delta,
               coalesce(b.quantity, 0) + sum(d.delta) OVER (PARTITION BY d.acc, d.unit, d.vintage ORDER BY d.i, d.side
                                                            ROWS UNBOUNDED PRECEDING) AS after
          FROM (SELECT x.i, 1 AS side, x.f AS acc, x.u AS unit, x.v AS vintage, -x.q AS delta
                  FROM unnest(p_from, p_unit, p_vintage, p_q) WITH ORDINALITY x(f, u, v, q, i)
                UNION ALL
                SELECT x.i, 2, x.t, x.u, x.v, x.q
                  FROM unnest(p_to, p_unit, p_vintage, p_q) WITH ORDINALITY x(t, u, v, q, i)) d
          LEFT JOIN balances b ON b.account_id = a_id[array_position(a_num, d.acc)]
                              AND b.unit_type = d.unit AND b.vintage = d.vintage) s
       WHERE s.delta < 0 AND s.after < 0)
    -- every credited balance row exists already (else the general path inserts it)
    AND NOT EXISTS (
      SELECT 1 FROM unnest(p_to, p_unit, p_vintage) x(t, u, v)
       WHERE NOT EXISTS (SELECT 1 FROM balances b WHERE b.account_id = a_id[array_position(a_num, x.t)]
                                                  AND b.unit_type = x.u AND b.vintage = x.v));
  IF NOT v_plain THEN
    FOR i IN 1..n LOOP
      SELECT * INTO r FROM gx_post(p_keys[i], p_shas[i], 'transfer', p_cause_type, p_cause_ref, '', '', NULL,
                                   jsonb_build_array(
                                     jsonb_build_object('account', p_from[i], 'unit', p_unit[i], 'vintage', p_vintage[i], 'delta', -p_q[i]),
                                     jsonb_build_object('account', p_to[i], 'unit', p_unit[i], 'vintage', p_vintage[i], 'delta', p_q[i])),
                                   '[]'::jsonb);
      RETURN QUERY SELECT i, r.outcome, r.entry_id, r.check_code, r.detail;
    END LOOP;
    RETURN;
  END IF;

  -- 3. Write everything, set-based.
  v_ids := ARRAY(SELECT nextval('journal_entry_seq') FROM generate_series(1, n));
  INSERT INTO journal_lines (entry_id, line_no, account_id, unit_type, vintage, delta)
  SELECT v_ids[x.i], 1, a_id[array_position(a_num, x.f)], x.u, x.v, -x.q
    FROM unnest(p_from, p_unit, p_vintage, p_q) WITH ORDINALITY x(f, u, v, q, i)
  UNION ALL
  SELECT v_ids[x.i], 2, a_id[array_position(a_num, x.t)], x.u, x.v, x.q
    FROM unnest(p_to, p_unit, p_vintage, p_q) WITH ORDINALITY x(t, u, v, q, i);
  UPDATE balances b SET quantity = b.quantity + d.q
    FROM (SELECT a_id[array_position(a_num, x.acc)] AS id, x.u, x.v, sum(x.q) AS q
            FROM (SELECT f AS acc, u, v, -q AS q FROM unnest(p_from, p_unit, p_vintage, p_q) y(f, u, v, q)
                  UNION ALL
                  SELECT t, u, v, q FROM unnest(p_to, p_unit, p_vintage, p_q) y(t, u, v, q)) x
           GROUP BY 1, 2, 3) d
   WHERE b.account_id = d.id AND b.unit_type = d.u AND b.vintage = d.v;
  INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref,
                               reason, approved_by, reverses_entry, posted_at, entry_hash)
  SELECT v_ids[x.i], 'transfer', x.k, x.s, p_cause_type, p_cause_ref, '', '', NULL, v_now,
         encode(sha256(convert_to(concat_ws(E'\x1f', 'gx-journal-v1', v_ids[x.i]::text, 'transfer', x.k, x.s,
                  p_cause_type, p_cause_ref, '', '', '-',
                  to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                  concat_ws(',', 1, x.f, x.u, x.v, -x.q) || ';' || concat_ws(',', 2, x.t, x.u, x.v, x.q),
                  ''), 'UTF8')), 'hex')
    FROM unnest(p_keys, p_shas, p_from, p_to, p_unit, p_vintage, p_q) WITH ORDINALITY x(k, s, f, t, u, v, q, i);
  INSERT INTO journal_unsealed (entry_id) SELECT unnest(v_ids);
  RETURN QUERY SELECT x.i::integer, 'posted'::text, x.id, NULL::text, NULL::jsonb
                 FROM unnest(v_ids) WITH ORDINALITY x(id, i);
END $$;
GRANT EXECUTE ON FUNCTION gx_post_transfers(text[], text[], text, text, text[], text[], text[], smallint[], bigint[]) TO gx_app;
