//! Ports: the traits through which the engine reaches the outside world.
//! Implementations are chosen once at start, held as `Arc<dyn …>` in one [`Ports`] value.

mod clock;
mod mailer;
mod openid;
mod secrets;

use std::sync::Arc;

pub use clock::{Clock, SystemClock};
pub use mailer::{Mail, MailError, Mailer};
pub use openid::{AttemptSecrets, OidcClient, OidcError, OpenIdProvider, VerifiedIdentity};
pub use secrets::{KeyError, Keyring, SealError, SealedAt, Secrets};

/// Every port the engine uses, chosen once at start. Adding a port adds a field here, and
/// the binary and the test builders (`testing`) are the only places that fill it.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// Outgoing mail (SMTP, or `.eml` files in the embedded default).
    pub mailer: Arc<dyn Mailer>,
    /// Sealing of secrets and personal data at rest (AES-256-GCM, keys by id).
    pub secrets: Arc<dyn Secrets>,
    /// OpenID Connect identity providers (single sign-on).
    pub openid: Arc<dyn OpenIdProvider>,
}
