-- The outbox carries outgoing webhooks (signed deliveries to a gate or door controller)
-- besides mail, chat and calendar writes.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check
    CHECK (channel IN ('mail', 'chat', 'calendar', 'webhook'));
