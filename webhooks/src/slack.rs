//! Slack's requests: `/webhooks/slack/events` (direct messages to the bot),
//! `/webhooks/slack/commands` (`/frontdesk …`) and `/webhooks/slack/interactions` (buttons).
//!
//! Each is verified (signature and timestamp) before anything in it is read, and answered
//! within Slack's 3 s: the conversation runs in the background and its answer goes out
//! through the outbox (retried like every notice). A slash command whose answer is ready in
//! time gets it at once, visible to its sender only. Event deliveries Slack retries are
//! acted on once.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use frontdesk_bots::slack::content;
use frontdesk_bots::slack_events::{self, Inbound};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::AppState;
use crate::chat_inbound::{Refusal, answer, queue_reply, reply_later};

/// How long a slash command waits for its answer before Slack's 3 s run out; a later
/// answer arrives as a direct message.
const COMMAND_ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// The Slack app's inbound settings: one app, installed for one tenant.
#[derive(Debug, Clone)]
pub struct SlackInbound {
    pub signing_secret: SecretString,
    pub tenant_id: i64,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/slack/events", post(events))
        .route("/webhooks/slack/commands", post(commands))
        .route("/webhooks/slack/interactions", post(interactions))
}

/// The settings, once the request is shown to come from Slack.
fn verified(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<SlackInbound>, Refusal<slack_events::SignatureError>> {
    let slack = state.slack.clone().ok_or(Refusal::NotConfigured)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.engine.ports.clock.now().timestamp();
    slack_events::verify(
        slack.signing_secret.expose_secret(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        now,
    )
    .map_err(|reason| {
        tracing::warn!(%reason, "a request to the Slack endpoints was refused");
        Refusal::Unverified(reason)
    })?;
    Ok(slack)
}

fn unreadable(err: slack_events::UnreadableRequest) -> Response {
    (StatusCode::BAD_REQUEST, err.to_string()).into_response()
}

fn slack_user(slack: &SlackInbound, user: &str) -> ChatUser {
    ChatUser {
        tenant_id: slack.tenant_id,
        platform: Platform::Slack,
        user_id: user.to_owned(),
        locale: None,
    }
}

async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refused) => return refused.into_response(),
    };
    match slack_events::read_event(&body) {
        Err(err) => unreadable(err),
        Ok(Inbound::UrlVerification { challenge }) => {
            Json(json!({ "challenge": challenge })).into_response()
        }
        Ok(Inbound::Message {
            event_id,
            user,
            text,
            ..
        }) => {
            let who = slack_user(&slack, &user);
            once(
                &state.engine,
                &event_id,
                reply_later(state.engine.clone(), who, Input::Text(text)),
            )
            .await
        }
        Ok(Inbound::HomeOpened { event_id, user, .. }) => {
            let who = slack_user(&slack, &user);
            once(
                &state.engine,
                &event_id,
                show_home(state.engine.clone(), who),
            )
            .await
        }
        Ok(_) => StatusCode::OK.into_response(),
    }
}

/// Starts `work` for event `event_id` unless a delivery of it was taken before (Slack
/// retries what it thinks was not acknowledged), and acknowledges it.
async fn once(
    engine: &Engine,
    event_id: &str,
    work: impl Future<Output = ()> + Send + 'static,
) -> Response {
    match engine.first_delivery(Platform::Slack, event_id).await {
        Ok(true) => {
            tokio::spawn(work);
            StatusCode::OK.into_response()
        }
        // A retry of a delivery already taken.
        Ok(false) => StatusCode::OK.into_response(),
        // Not acknowledged, so Slack delivers it again.
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "recording a Slack event failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Publishes `who`'s App Home tab. Straight to Slack, not through the outbox: the tab is
/// drawn afresh each time it is opened, so a lost one is redrawn at the next visit.
async fn show_home(engine: Engine, who: ChatUser) {
    let Some(bot) = engine.ports.chat.get(Platform::Slack).cloned() else {
        return;
    };
    let home = match engine.home(&who).await {
        Ok(home) => home,
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "drawing a Slack App Home failed");
            return;
        }
    };
    if let Err(err) = bot.show_home(&who.user_id, &home).await {
        tracing::warn!(error = %err, "publishing a Slack App Home failed");
    }
}

async fn commands(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refused) => return refused.into_response(),
    };
    let (user, text) = match slack_events::read_command(&body) {
        Ok(Inbound::Command { user, text, .. }) => (user, text),
        Ok(_) => return StatusCode::OK.into_response(),
        Err(err) => return unreadable(err),
    };
    let who = slack_user(&slack, &user);
    let engine = state.engine.clone();
    let mut answering = tokio::spawn(answer(engine.clone(), who.clone(), Input::Text(text)));
    match tokio::time::timeout(COMMAND_ANSWER_WITHIN, &mut answering).await {
        Ok(Ok(Some(message))) => {
            let mut answer = serde_json::to_value(content(&message)).unwrap_or_default();
            answer["response_type"] = json!("ephemeral");
            Json(answer).into_response()
        }
        Ok(_) => StatusCode::OK.into_response(),
        // Too slow for Slack's 3 s: the answer follows as a direct message.
        Err(_) => {
            tokio::spawn(async move {
                if let Ok(Some(message)) = answering.await {
                    queue_reply(&engine, &who, &message).await;
                }
            });
            StatusCode::OK.into_response()
        }
    }
}

async fn interactions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refused) => return refused.into_response(),
    };
    match slack_events::read_interaction(&body) {
        Ok(Inbound::Pressed {
            user, action_id, ..
        }) => {
            let who = slack_user(&slack, &user);
            tokio::spawn(reply_later(
                state.engine.clone(),
                who,
                Input::Pressed(action_id),
            ));
            StatusCode::OK.into_response()
        }
        Ok(_) => StatusCode::OK.into_response(),
        Err(err) => unreadable(err),
    }
}
