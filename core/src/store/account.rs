//! Admin accounts, their sessions, password resets and login throttling.

use super::{StoreError, Tx, on_tx};
use crate::domain::people::{Lang, Role};

/// A person who signs in to administer a tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub tenant_id: i64,
    pub email: String,
    pub role: Role,
    /// May download personal data as CSV.
    pub can_export: bool,
    pub language: Lang,
    pub password_hash: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("can_export", &self.can_export)
            .field("language", &self.language)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    tenant_id: i64,
    email: String,
    role: String,
    can_export: bool,
    language: String,
    password_hash: String,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: row.id,
            tenant_id: row.tenant_id,
            email: row.email,
            role: row.role.parse().map_err(StoreError::Corrupt)?,
            can_export: row.can_export,
            language: row.language.parse().map_err(StoreError::Corrupt)?,
            password_hash: row.password_hash,
        })
    }
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub role: Role,
    pub can_export: bool,
    pub language: Lang,
    pub password_hash: &'a str,
}

const INSERT: &str = "INSERT INTO accounts (tenant_id, email, role, can_export, password_hash, language, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
const FIND: &str = "SELECT id, tenant_id, email, role, can_export, language, password_hash \
    FROM accounts WHERE tenant_id = $1 AND id = $2";
const FIND_BY_EMAIL: &str = "SELECT id, tenant_id, email, role, can_export, language, password_hash \
    FROM accounts WHERE tenant_id = $1 AND email = $2";
const LIST: &str = "SELECT id, tenant_id, email, role, can_export, language, password_hash \
    FROM accounts WHERE tenant_id = $1 ORDER BY email";
const SET_ACCESS: &str =
    "UPDATE accounts SET role = $3, can_export = $4 WHERE tenant_id = $1 AND id = $2";
const DELETE: &str = "DELETE FROM accounts WHERE tenant_id = $1 AND id = $2";
const COUNT_OWNERS: &str = "SELECT COUNT(*) FROM accounts WHERE tenant_id = $1 AND role = 'owner'";
const SET_PASSWORD: &str =
    "UPDATE accounts SET password_hash = $3 WHERE tenant_id = $1 AND id = $2";

/// Creates an account; [`StoreError::Duplicate`] when the email is taken in this tenant.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    new: &NewAccount<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(INSERT)
        .bind(tenant_id)
        .bind(new.email)
        .bind(new.role.as_str())
        .bind(new.can_export)
        .bind(new.password_hash)
        .bind(new.language.as_str())
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// The account with this id in this tenant.
pub async fn find(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<Option<Account>, StoreError> {
    let row: Option<AccountRow> = on_tx!(tx, |c| sqlx::query_as(FIND)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    row.map(Account::try_from).transpose()
}

/// The account with this (lower-case) email in this tenant.
pub async fn find_by_email(
    tx: &mut Tx,
    tenant_id: i64,
    email: &str,
) -> Result<Option<Account>, StoreError> {
    let row: Option<AccountRow> = on_tx!(tx, |c| sqlx::query_as(FIND_BY_EMAIL)
        .bind(tenant_id)
        .bind(email)
        .fetch_optional(&mut *c)
        .await?);
    row.map(Account::try_from).transpose()
}

/// A tenant's accounts by email.
pub async fn list(tx: &mut Tx, tenant_id: i64) -> Result<Vec<Account>, StoreError> {
    let rows: Vec<AccountRow> = on_tx!(tx, |c| sqlx::query_as(LIST)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter().map(Account::try_from).collect()
}

/// Changes what an account may do.
pub async fn set_access(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    role: Role,
    can_export: bool,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_ACCESS)
        .bind(tenant_id)
        .bind(id)
        .bind(role.as_str())
        .bind(can_export)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Removes an account (its sessions and reset links go with it).
pub async fn delete(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// How many owners a tenant has.
pub async fn count_owners(tx: &mut Tx, tenant_id: i64) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(COUNT_OWNERS)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?))
}

/// Replaces an account's password hash.
pub async fn set_password_hash(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    hash: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_PASSWORD)
        .bind(tenant_id)
        .bind(id)
        .bind(hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

const INSERT_SESSION: &str = "INSERT INTO sessions (token_hash, tenant_id, account_id, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5)";
const FIND_SESSION: &str = "SELECT a.id, a.tenant_id, a.email, a.role, a.can_export, a.language, a.password_hash \
    FROM sessions s JOIN accounts a ON a.id = s.account_id AND a.tenant_id = s.tenant_id \
    WHERE s.token_hash = $1 AND s.expires_at > $2";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";
const DELETE_SESSIONS_OF: &str = "DELETE FROM sessions WHERE tenant_id = $1 AND account_id = $2";
const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

/// Records a session (by the hash of its token).
pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    account: &Account,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_SESSION)
        .bind(token_hash)
        .bind(account.tenant_id)
        .bind(account.id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The account signed in by the session with this token hash, unless it expired.
pub async fn find_session(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<Account>, StoreError> {
    let row: Option<AccountRow> = on_tx!(tx, |c| sqlx::query_as(FIND_SESSION)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?);
    row.map(Account::try_from).transpose()
}

/// Ends one session.
pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_SESSION)
        .bind(token_hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Ends every session of an account (after a password change).
pub async fn delete_sessions_of(
    tx: &mut Tx,
    tenant_id: i64,
    account_id: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_SESSIONS_OF)
        .bind(tenant_id)
        .bind(account_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forgets expired sessions; returns how many.
pub async fn delete_expired_sessions(tx: &mut Tx, now: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(DELETE_EXPIRED_SESSIONS)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

const INSERT_RESET: &str = "INSERT INTO password_resets (token_hash, tenant_id, account_id, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5)";
// Marking the token used and reading its account is one statement: of two concurrent uses,
// exactly one sees `used_at IS NULL` (PostgreSQL re-checks after the row lock; SQLite writers
// are serialised by BEGIN IMMEDIATE).
const CONSUME_RESET: &str = "UPDATE password_resets SET used_at = $2 \
    WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING tenant_id, account_id";

const RESET_EMAIL: &str = "SELECT a.email FROM password_resets r \
    JOIN accounts a ON a.id = r.account_id AND a.tenant_id = r.tenant_id \
    WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2";

/// The email of the account a live reset token is for (read before the new password is
/// checked; the token is used up only later, with the change).
pub async fn reset_email(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(RESET_EMAIL)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records a reset token (by its hash) for an account.
pub async fn insert_reset(
    tx: &mut Tx,
    token_hash: &str,
    account: &Account,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_RESET)
        .bind(token_hash)
        .bind(account.tenant_id)
        .bind(account.id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

const LATEST_RESET: &str =
    "SELECT MAX(created_at) FROM password_resets WHERE tenant_id = $1 AND account_id = $2";

/// When the account's latest reset link was made.
pub async fn latest_reset_at(
    tx: &mut Tx,
    tenant_id: i64,
    account_id: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(LATEST_RESET)
        .bind(tenant_id)
        .bind(account_id)
        .fetch_one(&mut *c)
        .await?))
}

const RETIRE_RESETS: &str = "UPDATE password_resets SET used_at = $3 \
    WHERE tenant_id = $1 AND account_id = $2 AND used_at IS NULL";

/// Retires every outstanding reset token of an account (its password just changed).
pub async fn retire_resets(
    tx: &mut Tx,
    tenant_id: i64,
    account_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(RETIRE_RESETS)
        .bind(tenant_id)
        .bind(account_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Uses up a reset token: the (tenant, account) it was for, or `None` if it is unknown,
/// already used or expired.
pub async fn consume_reset(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(CONSUME_RESET)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

const LOCKED_UNTIL: &str = "SELECT locked_until FROM login_throttle WHERE throttle_key = $1";
// Reading through an UPDATE takes the row lock (PostgreSQL), so a lock that a concurrent
// failed login is setting is waited for and seen; SQLite serialises writers anyway.
const LOCKED_UNTIL_FOR_UPDATE: &str = "UPDATE login_throttle SET locked_until = locked_until \
    WHERE throttle_key = $1 RETURNING locked_until";
// Counting is one atomic upsert so concurrent failures are all counted; a window older than
// $3 starts over.
const COUNT_FAILURE: &str = "INSERT INTO login_throttle (throttle_key, window_start, failures, locked_until) \
    VALUES ($1, $2, 1, NULL) ON CONFLICT (throttle_key) DO UPDATE SET \
    failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
    window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END \
    RETURNING failures";
const LOCK: &str = "UPDATE login_throttle SET locked_until = $2 WHERE throttle_key = $1";
const CLEAR: &str = "DELETE FROM login_throttle WHERE throttle_key = $1";
const DELETE_STALE_THROTTLES: &str = "DELETE FROM login_throttle \
    WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $2)";

/// Until when logins under `key` are refused (epoch ms), if ever.
pub async fn locked_until(tx: &mut Tx, key: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<Option<i64>> = on_tx!(tx, |c| sqlx::query_scalar(LOCKED_UNTIL)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?);
    Ok(row.flatten())
}

/// [`locked_until`] inside a write transaction, after concurrent writers of `key`.
pub async fn locked_until_for_update(tx: &mut Tx, key: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<Option<i64>> = on_tx!(tx, |c| sqlx::query_scalar(LOCKED_UNTIL_FOR_UPDATE)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?);
    Ok(row.flatten())
}

/// Counts a failed login under `key` in the window starting after `window_start`;
/// returns the failures in the current window.
pub async fn count_failure(
    tx: &mut Tx,
    key: &str,
    now: i64,
    window_start: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(COUNT_FAILURE)
        .bind(key)
        .bind(now)
        .bind(window_start)
        .fetch_one(&mut *c)
        .await?))
}

/// Refuses logins under `key` until `until`.
pub async fn lock(tx: &mut Tx, key: &str, until: i64) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(LOCK)
        .bind(key)
        .bind(until)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forgets the failures under `key` (after a successful login).
pub async fn clear_failures(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(CLEAR)
        .bind(key)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forgets failure counts whose window began before `window_start` and whose lock (if any)
/// ended before `now`; returns how many.
pub async fn delete_stale_throttles(
    tx: &mut Tx,
    window_start: i64,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(DELETE_STALE_THROTTLES)
        .bind(window_start)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}
