//! Calendars: the outside services that hold employees' and rooms' time (Google Calendar,
//! Microsoft 365, ICS feeds), as the engine sees them.
//!
//! A connector reads busy time and changes, writes events, and keeps a push channel open. It
//! never touches the database: what it needs to reach one calendar comes in a
//! [`CalendarRef`], and OAuth tokens are read and replaced through a [`TokenStore`] that core
//! implements (sealing them at rest). The built-in calendar is the database itself, so it has
//! no connector: the engine reads and writes it directly.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::calendar::{Interval, Provider};

/// One calendar at its provider.
#[derive(Clone)]
pub struct CalendarRef {
    /// The provider's id of the calendar: Google's calendar id (an email address), the
    /// Microsoft 365 user or room mailbox, or the ICS feed's URL.
    pub external_id: String,
    /// Whether the connector reaches it with the application's own credentials (a Google
    /// service account with domain-wide delegation, Microsoft client credentials) instead
    /// of the person's OAuth tokens.
    pub app_credentials: bool,
    /// The owner's IANA time zone: floating and all-day events of a feed are in it.
    pub time_zone: String,
}

impl fmt::Debug for CalendarRef {
    // An ICS feed's URL carries a credential; it is not logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalendarRef")
            .field("app_credentials", &self.app_credentials)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

/// A person's OAuth tokens for one calendar connection.
#[derive(Clone)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working (seconds since the epoch), if known.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where a connector reads a connection's tokens and puts back refreshed ones. Core
/// implements it over the database, sealed with the tenant's key.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The connection's current tokens.
    async fn tokens(&self) -> Result<OAuthTokens, CalendarError>;
    /// Replaces them (after a refresh); the next [`TokenStore::tokens`] returns these.
    async fn save(&self, tokens: &OAuthTokens) -> Result<(), CalendarError>;
}

/// Why a calendar call failed. The engine decides from the variant what happens next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The credentials no longer work even after a refresh: the person must reconnect.
    #[error("not authorized: {0}")]
    Unauthorized(String),
    /// The provider asked to wait this long first (HTTP 429 with `Retry-After`).
    #[error("rate limited; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The calendar or event does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with the provider's current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The sync cursor expired (Google's 410, Graph's syncStateNotFound): sync everything.
    #[error("sync cursor expired")]
    Gone,
    /// The provider failed or could not be reached; worth retrying later.
    #[error("provider failure: {0}")]
    Provider(String),
    /// What the provider sent cannot be used and retrying will not change that (a
    /// malformed or oversized feed); the message says what is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// The span a full sync covers, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncWindow {
    pub from: i64,
    pub to: i64,
}

/// One busy event: the provider's id and when it is (what is cached), and what it is and
/// who is invited (what reception reads invitations from; never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyEvent {
    /// Unique within the calendar: the provider's event (or occurrence) id.
    pub uid: String,
    pub interval: Interval,
    pub details: EventDetails,
}

/// What an event is called and who is invited, as far as the provider says (an ICS feed
/// says nothing: its events have the default).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EventDetails {
    /// Its title (Google `summary`, Graph `subject`).
    pub title: Option<String>,
    /// The organizer's email address.
    pub organizer: Option<String>,
    /// Everyone invited, the organizer too when the provider lists them (Google does).
    pub attendees: Vec<Attendee>,
    /// The recurring series it is an occurrence of (Google `recurringEventId`, Graph
    /// `seriesMasterId`): a room leaves a series nobody comes to.
    pub series: Option<String>,
    /// Marked private (Google `visibility` private or confidential, Graph `sensitivity`
    /// private or confidential): a door display shows no title or organizer.
    pub private: bool,
}

impl fmt::Debug for EventDetails {
    // Titles, names and addresses are personal data: logs get only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDetails")
            .field("attendees", &self.attendees.len())
            .finish_non_exhaustive()
    }
}

/// Someone (or something: a room) invited to an event.
#[derive(Clone, PartialEq, Eq)]
pub struct Attendee {
    pub email: String,
    /// The name shown for them, if the invitation carries one.
    pub name: Option<String>,
    /// They answered that they will not come.
    pub declined: bool,
    /// A room or equipment rather than a person (Google `resource`, Graph type `resource`).
    pub resource: bool,
}

impl fmt::Debug for Attendee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attendee")
            .field("declined", &self.declined)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// What changed at a calendar since the last sync.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// `true`: `busy` is everything inside the window; the cached copy is replaced.
    /// `false`: only what changed (`busy` added or changed, `removed` gone or no longer busy:
    /// deleted, cancelled, shown as free, or declined by the calendar's owner).
    pub full: bool,
    pub busy: Vec<BusyEvent>,
    pub removed: Vec<String>,
    /// What to pass as the cursor next time (a sync token, a delta link, a feed's
    /// validators); `None` keeps none.
    pub cursor: Option<String>,
}

/// An event to create or update at a provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventDraft {
    pub title: String,
    pub description: String,
    pub interval: Interval,
    /// The IANA zone the event is shown in.
    pub time_zone: String,
    /// Attendees' email addresses.
    pub attendees: Vec<String>,
    /// Where it happens (an address or a room), if anywhere.
    pub location: Option<String>,
    /// Whether to attach the provider's video meeting (Google Meet, Microsoft Teams).
    pub online_meeting: bool,
}

/// An event the provider holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub id: String,
    /// The video meeting's join link, once the provider made one.
    pub join_url: Option<String>,
}

/// A push channel to open (Google `events.watch`, a Graph subscription).
#[derive(Clone)]
pub struct WatchRequest {
    /// Where the provider delivers notifications.
    pub callback_url: String,
    /// Our id for the channel (Google channel id); providers that name it themselves ignore it.
    pub channel_id: String,
    /// The secret every notification must carry (Google's channel token, Graph's clientState).
    pub secret: SecretString,
    /// When the channel should end (seconds since the epoch); providers may end it sooner.
    pub expires_at: i64,
}

impl fmt::Debug for WatchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchRequest")
            .field("callback_url", &self.callback_url)
            .field("channel_id", &self.channel_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An open push channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The channel's id (Google channel id, Graph subscription id).
    pub id: String,
    /// Google's resource id (needed to stop the channel); `None` for Graph.
    pub resource_id: Option<String>,
    /// When the provider ends it (seconds since the epoch).
    pub expires_at: i64,
}

/// The start of an OAuth authorization-code flow with PKCE.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub redirect_uri: String,
    /// Opaque, single use; comes back on the callback.
    pub state: String,
    /// `BASE64URL(SHA-256(verifier))` (method S256).
    pub code_challenge: String,
    /// A hint of whose account to sign in with.
    pub login_hint: Option<String>,
}

/// A finished authorization: the tokens, and the calendar they reach.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub tokens: OAuthTokens,
    /// The calendar to use (the signed-in person's primary calendar or mailbox).
    pub external_id: String,
}

/// A meeting room the provider knows (Microsoft 365's room mailboxes), to connect a
/// Frontdesk room's calendar to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRoom {
    /// The room's calendar (a mailbox): what to connect with.
    pub external_id: String,
    pub name: String,
    pub capacity: Option<u32>,
    pub floor: Option<i32>,
}

/// One calendar provider (Google, Microsoft 365, ICS feeds).
#[async_trait]
pub trait Calendar: Send + Sync + fmt::Debug {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// What changed since `cursor` (everything inside `window` when `cursor` is `None`).
    /// A cursor the provider no longer accepts is [`CalendarError::Gone`].
    async fn changes(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        cursor: Option<&str>,
        window: SyncWindow,
    ) -> Result<Changes, CalendarError>;

    /// The calendar's busy time in `[from, to)` (seconds since the epoch) as the provider
    /// tells it now, sorted and merged: what the cache of [`Calendar::changes`] should
    /// hold for that span (the same events count as busy), asked live to check it.
    async fn free_busy(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError>;

    /// Creates an event on the calendar.
    async fn create_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError>;

    /// Replaces the event `id` with `event`.
    async fn update_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError>;

    /// Cancels the event `id` (attendees are told by the provider).
    async fn cancel_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
    ) -> Result<(), CalendarError>;

    /// Moves the end of event `id` to `end` (epoch seconds), changing nothing else: a room's
    /// meeting released, ended early or extended.
    async fn set_event_end(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        end: i64,
    ) -> Result<(), CalendarError>;

    /// Takes the calendar (a room's) out of the recurring series `series`: the room declines
    /// it, and its occurrences leave the room's calendar.
    async fn leave_series(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        series: &str,
    ) -> Result<(), CalendarError>;

    /// Opens a push channel; `None` when the provider has none (ICS feeds are polled).
    async fn watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        request: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError>;

    /// Keeps a channel open past its expiry: Graph extends the subscription, Google (whose
    /// channels cannot be extended) opens a new one and stops the old.
    async fn renew_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
        request: &WatchRequest,
    ) -> Result<Watch, CalendarError>;

    /// Closes a channel (on disconnect).
    async fn stop_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
    ) -> Result<(), CalendarError>;

    /// Where to send a person to allow access (OAuth providers); `None` for the others.
    fn authorization_url(&self, request: &AuthorizationRequest) -> Option<String>;

    /// Trades the callback's code for tokens.
    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Authorized, CalendarError>;

    /// The meeting rooms the provider lists (with the application's credentials); none for
    /// providers without a room directory.
    async fn rooms(&self) -> Result<Vec<ProviderRoom>, CalendarError> {
        Ok(Vec::new())
    }
}

/// The calendar providers configured, at most one each.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    providers: BTreeMap<Provider, Arc<dyn Calendar>>,
}

impl Calendars {
    /// These providers and `calendar` (replacing one of the same provider).
    pub fn with(mut self, calendar: Arc<dyn Calendar>) -> Calendars {
        self.providers.insert(calendar.provider(), calendar);
        self
    }

    /// The connector of `provider`, if it is configured.
    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Calendar>> {
        self.providers.get(&provider)
    }
}
