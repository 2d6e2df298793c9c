-- Membership changes, recorded as events where they are made (the hub).
CREATE TABLE IF NOT EXISTS membership_events (
    id          bigserial PRIMARY KEY,
    code        text        NOT NULL,
    action      text        NOT NULL,
    from_status text,
    to_status   text        NOT NULL,
    actor       text        NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now()
);
