-- The tamper-evident audit log (issue 7).
--
-- * audit_log: one row per entry, seq 0-based and gap-free, assigned under the row lock of the
--   one-row counter audit_log_head by the audit service's single appender. Each row stores
--   content_sha256 (SHA-256 of the canonical content, services/audit/domain/entry.py) and its
--   RFC 6962 leaf hash. `detail` is `json`, not `jsonb`: json keeps the exact canonical text that was
--   hashed, so numbers and key order read back byte for byte.
-- * audit_checkpoints: Ed25519-signed checkpoints (size, root, time) of the log.
-- * audit_witness_*: what this platform, as a witness, holds of the hub's log.
--
-- Who may write (see services/audit/README.md):
-- * role pcms_audit_writer (NOLOGIN): SELECT and INSERT on the log, the checkpoints and the witness
--   tables, UPDATE on the counter only. The audit service connects with its ordinary login and does
--   SET LOCAL ROLE pcms_audit_writer for every append (works for a superuser, and for a login that is
--   a member of pcms_audit_writer in production).
-- * triggers refuse UPDATE, DELETE and TRUNCATE of the log, the checkpoints and the witness tables,
--   for every role, as a second line. The one exception is the retention purge: UPDATE that only
--   blanks content and keeps seq, event_id, at, content_sha256 and leaf_hash, done while the current
--   role is pcms_audit_purger (NOLOGIN, nobody is granted it), which only the SECURITY DEFINER
--   function audit_purge(before) owned by that role achieves.
-- * a superuser can always disable triggers; that is what the Merkle tree, the signed checkpoints
--   and the witnesses are for.
--
-- Roles are cluster-wide: created once, granted per database.

DO $$
BEGIN
    CREATE ROLE pcms_audit_writer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE pcms_audit_purger NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- Entries written before this migration are moved aside; the audit service re-appends them, in
-- their order, as the first entries of the new log (services/audit/store.py: drain_legacy).
ALTER TABLE audit_log RENAME TO audit_log_v1;
ALTER INDEX IF EXISTS audit_log_message RENAME TO audit_log_v1_message;
ALTER INDEX IF EXISTS audit_log_platform_at RENAME TO audit_log_v1_platform_at;
ALTER TABLE audit_log_v1 RENAME CONSTRAINT audit_log_pkey TO audit_log_v1_pkey;
ALTER TABLE audit_log_v1 RENAME CONSTRAINT audit_log_event_id_key TO audit_log_v1_event_id_key;

CREATE TABLE audit_log (
    seq            bigint      PRIMARY KEY CHECK (seq >= 0),
    event_id       uuid        NOT NULL UNIQUE,
    message_id     uuid,
    correlation_id uuid,
    kind           text,
    hop            text,
    platform       text,
    service        text,
    actor          text,
    at             timestamptz NOT NULL,
    detail         json,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    content_sha256 text        NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    leaf_hash      bytea       NOT NULL CHECK (length(leaf_hash) = 32),
    purged_at      timestamptz,
    CHECK (purged_at IS NOT NULL
           OR (message_id IS NOT NULL AND hop IS NOT NULL AND platform IS NOT NULL
               AND service IS NOT NULL AND detail IS NOT NULL))
);
CREATE INDEX audit_log_message ON audit_log (message_id, seq);
CREATE INDEX audit_log_platform_at ON audit_log (platform, at);

CREATE TABLE audit_log_head (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    next_seq  bigint  NOT NULL CHECK (next_seq >= 0)
);
INSERT INTO audit_log_head (only_row, next_seq) VALUES (true, 0);

CREATE TABLE audit_checkpoints (
    id         bigserial   PRIMARY KEY,
    log_id     text        NOT NULL,
    size       bigint      NOT NULL CHECK (size >= 0),
    root       bytea       NOT NULL CHECK (length(root) = 32),
    at         timestamptz NOT NULL,
    key_id     text        NOT NULL,
    signature  bytea       NOT NULL CHECK (length(signature) = 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (log_id, size)
);

-- Which checkpoints the hub has published to the witnesses (after the broker confirmed).
CREATE TABLE audit_checkpoint_publications (
    log_id       text        NOT NULL,
    size         bigint      NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, size)
);

-- A witness's view of another platform's log (at national platforms: the hub's).
CREATE TABLE audit_witness_keys (
    key_id      text        PRIMARY KEY,
    log_id      text        NOT NULL,
    public_key  bytea       NOT NULL CHECK (length(public_key) = 32),
    source      text        NOT NULL,
    learned_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_witness_checkpoints (
    id            bigserial   PRIMARY KEY,
    log_id        text        NOT NULL,
    size          bigint      NOT NULL,
    root          bytea       NOT NULL,
    at            timestamptz NOT NULL,
    key_id        text        NOT NULL,
    signature     bytea       NOT NULL,
    previous_size bigint      NOT NULL,
    status        text        NOT NULL CHECK (status IN ('accepted', 'rejected', 'pending')),
    reason        text        NOT NULL,
    detail        text        NOT NULL DEFAULT '',
    message       json,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_witness_checkpoints_log ON audit_witness_checkpoints (log_id, status, size);

-- The witness's mirror of the log's leaf hashes, contiguous from seq 0 (the reference copy for
-- `pcms audit verify --witness`).
CREATE TABLE audit_witness_leaves (
    log_id    text   NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 0),
    leaf_hash bytea  NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (log_id, seq)
);

-- Second line of defence: refuse every change to what was written.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_log' AND current_user = 'pcms_audit_purger' THEN
        IF NEW.seq = OLD.seq AND NEW.event_id = OLD.event_id AND NEW.at = OLD.at
           AND NEW.recorded_at = OLD.recorded_at
           AND NEW.content_sha256 = OLD.content_sha256 AND NEW.leaf_hash = OLD.leaf_hash
           AND NEW.purged_at IS NOT NULL
           AND NEW.message_id IS NULL AND NEW.correlation_id IS NULL AND NEW.kind IS NULL AND NEW.hop IS NULL
           AND NEW.platform IS NULL AND NEW.service IS NULL AND NEW.actor IS NULL AND NEW.detail IS NULL THEN
            RETURN NEW;  -- the retention purge: content goes, the digest and the leaf stay
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_witness_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_witness_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_witness_checkpoints_no_truncate BEFORE TRUNCATE ON audit_witness_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_witness_leaves_append_only BEFORE UPDATE OR DELETE ON audit_witness_leaves
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_witness_leaves_no_truncate BEFORE TRUNCATE ON audit_witness_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_witness_keys_append_only BEFORE UPDATE OR DELETE ON audit_witness_keys
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

-- The retention purge: blanks the content of entries older than `before`, keeps what proofs need.
CREATE FUNCTION audit_purge(before timestamptz) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    purged bigint;
BEGIN
    UPDATE public.audit_log
       SET message_id = NULL, correlation_id = NULL, kind = NULL, hop = NULL, platform = NULL,
           service = NULL, actor = NULL, detail = NULL, purged_at = now()
     WHERE at < before AND purged_at IS NULL;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END $$;
REVOKE ALL ON FUNCTION audit_purge(timestamptz) FROM PUBLIC;
GRANT SELECT, UPDATE (message_id, correlation_id, kind, hop, platform, service, actor, detail, purged_at)
    ON audit_log TO pcms_audit_purger;
ALTER FUNCTION audit_purge(timestamptz) OWNER TO pcms_audit_purger;

-- The writer: append and read, nothing else.
REVOKE ALL ON audit_log, audit_checkpoints, audit_log_head, audit_witness_keys, audit_witness_checkpoints,
    audit_witness_leaves FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log, audit_checkpoints, audit_checkpoint_publications, audit_witness_keys, audit_witness_checkpoints,
    audit_witness_leaves TO pcms_audit_writer;
GRANT SELECT, UPDATE ON audit_log_head TO pcms_audit_writer;
GRANT USAGE ON SEQUENCE audit_checkpoints_id_seq, audit_witness_checkpoints_id_seq TO pcms_audit_writer;
GRANT USAGE ON SCHEMA public TO pcms_audit_writer, pcms_audit_purger;
