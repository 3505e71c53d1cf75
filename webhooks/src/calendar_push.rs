//! Calendar traffic from outside: Google push notifications (`/webhooks/google/push`),
//! Microsoft Graph change and lifecycle notifications (`/webhooks/microsoft/notifications`),
//! and the built-in calendars' private ICS feeds (`/ics/{token}.ics`).
//!
//! A push is checked first (Google's channel token, Graph's `clientState`, compared in
//! constant time against the stored hash) and only marks the calendar due: the answer goes
//! back at once and the syncer does the work afterwards. Repeats collapse (a calendar already
//! due is not queued twice; Google's message numbers are remembered per channel).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use frontdesk_core::Error;
use serde::Deserialize;

use crate::AppState;

/// Longer header values or validation tokens than this are not Google's or Graph's.
const MAX_VALUE: usize = 1024;
/// Graph batches notifications; more than this in one request is not Graph.
const MAX_NOTIFICATIONS: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/google/push", post(google_push))
        .route(
            "/webhooks/microsoft/notifications",
            post(microsoft_notifications),
        )
        .route("/ics/{file}", get(feed))
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_VALUE)
}

/// A Google push: 200 when taken (or nothing to do), 404 for an unknown channel or a wrong
/// token (Google then stops retrying it), 400 without the channel headers.
async fn google_push(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (Some(channel), Some(token), Some(resource_state)) = (
        header_value(&headers, "x-goog-channel-id"),
        header_value(&headers, "x-goog-channel-token"),
        header_value(&headers, "x-goog-resource-state"),
    ) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let number = header_value(&headers, "x-goog-message-number").and_then(|n| n.parse().ok());
    match state
        .engine
        .google_push(channel, token, resource_state, number)
        .await
    {
        Ok(_) => StatusCode::OK.into_response(),
        Err(Error::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "a Google push failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidationQuery {
    validation_token: Option<String>,
}

/// Graph's notification batch; fields Frontdesk does not use are ignored.
#[derive(Deserialize)]
struct NotificationBatch {
    value: Vec<Notification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    subscription_id: String,
    #[serde(default)]
    client_state: String,
    lifecycle_event: Option<String>,
}

/// Graph's subscription validation (echo the token, as plain text, at once) or a batch of
/// notifications (202 at once; the sync happens afterwards).
async fn microsoft_notifications(
    State(state): State<AppState>,
    Query(query): Query<ValidationQuery>,
    body: Bytes,
) -> Response {
    if let Some(token) = query.validation_token {
        if token.len() > MAX_VALUE || token.chars().any(char::is_control) {
            return StatusCode::BAD_REQUEST.into_response();
        }
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
            token,
        )
            .into_response();
    }
    let Ok(batch) = serde_json::from_slice::<NotificationBatch>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if batch.value.len() > MAX_NOTIFICATIONS {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    for notification in &batch.value {
        if notification.subscription_id.len() > MAX_VALUE
            || notification.client_state.len() > MAX_VALUE
        {
            continue;
        }
        if let Err(err) = state
            .engine
            .microsoft_notification(
                &notification.subscription_id,
                &notification.client_state,
                notification.lifecycle_event.as_deref(),
            )
            .await
        {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "a Graph notification failed");
            // Graph retries what was not acknowledged: better twice than lost.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    StatusCode::ACCEPTED.into_response()
}

/// A built-in calendar's private feed; 404 for an unknown or revoked token.
async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = file
        .strip_suffix(".ics")
        .filter(|t| !t.is_empty() && t.len() <= 64)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.engine.calendar_feed(token).await {
        Ok(Some(ics)) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/calendar; charset=utf-8"),
                ),
                // The URL is the credential: no shared cache keeps a copy.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=300"),
                ),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
            ics,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "serving a calendar feed failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
