ALTER TABLE routed_messages ADD COLUMN IF NOT EXISTS held text[] NOT NULL DEFAULT '{}';
