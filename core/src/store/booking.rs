//! Booking links, their hosts, bookings and the holds that keep hosts from being booked
//! twice. A link's slug is unique across the server, so public lookups by slug carry no
//! tenant; everything else filters by `tenant_id`.

use super::{StoreError, Tx, on_tx};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkRow {
    pub id: i64,
    pub tenant_id: i64,
    pub slug: String,
    pub owner_id: i64,
    pub title: String,
    pub kind: String,
    pub rules: String,
    pub active: bool,
    pub single_use: bool,
    pub used_at: Option<i64>,
}

macro_rules! link_columns {
    () => {
        "id, tenant_id, slug, owner_id, title, kind, rules, active, single_use, used_at"
    };
}

/// Inserts a link; [`StoreError::Duplicate`] when the slug is taken (by any tenant).
pub async fn insert_link(tx: &mut Tx, row: &LinkRow, now: i64) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO booking_links (tenant_id, slug, owner_id, title, kind, rules, \
        active, single_use, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(row.tenant_id)
        .bind(&row.slug)
        .bind(row.owner_id)
        .bind(&row.title)
        .bind(&row.kind)
        .bind(&row.rules)
        .bind(row.active)
        .bind(row.single_use)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Replaces what an owner or admin sets on a link (not its slug).
pub async fn update_link(tx: &mut Tx, row: &LinkRow, now: i64) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE booking_links SET owner_id = $3, title = $4, kind = $5, rules = $6, \
        active = $7, single_use = $8, updated_at = $9 WHERE tenant_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(row.tenant_id)
        .bind(row.id)
        .bind(row.owner_id)
        .bind(&row.title)
        .bind(&row.kind)
        .bind(&row.rules)
        .bind(row.active)
        .bind(row.single_use)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1))
}

pub async fn delete_link(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM booking_links WHERE tenant_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1))
}

/// The link with `slug`, of whichever tenant.
pub async fn link_by_slug(tx: &mut Tx, slug: &str) -> Result<Option<LinkRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        link_columns!(),
        " FROM booking_links WHERE slug = $1"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(slug)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn link(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<Option<LinkRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        link_columns!(),
        " FROM booking_links WHERE tenant_id = $1 AND id = $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The tenant's links, by slug.
pub async fn links(tx: &mut Tx, tenant_id: i64) -> Result<Vec<LinkRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        link_columns!(),
        " FROM booking_links WHERE tenant_id = $1 ORDER BY slug LIMIT 1000"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// The links on which `employee_id` is a host or the owner, by slug.
pub async fn links_of_employee(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
) -> Result<Vec<LinkRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        link_columns!(),
        " FROM booking_links WHERE tenant_id = $1 AND (owner_id = $2 OR id IN \
         (SELECT link_id FROM booking_link_hosts WHERE employee_id = $2)) ORDER BY slug LIMIT 1000"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(employee_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Takes the link's row lock for the rest of the transaction (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers), so bookings through one link are
/// counted (max per day, single use, round robin) one at a time. `false`: no such link.
pub async fn lock_link(tx: &mut Tx, link_id: i64) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE booking_links SET updated_at = updated_at WHERE id = $1";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(link_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1))
}

/// A single-use link has been used.
pub async fn mark_used(tx: &mut Tx, link_id: i64, at: i64) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE booking_links SET used_at = $2 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(link_id)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// A host of a link, with what the link's pages show of them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HostRow {
    pub employee_id: i64,
    pub email: String,
    pub name: String,
    pub weight: i64,
    pub bookings: i64,
    pub last_booked_at: Option<i64>,
}

/// The link's hosts, by employee id (one query: the slots endpoint reads them each time).
pub async fn hosts(tx: &mut Tx, link_id: i64) -> Result<Vec<HostRow>, StoreError> {
    const SQL: &str = "SELECT h.employee_id, e.email, e.name, h.weight, h.bookings, \
        h.last_booked_at FROM booking_link_hosts h \
        JOIN employees e ON e.id = h.employee_id AND e.tenant_id = h.tenant_id \
        WHERE h.link_id = $1 ORDER BY h.employee_id";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(link_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Makes `hosts` (employee, weight) the link's hosts; those staying keep their counts.
pub async fn set_hosts(
    tx: &mut Tx,
    tenant_id: i64,
    link_id: i64,
    hosts: &[(i64, i64)],
) -> Result<(), StoreError> {
    const DELETE: &str = "DELETE FROM booking_link_hosts WHERE link_id = $1";
    const UPSERT: &str = "INSERT INTO booking_link_hosts \
        (link_id, tenant_id, employee_id, weight, bookings, last_booked_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    let kept: Vec<HostRow> = self::hosts(tx, link_id).await?;
    on_tx!(tx, |c| sqlx::query(DELETE)
        .bind(link_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    for (employee_id, weight) in hosts {
        let earlier = kept.iter().find(|h| h.employee_id == *employee_id);
        on_tx!(tx, |c| sqlx::query(UPSERT)
            .bind(link_id)
            .bind(tenant_id)
            .bind(employee_id)
            .bind(weight)
            .bind(earlier.map_or(0, |h| h.bookings))
            .bind(earlier.and_then(|h| h.last_booked_at))
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Counts a booking for the host (round robin's fairness).
pub async fn host_booked(
    tx: &mut Tx,
    link_id: i64,
    employee_id: i64,
    at: i64,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE booking_link_hosts SET bookings = bookings + 1, last_booked_at = $3 \
        WHERE link_id = $1 AND employee_id = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(link_id)
        .bind(employee_id)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The employee's busy time meeting `[from, to)` (epoch ms), in one statement and one
/// row: their calendars' events (with their uids) and their booking holds (uid `None`),
/// but those of booking `except` (one being moved; 0 for none). Unsorted, not merged.
///
/// The rows come back aggregated as one JSON array because the SQLite driver hands each
/// row over from its connection thread separately: a month of meetings as rows cost more
/// in thread wake-ups than all the rest of a slots request.
pub async fn busy_of_host(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    (from, to): (i64, i64),
    except: i64,
) -> Result<Vec<(Option<String>, i64, i64)>, StoreError> {
    macro_rules! busy_rows {
        () => {
            "SELECT e.uid AS uid, e.starts_at AS starts_at, e.ends_at AS ends_at \
             FROM calendar_events e JOIN calendars c ON c.id = e.calendar_id \
             WHERE c.tenant_id = $1 AND c.employee_id = $2 AND e.starts_at < $4 AND e.ends_at > $3 \
             UNION ALL \
             SELECT NULL, blocked_from, blocked_until FROM booking_holds \
             WHERE employee_id = $2 AND blocked_until > $3 AND blocked_from < $4 AND booking_id <> $5"
        };
    }
    const SQLITE: &str = concat!(
        "SELECT json_group_array(json_array(uid, starts_at, ends_at)) FROM (",
        busy_rows!(),
        ")"
    );
    const POSTGRES: &str = concat!(
        "SELECT COALESCE(json_agg(json_build_array(uid, starts_at, ends_at))::text, '[]') FROM (",
        busy_rows!(),
        ") busy"
    );
    let sql = match tx {
        Tx::Sqlite(_) | Tx::SqliteStatements(_) => SQLITE,
        Tx::Postgres(_) | Tx::PostgresStatements(_) => POSTGRES,
    };
    let json: String = on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(from)
        .bind(to)
        .bind(except)
        .fetch_one(&mut *c)
        .await?);
    serde_json::from_str(&json).map_err(|err| StoreError::Corrupt(format!("busy time: {err}")))
}

/// The start (epoch ms) of each confirmed booking of the link in `[from, to)`, with each of
/// its hosts: what `max_per_day` counts.
pub async fn booked_starts(
    tx: &mut Tx,
    link_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    const SQL: &str = "SELECT h.employee_id, b.starts_at FROM bookings b \
        JOIN booking_holds h ON h.booking_id = b.id \
        WHERE b.link_id = $1 AND b.status = 'confirmed' AND b.starts_at >= $2 AND b.starts_at < $3";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(link_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *c)
        .await?))
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BookingRow {
    pub id: i64,
    pub tenant_id: i64,
    pub public_id: String,
    /// `None`: a meeting booked in chat (see `booking_proposal`).
    pub link_id: Option<i64>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub guest_name_sealed: String,
    pub guest_email_sealed: String,
    pub guest_company_sealed: Option<String>,
    pub guest_phone_sealed: Option<String>,
    pub answers_sealed: Option<String>,
    pub guest_time_zone: String,
    pub guest_language: String,
    pub status: String,
    pub sequence: i64,
    /// `None` when the booking has no manage link (booked in chat).
    pub manage_token_hash: Option<String>,
    pub idempotency_key: Option<String>,
    pub client_fingerprint: String,
    pub created_at: i64,
}

macro_rules! booking_columns {
    () => {
        "id, tenant_id, public_id, link_id, starts_at, ends_at, guest_name_sealed, \
         guest_email_sealed, guest_company_sealed, guest_phone_sealed, answers_sealed, \
         guest_time_zone, guest_language, status, sequence, manage_token_hash, idempotency_key, \
         client_fingerprint, created_at"
    };
}

/// Inserts a booking; [`StoreError::Duplicate`] when its idempotency key was used on the
/// link.
pub async fn insert_booking(tx: &mut Tx, row: &BookingRow) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO bookings (tenant_id, public_id, link_id, starts_at, ends_at, \
        guest_name_sealed, guest_email_sealed, guest_company_sealed, guest_phone_sealed, \
        answers_sealed, guest_time_zone, guest_language, status, sequence, manage_token_hash, \
        idempotency_key, client_fingerprint, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
        RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(row.tenant_id)
        .bind(&row.public_id)
        .bind(row.link_id)
        .bind(row.starts_at)
        .bind(row.ends_at)
        .bind(&row.guest_name_sealed)
        .bind(&row.guest_email_sealed)
        .bind(&row.guest_company_sealed)
        .bind(&row.guest_phone_sealed)
        .bind(&row.answers_sealed)
        .bind(&row.guest_time_zone)
        .bind(&row.guest_language)
        .bind(&row.status)
        .bind(row.sequence)
        .bind(&row.manage_token_hash)
        .bind(&row.idempotency_key)
        .bind(&row.client_fingerprint)
        .bind(row.created_at)
        .fetch_one(&mut *c)
        .await?))
}

/// `true` when a write of holds went through, `false` when the database refused it as
/// overlapping another hold (PostgreSQL's exclusion constraint, SQLite's trigger).
fn unless_overlap(result: Result<u64, sqlx::Error>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err.as_database_error().is_some_and(|db| {
                db.code().as_deref() == Some("23P01")
                    || db.message().contains("booking_holds_no_overlap")
            }) =>
        {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// Holds `[from, until)` (epoch ms) of the host for the booking. `false` when it overlaps
/// another hold of the host: the database refused it and the transaction must be dropped.
pub async fn insert_hold(
    tx: &mut Tx,
    tenant_id: i64,
    booking_id: i64,
    employee_id: i64,
    (from, until): (i64, i64),
) -> Result<bool, StoreError> {
    const SQL: &str = "INSERT INTO booking_holds \
        (booking_id, tenant_id, employee_id, blocked_from, blocked_until) VALUES ($1, $2, $3, $4, $5)";
    let result = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(booking_id)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(from)
        .bind(until)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()));
    unless_overlap(result)
}

/// Moves all holds of the booking to `[from, until)`. `false` when that overlaps another
/// hold of one of its hosts (the transaction must be dropped).
pub async fn move_holds(
    tx: &mut Tx,
    booking_id: i64,
    (from, until): (i64, i64),
) -> Result<bool, StoreError> {
    const SQL: &str =
        "UPDATE booking_holds SET blocked_from = $2, blocked_until = $3 WHERE booking_id = $1";
    let result = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(booking_id)
        .bind(from)
        .bind(until)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()));
    unless_overlap(result)
}

/// The booking with `id` of the tenant.
pub async fn booking(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<BookingRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE tenant_id = $1 AND id = $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The hosts the booking holds, by employee id.
pub async fn booking_hosts(tx: &mut Tx, booking_id: i64) -> Result<Vec<i64>, StoreError> {
    const SQL: &str =
        "SELECT employee_id FROM booking_holds WHERE booking_id = $1 ORDER BY employee_id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(booking_id)
        .fetch_all(&mut *c)
        .await?))
}

/// The booking with `public_id`, of whichever tenant.
pub async fn booking_by_public_id(
    tx: &mut Tx,
    public_id: &str,
) -> Result<Option<BookingRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE public_id = $1"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(public_id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn booking_by_idempotency_key(
    tx: &mut Tx,
    link_id: i64,
    key: &str,
) -> Result<Option<BookingRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        booking_columns!(),
        " FROM bookings WHERE link_id = $1 AND idempotency_key = $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(link_id)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?))
}

/// Moves a confirmed booking; its sequence counts up.
pub async fn move_booking(
    tx: &mut Tx,
    id: i64,
    (starts_at, ends_at): (i64, i64),
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE bookings SET starts_at = $2, ends_at = $3, \
        sequence = sequence + 1, updated_at = $4 WHERE id = $1 AND status = 'confirmed'";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(starts_at)
        .bind(ends_at)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1))
}

/// Cancels a confirmed booking and frees its hosts. `false` when it was not confirmed.
pub async fn cancel_booking(tx: &mut Tx, id: i64, now: i64) -> Result<bool, StoreError> {
    const CANCEL: &str = "UPDATE bookings SET status = 'cancelled', sequence = sequence + 1, \
        updated_at = $2 WHERE id = $1 AND status = 'confirmed'";
    const FREE: &str = "DELETE FROM booking_holds WHERE booking_id = $1";
    let cancelled = on_tx!(tx, |c| sqlx::query(CANCEL)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected())
        == 1;
    if cancelled {
        on_tx!(tx, |c| sqlx::query(FREE)
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(cancelled)
}

/// How many bookings the client (by fingerprint) made since `since` (epoch ms).
pub async fn bookings_from_client_since(
    tx: &mut Tx,
    client_fingerprint: &str,
    since: i64,
) -> Result<i64, StoreError> {
    const SQL: &str =
        "SELECT COUNT(*) FROM bookings WHERE client_fingerprint = $1 AND created_at >= $2";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(client_fingerprint)
        .bind(since)
        .fetch_one(&mut *c)
        .await?))
}
