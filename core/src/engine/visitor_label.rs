//! Visitor labels: admins define a tenant's labels (candidate, vendor, VIP …); receptionists
//! put them on visits, which then show them and can be found by them in the history.

use serde_json::json;

use super::access_log::Event;
use super::reception::VisitView;
use super::{Actor, Engine};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::Permission;
use crate::store::StoreError;
use crate::store::reception::{self as store, LabelRow};
use crate::{Error, Result};

/// The longest label name.
pub const MAX_LABEL_NAME: usize = 50;
/// The most labels a tenant may define.
pub const MAX_LABELS: usize = 100;
/// The most labels one visit may carry.
pub const MAX_LABELS_PER_VISIT: usize = 20;

/// A label as visits and admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorLabel {
    pub id: i64,
    pub name: String,
}

impl From<LabelRow> for VisitorLabel {
    fn from(row: LabelRow) -> Self {
        VisitorLabel {
            id: row.id,
            name: row.name,
        }
    }
}

impl Engine {
    /// Defines a label (admins); 409 when the tenant has one of that name. Logged.
    pub async fn create_visitor_label(&self, actor: &Actor, name: &str) -> Result<VisitorLabel> {
        actor.require(Permission::ManageReception)?;
        let name = checked_text(name, TextLimit::name(MAX_LABEL_NAME))
            .map_err(|reason| Error::invalid("name", reason))?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        if store::labels(&mut tx, tenant_id).await?.len() >= MAX_LABELS {
            return Err(Error::invalid("name", Invalid::TooMany { max: MAX_LABELS }));
        }
        let id = match store::insert_label(&mut tx, tenant_id, &name, now).await {
            Ok(id) => id,
            Err(StoreError::Duplicate) => {
                return Err(Error::Conflict(format!("a label named {name} exists")));
            }
            Err(err) => return Err(err.into()),
        };
        let event = Event::by(
            actor,
            "visitor_label.create",
            format!("visitor_label:{id}"),
            json!({ "name": name }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(VisitorLabel { id, name })
    }

    /// The tenant's labels, by name (whoever sees visits: receptionists put them on).
    pub async fn visitor_labels(&self, actor: &Actor) -> Result<Vec<VisitorLabel>> {
        actor.require(Permission::ViewVisits)?;
        let mut tx = self.db.read().await?;
        let rows = store::labels(&mut tx, actor.account.tenant_id).await?;
        Ok(rows.into_iter().map(VisitorLabel::from).collect())
    }

    /// Deletes a label, taking it off every visit (admins). Logged.
    pub async fn delete_visitor_label(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::ManageReception)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let deleted = store::delete_label(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("label"))?;
        let event = Event::by(
            actor,
            "visitor_label.delete",
            format!("visitor_label:{id}"),
            json!({ "name": deleted.name }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the labels on visit `public_id` with `label_ids` (receptionists and
    /// admins); an id that is not one of the tenant's labels is refused, naming it. Logged.
    pub async fn set_visit_labels(
        &self,
        actor: &Actor,
        public_id: &str,
        label_ids: &[i64],
    ) -> Result<VisitView> {
        actor.require(Permission::HandleVisitors)?;
        let mut wanted: Vec<i64> = label_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.len() > MAX_LABELS_PER_VISIT {
            return Err(Error::invalid(
                "labels",
                Invalid::TooMany {
                    max: MAX_LABELS_PER_VISIT,
                },
            ));
        }
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let row = store::visit_by_public_id(&mut tx, tenant_id, public_id)
            .await?
            .ok_or(Error::NotFound("visit"))?;
        let known = store::labels(&mut tx, tenant_id).await?;
        for (index, id) in label_ids.iter().enumerate() {
            if !known.iter().any(|label| label.id == *id) {
                return Err(Error::invalid(
                    format!("labels[{index}]"),
                    Invalid::UnknownLabel,
                ));
            }
        }
        let names: Vec<&str> = known
            .iter()
            .filter(|label| wanted.contains(&label.id))
            .map(|label| label.name.as_str())
            .collect();
        store::set_visit_labels(&mut tx, tenant_id, row.id, &wanted).await?;
        let event = Event::by(
            actor,
            "visit.labels",
            format!("visit:{}", row.id),
            json!({ "labels": names }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        let view = self.visit_view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(view)
    }
}
