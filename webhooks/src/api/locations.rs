//! Locations: the sites whose receptions have kiosks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::engine::tenant::{LocationChange, LocationInput};
use frontdesk_core::store::tenant::Location;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

/// A site with a reception.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub id: i64,
    /// Used in kiosk URLs (`/kiosk/{slug}`).
    pub slug: String,
    pub name: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
}

impl From<Location> for LocationView {
    fn from(location: Location) -> Self {
        LocationView {
            id: location.id,
            slug: location.slug,
            name: location.name,
            time_zone: location.time_zone,
        }
    }
}

/// A new location.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocationRequest {
    /// Lower-case letters, digits and `-`; used in kiosk URLs (`/kiosk/{slug}`).
    pub slug: String,
    pub name: String,
    pub time_zone: String,
}

/// A location's new name and time zone (both are replaced).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationChangeRequest {
    pub name: String,
    pub time_zone: String,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
}

/// The tenant's locations.
#[utoipa::path(get, path = "/locations", tag = "locations", responses((status = 200, body = Vec<LocationView>)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<LocationView>>> {
    let locations = state.engine.locations(&actor).await?;
    Ok(Json(
        locations.into_iter().map(LocationView::from).collect(),
    ))
}

/// Add a location (admins).
#[utoipa::path(post, path = "/locations", tag = "locations", request_body = NewLocationRequest,
    responses((status = 201, body = LocationView), (status = 409), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<NewLocationRequest>,
) -> ApiResult<(StatusCode, Json<LocationView>)> {
    let input = LocationInput {
        slug: input.slug,
        name: input.name,
        time_zone: input.time_zone,
    };
    let location = state.engine.create_location(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(location.into())))
}

/// Rename a location or change its time zone (admins); the slug stays.
#[utoipa::path(put, path = "/locations/{slug}", tag = "locations", params(("slug" = String, Path)),
    request_body = LocationChangeRequest, responses((status = 200, body = LocationView), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
    AppJson(change): AppJson<LocationChangeRequest>,
) -> ApiResult<Json<LocationView>> {
    let change = LocationChange {
        name: change.name,
        time_zone: change.time_zone,
    };
    let location = state.engine.update_location(&actor, &slug, change).await?;
    Ok(Json(location.into()))
}
