//! What every chat platform's endpoint does once a request is shown to come from the
//! platform: answer through the conversation engine, and send an answer that is not given
//! in the response through the outbox (retried like every notice). A failure here is
//! logged: the platform has been answered already, so there is no one to tell.

use std::fmt::Display;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use frontdesk_core::domain::chat::Message;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};

/// Why a request signed by a platform (Slack, Discord) is not taken.
pub(crate) enum Refusal<E> {
    /// The platform is not configured here.
    NotConfigured,
    /// Not shown to come from the platform just now.
    Unverified(E),
}

impl<E: Display> IntoResponse for Refusal<E> {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotConfigured => StatusCode::NOT_FOUND.into_response(),
            Refusal::Unverified(reason) => {
                (StatusCode::UNAUTHORIZED, reason.to_string()).into_response()
            }
        }
    }
}

/// The conversation's answer to `input` from `who`.
pub(crate) async fn answer(engine: Engine, who: ChatUser, input: Input) -> Option<Message> {
    match engine.converse(&who, &input).await {
        Ok(message) => Some(message),
        Err(err) => {
            tracing::error!(platform = %who.platform, error = %frontdesk_core::error::with_causes(&err), "answering in chat failed");
            None
        }
    }
}

/// Queues `message` as a direct message to `who`.
pub(crate) async fn queue_reply(engine: &Engine, who: &ChatUser, message: &Message) {
    if let Err(err) = engine
        .queue_chat_reply(who.tenant_id, who.platform, &who.user_id, message)
        .await
    {
        tracing::error!(platform = %who.platform, error = %frontdesk_core::error::with_causes(&err), "queueing a chat answer failed");
    }
}

/// The answer to `input`, queued as a direct message to `who`.
pub(crate) async fn reply_later(engine: Engine, who: ChatUser, input: Input) {
    if let Some(message) = answer(engine.clone(), who.clone(), input).await {
        queue_reply(&engine, &who, &message).await;
    }
}
