CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    message_id    text        NOT NULL,
    exchange      text        NOT NULL,
    routing_key   text        NOT NULL,
    type          text        NOT NULL,
    correlation_id text,
    priority      smallint    NOT NULL DEFAULT 0,
    headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    body          bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;

CREATE TABLE IF NOT EXISTS processed_messages (
    consumer      text        NOT NULL,
    message_id    uuid        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
