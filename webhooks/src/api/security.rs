//! Security settings of the tenant (owners only): the IP allow-list and single sign-on.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::Error;
use frontdesk_core::engine::ip_allow_list::AllowListChange;
use frontdesk_core::engine::sso::{SsoChange, SsoSettings};
use secrecy::SecretString;
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

/// The tenant's identity provider for single sign-on (OpenID Connect).
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoSettingsView {
    /// The issuer URL; discovery is at `{issuer}/.well-known/openid-configuration`.
    #[schema(example = "https://login.example.com")]
    pub issuer: String,
    pub client_id: String,
    /// Always true: a secret is stored (sealed), and never shown.
    pub client_secret_set: bool,
    /// Password sign-in and resets are refused to every account but owners.
    pub require_sso: bool,
}

/// New single sign-on settings; they replace the old ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsRequest {
    /// An `https://` URL, at most 500 characters, that answers OpenID Connect discovery
    /// (`http://` only for 127.0.0.1, ::1 and localhost, for local testing).
    #[schema(example = "https://login.example.com")]
    pub issuer: String,
    /// This server's client id at the identity provider, at most 255 characters.
    pub client_id: String,
    /// The client secret, at most 1000 characters; leave it out to keep the stored one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// Refuse password sign-in and resets to every account but owners.
    #[serde(default)]
    pub require_sso: bool,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ip_allow_list, put_ip_allow_list))
        .routes(routes!(get_sso, put_sso, delete_sso))
}

fn sso_view(settings: SsoSettings) -> SsoSettingsView {
    SsoSettingsView {
        issuer: settings.issuer,
        client_id: settings.client_id,
        client_secret_set: true,
        require_sso: settings.require_sso,
    }
}

/// The tenant's single sign-on settings (owners); 404 when none are set.
#[utoipa::path(get, path = "/security/sso", tag = "security",
    responses((status = 200, body = SsoSettingsView), (status = 403), (status = 404)))]
async fn get_sso(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<SsoSettingsView>> {
    let settings = state
        .engine
        .sso_settings(&actor)
        .await?
        .ok_or(Error::NotFound("sso settings"))?;
    Ok(Json(sso_view(settings)))
}

/// Set the tenant's single sign-on (owners). The issuer must answer OpenID Connect
/// discovery; register `{public_url}/sso/{tenant}/callback` as the redirect URI there.
#[utoipa::path(put, path = "/security/sso", tag = "security", request_body = SsoSettingsRequest,
    responses((status = 200, body = SsoSettingsView), (status = 403),
        (status = 422, description = "a field is invalid, or the issuer does not answer discovery (`field`: `issuer`)")))]
async fn put_sso(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(request): AppJson<SsoSettingsRequest>,
) -> ApiResult<Json<SsoSettingsView>> {
    let change = SsoChange {
        issuer: request.issuer,
        client_id: request.client_id,
        client_secret: request.client_secret,
        require_sso: request.require_sso,
    };
    Ok(Json(sso_view(
        state.engine.set_sso_settings(&actor, change).await?,
    )))
}

/// Remove the tenant's single sign-on (owners); every account may sign in with its
/// password again.
#[utoipa::path(delete, path = "/security/sso", tag = "security",
    responses((status = 204), (status = 403)))]
async fn delete_sso(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<StatusCode> {
    state.engine.delete_sso_settings(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
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
