-- Inbound platform events already taken: Slack retries a delivery it thinks was missed (up
-- to three times, with the same event id), so each is acted on once. Kept a day.
CREATE TABLE inbox_events (
    platform     TEXT NOT NULL CHECK (platform IN ('slack', 'teams', 'discord', 'web')),
    event_id     TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (platform, event_id)
);
