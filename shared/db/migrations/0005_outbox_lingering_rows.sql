-- Rows that may linger (hops, routing decisions, hit notifications) leave on a relay loop of their own
-- (shared/messaging/relay.py): each loop walks only its own unsent rows. The relay sets the flag at insert.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lingers boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS outbox_unsent_prompt ON outbox (priority DESC, id) WHERE sent_at IS NULL AND NOT lingers;
CREATE INDEX IF NOT EXISTS outbox_unsent_lingering ON outbox (priority DESC, id) WHERE sent_at IS NULL AND lingers;
DROP INDEX IF EXISTS outbox_unsent_by_priority;
