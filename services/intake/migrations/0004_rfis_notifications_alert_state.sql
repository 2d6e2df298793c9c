CREATE TABLE IF NOT EXISTS rfis (
    message_id          uuid        NOT NULL,
    direction           text        NOT NULL CHECK (direction IN ('sent', 'received')),
    counterpart         text        NOT NULL,
    asked_at            timestamptz NOT NULL,
    deadline            timestamptz NOT NULL,
    status              text        NOT NULL DEFAULT 'open',
    closed_by           uuid,
    closed_at           timestamptz,
    reminded_at         timestamptz,
    overdue_notified_at timestamptz,
    PRIMARY KEY (message_id, direction, counterpart)
);
CREATE INDEX IF NOT EXISTS rfis_open ON rfis (deadline) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS notifications (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL,
    message_id  uuid        NOT NULL,
    counterpart text        NOT NULL,
    text        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, message_id, counterpart)
);

ALTER TABLE inbox_items ADD COLUMN IF NOT EXISTS alert_state text;
ALTER TABLE inbox_items ADD COLUMN IF NOT EXISTS superseded_by uuid;
ALTER TABLE inbox_items ADD COLUMN IF NOT EXISTS valid_until timestamptz;
