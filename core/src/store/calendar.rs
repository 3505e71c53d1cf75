//! Rooms, calendar connections, and calendar events (the built-in calendar's own and the
//! busy time cached from providers). Instants here are epoch milliseconds.

use super::{StoreError, Tx, on_tx};
use crate::domain::calendar::{Owner, Provider};

/// A calendar connection as stored (sealed columns still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCalendar {
    pub id: i64,
    pub tenant_id: i64,
    pub owner: Owner,
    pub provider: Provider,
    pub external_id_sealed: Option<String>,
    pub app_credentials: bool,
    pub tokens_sealed: Option<String>,
    pub sync_cursor: Option<String>,
    pub next_sync_at: i64,
    pub last_sync_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub failures: i64,
    pub needs_reconnect: bool,
    pub watch_id: Option<String>,
    pub watch_resource_id: Option<String>,
    pub watch_secret_hash: Option<String>,
    pub watch_expires_at: Option<i64>,
    pub watch_last_message: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CalendarRow {
    id: i64,
    tenant_id: i64,
    employee_id: Option<i64>,
    room_id: Option<i64>,
    provider: String,
    external_id_sealed: Option<String>,
    app_credentials: bool,
    tokens_sealed: Option<String>,
    sync_cursor: Option<String>,
    next_sync_at: i64,
    last_sync_at: Option<i64>,
    last_success_at: Option<i64>,
    last_error: Option<String>,
    failures: i64,
    needs_reconnect: bool,
    watch_id: Option<String>,
    watch_resource_id: Option<String>,
    watch_secret_hash: Option<String>,
    watch_expires_at: Option<i64>,
    watch_last_message: Option<i64>,
}

impl TryFrom<CalendarRow> for StoredCalendar {
    type Error = StoreError;

    fn try_from(row: CalendarRow) -> Result<Self, StoreError> {
        let owner = Owner::from_columns(row.employee_id, row.room_id)
            .ok_or_else(|| StoreError::Corrupt(format!("calendar {} has no owner", row.id)))?;
        let provider = Provider::parse(&row.provider)
            .ok_or_else(|| StoreError::Corrupt(format!("calendar provider {:?}", row.provider)))?;
        Ok(StoredCalendar {
            id: row.id,
            tenant_id: row.tenant_id,
            owner,
            provider,
            external_id_sealed: row.external_id_sealed,
            app_credentials: row.app_credentials,
            tokens_sealed: row.tokens_sealed,
            sync_cursor: row.sync_cursor,
            next_sync_at: row.next_sync_at,
            last_sync_at: row.last_sync_at,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            failures: row.failures,
            needs_reconnect: row.needs_reconnect,
            watch_id: row.watch_id,
            watch_resource_id: row.watch_resource_id,
            watch_secret_hash: row.watch_secret_hash,
            watch_expires_at: row.watch_expires_at,
            watch_last_message: row.watch_last_message,
        })
    }
}

fn calendars(rows: Vec<CalendarRow>) -> Result<Vec<StoredCalendar>, StoreError> {
    rows.into_iter().map(StoredCalendar::try_from).collect()
}

#[cfg(test)]
const COLUMNS: &str = "id, tenant_id, employee_id, room_id, provider, external_id_sealed, \
    app_credentials, tokens_sealed, sync_cursor, next_sync_at, last_sync_at, last_success_at, \
    last_error, failures, needs_reconnect, watch_id, watch_resource_id, watch_secret_hash, \
    watch_expires_at, watch_last_message";

// The column list is spelled out in each query (sqlx wants `&'static str`); `COLUMNS` is what
// a test checks them against.
const ZONE_OF_OWNER: &str = "SELECT time_zone FROM employees WHERE id = $1 \
    UNION ALL SELECT time_zone FROM rooms WHERE id = $2";

const INSERT: &str = "INSERT INTO calendars (tenant_id, employee_id, room_id, provider, \
    app_credentials, next_sync_at, failures, needs_reconnect, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, 0, FALSE, $7) RETURNING id";
const SET_SEALED: &str = "UPDATE calendars SET external_id_sealed = $2, tokens_sealed = $3 \
    WHERE id = $1";
const SET_TOKENS: &str = "UPDATE calendars SET tokens_sealed = $2, needs_reconnect = FALSE \
    WHERE id = $1";
const GET: &str = "SELECT id, tenant_id, employee_id, room_id, provider, external_id_sealed, \
    app_credentials, tokens_sealed, sync_cursor, next_sync_at, last_sync_at, last_success_at, \
    last_error, failures, needs_reconnect, watch_id, watch_resource_id, watch_secret_hash, \
    watch_expires_at, watch_last_message FROM calendars WHERE id = $1";
const OF_OWNER: &str = "SELECT id, tenant_id, employee_id, room_id, provider, \
    external_id_sealed, app_credentials, tokens_sealed, sync_cursor, next_sync_at, \
    last_sync_at, last_success_at, last_error, failures, needs_reconnect, watch_id, \
    watch_resource_id, watch_secret_hash, watch_expires_at, watch_last_message \
    FROM calendars WHERE tenant_id = $1 AND (employee_id = $2 OR room_id = $3) ORDER BY id";
const OF_TENANT: &str = "SELECT id, tenant_id, employee_id, room_id, provider, \
    external_id_sealed, app_credentials, tokens_sealed, sync_cursor, next_sync_at, \
    last_sync_at, last_success_at, last_error, failures, needs_reconnect, watch_id, \
    watch_resource_id, watch_secret_hash, watch_expires_at, watch_last_message \
    FROM calendars WHERE tenant_id = $1 AND provider <> 'local' ORDER BY id";
const BY_WATCH: &str = "SELECT id, tenant_id, employee_id, room_id, provider, \
    external_id_sealed, app_credentials, tokens_sealed, sync_cursor, next_sync_at, \
    last_sync_at, last_success_at, last_error, failures, needs_reconnect, watch_id, \
    watch_resource_id, watch_secret_hash, watch_expires_at, watch_last_message \
    FROM calendars WHERE watch_id = $1";
const BY_FEED: &str = "SELECT id, tenant_id, employee_id, room_id, provider, \
    external_id_sealed, app_credentials, tokens_sealed, sync_cursor, next_sync_at, \
    last_sync_at, last_success_at, last_error, failures, needs_reconnect, watch_id, \
    watch_resource_id, watch_secret_hash, watch_expires_at, watch_last_message \
    FROM calendars WHERE feed_token_hash = $1";
const DELETE: &str = "DELETE FROM calendars WHERE tenant_id = $1 AND id = $2";
const DUE: &str = "SELECT id FROM calendars WHERE provider <> 'local' AND next_sync_at <= $1 \
    AND (sync_lease_until IS NULL OR sync_lease_until <= $1) ORDER BY next_sync_at LIMIT $2";
// One statement: of two instances leasing one calendar, one finds it taken.
const LEASE: &str = "UPDATE calendars SET sync_lease_until = $2 WHERE id = $1 \
    AND next_sync_at <= $3 AND (sync_lease_until IS NULL OR sync_lease_until <= $3) \
    RETURNING id, tenant_id, employee_id, room_id, provider, external_id_sealed, \
    app_credentials, tokens_sealed, sync_cursor, next_sync_at, last_sync_at, last_success_at, \
    last_error, failures, needs_reconnect, watch_id, watch_resource_id, watch_secret_hash, \
    watch_expires_at, watch_last_message";
const SUCCEEDED: &str = "UPDATE calendars SET sync_cursor = $2, last_sync_at = $3, \
    last_success_at = $3, last_error = NULL, failures = 0, needs_reconnect = FALSE, \
    next_sync_at = $4, sync_lease_until = NULL WHERE id = $1";
const FAILED: &str = "UPDATE calendars SET last_sync_at = $2, last_error = $3, \
    failures = failures + 1, needs_reconnect = $4, next_sync_at = $5, sync_lease_until = NULL \
    WHERE id = $1";
const FORGET_CURSOR: &str = "UPDATE calendars SET sync_cursor = NULL WHERE id = $1";
const MARK_DUE: &str = "UPDATE calendars SET next_sync_at = $2 \
    WHERE id = $1 AND next_sync_at > $2";
const SET_WATCH: &str = "UPDATE calendars SET watch_id = $2, watch_resource_id = $3, \
    watch_secret_hash = $4, watch_expires_at = $5, watch_last_message = NULL WHERE id = $1";
const SEEN_MESSAGE: &str = "UPDATE calendars SET watch_last_message = $2 \
    WHERE id = $1 AND (watch_last_message IS NULL OR watch_last_message < $2)";
const WATCHES_TO_RENEW: &str = "SELECT id FROM calendars \
    WHERE provider IN ('google', 'microsoft') AND needs_reconnect = FALSE \
    AND (watch_id IS NULL OR watch_expires_at <= $1) ORDER BY id LIMIT $2";
const SET_FEED: &str = "UPDATE calendars SET feed_token_hash = $2 WHERE id = $1";

// A room booked on the spot is held under its own uid (`room-…@frontdesk`) until its
// provider made the event (see `room::rename_held_event`): a full sync keeps it.
const DELETE_EVENTS: &str = "DELETE FROM calendar_events WHERE calendar_id = $1 \
    AND uid NOT LIKE 'room-%@frontdesk'";
const DELETE_EVENT: &str = "DELETE FROM calendar_events WHERE calendar_id = $1 AND uid = $2";
// Who organized it and when it was booked are kept from an earlier write when a later one
// does not know them (a sync of an event Frontdesk booked).
// An event keeps the room its calendar belongs to (what "which rooms are busy" reads).
// A room's meeting that was released or checked out gave the room back then, and its
// event was shortened to that moment: a read of the calendar that brings the booked end back
// (the provider has not taken the change yet, or an ICS feed never will) keeps the shorter
// end, so every reader of the copy sees the room free from then.
const UPSERT_EVENT: &str = "INSERT INTO calendar_events \
    (calendar_id, tenant_id, uid, starts_at, ends_at, title_sealed, sequence, organizer, \
    private, series, booked_at, room_id) \
    VALUES ($1, $2, $3, $4, COALESCE((SELECT MIN(COALESCE(m.released_at, m.ended_at)) \
    FROM room_meetings m WHERE m.room_id = (SELECT room_id FROM calendars WHERE id = $1) \
    AND m.uid = $3 AND m.starts_at = $4 \
    AND (m.released_at IS NOT NULL OR m.ended_at IS NOT NULL) \
    AND COALESCE(m.released_at, m.ended_at) > $4 \
    AND COALESCE(m.released_at, m.ended_at) < $5), $5), $6, 0, $7, $8, $9, $10, \
    (SELECT room_id FROM calendars WHERE id = $1)) \
    ON CONFLICT (calendar_id, uid) DO UPDATE SET starts_at = excluded.starts_at, \
    ends_at = excluded.ends_at, title_sealed = excluded.title_sealed, \
    sequence = calendar_events.sequence + 1, \
    organizer = COALESCE(excluded.organizer, calendar_events.organizer), \
    private = excluded.private, series = excluded.series, \
    booked_at = COALESCE(calendar_events.booked_at, excluded.booked_at)";
const BUSY_OF_OWNER: &str = "SELECT e.uid, e.starts_at, e.ends_at FROM calendar_events e \
    JOIN calendars c ON c.id = e.calendar_id \
    WHERE c.tenant_id = $1 AND (c.employee_id = $2 OR c.room_id = $3) \
    AND e.starts_at < $5 AND e.ends_at > $4 ORDER BY e.starts_at";
const EVENTS_OF: &str = "SELECT uid, starts_at, ends_at, title_sealed, sequence \
    FROM calendar_events WHERE calendar_id = $1 AND starts_at < $3 AND ends_at > $2 \
    ORDER BY starts_at, uid";
const COUNT_EVENTS: &str = "SELECT COUNT(*) FROM calendar_events WHERE calendar_id = $1";

const UPSERT_LINK: &str = "INSERT INTO calendar_event_links \
    (tenant_id, reference, calendar_id, event_id, join_url, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, reference, calendar_id) \
    DO UPDATE SET event_id = excluded.event_id, \
    join_url = COALESCE(excluded.join_url, calendar_event_links.join_url)";
const LINKS: &str = "SELECT calendar_id, event_id, join_url FROM calendar_event_links \
    WHERE tenant_id = $1 AND reference = $2 ORDER BY calendar_id";
const INSERT_ATTEMPT: &str = "INSERT INTO calendar_oauth_attempts (state_hash, tenant_id, \
    employee_id, room_id, provider, verifier_sealed, started_by, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
// Deleting it is using it: of two callbacks with one state, one finds it.
const TAKE_ATTEMPT: &str = "DELETE FROM calendar_oauth_attempts \
    WHERE state_hash = $1 AND expires_at > $2 \
    RETURNING tenant_id, employee_id, room_id, provider, verifier_sealed, started_by";
const DELETE_OLD_ATTEMPTS: &str = "DELETE FROM calendar_oauth_attempts WHERE expires_at <= $1";

/// The IANA zone of a calendar's owner (an employee's, or a room's).
pub async fn zone_of_owner(tx: &mut Tx, owner: Owner) -> Result<Option<String>, StoreError> {
    let (employee_id, room_id) = owner.columns();
    Ok(on_tx!(tx, |c| sqlx::query_scalar(ZONE_OF_OWNER)
        .bind(employee_id)
        .bind(room_id)
        .fetch_optional(&mut *c)
        .await?))
}

/// A new calendar connection, due for its first sync at `now`; `Duplicate` when the owner
/// already has one at this provider. Its sealed columns are set next, by
/// [`set_sealed`], once its id (which they are bound to) is known.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    owner: Owner,
    provider: Provider,
    app_credentials: bool,
    now: i64,
) -> Result<i64, StoreError> {
    let (employee_id, room_id) = owner.columns();
    Ok(on_tx!(tx, |c| sqlx::query_scalar(INSERT)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(room_id)
        .bind(provider.as_str())
        .bind(app_credentials)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Sets the sealed external id and tokens of calendar `id`.
pub async fn set_sealed(
    tx: &mut Tx,
    id: i64,
    external_id_sealed: Option<&str>,
    tokens_sealed: Option<&str>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_SEALED)
        .bind(id)
        .bind(external_id_sealed)
        .bind(tokens_sealed)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Replaces calendar `id`'s sealed tokens (a refresh, or a reconnect).
pub async fn set_tokens(tx: &mut Tx, id: i64, tokens_sealed: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_TOKENS)
        .bind(id)
        .bind(tokens_sealed)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Calendar `id` (of any tenant: callers check the tenant).
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<StoredCalendar>, StoreError> {
    let row: Option<CalendarRow> = on_tx!(tx, |c| sqlx::query_as(GET)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    row.map(StoredCalendar::try_from).transpose()
}

/// The owner's calendars, oldest first.
pub async fn of_owner(
    tx: &mut Tx,
    tenant_id: i64,
    owner: Owner,
) -> Result<Vec<StoredCalendar>, StoreError> {
    let (employee_id, room_id) = owner.columns();
    calendars(on_tx!(tx, |c| sqlx::query_as(OF_OWNER)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(room_id)
        .fetch_all(&mut *c)
        .await?))
}

/// The tenant's connected calendars (every provider but the built-in one).
pub async fn connected(tx: &mut Tx, tenant_id: i64) -> Result<Vec<StoredCalendar>, StoreError> {
    calendars(on_tx!(tx, |c| sqlx::query_as(OF_TENANT)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// The calendar whose push channel is `watch_id`.
pub async fn by_watch(tx: &mut Tx, watch_id: &str) -> Result<Option<StoredCalendar>, StoreError> {
    let row: Option<CalendarRow> = on_tx!(tx, |c| sqlx::query_as(BY_WATCH)
        .bind(watch_id)
        .fetch_optional(&mut *c)
        .await?);
    row.map(StoredCalendar::try_from).transpose()
}

/// The built-in calendar whose private feed token hashes to `feed_token_hash`.
pub async fn by_feed(
    tx: &mut Tx,
    feed_token_hash: &str,
) -> Result<Option<StoredCalendar>, StoreError> {
    let row: Option<CalendarRow> = on_tx!(tx, |c| sqlx::query_as(BY_FEED)
        .bind(feed_token_hash)
        .fetch_optional(&mut *c)
        .await?);
    row.map(StoredCalendar::try_from).transpose()
}

/// Removes the tenant's calendar `id` and its events; `false` when there was none.
pub async fn delete(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<bool, StoreError> {
    let deleted = on_tx!(tx, |c| sqlx::query(DELETE)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(deleted == 1)
}

/// Leases up to `limit` calendars due for a sync at `now` until `lease_until`.
pub async fn lease_due(
    tx: &mut Tx,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<StoredCalendar>, StoreError> {
    let candidates: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(DUE)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    let mut leased = Vec::with_capacity(candidates.len());
    for id in candidates {
        let row: Option<CalendarRow> = on_tx!(tx, |c| sqlx::query_as(LEASE)
            .bind(id)
            .bind(lease_until)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?);
        if let Some(row) = row {
            leased.push(StoredCalendar::try_from(row)?);
        }
    }
    Ok(leased)
}

/// Records a successful sync: the new cursor, and when to reconcile next.
pub async fn record_success(
    tx: &mut Tx,
    id: i64,
    cursor: Option<&str>,
    now: i64,
    next_sync_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SUCCEEDED)
        .bind(id)
        .bind(cursor)
        .bind(now)
        .bind(next_sync_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Records a failed sync: the error, whether only reconnecting helps, and when to try again.
/// The cached events are left as they are (the last good data).
pub async fn record_failure(
    tx: &mut Tx,
    id: i64,
    error: &str,
    needs_reconnect: bool,
    now: i64,
    next_sync_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(FAILED)
        .bind(id)
        .bind(now)
        .bind(error)
        .bind(needs_reconnect)
        .bind(next_sync_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Drops calendar `id`'s sync cursor: its next sync is a full one.
pub async fn forget_cursor(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(FORGET_CURSOR)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Makes calendar `id` due at `at` (unless it already is); `false` when it already was.
pub async fn mark_due(tx: &mut Tx, id: i64, at: i64) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(MARK_DUE)
        .bind(id)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Records calendar `id`'s open push channel (all `None`: it has none).
pub async fn set_watch(
    tx: &mut Tx,
    id: i64,
    watch_id: Option<&str>,
    resource_id: Option<&str>,
    secret_hash: Option<&str>,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_WATCH)
        .bind(id)
        .bind(watch_id)
        .bind(resource_id)
        .bind(secret_hash)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Records push message `number` of calendar `id`'s channel; `false` when it (or a later
/// one) was seen already.
pub async fn see_message(tx: &mut Tx, id: i64, number: i64) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(SEEN_MESSAGE)
        .bind(id)
        .bind(number)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Calendars whose push channel is missing or ends by `before`, at most `limit`.
pub async fn watches_to_renew(
    tx: &mut Tx,
    before: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(WATCHES_TO_RENEW)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// Sets (or with `None` revokes) the built-in calendar's private feed token hash.
pub async fn set_feed(
    tx: &mut Tx,
    id: i64,
    feed_token_hash: Option<&str>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_FEED)
        .bind(id)
        .bind(feed_token_hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEvent {
    pub uid: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub title_sealed: Option<String>,
    pub sequence: i64,
}

/// Removes every event of calendar `id` (before a full sync writes them anew), but the
/// rooms booked on the spot that its provider has not made yet.
pub async fn delete_events(tx: &mut Tx, calendar_id: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(DELETE_EVENTS)
        .bind(calendar_id)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// Removes event `uid` of the calendar; `false` when there was none.
pub async fn delete_event(tx: &mut Tx, calendar_id: i64, uid: &str) -> Result<bool, StoreError> {
    let deleted = on_tx!(tx, |c| sqlx::query(DELETE_EVENT)
        .bind(calendar_id)
        .bind(uid)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(deleted == 1)
}

/// What an event says beyond its time, for rooms: who organized it (an email address),
/// whether it is private, the recurring series it belongs to, and when it was booked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFacts<'a> {
    pub organizer: Option<&'a str>,
    pub private: bool,
    pub series: Option<&'a str>,
    pub booked_at: Option<i64>,
}

/// Writes event `uid` (a new one, or a change counting its sequence up).
#[allow(clippy::too_many_arguments)]
pub async fn upsert_event(
    tx: &mut Tx,
    calendar_id: i64,
    tenant_id: i64,
    uid: &str,
    starts_at: i64,
    ends_at: i64,
    title_sealed: Option<&str>,
    facts: &EventFacts<'_>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(UPSERT_EVENT)
        .bind(calendar_id)
        .bind(tenant_id)
        .bind(uid)
        .bind(starts_at)
        .bind(ends_at)
        .bind(title_sealed)
        .bind(facts.organizer)
        .bind(facts.private)
        .bind(facts.series)
        .bind(facts.booked_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The owner's busy time in `[from, to)` over all their calendars, as `(start, end)` sorted
/// by start (overlaps not merged), leaving out the events `except` (by uid: a booking being
/// moved does not stand in its own way).
pub async fn busy_of_owner(
    tx: &mut Tx,
    tenant_id: i64,
    owner: Owner,
    (from, to): (i64, i64),
    except: &[String],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let (employee_id, room_id) = owner.columns();
    let rows: Vec<(String, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(BUSY_OF_OWNER)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(room_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?);
    Ok(rows
        .into_iter()
        .filter(|(uid, _, _)| !except.contains(uid))
        .map(|(_, start, end)| (start, end))
        .collect())
}

/// Calendar `id`'s events overlapping `[from, to)`, by start.
pub async fn events_of(
    tx: &mut Tx,
    calendar_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(EVENTS_OF)
        .bind(calendar_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?))
}

/// How many events calendar `id` holds.
pub async fn count_events(tx: &mut Tx, calendar_id: i64) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(COUNT_EVENTS)
        .bind(calendar_id)
        .fetch_one(&mut *c)
        .await?))
}

/// An event created at a provider for something of Frontdesk's.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventLink {
    pub calendar_id: i64,
    pub event_id: String,
    pub join_url: Option<String>,
}

/// Records the provider's event made for `reference` on calendar `calendar_id`.
pub async fn upsert_link(
    tx: &mut Tx,
    tenant_id: i64,
    reference: &str,
    link: &EventLink,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(UPSERT_LINK)
        .bind(tenant_id)
        .bind(reference)
        .bind(link.calendar_id)
        .bind(&link.event_id)
        .bind(&link.join_url)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forgets the provider event made for `reference` in calendar `calendar_id` (cancelled).
pub async fn delete_link(
    tx: &mut Tx,
    tenant_id: i64,
    reference: &str,
    calendar_id: i64,
) -> Result<(), StoreError> {
    const SQL: &str = "DELETE FROM calendar_event_links \
        WHERE tenant_id = $1 AND reference = $2 AND calendar_id = $3";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(reference)
        .bind(calendar_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The provider events made for `reference`.
pub async fn links(
    tx: &mut Tx,
    tenant_id: i64,
    reference: &str,
) -> Result<Vec<EventLink>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(LINKS)
        .bind(tenant_id)
        .bind(reference)
        .fetch_all(&mut *c)
        .await?))
}

/// An OAuth flow under way, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAttempt {
    pub tenant_id: i64,
    pub owner: Owner,
    pub provider: Provider,
    pub verifier_sealed: String,
    pub started_by: String,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    tenant_id: i64,
    employee_id: Option<i64>,
    room_id: Option<i64>,
    provider: String,
    verifier_sealed: String,
    started_by: String,
}

/// Records an OAuth flow under way.
#[allow(clippy::too_many_arguments)]
pub async fn insert_oauth_attempt(
    tx: &mut Tx,
    state_hash: &str,
    tenant_id: i64,
    owner: Owner,
    provider: Provider,
    verifier_sealed: &str,
    started_by: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    let (employee_id, room_id) = owner.columns();
    on_tx!(tx, |c| sqlx::query(INSERT_ATTEMPT)
        .bind(state_hash)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(room_id)
        .bind(provider.as_str())
        .bind(verifier_sealed)
        .bind(started_by)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Uses up the live OAuth flow whose state hashes to `state_hash`.
pub async fn take_oauth_attempt(
    tx: &mut Tx,
    state_hash: &str,
    now: i64,
) -> Result<Option<OAuthAttempt>, StoreError> {
    let row: Option<AttemptRow> = on_tx!(tx, |c| sqlx::query_as(TAKE_ATTEMPT)
        .bind(state_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?);
    row.map(|row| {
        Ok(OAuthAttempt {
            tenant_id: row.tenant_id,
            owner: Owner::from_columns(row.employee_id, row.room_id)
                .ok_or_else(|| StoreError::Corrupt("OAuth attempt without owner".into()))?,
            provider: Provider::parse(&row.provider)
                .ok_or_else(|| StoreError::Corrupt(format!("provider {:?}", row.provider)))?,
            verifier_sealed: row.verifier_sealed,
            started_by: row.started_by,
        })
    })
    .transpose()
}

/// Forgets OAuth flows expired by `now`.
pub async fn delete_old_oauth_attempts(tx: &mut Tx, now: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(DELETE_OLD_ATTEMPTS)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_calendar_query_reads_the_same_columns() {
        for query in [
            super::GET,
            super::OF_OWNER,
            super::OF_TENANT,
            super::BY_WATCH,
            super::BY_FEED,
        ] {
            let normalized: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(normalized.contains(super::COLUMNS), "{query}");
        }
        let lease: String = super::LEASE
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(lease.ends_with(super::COLUMNS));
    }
}
