-- Invitations (whitepaper 2-5): an owner invites an admin or receptionist by email; the
-- invitee follows a single-use link and chooses a password, which creates the account.
-- As with reset links, only the SHA-256 of the token is stored, so a leaked table lets
-- nobody in. A newer invitation to the same email retires the older one (`used_at` set).
CREATE TABLE invitations (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    -- Owners are made by promotion, never by invitation.
    role         TEXT NOT NULL CHECK (role IN ('admin', 'receptionist')),
    can_export   BOOLEAN NOT NULL,
    language     TEXT NOT NULL CHECK (language IN ('ja', 'en')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
-- Pending invitations are listed and retired by tenant and email.
CREATE INDEX invitations_tenant_email ON invitations (tenant_id, email);
