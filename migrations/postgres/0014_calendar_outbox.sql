-- The outbox carries calendar writes (an event to create at a connected calendar's
-- provider) besides mail and chat.
ALTER TABLE outbox DROP CONSTRAINT outbox_channel_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_channel_check CHECK (channel IN ('mail', 'chat', 'calendar'));
