ALTER TABLE sent_messages ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE UNIQUE INDEX IF NOT EXISTS sent_messages_idempotency_key ON sent_messages (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
