-- Scheduling: booking links (one host, or a team booked collectively or by round robin),
-- the bookings made through them, and the holds that make double booking impossible.

CREATE TABLE booking_links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Unique across the server (like a Calendly handle): `/b/{slug}` finds its tenant.
    slug        TEXT NOT NULL UNIQUE,
    -- Who manages it (an admin may too).
    owner_id    BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('one_on_one', 'collective', 'round_robin')),
    -- The rules (hours, durations, buffers, questions, where), JSON, validated on write.
    rules       TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    single_use  BOOLEAN NOT NULL,
    -- A single-use link's booking: it offers nothing after.
    used_at     BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX booking_links_tenant ON booking_links (tenant_id, owner_id);

-- The hosts of a link. Round robin gives a booking to the free host with the fewest
-- bookings for their weight, then the least recently booked.
CREATE TABLE booking_link_hosts (
    link_id         BIGINT NOT NULL REFERENCES booking_links(id) ON DELETE CASCADE,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id     BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    weight          BIGINT NOT NULL CHECK (weight BETWEEN 1 AND 100),
    bookings        BIGINT NOT NULL,
    last_booked_at  BIGINT,
    PRIMARY KEY (link_id, employee_id)
);

-- A booking: a guest's through a link, or a meeting booked in chat (no link; see
-- 0018_booking_proposals). The "guest" is who booked: the link's guest, or the employee who
-- asked in chat. Guest details are sealed with the tenant's key.
CREATE TABLE bookings (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id             BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    public_id             TEXT NOT NULL UNIQUE,
    -- NULL: a meeting booked in chat.
    link_id               BIGINT REFERENCES booking_links(id) ON DELETE CASCADE,
    starts_at             BIGINT NOT NULL,
    ends_at               BIGINT NOT NULL,
    guest_name_sealed     TEXT NOT NULL,
    guest_email_sealed    TEXT NOT NULL,
    guest_company_sealed  TEXT,
    guest_phone_sealed    TEXT,
    answers_sealed        TEXT,
    guest_time_zone       TEXT NOT NULL,
    -- The language the guest booked in ('ja' or 'en'): their mails come in it first.
    guest_language        TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    -- Counted up on each change (the ICS SEQUENCE of the guest's invitation).
    sequence              BIGINT NOT NULL,
    -- SHA-256 of the token in the guest's manage link; NULL when there is none (booked in
    -- chat).
    manage_token_hash     TEXT,
    idempotency_key       TEXT,
    -- HMAC of the client's address (per-address limits without keeping the address).
    client_fingerprint    TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    CHECK (starts_at < ends_at),
    UNIQUE (link_id, idempotency_key)
);
CREATE INDEX bookings_link_time ON bookings (link_id, starts_at);
CREATE INDEX bookings_client ON bookings (client_fingerprint, created_at);

-- What a booking takes from each of its hosts: the meeting with its buffers. The database
-- refuses two holds of one host that overlap: writers check under `BEGIN IMMEDIATE`, and this
-- trigger stands behind them.
CREATE TABLE booking_holds (
    booking_id     BIGINT NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id    BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    blocked_from   BIGINT NOT NULL,
    blocked_until  BIGINT NOT NULL,
    PRIMARY KEY (booking_id, employee_id),
    CHECK (blocked_from < blocked_until)
);
CREATE INDEX booking_holds_time ON booking_holds (employee_id, blocked_until);
CREATE TRIGGER booking_holds_no_overlap BEFORE INSERT ON booking_holds
WHEN EXISTS (SELECT 1 FROM booking_holds
             WHERE employee_id = NEW.employee_id
               AND blocked_from < NEW.blocked_until AND NEW.blocked_from < blocked_until)
BEGIN
    SELECT RAISE(ABORT, 'booking_holds_no_overlap');
END;
CREATE TRIGGER booking_holds_no_overlap_update BEFORE UPDATE ON booking_holds
WHEN EXISTS (SELECT 1 FROM booking_holds
             WHERE employee_id = NEW.employee_id AND booking_id <> NEW.booking_id
               AND blocked_from < NEW.blocked_until AND NEW.blocked_from < blocked_until)
BEGIN
    SELECT RAISE(ABORT, 'booking_holds_no_overlap');
END;
