//! Meetings proposed in chat: what was asked (who, for how long, over which days), kept so
//! that a button carries only the proposal's public id and a slot's start.

use super::{StoreError, Tx, on_tx};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProposalRow {
    pub id: i64,
    pub tenant_id: i64,
    pub public_id: String,
    pub requester_id: i64,
    /// A JSON array of employee ids (the requester included).
    pub colleagues: String,
    /// A JSON array of emails, sealed.
    pub guests_sealed: Option<String>,
    pub duration_minutes: i64,
    pub search_from: i64,
    pub search_until: i64,
    pub booking_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

macro_rules! proposal_columns {
    () => {
        "id, tenant_id, public_id, requester_id, colleagues, guests_sealed, duration_minutes, \
         search_from, search_until, booking_id, created_at, expires_at"
    };
}

pub async fn insert(tx: &mut Tx, row: &ProposalRow) -> Result<i64, StoreError> {
    const SQL: &str = "INSERT INTO booking_proposals (tenant_id, public_id, requester_id, \
        colleagues, guests_sealed, duration_minutes, search_from, search_until, created_at, \
        expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
    Ok(on_tx!(tx, |c| sqlx::query_scalar(SQL)
        .bind(row.tenant_id)
        .bind(&row.public_id)
        .bind(row.requester_id)
        .bind(&row.colleagues)
        .bind(&row.guests_sealed)
        .bind(row.duration_minutes)
        .bind(row.search_from)
        .bind(row.search_until)
        .bind(row.created_at)
        .bind(row.expires_at)
        .fetch_one(&mut *c)
        .await?))
}

/// The tenant's proposal with `public_id`, locked for the rest of the transaction
/// (PostgreSQL's row lock; SQLite's `BEGIN IMMEDIATE` already serialises writers), so two
/// presses of its buttons are taken one after the other.
pub async fn lock_by_public_id(
    tx: &mut Tx,
    tenant_id: i64,
    public_id: &str,
) -> Result<Option<ProposalRow>, StoreError> {
    const LOCK: &str = "UPDATE booking_proposals SET booking_id = booking_id \
        WHERE tenant_id = $1 AND public_id = $2";
    const SQL: &str = concat!(
        "SELECT ",
        proposal_columns!(),
        " FROM booking_proposals WHERE tenant_id = $1 AND public_id = $2"
    );
    on_tx!(tx, |c| sqlx::query(LOCK)
        .bind(tenant_id)
        .bind(public_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(on_tx!(tx, |c| sqlx::query_as(SQL)
        .bind(tenant_id)
        .bind(public_id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records the booking made from the proposal; `false` when one was made already.
pub async fn set_booked(tx: &mut Tx, id: i64, booking_id: i64) -> Result<bool, StoreError> {
    const SQL: &str =
        "UPDATE booking_proposals SET booking_id = $2 WHERE id = $1 AND booking_id IS NULL";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(booking_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1))
}

/// Deletes proposals that expired before `before` (epoch ms); how many.
pub async fn delete_expired(tx: &mut Tx, before: i64) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM booking_proposals WHERE expires_at < $1";
    Ok(on_tx!(tx, |c| sqlx::query(SQL)
        .bind(before)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}
