//! Discord's requests: `/webhooks/discord/interactions`, the application's Interactions
//! Endpoint URL (the `/frontdesk` slash command, buttons and menus).
//!
//! Each is verified (Ed25519 signature and timestamp) before anything in it is read, and
//! answered within Discord's 3 s: an answer ready within [`ANSWER_WITHIN`] is the response
//! itself, seen by its sender only; a slower one is deferred ("thinking…") and replaces that
//! later through the interaction's webhook, or, if that fails, arrives as a direct message
//! through the outbox. An interaction id is acted on once: Discord never sends one twice, so
//! a repeat is a replay.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use frontdesk_bots::discord::{DiscordBot, deferred_answer, interaction_answer};
use frontdesk_bots::discord_interactions::{self, Interaction, Sender, Verifier};
use frontdesk_core::domain::chat::Message;
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::i18n;
use serde_json::json;

use crate::AppState;
use crate::chat_inbound::{Refusal, answer, queue_reply};

/// How long an interaction waits for its answer before Discord's 3 s run out; a later
/// answer follows the deferred response.
const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// The Discord application's inbound settings: one application, for one tenant.
#[derive(Clone)]
pub struct DiscordInbound {
    /// Checks signatures with the application's public key.
    pub verifier: Verifier,
    pub tenant_id: i64,
    /// Finishes deferred answers.
    pub bot: Arc<DiscordBot>,
}

impl std::fmt::Debug for DiscordInbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordInbound")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/discord/interactions", post(interactions))
}

/// The settings, once the request is shown to come from Discord.
fn verified(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<DiscordInbound>, Refusal<discord_interactions::SignatureError>> {
    let discord = state.discord.clone().ok_or(Refusal::NotConfigured)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.engine.ports.clock.now().timestamp();
    discord_interactions::verify(
        &discord.verifier,
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
        body,
        now,
    )
    .map_err(|reason| {
        tracing::warn!(%reason, "a request to the Discord endpoint was refused");
        Refusal::Unverified(reason)
    })?;
    Ok(discord)
}

async fn interactions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let discord = match verified(&state, &headers, &body) {
        Ok(discord) => discord,
        Err(refused) => return refused.into_response(),
    };
    let (id, token, sender, input) = match discord_interactions::read_interaction(&body) {
        Ok(Interaction::Ping) => return Json(json!({ "type": 1 })).into_response(),
        Ok(Interaction::Command {
            id,
            token,
            sender,
            text,
        }) => (id, token, sender, Input::Text(text)),
        Ok(Interaction::Pressed {
            id,
            token,
            sender,
            custom_id,
        }) => (id, token, sender, Input::Pressed(custom_id)),
        Ok(Interaction::Ignored) => {
            return (
                StatusCode::BAD_REQUEST,
                "not an interaction Frontdesk acts on",
            )
                .into_response();
        }
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    match state.engine.first_delivery(Platform::Discord, &id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(interaction = %id, "a Discord interaction was sent again: refused");
            return (
                StatusCode::CONFLICT,
                "this interaction was answered already",
            )
                .into_response();
        }
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "recording a Discord interaction failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let who = discord_user(&discord, &sender);
    let engine = state.engine.clone();
    let mut answering = tokio::spawn(answer(engine.clone(), who.clone(), input));
    let message = match tokio::time::timeout(ANSWER_WITHIN, &mut answering).await {
        Ok(Ok(Some(message))) => message,
        Ok(_) => Message::text(i18n::text(
            sender.locale.unwrap_or_default(),
            "error.internal",
        )),
        // Too slow for Discord's 3 s: "thinking…" now, the answer when it is ready.
        Err(_) => {
            tokio::spawn(async move {
                if let Ok(Some(message)) = answering.await {
                    answer_later(&engine, &discord, &who, &token, &message).await;
                }
            });
            return Json(deferred_answer()).into_response();
        }
    };
    Json(interaction_answer(&message)).into_response()
}

fn discord_user(discord: &DiscordInbound, sender: &Sender) -> ChatUser {
    ChatUser {
        tenant_id: discord.tenant_id,
        platform: Platform::Discord,
        user_id: sender.user_id.clone(),
        locale: sender.locale,
    }
}

/// Replaces the deferred response with `message`; if Discord does not take it, the answer
/// goes out as a direct message through the outbox (retried like every notice).
async fn answer_later(
    engine: &Engine,
    discord: &DiscordInbound,
    who: &ChatUser,
    token: &str,
    message: &Message,
) {
    let Err(err) = discord.bot.answer_later(token, message).await else {
        return;
    };
    tracing::warn!(error = %err, "a deferred Discord answer failed; sending it as a direct message");
    queue_reply(engine, who, message).await;
}
