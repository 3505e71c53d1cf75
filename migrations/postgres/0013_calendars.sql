-- Calendars: rooms (their calendar holds their bookings), each employee's and room's
-- calendar connections, and the busy time cached from them so that free slots are computed
-- without waiting on a provider.

-- A meeting room. The rooms issue adds what people search by (equipment, floor).
CREATE TABLE rooms (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    capacity    BIGINT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, slug)
);

-- One calendar of an employee or a room, at one provider: the built-in one ('local'), an
-- ICS feed, Google Calendar or Microsoft 365. At most one per owner and provider.
CREATE TABLE calendars (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id         BIGINT REFERENCES employees(id) ON DELETE CASCADE,
    room_id             BIGINT REFERENCES rooms(id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('local', 'ics', 'google', 'microsoft')),
    -- The provider's id of the calendar (for ICS feeds the URL, which carries credentials),
    -- sealed with the tenant's key; NULL for the built-in calendar.
    external_id_sealed  TEXT,
    -- Reached with the application's own credentials (service account, client credentials).
    app_credentials     BOOLEAN NOT NULL,
    -- The person's OAuth tokens (JSON), sealed.
    tokens_sealed       TEXT,
    -- The built-in calendar's private ICS feed: SHA-256 of its token (NULL: no feed).
    feed_token_hash     TEXT,
    -- Where incremental sync continues (sync token, delta link, a feed's validators).
    sync_cursor         TEXT,
    next_sync_at        BIGINT NOT NULL,
    -- An instance syncing it holds it until then; others leave it alone.
    sync_lease_until    BIGINT,
    last_sync_at        BIGINT,
    last_success_at     BIGINT,
    last_error          TEXT,
    -- Failures in a row (backoff grows with them); reset by a success.
    failures            BIGINT NOT NULL,
    -- The credentials stopped working: only reconnecting helps.
    needs_reconnect     BOOLEAN NOT NULL,
    -- The push channel (Google channel, Graph subscription), if one is open.
    watch_id            TEXT,
    watch_resource_id   TEXT,
    -- SHA-256 of the channel's secret (channel token, clientState), compared on each push.
    watch_secret_hash   TEXT,
    watch_expires_at    BIGINT,
    -- Google numbers its messages per channel: an older or repeated one is a duplicate.
    watch_last_message  BIGINT,
    created_at          BIGINT NOT NULL,
    CHECK ((employee_id IS NULL) <> (room_id IS NULL))
);
CREATE UNIQUE INDEX calendars_employee ON calendars (employee_id, provider) WHERE employee_id IS NOT NULL;
CREATE UNIQUE INDEX calendars_room ON calendars (room_id, provider) WHERE room_id IS NOT NULL;
CREATE UNIQUE INDEX calendars_feed ON calendars (feed_token_hash) WHERE feed_token_hash IS NOT NULL;
CREATE UNIQUE INDEX calendars_watch ON calendars (watch_id) WHERE watch_id IS NOT NULL;
CREATE INDEX calendars_due ON calendars (next_sync_at);

-- Events: the built-in calendar's own events, and the busy time cached from the others
-- (only when it is busy; a provider's event id, or one id per occurrence of a series).
CREATE TABLE calendar_events (
    calendar_id  BIGINT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    uid          TEXT NOT NULL,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    -- Built-in events only: the title, sealed (it may name visitors); and the revision,
    -- counted up on each change (ICS SEQUENCE).
    title_sealed TEXT,
    sequence     BIGINT NOT NULL,
    PRIMARY KEY (calendar_id, uid),
    CHECK (starts_at < ends_at)
);
CREATE INDEX calendar_events_time ON calendar_events (calendar_id, starts_at);

-- Events Frontdesk created at a provider (a booking's, through the outbox), by what they
-- are for: the provider's id (to change or cancel it) and the video meeting's link.
CREATE TABLE calendar_event_links (
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    reference    TEXT NOT NULL,
    calendar_id  BIGINT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    join_url     TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, reference, calendar_id)
);

-- OAuth authorization-code flows under way: the state (SHA-256) and the PKCE verifier
-- (sealed), for ten minutes, used once.
CREATE TABLE calendar_oauth_attempts (
    state_hash         TEXT PRIMARY KEY,
    tenant_id          BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id        BIGINT REFERENCES employees(id) ON DELETE CASCADE,
    room_id            BIGINT REFERENCES rooms(id) ON DELETE CASCADE,
    provider           TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    verifier_sealed    TEXT NOT NULL,
    -- The admin who started it (the callback comes without their session).
    started_by         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    CHECK ((employee_id IS NULL) <> (room_id IS NULL))
);
