-- 0005: the intake path of outside messages (docs/intake.md, docs/adr/0009-intake.md).
--
-- inbox_messages  every accepted message, raw body and canonical command, its state and
--                 its receipts; (connector, message_id) is the idempotency key.
-- inbox_items     the outcome of each business item of a message (a trade of a batch).
-- quarantine      every request body that reached a connector endpoint and was refused.
-- exceptions      everything that needs a person (exception_events: their history).
-- statements      daily statements as received, for reconciliation.
-- outbox          final receipts to deliver to the sources' callback URLs.
--
-- What was received never changes: the raw body, its hashes, the key, the receipt given
-- on acceptance and the canonical command are frozen by a trigger, even for the owner;
-- no row of inbox_messages, inbox_items, quarantine or exception_events is ever deleted.

CREATE TABLE inbox_messages (
  id                bigserial PRIMARY KEY,
  connector         text NOT NULL,
  message_id        text NOT NULL,
  hub_ref           text NOT NULL UNIQUE,
  kind              text NOT NULL,
  received_at       timestamptz NOT NULL,
  sent_at           timestamptz,
  body              bytea NOT NULL,
  body_sha256       text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  -- SHA-256 of the canonical signed content (the JWS payload, the signed XML element,
  -- the file): equal means duplicate, different means conflict (common.md).
  payload_sha256    text NOT NULL CHECK (payload_sha256 ~ '^[0-9a-f]{64}$'),
  content_type      text,
  peer_subject      text,
  peer_fingerprint  text,
  remote_address    text,
  signer            text,            -- kid, or the signing certificate's fingerprint
  command           jsonb NOT NULL,  -- the canonical command(s) the connector mapped
  item_count        integer NOT NULL CHECK (item_count >= 0),
  state             text NOT NULL DEFAULT 'accepted'
                    CHECK (state IN ('accepted', 'applied', 'exception', 'rejected')),
  reason_code       text,
  accepted_receipt  text NOT NULL,   -- answered with 202, and with 200 to every duplicate
  current_receipt   text NOT NULL,   -- the latest (status endpoint)
  queued_at         timestamptz,     -- confirmed by RabbitMQ
  applied_at        timestamptz,     -- reached a final or exception state
  apply_attempts    integer NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connector, message_id)
);
-- The relay's sweep: accepted messages not yet confirmed by the broker.
CREATE INDEX inbox_messages_unqueued ON inbox_messages (id) WHERE queued_at IS NULL AND state = 'accepted';
CREATE INDEX inbox_messages_state ON inbox_messages (connector, state, received_at);

CREATE TABLE inbox_items (
  inbox_id      bigint NOT NULL REFERENCES inbox_messages (id),
  seq           integer NOT NULL,          -- 0-based position in the message
  business_key  text NOT NULL,             -- trade_id, serial range, ...
  state         text NOT NULL CHECK (state IN ('applied', 'exception', 'rejected')),
  reason_code   text,
  detail        text,
  entry_id      bigint,                    -- the journal entry that applied it
  hub_ref       text NOT NULL UNIQUE,      -- the item's own reference (batches)
  decided_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (inbox_id, seq)
);
CREATE INDEX inbox_items_business_key ON inbox_items (business_key);

CREATE TABLE quarantine (
  id                bigserial PRIMARY KEY,
  received_at       timestamptz NOT NULL DEFAULT now(),
  connector         text,
  method            text NOT NULL,
  path              text NOT NULL,
  headers           jsonb NOT NULL DEFAULT '{}',
  peer_subject      text,
  peer_fingerprint  text,
  remote_address    text,
  body              bytea NOT NULL,
  body_sha256       text NOT NULL,
  http_status       integer NOT NULL,
  code              text NOT NULL,
  detail            text NOT NULL,
  message_id        text,
  related_inbox_id  bigint REFERENCES inbox_messages (id)
);
CREATE INDEX quarantine_received ON quarantine (received_at);
CREATE INDEX quarantine_code ON quarantine (connector, code, received_at);

CREATE TABLE exceptions (
  id             bigserial PRIMARY KEY,
  created_at     timestamptz NOT NULL DEFAULT now(),
  type           text NOT NULL CHECK (type IN ('processing', 'idempotency_conflict', 'reconciliation', 'quarantine')),
  reason_code    text NOT NULL,
  connector      text NOT NULL,
  message_id     text,
  inbox_id       bigint REFERENCES inbox_messages (id),
  item_seq       integer,
  quarantine_id  bigint REFERENCES quarantine (id),
  business_keys  jsonb NOT NULL DEFAULT '{}',
  detail         text NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'resolved', 'closed')),
  claimed_by     text,
  resolution     text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exceptions_open ON exceptions (connector, status, created_at);
-- One live processing exception per item: a redelivery or a failed retry updates it
-- instead of raising a second one.
CREATE UNIQUE INDEX exceptions_one_live_per_item ON exceptions (inbox_id, item_seq)
  WHERE type = 'processing' AND status IN ('open', 'claimed');

CREATE TABLE exception_events (
  id            bigserial PRIMARY KEY,
  exception_id  bigint NOT NULL REFERENCES exceptions (id),
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  actor         text NOT NULL,
  action        text NOT NULL,
  comment       text,
  detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX exception_events_by_exception ON exception_events (exception_id, id);

CREATE TABLE statements (
  id             bigserial PRIMARY KEY,
  connector      text NOT NULL,
  business_date  date NOT NULL,
  inbox_id       bigint NOT NULL UNIQUE REFERENCES inbox_messages (id),
  message_id     text NOT NULL,
  received_at    timestamptz NOT NULL,
  payload        jsonb NOT NULL,
  superseded_by  bigint REFERENCES statements (id)
);
CREATE INDEX statements_by_date ON statements (connector, business_date, id);

CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  created_at       timestamptz NOT NULL DEFAULT now(),
  connector        text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('final_receipt')),
  hub_ref          text NOT NULL,
  inbox_id         bigint NOT NULL REFERENCES inbox_messages (id),
  content_type     text NOT NULL,
  body             text NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  delivered_at     timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- ---- what was received never changes --------------------------------------------------
CREATE FUNCTION gx_inbox_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'inbox_messages rows are never deleted (id %)', OLD.id USING ERRCODE = 'GX900';
  END IF;
  IF NEW.connector IS DISTINCT FROM OLD.connector OR NEW.message_id IS DISTINCT FROM OLD.message_id
     OR NEW.hub_ref IS DISTINCT FROM OLD.hub_ref OR NEW.kind IS DISTINCT FROM OLD.kind
     OR NEW.received_at IS DISTINCT FROM OLD.received_at OR NEW.sent_at IS DISTINCT FROM OLD.sent_at
     OR NEW.body IS DISTINCT FROM OLD.body OR NEW.body_sha256 IS DISTINCT FROM OLD.body_sha256
     OR NEW.payload_sha256 IS DISTINCT FROM OLD.payload_sha256
     OR NEW.peer_subject IS DISTINCT FROM OLD.peer_subject
     OR NEW.peer_fingerprint IS DISTINCT FROM OLD.peer_fingerprint
     OR NEW.signer IS DISTINCT FROM OLD.signer OR NEW.command IS DISTINCT FROM OLD.command
     OR NEW.item_count IS DISTINCT FROM OLD.item_count
     OR NEW.accepted_receipt IS DISTINCT FROM OLD.accepted_receipt THEN
    RAISE EXCEPTION 'what was received is frozen: only the state, receipts and timestamps of inbox message % may change', OLD.id
      USING ERRCODE = 'GX900';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER inbox_messages_frozen BEFORE UPDATE OR DELETE ON inbox_messages
  FOR EACH ROW EXECUTE FUNCTION gx_inbox_frozen();

CREATE FUNCTION gx_refuse_intake_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the % table keeps what happened: its rows are never changed or deleted', TG_TABLE_NAME
    USING ERRCODE = 'GX900';
END $$;
CREATE TRIGGER quarantine_append_only BEFORE UPDATE OR DELETE ON quarantine
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_intake_change();
CREATE TRIGGER exception_events_append_only BEFORE UPDATE OR DELETE ON exception_events
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_intake_change();
CREATE TRIGGER inbox_items_no_delete BEFORE DELETE ON inbox_items
  FOR EACH ROW EXECUTE FUNCTION gx_refuse_intake_change();
CREATE TRIGGER intake_no_truncate BEFORE TRUNCATE ON inbox_messages
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_intake_change();
CREATE TRIGGER quarantine_no_truncate BEFORE TRUNCATE ON quarantine
  FOR EACH STATEMENT EXECUTE FUNCTION gx_refuse_intake_change();

-- gx_app works these tables directly (the consumer's transaction spans them and the
-- ledger's functions); deleting is not among its rights.
REVOKE DELETE, TRUNCATE ON inbox_messages, inbox_items, quarantine, exceptions, exception_events,
  statements FROM gx_app;
REVOKE UPDATE ON quarantine, exception_events FROM gx_app;
