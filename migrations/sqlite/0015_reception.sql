-- Reception: each location's reception settings, paired kiosk (and door) devices, expected
-- visits with their reception codes, visits, entrance-terms acceptances, visitor labels,
-- reception-code attempts and outgoing webhooks.
-- Visitor personal data (names, companies, emails, extra fields, appointment titles) is
-- sealed under the tenant's data key: every `*_sealed` column holds `fd1.…` values only, and
-- the row key of a sealed value is the row's `public_id`.

-- The location's reception settings (JSON, validated by the engine): extra fields, entrance
-- terms, fallback contact, answer timeout, categories, badge printing, reception address.
ALTER TABLE locations ADD COLUMN reception TEXT NOT NULL DEFAULT '{}';

-- A tablet paired by an admin: a kiosk at a location, or (rooms issue) a door display.
-- Only SHA-256 hashes of the one-time pairing code and of the device token are stored.
CREATE TABLE devices (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id           BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('kiosk', 'door')),
    location_id         BIGINT REFERENCES locations(id) ON DELETE CASCADE,
    room_id             BIGINT REFERENCES rooms(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    pairing_hash        TEXT UNIQUE,
    pairing_expires_at  BIGINT,
    token_hash          TEXT UNIQUE,
    created_at          BIGINT NOT NULL,
    paired_at           BIGINT,
    last_seen_at        BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX devices_tenant ON devices (tenant_id, kind);

-- A visit announced beforehand (by an admin, the bot, a booking or a calendar invite), with
-- the reception code the visitor types at the kiosk. A code is valid on the visit's day at
-- the location, from `valid_from` to `valid_until`, and unique per tenant and day while
-- not withdrawn.
CREATE TABLE expected_visits (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id               BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    location_id             BIGINT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    host_employee_id        BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    public_id               TEXT NOT NULL UNIQUE,
    code                    TEXT NOT NULL,
    day                     TEXT NOT NULL,
    valid_from              BIGINT NOT NULL,
    valid_until             BIGINT NOT NULL,
    starts_at               BIGINT,
    visitor_name_sealed     TEXT,
    visitor_company_sealed  TEXT,
    visitor_email_sealed    TEXT,
    purpose_sealed          TEXT,
    source                  TEXT NOT NULL CHECK (source IN ('admin', 'chat', 'booking', 'invite')),
    -- What announced it, for updates (an invite: calendar, event and attendee).
    source_ref              TEXT,
    status                  TEXT NOT NULL CHECK (status IN ('expected', 'arrived', 'withdrawn')),
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX expected_visits_code ON expected_visits (tenant_id, day, code)
    WHERE status <> 'withdrawn';
CREATE UNIQUE INDEX expected_visits_source ON expected_visits (tenant_id, source_ref)
    WHERE source_ref IS NOT NULL;
CREATE INDEX expected_visits_valid ON expected_visits (tenant_id, code, valid_until);

-- A visitor at a location: checked in at a kiosk (by code, by host, or by category), the
-- host's answer, and check-out. `public_id` is the kiosk's visit id (unguessable).
CREATE TABLE visits (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id               BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    location_id             BIGINT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    public_id               TEXT NOT NULL UNIQUE,
    expected_visit_id       BIGINT REFERENCES expected_visits(id) ON DELETE SET NULL,
    host_employee_id        BIGINT REFERENCES employees(id) ON DELETE SET NULL,
    category                TEXT CHECK (category IN ('delivery', 'interview', 'other')),
    visitor_name_sealed     TEXT,
    visitor_company_sealed  TEXT,
    visitor_email_sealed    TEXT,
    fields_sealed           TEXT,
    purpose_sealed          TEXT,
    status                  TEXT NOT NULL CHECK (status IN ('waiting', 'host_coming', 'host_delayed',
                                'host_unavailable', 'checked_out')),
    delay_minutes           BIGINT,
    answered_by             TEXT,
    answered_at             BIGINT,
    -- When the fallback contact is told if nobody answered; NULL once answered or told.
    fallback_due_at         BIGINT,
    fallback_sent_at        BIGINT,
    -- The visit's day at the location (YYYY-MM-DD).
    day                     TEXT NOT NULL,
    checked_in_at           BIGINT NOT NULL,
    checked_out_at          BIGINT,
    checked_out_by          TEXT CHECK (checked_out_by IN ('kiosk', 'badge', 'host', 'admin', 'auto')),
    reminder_sent_at        BIGINT,
    terms_version           BIGINT,
    -- SHA-256 of the badge's check-out token.
    badge_token_hash        TEXT UNIQUE,
    -- The kiosk's key for this check-in: a check-in queued offline and sent twice is one visit.
    idempotency_key         TEXT,
    -- Set when the retention job deleted the visitor's personal data.
    purged_at               BIGINT,
    UNIQUE (tenant_id, location_id, idempotency_key)
);
CREATE INDEX visits_history ON visits (tenant_id, checked_in_at);
CREATE INDEX visits_on_site ON visits (tenant_id, location_id, checked_out_at);
CREATE INDEX visits_fallback ON visits (fallback_due_at);

-- Entrance terms accepted at a kiosk: the terms' version, and until when the visitor (known
-- by a keyed fingerprint of their email, or of name and company) is not asked again.
CREATE TABLE terms_acceptances (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    location_id    BIGINT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    visitor_key    TEXT NOT NULL,
    terms_version  BIGINT NOT NULL,
    visit_id       BIGINT REFERENCES visits(id) ON DELETE SET NULL,
    accepted_at    BIGINT NOT NULL,
    valid_until    BIGINT NOT NULL
);
CREATE INDEX terms_acceptances_visitor
    ON terms_acceptances (tenant_id, location_id, visitor_key, terms_version);

-- Admin-defined visitor labels (candidate, vendor, VIP …) and the visits that carry them.
CREATE TABLE visitor_labels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE TABLE visit_labels (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    visit_id   BIGINT NOT NULL REFERENCES visits(id) ON DELETE CASCADE,
    label_id   BIGINT NOT NULL REFERENCES visitor_labels(id) ON DELETE CASCADE,
    PRIMARY KEY (visit_id, label_id)
);

-- Wrong reception codes typed at a kiosk (per device, or per address for an unpaired demo
-- kiosk), counted over a window so that guessing does not pay.
CREATE TABLE code_attempts (
    tenant_id     BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    attempted_at  BIGINT NOT NULL
);
CREATE INDEX code_attempts_subject ON code_attempts (tenant_id, subject, attempted_at);

-- Outgoing webhooks (a gate or door controller): signed with the endpoint's secret.
CREATE TABLE webhook_endpoints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    secret_sealed  TEXT NOT NULL,
    -- Comma-separated event names (`visit.checked_in,visit.checked_out`).
    events         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);
