-- "Which rooms are free now" tests each room with one probe of an index that holds all it
-- needs: the room an event books is kept on the event (NULL in a person's calendar; a
-- calendar's owner never changes), and the room's events are indexed by end with their
-- start and uid, so the test reads no table row.
ALTER TABLE calendar_events ADD COLUMN room_id BIGINT;
UPDATE calendar_events SET room_id = (
    SELECT c.room_id FROM calendars c WHERE c.id = calendar_events.calendar_id);
CREATE INDEX calendar_events_room_ends ON calendar_events (room_id, ends_at, starts_at, uid)
    WHERE room_id IS NOT NULL;

-- Meetings that gave their room back early (released, or checked out): few, and what the
-- busy test looks up for each event it finds.
CREATE INDEX room_meetings_freed ON room_meetings (room_id, uid, starts_at)
    WHERE released_at IS NOT NULL OR ended_at IS NOT NULL;
