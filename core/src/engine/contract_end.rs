//! Contract end (whitepaper 2-3-3): the customer gets their data as CSV files, then every row
//! of the tenant is deleted and the deletion is recorded in the system log, which outlives
//! the tenant. Both are operator commands (`frontdesk tenant export`, `tenant purge`).

use serde_json::json;

use super::Engine;
use super::access_log::{access_log_csv, finish_csv, write_row};
use super::directory::employees_csv;
use crate::store::access_log::Filter;
use crate::store::purge::{self, PurgeRecord, TenantRows};
use crate::store::{account, invitation, tenant};
use crate::{Error, Result};

/// One file of a tenant's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// e.g. `employees.csv`.
    pub name: &'static str,
    pub csv: String,
}

/// What a purge deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub tenant_id: i64,
    pub rows: TenantRows,
}

impl Engine {
    /// Everything of the tenant `slug` a customer takes with them, as CSV files (cells
    /// neutralised against spreadsheet formulas), read from one snapshot.
    pub async fn export_tenant(&self, slug: &str) -> Result<Vec<ExportFile>> {
        let mut tx = self.db.read().await?;
        let tenant = tenant::find_tenant_by_slug(&mut tx, slug)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        let (employees, _) = employees_csv(&mut tx, tenant.id).await?;
        let (access_log, _) = access_log_csv(&mut tx, tenant.id, &Filter::default()).await?;

        let mut accounts = csv::Writer::from_writer(Vec::new());
        write_row(&mut accounts, ["email", "role", "can_export", "language"])?;
        for a in account::list(&mut tx, tenant.id).await? {
            let can_export = a.can_export.to_string();
            write_row(
                &mut accounts,
                [
                    a.email.as_str(),
                    a.role.as_str(),
                    &can_export,
                    a.language.as_str(),
                ],
            )?;
        }
        let mut invitations = csv::Writer::from_writer(Vec::new());
        write_row(
            &mut invitations,
            ["email", "role", "can_export", "language", "expires_at"],
        )?;
        let now = self.ports.clock.now_ms();
        for i in invitation::pending(&mut tx, tenant.id, now).await? {
            let can_export = i.can_export.to_string();
            let expires_at = chrono::DateTime::from_timestamp_millis(i.expires_at)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            write_row(
                &mut invitations,
                [
                    i.email.as_str(),
                    i.role.as_str(),
                    &can_export,
                    i.language.as_str(),
                    &expires_at,
                ],
            )?;
        }
        let mut locations = csv::Writer::from_writer(Vec::new());
        write_row(&mut locations, ["slug", "name", "time_zone"])?;
        for l in tenant::list_locations(&mut tx, tenant.id).await? {
            write_row(&mut locations, [l.slug.as_str(), &l.name, &l.time_zone])?;
        }
        let web_chat = self.web_chat_csv(&mut tx, tenant.id).await?;
        Ok(vec![
            ExportFile {
                name: "employees.csv",
                csv: employees,
            },
            ExportFile {
                name: "accounts.csv",
                csv: finish_csv(accounts)?,
            },
            ExportFile {
                name: "invitations.csv",
                csv: finish_csv(invitations)?,
            },
            ExportFile {
                name: "locations.csv",
                csv: finish_csv(locations)?,
            },
            ExportFile {
                name: "web_chat.csv",
                csv: web_chat,
            },
            ExportFile {
                name: "access_log.csv",
                csv: access_log,
            },
        ])
    }

    /// What a purge of `slug` would delete (shown before the operator confirms).
    pub async fn tenant_rows(&self, slug: &str) -> Result<(i64, TenantRows)> {
        let mut tx = self.db.read().await?;
        let tenant = tenant::find_tenant_by_slug(&mut tx, slug)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        Ok((tenant.id, purge::count_rows(&mut tx, tenant.id).await?))
    }

    /// Deletes the tenant's data key — so its sealed values cannot be read in any backup
    /// either — and every row of the tenant `slug` (its access log, sealed keys and sign-in
    /// counters included) in one transaction, recording who did it, when, and what was
    /// deleted in the system log.
    ///
    /// The key goes first: if that fails, nothing is deleted. Should the database part fail
    /// after it, the rows stay unreadable and running the purge again finishes it.
    pub async fn purge_tenant(&self, slug: &str, operator: &str) -> Result<Purged> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let tenant = tenant::find_tenant_by_slug(&mut tx, slug)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
        let rows = purge::count_rows(&mut tx, tenant.id).await?;
        let data_key_deleted = self.delete_data_key(tenant.id)?;
        let detail = json!({
            "slug": slug,
            "name": tenant.name,
            "deleted": rows,
            "data_key_deleted": data_key_deleted,
        })
        .to_string();
        purge::purge(&mut tx, tenant.id, slug, operator, &detail, now).await?;
        tx.commit().await?;
        // A server sealing something for the tenant while it was purged may have made it a
        // new key meanwhile (its write then failed): that key seals nothing, and goes too.
        self.delete_data_key(tenant.id)?;
        tracing::warn!(tenant = slug, operator, ?rows, "tenant purged");
        Ok(Purged {
            tenant_id: tenant.id,
            rows,
        })
    }

    /// Every purge recorded, oldest first (the access-log check names them, so a log
    /// deleted under a recorded purge is never silent).
    pub async fn purges(&self) -> Result<Vec<PurgeRecord>> {
        let mut tx = self.db.read().await?;
        Ok(purge::purges(&mut tx).await?)
    }
}
