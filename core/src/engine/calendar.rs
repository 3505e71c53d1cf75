//! Calendars: connecting employees' and rooms' calendars, keeping their busy time cached, and
//! the built-in calendar.
//!
//! Free slots are computed from the busy time cached in `calendar_events`, never by asking a
//! provider during a request. The cache is kept fresh two ways: push (a Google channel or a
//! Graph subscription marks the calendar due and wakes the syncer) and reconciliation (every
//! calendar is synced again [`RECONCILE_EVERY`], by the `calendar_sync` job). A sync that
//! fails keeps the last good data, records the error for admins, and backs off (honouring a
//! provider's `Retry-After`); the data then shows as stale.
//!
//! Credentials (OAuth tokens, an ICS feed's URL) are sealed with the tenant's key, bound to
//! the calendar's row. Connectors read and replace tokens through [`CalendarTokens`], never
//! the database.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access_log::Event;
use super::outbox::{CalendarEventWrite, OutboxMessage};
use super::{Actor, Engine};
use crate::domain::calendar::{Interval, Owner, Provider, merge};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::network::is_secure_or_loopback;
use crate::domain::people::Permission;
use crate::domain::token;
use crate::port::{
    AuthorizationRequest, CalendarError, CalendarRef, Changes, OAuthTokens, SealedAt, SyncWindow,
    TokenStore, WatchRequest,
};
use crate::port::{EventDraft, ProviderEvent, ProviderRoom};
use crate::store::calendar::{self as store, EventFacts, EventLink, StoredCalendar};
use crate::store::room as room_store;
use crate::store::{Tx, employee};
use crate::{Error, Result};

/// How far back a full sync reaches.
pub const SYNC_PAST: Duration = Duration::days(1);
/// How far ahead a full sync reaches (booking links look no further).
pub const SYNC_AHEAD: Duration = Duration::days(180);
/// How often every connected calendar is synced even without a push.
pub const RECONCILE_EVERY: Duration = Duration::minutes(15);
/// Cached busy time older than this (or after a failed sync) is shown as stale.
pub const STALE_AFTER: Duration = Duration::minutes(45);
/// How long one instance holds a calendar it syncs.
const SYNC_LEASE: Duration = Duration::minutes(5);
/// How many due calendars one pass leases.
const SYNC_BATCH: i64 = 100;
/// How many syncs run at once.
const SYNC_CONCURRENCY: usize = 16;
/// The longest wait between retries of a failing calendar.
const MAX_BACKOFF: Duration = Duration::hours(6);
/// A calendar whose credentials stopped working is tried again this late (a reconnect makes
/// it due at once).
const RECONNECT_RETRY: Duration = Duration::days(1);
/// How long a push channel is asked for (providers may grant less).
pub const WATCH_TTL: Duration = Duration::days(7);
/// A channel is renewed when it ends within this.
pub const RENEW_BEFORE: Duration = Duration::days(1);
/// How long an OAuth authorization may take.
const OAUTH_ATTEMPT_TTL: Duration = Duration::minutes(10);
/// The longest span one free/busy check asks a provider about (Graph's `getSchedule` limit).
pub const MAX_FREE_BUSY_SPAN: Duration = Duration::days(62);
/// The longest ICS feed URL accepted.
pub const MAX_FEED_URL: usize = 2048;
/// The longest calendar id accepted (Google ids are email-like; Graph mailboxes too).
pub const MAX_EXTERNAL_ID: usize = 512;

/// Where push notifications arrive, below the public URL.
pub const GOOGLE_PUSH_PATH: &str = "/webhooks/google/push";
pub const MICROSOFT_NOTIFICATIONS_PATH: &str = "/webhooks/microsoft/notifications";

/// A calendar connection as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarStatus {
    pub id: i64,
    pub owner: Owner,
    pub provider: Provider,
    /// When it was last synced (successfully or not), epoch ms.
    pub last_sync_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// Why the last sync failed; `None` after a success.
    pub last_error: Option<String>,
    /// The cached busy time may be out of date (the last sync failed, or none succeeded
    /// recently).
    pub stale: bool,
    /// The credentials stopped working: someone must connect it again.
    pub needs_reconnect: bool,
    /// A push channel is open.
    pub push: bool,
    /// When the next sync is due, epoch ms.
    pub next_sync_at: i64,
    /// Busy events cached.
    pub events: i64,
}

/// Someone's busy time over a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Sorted, merged.
    pub intervals: Vec<Interval>,
    /// Some of it comes from a calendar whose last sync failed or is old.
    pub stale: bool,
}

/// One calendar's busy time over a span as its provider says it now, beside what the cache
/// holds for the same span: whether the cache agrees with the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyCheck {
    pub calendar_id: i64,
    pub provider: Provider,
    /// What the provider answered just now (for the built-in calendar, the database);
    /// sorted, merged.
    pub provider_busy: Vec<Interval>,
    /// What the cache holds, which free slots are computed from; sorted, merged.
    pub cached_busy: Vec<Interval>,
    /// The cache's last sync failed, or none succeeded recently.
    pub stale: bool,
}

impl FreeBusyCheck {
    /// The cache holds the busy time the provider reports.
    pub fn agrees(&self) -> bool {
        self.provider_busy == self.cached_busy
    }
}

/// What a push notification led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The calendar was marked for a sync.
    Queued,
    /// Nothing to do (a channel's first `sync` message, a repeat, an already due calendar).
    Ignored,
}

/// What a sync of one calendar did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The cache now holds the provider's state; `full` when it was rebuilt.
    Synced { full: bool },
    /// It failed; the last good data stays.
    Failed(CalendarError),
}

/// The OAuth tokens as sealed in `calendars.tokens_sealed`.
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
}

fn external_id_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "calendars",
        column: "external_id",
        row,
    }
}

fn tokens_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "calendars",
        column: "tokens",
        row,
    }
}

fn verifier_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "calendar_oauth_attempts",
        column: "verifier",
        row,
    }
}

/// The wait before retry number `failures` (1, 2, …): a minute doubling up to six hours,
/// with up to a fifth added at random so calendars failing together do not retry together.
pub fn backoff(failures: i64) -> Duration {
    let doublings = failures.clamp(1, 20) - 1;
    let base = Duration::minutes(1)
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let jitter = rand::random_range(0..=base.num_milliseconds() / 5);
    base + Duration::milliseconds(jitter)
}

/// An ICS feed URL, checked: `https://` (or `webcal://`, its alias), at most
/// [`MAX_FEED_URL`] long; plain `http://` only on the loopback (tests, a local file server).
pub fn checked_feed_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid("url", Invalid::Required));
    }
    if raw.len() > MAX_FEED_URL {
        return Err(Error::invalid(
            "url",
            Invalid::TooLong { max: MAX_FEED_URL },
        ));
    }
    let normalized = match raw.strip_prefix("webcal://") {
        Some(rest) => format!("https://{rest}"),
        None => raw.to_string(),
    };
    let url =
        url::Url::parse(&normalized).map_err(|_| Error::invalid("url", Invalid::NotFeedUrl))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        _ => Err(Error::invalid("url", Invalid::NotFeedUrl)),
    }
}

/// The PKCE challenge of `verifier` (S256).
fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `secret` hashes to `expected_hash`, compared in constant time.
fn secret_matches(secret: &str, expected_hash: &str) -> bool {
    let actual = token::hash(secret);
    actual.len() == expected_hash.len()
        && actual
            .bytes()
            .zip(expected_hash.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// A calendar's tokens, read and replaced in the database, sealed: what connectors get
/// instead of the database.
#[derive(Debug)]
pub struct CalendarTokens {
    engine: Engine,
    tenant_id: i64,
    calendar_id: i64,
}

#[async_trait]
impl TokenStore for CalendarTokens {
    async fn tokens(&self) -> std::result::Result<OAuthTokens, CalendarError> {
        let unavailable = |what: &str| CalendarError::Provider(format!("reading tokens: {what}"));
        let calendar = {
            let mut tx = self
                .engine
                .db
                .read()
                .await
                .map_err(|e| unavailable(&e.to_string()))?;
            store::get(&mut tx, self.calendar_id)
                .await
                .map_err(|e| unavailable(&e.to_string()))?
        };
        let sealed = calendar
            .and_then(|c| c.tokens_sealed)
            .ok_or_else(|| CalendarError::Unauthorized("no tokens stored".into()))?;
        let row = self.calendar_id.to_string();
        // A value that does not open here (copied from another row or tenant, or altered)
        // is treated as revoked.
        let plain = self
            .engine
            .open_for_tenant(&sealed, tokens_at(self.tenant_id, &row))
            .map_err(|e| CalendarError::Unauthorized(format!("stored tokens unusable: {e}")))?;
        let stored: StoredTokens = serde_json::from_slice(&plain)
            .map_err(|e| CalendarError::Unauthorized(format!("stored tokens unusable: {e}")))?;
        Ok(OAuthTokens {
            access_token: SecretString::from(stored.access_token),
            refresh_token: stored.refresh_token.map(SecretString::from),
            expires_at: stored.expires_at,
        })
    }

    async fn save(&self, tokens: &OAuthTokens) -> std::result::Result<(), CalendarError> {
        let failed = |e: Error| CalendarError::Provider(format!("saving tokens: {e}"));
        let sealed = self
            .engine
            .seal_tokens(self.tenant_id, self.calendar_id, tokens)
            .map_err(failed)?;
        let mut tx = self.engine.db.write().await.map_err(|e| failed(e.into()))?;
        store::set_tokens(&mut tx, self.calendar_id, &sealed)
            .await
            .map_err(|e| failed(e.into()))?;
        tx.commit().await.map_err(|e| failed(e.into()))?;
        Ok(())
    }
}

impl Engine {
    fn seal_tokens(
        &self,
        tenant_id: i64,
        calendar_id: i64,
        tokens: &OAuthTokens,
    ) -> Result<String> {
        let stored = StoredTokens {
            access_token: tokens.access_token.expose_secret().to_string(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            expires_at: tokens.expires_at,
        };
        let plain = serde_json::to_vec(&stored)
            .map_err(|e| Error::internal("serializing calendar tokens", e))?;
        let row = calendar_id.to_string();
        self.seal_for_tenant(&plain, tokens_at(tenant_id, &row))
    }

    /// The owner named in an admin request: an employee by id, or a room by slug.
    pub async fn calendar_owner(
        &self,
        actor: &Actor,
        employee_id: Option<i64>,
        room: Option<&str>,
    ) -> Result<Owner> {
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        match (employee_id, room) {
            (Some(id), None) => employee::find(&mut tx, tenant_id, id)
                .await?
                .map(|e| Owner::Employee(e.id))
                .ok_or(Error::NotFound("employee")),
            (None, Some(slug)) => room_store::room_by_slug(&mut tx, tenant_id, slug)
                .await?
                .map(|r| Owner::Room(r.id))
                .ok_or(Error::NotFound("room")),
            _ => Err(Error::invalid(
                "owner",
                Invalid::NotOneOf {
                    allowed: &["employee_id", "room"],
                },
            )),
        }
    }

    /// The meeting rooms `provider` lists (Microsoft 365's room mailboxes), to connect
    /// Frontdesk's rooms to (admins).
    pub async fn provider_rooms(
        &self,
        actor: &Actor,
        provider: Provider,
    ) -> Result<Vec<ProviderRoom>> {
        actor.require(Permission::ManageLocations)?;
        self.require_provider(provider)?;
        let connector = self
            .ports
            .calendars
            .get(provider)
            .ok_or(Error::NotFound("provider"))?;
        connector
            .rooms()
            .await
            .map_err(|err| Error::CalendarRefused(err.to_string()))
    }

    /// Subscribes the owner to an ICS feed (admins). The URL is sealed; the first sync is
    /// due at once.
    pub async fn connect_ics(
        &self,
        actor: &Actor,
        owner: Owner,
        url: &str,
    ) -> Result<CalendarStatus> {
        actor.require(Permission::EditDirectory)?;
        let url = checked_feed_url(url)?;
        self.connect(actor, owner, Provider::Ics, &url, false, None)
            .await
    }

    /// Connects the owner's calendar `external_id` at `provider` with the application's own
    /// credentials (a Google service account with domain-wide delegation, Microsoft client
    /// credentials) (admins).
    pub async fn connect_with_app_credentials(
        &self,
        actor: &Actor,
        owner: Owner,
        provider: Provider,
        external_id: &str,
    ) -> Result<CalendarStatus> {
        actor.require(Permission::EditDirectory)?;
        if !matches!(provider, Provider::Google | Provider::Microsoft) {
            return Err(Error::invalid(
                "provider",
                Invalid::NotOneOf {
                    allowed: &["google", "microsoft"],
                },
            ));
        }
        self.require_provider(provider)?;
        let external_id = checked_text(external_id, TextLimit::name(MAX_EXTERNAL_ID))
            .map_err(|r| Error::invalid("calendar_id", r))?;
        self.connect(actor, owner, provider, &external_id, true, None)
            .await
    }

    fn require_provider(&self, provider: Provider) -> Result<()> {
        match self.ports.calendars.get(provider) {
            Some(_) => Ok(()),
            None => Err(Error::Conflict(format!(
                "{} is not configured on this server (see the [{}] section of the configuration)",
                provider.as_str(),
                provider.as_str()
            ))),
        }
    }

    /// Writes a new connection (replacing the owner's earlier one at the provider) with its
    /// sealed external id and tokens, and its access-log entry, in one transaction.
    async fn connect(
        &self,
        actor: &Actor,
        owner: Owner,
        provider: Provider,
        external_id: &str,
        app_credentials: bool,
        tokens: Option<&OAuthTokens>,
    ) -> Result<CalendarStatus> {
        let tenant_id = actor.account.tenant_id;
        self.connect_for(
            tenant_id,
            ConnectedBy::Actor(actor),
            owner,
            provider,
            external_id,
            app_credentials,
            tokens,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn connect_for(
        &self,
        tenant_id: i64,
        by: ConnectedBy<'_>,
        owner: Owner,
        provider: Provider,
        external_id: &str,
        app_credentials: bool,
        tokens: Option<&OAuthTokens>,
    ) -> Result<CalendarStatus> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let replaced = store::of_owner(&mut tx, tenant_id, owner)
            .await?
            .into_iter()
            .find(|c| c.provider == provider);
        if let Some(old) = &replaced {
            store::delete(&mut tx, tenant_id, old.id).await?;
        }
        let id = store::insert(&mut tx, tenant_id, owner, provider, app_credentials, now).await?;
        let row = id.to_string();
        let sealed_id =
            self.seal_for_tenant(external_id.as_bytes(), external_id_at(tenant_id, &row))?;
        let sealed_tokens = tokens
            .map(|t| self.seal_tokens(tenant_id, id, t))
            .transpose()?;
        store::set_sealed(&mut tx, id, Some(&sealed_id), sealed_tokens.as_deref()).await?;
        let detail = json!({
            "provider": provider.as_str(),
            "owner": owner_text(owner),
            "app_credentials": app_credentials,
            "replaced": replaced.as_ref().map(|c| c.id),
        });
        let event = match by {
            ConnectedBy::Actor(actor) => {
                Event::by(actor, "calendar.connect", format!("calendar:{id}"), detail)
            }
            ConnectedBy::OAuthCallback { started_by } => Event {
                actor: started_by,
                ip: "oauth-callback",
                action: "calendar.connect",
                target: format!("calendar:{id}"),
                detail,
            },
        };
        self.record(&mut tx, tenant_id, now, event).await?;
        let calendar = store::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound("calendar"))?;
        tx.commit().await?;
        if let Some(old) = replaced {
            self.stop_watch_quietly(&old).await;
        }
        self.calendar_due.notify_one();
        Ok(status(&calendar, 0, now))
    }

    /// Disconnects calendar `id` (admins): its push channel is closed, it and its cached
    /// busy time are removed.
    pub async fn disconnect_calendar(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let calendar = store::get(&mut tx, id)
            .await?
            .filter(|c| c.tenant_id == tenant_id)
            .ok_or(Error::NotFound("calendar"))?;
        store::delete(&mut tx, tenant_id, id).await?;
        let event = Event::by(
            actor,
            "calendar.disconnect",
            format!("calendar:{id}"),
            json!({"provider": calendar.provider.as_str(), "owner": owner_text(calendar.owner)}),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        self.stop_watch_quietly(&calendar).await;
        Ok(())
    }

    /// Closes a calendar's push channel at its provider, if it has one; a failure is only
    /// logged (the channel then lapses on its own).
    async fn stop_watch_quietly(&self, calendar: &StoredCalendar) {
        let (Some(watch_id), Some(provider)) = (
            &calendar.watch_id,
            self.ports.calendars.get(calendar.provider),
        ) else {
            return;
        };
        let Ok(reference) = self.calendar_ref(calendar).await else {
            return;
        };
        let watch = crate::port::Watch {
            id: watch_id.clone(),
            resource_id: calendar.watch_resource_id.clone(),
            expires_at: calendar.watch_expires_at.unwrap_or_default() / 1000,
        };
        let tokens = self.tokens_of(calendar);
        if let Err(err) = provider.stop_watch(&reference, &tokens, &watch).await {
            tracing::warn!(calendar = calendar.id, error = %err, "closing a push channel failed");
        }
    }

    /// The owner's calendar connections and their sync state (admins).
    pub async fn calendar_statuses(
        &self,
        actor: &Actor,
        owner: Owner,
    ) -> Result<Vec<CalendarStatus>> {
        actor.require(Permission::ViewDirectory)?;
        self.statuses(actor.account.tenant_id, Some(owner)).await
    }

    /// Every connected calendar of the tenant and its sync state (admins): where sync
    /// fails, what the error is.
    pub async fn tenant_calendar_statuses(&self, actor: &Actor) -> Result<Vec<CalendarStatus>> {
        actor.require(Permission::ViewDirectory)?;
        self.statuses(actor.account.tenant_id, None).await
    }

    async fn statuses(&self, tenant_id: i64, owner: Option<Owner>) -> Result<Vec<CalendarStatus>> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.read().await?;
        let calendars = match owner {
            Some(owner) => store::of_owner(&mut tx, tenant_id, owner).await?,
            None => store::connected(&mut tx, tenant_id).await?,
        };
        let mut statuses = Vec::with_capacity(calendars.len());
        for calendar in calendars {
            let events = store::count_events(&mut tx, calendar.id).await?;
            statuses.push(status(&calendar, events, now));
        }
        Ok(statuses)
    }

    /// The owner's busy time in `[from, to)` (epoch seconds) over all their calendars, from
    /// the cache: never waits on a provider.
    pub async fn busy(&self, tenant_id: i64, owner: Owner, from: i64, to: i64) -> Result<Busy> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.read().await?;
        let rows =
            store::busy_of_owner(&mut tx, tenant_id, owner, (from * 1000, to * 1000), &[]).await?;
        let calendars = store::of_owner(&mut tx, tenant_id, owner).await?;
        Ok(Busy {
            intervals: cached_busy(rows, from, to),
            stale: calendars
                .iter()
                .any(|c| c.provider != Provider::Local && is_stale(c, now)),
        })
    }

    /// Calendar `id`'s busy time in `[from, to)` (epoch seconds, at most
    /// [`MAX_FREE_BUSY_SPAN`]) asked live from its provider, beside what the cache holds for
    /// the same span, so an admin can see whether the cache agrees (those who manage
    /// calendars: a live call spends the provider's quota, so viewers only see the sync
    /// state). The built-in calendar is the database: both come from it. A provider's
    /// refusal or failure is [`Error::CalendarRefused`]; nothing is recorded either way
    /// (the sync keeps the calendar's state).
    pub async fn provider_free_busy(
        &self,
        actor: &Actor,
        calendar_id: i64,
        from: i64,
        to: i64,
    ) -> Result<FreeBusyCheck> {
        actor.require(Permission::EditDirectory)?;
        let longest = MAX_FREE_BUSY_SPAN.num_seconds();
        if to <= from || to - from > longest {
            return Err(Error::invalid(
                "to",
                Invalid::OutOfRange {
                    min: from.saturating_add(1),
                    max: from.saturating_add(longest),
                },
            ));
        }
        let tenant_id = actor.account.tenant_id;
        let (calendar, cached) = {
            let mut tx = self.db.read().await?;
            let calendar = store::get(&mut tx, calendar_id)
                .await?
                .filter(|c| c.tenant_id == tenant_id)
                .ok_or(Error::NotFound("calendar"))?;
            let events = store::events_of(&mut tx, calendar.id, from * 1000, to * 1000).await?;
            let rows = events.into_iter().map(|e| (e.starts_at, e.ends_at));
            (calendar, cached_busy(rows, from, to))
        };
        let provider_busy = match calendar.provider {
            Provider::Local => cached.clone(),
            provider => {
                self.require_provider(provider)?;
                let connector = self
                    .ports
                    .calendars
                    .get(provider)
                    .ok_or(Error::NotFound("provider"))?;
                let refused = |err: CalendarError| Error::CalendarRefused(err.to_string());
                let reference = self.calendar_ref(&calendar).await.map_err(refused)?;
                let tokens = self.tokens_of(&calendar);
                connector
                    .free_busy(&reference, &tokens, from, to)
                    .await
                    .map_err(refused)?
            }
        };
        let now = self.ports.clock.now_ms();
        Ok(FreeBusyCheck {
            calendar_id: calendar.id,
            provider: calendar.provider,
            provider_busy,
            cached_busy: cached,
            stale: calendar.provider != Provider::Local && is_stale(&calendar, now),
        })
    }

    /// A connector's view of calendar `calendar`: its external id, opened, and its owner's
    /// time zone.
    async fn calendar_ref(
        &self,
        calendar: &StoredCalendar,
    ) -> std::result::Result<CalendarRef, CalendarError> {
        let time_zone = {
            let unavailable = |e: crate::store::StoreError| {
                CalendarError::Provider(format!("reading the owner's zone: {e}"))
            };
            let mut tx = self.db.read().await.map_err(unavailable)?;
            store::zone_of_owner(&mut tx, calendar.owner)
                .await
                .map_err(unavailable)?
        }
        .unwrap_or_else(|| "UTC".to_string());
        let sealed = calendar
            .external_id_sealed
            .as_deref()
            .ok_or_else(|| CalendarError::Invalid("the calendar has no id stored".into()))?;
        let row = calendar.id.to_string();
        let plain = self
            .open_for_tenant(sealed, external_id_at(calendar.tenant_id, &row))
            .map_err(|e| {
                CalendarError::Unauthorized(format!("the stored calendar id does not open: {e}"))
            })?;
        let external_id = String::from_utf8(plain).map_err(|_| {
            CalendarError::Unauthorized("the stored calendar id is not text".into())
        })?;
        Ok(CalendarRef {
            external_id,
            app_credentials: calendar.app_credentials,
            time_zone,
        })
    }

    fn tokens_of(&self, calendar: &StoredCalendar) -> CalendarTokens {
        CalendarTokens {
            engine: self.clone(),
            tenant_id: calendar.tenant_id,
            calendar_id: calendar.id,
        }
    }

    /// Syncs every calendar that is due (pushed, or up for reconciliation, or retrying),
    /// some at once. Returns how many were synced (successfully or not).
    pub async fn sync_due_calendars(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let now = self.ports.clock.now_ms();
            let leased = {
                let mut tx = self.db.write().await?;
                let leased = store::lease_due(
                    &mut tx,
                    now,
                    now + SYNC_LEASE.num_milliseconds(),
                    SYNC_BATCH,
                )
                .await?;
                tx.commit().await?;
                leased
            };
            if leased.is_empty() {
                return Ok(total);
            }
            total += leased.len();
            let limit = Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY));
            let mut running = tokio::task::JoinSet::new();
            for calendar in leased {
                let engine = self.clone();
                let limit = limit.clone();
                running.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let id = calendar.id;
                    if let Err(err) = engine.sync_calendar(calendar).await {
                        tracing::error!(calendar = id, error = %crate::error::with_causes(&err), "calendar sync failed");
                    }
                });
            }
            while running.join_next().await.is_some() {}
        }
    }

    /// Syncs one leased calendar and records the outcome; a cursor the provider no longer
    /// accepts is followed by a full sync at once.
    pub async fn sync_calendar(&self, calendar: StoredCalendar) -> Result<SyncOutcome> {
        let now = self.ports.clock.now();
        let window = SyncWindow {
            from: (now - SYNC_PAST).timestamp(),
            to: (now + SYNC_AHEAD).timestamp(),
        };
        let result = match self.ports.calendars.get(calendar.provider) {
            None => Err(CalendarError::Provider(format!(
                "{} is not configured on this server",
                calendar.provider.as_str()
            ))),
            Some(provider) => match self.calendar_ref(&calendar).await {
                Err(err) => Err(err),
                Ok(reference) => {
                    let tokens = self.tokens_of(&calendar);
                    let cursor = calendar.sync_cursor.as_deref();
                    match provider.changes(&reference, &tokens, cursor, window).await {
                        Err(CalendarError::Gone) if cursor.is_some() => {
                            tracing::info!(
                                calendar = calendar.id,
                                "sync cursor expired; syncing everything"
                            );
                            provider.changes(&reference, &tokens, None, window).await
                        }
                        other => other,
                    }
                }
            },
        };
        let now_ms = self.ports.clock.now_ms();
        match result {
            Ok(changes) => {
                let full = changes.full;
                self.store_changes(&calendar, changes, window, now_ms)
                    .await?;
                Ok(SyncOutcome::Synced { full })
            }
            Err(err) => {
                let failures = calendar.failures + 1;
                let needs_reconnect = matches!(err, CalendarError::Unauthorized(_));
                let wait = match &err {
                    CalendarError::Unauthorized(_) => RECONNECT_RETRY,
                    CalendarError::RateLimited { retry_after_secs } => {
                        backoff(failures).max(Duration::seconds(*retry_after_secs as i64))
                    }
                    _ => backoff(failures),
                };
                tracing::warn!(calendar = calendar.id, provider = calendar.provider.as_str(), error = %err, failures, "calendar sync failed; the last good data stays");
                let mut tx = self.db.write().await?;
                store::record_failure(
                    &mut tx,
                    calendar.id,
                    &err.to_string(),
                    needs_reconnect,
                    now_ms,
                    now_ms + wait.num_milliseconds(),
                )
                .await?;
                tx.commit().await?;
                Ok(SyncOutcome::Failed(err))
            }
        }
    }

    /// Writes a sync's changes, the visits its events invite to reception, and its success
    /// in one transaction.
    async fn store_changes(
        &self,
        calendar: &StoredCalendar,
        changes: Changes,
        window: SyncWindow,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.db.write().await?;
        if changes.full {
            store::delete_events(&mut tx, calendar.id).await?;
        }
        for uid in &changes.removed {
            store::delete_event(&mut tx, calendar.id, uid).await?;
        }
        for event in &changes.busy {
            let organizer = event.details.organizer.as_deref().map(str::to_lowercase);
            store::upsert_event(
                &mut tx,
                calendar.id,
                calendar.tenant_id,
                &event.uid,
                event.interval.start * 1000,
                event.interval.end * 1000,
                None,
                &EventFacts {
                    organizer: organizer.as_deref(),
                    private: event.details.private,
                    series: event.details.series.as_deref(),
                    booked_at: None,
                },
            )
            .await?;
        }
        let mailed = self
            .expect_invited_visitors(&mut tx, calendar, &changes, window, now)
            .await?;
        store::record_success(
            &mut tx,
            calendar.id,
            changes.cursor.as_deref(),
            now,
            now + RECONCILE_EVERY.num_milliseconds(),
        )
        .await?;
        tx.commit().await?;
        if mailed {
            // Invited visitors' code mails go now, not at the dispatcher's next round.
            self.outbox_queued.notify_one();
        }
        Ok(())
    }

    /// Puts an event for `reference` (`booking:42`) in the owner's calendar, in the caller's
    /// transaction: at their connected Google or Microsoft calendar through the outbox
    /// (with a video meeting when the draft asks), or, when they have none, straight into
    /// their built-in calendar. The caller wakes the dispatcher after committing.
    pub async fn queue_calendar_event(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        owner: Owner,
        reference: &str,
        draft: &EventDraft,
    ) -> Result<()> {
        match provider_calendar(tx, tenant_id, owner).await? {
            Some(calendar) => {
                let write = OutboxMessage::CalendarEvent(CalendarEventWrite {
                    calendar_id: calendar.id,
                    reference: reference.to_string(),
                    draft: draft.clone(),
                    cancel: false,
                });
                let key = format!("calendar:{}:{reference}", calendar.id);
                self.queue_write(tx, tenant_id, &write, &key).await?;
            }
            None => {
                self.put_local_event(
                    tx,
                    tenant_id,
                    owner,
                    reference,
                    draft.interval,
                    &draft.title,
                    &EventFacts::default(),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Cancels the event put in the owner's calendar for `reference`, in the caller's
    /// transaction: at their provider through the outbox, or in their built-in calendar at
    /// once. The caller wakes the dispatcher after committing.
    pub async fn cancel_calendar_event(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        owner: Owner,
        reference: &str,
    ) -> Result<()> {
        match provider_calendar(tx, tenant_id, owner).await? {
            Some(calendar) => {
                let write = OutboxMessage::CalendarEvent(CalendarEventWrite {
                    calendar_id: calendar.id,
                    reference: reference.to_string(),
                    draft: EventDraft {
                        title: String::new(),
                        description: String::new(),
                        interval: Interval { start: 0, end: 1 },
                        time_zone: "UTC".into(),
                        attendees: Vec::new(),
                        location: None,
                        online_meeting: false,
                    },
                    cancel: true,
                });
                let key = format!("calendar:{}:{reference}", calendar.id);
                self.queue_write(tx, tenant_id, &write, &key).await?;
            }
            None => {
                let calendar_id = self.local_calendar(tx, tenant_id, owner).await?;
                store::delete_event(tx, calendar_id, reference).await?;
            }
        }
        Ok(())
    }

    /// [`Engine::queue_calendar_event`] in a transaction of its own, the dispatcher woken.
    pub async fn create_calendar_event(
        &self,
        tenant_id: i64,
        owner: Owner,
        reference: &str,
        draft: &EventDraft,
    ) -> Result<()> {
        let mut tx = self.db.write().await?;
        self.queue_calendar_event(&mut tx, tenant_id, owner, reference, draft)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(())
    }

    /// Writes the event of `write` at its calendar's provider (the dispatcher's send):
    /// creates it, or updates or cancels the one made earlier for its reference. `None`
    /// when there was nothing to cancel.
    pub(crate) async fn write_provider_event(
        &self,
        tenant_id: i64,
        write: &CalendarEventWrite,
    ) -> std::result::Result<Option<ProviderEvent>, CalendarError> {
        let failed = |e: crate::store::StoreError| CalendarError::Provider(e.to_string());
        let (calendar, made) = {
            let mut tx = self.db.read().await.map_err(failed)?;
            let calendar = store::get(&mut tx, write.calendar_id)
                .await
                .map_err(failed)?;
            let made = store::links(&mut tx, tenant_id, &write.reference)
                .await
                .map_err(failed)?
                .into_iter()
                .find(|l| l.calendar_id == write.calendar_id);
            (calendar, made)
        };
        let calendar = calendar
            .filter(|c| c.tenant_id == tenant_id)
            .ok_or_else(|| CalendarError::NotFound("the calendar was disconnected".into()))?;
        let provider = self.ports.calendars.get(calendar.provider).ok_or_else(|| {
            CalendarError::Provider(format!("{} is not configured", calendar.provider.as_str()))
        })?;
        let reference = self.calendar_ref(&calendar).await?;
        let tokens = self.tokens_of(&calendar);
        match (made, write.cancel) {
            (None, true) => Ok(None),
            (Some(made), true) => {
                provider
                    .cancel_event(&reference, &tokens, &made.event_id)
                    .await?;
                Ok(None)
            }
            (Some(made), false) => provider
                .update_event(&reference, &tokens, &made.event_id, &write.draft)
                .await
                .map(Some),
            (None, false) => provider
                .create_event(&reference, &tokens, &write.draft)
                .await
                .map(Some),
        }
    }

    /// Records an event the provider created or updated: its id and video link under the
    /// reference, and its time as busy at once (the next sync finds it under the same id).
    /// A cancelled one (`None`) is forgotten.
    pub(crate) async fn record_provider_event(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        write: &CalendarEventWrite,
        event: Option<&ProviderEvent>,
    ) -> Result<()> {
        let Some(event) = event else {
            let links = store::links(tx, tenant_id, &write.reference).await?;
            for link in links.iter().filter(|l| l.calendar_id == write.calendar_id) {
                store::delete_event(tx, write.calendar_id, &link.event_id).await?;
            }
            store::delete_link(tx, tenant_id, &write.reference, write.calendar_id).await?;
            return Ok(());
        };
        let link = EventLink {
            calendar_id: write.calendar_id,
            event_id: event.id.clone(),
            join_url: event.join_url.clone(),
        };
        store::upsert_link(
            tx,
            tenant_id,
            &write.reference,
            &link,
            self.ports.clock.now_ms(),
        )
        .await?;
        // A room booked at the door was held in the cache under its reference until the
        // provider made the event: the event takes its place.
        room_store::rename_held_event(tx, write.calendar_id, &write.reference, &event.id).await?;
        store::upsert_event(
            tx,
            write.calendar_id,
            tenant_id,
            &event.id,
            write.draft.interval.start * 1000,
            write.draft.interval.end * 1000,
            None,
            &EventFacts::default(),
        )
        .await?;
        Ok(())
    }

    /// Sends a change of a room's event to its calendar's provider (the dispatcher's send).
    pub(crate) async fn write_room_event(
        &self,
        tenant_id: i64,
        change: &super::outbox::RoomEventChange,
    ) -> std::result::Result<(), CalendarError> {
        use super::outbox::RoomEventChange;
        let failed = |e: crate::store::StoreError| CalendarError::Provider(e.to_string());
        let calendar_id = match change {
            RoomEventChange::End { calendar_id, .. }
            | RoomEventChange::LeaveSeries { calendar_id, .. } => *calendar_id,
        };
        let calendar = {
            let mut tx = self.db.read().await.map_err(failed)?;
            store::get(&mut tx, calendar_id).await.map_err(failed)?
        };
        let calendar = calendar
            .filter(|c| c.tenant_id == tenant_id)
            .ok_or_else(|| CalendarError::NotFound("the calendar was disconnected".into()))?;
        let provider = self.ports.calendars.get(calendar.provider).ok_or_else(|| {
            CalendarError::Provider(format!("{} is not configured", calendar.provider.as_str()))
        })?;
        let reference = self.calendar_ref(&calendar).await?;
        let tokens = self.tokens_of(&calendar);
        match change {
            RoomEventChange::End { event_id, end, .. } => {
                // An event booked at the door is known by its reference until the provider
                // made it.
                let made = {
                    let mut tx = self.db.read().await.map_err(failed)?;
                    store::links(&mut tx, tenant_id, event_id)
                        .await
                        .map_err(failed)?
                        .into_iter()
                        .find(|l| l.calendar_id == calendar_id)
                };
                let id = match made {
                    Some(link) => link.event_id,
                    // Booked on the spot and not made yet: try again after it is.
                    None if crate::engine::room::is_held_uid(event_id) => {
                        return Err(CalendarError::Provider(
                            "the event is not made at the provider yet".into(),
                        ));
                    }
                    None => event_id.clone(),
                };
                provider.set_event_end(&reference, &tokens, &id, *end).await
            }
            RoomEventChange::LeaveSeries { series, .. } => {
                provider.leave_series(&reference, &tokens, series).await
            }
        }
    }

    /// The provider events made for `reference` (with their video links), once created.
    pub async fn calendar_event_links(
        &self,
        tenant_id: i64,
        reference: &str,
    ) -> Result<Vec<EventLink>> {
        let mut tx = self.db.read().await?;
        Ok(store::links(&mut tx, tenant_id, reference).await?)
    }

    /// Opens a push channel for each connected Google and Microsoft calendar that has none,
    /// and renews those ending within [`RENEW_BEFORE`]. Returns how many were opened or
    /// renewed.
    pub async fn renew_calendar_watches(&self) -> Result<usize> {
        if !push_reachable(&self.settings.public_url) {
            // Google and Graph deliver only to https: reconciliation keeps calendars fresh.
            return Ok(0);
        }
        let now = self.ports.clock.now();
        let ids = {
            let mut tx = self.db.read().await?;
            store::watches_to_renew(&mut tx, (now + RENEW_BEFORE).timestamp_millis(), 500).await?
        };
        let mut renewed = 0;
        for id in ids {
            let calendar = {
                let mut tx = self.db.read().await?;
                store::get(&mut tx, id).await?
            };
            let Some(calendar) = calendar else { continue };
            let Some(provider) = self.ports.calendars.get(calendar.provider).cloned() else {
                continue;
            };
            let Ok(reference) = self.calendar_ref(&calendar).await else {
                continue;
            };
            let path = match calendar.provider {
                Provider::Google => GOOGLE_PUSH_PATH,
                _ => MICROSOFT_NOTIFICATIONS_PATH,
            };
            let secret = token::generate();
            let request = WatchRequest {
                callback_url: format!("{}{path}", self.settings.public_url.trim_end_matches('/')),
                channel_id: uuid::Uuid::new_v4().to_string(),
                secret: SecretString::from(secret.clone()),
                expires_at: (now + WATCH_TTL).timestamp(),
            };
            let tokens = self.tokens_of(&calendar);
            let opened = match &calendar.watch_id {
                Some(watch_id) => {
                    let watch = crate::port::Watch {
                        id: watch_id.clone(),
                        resource_id: calendar.watch_resource_id.clone(),
                        expires_at: calendar.watch_expires_at.unwrap_or_default() / 1000,
                    };
                    provider
                        .renew_watch(&reference, &tokens, &watch, &request)
                        .await
                        .map(Some)
                }
                None => provider.watch(&reference, &tokens, &request).await,
            };
            match opened {
                Ok(Some(watch)) => {
                    // A renewal that kept the channel (Graph) keeps its secret; a new
                    // channel (Google) carries the new one.
                    let secret_hash = if Some(&watch.id) == calendar.watch_id.as_ref() {
                        calendar.watch_secret_hash.clone()
                    } else {
                        Some(token::hash(&secret))
                    };
                    let mut tx = self.db.write().await?;
                    store::set_watch(
                        &mut tx,
                        calendar.id,
                        Some(&watch.id),
                        watch.resource_id.as_deref(),
                        secret_hash.as_deref(),
                        Some(watch.expires_at * 1000),
                    )
                    .await?;
                    tx.commit().await?;
                    renewed += 1;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(calendar = calendar.id, error = %err, "opening a push channel failed; reconciliation continues");
                }
            }
        }
        Ok(renewed)
    }

    /// A Google push notification (already read from its headers). Unknown channels and
    /// wrong tokens are refused; the channel's first message (`sync`) and repeated messages
    /// change nothing; otherwise the calendar is marked due and the syncer woken.
    pub async fn google_push(
        &self,
        channel_id: &str,
        channel_token: &str,
        resource_state: &str,
        message_number: Option<i64>,
    ) -> Result<PushOutcome> {
        let calendar = {
            let mut tx = self.db.read().await?;
            store::by_watch(&mut tx, channel_id).await?
        };
        let Some(calendar) = calendar.filter(|c| c.provider == Provider::Google) else {
            return Err(Error::NotFound("push channel"));
        };
        let token_ok = calendar
            .watch_secret_hash
            .as_deref()
            .is_some_and(|hash| secret_matches(channel_token, hash));
        if !token_ok {
            tracing::warn!(
                calendar = calendar.id,
                "a Google push carried the wrong channel token; ignored"
            );
            return Err(Error::NotFound("push channel"));
        }
        if resource_state == "sync" {
            return Ok(PushOutcome::Ignored);
        }
        let mut tx = self.db.write().await?;
        if let Some(number) = message_number
            && !store::see_message(&mut tx, calendar.id, number).await?
        {
            return Ok(PushOutcome::Ignored);
        }
        let queued = store::mark_due(&mut tx, calendar.id, self.ports.clock.now_ms()).await?;
        tx.commit().await?;
        self.calendar_due.notify_one();
        Ok(if queued {
            PushOutcome::Queued
        } else {
            PushOutcome::Ignored
        })
    }

    /// One Microsoft Graph notification: a change, or a lifecycle event (`missed` → a full
    /// resync; `subscriptionRemoved` → a new subscription and a full resync;
    /// `reauthorizationRequired` → the subscription renewed). A wrong `clientState` is
    /// ignored and logged.
    pub async fn microsoft_notification(
        &self,
        subscription_id: &str,
        client_state: &str,
        lifecycle_event: Option<&str>,
    ) -> Result<PushOutcome> {
        let calendar = {
            let mut tx = self.db.read().await?;
            store::by_watch(&mut tx, subscription_id).await?
        };
        let Some(calendar) = calendar.filter(|c| c.provider == Provider::Microsoft) else {
            tracing::info!(
                subscription_id,
                "a Graph notification for an unknown subscription; ignored"
            );
            return Ok(PushOutcome::Ignored);
        };
        let state_ok = calendar
            .watch_secret_hash
            .as_deref()
            .is_some_and(|hash| secret_matches(client_state, hash));
        if !state_ok {
            tracing::warn!(
                calendar = calendar.id,
                "a Graph notification carried the wrong clientState; ignored"
            );
            return Ok(PushOutcome::Ignored);
        }
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        match lifecycle_event {
            None => {}
            Some("missed") => store::forget_cursor(&mut tx, calendar.id).await?,
            Some("subscriptionRemoved") => {
                store::forget_cursor(&mut tx, calendar.id).await?;
                store::set_watch(&mut tx, calendar.id, None, None, None, None).await?;
            }
            Some("reauthorizationRequired") => {
                store::set_watch(
                    &mut tx,
                    calendar.id,
                    Some(subscription_id),
                    None,
                    calendar.watch_secret_hash.as_deref(),
                    Some(now),
                )
                .await?;
            }
            Some(other) => {
                tracing::info!(
                    calendar = calendar.id,
                    event = other,
                    "an unknown Graph lifecycle event; ignored"
                );
                return Ok(PushOutcome::Ignored);
            }
        }
        let queued = store::mark_due(&mut tx, calendar.id, now).await?;
        tx.commit().await?;
        // The syncer renews the channel (a provider call) after the answer has gone back.
        self.calendar_due.notify_one();
        Ok(if queued || lifecycle_event.is_some() {
            PushOutcome::Queued
        } else {
            PushOutcome::Ignored
        })
    }

    /// Whenever a push or a connection marks a calendar due, until `shutdown`: opens or
    /// renews the push channels that need it, then syncs what is due. (Reconciliation on a
    /// schedule is the `calendar_sync` job.)
    pub async fn run_calendar_syncer(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.calendar_due.notified() => {}
            }
            if let Err(err) = self.renew_calendar_watches().await {
                tracing::error!(error = %crate::error::with_causes(&err), "renewing calendar push channels failed");
            }
            if let Err(err) = self.sync_due_calendars().await {
                tracing::error!(error = %crate::error::with_causes(&err), "calendar sync failed");
            }
        }
    }

    /// Starts connecting the owner's Google or Microsoft calendar with their own account:
    /// the provider's sign-in page to send them to (with PKCE and a single-use state).
    pub async fn start_calendar_oauth(
        &self,
        actor: &Actor,
        owner: Owner,
        provider: Provider,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<String> {
        actor.require(Permission::EditDirectory)?;
        self.require_provider(provider)?;
        let connector = self
            .ports
            .calendars
            .get(provider)
            .ok_or(Error::NotFound("provider"))?;
        let tenant_id = actor.account.tenant_id;
        let state = token::generate();
        let verifier = token::generate();
        let state_hash = token::hash(&state);
        let verifier_sealed =
            self.seal_for_tenant(verifier.as_bytes(), verifier_at(tenant_id, &state_hash))?;
        let url = connector
            .authorization_url(&AuthorizationRequest {
                redirect_uri: redirect_uri.to_string(),
                state: state.clone(),
                code_challenge: code_challenge(&verifier),
                login_hint: login_hint.map(str::to_string),
            })
            .ok_or_else(|| Error::Conflict(format!("{} has no sign-in", provider.as_str())))?;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        store::delete_old_oauth_attempts(&mut tx, now).await?;
        store::insert_oauth_attempt(
            &mut tx,
            &state_hash,
            tenant_id,
            owner,
            provider,
            &verifier_sealed,
            &actor.account.email,
            now,
            now + OAUTH_ATTEMPT_TTL.num_milliseconds(),
        )
        .await?;
        tx.commit().await?;
        Ok(url)
    }

    /// Finishes an OAuth connection: the state must be one this server issued, unused and
    /// at most ten minutes old; the code is traded for tokens, which are stored sealed.
    pub async fn finish_calendar_oauth(
        &self,
        state: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<CalendarStatus> {
        let state_hash = token::hash(state);
        let now = self.ports.clock.now_ms();
        let attempt = {
            let mut tx = self.db.write().await?;
            let attempt = store::take_oauth_attempt(&mut tx, &state_hash, now).await?;
            tx.commit().await?;
            attempt
        };
        let attempt = attempt.ok_or(Error::InvalidOAuthState)?;
        let verifier = self
            .open_for_tenant(
                &attempt.verifier_sealed,
                verifier_at(attempt.tenant_id, &state_hash),
            )
            .map_err(|_| Error::InvalidOAuthState)?;
        let verifier = String::from_utf8(verifier).map_err(|_| Error::InvalidOAuthState)?;
        let connector = self
            .ports
            .calendars
            .get(attempt.provider)
            .ok_or(Error::NotFound("provider"))?;
        let authorized = connector
            .exchange_code(code, &verifier, redirect_uri)
            .await
            .map_err(|err| Error::CalendarRefused(err.to_string()))?;
        self.connect_for(
            attempt.tenant_id,
            ConnectedBy::OAuthCallback {
                started_by: &attempt.started_by,
            },
            attempt.owner,
            attempt.provider,
            &authorized.external_id,
            false,
            Some(&authorized.tokens),
        )
        .await
    }
}

/// Whether providers can push to `public_url`: https, or plain http on the loopback (a local
/// fake in tests).
fn push_reachable(public_url: &str) -> bool {
    url::Url::parse(public_url).is_ok_and(|url| is_secure_or_loopback(&url))
}

/// Who connects a calendar, for the access log.
enum ConnectedBy<'a> {
    Actor(&'a Actor),
    /// The OAuth callback, on behalf of the admin who started the flow.
    OAuthCallback {
        started_by: &'a str,
    },
}

/// The owner as the access log names it.
pub(crate) fn owner_text(owner: Owner) -> String {
    match owner {
        Owner::Employee(id) => format!("employee:{id}"),
        Owner::Room(id) => format!("room:{id}"),
    }
}

/// The owner's Google or Microsoft calendar, where Frontdesk writes their events, if they
/// connected one.
pub(crate) async fn provider_calendar(
    tx: &mut Tx,
    tenant_id: i64,
    owner: Owner,
) -> Result<Option<StoredCalendar>> {
    Ok(store::of_owner(tx, tenant_id, owner)
        .await?
        .into_iter()
        .find(|c| matches!(c.provider, Provider::Google | Provider::Microsoft)))
}

/// Cached events (`(start, end)` in epoch ms) as busy time in `[from, to)` in seconds (a
/// part second counts whole), sorted and merged.
fn cached_busy(rows: impl IntoIterator<Item = (i64, i64)>, from: i64, to: i64) -> Vec<Interval> {
    let intervals = rows
        .into_iter()
        .filter_map(|(start, end)| {
            Interval::new(start.div_euclid(1000), (end + 999).div_euclid(1000))
        })
        .filter_map(|i| i.clip(from, to))
        .collect();
    merge(intervals)
}

fn is_stale(calendar: &StoredCalendar, now: i64) -> bool {
    calendar.last_error.is_some()
        || calendar
            .last_success_at
            .is_none_or(|at| now - at > STALE_AFTER.num_milliseconds())
}

fn status(calendar: &StoredCalendar, events: i64, now: i64) -> CalendarStatus {
    CalendarStatus {
        id: calendar.id,
        owner: calendar.owner,
        provider: calendar.provider,
        last_sync_at: calendar.last_sync_at,
        last_success_at: calendar.last_success_at,
        last_error: calendar.last_error.clone(),
        stale: calendar.provider != Provider::Local && is_stale(calendar, now),
        needs_reconnect: calendar.needs_reconnect,
        push: calendar.watch_id.is_some(),
        next_sync_at: calendar.next_sync_at,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_up_to_six_hours_with_a_little_jitter() {
        for (failures, minutes) in [(1, 1), (2, 2), (3, 4), (9, 256), (10, 360), (50, 360)] {
            let wait = backoff(failures);
            let base = Duration::minutes(minutes);
            assert!(
                wait >= base && wait <= base + base / 5,
                "{failures}: {wait}"
            );
        }
    }

    #[test]
    fn feed_urls_must_be_https_or_webcal_and_plain_http_only_on_the_loopback() {
        assert_eq!(
            checked_feed_url("webcal://example.com/cal.ics").unwrap(),
            "https://example.com/cal.ics"
        );
        assert!(checked_feed_url("https://example.com/a.ics?token=x").is_ok());
        assert!(checked_feed_url("http://127.0.0.1:8080/a.ics").is_ok());
        for bad in [
            "http://example.com/a.ics",
            "ftp://example.com/a",
            "file:///etc/passwd",
            "",
            "not a url",
        ] {
            assert!(checked_feed_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_FEED_URL));
        assert!(matches!(
            checked_feed_url(&long),
            Err(Error::Invalid {
                reason: Invalid::TooLong { .. },
                ..
            })
        ));
    }

    #[test]
    fn push_channels_are_opened_only_where_providers_can_deliver() {
        assert!(push_reachable("https://frontdesk.example.com"));
        assert!(push_reachable("http://127.0.0.1:8080"));
        assert!(!push_reachable("http://frontdesk.example.com"));
        assert!(!push_reachable("not a url"));
    }

    #[test]
    fn secrets_are_compared_by_hash() {
        let hash = token::hash("s3cret");
        assert!(secret_matches("s3cret", &hash));
        assert!(!secret_matches("s3cres", &hash));
        assert!(!secret_matches("", &hash));
    }
}
