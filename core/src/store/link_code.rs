//! Codes that link a chat account on a platform that shares no verified email (Discord) to
//! the employee who asked for the code in the web chat; and the wrong codes typed, counted
//! per platform user to stop guessing.

use super::{StoreError, Tx, on_tx};
use crate::domain::people::Platform;

const DELETE_UNUSED: &str = "DELETE FROM chat_link_codes \
    WHERE tenant_id = $1 AND employee_id = $2 AND used_at IS NULL";
const INSERT: &str = "INSERT INTO chat_link_codes \
    (code_hash, tenant_id, employee_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
// One statement: of two uses at once, one finds the code unused.
const CONSUME: &str = "UPDATE chat_link_codes SET used_at = $3 \
    WHERE code_hash = $1 AND tenant_id = $2 AND used_at IS NULL AND expires_at > $3 \
    RETURNING employee_id";
const INSERT_ATTEMPT: &str = "INSERT INTO chat_link_attempts (tenant_id, platform, user_id, at) \
    VALUES ($1, $2, $3, $4)";
const COUNT_ATTEMPTS: &str = "SELECT COUNT(*) FROM chat_link_attempts \
    WHERE tenant_id = $1 AND platform = $2 AND user_id = $3 AND at > $4";
const DELETE_OLD_CODES: &str = "DELETE FROM chat_link_codes WHERE expires_at <= $1";
const DELETE_OLD_ATTEMPTS: &str = "DELETE FROM chat_link_attempts WHERE at <= $1";

/// Records a new code for the employee (by its hash), removing their unused ones.
pub async fn replace(
    tx: &mut Tx,
    code_hash: &str,
    tenant_id: i64,
    employee_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_UNUSED)
        .bind(tenant_id)
        .bind(employee_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(INSERT)
        .bind(code_hash)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Uses up a live code of the tenant: the employee it links to, or `None` when it is
/// unknown, used or expired.
pub async fn consume(
    tx: &mut Tx,
    code_hash: &str,
    tenant_id: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(CONSUME)
        .bind(code_hash)
        .bind(tenant_id)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records a wrong code typed by the platform user.
pub async fn record_attempt(
    tx: &mut Tx,
    tenant_id: i64,
    platform: Platform,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_ATTEMPT)
        .bind(tenant_id)
        .bind(platform.as_str())
        .bind(user_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// How many wrong codes the platform user typed after `since`.
pub async fn attempts_since(
    tx: &mut Tx,
    tenant_id: i64,
    platform: Platform,
    user_id: &str,
    since: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(COUNT_ATTEMPTS)
        .bind(tenant_id)
        .bind(platform.as_str())
        .bind(user_id)
        .bind(since)
        .fetch_one(&mut *c)
        .await?))
}

/// Forgets codes expired by `now` and attempts made before `attempts_before`; returns how
/// many rows went.
pub async fn delete_old(tx: &mut Tx, now: i64, attempts_before: i64) -> Result<u64, StoreError> {
    let codes = on_tx!(tx, |c| sqlx::query(DELETE_OLD_CODES)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    let attempts = on_tx!(tx, |c| sqlx::query(DELETE_OLD_ATTEMPTS)
        .bind(attempts_before)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(codes + attempts)
}
