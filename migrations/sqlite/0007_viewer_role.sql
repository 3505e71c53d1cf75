-- no-transaction
-- A fourth role, `viewer`: sees the directory and changes nothing. The role's CHECK lives in
-- the table's definition, which SQLite cannot alter, so the table is rebuilt the way SQLite
-- documents (https://sqlite.org/lang_altertable.html#otheralter): with foreign keys off,
-- so sessions and reset links that point at accounts are kept (dropping the old table with
-- foreign keys on would cascade them away). Hence `no-transaction`: that pragma cannot
-- change inside a transaction, so the rebuild runs in its own.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE accounts_rebuilt (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'receptionist', 'viewer')),
    -- Downloads of personal data (CSV) are a separate permission (whitepaper 2-5-1).
    can_export     BOOLEAN NOT NULL,
    password_hash  TEXT NOT NULL,
    language       TEXT NOT NULL CHECK (language IN ('ja', 'en')),
    created_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);
INSERT INTO accounts_rebuilt (id, tenant_id, email, role, can_export, password_hash, language, created_at)
    SELECT id, tenant_id, email, role, can_export, password_hash, language, created_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_rebuilt RENAME TO accounts;
COMMIT;
PRAGMA foreign_keys = ON;
