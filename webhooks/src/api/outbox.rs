//! Messages that could not be delivered, for admins to act on.

use axum::Json;
use axum::extract::State;
use frontdesk_core::engine::dispatcher::Undeliverable;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::SignedIn;
use crate::problem::ApiResult;

/// A message that will not be sent, as admins see it (never its body: a reset mail carries
/// a secret link).
#[derive(Debug, Serialize, ToSchema)]
pub struct UndeliverableView {
    pub id: i64,
    /// `mail` (chat and webhooks later).
    pub channel: String,
    /// The recipient.
    pub to: String,
    pub subject: String,
    pub attempts: i64,
    /// Why it was given up.
    pub reason: String,
}

impl From<Undeliverable> for UndeliverableView {
    fn from(message: Undeliverable) -> Self {
        UndeliverableView {
            id: message.id,
            channel: message.channel,
            to: message.to,
            subject: message.subject,
            attempts: message.attempts,
            reason: message.reason,
        }
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(undeliverable))
}

/// Messages given up after a permanent refusal or too many failures, newest first (admins).
#[utoipa::path(get, path = "/outbox/undeliverable", tag = "outbox",
    responses((status = 200, body = Vec<UndeliverableView>), (status = 403)))]
async fn undeliverable(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<UndeliverableView>>> {
    let messages = state.engine.undeliverable(&actor).await?;
    Ok(Json(
        messages.into_iter().map(UndeliverableView::from).collect(),
    ))
}
