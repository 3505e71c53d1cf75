-- A room's meeting that was released or checked out gave the room back then, and its event
-- was shortened to that moment. From now on a read of the calendar that brings the booked
-- end back keeps the shorter end; copies read back before are shortened here, once.
UPDATE calendar_events SET ends_at = freed.at
FROM (SELECT room_id, uid, starts_at, MIN(COALESCE(released_at, ended_at)) AS at
      FROM room_meetings WHERE released_at IS NOT NULL OR ended_at IS NOT NULL
      GROUP BY room_id, uid, starts_at) AS freed
WHERE calendar_events.room_id = freed.room_id AND calendar_events.uid = freed.uid
  AND calendar_events.starts_at = freed.starts_at
  AND freed.at > calendar_events.starts_at AND freed.at < calendar_events.ends_at;
