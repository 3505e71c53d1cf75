//! Chat messages platforms accepted for a notice: where each one is, so the notice can be
//! updated in place (an answered visit).

use super::{StoreError, Tx, on_tx};
use crate::domain::people::Platform;

/// A chat message of a notice, as the platform knows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub conversation: String,
    pub message_id: String,
}

// A retried send of the same notice to the same conversation replaces the earlier record.
const INSERT: &str = "INSERT INTO chat_deliveries \
    (tenant_id, notice, platform, conversation, message_id, sent_at) VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (tenant_id, notice, platform, conversation) \
    DO UPDATE SET message_id = excluded.message_id, sent_at = excluded.sent_at";
const ANY_OF_NOTICE: &str =
    "SELECT COUNT(*) FROM chat_deliveries WHERE tenant_id = $1 AND notice = $2";
const OF_NOTICE: &str = "SELECT conversation, message_id FROM chat_deliveries \
    WHERE tenant_id = $1 AND notice = $2 AND platform = $3 ORDER BY sent_at, conversation";

/// Records that `platform` accepted a message of `notice` at `conversation` / `message_id`.
pub async fn record(
    tx: &mut Tx,
    tenant_id: i64,
    notice: &str,
    platform: Platform,
    delivery: &Delivery,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT)
        .bind(tenant_id)
        .bind(notice)
        .bind(platform.as_str())
        .bind(&delivery.conversation)
        .bind(&delivery.message_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The messages of `notice` on `platform`, oldest first.
pub async fn deliveries(
    tx: &mut Tx,
    tenant_id: i64,
    notice: &str,
    platform: Platform,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(OF_NOTICE)
        .bind(tenant_id)
        .bind(notice)
        .bind(platform.as_str())
        .fetch_all(&mut *c)
        .await?))
}

/// Whether any platform has accepted a message of `notice`.
pub async fn delivered_anywhere(
    tx: &mut Tx,
    tenant_id: i64,
    notice: &str,
) -> Result<bool, StoreError> {
    let count: i64 = on_tx!(tx, |c| sqlx::query_scalar(ANY_OF_NOTICE)
        .bind(tenant_id)
        .bind(notice)
        .fetch_one(&mut *c)
        .await?);
    Ok(count > 0)
}
