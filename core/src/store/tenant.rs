//! Tenants and their locations.

use super::{StoreError, Tx, on_tx};
use crate::domain::access_log::GENESIS_HASH;

/// A customer organisation; everything else belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// A site with a reception (its kiosks belong to it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Location {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub time_zone: String,
}

const INSERT_TENANT: &str =
    "INSERT INTO tenants (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id";
// Each tenant's access-log chain starts at the genesis hash.
const INSERT_LOG_HEAD: &str = "INSERT INTO access_log_head \
    (tenant_id, last_seq, last_hash, purged_through_seq, purged_hash) VALUES ($1, 0, $2, 0, $2)";
const FIND_TENANT_BY_SLUG: &str = "SELECT id, slug, name FROM tenants WHERE slug = $1";
const LIST_TENANTS: &str = "SELECT id, slug, name FROM tenants ORDER BY id";

/// Creates a tenant (and the start of its access-log chain).
pub async fn insert_tenant(
    tx: &mut Tx,
    slug: &str,
    name: &str,
    now: i64,
) -> Result<Tenant, StoreError> {
    let id: i64 = on_tx!(tx, |c| sqlx::query_scalar(INSERT_TENANT)
        .bind(slug)
        .bind(name)
        .bind(now)
        .fetch_one(&mut *c)
        .await?);
    on_tx!(tx, |c| sqlx::query(INSERT_LOG_HEAD)
        .bind(id)
        .bind(GENESIS_HASH)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(Tenant {
        id,
        slug: slug.to_owned(),
        name: name.to_owned(),
    })
}

/// The tenant with this slug.
pub async fn find_tenant_by_slug(tx: &mut Tx, slug: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND_TENANT_BY_SLUG)
        .bind(slug)
        .fetch_optional(&mut *c)
        .await?))
}

/// Every tenant.
pub async fn list_tenants(tx: &mut Tx) -> Result<Vec<Tenant>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(LIST_TENANTS)
        .fetch_all(&mut *c)
        .await?))
}

const INSERT_LOCATION: &str = "INSERT INTO locations (tenant_id, slug, name, time_zone, created_at) \
    VALUES ($1, $2, $3, $4, $5) RETURNING id, slug, name, time_zone";
const UPDATE_LOCATION: &str = "UPDATE locations SET name = $3, time_zone = $4 \
    WHERE tenant_id = $1 AND slug = $2 RETURNING id, slug, name, time_zone";
const LIST_LOCATIONS: &str =
    "SELECT id, slug, name, time_zone FROM locations WHERE tenant_id = $1 ORDER BY slug";
const FIND_LOCATION: &str =
    "SELECT id, slug, name, time_zone FROM locations WHERE tenant_id = $1 AND id = $2";
const FIND_LOCATION_BY_SLUG: &str =
    "SELECT id, slug, name, time_zone FROM locations WHERE tenant_id = $1 AND slug = $2";

/// Adds a location to a tenant.
pub async fn insert_location(
    tx: &mut Tx,
    tenant_id: i64,
    slug: &str,
    name: &str,
    time_zone: &str,
    now: i64,
) -> Result<Location, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(INSERT_LOCATION)
        .bind(tenant_id)
        .bind(slug)
        .bind(name)
        .bind(time_zone)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Renames a location or changes its time zone; `None` when the tenant has no such location.
pub async fn update_location(
    tx: &mut Tx,
    tenant_id: i64,
    slug: &str,
    name: &str,
    time_zone: &str,
) -> Result<Option<Location>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(UPDATE_LOCATION)
        .bind(tenant_id)
        .bind(slug)
        .bind(name)
        .bind(time_zone)
        .fetch_optional(&mut *c)
        .await?))
}

/// A tenant's locations by slug.
pub async fn list_locations(tx: &mut Tx, tenant_id: i64) -> Result<Vec<Location>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(LIST_LOCATIONS)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// The tenant's location `id`.
pub async fn find_location(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
) -> Result<Option<Location>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND_LOCATION)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// A tenant's location with this slug.
pub async fn find_location_by_slug(
    tx: &mut Tx,
    tenant_id: i64,
    slug: &str,
) -> Result<Option<Location>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND_LOCATION_BY_SLUG)
        .bind(tenant_id)
        .bind(slug)
        .fetch_optional(&mut *c)
        .await?))
}
