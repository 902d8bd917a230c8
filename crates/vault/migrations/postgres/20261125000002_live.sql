-- Live flow: webhook notifications committed before the 200, small settings
-- (subscription id, verification token), and cluster-wide singleton leases.
-- Timestamps are BIGINT milliseconds since the epoch, UTC.

CREATE TABLE notifications (
    uuid                 TEXT PRIMARY KEY NOT NULL,
    telephony_session_id TEXT,
    sequence             BIGINT,
    event_time           BIGINT,
    body                 TEXT NOT NULL,
    received_at          BIGINT NOT NULL
);
CREATE INDEX notifications_session ON notifications (telephony_session_id, sequence);

CREATE TABLE settings (
    name                 TEXT PRIMARY KEY NOT NULL,
    value                TEXT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE singletons (
    name                 TEXT PRIMARY KEY NOT NULL,
    holder               TEXT NOT NULL,
    token                BIGINT NOT NULL,
    leased_until         BIGINT NOT NULL
);
