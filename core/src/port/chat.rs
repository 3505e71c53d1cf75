//! Chat platforms: each bot (Slack, Teams, Discord, the web chat) sends and updates
//! platform-neutral [`Message`]s and answers who a platform user is.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::chat::Message;
use crate::domain::people::Platform;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A person, by their platform user id (a direct message).
    User(String),
    /// A channel or group conversation, by its platform id.
    Channel(String),
}

/// A message the platform accepted: what is needed to update it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The conversation it is in.
    pub conversation: String,
    /// The platform's id of the message (Slack's `ts`, Teams' activity id, …).
    pub message_id: String,
}

/// Why a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// Worth retrying later (connection failed, 5xx, timeout).
    #[error("temporary chat failure: {0}")]
    Temporary(String),
    /// The platform asked to wait this long first (HTTP 429 with `Retry-After`).
    #[error("rate limited; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Retrying will not help (revoked token, unknown user or channel).
    #[error("permanent chat failure: {0}")]
    Permanent(String),
}

/// One chat platform, as the engine sees it.
#[async_trait]
pub trait ChatBot: Send + Sync + std::fmt::Debug {
    /// The platform this bot speaks on.
    fn platform(&self) -> Platform;
    /// Sends `message` to `to`.
    async fn send(&self, to: &Recipient, message: &Message) -> Result<Sent, ChatError>;
    /// Replaces a message sent before (a notice answered, a button used).
    async fn update(&self, sent: &Sent, message: &Message) -> Result<(), ChatError>;
    /// The email address the platform has verified for `user_id`; `None` when the platform
    /// does not share one (Discord).
    async fn user_email(&self, user_id: &str) -> Result<Option<String>, ChatError>;
    /// The platform user whose verified email is `email`, if any.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<String>, ChatError>;
    /// Shows `message` as `user_id`'s home page of the app (Slack's App Home tab). A
    /// platform without one has nothing to show it on, so by default this does nothing.
    async fn show_home(&self, user_id: &str, message: &Message) -> Result<(), ChatError> {
        let _ = (user_id, message);
        Ok(())
    }
}

/// The chat platforms configured, at most one bot each.
#[derive(Debug, Clone, Default)]
pub struct ChatBots {
    bots: BTreeMap<Platform, Arc<dyn ChatBot>>,
}

impl ChatBots {
    /// These bots and `bot` (replacing one of the same platform).
    pub fn with(mut self, bot: Arc<dyn ChatBot>) -> ChatBots {
        self.bots.insert(bot.platform(), bot);
        self
    }

    /// The bot of `platform`, if it is configured.
    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn ChatBot>> {
        self.bots.get(&platform)
    }
}
