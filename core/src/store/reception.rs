//! Reception: locations' reception settings, paired devices, expected visits with their
//! reception codes, visits, terms acceptances, code attempts, visitor labels and outgoing
//! webhook endpoints. Personal data arrives sealed; this module never sees it in clear.

use super::{StoreError, Tx, on_tx};

// ---- location settings ----

const GET_SETTINGS: &str = "SELECT reception FROM locations WHERE tenant_id = $1 AND id = $2";
const SET_SETTINGS: &str = "UPDATE locations SET reception = $3 WHERE tenant_id = $1 AND id = $2";
const LOCATIONS_WITH_SETTINGS: &str =
    "SELECT id, tenant_id, time_zone, reception FROM locations ORDER BY id";

/// The location's reception settings as stored (JSON).
pub async fn settings(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(GET_SETTINGS)
        .bind(tenant_id)
        .bind(location_id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn set_settings(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: i64,
    json: &str,
) -> Result<bool, StoreError> {
    let changed = on_tx!(tx, |c| sqlx::query(SET_SETTINGS)
        .bind(tenant_id)
        .bind(location_id)
        .bind(json)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

/// A location as the reception jobs see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocationSettingsRow {
    pub id: i64,
    pub tenant_id: i64,
    pub time_zone: String,
    pub reception: String,
}

/// The tenant's locations with their settings (for reading invitations to their reception).
pub async fn tenant_locations(
    tx: &mut Tx,
    tenant_id: i64,
) -> Result<Vec<LocationSettingsRow>, StoreError> {
    const SQL: &str = "SELECT id, tenant_id, time_zone, reception FROM locations WHERE tenant_id = $1 ORDER BY id";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Every location of every tenant, with its settings (for the daily jobs).
pub async fn all_locations(tx: &mut Tx) -> Result<Vec<LocationSettingsRow>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(LOCATIONS_WITH_SETTINGS)
        .fetch_all(&mut *c)
        .await?))
}

// ---- devices ----

/// A paired (or pairing) tablet.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub location_id: Option<i64>,
    pub room_id: Option<i64>,
    pub name: String,
    pub pairing_expires_at: Option<i64>,
    pub created_at: i64,
    pub paired_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

macro_rules! device_columns {
    () => {
        "id, tenant_id, kind, location_id, room_id, name, \
    pairing_expires_at, created_at, paired_at, last_seen_at, revoked_at"
    };
}

/// A new device waiting to pair with the code whose hash is `pairing_hash`.
#[derive(Debug)]
pub struct NewDevice<'a> {
    pub tenant_id: i64,
    pub kind: &'a str,
    pub location_id: Option<i64>,
    pub room_id: Option<i64>,
    pub name: &'a str,
    pub pairing_hash: &'a str,
    pub pairing_expires_at: i64,
    pub now: i64,
}

pub async fn insert_device(tx: &mut Tx, device: &NewDevice<'_>) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO devices (tenant_id, kind, location_id, room_id, name, \
        pairing_hash, pairing_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(device.tenant_id)
        .bind(device.kind)
        .bind(device.location_id)
        .bind(device.room_id)
        .bind(device.name)
        .bind(device.pairing_hash)
        .bind(device.pairing_expires_at)
        .bind(device.now)
        .fetch_one(&mut *c)
        .await?))
}

/// Pairs the device whose live pairing code hashes to `pairing_hash`: the code is used up
/// and the device holds `token_hash` from now on. `None` for an unknown, used, expired or
/// revoked code. One statement, so of two tablets using one code only one pairs.
pub async fn pair_device(
    tx: &mut Tx,
    tenant_id: i64,
    pairing_hash: &str,
    token_hash: &str,
    now: i64,
) -> Result<Option<DeviceRow>, StoreError> {
    const SQL: &str = concat!(
        "UPDATE devices SET pairing_hash = NULL, pairing_expires_at = NULL, token_hash = $3, \
         paired_at = $4, last_seen_at = $4 \
         WHERE tenant_id = $1 AND pairing_hash = $2 AND pairing_expires_at > $4 \
         AND revoked_at IS NULL RETURNING ",
        device_columns!()
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(pairing_hash)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// The device waiting to pair with the code that hashes to `pairing_hash` (pairing codes
/// are unique across the server, so the code names its tenant).
pub async fn pending_device(
    tx: &mut Tx,
    pairing_hash: &str,
    now: i64,
) -> Result<Option<DeviceRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices WHERE pairing_hash = $1 \
         AND pairing_expires_at > $2 AND revoked_at IS NULL"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(pairing_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// The live (not revoked) device holding the token that hashes to `token_hash`.
pub async fn device_by_token(
    tx: &mut Tx,
    token_hash: &str,
) -> Result<Option<DeviceRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices WHERE token_hash = $1 AND revoked_at IS NULL"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(token_hash)
        .fetch_optional(&mut *c)
        .await?))
}

/// Whether device `id` is still paired or waiting to be (not revoked).
pub async fn device_is_live(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM devices WHERE id = $1 AND revoked_at IS NULL";
    let live: i64 = on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(id)
        .fetch_one(&mut *c)
        .await?);
    Ok(live == 1)
}

pub async fn touch_device(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE devices SET last_seen_at = $2 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn list_devices(
    tx: &mut Tx,
    tenant_id: i64,
    kind: &str,
) -> Result<Vec<DeviceRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        device_columns!(),
        " FROM devices WHERE tenant_id = $1 AND kind = $2 ORDER BY id"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(kind)
        .fetch_all(&mut *c)
        .await?))
}

/// Revokes the device `id` of `kind`: its token stops working at once. Whether it was live.
pub async fn revoke_device(
    tx: &mut Tx,
    tenant_id: i64,
    kind: &str,
    id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE devices SET revoked_at = $3, pairing_hash = NULL, token_hash = NULL \
        WHERE tenant_id = $1 AND id = $2 AND kind = $4 AND revoked_at IS NULL";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .bind(kind)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

// ---- expected visits ----

/// A visit announced beforehand, as stored (personal data sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpectedVisitRow {
    pub id: i64,
    pub tenant_id: i64,
    pub location_id: i64,
    pub host_employee_id: i64,
    pub public_id: String,
    pub code: String,
    pub day: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub starts_at: Option<i64>,
    pub visitor_name_sealed: Option<String>,
    pub visitor_company_sealed: Option<String>,
    pub visitor_email_sealed: Option<String>,
    pub purpose_sealed: Option<String>,
    pub source: String,
    pub source_ref: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! expected_columns {
    () => {
        "id, tenant_id, location_id, host_employee_id, public_id, code, \
    day, valid_from, valid_until, starts_at, visitor_name_sealed, visitor_company_sealed, \
    visitor_email_sealed, purpose_sealed, source, source_ref, status, created_at, updated_at"
    };
}

/// Whether a code is taken by another visit of the tenant (other than `except`, a visit
/// being moved) that is valid at some instant of `valid_from..valid_until` (days at
/// locations in other zones overlap).
pub async fn code_in_use(
    tx: &mut Tx,
    tenant_id: i64,
    code: &str,
    valid_from: i64,
    valid_until: i64,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM expected_visits WHERE tenant_id = $1 AND code = $2 \
        AND status <> 'withdrawn' AND valid_from < $4 AND valid_until > $3 AND id <> $5";
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(tenant_id)
        .bind(code)
        .bind(valid_from)
        .bind(valid_until)
        // Ids start at 1: 0 excepts nothing.
        .bind(except.unwrap_or(0))
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}

pub async fn insert_expected(tx: &mut Tx, row: &ExpectedVisitRow) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO expected_visits (tenant_id, location_id, host_employee_id, \
        public_id, code, day, valid_from, valid_until, starts_at, visitor_name_sealed, \
        visitor_company_sealed, visitor_email_sealed, purpose_sealed, source, source_ref, \
        status, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
        RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(row.tenant_id)
        .bind(row.location_id)
        .bind(row.host_employee_id)
        .bind(&row.public_id)
        .bind(&row.code)
        .bind(&row.day)
        .bind(row.valid_from)
        .bind(row.valid_until)
        .bind(row.starts_at)
        .bind(&row.visitor_name_sealed)
        .bind(&row.visitor_company_sealed)
        .bind(&row.visitor_email_sealed)
        .bind(&row.purpose_sealed)
        .bind(&row.source)
        .bind(&row.source_ref)
        .bind(&row.status)
        .bind(row.created_at)
        .bind(row.updated_at)
        .fetch_one(&mut *c)
        .await?))
}

/// Moves an expected visit to another day or time (an invite that moved); the code stays
/// when it is still free on the new day, which the caller checked.
pub async fn reschedule_expected(tx: &mut Tx, row: &ExpectedVisitRow) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE expected_visits SET location_id = $3, host_employee_id = $4, \
        code = $5, day = $6, valid_from = $7, valid_until = $8, starts_at = $9, \
        purpose_sealed = $10, status = $11, updated_at = $12 WHERE tenant_id = $1 AND id = $2";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(row.tenant_id)
        .bind(row.id)
        .bind(row.location_id)
        .bind(row.host_employee_id)
        .bind(&row.code)
        .bind(&row.day)
        .bind(row.valid_from)
        .bind(row.valid_until)
        .bind(row.starts_at)
        .bind(&row.purpose_sealed)
        .bind(&row.status)
        .bind(row.updated_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The expected visit the code opens now, if any.
pub async fn expected_by_code(
    tx: &mut Tx,
    tenant_id: i64,
    code: &str,
    now: i64,
) -> Result<Option<ExpectedVisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        expected_columns!(),
        " FROM expected_visits WHERE tenant_id = $1 AND code = $2 \
         AND status <> 'withdrawn' AND valid_from <= $3 AND valid_until > $3"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(code)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn expected_by_public_id(
    tx: &mut Tx,
    tenant_id: i64,
    public_id: &str,
) -> Result<Option<ExpectedVisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        expected_columns!(),
        " FROM expected_visits WHERE tenant_id = $1 AND public_id = $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(public_id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The expected visits announced by `source_ref`s starting with `prefix` (an invite's
/// attendees), withdrawn ones included.
pub async fn expected_by_source_prefix(
    tx: &mut Tx,
    tenant_id: i64,
    prefix: &str,
) -> Result<Vec<ExpectedVisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        expected_columns!(),
        " FROM expected_visits WHERE tenant_id = $1 \
         AND substr(source_ref, 1, $3) = $2 ORDER BY id"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(prefix)
        .bind(i32::try_from(prefix.len()).unwrap_or(i32::MAX))
        .fetch_all(&mut *c)
        .await?))
}

/// Expected visits of the tenant on days `from..=to` (YYYY-MM-DD), optionally at one location.
pub async fn list_expected(
    tx: &mut Tx,
    tenant_id: i64,
    from_day: &str,
    to_day: &str,
    limit: i64,
) -> Result<Vec<ExpectedVisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        expected_columns!(),
        " FROM expected_visits WHERE tenant_id = $1 \
         AND day >= $2 AND day <= $3 ORDER BY day, starts_at, id LIMIT $4"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(from_day)
        .bind(to_day)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// Sets the expected visit's status (`arrived`, `withdrawn`); whether it changed.
pub async fn set_expected_status(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    status: &str,
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE expected_visits SET status = $3, updated_at = $4 \
        WHERE tenant_id = $1 AND id = $2 AND status <> $3";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

// ---- visits ----

/// A visit as stored (personal data sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VisitRow {
    pub id: i64,
    pub tenant_id: i64,
    pub location_id: i64,
    pub public_id: String,
    pub expected_visit_id: Option<i64>,
    pub host_employee_id: Option<i64>,
    pub category: Option<String>,
    pub visitor_name_sealed: Option<String>,
    pub visitor_company_sealed: Option<String>,
    pub visitor_email_sealed: Option<String>,
    pub fields_sealed: Option<String>,
    pub purpose_sealed: Option<String>,
    pub status: String,
    pub delay_minutes: Option<i64>,
    pub answered_by: Option<String>,
    pub answered_at: Option<i64>,
    pub fallback_due_at: Option<i64>,
    pub fallback_sent_at: Option<i64>,
    pub day: String,
    pub checked_in_at: i64,
    pub checked_out_at: Option<i64>,
    pub checked_out_by: Option<String>,
    pub reminder_sent_at: Option<i64>,
    pub terms_version: Option<i64>,
    pub badge_token_hash: Option<String>,
    pub idempotency_key: Option<String>,
    pub purged_at: Option<i64>,
}

macro_rules! visit_columns {
    () => {
        "id, tenant_id, location_id, public_id, expected_visit_id, \
    host_employee_id, category, visitor_name_sealed, visitor_company_sealed, \
    visitor_email_sealed, fields_sealed, purpose_sealed, status, delay_minutes, answered_by, \
    answered_at, fallback_due_at, fallback_sent_at, day, checked_in_at, checked_out_at, \
    checked_out_by, reminder_sent_at, terms_version, badge_token_hash, idempotency_key, purged_at"
    };
}

pub async fn insert_visit(tx: &mut Tx, row: &VisitRow) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO visits (tenant_id, location_id, public_id, \
        expected_visit_id, host_employee_id, category, visitor_name_sealed, \
        visitor_company_sealed, visitor_email_sealed, fields_sealed, purpose_sealed, status, \
        fallback_due_at, day, checked_in_at, terms_version, badge_token_hash, idempotency_key) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
        RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(row.tenant_id)
        .bind(row.location_id)
        .bind(&row.public_id)
        .bind(row.expected_visit_id)
        .bind(row.host_employee_id)
        .bind(&row.category)
        .bind(&row.visitor_name_sealed)
        .bind(&row.visitor_company_sealed)
        .bind(&row.visitor_email_sealed)
        .bind(&row.fields_sealed)
        .bind(&row.purpose_sealed)
        .bind(&row.status)
        .bind(row.fallback_due_at)
        .bind(&row.day)
        .bind(row.checked_in_at)
        .bind(row.terms_version)
        .bind(&row.badge_token_hash)
        .bind(&row.idempotency_key)
        .fetch_one(&mut *c)
        .await?))
}

async fn one_visit(
    tx: &mut Tx,
    sql: &'static str,
    tenant_id: i64,
    key: &str,
) -> Result<Option<VisitRow>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(tenant_id)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn visit_by_public_id(
    tx: &mut Tx,
    tenant_id: i64,
    public_id: &str,
) -> Result<Option<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE tenant_id = $1 AND public_id = $2"
    );
    one_visit(tx, SQL, tenant_id, public_id).await
}

pub async fn visit_by_badge(
    tx: &mut Tx,
    tenant_id: i64,
    badge_token_hash: &str,
) -> Result<Option<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE tenant_id = $1 AND badge_token_hash = $2"
    );
    one_visit(tx, SQL, tenant_id, badge_token_hash).await
}

pub async fn visit(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<Option<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE tenant_id = $1 AND id = $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn visit_by_idempotency_key(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: i64,
    key: &str,
) -> Result<Option<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE tenant_id = $1 AND location_id = $2 \
         AND idempotency_key = $3"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(location_id)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records the host's answer on a visit still on site; the fallback is off. Whether it
/// changed anything.
pub async fn set_answer(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    status: &str,
    delay_minutes: Option<i64>,
    answered_by: &str,
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE visits SET status = $3, delay_minutes = $4, answered_by = $5, \
        answered_at = $6, fallback_due_at = NULL \
        WHERE tenant_id = $1 AND id = $2 AND checked_out_at IS NULL";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(id)
        .bind(status)
        .bind(delay_minutes)
        .bind(answered_by)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

/// Checks the visit out; whether it was still on site.
pub async fn check_out(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    by: &str,
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE visits SET status = 'checked_out', checked_out_at = $4, \
        checked_out_by = $3, fallback_due_at = NULL \
        WHERE tenant_id = $1 AND id = $2 AND checked_out_at IS NULL";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(id)
        .bind(by)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

/// Visits whose host has not answered by now (across tenants), oldest first.
pub async fn due_fallbacks(tx: &mut Tx, now: i64, limit: i64) -> Result<Vec<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE fallback_due_at IS NOT NULL \
         AND fallback_due_at <= $1 ORDER BY fallback_due_at LIMIT $2"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// Takes the visit's due fallback: of several instances, exactly one gets `true`.
pub async fn take_fallback(tx: &mut Tx, id: i64, now: i64) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE visits SET fallback_due_at = NULL, fallback_sent_at = $2 \
        WHERE id = $1 AND fallback_due_at IS NOT NULL AND fallback_due_at <= $2";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

/// Visits still on site at the location (all locations when `None`), in order of arrival.
pub async fn on_site(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: Option<i64>,
) -> Result<Vec<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits WHERE tenant_id = $1 AND checked_out_at IS NULL \
         AND ($2 IS NULL OR location_id = $2) ORDER BY checked_in_at, id"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(location_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Marks the check-out reminder of the visit sent; `true` for the one instance that does.
pub async fn take_reminder(tx: &mut Tx, id: i64, now: i64) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE visits SET reminder_sent_at = $2 \
        WHERE id = $1 AND reminder_sent_at IS NULL AND checked_out_at IS NULL";
    let changed = on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(changed == 1)
}

/// Filters of the visit history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub location_id: Option<i64>,
    pub host_employee_id: Option<i64>,
    pub status: Option<String>,
    pub label_id: Option<i64>,
    /// Only visits with a smaller id (paging backwards through time).
    pub before_id: Option<i64>,
}

/// Visits matching `filter`, newest first, at most `limit`.
pub async fn history(
    tx: &mut Tx,
    tenant_id: i64,
    filter: &HistoryFilter,
    limit: i64,
) -> Result<Vec<VisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        visit_columns!(),
        " FROM visits v WHERE tenant_id = $1 \
         AND ($2 IS NULL OR checked_in_at >= $2) AND ($3 IS NULL OR checked_in_at < $3) \
         AND ($4 IS NULL OR location_id = $4) AND ($5 IS NULL OR host_employee_id = $5) \
         AND ($6 IS NULL OR status = $6) \
         AND ($7 IS NULL OR EXISTS (SELECT 1 FROM visit_labels l \
              WHERE l.visit_id = v.id AND l.label_id = $7)) \
         AND ($8 IS NULL OR id < $8) ORDER BY id DESC LIMIT $9"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.location_id)
        .bind(filter.host_employee_id)
        .bind(&filter.status)
        .bind(filter.label_id)
        .bind(filter.before_id)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// Deletes the personal data of the location's visits checked in before `cutoff`, and of
/// its expected visits that ended before it; returns how many visits were purged.
pub async fn purge_personal_data(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: i64,
    cutoff: i64,
    now: i64,
) -> Result<u64, StoreError> {
    const VISITS: &str = "UPDATE visits SET visitor_name_sealed = NULL, \
        visitor_company_sealed = NULL, visitor_email_sealed = NULL, fields_sealed = NULL, \
        purpose_sealed = NULL, badge_token_hash = NULL, purged_at = $4 \
        WHERE tenant_id = $1 AND location_id = $2 AND checked_in_at < $3 AND purged_at IS NULL";
    const EXPECTED: &str = "UPDATE expected_visits SET visitor_name_sealed = NULL, \
        visitor_company_sealed = NULL, visitor_email_sealed = NULL, purpose_sealed = NULL \
        WHERE tenant_id = $1 AND location_id = $2 AND valid_until < $3 \
        AND visitor_name_sealed IS NOT NULL";
    const ACCEPTANCES: &str = "DELETE FROM terms_acceptances \
        WHERE tenant_id = $1 AND location_id = $2 AND valid_until < $3";
    let purged = on_tx!(tx, |c| sqlx::query(VISITS)
        .bind(tenant_id)
        .bind(location_id)
        .bind(cutoff)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(EXPECTED)
        .bind(tenant_id)
        .bind(location_id)
        .bind(cutoff)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(ACCEPTANCES)
        .bind(tenant_id)
        .bind(location_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(purged)
}

// ---- terms ----

/// An acceptance of a location's entrance terms.
#[derive(Debug)]
pub struct Acceptance<'a> {
    pub tenant_id: i64,
    pub location_id: i64,
    pub visitor_key: &'a str,
    pub terms_version: i64,
    pub visit_id: i64,
    pub accepted_at: i64,
    pub valid_until: i64,
}

pub async fn record_acceptance(tx: &mut Tx, a: &Acceptance<'_>) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO terms_acceptances (tenant_id, location_id, visitor_key, \
        terms_version, visit_id, accepted_at, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(a.tenant_id)
        .bind(a.location_id)
        .bind(a.visitor_key)
        .bind(a.terms_version)
        .bind(a.visit_id)
        .bind(a.accepted_at)
        .bind(a.valid_until)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Whether the visitor accepted this version of the location's terms and it still holds.
pub async fn has_accepted(
    tx: &mut Tx,
    tenant_id: i64,
    location_id: i64,
    visitor_key: &str,
    terms_version: i64,
    now: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM terms_acceptances WHERE tenant_id = $1 \
        AND location_id = $2 AND visitor_key = $3 AND terms_version = $4 AND valid_until > $5";
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(tenant_id)
        .bind(location_id)
        .bind(visitor_key)
        .bind(terms_version)
        .bind(now)
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}

// ---- code attempts ----

pub async fn record_code_attempt(
    tx: &mut Tx,
    tenant_id: i64,
    subject: &str,
    now: i64,
) -> Result<(), StoreError> {
    const SQL: &str =
        "INSERT INTO code_attempts (tenant_id, subject, attempted_at) VALUES ($1, $2, $3)";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(tenant_id)
        .bind(subject)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Wrong codes typed by `subject` since `since`, and the earliest of them.
pub async fn code_attempts_since(
    tx: &mut Tx,
    tenant_id: i64,
    subject: &str,
    since: i64,
) -> Result<(i64, Option<i64>), StoreError> {
    const SQL: &str = "SELECT COUNT(*), MIN(attempted_at) FROM code_attempts \
        WHERE tenant_id = $1 AND subject = $2 AND attempted_at > $3";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(subject)
        .bind(since)
        .fetch_one(&mut *c)
        .await?))
}

pub async fn delete_code_attempts_before(tx: &mut Tx, before: i64) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM code_attempts WHERE attempted_at <= $1";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(before)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

// ---- visitor labels ----

/// An admin-defined visitor label (candidate, vendor, VIP …).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LabelRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub created_at: i64,
}

/// Adds a label; [`StoreError::Duplicate`] when the tenant has one of that name.
pub async fn insert_label(
    tx: &mut Tx,
    tenant_id: i64,
    name: &str,
    now: i64,
) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO visitor_labels (tenant_id, name, created_at) \
        VALUES ($1, $2, $3) RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(tenant_id)
        .bind(name)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// The tenant's labels, by name.
pub async fn labels(tx: &mut Tx, tenant_id: i64) -> Result<Vec<LabelRow>, StoreError> {
    const SQL: &str = "SELECT id, tenant_id, name, created_at FROM visitor_labels \
        WHERE tenant_id = $1 ORDER BY name, id";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Deletes a label and takes it off every visit; the deleted label, if it existed.
pub async fn delete_label(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<LabelRow>, StoreError> {
    const UNLINK: &str = "DELETE FROM visit_labels WHERE tenant_id = $1 AND label_id = $2";
    const SQL: &str = "DELETE FROM visitor_labels WHERE tenant_id = $1 AND id = $2 \
        RETURNING id, tenant_id, name, created_at";
    on_tx!(tx, |c| sqlx::query(UNLINK)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The labels on a visit, by name.
pub async fn labels_of_visit(
    tx: &mut Tx,
    tenant_id: i64,
    visit_id: i64,
) -> Result<Vec<LabelRow>, StoreError> {
    const SQL: &str = "SELECT l.id, l.tenant_id, l.name, l.created_at FROM visit_labels v \
        JOIN visitor_labels l ON l.id = v.label_id AND l.tenant_id = v.tenant_id \
        WHERE v.tenant_id = $1 AND v.visit_id = $2 ORDER BY l.name, l.id";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(visit_id)
        .fetch_all(&mut *c)
        .await?))
}

/// Replaces the labels on a visit with `label_ids` (the caller checked they are the
/// tenant's).
pub async fn set_visit_labels(
    tx: &mut Tx,
    tenant_id: i64,
    visit_id: i64,
    label_ids: &[i64],
) -> Result<(), StoreError> {
    const CLEAR: &str = "DELETE FROM visit_labels WHERE tenant_id = $1 AND visit_id = $2";
    const ADD: &str =
        "INSERT INTO visit_labels (tenant_id, visit_id, label_id) VALUES ($1, $2, $3)";
    on_tx!(tx, |c| sqlx::query(CLEAR)
        .bind(tenant_id)
        .bind(visit_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    for label_id in label_ids {
        on_tx!(tx, |c| sqlx::query(ADD)
            .bind(tenant_id)
            .bind(visit_id)
            .bind(label_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

// ---- outgoing webhook endpoints ----

/// A registered endpoint (its secret sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: i64,
    pub tenant_id: i64,
    pub url: String,
    pub secret_sealed: String,
    pub events: String,
    pub created_at: i64,
}

/// Adds an endpoint whose secret is sealed afterwards ([`set_endpoint_secret`], in the same
/// transaction: the sealed value is bound to the row's id).
pub async fn insert_endpoint(
    tx: &mut Tx,
    tenant_id: i64,
    url: &str,
    events: &str,
    now: i64,
) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO webhook_endpoints (tenant_id, url, secret_sealed, events, \
        created_at) VALUES ($1, $2, '', $3, $4) RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(tenant_id)
        .bind(url)
        .bind(events)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

pub async fn set_endpoint_secret(tx: &mut Tx, id: i64, sealed: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1";
    on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(sealed)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The tenant's endpoints, oldest first.
pub async fn endpoints(tx: &mut Tx, tenant_id: i64) -> Result<Vec<EndpointRow>, StoreError> {
    const SQL: &str = "SELECT id, tenant_id, url, secret_sealed, events, created_at \
        FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

pub async fn endpoint(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<EndpointRow>, StoreError> {
    const SQL: &str = "SELECT id, tenant_id, url, secret_sealed, events, created_at \
        FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Deletes an endpoint; the deleted one, if it existed.
pub async fn delete_endpoint(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<EndpointRow>, StoreError> {
    const SQL: &str = "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 \
        RETURNING id, tenant_id, url, secret_sealed, events, created_at";
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

// ---- exports ----

/// Expected visits of the tenant on days `from..=to` with an id above `after_id`, by id
/// (an export's pages).
pub async fn expected_page(
    tx: &mut Tx,
    tenant_id: i64,
    from_day: &str,
    to_day: &str,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ExpectedVisitRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        expected_columns!(),
        " FROM expected_visits WHERE tenant_id = $1 \
         AND day >= $2 AND day <= $3 AND id > $4 ORDER BY id LIMIT $5"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(from_day)
        .bind(to_day)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}
