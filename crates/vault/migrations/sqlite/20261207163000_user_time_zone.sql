-- A web user's time zone (an IANA name such as Europe/London), chosen on
-- the calls page; NULL: the browser's own zone.
ALTER TABLE users ADD COLUMN time_zone TEXT;
