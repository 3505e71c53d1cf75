//! The access log: recording, listing, exporting and verifying.

use chrono::Duration;
use serde_json::Value;

use super::{Actor, Engine, MAX_PAGE};
use crate::Result;
use crate::domain::access_log::{ChainBreak, Entry, PURGE_ACTION, Purge, verify, verify_retention};
use crate::domain::csv_cell::neutralize;
use crate::domain::people::Role;
use crate::store::access_log::{self as store, Filter, Record};
use crate::store::{Tx, tenant};

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

/// Appends an entry inside the caller's transaction (so it commits with the change).
pub async fn record(tx: &mut Tx, tenant_id: i64, at: i64, event: Event<'_>) -> Result<Entry> {
    let detail = event.detail.to_string();
    Ok(store::append(
        tx,
        tenant_id,
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

/// The outcome of verifying one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub tenant: String,
    /// Entries checked, or the first broken one.
    pub result: Result<i64, ChainBreak>,
}

impl Engine {
    /// Records `action` by `actor` in its own transaction (for events with no other change).
    pub async fn log(&self, tenant_id: i64, event: Event<'_>) -> Result<()> {
        let mut tx = self.db.write().await?;
        record(&mut tx, tenant_id, self.ports.clock.now_ms(), event).await?;
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
        actor.require(Role::Admin)?;
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
        actor.require_export()?;
        let tenant_id = actor.account.tenant_id;
        // Read from one snapshot without holding the write lock; the export is then logged
        // in its own short transaction before the file is handed out.
        let mut tx = self.db.read().await?;
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
            let entries = store::list(&mut tx, tenant_id, &page, MAX_PAGE).await?;
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
        let event = Event::by(
            actor,
            "access_log.export",
            "access_log",
            serde_json::json!({ "rows": rows }),
        );
        drop(tx);
        self.log(tenant_id, event).await?;
        finish_csv(out)
    }

    /// Verifies every tenant's chain from its retention anchor, naming the first broken entry;
    /// checks that retention removed only entries older than a year and recorded where it cut;
    /// names a tenant whose log is missing and a log whose tenant is gone.
    pub async fn verify_access_log(&self) -> Result<Vec<Verification>> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.read().await?;
        let mut results = Vec::new();
        for tenant in tenant::list_tenants(&mut tx).await? {
            let result = if store::has_head(&mut tx, tenant.id).await? {
                verify_tenant(&mut tx, tenant.id, now).await?
            } else {
                Err(ChainBreak::Missing)
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
                record(&mut tx, tenant.id, now, event).await?;
                removed +=
                    store::purge_through(&mut tx, tenant.id, through_seq, &purge.through_hash)
                        .await?;
            }
            tx.commit().await?;
        }
        Ok(removed)
    }
}

/// Verifies one tenant's chain from its anchor to its head, then its retention history.
async fn verify_tenant(tx: &mut Tx, tenant_id: i64, now: i64) -> Result<Result<i64, ChainBreak>> {
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
        match verify(seq, &hash, &page) {
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
