//! Locations: the sites whose receptions have kiosks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::engine::tenant::{LocationChange, LocationInput};
use frontdesk_core::store::tenant::Location;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
}

/// The tenant's locations.
#[utoipa::path(get, path = "/locations", tag = "locations", responses((status = 200, body = Vec<Location>)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<Location>>> {
    Ok(Json(state.engine.locations(&actor).await?))
}

/// Add a location (admins).
#[utoipa::path(post, path = "/locations", tag = "locations", request_body = LocationInput,
    responses((status = 201, body = Location), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<LocationInput>,
) -> ApiResult<(StatusCode, Json<Location>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.engine.create_location(&actor, input).await?),
    ))
}

/// Rename a location or change its time zone (admins); the slug stays.
#[utoipa::path(put, path = "/locations/{slug}", tag = "locations", params(("slug" = String, Path)),
    request_body = LocationChange, responses((status = 200, body = Location), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
    AppJson(change): AppJson<LocationChange>,
) -> ApiResult<Json<Location>> {
    Ok(Json(
        state.engine.update_location(&actor, &slug, change).await?,
    ))
}
