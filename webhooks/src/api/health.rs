//! Liveness, readiness and metrics, for orchestrators and Prometheus.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;
use crate::problem::{ApiError, ApiResult};

/// `/healthz` and `/readyz`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics` (on the main address, or on its own with `[metrics] bind`).
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    state
        .engine
        .check_ready()
        .await
        .map_err(|err| ApiError::NotReady(frontdesk_core::error::with_causes(&err)))?;
    Ok(Json(json!({ "status": "ready" })))
}

/// OpenMetrics text, which Prometheus scrapes.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}
