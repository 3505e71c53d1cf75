-- Foundation: tenants, locations, employees, admin accounts, sessions, password resets,
-- login throttling, the access log, scheduled job runs and the outbox.
-- Instants are UTC epoch milliseconds (BIGINT) so comparisons are exact on both backends.
-- AUTOINCREMENT: an id is never reused after a delete, so `employee:42` in the access log
-- always means the same person (PostgreSQL identities never reuse ids either).
-- Every tenant-owned row carries tenant_id and every query filters by it.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE locations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, slug)
);

CREATE TABLE employees (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- The reading in kana lets kiosk search find 佐藤 by typing さとう. Sorted by code point
    -- (PostgreSQL: COLLATE "C") so both backends list the directory in the same order.
    name_kana     TEXT NOT NULL,
    department    TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    language      TEXT NOT NULL CHECK (language IN ('ja', 'en')),
    notification  TEXT NOT NULL CHECK (notification IN ('chat', 'email', 'chat_and_email')),
    -- Name, reading and email, lower-cased and normalised by Frontdesk (not by the database,
    -- whose LOWER() differs between backends), for search.
    search_text   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

-- One row per chat platform an employee is reachable on; the platform's own user id.
CREATE TABLE employee_chat_identities (
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id  BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    platform     TEXT NOT NULL CHECK (platform IN ('slack', 'teams', 'discord', 'web')),
    external_id  TEXT NOT NULL,
    PRIMARY KEY (employee_id, platform),
    UNIQUE (tenant_id, platform, external_id)
);

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'receptionist')),
    -- Downloads of personal data (CSV) are a separate permission (whitepaper 2-5-1).
    can_export     BOOLEAN NOT NULL,
    password_hash  TEXT NOT NULL,
    language       TEXT NOT NULL CHECK (language IN ('ja', 'en')),
    created_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

-- Only the SHA-256 of a session token is stored: a leaked table does not log anyone in.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE password_resets (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

-- Failed logins per key ('account:<tenant>:<email>' or 'ip:<addr>') in a sliding window.
CREATE TABLE login_throttle (
    throttle_key   TEXT PRIMARY KEY,
    window_start   BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    locked_until   BIGINT
);

-- Append-only, hash-chained per tenant: hash = SHA-256(prev_hash || canonical entry).
CREATE TABLE access_log (
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    ip          TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX access_log_at ON access_log (tenant_id, at);

-- The chain's head per tenant; updating it serialises appends within a tenant.
-- purged_* anchor the chain after retention removed its oldest entries.
CREATE TABLE access_log_head (
    tenant_id          BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    last_seq           BIGINT NOT NULL,
    last_hash          TEXT NOT NULL,
    -- The latest entry's instant: entries never go back in time along the chain, so
    -- retention can cut by sequence number (instances' clocks may differ slightly).
    last_at            BIGINT NOT NULL DEFAULT 0,
    purged_through_seq BIGINT NOT NULL,
    purged_hash        TEXT NOT NULL
);

-- Entries never change once written.
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

-- Entries are removed only by retention, which first moves the anchor past them.
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
WHEN OLD.seq > (SELECT purged_through_seq FROM access_log_head WHERE tenant_id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'access_log entries are removed only by retention');
END;

-- One row per (job, scheduled fire): the primary key decides which instance runs a fire.
CREATE TABLE job_runs (
    job          TEXT NOT NULL,
    fire_at      BIGINT NOT NULL,
    owner        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    lease_until  BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    finished_at  BIGINT,
    error        TEXT,
    PRIMARY KEY (job, fire_at)
);
CREATE INDEX job_runs_running ON job_runs (state, lease_until);

-- Messages to send, written in the same transaction as the change that causes them.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('mail')),
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    due_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    -- Who holds the lease: only that dispatcher may record the outcome.
    lease_token  TEXT,
    attempts     BIGINT NOT NULL,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT
);
CREATE INDEX outbox_due ON outbox (state, due_at);
