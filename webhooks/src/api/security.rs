//! Security settings of the tenant (owners only): the IP allow-list.

use axum::Json;
use axum::extract::State;
use frontdesk_core::engine::ip_allow_list::AllowListChange;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, SignedIn};
use crate::problem::ApiResult;

/// The networks the admin API, sign-in, kiosks and door displays may be used from.
#[derive(Debug, Serialize, ToSchema)]
pub struct IpAllowListView {
    /// CIDR networks, host bits cleared; empty means no restriction.
    #[schema(example = json!(["203.0.113.0/24", "2001:db8::/32"]))]
    pub networks: Vec<String>,
}

/// A new allow-list; it replaces the old one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpAllowListRequest {
    /// CIDR networks or single addresses, at most 200; empty lifts the restriction.
    #[schema(example = json!(["203.0.113.0/24", "198.51.100.7"]))]
    pub networks: Vec<String>,
    /// Save even though your own address is outside the new list (you will be locked out).
    #[serde(default)]
    pub confirm_lockout: bool,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_ip_allow_list, put_ip_allow_list))
}

fn view(networks: Vec<ipnet::IpNet>) -> IpAllowListView {
    IpAllowListView {
        networks: networks.iter().map(ToString::to_string).collect(),
    }
}

/// The tenant's IP allow-list (owners).
#[utoipa::path(get, path = "/security/ip-allow-list", tag = "security",
    responses((status = 200, body = IpAllowListView), (status = 403)))]
async fn get_ip_allow_list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<IpAllowListView>> {
    Ok(Json(view(state.engine.ip_allow_list(&actor).await?)))
}

/// Replace the tenant's IP allow-list (owners). A list that leaves out your own address is
/// refused unless `confirm_lockout` is true.
#[utoipa::path(put, path = "/security/ip-allow-list", tag = "security", request_body = IpAllowListRequest,
    responses((status = 200, body = IpAllowListView), (status = 403),
        (status = 409, description = "your own address is not in the list; confirm the lockout"),
        (status = 422, description = "an entry is not a network, or more than 200")))]
async fn put_ip_allow_list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(request): AppJson<IpAllowListRequest>,
) -> ApiResult<Json<IpAllowListView>> {
    let change = AllowListChange {
        networks: request.networks,
        confirm_lockout: request.confirm_lockout,
    };
    Ok(Json(view(
        state.engine.set_ip_allow_list(&actor, change).await?,
    )))
}
