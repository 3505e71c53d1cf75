//! Key rotation: tenants' data keys wrapped by an older master key are wrapped again with the
//! newest, and every tenant value not sealed under its tenant's data key (sealed before
//! tenants had their own keys) is sealed again under it.

use super::Engine;
use super::outbox::payload_at;
use crate::Result;
use crate::store::outbox;

/// What a rotation re-sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resealed {
    /// Tenants' data keys wrapped again with the newest master key.
    pub data_keys: usize,
    /// Access-log chain keys.
    pub chain_keys: usize,
    /// Outbox payloads (messages waiting, and what is kept of undeliverable ones).
    pub messages: usize,
}

impl Engine {
    /// Whether `db` holds anything sealed (then its sealing key must not be replaced by a
    /// new one: nothing would open).
    pub async fn holds_sealed_data(db: &crate::store::Db) -> Result<bool> {
        let mut tx = db.read().await?;
        Ok(!crate::store::access_log::all_chain_keys(&mut tx)
            .await?
            .is_empty())
    }

    /// Re-seals every value sealed with an older key than the newest. Safe to run while
    /// servers run (each value is replaced only if it did not change meanwhile) and again
    /// after an interruption (what is already current is skipped).
    pub async fn reseal_all(&self) -> Result<Resealed> {
        let data_keys = self.rewrap_data_keys()?;
        let chain_keys = self.reseal_chain_keys().await?;
        let mut messages = 0;
        let payloads = {
            let mut tx = self.db.read().await?;
            outbox::sealed_payloads(&mut tx).await?
        };
        for (id, tenant_id, sealed) in payloads {
            if !self.is_stale_for_tenant(&sealed, tenant_id)? {
                continue;
            }
            let row = id.to_string();
            let at = payload_at(tenant_id, &row);
            let Ok(plain) = self.open_for_tenant(&sealed, at) else {
                // Not ours to fix: it stays as it is, and the dispatcher dead-letters it.
                tracing::warn!(id, "an outbox payload does not open; left as it is");
                continue;
            };
            let resealed = self.seal_for_tenant(&plain, at)?;
            let mut tx = self.db.write().await?;
            if outbox::reseal_payload(&mut tx, id, &sealed, &resealed).await? {
                messages += 1;
            }
            tx.commit().await?;
        }
        Ok(Resealed {
            data_keys,
            chain_keys,
            messages,
        })
    }
}
