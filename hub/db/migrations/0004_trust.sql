-- 0004: trust per connector and the audit trail (docs/trust.md,
-- docs/adr/0007-trust-and-audit.md).
--
-- What the hub accepts from each outside system: the TLS client certificates (or the CAs
-- that issue them) and, separately, the keys that sign its messages (specs/common.md,
-- Transport). Every change goes through the SECURITY DEFINER functions below, which also
-- append an event to the audit trail in the same transaction: gx_app reads these tables
-- but cannot write them. Credentials are never deleted, a revocation is final, and a kid
-- is never used twice for one connector.

-- ---- the audit trail -----------------------------------------------------------------
-- One trail for every administrative act of the hub (trust changes now; logins and other
-- acts of the identity layer later). Append-only for every role, the owner included, and
-- hash-chained: each row's hash covers its content and the previous row's hash, so
-- `hubctl audit verify` finds a row changed or removed behind the triggers' back.
CREATE TABLE audit_events (
  id          bigint PRIMARY KEY CHECK (id > 0),  -- 1, 2, 3, ... without gaps
  occurred_at timestamptz NOT NULL,
  -- Who: "<kind>:<name>", e.g. "os:root" (hubctl), "admin-cert:<sha-256>" (admin API).
  actor       text NOT NULL CHECK (actor ~ '^[a-z][a-z0-9-]*:.+$' AND actor !~ '[[:cntrl:]]'),
  -- What: "<object>.<verb>", e.g. "signing_key.revoked".
  action      text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  object_type text NOT NULL CHECK (object_type ~ '^[a-z][a-z0-9_]*$'),
  object_id   text NOT NULL CHECK (length(object_id) > 0 AND object_id !~ '[[:cntrl:]]'),
  detail      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
  prev_hash   text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id);

CREATE FUNCTION gx_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail (%) is append-only: an event is never changed or deleted',
    TG_TABLE_NAME USING ERRCODE = 'GX900';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_audit_change();

-- The one text layout of an event's hash, used when appending (hubctl audit verify
-- recomputes it independently, in C++).
CREATE FUNCTION gx_audit_digest(p_id bigint, p_at timestamptz, p_actor text, p_action text,
                                p_object_type text, p_object_id text, p_detail jsonb, p_prev text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT encode(sha256(convert_to(concat_ws(E'\x1f', 'gx-audit-v1', p_id::text,
           to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           p_actor, p_action, p_object_type, p_object_id, p_detail::text, p_prev), 'UTF8')), 'hex')
$$;

-- Appends one event; returns its id. Appends are serialized (an advisory lock held to the
-- end of the transaction), so that each row links to the row committed before it:
-- administrative acts are rare, and a linear chain is simple to verify. A caller in a
-- REPEATABLE READ transaction that started before the previous append committed fails on
-- the primary key instead of forking the chain.
CREATE FUNCTION gx_audit_append(p_actor text, p_action text, p_object_type text, p_object_id text,
                                p_detail jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_prev_id   bigint;
  v_prev_hash text;
  v_id        bigint;
  v_at        timestamptz := clock_timestamp();
  v_detail    jsonb := coalesce(p_detail, '{}'::jsonb);
BEGIN
  PERFORM pg_advisory_xact_lock(7390412400);
  SELECT e.id, e.hash INTO v_prev_id, v_prev_hash FROM audit_events e ORDER BY e.id DESC LIMIT 1;
  v_id := coalesce(v_prev_id, 0) + 1;
  v_prev_hash := coalesce(v_prev_hash, repeat('0', 64));
  INSERT INTO audit_events (id, occurred_at, actor, action, object_type, object_id, detail, prev_hash, hash)
  VALUES (v_id, v_at, p_actor, p_action, p_object_type, p_object_id, v_detail, v_prev_hash,
          gx_audit_digest(v_id, v_at, p_actor, p_action, p_object_type, p_object_id, v_detail, v_prev_hash));
  RETURN v_id;
END $$;

-- ---- connectors ------------------------------------------------------------------------
-- The outside systems, and the pseudo-connector `admin`: the operators' TLS client
-- certificates for the admin API (kind 'operator': certificates only, no CA, no signing
-- keys). signature_selector says how a message names its signing key: by JWS `kid`, or
-- by carrying the signer's certificate (XML-DSig KeyInfo, CMS SignerInfo).
CREATE TABLE connectors (
  connector          text PRIMARY KEY CHECK (connector ~ '^[a-z][a-z0-9-]{1,30}$'),
  kind               text NOT NULL CHECK (kind IN ('external', 'operator')),
  signature_selector text CHECK (signature_selector IN ('kid', 'certificate')),
  description        text NOT NULL,
  -- Where final receipts are delivered (specs/common.md, Receipts); NULL: not configured.
  callback_url       text CHECK (callback_url ~ '^https://[^[:space:]]+$'),
  CHECK ((kind = 'external') = (signature_selector IS NOT NULL))
);
INSERT INTO connectors (connector, kind, signature_selector, description) VALUES
  ('gx-market', 'external', 'kid', 'allowance trading market: JWS, the key chosen by kid'),
  ('jcredit', 'external', 'certificate', 'J-Credit registry: XML-DSig, the signer certificate in KeyInfo'),
  ('jcm', 'external', 'certificate', 'JCM registry: XML-DSig, the signer certificate in KeyInfo'),
  ('exchange', 'external', 'certificate', 'exchange settlement files: detached CMS with the signer certificate'),
  ('admin', 'operator', NULL, 'operators calling the admin API: TLS client certificates only');

-- Bumped by every change below; each hubd polls it and reloads its in-memory snapshot.
CREATE TABLE trust_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version   bigint NOT NULL
);
INSERT INTO trust_state (version) VALUES (1);

-- SHA-256 (lower-case hex) of the DER inside the first PEM block with this label.
CREATE FUNCTION gx_pem_der_sha256(p_pem text, p_label text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT encode(sha256(decode(regexp_replace(
           substring(p_pem FROM '-----BEGIN ' || p_label || '-----(.*?)-----END ' || p_label || '-----'),
           '[^A-Za-z0-9+/=]', '', 'g'), 'base64')), 'hex')
$$;

-- One id space for both kinds of credential, so that an id alone names one.
CREATE SEQUENCE trust_credential_id_seq;

CREATE TABLE tls_credentials (
  id                 bigint PRIMARY KEY DEFAULT nextval('trust_credential_id_seq'),
  connector          text NOT NULL REFERENCES connectors,
  kind               text NOT NULL CHECK (kind IN ('certificate', 'ca')),
  certificate_pem    text NOT NULL,
  subject            text NOT NULL,
  issuer             text NOT NULL,
  serial_hex         text NOT NULL,
  fingerprint_sha256 text NOT NULL CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),  -- of the certificate
  spki_sha256        text NOT NULL CHECK (spki_sha256 ~ '^[0-9a-f]{64}$'),         -- of its public key
  key_type           text NOT NULL,
  key_bits           integer NOT NULL CHECK (key_bits > 0),
  not_before         timestamptz NOT NULL,
  not_after          timestamptz NOT NULL,
  registered_at      timestamptz NOT NULL DEFAULT now(),
  registered_by      text NOT NULL,
  revoked_at         timestamptz,
  revoked_by         text,
  revoked_reason     text,
  UNIQUE (connector, fingerprint_sha256),
  CHECK (not_before < not_after),
  CONSTRAINT fingerprint_matches_certificate
    CHECK (fingerprint_sha256 = gx_pem_der_sha256(certificate_pem, 'CERTIFICATE')),
  CONSTRAINT revocation_complete CHECK (
    (revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL) OR
    (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND length(btrim(revoked_reason)) > 0))
);

CREATE TABLE signing_keys (
  id              bigint PRIMARY KEY DEFAULT nextval('trust_credential_id_seq'),
  connector       text NOT NULL REFERENCES connectors,
  kid             text CHECK (kid ~ '^[!-~]{1,128}$'),  -- printable ASCII, no spaces
  key_pem         text NOT NULL,                        -- a CERTIFICATE or a PUBLIC KEY block
  is_certificate  boolean NOT NULL,
  key_type        text NOT NULL,
  key_bits        integer NOT NULL CHECK (key_bits > 0),
  spki_sha256     text NOT NULL CHECK (spki_sha256 ~ '^[0-9a-f]{64}$'),
  cert_sha256     text CHECK (cert_sha256 ~ '^[0-9a-f]{64}$'),
  subject         text,
  issuer          text,
  serial_hex      text,
  cert_not_before timestamptz,
  cert_not_after  timestamptz,
  -- The registered validity window (either end optional); a certificate's own validity
  -- applies as well.
  valid_from      timestamptz,
  valid_to        timestamptz,
  replaces        bigint REFERENCES signing_keys,  -- the key this one rotated out
  registered_at   timestamptz NOT NULL DEFAULT now(),
  registered_by   text NOT NULL,
  revoked_at      timestamptz,
  revoked_by      text,
  revoked_reason  text,
  -- Never reused: rows are never deleted and a kid never changes.
  CONSTRAINT kid_used_once UNIQUE (connector, kid),
  CHECK (valid_from < valid_to),
  CHECK (is_certificate = (cert_sha256 IS NOT NULL AND subject IS NOT NULL AND cert_not_before IS NOT NULL
                           AND cert_not_after IS NOT NULL)),
  CONSTRAINT fingerprint_matches_pem CHECK (CASE WHEN is_certificate
    THEN cert_sha256 = gx_pem_der_sha256(key_pem, 'CERTIFICATE')
    ELSE spki_sha256 = gx_pem_der_sha256(key_pem, 'PUBLIC KEY') END),
  CONSTRAINT revocation_complete CHECK (
    (revoked_at IS NULL AND revoked_by IS NULL AND revoked_reason IS NULL) OR
    (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND length(btrim(revoked_reason)) > 0))
);
CREATE INDEX signing_keys_connector ON signing_keys (connector);

-- Credentials are kept forever: no DELETE or TRUNCATE, for any role. An UPDATE may only
-- record a revocation (once: it is final) or end a key's validity earlier (rotation).
CREATE FUNCTION gx_trust_guard_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kMutable CONSTANT text[] := ARRAY['revoked_at', 'revoked_by', 'revoked_reason', 'valid_to'];
  v_old_to timestamptz;
  v_new_to timestamptz;
BEGIN
  IF TG_OP <> 'UPDATE' THEN
    RAISE EXCEPTION '% keeps every credential ever registered: revoke it instead of deleting it',
      TG_TABLE_NAME USING ERRCODE = 'GX900';
  END IF;
  IF (to_jsonb(NEW) - kMutable) IS DISTINCT FROM (to_jsonb(OLD) - kMutable) THEN
    RAISE EXCEPTION '% %: only a revocation or an earlier end of validity may change a registered credential',
      TG_TABLE_NAME, OLD.id USING ERRCODE = 'GX900';
  END IF;
  IF OLD.revoked_at IS NOT NULL AND (NEW.revoked_at, NEW.revoked_by, NEW.revoked_reason)
                                    IS DISTINCT FROM (OLD.revoked_at, OLD.revoked_by, OLD.revoked_reason) THEN
    RAISE EXCEPTION '% %: a revocation is final', TG_TABLE_NAME, OLD.id USING ERRCODE = 'GX900';
  END IF;
  v_old_to := (to_jsonb(OLD) ->> 'valid_to')::timestamptz;
  v_new_to := (to_jsonb(NEW) ->> 'valid_to')::timestamptz;
  IF v_new_to IS DISTINCT FROM v_old_to AND (v_new_to IS NULL OR v_new_to > v_old_to) THEN
    RAISE EXCEPTION '% %: a validity window may only be shortened', TG_TABLE_NAME, OLD.id USING ERRCODE = 'GX900';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tls_credentials_guard BEFORE UPDATE OR DELETE ON tls_credentials
  FOR EACH ROW EXECUTE FUNCTION gx_trust_guard_change();
CREATE TRIGGER tls_credentials_no_truncate BEFORE TRUNCATE ON tls_credentials
  FOR EACH STATEMENT EXECUTE FUNCTION gx_trust_guard_change();
CREATE TRIGGER signing_keys_guard BEFORE UPDATE OR DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION gx_trust_guard_change();
CREATE TRIGGER signing_keys_no_truncate BEFORE TRUNCATE ON signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION gx_trust_guard_change();

-- ---- the write functions -----------------------------------------------------------------
-- Each returns (outcome, id, check_code, detail): outcome 'registered' / 'rotated' /
-- 'revoked' (a change, audited), 'duplicate' (this very credential is registered already
-- and in force: nothing changed), or 'refused' with check_code and a sentence in detail.
-- The caller parses the PEM (hub/signing) and passes what it found; the database checks
-- that the fingerprints match the PEM. Trust writes are serialized on trust_state.

CREATE FUNCTION gx_trust_state_text(p_revoked_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_revoked_at IS NULL THEN 'in force'
              ELSE 'revoked at ' || to_char(p_revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
$$;

-- p_cert: {pem, subject, issuer, serial_hex, fingerprint_sha256, spki_sha256, key_type,
--          key_bits, not_before, not_after}; p_kind 'certificate' or 'ca'.
CREATE FUNCTION gx_trust_register_tls(p_connector text, p_kind text, p_cert jsonb, p_actor text)
RETURNS TABLE (outcome text, id bigint, check_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_conn record;
  v_old  record;
  v_id   bigint;
BEGIN
  PERFORM 1 FROM trust_state FOR UPDATE;
  SELECT * INTO v_conn FROM connectors c WHERE c.connector = p_connector;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'UNKNOWN_CONNECTOR', format('there is no connector %L', p_connector);
    RETURN;
  END IF;
  IF p_kind = 'ca' AND v_conn.kind = 'operator' THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'CA_NOT_ALLOWED',
      format('%s accepts individual certificates only, not an issuing CA (a CA would admit every certificate it issued)', p_connector);
    RETURN;
  END IF;
  SELECT t.id, t.kind, t.revoked_at INTO v_old FROM tls_credentials t
   WHERE t.connector = p_connector AND t.fingerprint_sha256 = p_cert->>'fingerprint_sha256';
  IF FOUND THEN
    IF v_old.revoked_at IS NULL AND v_old.kind = p_kind THEN
      RETURN QUERY SELECT 'duplicate', v_old.id, NULL::text, format('already registered as credential %s', v_old.id);
    ELSE
      RETURN QUERY SELECT 'refused', v_old.id, CASE WHEN v_old.revoked_at IS NULL THEN 'ALREADY_REGISTERED' ELSE 'KEY_REVOKED' END,
        format('this certificate is registered for %s already, as %s %s (%s)', p_connector,
               replace(v_old.kind, 'certificate', 'client certificate'), v_old.id, gx_trust_state_text(v_old.revoked_at));
    END IF;
    RETURN;
  END IF;
  SELECT t.id, t.revoked_at INTO v_old FROM tls_credentials t
   WHERE t.connector = p_connector AND t.spki_sha256 = p_cert->>'spki_sha256' AND t.revoked_at IS NOT NULL LIMIT 1;
  IF FOUND THEN
    RETURN QUERY SELECT 'refused', v_old.id, 'KEY_REVOKED',
      format('the public key of this certificate was revoked for %s (credential %s, %s); a revoked key is never registered again',
             p_connector, v_old.id, gx_trust_state_text(v_old.revoked_at));
    RETURN;
  END IF;
  INSERT INTO tls_credentials (connector, kind, certificate_pem, subject, issuer, serial_hex, fingerprint_sha256,
                               spki_sha256, key_type, key_bits, not_before, not_after, registered_by)
  VALUES (p_connector, p_kind, p_cert->>'pem', p_cert->>'subject', p_cert->>'issuer', p_cert->>'serial_hex',
          p_cert->>'fingerprint_sha256', p_cert->>'spki_sha256', p_cert->>'key_type', (p_cert->>'key_bits')::integer,
          (p_cert->>'not_before')::timestamptz, (p_cert->>'not_after')::timestamptz, p_actor)
  RETURNING tls_credentials.id INTO v_id;
  UPDATE trust_state SET version = version + 1;
  PERFORM gx_audit_append(p_actor, 'tls_credential.registered', 'tls_credential', v_id::text,
    jsonb_build_object('connector', p_connector, 'kind', p_kind, 'subject', p_cert->>'subject',
                       'issuer', p_cert->>'issuer', 'serial', p_cert->>'serial_hex',
                       'fingerprint_sha256', p_cert->>'fingerprint_sha256',
                       'not_before', p_cert->>'not_before', 'not_after', p_cert->>'not_after'));
  RETURN QUERY SELECT 'registered', v_id, NULL::text, NULL::text;
END $$;

-- p_key: {kid?, pem, is_certificate, key_type, key_bits, spki_sha256, cert_sha256?,
--         subject?, issuer?, serial_hex?, cert_not_before?, cert_not_after?,
--         valid_from?, valid_to?, replaces?}
CREATE FUNCTION gx_trust_register_key(p_connector text, p_key jsonb, p_actor text)
RETURNS TABLE (outcome text, id bigint, check_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_conn  record;
  v_old   record;
  v_id    bigint;
  v_kid   text := nullif(p_key->>'kid', '');
  v_cert  boolean := coalesce((p_key->>'is_certificate')::boolean, false);
  v_ident text := CASE WHEN coalesce((p_key->>'is_certificate')::boolean, false)
                       THEN p_key->>'cert_sha256' ELSE p_key->>'spki_sha256' END;
  v_from  timestamptz := (p_key->>'valid_from')::timestamptz;
  v_to    timestamptz := (p_key->>'valid_to')::timestamptz;
BEGIN
  PERFORM 1 FROM trust_state FOR UPDATE;
  SELECT * INTO v_conn FROM connectors c WHERE c.connector = p_connector;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'UNKNOWN_CONNECTOR', format('there is no connector %L', p_connector);
    RETURN;
  END IF;
  IF v_conn.kind <> 'external' THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'NO_SIGNING_KEYS',
      format('%s takes TLS client certificates only; it has no message signatures', p_connector);
    RETURN;
  END IF;
  IF v_conn.signature_selector = 'kid' AND v_kid IS NULL THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'KID_REQUIRED',
      format('%s names its signing key by JWS kid: give the key a kid', p_connector);
    RETURN;
  END IF;
  IF v_conn.signature_selector = 'certificate' AND NOT v_cert THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'CERTIFICATE_REQUIRED',
      format('%s sends the signer''s certificate with each message: register that certificate, not a bare public key', p_connector);
    RETURN;
  END IF;
  IF v_from IS NOT NULL AND v_to IS NOT NULL AND v_from >= v_to THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'INVALID_WINDOW',
      format('the validity window is empty: not before %s, not after %s', p_key->>'valid_from', p_key->>'valid_to');
    RETURN;
  END IF;
  SELECT k.id, k.kid, k.revoked_at INTO v_old FROM signing_keys k
   WHERE k.connector = p_connector AND (CASE WHEN k.is_certificate = v_cert AND v_cert THEN k.cert_sha256
                                             WHEN NOT k.is_certificate AND NOT v_cert THEN k.spki_sha256 END) = v_ident
   ORDER BY k.id LIMIT 1;
  IF FOUND THEN
    IF v_old.revoked_at IS NULL AND v_old.kid IS NOT DISTINCT FROM v_kid
       AND p_key->'valid_from' IS NULL AND p_key->'valid_to' IS NULL AND p_key->'replaces' IS NULL THEN
      RETURN QUERY SELECT 'duplicate', v_old.id, NULL::text, format('already registered as signing key %s', v_old.id);
    ELSE
      RETURN QUERY SELECT 'refused', v_old.id, CASE WHEN v_old.revoked_at IS NULL THEN 'ALREADY_REGISTERED' ELSE 'KEY_REVOKED' END,
        format('this %s is registered for %s already, as signing key %s%s (%s)',
               CASE WHEN v_cert THEN 'certificate' ELSE 'public key' END, p_connector, v_old.id,
               coalesce(format(' with kid %L', v_old.kid), ''), gx_trust_state_text(v_old.revoked_at));
    END IF;
    RETURN;
  END IF;
  SELECT k.id, k.kid, k.registered_at, k.revoked_at INTO v_old FROM signing_keys k
   WHERE k.connector = p_connector AND k.kid = v_kid;
  IF FOUND THEN
    RETURN QUERY SELECT 'refused', v_old.id, 'KID_ALREADY_USED',
      format('kid %L was used for %s already (signing key %s, registered %s, %s); a kid is never reused: choose a new one',
             v_kid, p_connector, v_old.id, to_char(v_old.registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             gx_trust_state_text(v_old.revoked_at));
    RETURN;
  END IF;
  SELECT k.id, k.revoked_at INTO v_old FROM signing_keys k
   WHERE k.connector = p_connector AND k.spki_sha256 = p_key->>'spki_sha256' AND k.revoked_at IS NOT NULL LIMIT 1;
  IF FOUND THEN
    RETURN QUERY SELECT 'refused', v_old.id, 'KEY_REVOKED',
      format('this public key was revoked for %s (signing key %s, %s); a revoked key is never registered again',
             p_connector, v_old.id, gx_trust_state_text(v_old.revoked_at));
    RETURN;
  END IF;
  INSERT INTO signing_keys (connector, kid, key_pem, is_certificate, key_type, key_bits, spki_sha256, cert_sha256,
                            subject, issuer, serial_hex, cert_not_before, cert_not_after, valid_from, valid_to,
                            replaces, registered_by)
  VALUES (p_connector, v_kid, p_key->>'pem', v_cert, p_key->>'key_type', (p_key->>'key_bits')::integer,
          p_key->>'spki_sha256', p_key->>'cert_sha256', p_key->>'subject', p_key->>'issuer', p_key->>'serial_hex',
          (p_key->>'cert_not_before')::timestamptz, (p_key->>'cert_not_after')::timestamptz, v_from, v_to,
          (p_key->>'replaces')::bigint, p_actor)
  RETURNING signing_keys.id INTO v_id;
  UPDATE trust_state SET version = version + 1;
  PERFORM gx_audit_append(p_actor, 'signing_key.registered', 'signing_key', v_id::text,
    jsonb_strip_nulls(jsonb_build_object(
      'connector', p_connector, 'kid', v_kid, 'key_type', p_key->>'key_type', 'key_bits', (p_key->>'key_bits')::integer,
      'spki_sha256', p_key->>'spki_sha256', 'cert_sha256', p_key->>'cert_sha256', 'subject', p_key->>'subject',
      'valid_from', p_key->>'valid_from', 'valid_to', p_key->>'valid_to', 'replaces', (p_key->>'replaces')::bigint)));
  RETURN QUERY SELECT 'registered', v_id, NULL::text, NULL::text;
END $$;

-- Registers the new key and ends the old one's validity after the overlap (or earlier,
-- if it ended earlier already). Both or neither.
CREATE FUNCTION gx_trust_rotate_key(p_connector text, p_old_id bigint, p_overlap interval, p_key jsonb,
                                    p_actor text)
RETURNS TABLE (outcome text, id bigint, check_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_old record;
  v_new record;
  v_to  timestamptz;
BEGIN
  PERFORM 1 FROM trust_state FOR UPDATE;
  SELECT * INTO v_old FROM signing_keys k WHERE k.id = p_old_id AND k.connector = p_connector;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'refused', NULL::bigint, 'UNKNOWN_CREDENTIAL',
      format('%s has no signing key %s', p_connector, p_old_id);
    RETURN;
  END IF;
  IF v_old.revoked_at IS NOT NULL THEN
    RETURN QUERY SELECT 'refused', v_old.id, 'ALREADY_REVOKED',
      format('signing key %s is %s: register the new key with add-key instead', v_old.id, gx_trust_state_text(v_old.revoked_at));
    RETURN;
  END IF;
  IF p_overlap IS NULL OR p_overlap < interval '0' THEN
    RETURN QUERY SELECT 'refused', v_old.id, 'INVALID_WINDOW', 'the overlap must be zero or more';
    RETURN;
  END IF;
  SELECT * INTO v_new FROM gx_trust_register_key(v_old.connector, p_key || jsonb_build_object('replaces', p_old_id), p_actor);
  IF v_new.outcome <> 'registered' THEN
    RETURN QUERY SELECT v_new.outcome, v_new.id, coalesce(v_new.check_code, 'ALREADY_REGISTERED'), v_new.detail;
    RETURN;
  END IF;
  v_to := least(coalesce(v_old.valid_to, 'infinity'::timestamptz), now() + p_overlap);
  UPDATE signing_keys SET valid_to = v_to WHERE signing_keys.id = p_old_id;
  PERFORM gx_audit_append(p_actor, 'signing_key.rotated_out', 'signing_key', p_old_id::text,
    jsonb_strip_nulls(jsonb_build_object('connector', v_old.connector, 'kid', v_old.kid, 'replaced_by', v_new.id,
      'overlap_seconds', extract(epoch FROM p_overlap)::bigint,
      'valid_to', to_char(v_to AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))));
  RETURN QUERY SELECT 'rotated', v_new.id, NULL::text, NULL::text;
END $$;

-- Revokes a TLS credential or a signing key by id. p_object_type 'tls_credential' or
-- 'signing_key' restricts the id to that kind; NULL accepts either.
CREATE FUNCTION gx_trust_revoke(p_id bigint, p_object_type text, p_actor text, p_reason text)
RETURNS TABLE (outcome text, id bigint, check_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_type      text;
  v_connector text;
  v_label     text;
  v_revoked   timestamptz;
  v_now       timestamptz := now();
BEGIN
  IF length(btrim(coalesce(p_reason, ''))) = 0 THEN
    RETURN QUERY SELECT 'refused', p_id, 'REASON_REQUIRED', 'a revocation needs a reason';
    RETURN;
  END IF;
  PERFORM 1 FROM trust_state FOR UPDATE;
  SELECT 'tls_credential', t.connector, t.subject, t.revoked_at INTO v_type, v_connector, v_label, v_revoked
    FROM tls_credentials t WHERE t.id = p_id;
  IF NOT FOUND THEN
    SELECT 'signing_key', k.connector, coalesce('kid ' || k.kid, k.subject, 'key ' || left(k.spki_sha256, 16)), k.revoked_at
      INTO v_type, v_connector, v_label, v_revoked
      FROM signing_keys k WHERE k.id = p_id;
  END IF;
  IF v_type IS NULL OR (p_object_type IS NOT NULL AND v_type <> p_object_type) THEN
    RETURN QUERY SELECT 'refused', p_id, 'UNKNOWN_CREDENTIAL',
      format('there is no %s %s', replace(coalesce(p_object_type, 'credential'), '_', ' '), p_id);
    RETURN;
  END IF;
  IF v_revoked IS NOT NULL THEN
    RETURN QUERY SELECT 'refused', p_id, 'ALREADY_REVOKED',
      format('%s %s of %s was revoked already (%s)', replace(v_type, '_', ' '), p_id, v_connector,
             gx_trust_state_text(v_revoked));
    RETURN;
  END IF;
  IF v_type = 'tls_credential' THEN
    UPDATE tls_credentials SET revoked_at = v_now, revoked_by = p_actor, revoked_reason = btrim(p_reason)
     WHERE tls_credentials.id = p_id;
  ELSE
    UPDATE signing_keys SET revoked_at = v_now, revoked_by = p_actor, revoked_reason = btrim(p_reason)
     WHERE signing_keys.id = p_id;
  END IF;
  UPDATE trust_state SET version = version + 1;
  PERFORM gx_audit_append(p_actor, v_type || '.revoked', v_type, p_id::text,
    jsonb_build_object('connector', v_connector, 'credential', v_label, 'reason', btrim(p_reason)));
  RETURN QUERY SELECT 'revoked', p_id, NULL::text, NULL::text;
END $$;

-- ---- rights ------------------------------------------------------------------------------
REVOKE ALL ON audit_events, connectors, trust_state, tls_credentials, signing_keys FROM gx_app;
GRANT SELECT ON audit_events, connectors, trust_state, tls_credentials, signing_keys TO gx_app;
REVOKE ALL ON SEQUENCE trust_credential_id_seq FROM gx_app;
REVOKE EXECUTE ON FUNCTION gx_audit_append(text, text, text, text, jsonb),
  gx_trust_register_tls(text, text, jsonb, text), gx_trust_register_key(text, jsonb, text),
  gx_trust_rotate_key(text, bigint, interval, jsonb, text), gx_trust_revoke(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gx_audit_append(text, text, text, text, jsonb),
  gx_trust_register_tls(text, text, jsonb, text), gx_trust_register_key(text, jsonb, text),
  gx_trust_rotate_key(text, bigint, interval, jsonb, text), gx_trust_revoke(bigint, text, text, text) TO gx_app;
