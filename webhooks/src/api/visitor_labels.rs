//! Visitor labels: admins define them (candidate, vendor, VIP …); receptionists put them on
//! visits, whose views show them and whose history can be filtered by them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::engine::visitor_label::VisitorLabel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reception::VisitSummary;
use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(set_visit_labels))
}

/// A visitor label.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelView {
    pub id: i64,
    pub name: String,
}

impl From<VisitorLabel> for LabelView {
    fn from(label: VisitorLabel) -> Self {
        LabelView {
            id: label.id,
            name: label.name,
        }
    }
}

/// A new label's name (at most 50 characters, unique in the organisation).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    pub name: String,
}

/// The labels a visit carries from now on (the ids of the organisation's labels; at most 20).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitLabels {
    pub labels: Vec<i64>,
}

/// The organisation's visitor labels, by name (whoever sees visits).
#[utoipa::path(get, path = "/visitor-labels", tag = "reception",
    responses((status = 200, body = Vec<LabelView>)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<LabelView>>> {
    let labels = state.engine.visitor_labels(&actor).await?;
    Ok(Json(labels.into_iter().map(LabelView::from).collect()))
}

/// Define a visitor label (admins).
#[utoipa::path(post, path = "/visitor-labels", tag = "reception", request_body = NewLabel,
    responses((status = 201, body = LabelView), (status = 409, description = "a label of this name exists"),
        (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewLabel>,
) -> ApiResult<(StatusCode, Json<LabelView>)> {
    let label = state.engine.create_visitor_label(&actor, &new.name).await?;
    Ok((StatusCode::CREATED, Json(label.into())))
}

/// Delete a visitor label (admins): it comes off every visit.
#[utoipa::path(delete, path = "/visitor-labels/{label}", tag = "reception", params(("label" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(label): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.delete_visitor_label(&actor, label).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a visit's labels (receptionists and admins): the list replaces the labels it had.
#[utoipa::path(put, path = "/visits/{visit}/labels", tag = "reception", params(("visit" = String, Path)),
    request_body = VisitLabels,
    responses((status = 200, body = VisitSummary), (status = 404),
        (status = 422, description = "an id that is not one of the organisation's labels (`labels[i]`)")))]
async fn set_visit_labels(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(visit): AppPath<String>,
    AppJson(body): AppJson<VisitLabels>,
) -> ApiResult<Json<VisitSummary>> {
    let visit = state
        .engine
        .set_visit_labels(&actor, &visit, &body.labels)
        .await?;
    Ok(Json(visit.into()))
}
