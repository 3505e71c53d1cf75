//! Ports: the traits through which the engine reaches the outside world.
//! Implementations are chosen once at start, held as `Arc<dyn …>` in one [`Ports`] value.

mod calendar;
mod chat;
mod clock;
mod mailer;
mod openid;
mod secrets;
mod tenant_keys;

use std::sync::Arc;

pub use calendar::{
    Attendee, AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef,
    Calendars, Changes, EventDetails, EventDraft, OAuthTokens, ProviderEvent, ProviderRoom,
    SyncWindow, TokenStore, Watch, WatchRequest,
};
pub use chat::{ChatBot, ChatBots, ChatError, Recipient, Sent};
pub use clock::{Clock, SystemClock};
pub use mailer::{Attachment, Mail, MailError, Mailer};
pub use openid::{AttemptSecrets, OidcClient, OidcError, OpenIdProvider, VerifiedIdentity};
pub use secrets::{KeyError, Keyring, SealError, SealedAt, Secrets, sealing_key_id};
pub use tenant_keys::{DirKeyStore, TenantKeyStore};

/// Every port the engine uses, chosen once at start. Adding a port adds a field here, and
/// the binary and the test builders (`testing`) are the only places that fill it.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// Outgoing mail (SMTP, or `.eml` files in the embedded default).
    pub mailer: Arc<dyn Mailer>,
    /// The master keys (AES-256-GCM, by id): they wrap tenants' data keys and seal what
    /// belongs to no tenant (backups).
    pub secrets: Arc<dyn Secrets>,
    /// Each tenant's data key, kept outside the database (wrapped by `secrets`).
    pub tenant_keys: Arc<dyn TenantKeyStore>,
    /// The chat platforms configured (none: the web chat only).
    pub chat: ChatBots,
    /// The calendar providers configured (none: the built-in calendar only).
    pub calendars: Calendars,
    /// OpenID Connect identity providers (single sign-on).
    pub openid: Arc<dyn OpenIdProvider>,
}
