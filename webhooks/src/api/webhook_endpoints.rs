//! Outgoing webhook endpoints (admins): a gate or door controller told of check-ins and
//! check-outs with signed POSTs (see the README for the body and how to verify it).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use frontdesk_core::engine::outgoing_webhook::WebhookEndpoint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
}

/// A registered endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    /// `visit.checked_in`, `visit.checked_out`.
    pub events: Vec<String>,
    pub created_at: String,
}

impl From<WebhookEndpoint> for EndpointView {
    fn from(endpoint: WebhookEndpoint) -> Self {
        EndpointView {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint
                .events
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            created_at: chrono::DateTime::from_timestamp_millis(endpoint.created_at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://…` (plain `http://` only on 127.0.0.1, ::1 or localhost), at most 2,000
    /// characters, without a user name or password.
    pub url: String,
    /// The events to send (`visit.checked_in`, `visit.checked_out`); all when left out (an
    /// empty list is refused).
    pub events: Option<Vec<String>>,
}

/// A new endpoint and its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The key of the deliveries' HMAC-SHA256 signatures: keep it in the receiver; it is not
    /// shown again (register a new endpoint to change it).
    pub secret: String,
}

/// The organisation's webhook endpoints (admins).
#[utoipa::path(get, path = "/webhook-endpoints", tag = "reception",
    responses((status = 200, body = Vec<EndpointView>)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<EndpointView>>> {
    let endpoints = state.engine.webhook_endpoints(&actor).await?;
    Ok(Json(
        endpoints.into_iter().map(EndpointView::from).collect(),
    ))
}

/// Register an endpoint (admins); the answer carries its secret, once.
#[utoipa::path(post, path = "/webhook-endpoints", tag = "reception", request_body = NewEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    let events = match new.events {
        // An endpoint told of nothing would be a mistake, not a choice.
        Some(events) if events.is_empty() => {
            return Err(frontdesk_core::Error::invalid(
                "events",
                frontdesk_core::domain::field::Invalid::Required,
            )
            .into());
        }
        events => events.unwrap_or_default(),
    };
    let (endpoint, secret) = state
        .engine
        .add_webhook_endpoint(&actor, &new.url, &events)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: endpoint.into(),
            secret,
        }),
    ))
}

/// Delete an endpoint (admins): deliveries still waiting for it are dropped.
#[utoipa::path(delete, path = "/webhook-endpoints/{endpoint}", tag = "reception", params(("endpoint" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(endpoint): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state
        .engine
        .delete_webhook_endpoint(&actor, endpoint)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
