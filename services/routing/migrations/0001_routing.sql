CREATE TABLE IF NOT EXISTS routed_messages (
    message_id     uuid PRIMARY KEY,
    origin         text        NOT NULL,
    kind           text        NOT NULL,
    correlation_id uuid,
    rule           text        NOT NULL,
    recipients     text[]      NOT NULL,
    refused        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    decided_at     timestamptz NOT NULL
);
