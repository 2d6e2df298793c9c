CREATE TABLE IF NOT EXISTS audit_log (
    seq            bigserial PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    message_id     uuid        NOT NULL,
    correlation_id uuid,
    kind           text,
    hop            text        NOT NULL,
    platform       text        NOT NULL,
    service        text        NOT NULL,
    actor          text,
    at             timestamptz NOT NULL,
    detail         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_message ON audit_log (message_id, seq);
CREATE INDEX IF NOT EXISTS audit_log_platform_at ON audit_log (platform, at);
