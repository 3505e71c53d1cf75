//! IP address restriction (whitepaper 2-5): each tenant's allow-list, kept by its owners,
//! and the one check every restricted entry point calls.

use std::net::IpAddr;

use chrono::Duration;
use ipnet::IpNet;
use serde_json::json;

use super::access_log::Event;
use super::{Actor, Engine};
use crate::domain::field::Invalid;
use crate::domain::network::{MAX_NETWORKS, admits, parse_network};
use crate::domain::people::Permission;
use crate::store::access_log as log_store;
use crate::store::ip_allow_list as store;
use crate::{Error, Result};

/// The action of a request refused for its address.
const ADDRESS_REFUSED: &str = "access.address_refused";
/// A refused address is logged at most this often per tenant, so a script (or a stale
/// browser tab polling) outside the list cannot flood the year-long log.
const ADDRESS_REFUSAL_LOG_EVERY: Duration = Duration::minutes(1);

/// A new allow-list as an owner submits it.
#[derive(Debug, Clone)]
pub struct AllowListChange {
    /// CIDR networks or single addresses; empty lifts the restriction.
    pub networks: Vec<String>,
    /// Save even though the owner's own address is outside the new list.
    pub confirm_lockout: bool,
}

/// The networks of `change`, checked: at most [`MAX_NETWORKS`], each one readable (the
/// error names the entry by its index), repeats dropped.
fn checked_networks(change: &AllowListChange) -> Result<Vec<IpNet>> {
    if change.networks.len() > MAX_NETWORKS {
        return Err(Error::invalid(
            "networks",
            Invalid::TooMany { max: MAX_NETWORKS },
        ));
    }
    let mut networks = Vec::with_capacity(change.networks.len());
    for (index, raw) in change.networks.iter().enumerate() {
        let network = parse_network(raw)
            .map_err(|reason| Error::invalid(format!("networks[{index}]"), reason))?;
        if !networks.contains(&network) {
            networks.push(network);
        }
    }
    Ok(networks)
}

fn texts(networks: &[IpNet]) -> Vec<String> {
    networks.iter().map(IpNet::to_string).collect()
}

impl Engine {
    /// The actor's tenant's allow-list (owners); empty when unrestricted.
    pub async fn ip_allow_list(&self, actor: &Actor) -> Result<Vec<IpNet>> {
        actor.require(Permission::ManageSecurity)?;
        let mut tx = self.db.read().await?;
        Ok(store::networks(&mut tx, actor.account.tenant_id).await?)
    }

    /// Replaces the actor's tenant's allow-list (owners), logged with the old and new lists.
    /// A list that would shut out the owner's own address is refused (409) unless
    /// confirmed: they could not undo it from where they are.
    pub async fn set_ip_allow_list(
        &self,
        actor: &Actor,
        change: AllowListChange,
    ) -> Result<Vec<IpNet>> {
        actor.require(Permission::ManageSecurity)?;
        let networks = checked_networks(&change)?;
        // An address that does not parse cannot be shown to be inside: ask for confirmation.
        let own_address_inside = actor
            .ip
            .parse::<IpAddr>()
            .is_ok_and(|ip| admits(&networks, ip));
        if !own_address_inside && !change.confirm_lockout {
            return Err(Error::Conflict(format!(
                "your address {} is not in the new list, so saving it would lock you out; \
                 add your network to the list, or send \"confirm_lockout\": true to save it anyway",
                actor.ip
            )));
        }
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        let old = store::networks(&mut tx, tenant_id).await?;
        store::replace(&mut tx, tenant_id, &networks).await?;
        let event = Event::by(
            actor,
            "ip_allow_list.update",
            format!("tenant:{tenant_id}"),
            json!({
                "old": texts(&old),
                "new": texts(&networks),
                "lockout_confirmed": !own_address_inside,
            }),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(networks)
    }

    /// Whether the tenant's allow-list admits `ip` (an empty list admits everyone). The one
    /// check for every restricted entry point: the admin API, sign-in, kiosks, door displays.
    pub async fn address_allowed(&self, tenant_id: i64, ip: IpAddr) -> Result<bool> {
        let mut tx = self.db.read().await?;
        let networks = store::networks(&mut tx, tenant_id).await?;
        Ok(admits(&networks, ip))
    }

    /// [`Engine::address_allowed`], refusing with [`Error::AddressNotAllowed`] and recording
    /// the refusal (`who` tried `what` from `ip`) at most once a minute per address.
    pub async fn admit_address(
        &self,
        tenant_id: i64,
        ip: IpAddr,
        who: &str,
        what: &str,
    ) -> Result<()> {
        if self.address_allowed(tenant_id, ip).await? {
            return Ok(());
        }
        let ip = ip.to_canonical();
        // The refusal stands even if it cannot be recorded; the failure goes to the server log.
        if let Err(err) = self.log_address_refusal(tenant_id, ip, who, what).await {
            tracing::error!(error = %crate::error::with_causes(&err), "recording a refused address failed");
        }
        Err(Error::AddressNotAllowed { ip })
    }

    async fn log_address_refusal(
        &self,
        tenant_id: i64,
        ip: IpAddr,
        who: &str,
        what: &str,
    ) -> Result<()> {
        let now = self.ports.clock.now_ms();
        let ip = ip.to_string();
        let mut tx = self.db.write().await?;
        // Locked first, so that two refusals at once cannot both find no recent entry.
        log_store::lock_chain(&mut tx, tenant_id).await?;
        let since = now - ADDRESS_REFUSAL_LOG_EVERY.num_milliseconds();
        if !log_store::logged_from_since(&mut tx, tenant_id, &ip, ADDRESS_REFUSED, since).await? {
            let event = Event {
                actor: who,
                ip: &ip,
                action: ADDRESS_REFUSED,
                target: what.to_owned(),
                detail: json!({ "address": ip }),
            };
            self.record(&mut tx, tenant_id, now, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
