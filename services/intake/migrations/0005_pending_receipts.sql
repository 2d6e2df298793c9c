-- Receipts not yet sent: written in the transaction that takes a message in, sent by the next round of receipts
-- (one receipt per origin and group for every message of the round), deleted in that round's transaction.
CREATE TABLE IF NOT EXISTS pending_receipts (
    message_id     uuid        PRIMARY KEY,
    lane           text        NOT NULL,
    origin         text        NOT NULL,
    correlation_id uuid,
    priority       text        NOT NULL,
    handling_code  text        NOT NULL,
    handling_note  text,
    language       text        NOT NULL,
    queued_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS pending_receipts_by_lane ON pending_receipts (lane, queued_at);
