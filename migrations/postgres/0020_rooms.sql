-- Rooms: what people search rooms by, each room's auto-release policy, and what Frontdesk
-- knows of a room's meetings beyond its calendar (check-ins, early ends, releases, nudges).

-- Equipment as sorted lower-case words separated by single spaces ("display video"), the floor,
-- the location the room is in, and the release policy (JSON, validated by the engine).
ALTER TABLE rooms ADD COLUMN equipment TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN floor BIGINT;
ALTER TABLE rooms ADD COLUMN location_id BIGINT REFERENCES locations(id) ON DELETE SET NULL;
ALTER TABLE rooms ADD COLUMN release_policy TEXT NOT NULL DEFAULT '{}';
-- Rooms smallest first, as a search answers: it reads them in this order and stops at the
-- first few that are free.
CREATE INDEX rooms_by_size ON rooms (tenant_id, capacity, slug);

-- What a room's meeting needs beyond its time: who organized it (an email address, as the
-- provider or Frontdesk knows it), whether it is private (its title and organizer are not
-- shown at the door), the recurring series it belongs to, and when Frontdesk booked it.
ALTER TABLE calendar_events ADD COLUMN organizer TEXT;
ALTER TABLE calendar_events ADD COLUMN private BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE calendar_events ADD COLUMN series TEXT;
ALTER TABLE calendar_events ADD COLUMN booked_at BIGINT;

-- A meeting in a room, recorded when it starts (or when someone checks in or books the room
-- at the door): the room's own history, kept after the calendar cache moves on. Each job
-- acts on a meeting by setting its column where it is still NULL, so with several
-- instances each reminder, release and nudge happens once.
CREATE TABLE room_meetings (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    room_id            BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    -- The event's uid in the room's calendar.
    uid                TEXT NOT NULL,
    series             TEXT,
    -- As booked.
    starts_at          BIGINT NOT NULL,
    ends_at            BIGINT NOT NULL,
    organizer_id       BIGINT REFERENCES employees(id) ON DELETE SET NULL,
    private            BOOLEAN NOT NULL,
    booked_at          BIGINT,
    checked_in_at      BIGINT,
    -- Who checked in, when known (an employee, from chat or a signed-in page).
    checked_in_by      BIGINT REFERENCES employees(id) ON DELETE SET NULL,
    -- Checked out before the end: the room is free from then.
    ended_at           BIGINT,
    -- Nobody checked in within the grace period: the room was given back then.
    released_at        BIGINT,
    reminded_at        BIGINT,
    -- Told 5 minutes before the end that the room is booked next.
    nudged_at          BIGINT,
    -- Told that the next meeting's visitor arrived at reception.
    visitor_nudged_at  BIGINT,
    created_at         BIGINT NOT NULL,
    -- A meeting moved to another start (same uid) is another meeting of the room.
    UNIQUE (room_id, uid, starts_at),
    CHECK (starts_at < ends_at)
);
-- Meetings still waiting for a check-in (the release sweep reads only these).
CREATE INDEX room_meetings_waiting ON room_meetings (ends_at)
    WHERE checked_in_at IS NULL AND released_at IS NULL AND ended_at IS NULL;
-- Meetings whose organizer is still to be reminded (the reminders read only these).
CREATE INDEX room_meetings_unreminded ON room_meetings (starts_at) WHERE reminded_at IS NULL;
-- Meetings in use (the nudges read only these).
CREATE INDEX room_meetings_in_use ON room_meetings (ends_at)
    WHERE checked_in_at IS NOT NULL AND ended_at IS NULL;
-- A room's meetings not over yet (what "is it free now" reads; history does not slow it).
CREATE INDEX calendar_events_ends ON calendar_events (calendar_id, ends_at);
CREATE INDEX room_meetings_history ON room_meetings (tenant_id, room_id, starts_at);
CREATE INDEX room_meetings_series ON room_meetings (room_id, series, starts_at)
    WHERE series IS NOT NULL;
