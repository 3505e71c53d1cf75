//! Outgoing mail.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A plain-text message to one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later (connection refused, 4xx from the server).
    #[error("temporary mail failure: {0}")]
    Temporary(String),
    /// Retrying will not help (bad address, 5xx rejection).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Sends mail.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends `mail`; returns when the server (or the mail directory) has accepted it.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
