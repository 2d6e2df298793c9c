CREATE TABLE IF NOT EXISTS sent_messages (
    message_id     uuid PRIMARY KEY,
    kind           text        NOT NULL,
    correlation_id uuid        NOT NULL,
    in_reply_to    uuid,
    recipients     text[]      NOT NULL,
    payload        jsonb       NOT NULL,
    submitted_by   text        NOT NULL,
    created_at     timestamptz NOT NULL,
    routing_rule   text
);

CREATE TABLE IF NOT EXISTS deliveries (
    message_id  uuid        NOT NULL REFERENCES sent_messages (message_id),
    recipient   text        NOT NULL,
    state       text        NOT NULL,
    state_rank  smallint    NOT NULL,
    reason      text,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (message_id, recipient)
);

CREATE TABLE IF NOT EXISTS inbox_items (
    message_id     uuid PRIMARY KEY,
    kind           text        NOT NULL,
    origin         text        NOT NULL,
    correlation_id uuid        NOT NULL,
    priority       text        NOT NULL,
    handling_code  text        NOT NULL,
    rule           text        NOT NULL,
    payload        jsonb       NOT NULL,
    hits           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    received_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_items_newest ON inbox_items (received_at DESC, message_id);
CREATE INDEX IF NOT EXISTS inbox_items_kind ON inbox_items (kind, received_at DESC);
