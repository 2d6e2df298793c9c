-- The relay takes urgent rows first: priority lanes start in the outbox.
DROP INDEX IF EXISTS outbox_unsent;
CREATE INDEX IF NOT EXISTS outbox_unsent_by_priority ON outbox (priority DESC, id) WHERE sent_at IS NULL;
