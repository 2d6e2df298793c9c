-- Prüm-style regional index: normalised keys of every record the hub has seen, with its owner and reference.
CREATE TABLE IF NOT EXISTS regional_index (
    key          text        NOT NULL,
    entity_type  text        NOT NULL,
    position     integer     NOT NULL,
    platform     text        NOT NULL,
    message_id   uuid        NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, message_id, entity_type, position)
);

CREATE TABLE IF NOT EXISTS indexed_entities (
    message_id   uuid        NOT NULL,
    entity_type  text        NOT NULL,
    position     integer     NOT NULL,
    platform     text        NOT NULL,
    canonical    jsonb       NOT NULL,
    handling_code text       NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, entity_type, position)
);
