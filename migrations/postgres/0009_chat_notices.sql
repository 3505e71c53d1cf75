-- Chat notices: the outbox carries chat messages besides mail, and each chat message a
-- platform accepted is remembered (its conversation and message id) so the notice can be
-- updated in place later (an answered visit).
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('mail', 'chat'));

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
