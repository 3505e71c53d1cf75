//! The access log's storage: appending to a tenant's chain, listing, retention.

use super::{StoreError, Tx, on_tx};
use crate::domain::access_log::{ChainKey, Entry};

/// Who did what, before it is placed in the chain.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    /// A JSON object.
    pub detail: &'a str,
}

/// Filters for listing; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<String>,
    pub actor: Option<String>,
    /// From this instant (epoch ms, inclusive).
    pub from: Option<i64>,
    /// Until this instant (epoch ms, exclusive).
    pub until: Option<i64>,
    /// Only entries older than this sequence number (the next page).
    pub before_seq: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    at: i64,
    actor: String,
    ip: String,
    action: String,
    target: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl From<EntryRow> for Entry {
    fn from(r: EntryRow) -> Entry {
        Entry {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            ip: r.ip,
            action: r.action,
            target: r.target,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

// Touching the head first takes its row lock (PostgreSQL) inside the write transaction,
// so appends within a tenant are serialised and the chain never forks. The head then moves
// onto the inserted entry in one update: the database lets it move only onto the entry
// that follows it (migration 0002).
const LOCK_HEAD: &str = "UPDATE access_log_head SET last_seq = last_seq \
    WHERE tenant_id = $1 RETURNING last_seq, last_hash, last_at";
const SET_HEAD: &str = "UPDATE access_log_head SET last_seq = $2, last_hash = $3, last_at = $4 \
    WHERE tenant_id = $1";
const INSERT: &str = "INSERT INTO access_log \
    (tenant_id, seq, at, actor, ip, action, target, detail, prev_hash, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const LIST: &str = "SELECT seq, at, actor, ip, action, target, detail, prev_hash, hash \
    FROM access_log WHERE tenant_id = $1 \
    AND (CAST($2 AS TEXT) IS NULL OR action = $2) \
    AND (CAST($3 AS TEXT) IS NULL OR actor = $3) \
    AND (CAST($4 AS BIGINT) IS NULL OR at >= $4) \
    AND (CAST($5 AS BIGINT) IS NULL OR at < $5) \
    AND (CAST($6 AS BIGINT) IS NULL OR seq < $6) \
    ORDER BY seq DESC LIMIT $7";
const CHAIN_PAGE: &str = "SELECT seq, at, actor, ip, action, target, detail, prev_hash, hash \
    FROM access_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
const LOCK_CHAIN: &str = "UPDATE access_log_head SET last_seq = last_seq WHERE tenant_id = $1";
const LOGGED_SINCE: &str = "SELECT COUNT(*) FROM access_log \
    WHERE tenant_id = $1 AND at >= $2 AND action = $3 AND actor = $4";
const LOGGED_FROM_SINCE: &str = "SELECT COUNT(*) FROM access_log \
    WHERE tenant_id = $1 AND at >= $2 AND action = $3 AND ip = $4";
const HEAD: &str = "SELECT last_seq, last_hash FROM access_log_head WHERE tenant_id = $1";
const ANCHOR: &str =
    "SELECT purged_through_seq, purged_hash FROM access_log_head WHERE tenant_id = $1";
const LAST_BEFORE: &str = "SELECT seq, hash, at FROM access_log \
    WHERE tenant_id = $1 AND at < $2 ORDER BY seq DESC LIMIT 1";
const PURGE_THROUGH: &str = "DELETE FROM access_log WHERE tenant_id = $1 AND seq <= $2";
const HAS_HEAD: &str = "SELECT COUNT(*) FROM access_log_head WHERE tenant_id = $1";
const ORPHANED_LOGS: &str = "SELECT tenant_id FROM access_log_head \
    WHERE tenant_id NOT IN (SELECT id FROM tenants) \
    UNION SELECT DISTINCT tenant_id FROM access_log WHERE tenant_id NOT IN (SELECT id FROM tenants) \
    ORDER BY tenant_id";
const SET_ANCHOR: &str = "UPDATE access_log_head SET purged_through_seq = $2, purged_hash = $3 \
    WHERE tenant_id = $1";

const CHAIN_KEY: &str = "SELECT sealed_key FROM access_log_keys WHERE tenant_id = $1";
const INSERT_CHAIN_KEY: &str =
    "INSERT INTO access_log_keys (tenant_id, sealed_key, created_at) VALUES ($1, $2, $3)";
const SET_CHAIN_KEY: &str = "UPDATE access_log_keys SET sealed_key = $2 WHERE tenant_id = $1";
const ALL_CHAIN_KEYS: &str = "SELECT tenant_id, sealed_key FROM access_log_keys ORDER BY tenant_id";

/// The tenant's sealed chain key, if it has one yet.
pub async fn chain_key(tx: &mut Tx, tenant_id: i64) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(CHAIN_KEY)
        .bind(tenant_id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Stores the tenant's first chain key (sealed).
pub async fn insert_chain_key(
    tx: &mut Tx,
    tenant_id: i64,
    sealed: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_CHAIN_KEY)
        .bind(tenant_id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Replaces the tenant's sealed chain key (the same key, sealed anew at rotation).
pub async fn set_chain_key(tx: &mut Tx, tenant_id: i64, sealed: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_CHAIN_KEY)
        .bind(tenant_id)
        .bind(sealed)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Every tenant's sealed chain key.
pub async fn all_chain_keys(tx: &mut Tx) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ALL_CHAIN_KEYS)
        .fetch_all(&mut *c)
        .await?))
}

/// Appends `record` to the tenant's chain, hashed under `key`; returns the stored entry.
pub async fn append(
    tx: &mut Tx,
    tenant_id: i64,
    key: &ChainKey,
    record: &Record<'_>,
) -> Result<Entry, StoreError> {
    let (last_seq, prev_hash, last_at): (i64, String, i64) =
        on_tx!(tx, |c| sqlx::query_as(LOCK_HEAD)
            .bind(tenant_id)
            .fetch_one(&mut *c)
            .await?);
    let mut entry = Entry {
        seq: last_seq + 1,
        // Never earlier than the entry before it (another instance's clock may run ahead).
        at: record.at.max(last_at),
        actor: record.actor.to_owned(),
        ip: record.ip.to_owned(),
        action: record.action.to_owned(),
        target: record.target.to_owned(),
        detail: record.detail.to_owned(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.computed_hash(key);
    on_tx!(tx, |c| sqlx::query(INSERT)
        .bind(tenant_id)
        .bind(entry.seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.ip)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(SET_HEAD)
        .bind(tenant_id)
        .bind(entry.seq)
        .bind(&entry.hash)
        .bind(entry.at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(entry)
}

/// Up to `limit` entries matching `filter`, newest first.
pub async fn list(
    tx: &mut Tx,
    tenant_id: i64,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<EntryRow> = on_tx!(tx, |c| sqlx::query_as(LIST)
        .bind(tenant_id)
        .bind(filter.action.as_deref())
        .bind(filter.actor.as_deref())
        .bind(filter.from)
        .bind(filter.until)
        .bind(filter.before_seq)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Up to `limit` entries after `after_seq`, oldest first (for verification).
pub async fn chain_page(
    tx: &mut Tx,
    tenant_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<EntryRow> = on_tx!(tx, |c| sqlx::query_as(CHAIN_PAGE)
        .bind(tenant_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Where the remaining chain starts: the last purged sequence number and its hash.
pub async fn anchor(tx: &mut Tx, tenant_id: i64) -> Result<(i64, String), StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ANCHOR)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?))
}

/// Holds the tenant's chain for this transaction (PostgreSQL row lock; SQLite writers are
/// serialised anyway), so a check of the log and the append that depends on it are atomic.
pub async fn lock_chain(tx: &mut Tx, tenant_id: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(LOCK_CHAIN)
        .bind(tenant_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Whether `actor` has an entry of `action` at or after `since` (epoch ms).
pub async fn logged_since(
    tx: &mut Tx,
    tenant_id: i64,
    actor: &str,
    action: &str,
    since: i64,
) -> Result<bool, StoreError> {
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(LOGGED_SINCE)
        .bind(tenant_id)
        .bind(since)
        .bind(action)
        .bind(actor)
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}

/// Whether `action` was recorded from address `ip` at or after `since`.
pub async fn logged_from_since(
    tx: &mut Tx,
    tenant_id: i64,
    ip: &str,
    action: &str,
    since: i64,
) -> Result<bool, StoreError> {
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(LOGGED_FROM_SINCE)
        .bind(tenant_id)
        .bind(since)
        .bind(action)
        .bind(ip)
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}

/// Where the chain ends: the last appended sequence number and its hash.
pub async fn head(tx: &mut Tx, tenant_id: i64) -> Result<(i64, String), StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(HEAD)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?))
}

/// The newest entry older than `cutoff` (epoch ms): its sequence number, hash and instant.
pub async fn last_before(
    tx: &mut Tx,
    tenant_id: i64,
    cutoff: i64,
) -> Result<Option<(i64, String, i64)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(LAST_BEFORE)
        .bind(tenant_id)
        .bind(cutoff)
        .fetch_optional(&mut *c)
        .await?))
}

/// Removes the entries up to and including `seq` (whose hash is `hash`) and moves the
/// anchor onto it; returns how many were removed. The database refuses unless the entry is
/// at least a year older than the chain's newest one (so retention records itself first).
pub async fn purge_through(
    tx: &mut Tx,
    tenant_id: i64,
    seq: i64,
    hash: &str,
) -> Result<u64, StoreError> {
    // The anchor moves first: the database refuses to delete entries past it.
    on_tx!(tx, |c| sqlx::query(SET_ANCHOR)
        .bind(tenant_id)
        .bind(seq)
        .bind(hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    let removed = on_tx!(tx, |c| sqlx::query(PURGE_THROUGH)
        .bind(tenant_id)
        .bind(seq)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(removed)
}

/// Whether the tenant has a head row (its log exists).
pub async fn has_head(tx: &mut Tx, tenant_id: i64) -> Result<bool, StoreError> {
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(HAS_HEAD)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}

/// Tenant ids that have a head or entries but no tenant row (a tenant deleted from under
/// its log), in order.
pub async fn orphaned_logs(tx: &mut Tx) -> Result<Vec<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(ORPHANED_LOGS)
        .fetch_all(&mut *c)
        .await?))
}
