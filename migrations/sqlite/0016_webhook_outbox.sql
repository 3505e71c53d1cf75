-- no-transaction
-- The outbox carries outgoing webhooks (signed deliveries to a gate or door controller)
-- besides mail, chat and calendar writes. SQLite cannot alter a CHECK: rebuilt as in 0014.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE outbox_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('mail', 'chat', 'calendar', 'webhook')),
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
INSERT INTO outbox_rebuilt SELECT id, tenant_id, channel, payload, state, due_at, lease_until,
    lease_token, attempts, last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, due_at);
COMMIT;
PRAGMA foreign_keys = ON;
