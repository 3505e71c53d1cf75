-- "Which rooms are free now" answered from an index of time spans instead of a test of
-- each room in turn: the room an event books is kept on the event (NULL in a person's
-- calendar; a calendar's owner never changes), and the spans of room events are indexed
-- per tenant, so the rooms busy at an instant are one index scan however many rooms there are.
ALTER TABLE calendar_events ADD COLUMN room_id BIGINT;
UPDATE calendar_events e SET room_id = c.room_id
    FROM calendars c WHERE c.id = e.calendar_id AND c.room_id IS NOT NULL;
CREATE INDEX calendar_events_room_spans ON calendar_events
    USING gist (tenant_id, int8range(starts_at, ends_at)) WHERE room_id IS NOT NULL;
-- A changed event leaves its old span in that index until vacuumed, and a search for busy
-- rooms visits each old span that covers its instant (60,000 not yet vacuumed made the
-- search over 10,000 rooms 4 times slower). Syncs and releases change events often, so
-- they are vacuumed at 2 % of the table changed instead of the default 20 %.
ALTER TABLE calendar_events SET (autovacuum_vacuum_scale_factor = 0.02);

-- Meetings that gave their room back early (released, or checked out): few, and what the
-- busy test looks up for each event it finds.
CREATE INDEX room_meetings_freed ON room_meetings (room_id, uid, starts_at)
    WHERE released_at IS NOT NULL OR ended_at IS NOT NULL;
