//! Single sign-on: each tenant's OpenID Connect settings, and the sign-ins on their way
//! through the identity provider.

use super::{StoreError, Tx, on_tx};

/// A tenant's identity provider as stored (the client secret still sealed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSettings {
    pub issuer: String,
    pub client_id: String,
    /// Sealed; opened only by the engine's `open_client_secret`.
    pub client_secret: String,
    pub require_sso: bool,
}

/// A sign-in attempt that has been neither used nor let expire.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LiveAttempt {
    pub tenant_id: i64,
    /// Sealed nonce and PKCE verifier.
    pub secrets: String,
}

const FIND: &str = "SELECT issuer, client_id, client_secret, require_sso \
    FROM sso_settings WHERE tenant_id = $1";
const UPSERT: &str = "INSERT INTO sso_settings \
    (tenant_id, issuer, client_id, client_secret, require_sso, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, \
    client_id = excluded.client_id, client_secret = excluded.client_secret, \
    require_sso = excluded.require_sso, updated_at = excluded.updated_at";
const DELETE: &str = "DELETE FROM sso_settings WHERE tenant_id = $1";
const INSERT_ATTEMPT: &str = "INSERT INTO sso_login_attempts \
    (state_hash, tenant_id, secrets, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const DELETE_EXPIRED_ATTEMPTS: &str = "DELETE FROM sso_login_attempts WHERE expires_at <= $1";
const FIND_LIVE_ATTEMPT: &str = "SELECT tenant_id, secrets FROM sso_login_attempts \
    WHERE state_hash = $1 AND tenant_id = $2 AND used_at IS NULL AND expires_at > $3";
// Marking the attempt used is one conditional statement: of two callbacks with one state
// exactly one sees `used_at IS NULL` (PostgreSQL re-checks after the row lock; SQLite
// writers are serialised by BEGIN IMMEDIATE).
const CONSUME_ATTEMPT: &str = "UPDATE sso_login_attempts SET used_at = $3 \
    WHERE state_hash = $1 AND tenant_id = $2 AND used_at IS NULL AND expires_at > $3";

/// The tenant's settings, if it has any.
pub async fn settings(tx: &mut Tx, tenant_id: i64) -> Result<Option<StoredSettings>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND)
        .bind(tenant_id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Stores the tenant's settings, replacing any.
pub async fn save(
    tx: &mut Tx,
    tenant_id: i64,
    settings: &StoredSettings,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(UPSERT)
        .bind(tenant_id)
        .bind(&settings.issuer)
        .bind(&settings.client_id)
        .bind(&settings.client_secret)
        .bind(settings.require_sso)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Removes the tenant's settings; whether there were any.
pub async fn delete(tx: &mut Tx, tenant_id: i64) -> Result<bool, StoreError> {
    let deleted = on_tx!(tx, |c| sqlx::query(DELETE)
        .bind(tenant_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(deleted > 0)
}

/// Records a new attempt (by its state's hash), first deleting every expired one.
pub async fn insert_attempt(
    tx: &mut Tx,
    state_hash: &str,
    tenant_id: i64,
    secrets: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_EXPIRED_ATTEMPTS)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(INSERT_ATTEMPT)
        .bind(state_hash)
        .bind(tenant_id)
        .bind(secrets)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The tenant's live attempt of this state, without using it up (read before the identity
/// provider is asked, which takes a while).
pub async fn find_live_attempt(
    tx: &mut Tx,
    state_hash: &str,
    tenant_id: i64,
    now: i64,
) -> Result<Option<LiveAttempt>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND_LIVE_ATTEMPT)
        .bind(state_hash)
        .bind(tenant_id)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// Uses up the tenant's attempt of this state; whether it was still live.
pub async fn consume_attempt(
    tx: &mut Tx,
    state_hash: &str,
    tenant_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let used = on_tx!(tx, |c| sqlx::query(CONSUME_ATTEMPT)
        .bind(state_hash)
        .bind(tenant_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(used == 1)
}
