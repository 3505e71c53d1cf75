-- Each tenant's access-log chain is keyed: an entry's hash is HMAC-SHA256 under the tenant's
-- chain key, so someone who can write the database but does not hold the sealing key (kept
-- outside the database) cannot rebuild a chain that verifies. The chain key itself is stored
-- here sealed (AES-256-GCM, bound to this row) with the sealing key; rotating the sealing
-- key re-seals it without changing it. Its sealed text also says from which entry on the
-- chain is keyed: entries written before this migration stay plain SHA-256.
CREATE TABLE access_log_keys (
    tenant_id  BIGINT PRIMARY KEY REFERENCES tenants(id) ON DELETE RESTRICT,
    sealed_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
