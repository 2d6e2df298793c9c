-- Rows a process publishes straight after its commit are leased to it (next_attempt_at in the future, leased_by
-- naming the service): at its start a service releases only its own earlier incarnation's leases, never those of
-- the other services that share this database and are publishing theirs at that moment.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS leased_by text;
