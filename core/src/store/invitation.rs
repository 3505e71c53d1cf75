//! Invitations to become an admin or receptionist of a tenant, each a single-use token.

use super::{StoreError, Tx, on_tx};
use crate::domain::people::{Lang, Role};

/// An invitation that has not been accepted, retired or let expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub tenant_id: i64,
    pub email: String,
    pub role: Role,
    /// May download personal data as CSV once the account exists.
    pub can_export: bool,
    pub language: Lang,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    tenant_id: i64,
    email: String,
    role: String,
    can_export: bool,
    language: String,
    expires_at: i64,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;
    fn try_from(row: InvitationRow) -> Result<Self, StoreError> {
        Ok(Invitation {
            tenant_id: row.tenant_id,
            email: row.email,
            role: row.role.parse().map_err(StoreError::Corrupt)?,
            can_export: row.can_export,
            language: row.language.parse().map_err(StoreError::Corrupt)?,
            expires_at: row.expires_at,
        })
    }
}

const INSERT: &str = "INSERT INTO invitations \
    (token_hash, tenant_id, email, role, can_export, language, created_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const RETIRE_FOR_EMAIL: &str = "UPDATE invitations SET used_at = $3 \
    WHERE tenant_id = $1 AND email = $2 AND used_at IS NULL";
const PENDING: &str = "SELECT tenant_id, email, role, can_export, language, expires_at \
    FROM invitations WHERE tenant_id = $1 AND used_at IS NULL AND expires_at > $2 \
    ORDER BY email";
const FIND_LIVE: &str = "SELECT tenant_id, email, role, can_export, language, expires_at \
    FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
// Marking the token used and reading the invitation is one statement: of two concurrent
// accepts exactly one sees `used_at IS NULL` (PostgreSQL re-checks after the row lock;
// SQLite writers are serialised by BEGIN IMMEDIATE).
const CONSUME: &str = "UPDATE invitations SET used_at = $2 \
    WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
    RETURNING tenant_id, email, role, can_export, language, expires_at";

/// Records an invitation (by its token's hash), retiring earlier ones to the same email so
/// only the newest link works.
pub async fn insert(
    tx: &mut Tx,
    token_hash: &str,
    invitation: &Invitation,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(RETIRE_FOR_EMAIL)
        .bind(invitation.tenant_id)
        .bind(&invitation.email)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    on_tx!(tx, |c| sqlx::query(INSERT)
        .bind(token_hash)
        .bind(invitation.tenant_id)
        .bind(&invitation.email)
        .bind(invitation.role.as_str())
        .bind(invitation.can_export)
        .bind(invitation.language.as_str())
        .bind(now)
        .bind(invitation.expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The tenant's invitations still waiting to be accepted at `now`.
pub async fn pending(tx: &mut Tx, tenant_id: i64, now: i64) -> Result<Vec<Invitation>, StoreError> {
    let rows: Vec<InvitationRow> = on_tx!(tx, |c| sqlx::query_as(PENDING)
        .bind(tenant_id)
        .bind(now)
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter().map(Invitation::try_from).collect()
}

/// The live invitation of a token, without using it up (read before the password is
/// checked, which takes a while).
pub async fn find_live(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    let row: Option<InvitationRow> = on_tx!(tx, |c| sqlx::query_as(FIND_LIVE)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?);
    row.map(Invitation::try_from).transpose()
}

/// Uses up an invitation: what it was for, or `None` if it is unknown, used, retired or
/// expired.
pub async fn consume(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    let row: Option<InvitationRow> = on_tx!(tx, |c| sqlx::query_as(CONSUME)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?);
    row.map(Invitation::try_from).transpose()
}
