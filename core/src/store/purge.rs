//! Deleting a whole tenant at contract end, and the system log that records it.

use super::{StoreError, Tx, on_tx};

/// The action of a purge in the system log (the access log's delete trigger looks for it).
pub const PURGE_ACTION: &str = "tenant.purge";

/// How many rows of each kind a tenant has (what a purge deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TenantRows {
    pub accounts: i64,
    pub employees: i64,
    pub locations: i64,
    pub access_log_entries: i64,
    pub outbox_messages: i64,
    pub invitations: i64,
}

/// A purge as the system log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PurgeRecord {
    pub at: i64,
    pub actor: String,
    pub target: String,
    pub detail: String,
}

const COUNT_ACCOUNTS: &str = "SELECT COUNT(*) FROM accounts WHERE tenant_id = $1";
const COUNT_EMPLOYEES: &str = "SELECT COUNT(*) FROM employees WHERE tenant_id = $1";
const COUNT_LOCATIONS: &str = "SELECT COUNT(*) FROM locations WHERE tenant_id = $1";
const COUNT_LOG: &str = "SELECT COUNT(*) FROM access_log WHERE tenant_id = $1";
const COUNT_OUTBOX: &str = "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1";
const COUNT_INVITATIONS: &str = "SELECT COUNT(*) FROM invitations WHERE tenant_id = $1";
const RECORD: &str = "INSERT INTO system_log (at, actor, action, target, detail) \
    VALUES ($1, $2, $3, $4, $5)";
// In this order: the log first (allowed now that the purge is recorded), then its head
// (allowed once it has no entries) and key, sign-in counters (keyed by slug, no foreign
// key), and last the tenant, whose other rows go with it (ON DELETE CASCADE).
const DELETE_LOG: &str = "DELETE FROM access_log WHERE tenant_id = $1";
const DELETE_HEAD: &str = "DELETE FROM access_log_head WHERE tenant_id = $1";
const DELETE_CHAIN_KEY: &str = "DELETE FROM access_log_keys WHERE tenant_id = $1";
const DELETE_THROTTLES: &str = "DELETE FROM login_throttle WHERE throttle_key LIKE $1";
const DELETE_TENANT: &str = "DELETE FROM tenants WHERE id = $1";
const PURGES: &str = "SELECT at, actor, target, detail FROM system_log \
    WHERE action = $1 ORDER BY id";

/// What the tenant holds, counted.
pub async fn count_rows(tx: &mut Tx, tenant_id: i64) -> Result<TenantRows, StoreError> {
    Ok(TenantRows {
        accounts: count(tx, COUNT_ACCOUNTS, tenant_id).await?,
        employees: count(tx, COUNT_EMPLOYEES, tenant_id).await?,
        locations: count(tx, COUNT_LOCATIONS, tenant_id).await?,
        access_log_entries: count(tx, COUNT_LOG, tenant_id).await?,
        outbox_messages: count(tx, COUNT_OUTBOX, tenant_id).await?,
        invitations: count(tx, COUNT_INVITATIONS, tenant_id).await?,
    })
}

/// The number `sql` (a `SELECT COUNT(*) … WHERE tenant_id = $1`) finds for the tenant.
async fn count(tx: &mut Tx, sql: &'static str, tenant_id: i64) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?))
}

/// Records the purge of tenant `tenant_id` in the system log, then deletes every row of it.
pub async fn purge(
    tx: &mut Tx,
    tenant_id: i64,
    slug: &str,
    actor: &str,
    detail: &str,
    now: i64,
) -> Result<(), StoreError> {
    let target = format!("tenant:{tenant_id}");
    on_tx!(tx, |c| sqlx::query(RECORD)
        .bind(now)
        .bind(actor)
        .bind(PURGE_ACTION)
        .bind(&target)
        .bind(detail)
        .execute(&mut *c)
        .await?
        .rows_affected());
    for sql in [DELETE_LOG, DELETE_HEAD, DELETE_CHAIN_KEY] {
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(tenant_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    // Slugs are lower-case letters, digits and '-': nothing LIKE would treat specially.
    on_tx!(tx, |c| sqlx::query(DELETE_THROTTLES)
        .bind(format!("account:{slug}:%"))
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(DELETE_TENANT)
        .bind(tenant_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Every purge the system log records, oldest first.
pub async fn purges(tx: &mut Tx) -> Result<Vec<PurgeRecord>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(PURGES)
        .bind(PURGE_ACTION)
        .fetch_all(&mut *c)
        .await?))
}
