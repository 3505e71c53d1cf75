-- What a queued message writes, when a newer message for the same thing makes it moot (a
-- calendar event: its calendar and what it is for). Queuing a message with a key retires
-- the older ones with that key that are still waiting, so a booking moved while the
-- provider was down makes one event, not one per version.
ALTER TABLE outbox ADD COLUMN write_key TEXT;
CREATE INDEX outbox_write_key ON outbox (tenant_id, write_key) WHERE write_key IS NOT NULL;
