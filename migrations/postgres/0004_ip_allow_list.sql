-- Each tenant's IP allow-list (whitepaper 2-5): the networks its admin API, sign-in, kiosks
-- and door displays may be used from. A tenant without rows is unrestricted, so existing
-- tenants keep working. An owner replaces the list as a whole; `position` keeps the order
-- the owner wrote it in, and a network appears once per tenant (stored normalised, CIDR
-- with the host bits cleared, e.g. 203.0.113.0/24).
CREATE TABLE ip_allow_list (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    network    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position),
    UNIQUE (tenant_id, network)
);
