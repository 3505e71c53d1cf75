//! Admin accounts of the tenant (owners only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::engine::auth::{AccessChange, NewAdmin};
use frontdesk_core::store::account::Account;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
}

/// The tenant's admin accounts.
#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Vec<Account>), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(state.engine.accounts(&actor).await?))
}

/// Add an admin account; the password must pass the policy.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = NewAdmin,
    responses((status = 201, body = Account), (status = 403), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewAdmin>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let account = state
        .engine
        .create_account(actor.account.tenant_id, Some(&actor), &new)
        .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Change an account's role and export permission; a tenant always keeps an owner.
#[utoipa::path(put, path = "/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccessChange,
    responses((status = 200, body = Account), (status = 403), (status = 404), (status = 409, description = "the last owner")))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppJson(change): AppJson<AccessChange>,
) -> ApiResult<Json<Account>> {
    Ok(Json(
        state
            .engine
            .update_account_access(&actor, id, &change)
            .await?,
    ))
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
