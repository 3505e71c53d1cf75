-- no-transaction
-- Chat notices: the outbox carries chat messages besides mail, and each chat message a
-- platform accepted is remembered (its conversation and message id) so the notice can be
-- updated in place later (an answered visit). The channel's CHECK lives in the table's
-- definition, which SQLite cannot alter: the outbox is rebuilt the way SQLite documents
-- (https://sqlite.org/lang_altertable.html#otheralter), in its own transaction with foreign
-- keys off, as in 0007.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE outbox_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL CHECK (channel IN ('mail', 'chat')),
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

-- One row per chat message a platform accepted for a notice: where it is, to update it.
CREATE TABLE chat_deliveries (
    tenant_id     BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- What the notice is about, e.g. `visit:42`; updates find its messages by it.
    notice        TEXT NOT NULL,
    platform      TEXT NOT NULL CHECK (platform IN ('slack', 'teams', 'discord', 'web')),
    conversation  TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    sent_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, notice, platform, conversation)
);
COMMIT;
PRAGMA foreign_keys = ON;
