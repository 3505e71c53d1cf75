//! The employee directory: who visitors come to see, and how to reach them.

use std::collections::BTreeMap;

use super::{StoreError, Tx, on_tx};
use crate::domain::people::{Lang, NotificationPreference, Platform, search_pattern, search_text};

/// An employee as the directory holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub id: i64,
    pub profile: EmployeeProfile,
}

/// Everything about an employee that an admin sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeProfile {
    pub email: String,
    /// The name as written (e.g. 佐藤 ありす).
    pub name: String,
    /// The reading in kana (e.g. さとう ありす), for kiosk search.
    pub name_kana: String,
    pub department: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub language: Lang,
    pub notification: NotificationPreference,
    /// The employee's user id on each chat platform they use.
    pub chat_identities: BTreeMap<Platform, String>,
}

#[derive(sqlx::FromRow)]
struct EmployeeRow {
    id: i64,
    email: String,
    name: String,
    name_kana: String,
    department: String,
    time_zone: String,
    language: String,
    notification: String,
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    employee_id: i64,
    platform: String,
    external_id: String,
}

fn assemble(
    rows: Vec<EmployeeRow>,
    identities: Vec<IdentityRow>,
) -> Result<Vec<Employee>, StoreError> {
    let mut by_employee: BTreeMap<i64, BTreeMap<Platform, String>> = BTreeMap::new();
    for identity in identities {
        let platform = identity.platform.parse().map_err(StoreError::Corrupt)?;
        by_employee
            .entry(identity.employee_id)
            .or_default()
            .insert(platform, identity.external_id);
    }
    rows.into_iter()
        .map(|row| {
            Ok(Employee {
                id: row.id,
                profile: EmployeeProfile {
                    email: row.email,
                    name: row.name,
                    name_kana: row.name_kana,
                    department: row.department,
                    time_zone: row.time_zone,
                    language: row.language.parse().map_err(StoreError::Corrupt)?,
                    notification: row.notification.parse().map_err(StoreError::Corrupt)?,
                    chat_identities: by_employee.remove(&row.id).unwrap_or_default(),
                },
            })
        })
        .collect()
}

const INSERT: &str = "INSERT INTO employees \
    (tenant_id, email, name, name_kana, department, time_zone, language, notification, search_text, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9) RETURNING id";
const UPDATE: &str = "UPDATE employees SET email = $3, name = $4, name_kana = $5, department = $6, \
    time_zone = $7, language = $8, notification = $9, updated_at = $10, search_text = $11 \
    WHERE tenant_id = $1 AND id = $2";
const DELETE: &str = "DELETE FROM employees WHERE tenant_id = $1 AND id = $2";
const DELETE_IDENTITIES: &str =
    "DELETE FROM employee_chat_identities WHERE tenant_id = $1 AND employee_id = $2";
const INSERT_IDENTITY: &str = "INSERT INTO employee_chat_identities \
    (tenant_id, employee_id, platform, external_id) VALUES ($1, $2, $3, $4)";
const FIND: &str = "SELECT id, email, name, name_kana, department, time_zone, language, notification \
    FROM employees WHERE tenant_id = $1 AND id = $2";
const FIND_BY_EMAIL: &str = "SELECT id, email, name, name_kana, department, time_zone, language, notification \
    FROM employees WHERE tenant_id = $1 AND email = $2";
const IDENTITIES_OF: &str = "SELECT employee_id, platform, external_id FROM employee_chat_identities \
    WHERE tenant_id = $1 AND employee_id = $2";
// $2 is a LIKE pattern over the search text (name, reading, email), or NULL for everyone.
const LIST: &str = "SELECT id, email, name, name_kana, department, time_zone, language, notification \
    FROM employees WHERE tenant_id = $1 \
    AND (CAST($2 AS TEXT) IS NULL OR search_text LIKE $2 ESCAPE '\\') \
    ORDER BY name_kana, id LIMIT $3 OFFSET $4";
const COUNT: &str = "SELECT COUNT(*) FROM employees WHERE tenant_id = $1 \
    AND (CAST($2 AS TEXT) IS NULL OR search_text LIKE $2 ESCAPE '\\')";
const IDENTITIES_OF_PAGE: &str = "SELECT employee_id, platform, external_id \
    FROM employee_chat_identities WHERE tenant_id = $1 AND employee_id IN (\
    SELECT id FROM employees WHERE tenant_id = $1 \
    AND (CAST($2 AS TEXT) IS NULL OR search_text LIKE $2 ESCAPE '\\') \
    ORDER BY name_kana, id LIMIT $3 OFFSET $4)";

/// Adds an employee; [`StoreError::Duplicate`] when the email is taken in this tenant.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    profile: &EmployeeProfile,
    now: i64,
) -> Result<i64, StoreError> {
    let id: i64 = on_tx!(tx, |c| sqlx::query_scalar(INSERT)
        .bind(tenant_id)
        .bind(&profile.email)
        .bind(&profile.name)
        .bind(&profile.name_kana)
        .bind(&profile.department)
        .bind(&profile.time_zone)
        .bind(profile.language.as_str())
        .bind(profile.notification.as_str())
        .bind(now)
        .bind(search_text(
            &profile.name,
            &profile.name_kana,
            &profile.email
        ))
        .fetch_one(&mut *c)
        .await?);
    write_identities(tx, tenant_id, id, &profile.chat_identities).await?;
    Ok(id)
}

/// Replaces an employee's profile; `false` when no such employee is in this tenant.
pub async fn update(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    profile: &EmployeeProfile,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = on_tx!(tx, |c| sqlx::query(UPDATE)
        .bind(tenant_id)
        .bind(id)
        .bind(&profile.email)
        .bind(&profile.name)
        .bind(&profile.name_kana)
        .bind(&profile.department)
        .bind(&profile.time_zone)
        .bind(profile.language.as_str())
        .bind(profile.notification.as_str())
        .bind(now)
        .bind(search_text(
            &profile.name,
            &profile.name_kana,
            &profile.email
        ))
        .execute(&mut *c)
        .await?
        .rows_affected());
    if changed == 0 {
        return Ok(false);
    }
    on_tx!(tx, |c| sqlx::query(DELETE_IDENTITIES)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    write_identities(tx, tenant_id, id, &profile.chat_identities).await?;
    Ok(true)
}

async fn write_identities(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    identities: &BTreeMap<Platform, String>,
) -> Result<(), StoreError> {
    for (platform, external_id) in identities {
        on_tx!(tx, |c| sqlx::query(INSERT_IDENTITY)
            .bind(tenant_id)
            .bind(employee_id)
            .bind(platform.as_str())
            .bind(external_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// Removes an employee of this tenant (nothing if there is none).
pub async fn delete(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The employee with this id in this tenant.
pub async fn find(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<Option<Employee>, StoreError> {
    let row: Option<EmployeeRow> = on_tx!(tx, |c| sqlx::query_as(FIND)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    with_identities(tx, tenant_id, row).await
}

// Many at once: `$2` is a JSON array of ids.
const FIND_MANY_POSTGRES: &str = "SELECT id, email, name, name_kana, department, time_zone, \
    language, notification FROM employees WHERE tenant_id = $1 \
    AND id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($2::jsonb))";
const FIND_MANY_SQLITE: &str = "SELECT id, email, name, name_kana, department, time_zone, \
    language, notification FROM employees WHERE tenant_id = $1 \
    AND id IN (SELECT value FROM json_each($2))";
const IDENTITIES_OF_MANY_POSTGRES: &str = "SELECT employee_id, platform, external_id \
    FROM employee_chat_identities WHERE tenant_id = $1 \
    AND employee_id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text($2::jsonb))";
const IDENTITIES_OF_MANY_SQLITE: &str = "SELECT employee_id, platform, external_id \
    FROM employee_chat_identities WHERE tenant_id = $1 \
    AND employee_id IN (SELECT value FROM json_each($2))";

/// The employees of this tenant among `ids` (those that exist), in two statements however
/// many there are: a sweep telling many organizers reads them at once.
pub async fn find_many(
    tx: &mut Tx,
    tenant_id: i64,
    ids: &[i64],
) -> Result<Vec<Employee>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::json!(ids).to_string();
    let find = tx.dialect(FIND_MANY_POSTGRES, FIND_MANY_SQLITE);
    let identities_of = tx.dialect(IDENTITIES_OF_MANY_POSTGRES, IDENTITIES_OF_MANY_SQLITE);
    let rows: Vec<EmployeeRow> = on_tx!(tx, |c| sqlx::query_as(find)
        .bind(tenant_id)
        .bind(&ids)
        .fetch_all(&mut *c)
        .await?);
    let identities: Vec<IdentityRow> = on_tx!(tx, |c| sqlx::query_as(identities_of)
        .bind(tenant_id)
        .bind(&ids)
        .fetch_all(&mut *c)
        .await?);
    assemble(rows, identities)
}

/// The employee with this (lower-case) email in this tenant.
pub async fn find_by_email(
    tx: &mut Tx,
    tenant_id: i64,
    email: &str,
) -> Result<Option<Employee>, StoreError> {
    let row: Option<EmployeeRow> = on_tx!(tx, |c| sqlx::query_as(FIND_BY_EMAIL)
        .bind(tenant_id)
        .bind(email)
        .fetch_optional(&mut *c)
        .await?);
    with_identities(tx, tenant_id, row).await
}

const FIND_BY_IDENTITY: &str = "SELECT e.id, e.email, e.name, e.name_kana, e.department, e.time_zone, \
    e.language, e.notification FROM employees e JOIN employee_chat_identities i \
    ON i.tenant_id = e.tenant_id AND i.employee_id = e.id \
    WHERE e.tenant_id = $1 AND i.platform = $2 AND i.external_id = $3";
const DELETE_PLATFORM_IDENTITY: &str = "DELETE FROM employee_chat_identities WHERE tenant_id = $1 AND employee_id = $2 AND platform = $3";

/// The employee linked to the platform user `external_id` in this tenant.
pub async fn find_by_identity(
    tx: &mut Tx,
    tenant_id: i64,
    platform: Platform,
    external_id: &str,
) -> Result<Option<Employee>, StoreError> {
    let row: Option<EmployeeRow> = on_tx!(tx, |c| sqlx::query_as(FIND_BY_IDENTITY)
        .bind(tenant_id)
        .bind(platform.as_str())
        .bind(external_id)
        .fetch_optional(&mut *c)
        .await?);
    with_identities(tx, tenant_id, row).await
}

/// Links the employee to the platform user `external_id`, replacing the employee's earlier
/// user on that platform; [`StoreError::Duplicate`] when another employee has that user.
pub async fn link_identity(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    platform: Platform,
    external_id: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_PLATFORM_IDENTITY)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(platform.as_str())
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(INSERT_IDENTITY)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(platform.as_str())
        .bind(external_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

async fn with_identities(
    tx: &mut Tx,
    tenant_id: i64,
    row: Option<EmployeeRow>,
) -> Result<Option<Employee>, StoreError> {
    let Some(row) = row else { return Ok(None) };
    let identities: Vec<IdentityRow> = on_tx!(tx, |c| sqlx::query_as(IDENTITIES_OF)
        .bind(tenant_id)
        .bind(row.id)
        .fetch_all(&mut *c)
        .await?);
    Ok(assemble(vec![row], identities)?.pop())
}

/// One page of a tenant's employees (by kana reading), optionally matching `search`,
/// and how many match in all.
pub async fn list(
    tx: &mut Tx,
    tenant_id: i64,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Employee>, i64), StoreError> {
    let pattern = search.map(search_pattern);
    let rows: Vec<EmployeeRow> = on_tx!(tx, |c| sqlx::query_as(LIST)
        .bind(tenant_id)
        .bind(pattern.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await?);
    let total: i64 = on_tx!(tx, |c| sqlx::query_scalar(COUNT)
        .bind(tenant_id)
        .bind(pattern.as_deref())
        .fetch_one(&mut *c)
        .await?);
    let identities: Vec<IdentityRow> = on_tx!(tx, |c| sqlx::query_as(IDENTITIES_OF_PAGE)
        .bind(tenant_id)
        .bind(pattern.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await?);
    Ok((assemble(rows, identities)?, total))
}

/// Every employee of a tenant (for export), by kana reading.
pub async fn list_all(tx: &mut Tx, tenant_id: i64) -> Result<Vec<Employee>, StoreError> {
    Ok(list(tx, tenant_id, None, i64::MAX, 0).await?.0)
}
