-- Live flow: webhook notifications committed before the 200, small settings
-- (subscription id, verification token), and cluster-wide singleton leases.
-- Timestamps are INTEGER milliseconds since the epoch, UTC.

CREATE TABLE notifications (
    uuid                 TEXT PRIMARY KEY NOT NULL,
    telephony_session_id TEXT,
    sequence             INTEGER,
    event_time           INTEGER,
    body                 TEXT NOT NULL,
    received_at          INTEGER NOT NULL
);
CREATE INDEX notifications_session ON notifications (telephony_session_id, sequence);

CREATE TABLE settings (
    name                 TEXT PRIMARY KEY NOT NULL,
    value                TEXT NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE singletons (
    name                 TEXT PRIMARY KEY NOT NULL,
    holder               TEXT NOT NULL,
    token                INTEGER NOT NULL,
    leased_until         INTEGER NOT NULL
);
