-- API users of this platform (issue 6): one row per token; only the SHA-256 of the token's secret is kept.
CREATE TABLE IF NOT EXISTS api_users (
    token_id      text        PRIMARY KEY,
    platform      text        NOT NULL,
    name          text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('officer', 'analyst', 'auditor', 'operator')),
    secret_sha256 text        NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text,
    revoked_at    timestamptz,
    revoked_by    text
);
CREATE INDEX IF NOT EXISTS api_users_by_name ON api_users (platform, name);

-- Refused API calls and operators' commands: who, what, when, why (never a token's secret).
CREATE TABLE IF NOT EXISTS security_events (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    platform text        NOT NULL,
    service  text        NOT NULL,
    kind     text        NOT NULL,
    status   integer,
    reason   text        NOT NULL,
    token_id text,
    actor    text,
    role     text,
    method   text,
    path     text,
    client   text,
    detail   jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS security_events_by_time ON security_events (at);

-- Append-only: a refusal, once recorded, is not edited or removed (second line behind the grants).
CREATE OR REPLACE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'security_events is append-only: % refused', TG_OP;
END
$$;
CREATE OR REPLACE TRIGGER security_events_no_change BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();
CREATE OR REPLACE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();
