//! Teams' requests: `/webhooks/teams/messages`, the bot's messaging endpoint.
//!
//! The Bot Framework's token is verified before the activity is read; then the token must
//! vouch for the activity's `serviceUrl` and channel, and that `serviceUrl` must be on the
//! allow-list. Typed messages and `Action.Submit` presses are acknowledged at once and
//! answered through the outbox; an `Action.Execute` press wants its answer in the response,
//! so it gets the answer card when that is ready in time. Activities the Bot Framework
//! retries are acted on once.
//!
//! Nothing is stored when the bot is installed: a person is messaged by their Entra object
//! id, which the link already holds, and the 1:1 conversation is created on demand (see
//! `frontdesk_bots::teams`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use frontdesk_bots::teams::{ADAPTIVE_CARD, card};
use frontdesk_bots::teams_events::{self, Inbound, Rejection, Sender, Verifier};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::i18n::Lang;
use serde_json::json;

use crate::AppState;
use crate::chat_inbound::{answer, queue_reply, reply_later};

/// How long an `Action.Execute` waits for its answer before Teams' time runs out; a later
/// answer arrives as a message.
const EXECUTE_ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// The Teams bot's inbound settings: one bot, installed for one tenant.
#[derive(Debug)]
pub struct TeamsInbound {
    /// Checks the Bot Framework's tokens for this bot.
    pub verifier: Verifier,
    pub tenant_id: i64,
    /// Hosts an activity's `serviceUrl` may name (`*.botframework.com` admits subdomains).
    pub allowed_service_hosts: Vec<String>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/teams/messages", post(messages))
}

/// Why a request to the Teams endpoint is not taken.
enum Refusal {
    /// Teams is not configured here.
    NotConfigured,
    /// No token at all.
    Unauthenticated,
    /// Not shown to come from the Bot Framework for this bot and this activity.
    Forbidden(Rejection),
    /// The keys to check the token could not be fetched: the Bot Framework retries later.
    KeysUnavailable,
    /// The activity cannot be read.
    Unreadable(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotConfigured => StatusCode::NOT_FOUND.into_response(),
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a Bot Framework token is required",
            )
                .into_response(),
            Refusal::Forbidden(reason) => {
                (StatusCode::FORBIDDEN, reason.to_string()).into_response()
            }
            Refusal::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Refusal::Unreadable(why) => (StatusCode::BAD_REQUEST, why).into_response(),
        }
    }
}

/// The settings, once the request is shown to come from the Bot Framework for this
/// activity; the token is checked before the body is parsed.
async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<TeamsInbound>, Refusal> {
    let teams = state.teams.clone().ok_or(Refusal::NotConfigured)?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now = state.engine.ports.clock.now().timestamp();
    let refused = |reason: Rejection| {
        tracing::warn!(%reason, "a request to the Teams endpoint was refused");
        match reason {
            Rejection::Missing => Refusal::Unauthenticated,
            Rejection::KeysUnavailable(_) => Refusal::KeysUnavailable,
            other => Refusal::Forbidden(other),
        }
    };
    let token = teams
        .verifier
        .verify(authorization, now)
        .await
        .map_err(refused)?;
    let envelope =
        teams_events::read_envelope(body).map_err(|err| Refusal::Unreadable(err.to_string()))?;
    token
        .covers(&envelope.service_url, &envelope.channel_id)
        .map_err(refused)?;
    if !teams_events::service_url_allowed(&envelope.service_url, &teams.allowed_service_hosts) {
        return Err(refused(Rejection::ServiceHost));
    }
    Ok(teams)
}

fn teams_user(teams: &TeamsInbound, sender: &Sender) -> ChatUser {
    let locale = sender.locale.as_deref().map(|locale| {
        if teams_events::is_japanese(Some(locale)) {
            Lang::Ja
        } else {
            Lang::En
        }
    });
    ChatUser {
        tenant_id: teams.tenant_id,
        platform: Platform::Teams,
        user_id: sender.aad_object_id.clone(),
        locale,
    }
}

/// Whether the activity `id` is seen for the first time; `Err` is the response that makes
/// the Bot Framework deliver it again.
async fn first_delivery(engine: &Engine, id: &str) -> Result<bool, Response> {
    if id.is_empty() {
        return Err(Refusal::Unreadable("the activity has no id".into()).into_response());
    }
    engine
        .first_delivery(Platform::Teams, id)
        .await
        .map_err(|err| {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "recording a Teams activity failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })
}

/// An `adaptiveCard/action` invoke response saying the answer follows as a message.
fn answer_follows(who: &ChatUser) -> Response {
    let text = frontdesk_core::i18n::text(
        who.locale.unwrap_or_default(),
        "conversation.answer_follows",
    );
    Json(json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}))
        .into_response()
}

async fn messages(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let teams = match verified(&state, &headers, &body).await {
        Ok(teams) => teams,
        Err(refused) => return refused.into_response(),
    };
    let inbound = match teams_events::read_activity(&body) {
        Ok(inbound) => inbound,
        Err(err) => return Refusal::Unreadable(err.to_string()).into_response(),
    };
    let engine = state.engine.clone();
    match inbound {
        Inbound::Message { id, user, text } => {
            match first_delivery(&engine, &id).await {
                Ok(true) => {
                    let who = teams_user(&teams, &user);
                    tokio::spawn(reply_later(engine, who, Input::Text(text)));
                }
                Ok(false) => {}
                Err(response) => return response,
            }
            StatusCode::OK.into_response()
        }
        Inbound::Submitted {
            id,
            user,
            action_id,
        } => {
            match first_delivery(&engine, &id).await {
                Ok(true) => {
                    let who = teams_user(&teams, &user);
                    tokio::spawn(reply_later(engine, who, Input::Pressed(action_id)));
                }
                Ok(false) => {}
                Err(response) => return response,
            }
            StatusCode::OK.into_response()
        }
        Inbound::Executed {
            id,
            user,
            action_id,
        } => {
            let who = teams_user(&teams, &user);
            match first_delivery(&engine, &id).await {
                Ok(true) => {}
                // A retry: the first delivery is being answered.
                Ok(false) => return answer_follows(&who),
                Err(response) => return response,
            }
            let mut answering = tokio::spawn(answer(
                engine.clone(),
                who.clone(),
                Input::Pressed(action_id),
            ));
            match tokio::time::timeout(EXECUTE_ANSWER_WITHIN, &mut answering).await {
                // The card the button was on is replaced by the answer.
                Ok(Ok(Some(message))) => {
                    Json(json!({"statusCode": 200, "type": ADAPTIVE_CARD, "value": card(&message)}))
                        .into_response()
                }
                Ok(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                // Too slow for Teams: the answer follows as a message.
                Err(_) => {
                    let later = who.clone();
                    tokio::spawn(async move {
                        if let Ok(Some(message)) = answering.await {
                            queue_reply(&engine, &later, &message).await;
                        }
                    });
                    answer_follows(&who)
                }
            }
        }
        // Nothing to store (see the module's comment); installing is acknowledged.
        Inbound::Installed { .. } | Inbound::Other => StatusCode::OK.into_response(),
    }
}
