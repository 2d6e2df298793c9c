-- Hops leave on a relay loop of their own (shared/messaging/relay.py): each loop walks only its own unsent rows.
CREATE INDEX IF NOT EXISTS outbox_unsent_messages ON outbox (priority DESC, id)
    WHERE sent_at IS NULL AND type <> 'pcms.hop_recorded';
CREATE INDEX IF NOT EXISTS outbox_unsent_hops ON outbox (priority DESC, id)
    WHERE sent_at IS NULL AND type = 'pcms.hop_recorded';
DROP INDEX IF EXISTS outbox_unsent_by_priority;
