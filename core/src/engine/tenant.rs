//! Tenants and locations.

use serde_json::json;

use super::access_log::Event;
use super::{Actor, Engine};
use crate::domain::field::{TextLimit, checked_text};
use crate::domain::people::Permission;
use crate::domain::people::validate_time_zone;
use crate::store::StoreError;
use crate::store::tenant::{self, Location, Tenant};
use crate::{Error, Result};

/// A location as submitted.
#[derive(Debug, Clone)]
pub struct LocationInput {
    /// Lower-case letters, digits and `-`; used in kiosk URLs (`/kiosk/{slug}`).
    pub slug: String,
    pub name: String,
    pub time_zone: String,
}

/// A change of a location's name or time zone.
#[derive(Debug, Clone)]
pub struct LocationChange {
    pub name: String,
    pub time_zone: String,
}

pub use crate::domain::field::validate_slug;

/// A location's name: one line, at most 200 characters.
pub const LOCATION_NAME: TextLimit = TextLimit::name(200);

impl Engine {
    /// The tenant with this slug.
    pub async fn tenant(&self, slug: &str) -> Result<Option<Tenant>> {
        let mut tx = self.db.read().await?;
        Ok(tenant::find_tenant_by_slug(&mut tx, slug).await?)
    }

    /// The tenant with this slug, created if it does not exist yet.
    pub async fn ensure_tenant(&self, slug: &str, name: &str) -> Result<Tenant> {
        validate_slug(slug).map_err(|reason| Error::invalid("tenant", reason))?;
        let mut tx = self.db.write().await?;
        let tenant = match tenant::find_tenant_by_slug(&mut tx, slug).await? {
            Some(existing) => existing,
            None => tenant::insert_tenant(&mut tx, slug, name, self.ports.clock.now_ms()).await?,
        };
        tx.commit().await?;
        Ok(tenant)
    }

    /// Adds a location (admins).
    pub async fn create_location(&self, actor: &Actor, input: LocationInput) -> Result<Location> {
        actor.require(Permission::ManageLocations)?;
        validate_slug(&input.slug).map_err(|reason| Error::invalid("slug", reason))?;
        validate_time_zone(&input.time_zone)
            .map_err(|reason| Error::invalid("time_zone", reason))?;
        let name = checked_text(&input.name, LOCATION_NAME)
            .map_err(|reason| Error::invalid("name", reason))?;
        let name = name.as_str();
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let location =
            tenant::insert_location(&mut tx, tenant_id, &input.slug, name, &input.time_zone, now)
                .await
                .map_err(|err| match err {
                    StoreError::Duplicate => {
                        Error::Conflict(format!("a location {:?} already exists", input.slug))
                    }
                    other => other.into(),
                })?;
        let event = Event::by(
            actor,
            "location.create",
            format!("location:{}", location.id),
            json!({ "slug": input.slug }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(location)
    }

    /// Renames a location or changes its time zone (admins). The slug stays: kiosks and
    /// printed QR codes use it.
    pub async fn update_location(
        &self,
        actor: &Actor,
        slug: &str,
        change: LocationChange,
    ) -> Result<Location> {
        actor.require(Permission::ManageLocations)?;
        validate_time_zone(&change.time_zone)
            .map_err(|reason| Error::invalid("time_zone", reason))?;
        let name = checked_text(&change.name, LOCATION_NAME)
            .map_err(|reason| Error::invalid("name", reason))?;
        let name = name.as_str();
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        let location = tenant::update_location(&mut tx, tenant_id, slug, name, &change.time_zone)
            .await?
            .ok_or(Error::NotFound("location"))?;
        let event = Event::by(
            actor,
            "location.update",
            format!("location:{}", location.id),
            json!({ "slug": slug, "name": name, "time_zone": change.time_zone }),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(location)
    }

    /// The actor's tenant's locations.
    pub async fn locations(&self, actor: &Actor) -> Result<Vec<Location>> {
        actor.require(Permission::ViewDirectory)?;
        let mut tx = self.db.read().await?;
        Ok(tenant::list_locations(&mut tx, actor.account.tenant_id).await?)
    }
}
