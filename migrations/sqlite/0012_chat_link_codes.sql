-- Linking a chat account on a platform that shares no verified email (Discord): an employee
-- signed in to the web chat (so known by their directory email) asks for a code there and
-- types it on the platform, which proves both ends belong to the same person.

-- A link code: only its SHA-256 is stored; it works once (used_at) and for ten minutes
-- (expires_at). Asking for a new one removes the employee's unused ones.
CREATE TABLE chat_link_codes (
    code_hash    TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id  BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX chat_link_codes_employee ON chat_link_codes (employee_id, created_at);

-- Wrong codes typed on a platform, per platform user: a few per quarter hour at most, so
-- codes cannot be guessed. Kept a day.
CREATE TABLE chat_link_attempts (
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    platform     TEXT NOT NULL CHECK (platform IN ('slack', 'teams', 'discord', 'web')),
    user_id      TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX chat_link_attempts_user ON chat_link_attempts (tenant_id, platform, user_id, at);
