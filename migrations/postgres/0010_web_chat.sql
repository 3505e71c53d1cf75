-- The built-in web chat: employees (who have no admin account) sign in by a mailed link,
-- and each one's conversation with Frontdesk is kept here.

-- A sign-in link mailed to an employee: only the SHA-256 of its token is stored, it works
-- once (used_at) and briefly (expires_at). created_at also spaces out mails to one person.
CREATE TABLE employee_sign_in_links (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id  BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX employee_sign_in_links_employee ON employee_sign_in_links (employee_id, created_at);

-- An employee's web chat session, apart from admin sessions (an employee is no account and
-- may do nothing an account may). Only the SHA-256 of the cookie's token is stored.
CREATE TABLE employee_sessions (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id  BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX employee_sessions_employee ON employee_sessions (employee_id);

-- Each employee's last event number: taking the next one locks this row, so one employee's
-- events are numbered in the order they commit (a live stream resuming after number N
-- misses nothing), on PostgreSQL as on SQLite.
CREATE TABLE web_chat_heads (
    employee_id  BIGINT PRIMARY KEY REFERENCES employees(id) ON DELETE CASCADE,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    last_seq     BIGINT NOT NULL
);

-- The web chat's messages: what the employee typed or pressed, Frontdesk's answers and the
-- notices sent to them. `body` is the platform-neutral message as JSON, sealed with the
-- tenant's data key (notices name visitors). `seq` is the number of the message's latest
-- event: a notice updated in place (an answered visit) takes a new one, so a stream that
-- resumes after an older number sees the new version.
CREATE TABLE web_chat_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    employee_id  BIGINT NOT NULL REFERENCES employees(id) ON DELETE CASCADE,
    author       TEXT NOT NULL CHECK (author IN ('employee', 'frontdesk')),
    -- What a notice is about (e.g. `visit:42`), for updates in place; NULL for conversation.
    notice       TEXT,
    body         TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (employee_id, seq)
);
CREATE INDEX web_chat_messages_notice ON web_chat_messages (tenant_id, notice);
