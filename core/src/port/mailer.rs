//! Outgoing mail.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A plain-text message to one person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// May carry a secret (a reset link), so `Debug` leaves it out.
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
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
