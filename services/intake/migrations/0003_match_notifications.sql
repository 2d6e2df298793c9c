CREATE TABLE IF NOT EXISTS match_notifications (
    notification_id uuid PRIMARY KEY,
    message_id      uuid        NOT NULL,
    origin          text        NOT NULL,
    kind            text        NOT NULL,
    handling_code   text        NOT NULL,
    references_only boolean     NOT NULL,
    hits            jsonb       NOT NULL,
    notified_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS match_notifications_newest ON match_notifications (received_at DESC);
