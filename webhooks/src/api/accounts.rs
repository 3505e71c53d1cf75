//! Admin accounts of the tenant (owners only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::domain::people::{Lang, Role};
use frontdesk_core::engine::auth::{AccessChange, NewAdmin};
use frontdesk_core::engine::invitation::NewInvitation;
use frontdesk_core::store::account::Account;
use frontdesk_core::store::invitation::Invitation;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

/// An account as the API shows it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub tenant_id: i64,
    pub email: String,
    /// `owner`, `admin` or `receptionist`.
    #[schema(example = "admin")]
    pub role: String,
    /// May download personal data as CSV.
    pub can_export: bool,
    /// `ja` or `en`.
    #[schema(example = "ja")]
    pub language: String,
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        AccountView {
            id: account.id,
            tenant_id: account.tenant_id,
            email: account.email,
            role: account.role.as_str().to_owned(),
            can_export: account.can_export,
            language: account.language.as_str().to_owned(),
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    /// May download personal data as CSV.
    #[serde(default)]
    pub can_export: bool,
    #[serde(default)]
    #[schema(value_type = String, example = "ja")]
    pub language: Lang,
}

/// Whom to invite: an admin or receptionist, mailed a link to choose a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    pub email: String,
    /// `admin` or `receptionist` (owners are made by promotion).
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    /// May download personal data as CSV.
    #[serde(default)]
    pub can_export: bool,
    /// The language of the mail and of the account.
    #[serde(default)]
    #[schema(value_type = String, example = "ja")]
    pub language: Lang,
}

/// An invitation not yet accepted (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub email: String,
    #[schema(example = "admin")]
    pub role: String,
    pub can_export: bool,
    #[schema(example = "ja")]
    pub language: String,
    /// When the link stops working (RFC 3339).
    #[schema(example = "2026-11-29T09:00:00Z")]
    pub expires_at: String,
}

impl From<Invitation> for InvitationView {
    fn from(invitation: Invitation) -> Self {
        let expires_at = chrono::DateTime::from_timestamp_millis(invitation.expires_at)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        InvitationView {
            email: invitation.email,
            role: invitation.role.as_str().to_owned(),
            can_export: invitation.can_export,
            language: invitation.language.as_str().to_owned(),
            expires_at,
        }
    }
}

/// A change of what an account may do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessChangeRequest {
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    /// May download personal data as CSV.
    pub can_export: bool,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
        .routes(routes!(invitations, invite))
}

/// The invitations not yet accepted, retired or expired.
#[utoipa::path(get, path = "/accounts/invitations", tag = "accounts",
    responses((status = 200, body = Vec<InvitationView>), (status = 403)))]
async fn invitations(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<InvitationView>>> {
    let pending = state.engine.invitations(&actor).await?;
    Ok(Json(
        pending.into_iter().map(InvitationView::from).collect(),
    ))
}

/// Invite an admin or receptionist by email: a single-use link to choose a password, valid
/// for 72 hours. A newer invitation to the same email retires the older one.
#[utoipa::path(post, path = "/accounts/invitations", tag = "accounts", request_body = InvitationRequest,
    responses((status = 201, body = InvitationView), (status = 403),
        (status = 409, description = "the email already has an account"), (status = 422)))]
async fn invite(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(req): AppJson<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let new = NewInvitation {
        email: req.email,
        role: req.role,
        can_export: req.can_export,
        language: req.language,
    };
    let invitation = state.engine.invite(&actor, &new).await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// The tenant's admin accounts.
#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Vec<AccountView>), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<AccountView>>> {
    let accounts = state.engine.accounts(&actor).await?;
    Ok(Json(accounts.into_iter().map(AccountView::from).collect()))
}

/// Add an admin account; the password must pass the policy.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = NewAccountRequest,
    responses((status = 201, body = AccountView), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let new = NewAdmin {
        email: new.email,
        password: new.password.expose_secret().to_owned(),
        role: new.role,
        can_export: new.can_export,
        language: new.language,
    };
    let account = state
        .engine
        .create_account(actor.account.tenant_id, Some(&actor), &new)
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Change an account's role and export permission; a tenant always keeps an owner.
#[utoipa::path(put, path = "/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccessChangeRequest,
    responses((status = 200, body = AccountView), (status = 403), (status = 404), (status = 409, description = "the last owner")))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppJson(change): AppJson<AccessChangeRequest>,
) -> ApiResult<Json<AccountView>> {
    let change = AccessChange {
        role: change.role,
        can_export: change.can_export,
    };
    let account = state
        .engine
        .update_account_access(&actor, id, &change)
        .await?;
    Ok(Json(account.into()))
}

/// Remove an account; its sessions end at once. A tenant always keeps an owner.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "the last owner")))]
async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.delete_account(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
