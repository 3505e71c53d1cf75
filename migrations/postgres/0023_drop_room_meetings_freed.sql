-- Meetings that gave their room back early had an index of their own for the free-room
-- search, which no longer looks them up (their events are shortened instead, 0022). The
-- one reader left, the calendar upsert's check for a shorter end, finds a meeting by the
-- unique (room_id, uid, starts_at), so the index only cost every release and check-out a
-- write.
DROP INDEX room_meetings_freed;
