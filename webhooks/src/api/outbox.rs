//! Messages that could not be delivered, for admins to act on.

use axum::Json;
use axum::extract::State;
use frontdesk_core::engine::dispatcher::Undeliverable;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::SignedIn;
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(undeliverable))
}

/// Messages given up after a permanent refusal or too many failures, newest first (admins).
#[utoipa::path(get, path = "/outbox/undeliverable", tag = "outbox",
    responses((status = 200, body = Vec<Undeliverable>), (status = 403)))]
async fn undeliverable(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<Undeliverable>>> {
    Ok(Json(state.engine.undeliverable(&actor).await?))
}
