//! Each tenant's IP allow-list: the networks its admin API, sign-in, kiosks and door
//! displays may be used from. No rows means no restriction.

use ipnet::IpNet;

use super::{StoreError, Tx, on_tx};

const LIST: &str = "SELECT network FROM ip_allow_list WHERE tenant_id = $1 ORDER BY position";
const CLEAR: &str = "DELETE FROM ip_allow_list WHERE tenant_id = $1";
const INSERT: &str = "INSERT INTO ip_allow_list (tenant_id, position, network) VALUES ($1, $2, $3)";

/// The tenant's networks in the order the owner wrote them.
pub async fn networks(tx: &mut Tx, tenant_id: i64) -> Result<Vec<IpNet>, StoreError> {
    let rows: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(LIST)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?);
    rows.iter()
        .map(|text| {
            text.parse()
                .map_err(|_| StoreError::Corrupt(format!("ip_allow_list network {text:?}")))
        })
        .collect()
}

/// Replaces the tenant's list with `networks` (which must hold no repeats).
pub async fn replace(tx: &mut Tx, tenant_id: i64, networks: &[IpNet]) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(CLEAR)
        .bind(tenant_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    for (position, network) in (0i64..).zip(networks) {
        let network = network.to_string();
        on_tx!(tx, |c| sqlx::query(INSERT)
            .bind(tenant_id)
            .bind(position)
            .bind(&network)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}
