//! Inbound platform events already taken, so a retried delivery is acted on once.

use super::{StoreError, Tx, on_tx};
use crate::domain::people::Platform;

// Of several deliveries at once (retries racing, two instances), the insert admits one.
const TAKE: &str = "INSERT INTO inbox_events (platform, event_id, received_at) VALUES ($1, $2, $3) \
    ON CONFLICT (platform, event_id) DO NOTHING";
const PURGE: &str = "DELETE FROM inbox_events WHERE received_at < $1";

/// Whether this is the first delivery of `event_id` (and records it).
pub async fn take(
    tx: &mut Tx,
    platform: Platform,
    event_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let inserted = on_tx!(tx, |c| sqlx::query(TAKE)
        .bind(platform.as_str())
        .bind(event_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(inserted == 1)
}

/// Forgets events received before `before`; returns how many.
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(PURGE)
        .bind(before)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}
