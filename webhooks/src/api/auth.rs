//! Signing in and out, the current account, password changes and resets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::AccountView;
use crate::AppState;
use crate::extract::{AppJson, ClientIp, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(accept_invitation))
}

/// Credentials for signing in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// The tenant's slug, e.g. `demo`.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// A change of one's own password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A request for a reset link by email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub tenant: String,
    pub email: String,
}

/// A new password, with the token from the reset link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

/// A password for the account an invitation offers, with the token from its link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvitationAccept {
    pub token: String,
    pub password: String,
}

/// The session cookie carrying `value` for `max_age_secs` (0 clears it).
pub(crate) fn session_cookie(
    state: &AppState,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build((state.session_cookie_name(), value))
        .path("/")
        .http_only(true)
        // Strict: the admin session is never sent on requests started by another site.
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(max_age_secs))
        .secure(state.secure_cookies)
        .build()
}

/// Sign in; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AccountView), (status = 401, description = "wrong email or password"),
        (status = 403, description = "the tenant's IP allow-list does not admit this address, or the \
            tenant requires single sign-on for this account (`sso_required`)"),
        (status = 429, description = "too many failed attempts; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    AppJson(req): AppJson<LoginRequest>,
) -> ApiResult<(CookieJar, Json<AccountView>)> {
    let sign_in = state
        .engine
        .login(&req.tenant, &req.email, &req.password, &ip.to_string())
        .await?;
    let max_age = state.engine.settings.session_ttl.num_seconds();
    let jar = jar.add(session_cookie(&state, sign_in.session_token, max_age));
    Ok((jar, Json(AccountView::from(sign_in.account))))
}

/// Sign out; ends the session and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    if let Some(session) = jar.get(state.session_cookie_name()) {
        state.engine.logout(&actor, session.value()).await?;
    }
    // The same attributes as when it was set, so the browser replaces (and drops) it.
    let jar = jar.add(session_cookie(&state, String::new(), 0));
    Ok((jar, StatusCode::NO_CONTENT))
}

/// The signed-in account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = AccountView), (status = 401)))]
async fn me(SignedIn(actor): SignedIn) -> Json<AccountView> {
    Json(actor.account.into())
}

/// Change one's own password; every session of the account ends.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 422, description = "wrong current password or weak new one")))]
async fn change_password(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(req): AppJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .change_password(&actor, &req.current_password, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a reset link by email. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "if the account exists, a link is on its way")))]
async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .request_password_reset(&req.tenant, &req.email, &ip.to_string())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the token from the reset link (single use, expires).
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 400, description = "the link is invalid, used or expired"),
        (status = 403, description = "the tenant requires single sign-on for this account (`sso_required`)"),
        (status = 422, description = "the new password breaks the policy")))]
async fn confirm_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<ResetConfirm>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .reset_password(&req.token, &req.new_password, &ip.to_string())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation: choose a password, which creates the invited account (the link is
/// single use and works for 72 hours). Sign in afterwards.
#[utoipa::path(post, path = "/auth/invitations/accept", tag = "auth", request_body = InvitationAccept,
    responses((status = 201, body = AccountView),
        (status = 400, description = "the invitation is invalid, used or expired (`invalid_invitation`)"),
        (status = 409, description = "an account for this email was created meanwhile"),
        (status = 422, description = "the password breaks the policy")))]
async fn accept_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<InvitationAccept>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let account = state
        .engine
        .accept_invitation(&req.token, &req.password, &ip.to_string())
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}
