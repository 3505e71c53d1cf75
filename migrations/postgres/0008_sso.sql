-- Single sign-on with OpenID Connect (whitepaper 2-5-3): each tenant may name one identity
-- provider. The client secret is sealed (AES-256-GCM, bound to tenant, table, column and
-- row), never stored in clear. `require_sso` refuses password sign-in to non-owners, so
-- owners keep a way in when the identity provider is down.
CREATE TABLE sso_settings (
    tenant_id      BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    issuer         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  TEXT NOT NULL,
    require_sso    BOOLEAN NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- A sign-in on its way through the identity provider: found by the SHA-256 of its `state`
-- (only the browser holds the state itself), single use, expiring after 10 minutes. The
-- nonce and the PKCE verifier it needs at the callback are sealed in `secrets`.
CREATE TABLE sso_login_attempts (
    state_hash  TEXT PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secrets     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
-- Expired attempts are deleted by age whenever a new one starts.
CREATE INDEX sso_login_attempts_expires ON sso_login_attempts (expires_at);
