//! The access log: recording, listing, exporting and verifying.

use chrono::Duration;
use serde_json::Value;

use super::{Actor, Engine, MAX_PAGE};
use crate::Result;
use crate::domain::access_log::{
    ChainBreak, ChainKey, Entry, PURGE_ACTION, Purge, verify, verify_retention,
};
use crate::domain::csv_cell::neutralize;
use crate::domain::people::Permission;
use crate::port::SealedAt;
use crate::store::access_log::{self as store, Filter, Record};
use crate::store::{Tx, tenant};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Something to record: who, from where, did what to what.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// An account's email, `system`, or the email tried at a failed login.
    pub actor: &'a str,
    pub ip: &'a str,
    /// Dotted name, e.g. `employee.update`.
    pub action: &'a str,
    /// e.g. `employee:42`.
    pub target: String,
    pub detail: Value,
}

impl<'a> Event<'a> {
    /// An event by a signed-in actor.
    pub fn by(actor: &'a Actor, action: &'a str, target: impl Into<String>, detail: Value) -> Self {
        Event {
            actor: &actor.account.email,
            ip: &actor.ip,
            action,
            target: target.into(),
            detail,
        }
    }
}

/// The action of a refused attempt.
const REFUSED: &str = "access.refused";
/// A refused attempt is logged at most this often per account.
const REFUSAL_LOG_EVERY: Duration = Duration::minutes(1);

/// The outcome of verifying one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub tenant: String,
    /// Entries checked, or the first broken one.
    pub result: Result<i64, ChainBreak>,
}

/// The sealed form of a chain key: the key and the entry it applies from.
#[derive(Serialize, Deserialize)]
struct StoredChainKey {
    key: String,
    from_seq: i64,
}

/// Where a tenant's chain key is sealed.
fn chain_key_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "access_log_keys",
        column: "sealed_key",
        row,
    }
}

impl Engine {
    /// Appends an entry inside the caller's transaction (so it commits with the change).
    pub async fn record(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        at: i64,
        event: Event<'_>,
    ) -> Result<Entry> {
        // The head is locked first, so two first entries cannot both make a key.
        store::lock_chain(tx, tenant_id).await?;
        let key = match self.chain_key(tx, tenant_id).await? {
            Some(key) => key,
            None => self.new_chain_key(tx, tenant_id).await?,
        };
        let detail = event.detail.to_string();
        Ok(store::append(
            tx,
            tenant_id,
            &key,
            &Record {
                at,
                actor: event.actor,
                ip: event.ip,
                action: event.action,
                target: &event.target,
                detail: &detail,
            },
        )
        .await?)
    }

    /// The tenant's chain key, opened; `None` before its first keyed entry.
    async fn chain_key(&self, tx: &mut Tx, tenant_id: i64) -> Result<Option<ChainKey>> {
        let Some(sealed) = store::chain_key(tx, tenant_id).await? else {
            return Ok(None);
        };
        let row = tenant_id.to_string();
        let opened = self
            .open_for_tenant(&sealed, chain_key_at(tenant_id, &row))
            .map_err(|err| crate::Error::internal("opening the access-log chain key", err))?;
        let stored: StoredChainKey = serde_json::from_slice(&opened)
            .map_err(|err| crate::Error::internal("reading the access-log chain key", err))?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(&stored.key)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| {
                crate::Error::internal(
                    "reading the access-log chain key",
                    std::io::Error::other("not 32 bytes"),
                )
            })?;
        Ok(Some(ChainKey {
            key,
            from_seq: stored.from_seq,
        }))
    }

    /// Makes the tenant's chain key: random, keying every entry after the current head
    /// (a log written before keying keeps its plain hashes), stored sealed.
    async fn new_chain_key(&self, tx: &mut Tx, tenant_id: i64) -> Result<ChainKey> {
        let (last_seq, _) = store::head(tx, tenant_id).await?;
        let key = ChainKey {
            key: rand::random(),
            from_seq: last_seq + 1,
        };
        let stored = StoredChainKey {
            key: base64::engine::general_purpose::STANDARD.encode(key.key),
            from_seq: key.from_seq,
        };
        let plain = serde_json::to_vec(&stored)
            .map_err(|err| crate::Error::internal("sealing the access-log chain key", err))?;
        let row = tenant_id.to_string();
        let sealed = self.seal_for_tenant(&plain, chain_key_at(tenant_id, &row))?;
        store::insert_chain_key(tx, tenant_id, &sealed, self.ports.clock.now_ms()).await?;
        Ok(key)
    }

    /// Gives every tenant without one its chain key (at start, so that from then on a
    /// missing key is a sign of tampering, not of a log older than keying).
    pub async fn ensure_chain_keys(&self) -> Result<()> {
        let tenants = {
            let mut tx = self.db.read().await?;
            tenant::list_tenants(&mut tx).await?
        };
        for tenant in tenants {
            let mut tx = self.db.write().await?;
            store::lock_chain(&mut tx, tenant.id).await?;
            if store::chain_key(&mut tx, tenant.id).await?.is_none() {
                self.new_chain_key(&mut tx, tenant.id).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Re-seals every chain key sealed with an older sealing key; returns how many.
    pub(crate) async fn reseal_chain_keys(&self) -> Result<usize> {
        let mut tx = self.db.write().await?;
        let mut resealed = 0;
        for (tenant_id, sealed) in store::all_chain_keys(&mut tx).await? {
            if !self.is_stale_for_tenant(&sealed, tenant_id)? {
                continue;
            }
            let row = tenant_id.to_string();
            let at = chain_key_at(tenant_id, &row);
            let plain = self
                .open_for_tenant(&sealed, at)
                .map_err(|err| crate::Error::internal("opening a chain key to re-seal it", err))?;
            store::set_chain_key(&mut tx, tenant_id, &self.seal_for_tenant(&plain, at)?).await?;
            resealed += 1;
        }
        tx.commit().await?;
        Ok(resealed)
    }

    /// Records that `actor` was refused `what` (e.g. `POST /api/v1/accounts`) for want of a
    /// role or permission — at most once a minute per account, so a script hammering a
    /// forbidden route cannot flood the year-long log.
    pub async fn log_refusal(&self, actor: &Actor, what: &str) -> Result<()> {
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        store::lock_chain(&mut tx, tenant_id).await?;
        let since = now - REFUSAL_LOG_EVERY.num_milliseconds();
        if !store::logged_since(&mut tx, tenant_id, &actor.account.email, REFUSED, since).await? {
            let event = Event::by(
                actor,
                REFUSED,
                what.to_owned(),
                serde_json::json!({ "role": actor.account.role.as_str(), "can_export": actor.account.can_export }),
            );
            self.record(&mut tx, tenant_id, now, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes each tenant's chain head (sequence number and hash) to the server log.
    pub async fn witness_access_log(&self) -> Result<()> {
        let mut tx = self.db.read().await?;
        for tenant in tenant::list_tenants(&mut tx).await? {
            if store::has_head(&mut tx, tenant.id).await? {
                let (seq, hash) = store::head(&mut tx, tenant.id).await?;
                tracing::info!(tenant = %tenant.slug, seq, %hash, "access log head");
            }
        }
        Ok(())
    }

    /// Records `action` by `actor` in its own transaction (for events with no other change).
    pub async fn log(&self, tenant_id: i64, event: Event<'_>) -> Result<()> {
        let mut tx = self.db.write().await?;
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of the actor's tenant's log, newest first (admins and owners).
    pub async fn access_log(
        &self,
        actor: &Actor,
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        actor.require(Permission::ViewAccessLog)?;
        let mut tx = self.db.read().await?;
        Ok(store::list(
            &mut tx,
            actor.account.tenant_id,
            filter,
            limit.clamp(1, MAX_PAGE),
        )
        .await?)
    }

    /// The matching entries as CSV (needs the export permission); the export itself is logged.
    pub async fn export_access_log(&self, actor: &Actor, filter: &Filter) -> Result<String> {
        actor.require(Permission::ExportPersonalData)?;
        let tenant_id = actor.account.tenant_id;
        // Read from one snapshot without holding the write lock; the export is then logged
        // in its own short transaction before the file is handed out.
        let (text, rows) = {
            let mut tx = self.db.read().await?;
            access_log_csv(&mut tx, tenant_id, filter).await?
        };
        let event = Event::by(
            actor,
            "access_log.export",
            "access_log",
            serde_json::json!({ "rows": rows }),
        );
        self.log(tenant_id, event).await?;
        Ok(text)
    }

    /// Verifies every tenant's chain from its retention anchor, naming the first broken entry;
    /// checks that retention removed only entries older than a year and recorded where it cut;
    /// names a tenant whose log is missing and a log whose tenant is gone.
    pub async fn verify_access_log(&self) -> Result<Vec<Verification>> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.read().await?;
        let mut results = Vec::new();
        for tenant in tenant::list_tenants(&mut tx).await? {
            let result = if !store::has_head(&mut tx, tenant.id).await? {
                Err(ChainBreak::Missing)
            } else {
                match self.chain_key(&mut tx, tenant.id).await {
                    Ok(Some(key)) => verify_tenant(&mut tx, tenant.id, &key, now).await?,
                    // No key yet: only a log with no entries may lack one (the server gives
                    // every tenant its key at start).
                    Ok(None) if store::head(&mut tx, tenant.id).await?.0 == 0 => Ok(0),
                    Ok(None) => Err(ChainBreak::KeyMissing),
                    Err(err) => {
                        tracing::warn!(tenant = %tenant.slug, error = %crate::error::with_causes(&err), "chain key unusable");
                        Err(ChainBreak::KeyUnusable)
                    }
                }
            };
            results.push(Verification {
                tenant: tenant.slug,
                result,
            });
        }
        for tenant_id in store::orphaned_logs(&mut tx).await? {
            results.push(Verification {
                tenant: format!("#{tenant_id}"),
                result: Err(ChainBreak::Orphaned),
            });
        }
        Ok(results)
    }

    /// Removes entries older than the retention period from every tenant's log. Each cut is
    /// first recorded in the chain (an `access_log.purge` entry naming the entry it removes
    /// through), which the database requires and verification checks.
    pub async fn purge_access_log(&self) -> Result<u64> {
        let retention = Duration::days(self.settings.access_log_retention_days.max(365));
        let now = self.ports.clock.now_ms();
        let cutoff = now - retention.num_milliseconds();
        let tenants = {
            let mut tx = self.db.read().await?;
            tenant::list_tenants(&mut tx).await?
        };
        let mut removed = 0;
        for tenant in tenants {
            let mut tx = self.db.write().await?;
            store::lock_chain(&mut tx, tenant.id).await?;
            if let Some((through_seq, through_hash, through_at)) =
                store::last_before(&mut tx, tenant.id, cutoff).await?
            {
                let purge = Purge {
                    through_seq,
                    through_hash,
                    through_at,
                };
                let event = Event {
                    actor: "system",
                    ip: "local",
                    action: PURGE_ACTION,
                    target: "access_log".into(),
                    detail: serde_json::to_value(&purge)
                        .map_err(|err| crate::Error::internal("recording a purge", err))?,
                };
                self.record(&mut tx, tenant.id, now, event).await?;
                removed +=
                    store::purge_through(&mut tx, tenant.id, through_seq, &purge.through_hash)
                        .await?;
            }
            tx.commit().await?;
        }
        Ok(removed)
    }
}

/// The tenant's log entries that `filter` selects, newest first, as CSV; and how many.
pub(crate) async fn access_log_csv(
    tx: &mut Tx,
    tenant_id: i64,
    filter: &Filter,
) -> Result<(String, usize)> {
    let mut out = csv::Writer::from_writer(Vec::new());
    write_row(
        &mut out,
        [
            "seq", "at_utc", "actor", "ip", "action", "target", "detail", "hash",
        ],
    )?;
    let mut page = filter.clone();
    let mut rows = 0usize;
    loop {
        let entries = store::list(tx, tenant_id, &page, MAX_PAGE).await?;
        let Some(last) = entries.last() else { break };
        page.before_seq = Some(last.seq);
        for e in &entries {
            let at = chrono::DateTime::from_timestamp_millis(e.at)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default();
            let seq = e.seq.to_string();
            write_row(
                &mut out,
                [
                    seq.as_str(),
                    &at,
                    &e.actor,
                    &e.ip,
                    &e.action,
                    &e.target,
                    &e.detail,
                    &e.hash,
                ],
            )?;
        }
        rows += entries.len();
    }
    Ok((finish_csv(out)?, rows))
}

/// Verifies one tenant's chain from its anchor to its head, then its retention history.
async fn verify_tenant(
    tx: &mut Tx,
    tenant_id: i64,
    key: &ChainKey,
    now: i64,
) -> Result<Result<i64, ChainBreak>> {
    let (anchor_seq, anchor_hash) = store::anchor(tx, tenant_id).await?;
    let (appended_seq, appended_hash) = store::head(tx, tenant_id).await?;
    let (mut seq, mut hash) = (anchor_seq, anchor_hash.clone());
    let mut checked = 0i64;
    // Every retention entry still in the chain, with the instant it ran.
    let mut purges = Vec::new();
    loop {
        let page = store::chain_page(tx, tenant_id, seq, 1000).await?;
        if page.is_empty() {
            // The walk must end where the appends did, at the same hash.
            if seq < appended_seq {
                return Ok(Err(ChainBreak::Truncated {
                    last_seq: seq,
                    appended_seq,
                }));
            }
            if hash != appended_hash {
                return Ok(Err(ChainBreak::Altered { seq }));
            }
            break;
        }
        match verify(key, seq, &hash, &page) {
            Ok((last_seq, last_hash)) => {
                checked += page.len() as i64;
                seq = last_seq;
                hash = last_hash;
            }
            Err(broken) => return Ok(Err(broken)),
        }
        purges.extend(
            page.iter()
                .filter_map(|e| Purge::recorded_by(e).map(|p| (e.at, p))),
        );
    }
    Ok(verify_retention(anchor_seq, &anchor_hash, &purges, now).map(|()| checked))
}

/// Writes one CSV row with every cell neutralised against spreadsheet formulas.
pub(crate) fn write_row<'a>(
    out: &mut csv::Writer<Vec<u8>>,
    cells: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    out.write_record(cells.into_iter().map(neutralize))
        .map_err(|err| crate::Error::internal("writing a CSV row", err))
}

/// The text of a CSV written with [`write_row`].
pub(crate) fn finish_csv(out: csv::Writer<Vec<u8>>) -> Result<String> {
    let bytes = out
        .into_inner()
        .map_err(|err| crate::Error::internal("finishing a CSV", err.into_error()))?;
    String::from_utf8(bytes).map_err(|err| crate::Error::internal("finishing a CSV", err))
}
