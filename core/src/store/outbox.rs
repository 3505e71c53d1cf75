//! The outbox: messages written in the same transaction as the change that causes them,
//! sent later by the dispatcher.

use super::{StoreError, Tx, on_tx};

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub tenant_id: i64,
    pub channel: String,
    pub payload: String,
    pub attempts: i64,
}

/// A message that will not be sent, and why (for admins).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub channel: String,
    pub payload: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const INSERT: &str = "INSERT INTO outbox (tenant_id, channel, payload, state, due_at, attempts, created_at) \
    VALUES ($1, $2, $3, 'pending', $4, 0, $4) RETURNING id";
const DUE: &str = "SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $1 \
    AND (lease_until IS NULL OR lease_until < $1) ORDER BY due_at, id LIMIT 20";
// The lease is taken by a conditional update, so of several dispatchers (instances) only one
// gets each row, on SQLite and PostgreSQL alike.
const LEASE: &str = "UPDATE outbox SET lease_until = $2, attempts = attempts + 1 \
    WHERE id = $1 AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
    RETURNING id, tenant_id, channel, payload, attempts";
const SENT: &str =
    "UPDATE outbox SET state = 'sent', sent_at = $2, lease_until = NULL WHERE id = $1";
const RETRY: &str =
    "UPDATE outbox SET due_at = $2, last_error = $3, lease_until = NULL WHERE id = $1";
const DEAD: &str =
    "UPDATE outbox SET state = 'dead', last_error = $2, lease_until = NULL WHERE id = $1";
const DEAD_LETTERS: &str = "SELECT id, channel, payload, attempts, last_error FROM outbox \
    WHERE tenant_id = $1 AND state = 'dead' ORDER BY id DESC LIMIT 100";
const NEXT_DUE: &str = "SELECT MIN(due_at) FROM outbox WHERE state = 'pending'";

/// Queues a message on `channel`, due at `now`.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    channel: &str,
    payload: &str,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(INSERT)
        .bind(tenant_id)
        .bind(channel)
        .bind(payload)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Leases the next due message until `lease_until`; `None` when nothing is due.
pub async fn lease_next(
    tx: &mut Tx,
    now: i64,
    lease_until: i64,
) -> Result<Option<Pending>, StoreError> {
    let candidates: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(DUE)
        .bind(now)
        .fetch_all(&mut *c)
        .await?);
    for id in candidates {
        let leased: Option<Pending> = on_tx!(tx, |c| sqlx::query_as(LEASE)
            .bind(id)
            .bind(lease_until)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?);
        if leased.is_some() {
            return Ok(leased);
        }
    }
    Ok(None)
}

/// Marks a message sent.
pub async fn mark_sent(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SENT)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Puts a message back to be tried again at `due_at`.
pub async fn retry_at(tx: &mut Tx, id: i64, due_at: i64, error: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(RETRY)
        .bind(id)
        .bind(due_at)
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Gives up on a message.
pub async fn mark_dead(tx: &mut Tx, id: i64, error: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DEAD)
        .bind(id)
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// A tenant's dead letters, newest first.
pub async fn dead_letters(tx: &mut Tx, tenant_id: i64) -> Result<Vec<DeadLetter>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(DEAD_LETTERS)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// When the earliest pending message is due.
pub async fn next_due(tx: &mut Tx) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(NEXT_DUE)
        .fetch_one(&mut *c)
        .await?))
}
