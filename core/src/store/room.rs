//! Meeting rooms, their meetings as the room's calendar holds them, and what Frontdesk
//! records of each meeting (`room_meetings`: check-ins, early ends, releases, reminders and
//! nudges). Instants here are epoch milliseconds.
//!
//! The jobs act on a meeting by setting its column where it is still NULL (`claim_*`): of
//! two instances sweeping at once, one sees the row change, so each reminder, release and
//! nudge happens once.

use super::{StoreError, Tx, json_rows, on_tx};

/// A meeting room.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Room {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub capacity: i64,
    pub time_zone: String,
    /// Lower-case words separated by single spaces (`display video`).
    pub equipment: String,
    pub floor: Option<i64>,
    pub location_id: Option<i64>,
    /// The release policy, JSON (the engine reads it; `{}` is the default).
    pub release_policy: String,
}

#[cfg(test)]
const ROOM_COLUMNS: &str =
    "id, slug, name, capacity, time_zone, equipment, floor, location_id, release_policy";

macro_rules! room_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, slug, name, capacity, time_zone, equipment, floor, location_id, \
             release_policy FROM rooms ",
            $rest
        )
    };
}

const INSERT_ROOM: &str = "INSERT INTO rooms (tenant_id, slug, name, capacity, time_zone, \
    equipment, floor, location_id, release_policy, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
const UPDATE_ROOM: &str = "UPDATE rooms SET name = $3, capacity = $4, time_zone = $5, \
    equipment = $6, floor = $7, location_id = $8, release_policy = $9 \
    WHERE tenant_id = $1 AND id = $2";
const ROOM_BY_SLUG: &str = room_select!("WHERE tenant_id = $1 AND slug = $2");
const ROOM_BY_ID: &str = room_select!("WHERE tenant_id = $1 AND id = $2");
const ROOMS: &str = room_select!("WHERE tenant_id = $1 ORDER BY slug");
const LOCK_ROOM: &str = "SELECT id FROM rooms WHERE id = $1 FOR UPDATE";

/// A new room; `Duplicate` when the slug is taken in the tenant.
pub async fn insert_room(
    tx: &mut Tx,
    tenant_id: i64,
    room: &Room,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(INSERT_ROOM)
        .bind(tenant_id)
        .bind(&room.slug)
        .bind(&room.name)
        .bind(room.capacity)
        .bind(&room.time_zone)
        .bind(&room.equipment)
        .bind(room.floor)
        .bind(room.location_id)
        .bind(&room.release_policy)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Writes a room's settings (not its slug); `false` when there is no such room.
pub async fn update_room(tx: &mut Tx, tenant_id: i64, room: &Room) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(UPDATE_ROOM)
        .bind(tenant_id)
        .bind(room.id)
        .bind(&room.name)
        .bind(room.capacity)
        .bind(&room.time_zone)
        .bind(&room.equipment)
        .bind(room.floor)
        .bind(room.location_id)
        .bind(&room.release_policy)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// The tenant's room `slug`.
pub async fn room_by_slug(
    tx: &mut Tx,
    tenant_id: i64,
    slug: &str,
) -> Result<Option<Room>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ROOM_BY_SLUG)
        .bind(tenant_id)
        .bind(slug)
        .fetch_optional(&mut *c)
        .await?))
}

/// The tenant's room `id`.
pub async fn room_by_id(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<Option<Room>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ROOM_BY_ID)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The tenant's rooms, by slug.
pub async fn rooms(tx: &mut Tx, tenant_id: i64) -> Result<Vec<Room>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ROOMS)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Holds the room until the transaction ends, so two bookings of it are made one after the
/// other (PostgreSQL; SQLite's write transactions already run one at a time).
pub async fn lock_room(tx: &mut Tx, room_id: i64) -> Result<(), StoreError> {
    if let Tx::Postgres(tx) = tx {
        sqlx::query(LOCK_ROOM)
            .bind(room_id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A meeting as the room's calendar holds it, with what Frontdesk recorded of it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomEvent {
    pub calendar_id: i64,
    pub provider: String,
    pub uid: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub title_sealed: Option<String>,
    pub private: bool,
    pub series: Option<String>,
    pub booked_at: Option<i64>,
    pub organizer_id: Option<i64>,
    pub organizer_name: Option<String>,
    /// The `room_meetings` row, once the meeting started (or someone checked in).
    pub meeting_id: Option<i64>,
    pub checked_in_at: Option<i64>,
    pub checked_in_by: Option<i64>,
    pub ended_at: Option<i64>,
    pub released_at: Option<i64>,
}

// The organizer is found by the address the calendar names; employees' addresses are
// stored lower-cased, and so are events' organizers.
const ROOM_EVENTS: &str = "SELECT c.id AS calendar_id, c.provider, e.uid, e.starts_at, \
    e.ends_at, e.title_sealed, e.private, e.series, e.booked_at, o.id AS organizer_id, \
    o.name AS organizer_name, m.id AS meeting_id, m.checked_in_at, m.checked_in_by, \
    m.ended_at, m.released_at \
    FROM calendars c JOIN calendar_events e ON e.calendar_id = c.id \
    LEFT JOIN employees o ON o.tenant_id = c.tenant_id AND o.email = e.organizer \
    LEFT JOIN room_meetings m ON m.room_id = c.room_id AND m.uid = e.uid \
    AND m.starts_at = e.starts_at \
    WHERE c.room_id = $1 AND e.starts_at < $3 AND e.ends_at > $2 \
    ORDER BY e.starts_at, e.uid";

/// The meetings of room `room_id` overlapping `[from, to)`, by start.
pub async fn room_events(
    tx: &mut Tx,
    room_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<RoomEvent>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ROOM_EVENTS)
        .bind(room_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?))
}

/// A room free for a whole span, and when its next meeting starts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FreeRoom {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub capacity: i64,
    pub time_zone: String,
    pub equipment: String,
    pub floor: Option<i64>,
    pub location_id: Option<i64>,
    pub release_policy: String,
    pub next_start: Option<i64>,
}

// A meeting that ended early or was released frees the room from then: its event was
// shortened to that moment, and stays so when the calendar is read again (`UPSERT_EVENT`).
// Rooms come smallest first (the best fit for the people asking). "Busy" is spelled per
// database, for a search that stays fast when every room is taken (then each room has to be
// ruled out):
// - SQLite reads rooms in that order from `rooms_by_size` and tests each with one probe of
//   `calendar_events_room_ends`, which holds all the test reads, stopping at the `LIMIT`.
// - PostgreSQL, whose cost per probe is several times SQLite's, finds the busy rooms at
//   once in the GiST index of room events' spans and leaves them out with a hashed `NOT
//   IN`. `DISTINCT` bounds the planner's estimate of that set by the number of rooms (not of
//   events), so the set is always hashed, never scanned once per room.
// The equipment test is spelled per database too: SQLite matches the sorted words with one
// `LIKE` pattern (each word between its own two spaces, `% display % video %`); PostgreSQL,
// which would estimate that `LIKE` keeps almost no room and so sort them all instead of
// stopping early, checks each word with `strpos`.
macro_rules! free_rooms_sql {
    ($busy:expr, $equipment:expr, $free:expr) => {
        concat!(
            $busy,
            "SELECT r.id, r.slug, r.name, r.capacity, r.time_zone, r.equipment, \
             r.floor, r.location_id, r.release_policy, \
             (SELECT MIN(e.starts_at) FROM calendars c JOIN calendar_events e \
              ON e.calendar_id = c.id WHERE c.room_id = r.id AND e.starts_at >= $5) AS next_start \
             FROM rooms r WHERE r.tenant_id = $1 AND r.capacity >= $2 \
             AND ($3 IS NULL OR r.floor = $3) AND ",
            $equipment,
            " AND ",
            $free,
            " ORDER BY r.capacity, r.slug LIMIT $7"
        )
    };
}
const FREE_ROOMS_SQLITE: &str = free_rooms_sql!(
    "",
    "(' ' || REPLACE(r.equipment, ' ', '  ') || ' ') LIKE $6",
    "NOT EXISTS (SELECT 1 FROM calendar_events e \
     WHERE e.room_id = r.id AND e.ends_at > $4 AND e.starts_at < $5)"
);
const FREE_ROOMS_POSTGRES: &str = free_rooms_sql!(
    "WITH busy AS MATERIALIZED (SELECT DISTINCT e.room_id FROM calendar_events e \
     WHERE e.tenant_id = $1 AND e.room_id IS NOT NULL \
     AND int8range(e.starts_at, e.ends_at) && int8range($4, $5)) ",
    "NOT EXISTS (SELECT 1 FROM unnest($6::text[]) AS w(word) \
     WHERE strpos(' ' || r.equipment || ' ', ' ' || w.word || ' ') = 0)",
    "r.id NOT IN (SELECT room_id FROM busy)"
);

/// What a search for free rooms asks of the database.
#[derive(Debug, Clone, Copy)]
pub struct FreeSearch<'a> {
    pub seats: i64,
    pub floor: Option<i64>,
    /// Equipment every room found has: words of lower-case letters, digits and `-`.
    pub equipment: &'a [String],
    pub limit: i64,
}

/// The tenant's rooms that suit `search` and are free for all of `[from, to)`, smallest
/// first, at most `search.limit`.
pub async fn free_rooms(
    tx: &mut Tx,
    tenant_id: i64,
    search: &FreeSearch<'_>,
    (from, to): (i64, i64),
) -> Result<Vec<FreeRoom>, StoreError> {
    let postgres = |sql| {
        sqlx::query_as(sql)
            .bind(tenant_id)
            .bind(search.seats)
            .bind(search.floor)
            .bind(from)
            .bind(to)
            .bind(search.equipment.to_vec())
            .bind(search.limit)
    };
    match tx {
        Tx::Postgres(c) => Ok(postgres(FREE_ROOMS_POSTGRES).fetch_all(&mut **c).await?),
        Tx::PostgresStatements(c) => Ok(postgres(FREE_ROOMS_POSTGRES).fetch_all(&mut **c).await?),
        sqlite => {
            let mut words: Vec<&str> = search.equipment.iter().map(String::as_str).collect();
            words.sort_unstable();
            let pattern = words.iter().fold(String::from("%"), |mut pattern, word| {
                pattern.push(' ');
                pattern.push_str(word);
                pattern.push_str(" %");
                pattern
            });
            Ok(on_tx!(sqlite, |c| sqlx::query_as(FREE_ROOMS_SQLITE)
                .bind(tenant_id)
                .bind(search.seats)
                .bind(search.floor)
                .bind(from)
                .bind(to)
                .bind(&pattern)
                .bind(search.limit)
                .fetch_all(&mut *c)
                .await?))
        }
    }
}

/// A meeting whose organizer has not been reminded yet, with its room's name and policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Started {
    pub id: i64,
    pub tenant_id: i64,
    pub room_id: i64,
    pub room_name: String,
    pub release_policy: String,
    pub starts_at: i64,
    pub organizer_id: Option<i64>,
}

// Meetings of room calendars that have begun (since `$2`) and not ended, not yet recorded.
// Inserting is claiming: a row another instance inserted first is skipped. (The WHERE
// makes SQLite read `ON CONFLICT` as the upsert clause, not as part of the join.) "Running
// at `$1`" is spelled per database: PostgreSQL finds the events in the GiST index of room
// events' spans (as free-now does); SQLite reads `calendar_events_room_ends` from `$1` on.
macro_rules! record_started_sql {
    ($running:literal) => {
        concat!(
            "INSERT INTO room_meetings (tenant_id, room_id, uid, series, \
             starts_at, ends_at, organizer_id, private, booked_at, created_at) \
             SELECT e.tenant_id, e.room_id, e.uid, e.series, e.starts_at, e.ends_at, o.id, \
             e.private, e.booked_at, $1 FROM calendar_events e \
             LEFT JOIN employees o ON o.tenant_id = e.tenant_id AND o.email = e.organizer \
             WHERE e.room_id IS NOT NULL AND ",
            $running,
            " AND e.starts_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM room_meetings m \
             WHERE m.room_id = e.room_id AND m.uid = e.uid AND m.starts_at = e.starts_at) \
             ON CONFLICT (room_id, uid, starts_at) DO NOTHING"
        )
    };
}
const RECORD_STARTED_POSTGRES: &str =
    record_started_sql!("int8range(e.starts_at, e.ends_at) @> $1::bigint");
const RECORD_STARTED_SQLITE: &str = record_started_sql!("e.starts_at <= $1 AND e.ends_at > $1");

/// Records the room meetings that started after `since` and are running at `now`; how many
/// this call recorded. Those recorded before are passed over by the `NOT EXISTS` (half the
/// cost of letting each one conflict); `ON CONFLICT` is for another instance recording
/// the same meeting at the same moment.
pub async fn record_started(tx: &mut Tx, now: i64, since: i64) -> Result<usize, StoreError> {
    let sql = tx.dialect(RECORD_STARTED_POSTGRES, RECORD_STARTED_SQLITE);
    let recorded = on_tx!(tx, |c| sqlx::query(sql)
        .bind(now)
        .bind(since)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(usize::try_from(recorded).unwrap_or(usize::MAX))
}

// Reads `room_meetings_unreminded`.
const UNREMINDED: &str = "SELECT m.id, m.tenant_id, m.room_id, r.name AS room_name, \
    r.release_policy, m.starts_at, m.organizer_id \
    FROM room_meetings m JOIN rooms r ON r.id = m.room_id \
    WHERE m.reminded_at IS NULL AND m.organizer_id IS NOT NULL \
    AND m.checked_in_at IS NULL AND m.released_at IS NULL AND m.ended_at IS NULL \
    AND m.starts_at > $1 AND m.starts_at <= $2 ORDER BY m.starts_at, m.id";

/// Recorded meetings that began in `(from, to]`, still waiting for a check-in, whose
/// organizer has not been reminded.
pub async fn unreminded(tx: &mut Tx, from: i64, to: i64) -> Result<Vec<Started>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(UNREMINDED)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?))
}

/// A meeting to record because someone acts on it before the sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeeting<'a> {
    pub tenant_id: i64,
    pub room_id: i64,
    pub uid: &'a str,
    pub series: Option<&'a str>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub organizer_id: Option<i64>,
    pub private: bool,
    pub booked_at: Option<i64>,
}

// `DO UPDATE` (to itself) rather than `DO NOTHING`, so the id comes back either way.
const ENSURE_MEETING: &str = "INSERT INTO room_meetings (tenant_id, room_id, uid, series, \
    starts_at, ends_at, organizer_id, private, booked_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
    ON CONFLICT (room_id, uid, starts_at) DO UPDATE SET uid = excluded.uid RETURNING id";

/// The id of the meeting's record, made now if the sweep has not made it yet.
pub async fn ensure_meeting(
    tx: &mut Tx,
    meeting: &NewMeeting<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(ENSURE_MEETING)
        .bind(meeting.tenant_id)
        .bind(meeting.room_id)
        .bind(meeting.uid)
        .bind(meeting.series)
        .bind(meeting.starts_at)
        .bind(meeting.ends_at)
        .bind(meeting.organizer_id)
        .bind(meeting.private)
        .bind(meeting.booked_at)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// A recorded meeting.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MeetingRecord {
    pub id: i64,
    pub tenant_id: i64,
    pub room_id: i64,
    pub uid: String,
    pub series: Option<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub organizer_id: Option<i64>,
    pub private: bool,
    pub booked_at: Option<i64>,
    pub checked_in_at: Option<i64>,
    pub checked_in_by: Option<i64>,
    pub ended_at: Option<i64>,
    pub released_at: Option<i64>,
    pub reminded_at: Option<i64>,
}

const MEETING: &str = "SELECT id, tenant_id, room_id, uid, series, starts_at, ends_at, \
    organizer_id, private, booked_at, checked_in_at, checked_in_by, ended_at, released_at, \
    reminded_at FROM room_meetings WHERE tenant_id = $1 AND id = $2";

/// The tenant's recorded meeting `id`.
pub async fn meeting(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<MeetingRecord>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(MEETING)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

const CHECK_IN: &str = "UPDATE room_meetings SET checked_in_at = $2, checked_in_by = $3 \
    WHERE id = $1 AND checked_in_at IS NULL AND released_at IS NULL AND ended_at IS NULL";
const END_MEETING: &str = "UPDATE room_meetings SET ended_at = $2 \
    WHERE id = $1 AND ended_at IS NULL AND released_at IS NULL";
const SET_MEETING_END: &str = "UPDATE room_meetings SET ends_at = $2 WHERE id = $1";
const CLAIM_VISITOR_NUDGE: &str = "UPDATE room_meetings SET visitor_nudged_at = $2 \
    WHERE id = $1 AND visitor_nudged_at IS NULL AND ended_at IS NULL";

/// Sets one of a meeting's "done once" columns with `sql`; whether this call set it.
async fn claim(tx: &mut Tx, sql: &'static str, id: i64, at: i64) -> Result<bool, StoreError> {
    let claimed = on_tx!(tx, |c| sqlx::query(sql)
        .bind(id)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(claimed == 1)
}

/// Checks the meeting in at `at` (by employee `by`, when known); `false` when it was
/// already checked in, ended or released.
pub async fn check_in(tx: &mut Tx, id: i64, at: i64, by: Option<i64>) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(CHECK_IN)
        .bind(id)
        .bind(at)
        .bind(by)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Ends the meeting at `at` (checked out); `false` when it had already ended.
pub async fn end_meeting(tx: &mut Tx, id: i64, at: i64) -> Result<bool, StoreError> {
    claim(tx, END_MEETING, id, at).await
}

/// Moves the booked end of the meeting (extended).
pub async fn set_meeting_end(tx: &mut Tx, id: i64, ends_at: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_MEETING_END)
        .bind(id)
        .bind(ends_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Releases the meeting at `at`; `false` when someone checked in, it ended, or another
/// instance released it first.
pub async fn claim_release(tx: &mut Tx, id: i64, at: i64) -> Result<bool, StoreError> {
    Ok(!claim_releases(tx, &[(id, at)]).await?.is_empty())
}

// Many reminder claims at once: `$1` is a JSON array of ids.
const CLAIM_REMINDERS_POSTGRES: &str = "UPDATE room_meetings SET reminded_at = $2 \
    WHERE id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($1::jsonb)) \
    AND reminded_at IS NULL RETURNING id";
const CLAIM_REMINDERS_SQLITE: &str = "UPDATE room_meetings SET reminded_at = $2 \
    WHERE id IN (SELECT value FROM json_each($1)) AND reminded_at IS NULL RETURNING id";

/// Marks the start reminders of meetings `ids` sent at `at`, in one statement; returns the
/// ids this call marked (not those another instance marked first).
pub async fn claim_reminders(tx: &mut Tx, ids: &[i64], at: i64) -> Result<Vec<i64>, StoreError> {
    let sql = tx.dialect(CLAIM_REMINDERS_POSTGRES, CLAIM_REMINDERS_SQLITE);
    claim_many(tx, sql, ids, at).await
}

/// Sets one of meetings `ids`' "done once" columns with `sql` (`$1`: the ids as a JSON
/// array); returns the ids this call set.
async fn claim_many(
    tx: &mut Tx,
    sql: &'static str,
    ids: &[i64],
    at: i64,
) -> Result<Vec<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::json!(ids).to_string();
    Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(&ids)
        .bind(at)
        .fetch_all(&mut *c)
        .await?))
}

// Many claims at once: `$1` is a JSON array of `{"id", "at"}` (see `json_rows`).
// On SQLite the meetings are reached by their ids only (`NOT INDEXED` still allows the
// rowid): the waiting conditions match the partial index `room_meetings_waiting`, and with
// some statistics the planner walked that index and read the whole JSON array again for
// each waiting meeting (380 ms for a chunk of 500 instead of 1.7).
const CLAIM_RELEASES_POSTGRES: &str = "UPDATE room_meetings SET released_at = j.at \
    FROM jsonb_to_recordset($1::jsonb) AS j(id BIGINT, at BIGINT) \
    WHERE room_meetings.id = j.id AND released_at IS NULL AND checked_in_at IS NULL \
    AND ended_at IS NULL RETURNING room_meetings.id";
const CLAIM_RELEASES_SQLITE: &str = "UPDATE room_meetings NOT INDEXED SET released_at = j.at \
    FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.at') AS at \
    FROM json_each($1)) AS j \
    WHERE room_meetings.id = j.id AND released_at IS NULL AND checked_in_at IS NULL \
    AND ended_at IS NULL RETURNING room_meetings.id";

/// Marks each `(meeting id, at)` released at its `at`, as [`claim_release`] does one, in
/// one statement; returns the ids this call released (not those released meanwhile, by
/// another instance, or checked in).
pub async fn claim_releases(tx: &mut Tx, claims: &[(i64, i64)]) -> Result<Vec<i64>, StoreError> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let rows = json_rows(
        claims
            .iter()
            .map(|(id, at)| serde_json::json!({"id": id, "at": at}))
            .collect(),
    );
    let sql = tx.dialect(CLAIM_RELEASES_POSTGRES, CLAIM_RELEASES_SQLITE);
    Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(&rows)
        .fetch_all(&mut *c)
        .await?))
}

// Many end-nudge claims at once: `$1` is a JSON array of ids.
const CLAIM_NUDGES_POSTGRES: &str = "UPDATE room_meetings SET nudged_at = $2 \
    WHERE id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($1::jsonb)) \
    AND nudged_at IS NULL AND ended_at IS NULL RETURNING id";
const CLAIM_NUDGES_SQLITE: &str = "UPDATE room_meetings SET nudged_at = $2 \
    WHERE id IN (SELECT value FROM json_each($1)) AND nudged_at IS NULL \
    AND ended_at IS NULL RETURNING id";

/// Marks the end nudges of meetings `ids` sent at `at`, in one statement; returns the ids
/// this call marked (not those another instance marked first, nor meetings ended since).
pub async fn claim_nudges(tx: &mut Tx, ids: &[i64], at: i64) -> Result<Vec<i64>, StoreError> {
    let sql = tx.dialect(CLAIM_NUDGES_POSTGRES, CLAIM_NUDGES_SQLITE);
    claim_many(tx, sql, ids, at).await
}

/// Marks the "your next visitor is here" nudge sent; `false` when it already was.
pub async fn claim_visitor_nudge(tx: &mut Tx, id: i64, at: i64) -> Result<bool, StoreError> {
    claim(tx, CLAIM_VISITOR_NUDGE, id, at).await
}

/// A running meeting nobody has checked in to, with its room's policy and its event as the
/// calendar holds it now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Waiting {
    pub id: i64,
    pub tenant_id: i64,
    pub room_id: i64,
    pub room_name: String,
    pub uid: String,
    pub series: Option<String>,
    pub calendar_id: i64,
    pub provider: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub organizer_id: Option<i64>,
    pub booked_at: Option<i64>,
    pub reminded_at: Option<i64>,
    pub release_policy: String,
}

// Reads `room_meetings_waiting`: only meetings not yet ended. Unordered (the sweep sorts
// them by tenant): an `ORDER BY m.id` led SQLite to walk every meeting ever held in id
// order instead of the index.
const WAITING: &str = "SELECT m.id, m.tenant_id, m.room_id, r.name AS room_name, m.uid, \
    m.series, c.id AS calendar_id, c.provider, e.starts_at, e.ends_at, m.organizer_id, \
    m.booked_at, m.reminded_at, r.release_policy \
    FROM room_meetings m JOIN rooms r ON r.id = m.room_id \
    JOIN calendars c ON c.room_id = m.room_id \
    JOIN calendar_events e ON e.calendar_id = c.id AND e.uid = m.uid AND e.starts_at = m.starts_at \
    WHERE m.checked_in_at IS NULL AND m.released_at IS NULL AND m.ended_at IS NULL \
    AND m.ends_at > $1 AND e.starts_at <= $1 AND e.ends_at > $1";

/// The running meetings (at `now`) nobody has checked in to.
pub async fn waiting(tx: &mut Tx, now: i64) -> Result<Vec<Waiting>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(WAITING)
        .bind(now)
        .fetch_all(&mut *c)
        .await?))
}

// Many ends at once: `$1` is a JSON array of `{"calendar_id", "uid", "ends_at"}`.
const SET_EVENT_ENDS_POSTGRES: &str = "UPDATE calendar_events \
    SET ends_at = j.ends_at, sequence = sequence + 1 \
    FROM jsonb_to_recordset($1::jsonb) AS j(calendar_id BIGINT, uid TEXT, ends_at BIGINT) \
    WHERE calendar_events.calendar_id = j.calendar_id AND calendar_events.uid = j.uid \
    AND calendar_events.starts_at < j.ends_at";
const SET_EVENT_ENDS_SQLITE: &str = "UPDATE calendar_events \
    SET ends_at = j.ends_at, sequence = sequence + 1 \
    FROM (SELECT json_extract(value, '$.calendar_id') AS calendar_id, \
    json_extract(value, '$.uid') AS uid, json_extract(value, '$.ends_at') AS ends_at \
    FROM json_each($1)) AS j \
    WHERE calendar_events.calendar_id = j.calendar_id AND calendar_events.uid = j.uid \
    AND calendar_events.starts_at < j.ends_at";

/// Moves the end of each `(calendar id, event uid, end)` (a release, an early end or an
/// extension: the event stays, so history shows how long the room was held), in one
/// statement.
pub async fn set_event_ends(tx: &mut Tx, ends: &[(i64, &str, i64)]) -> Result<(), StoreError> {
    if ends.is_empty() {
        return Ok(());
    }
    let rows = json_rows(
        ends.iter()
            .map(|(calendar_id, uid, ends_at)| {
                serde_json::json!({"calendar_id": calendar_id, "uid": uid, "ends_at": ends_at})
            })
            .collect(),
    );
    let sql = tx.dialect(SET_EVENT_ENDS_POSTGRES, SET_EVENT_ENDS_SQLITE);
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&rows)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

const DROP_HELD_EVENT: &str = "DELETE FROM calendar_events WHERE calendar_id = $1 AND uid = $2 \
    AND EXISTS (SELECT 1 FROM calendar_events WHERE calendar_id = $1 AND uid = $3)";
const RENAME_HELD_EVENT: &str =
    "UPDATE calendar_events SET uid = $3 WHERE calendar_id = $1 AND uid = $2";
const RENAME_MEETING: &str = "UPDATE room_meetings SET uid = $3 \
    WHERE uid = $2 AND room_id = (SELECT room_id FROM calendars WHERE id = $1)";

/// Gives the event held in calendar `calendar_id` under `held` (a room booked at the door,
/// before its provider made the event) the provider's id `made`, and the room's record of
/// the meeting with it. When a sync already brought the event, the held copy goes.
pub async fn rename_held_event(
    tx: &mut Tx,
    calendar_id: i64,
    held: &str,
    made: &str,
) -> Result<(), StoreError> {
    for sql in [DROP_HELD_EVENT, RENAME_HELD_EVENT, RENAME_MEETING] {
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(calendar_id)
            .bind(held)
            .bind(made)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

const SERIES_RECORD: &str = "SELECT checked_in_at IS NULL AND ended_at IS NULL \
    FROM room_meetings WHERE room_id = $1 AND series = $2 AND starts_at <= $3 \
    ORDER BY starts_at DESC LIMIT $4";

/// Whether each of the last `count` recorded occurrences of `series` in the room up to
/// `until` was missed (nobody checked in), oldest first.
pub async fn series_record(
    tx: &mut Tx,
    room_id: i64,
    series: &str,
    until: i64,
    count: i64,
) -> Result<Vec<bool>, StoreError> {
    let mut missed: Vec<bool> = on_tx!(tx, |c| sqlx::query_scalar(SERIES_RECORD)
        .bind(room_id)
        .bind(series)
        .bind(until)
        .bind(count)
        .fetch_all(&mut *c)
        .await?);
    missed.reverse();
    Ok(missed)
}

const DELETE_SERIES_FROM: &str = "DELETE FROM calendar_events \
    WHERE calendar_id = $1 AND series = $2 AND starts_at >= $3";

/// Removes the occurrences of `series` from `from` on from the calendar's events; how many.
pub async fn delete_series_from(
    tx: &mut Tx,
    calendar_id: i64,
    series: &str,
    from: i64,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(DELETE_SERIES_FROM)
        .bind(calendar_id)
        .bind(series)
        .bind(from)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// A meeting in use that ends soon, and when the room's next meeting starts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ending {
    pub id: i64,
    pub tenant_id: i64,
    pub room_id: i64,
    pub room_name: String,
    pub uid: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub checked_in_at: i64,
    pub organizer_id: Option<i64>,
    pub checked_in_by: Option<i64>,
    pub next_start: Option<i64>,
}

// Reads `room_meetings_in_use`, unordered as `WAITING` is. The next meeting is the first
// other one starting from this one's start on and ending after it.
const ENDING: &str = "SELECT m.id, m.tenant_id, m.room_id, r.name AS room_name, m.uid, \
    m.starts_at, m.ends_at, m.checked_in_at, m.organizer_id, m.checked_in_by, \
    (SELECT MIN(e.starts_at) FROM calendars c JOIN calendar_events e ON e.calendar_id = c.id \
     WHERE c.room_id = m.room_id AND e.uid <> m.uid AND e.starts_at >= m.starts_at \
     AND e.ends_at > m.ends_at) AS next_start \
    FROM room_meetings m JOIN rooms r ON r.id = m.room_id \
    WHERE m.checked_in_at IS NOT NULL AND m.ended_at IS NULL AND m.nudged_at IS NULL \
    AND m.ends_at > $1 AND m.ends_at <= $2";

/// Meetings in use ending in `(now, until]` whose occupants have not been nudged.
pub async fn ending(tx: &mut Tx, now: i64, until: i64) -> Result<Vec<Ending>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ENDING)
        .bind(now)
        .bind(until)
        .fetch_all(&mut *c)
        .await?))
}

/// A meeting in use in a room that `organizer` has booked next.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Occupied {
    pub id: i64,
    pub room_id: i64,
    pub room_name: String,
    pub organizer_id: Option<i64>,
    pub checked_in_by: Option<i64>,
    pub next_start: i64,
    /// The host's next meeting there is private.
    pub next_private: bool,
}

// From the meetings in use (few), the rooms whose next meeting `$2` organizes, starting by
// `$4`.
const OCCUPIED_BEFORE: &str = "SELECT m.id, m.room_id, r.name AS room_name, m.organizer_id, \
    m.checked_in_by, MIN(e.starts_at) AS next_start, \
    MAX(CASE WHEN e.private THEN 1 ELSE 0 END) = 1 AS next_private \
    FROM room_meetings m JOIN rooms r ON r.id = m.room_id \
    JOIN calendars c ON c.room_id = m.room_id \
    JOIN calendar_events e ON e.calendar_id = c.id \
    WHERE m.tenant_id = $1 AND m.checked_in_at IS NOT NULL AND m.ended_at IS NULL \
    AND m.visitor_nudged_at IS NULL AND m.starts_at <= $3 AND m.ends_at > $3 \
    AND e.uid <> m.uid AND e.organizer = $2 AND e.starts_at >= m.starts_at \
    AND e.starts_at <= $4 \
    GROUP BY m.id, m.room_id, r.name, m.organizer_id, m.checked_in_by";

/// Meetings in use at `now` in rooms where `organizer` (an email address) has a meeting
/// starting by `by`, whose occupants have not been told of a visitor yet.
pub async fn occupied_before(
    tx: &mut Tx,
    tenant_id: i64,
    organizer: &str,
    now: i64,
    by: i64,
) -> Result<Vec<Occupied>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(OCCUPIED_BEFORE)
        .bind(tenant_id)
        .bind(organizer)
        .bind(now)
        .bind(by)
        .fetch_all(&mut *c)
        .await?))
}

/// A recorded meeting, for utilisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Past {
    pub room_id: i64,
    pub uid: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub checked_in_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub released_at: Option<i64>,
}

const HISTORY: &str = "SELECT room_id, uid, starts_at, ends_at, checked_in_at, ended_at, \
    released_at FROM room_meetings WHERE tenant_id = $1 AND starts_at >= $2 AND starts_at < $3 \
    ORDER BY room_id, starts_at";

/// The tenant's recorded meetings that started in `[from, to)`, by room and start.
pub async fn history(
    tx: &mut Tx,
    tenant_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<Past>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(HISTORY)
        .bind(tenant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn room_queries_select_every_room_column() {
        for sql in [super::ROOM_BY_SLUG, super::ROOM_BY_ID, super::ROOMS] {
            assert!(sql.contains(super::ROOM_COLUMNS), "{sql}");
        }
    }
}
