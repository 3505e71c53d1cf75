//! Google Calendar behind the [`Calendar`] port, over the generated `google-calendar3` client
//! (hyper 1, rustls on ring) and Google's OAuth token endpoint (reqwest).
//!
//! Tokens: a person's OAuth tokens come from the [`TokenStore`] and are refreshed here when
//! they have expired or Google refuses them (then the call is made once more); refreshed
//! tokens go back through [`TokenStore::save`]. Calendars reached with the application's
//! credentials use a service account with domain-wide delegation (a JWT bearer grant per
//! subject, cached until shortly before it expires).
//!
//! Every call is bounded: [`CALL_TIMEOUT`] per request, [`MAX_PAGES`] pages of
//! [`PAGE_SIZE`] per listing, [`MAX_TOKEN_RESPONSE_BYTES`] per token answer.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_core::domain::calendar::{Interval, Provider, merge};
use frontdesk_core::error::with_causes;
use frontdesk_core::port::{
    Attendee, AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef,
    Changes, EventDetails, EventDraft, OAuthTokens, ProviderEvent, SyncWindow, TokenStore, Watch,
    WatchRequest,
};
use google_calendar3::CalendarHub;
use google_calendar3::api::{
    Channel, ConferenceData, ConferenceSolutionKey, CreateConferenceRequest, Event, EventAttendee,
    EventDateTime, FreeBusyCalendar, FreeBusyRequest, FreeBusyRequestItem,
};
use google_calendar3::common::{Delegate, GetToken, Retry};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

/// How long one request to Google may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// The most pages one listing reads before giving up (a calendar of more than
/// `MAX_PAGES * PAGE_SIZE` events in the window is refused rather than read forever).
pub const MAX_PAGES: usize = 100;
/// Events asked for per page (Google's maximum).
pub const PAGE_SIZE: i32 = 2500;
/// The largest answer read from the token endpoint (a token answer is well under 4 KiB).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// What the connector asks for: the calendars, and who signed in (for the login hint).
pub const SCOPES: &str = "https://www.googleapis.com/auth/calendar openid email";
/// The service account's scope.
const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// A token this close to its expiry is treated as expired (clocks drift; calls take time).
const EXPIRY_MARGIN_SECS: i64 = 60;
/// How long a service-account assertion asks its token to live (Google's maximum).
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// How long to wait after a 429 that names no time.
const DEFAULT_RETRY_AFTER_SECS: u64 = 60;
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A Google service account with domain-wide delegation: it acts as any user of the
/// workspace (the calendar's owner), which inviting attendees and creating Meet links need.
#[derive(Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    /// The PKCS#8 RSA key in PEM (`private_key` of the account's JSON key file).
    pub private_key_pem: SecretString,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

/// Where Google is and who we are to it.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// The OAuth client id (a "Web application" client).
    pub client_id: String,
    pub client_secret: SecretString,
    /// The Calendar API's base URL, with its trailing slash.
    pub api_url: String,
    pub token_url: String,
    pub auth_url: String,
    /// For calendars reached with the application's credentials.
    pub service_account: Option<ServiceAccount>,
}

impl GoogleSettings {
    /// Settings for Google itself.
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> GoogleSettings {
        GoogleSettings {
            client_id: client_id.into(),
            client_secret,
            api_url: "https://www.googleapis.com/calendar/v3/".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            service_account: None,
        }
    }
}

/// Why the connector could not be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum GoogleSetupError {
    #[error("the Google {which} URL {url:?} is not a URL: {reason}")]
    Url {
        which: &'static str,
        url: String,
        reason: url::ParseError,
    },
    #[error(
        "the Google service account's private key is not a PKCS#8 RSA key in PEM ({0}); use the \
         `private_key` of the account's JSON key file"
    )]
    PrivateKey(String),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client setup failed: {0}")]
    Http(#[from] reqwest::Error),
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type Hub = CalendarHub<Connector>;

/// The Google Calendar connector.
pub struct GoogleCalendar {
    settings: GoogleSettings,
    auth_url: url::Url,
    client: google_calendar3::common::Client<Connector>,
    /// For the token endpoint: time-limited, no redirects.
    http: reqwest::Client,
    service_key: Option<Arc<RsaKeyPair>>,
    /// Service-account access tokens by subject, with when they expire.
    app_tokens: Mutex<HashMap<String, (SecretString, i64)>>,
}

impl fmt::Debug for GoogleCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCalendar")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl GoogleCalendar {
    /// The connector; fails on a malformed URL or service-account key.
    pub fn new(mut settings: GoogleSettings) -> Result<GoogleCalendar, GoogleSetupError> {
        // The generated client appends paths to the base URL as text.
        if !settings.api_url.ends_with('/') {
            settings.api_url.push('/');
        }
        for (which, url) in [
            ("API", &settings.api_url),
            ("token", &settings.token_url),
            ("authorization", &settings.auth_url),
        ] {
            url::Url::parse(url).map_err(|reason| GoogleSetupError::Url {
                which,
                url: url.clone(),
                reason,
            })?;
        }
        let auth_url =
            url::Url::parse(&settings.auth_url).map_err(|reason| GoogleSetupError::Url {
                which: "authorization",
                url: settings.auth_url.clone(),
                reason,
            })?;
        let service_key = settings
            .service_account
            .as_ref()
            .map(|account| rsa_key(account.private_key_pem.expose_secret()).map(Arc::new))
            .transpose()?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .build()?;
        Ok(GoogleCalendar {
            settings,
            auth_url,
            client,
            http,
            service_key,
            app_tokens: Mutex::new(HashMap::new()),
        })
    }

    /// A client of the API calling with `token`: cheap (the connection pool is shared), so
    /// each call gets one with the token it should carry.
    fn hub(&self, token: SecretString) -> Hub {
        let mut hub = CalendarHub::new(self.client.clone(), Bearer(token));
        hub.base_url(self.settings.api_url.clone());
        hub
    }

    /// Runs `op` with the calendar's access token; when Google refuses the token, gets a
    /// fresh one (refresh grant or a new assertion) and runs it once more.
    async fn call<T, F, Fut>(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        op: F,
    ) -> Result<T, CalendarError>
    where
        F: Fn(Hub) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.access_token(calendar, tokens, false).await?;
        match bounded(op(self.hub(token))).await {
            Err(ApiError::TokenRefused(_)) => {}
            other => return other.map_err(CalendarError::from),
        }
        let token = self.access_token(calendar, tokens, true).await?;
        bounded(op(self.hub(token)))
            .await
            .map_err(CalendarError::from)
    }

    /// The token to call with: cached or stored, or a new one when `renew` or expired.
    async fn access_token(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        renew: bool,
    ) -> Result<SecretString, CalendarError> {
        if calendar.app_credentials {
            return self.app_token(&calendar.external_id, renew).await;
        }
        let stored = tokens.tokens().await?;
        let expired = stored
            .expires_at
            .is_some_and(|at| at <= now() + EXPIRY_MARGIN_SECS);
        if !renew && !expired {
            return Ok(stored.access_token);
        }
        let Some(refresh_token) = stored.refresh_token.clone() else {
            if renew {
                return Err(CalendarError::Unauthorized(
                    "Google refused the access token and there is no refresh token; \
                     connect the calendar again"
                        .into(),
                ));
            }
            // Expired by the clock but not refreshable: let Google decide.
            return Ok(stored.access_token);
        };
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
                ("client_id", &self.settings.client_id),
                ("client_secret", self.settings.client_secret.expose_secret()),
            ])
            .await?;
        let refreshed = OAuthTokens {
            access_token: answer.access_token.into(),
            // Google rarely rotates the refresh token; keep the old one when it does not.
            refresh_token: answer
                .refresh_token
                .map(SecretString::from)
                .or(Some(refresh_token)),
            expires_at: answer.expires_in.map(|secs| now() + secs),
        };
        tokens.save(&refreshed).await?;
        Ok(refreshed.access_token)
    }

    /// The service account's token acting as `subject`.
    async fn app_token(&self, subject: &str, renew: bool) -> Result<SecretString, CalendarError> {
        let (Some(account), Some(key)) = (&self.settings.service_account, &self.service_key) else {
            return Err(CalendarError::Unauthorized(
                "no Google service account is configured for calendars reached with the \
                 application's credentials"
                    .into(),
            ));
        };
        if !renew {
            let cached = lock(&self.app_tokens).get(subject).cloned();
            if let Some((token, expires_at)) = cached
                && expires_at > now() + EXPIRY_MARGIN_SECS
            {
                return Ok(token);
            }
        }
        let issued_at = now();
        let assertion = jwt_assertion(
            key,
            &json!({
                "iss": account.client_email,
                "scope": CALENDAR_SCOPE,
                "aud": self.settings.token_url,
                "iat": issued_at,
                "exp": issued_at + ASSERTION_LIFETIME_SECS,
                "sub": subject,
            }),
        )?;
        let answer = self
            .token_request(&[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)])
            .await?;
        let token = SecretString::from(answer.access_token);
        let expires_at = issued_at + answer.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS);
        lock(&self.app_tokens).insert(subject.to_owned(), (token.clone(), expires_at));
        Ok(token)
    }

    /// One grant at the token endpoint.
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, CalendarError> {
        let provider = |err: reqwest::Error| {
            CalendarError::Provider(format!("Google token endpoint: {}", with_causes(&err)))
        };
        let mut response = self
            .http
            .post(&self.settings.token_url)
            .form(form)
            .send()
            .await
            .map_err(provider)?;
        let status = response.status();
        let retry_after = retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(provider)? {
            if body.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES {
                return Err(CalendarError::Provider(format!(
                    "Google token endpoint: the answer is larger than {MAX_TOKEN_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|err| {
                CalendarError::Provider(format!("Google token endpoint: unreadable answer: {err}"))
            });
        }
        let refusal: TokenRefusal = serde_json::from_slice(&body).unwrap_or_default();
        let what = format!(
            "Google token endpoint ({status}): {} {}",
            refusal.error, refusal.error_description
        );
        Err(match status.as_u16() {
            // invalid_grant (revoked, expired or already used), invalid_client, unauthorized_client.
            400 | 401 | 403 => CalendarError::Unauthorized(what),
            429 => CalendarError::RateLimited {
                retry_after_secs: retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
            },
            _ => CalendarError::Provider(what),
        })
    }

    /// One page of events: from `page` of a full listing, or of changes since `sync_token`.
    async fn events_page(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        listing: &Listing<'_>,
        page: Option<&str>,
    ) -> Result<google_calendar3::api::Events, CalendarError> {
        self.call(calendar, tokens, |hub| async move {
            let mut notes = FailureNotes::default();
            let mut call = hub
                .events()
                .list(&calendar.external_id)
                .max_results(PAGE_SIZE)
                .delegate(&mut notes);
            call = match *listing {
                Listing::Window { from, to } => call
                    .single_events(true)
                    .show_deleted(false)
                    .time_min(from)
                    .time_max(to),
                Listing::Since(sync_token) => call.sync_token(sync_token),
            };
            if let Some(page) = page {
                call = call.page_token(page);
            }
            let result = call.doit().await;
            settle(result, &notes).map(|(_, events)| events)
        })
        .await
    }

    /// The event `id` as Google holds it.
    async fn event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
    ) -> Result<Event, CalendarError> {
        self.call(calendar, tokens, |hub| async move {
            let mut notes = FailureNotes::default();
            let result = hub
                .events()
                .get(&calendar.external_id, id)
                .delegate(&mut notes)
                .doit()
                .await;
            settle(result, &notes).map(|(_, event)| event)
        })
        .await
    }

    /// Opens a channel for `request` on the calendar's events.
    async fn open_channel(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        request: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        let channel = Channel {
            id: Some(request.channel_id.clone()),
            type_: Some("web_hook".into()),
            address: Some(request.callback_url.clone()),
            token: Some(request.secret.expose_secret().to_owned()),
            expiration: Some(request.expires_at.saturating_mul(1000)),
            ..Channel::default()
        };
        let opened = self
            .call(calendar, tokens, |hub| {
                let channel = channel.clone();
                async move {
                    let mut notes = FailureNotes::default();
                    let result = hub
                        .events()
                        .watch(channel, &calendar.external_id)
                        .delegate(&mut notes)
                        .doit()
                        .await;
                    settle(result, &notes).map(|(_, channel)| channel)
                }
            })
            .await?;
        Ok(Watch {
            id: opened.id.unwrap_or_else(|| request.channel_id.clone()),
            resource_id: opened.resource_id,
            // Google may end a channel sooner than asked; its answer is what counts.
            expires_at: opened
                .expiration
                .map_or(request.expires_at, |ms| ms.div_euclid(1000)),
        })
    }

    /// Writes `event` (new when `id` is `None`) and reads back its id and Meet link.
    async fn write_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: Option<&str>,
        event: Event,
    ) -> Result<ProviderEvent, CalendarError> {
        let written = self
            .call(calendar, tokens, |hub| {
                let event = event.clone();
                async move {
                    let mut notes = FailureNotes::default();
                    let result = match id {
                        None => {
                            hub.events()
                                .insert(event, &calendar.external_id)
                                .conference_data_version(1)
                                .send_updates("all")
                                .delegate(&mut notes)
                                .doit()
                                .await
                        }
                        Some(id) => {
                            hub.events()
                                .update(event, &calendar.external_id, id)
                                .conference_data_version(1)
                                .send_updates("all")
                                .delegate(&mut notes)
                                .doit()
                                .await
                        }
                    };
                    settle(result, &notes).map(|(_, event)| event)
                }
            })
            .await?;
        let join_url = join_url(&written);
        let id = written
            .id
            .or_else(|| id.map(str::to_owned))
            .ok_or_else(|| CalendarError::Provider("Google returned an event without id".into()))?;
        Ok(ProviderEvent { id, join_url })
    }
}

#[async_trait]
impl Calendar for GoogleCalendar {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn changes(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        cursor: Option<&str>,
        window: SyncWindow,
    ) -> Result<Changes, CalendarError> {
        let listing = match cursor {
            Some(sync_token) => Listing::Since(sync_token),
            None => Listing::Window {
                from: instant(window.from)?,
                to: instant(window.to)?,
            },
        };
        let mut changes = Changes {
            full: cursor.is_none(),
            ..Changes::default()
        };
        let mut page: Option<String> = None;
        let mut zone: Option<Tz> = None;
        for _ in 0..MAX_PAGES {
            let events = self
                .events_page(calendar, tokens, &listing, page.as_deref())
                .await?;
            // All-day events are dates in the calendar's zone, which the first page names
            // (else the owner's).
            let zone = *zone.get_or_insert_with(|| {
                events
                    .time_zone
                    .as_deref()
                    .or(Some(calendar.time_zone.as_str()))
                    .and_then(|name| name.parse().ok())
                    .unwrap_or(Tz::UTC)
            });
            for event in events.items.unwrap_or_default() {
                match busy_event(&event, zone) {
                    Some(Busy::Busy(busy)) => changes.busy.push(busy),
                    Some(Busy::Free(uid)) if !changes.full => changes.removed.push(uid),
                    Some(Busy::Free(_)) | None => {}
                }
            }
            match events.next_page_token {
                Some(next) => page = Some(next),
                None => {
                    changes.cursor = events.next_sync_token;
                    return Ok(changes);
                }
            }
        }
        Err(CalendarError::Invalid(format!(
            "the Google calendar has more than {MAX_PAGES} pages of {PAGE_SIZE} events to sync"
        )))
    }

    async fn free_busy(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError> {
        let request = FreeBusyRequest {
            time_min: Some(instant(from)?),
            time_max: Some(instant(to)?),
            items: Some(vec![FreeBusyRequestItem {
                id: Some(calendar.external_id.clone()),
            }]),
            ..FreeBusyRequest::default()
        };
        let answer = self
            .call(calendar, tokens, |hub| {
                let request = request.clone();
                async move {
                    let mut notes = FailureNotes::default();
                    let result = hub
                        .freebusy()
                        .query(request)
                        .delegate(&mut notes)
                        .doit()
                        .await;
                    settle(result, &notes).map(|(_, answer)| answer)
                }
            })
            .await?;
        // Keyed by the id as it was asked for (matched loosely: calendar ids are email
        // addresses, not case-sensitive).
        let (_, found) = answer
            .calendars
            .unwrap_or_default()
            .into_iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(&calendar.external_id))
            .ok_or_else(|| {
                CalendarError::Invalid(
                    "Google's free/busy answer does not name the calendar asked about".into(),
                )
            })?;
        free_busy_periods(found, from, to)
    }

    async fn create_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        draft: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut event = Event::default();
        fill_event(&mut event, draft)?;
        self.write_event(calendar, tokens, None, event).await
    }

    async fn update_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        draft: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        // Read first and change what the draft names: a replacement keeps the attendees'
        // answers, the reminders, and the Meet link it already has.
        let mut event = self.event(calendar, tokens, id).await?;
        fill_event(&mut event, draft)?;
        self.write_event(calendar, tokens, Some(id), event).await
    }

    async fn cancel_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
    ) -> Result<(), CalendarError> {
        let deleted = self
            .call(calendar, tokens, |hub| async move {
                let mut notes = FailureNotes::default();
                let result = hub
                    .events()
                    .delete(&calendar.external_id, id)
                    .send_updates("all")
                    .delegate(&mut notes)
                    .doit()
                    .await;
                settle(result, &notes).map(|_| ())
            })
            .await;
        match deleted {
            // Already deleted (410) or never there (404): what was asked for is true.
            Err(CalendarError::NotFound(_) | CalendarError::Gone) => Ok(()),
            other => other,
        }
    }

    async fn set_event_end(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        end: i64,
    ) -> Result<(), CalendarError> {
        // Read first and change only the end: the rest stays as its organizer made it.
        let mut event = self.event(calendar, tokens, id).await?;
        let time_zone = event.end.as_ref().and_then(|e| e.time_zone.clone());
        event.end = Some(EventDateTime {
            date_time: Some(instant(end)?),
            time_zone,
            date: None,
        });
        self.write_event(calendar, tokens, Some(id), event)
            .await
            .map(|_| ())
    }

    async fn leave_series(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        series: &str,
    ) -> Result<(), CalendarError> {
        // Deleting an event from an attendee's calendar (the room's) declines it for that
        // attendee: the series leaves the room, and its organizer sees the room decline.
        self.cancel_event(calendar, tokens, series).await
    }

    async fn watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        request: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError> {
        self.open_channel(calendar, tokens, request).await.map(Some)
    }

    async fn renew_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
        request: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        if request.channel_id == watch.id {
            return Err(CalendarError::Invalid(
                "a renewed Google channel needs a new channel id".into(),
            ));
        }
        // Google channels cannot be extended: the new one is open before the old one stops,
        // so no change falls between them.
        let renewed = self.open_channel(calendar, tokens, request).await?;
        if let Err(err) = self.stop_watch(calendar, tokens, watch).await {
            tracing::warn!(channel = %watch.id, error = %err,
                "the replaced Google channel could not be stopped; it ends at its expiry");
        }
        Ok(renewed)
    }

    async fn stop_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
    ) -> Result<(), CalendarError> {
        let channel = Channel {
            id: Some(watch.id.clone()),
            resource_id: watch.resource_id.clone(),
            ..Channel::default()
        };
        let stopped = self
            .call(calendar, tokens, |hub| {
                let channel = channel.clone();
                async move {
                    let mut notes = FailureNotes::default();
                    let result = hub
                        .channels()
                        .stop(channel)
                        .delegate(&mut notes)
                        .doit()
                        .await;
                    settle(result, &notes).map(|_| ())
                }
            })
            .await;
        match stopped {
            // Expired or stopped before: closed either way.
            Err(CalendarError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    fn authorization_url(&self, request: &AuthorizationRequest) -> Option<String> {
        let mut url = self.auth_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", &request.redirect_uri)
                .append_pair("scope", SCOPES)
                .append_pair("state", &request.state)
                .append_pair("code_challenge", &request.code_challenge)
                .append_pair("code_challenge_method", "S256")
                // A refresh token, every time (Google gives one only on consent).
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent");
            if let Some(hint) = &request.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Some(url.into())
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Authorized, CalendarError> {
        let answer = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", code_verifier),
                ("redirect_uri", redirect_uri),
                ("client_id", &self.settings.client_id),
                ("client_secret", self.settings.client_secret.expose_secret()),
            ])
            .await?;
        let tokens = OAuthTokens {
            access_token: answer.access_token.into(),
            refresh_token: answer.refresh_token.map(SecretString::from),
            expires_at: answer.expires_in.map(|secs| now() + secs),
        };
        let hub = self.hub(tokens.access_token.clone());
        let primary = bounded(async {
            let mut notes = FailureNotes::default();
            let result = hub
                .calendars()
                .get("primary")
                .delegate(&mut notes)
                .doit()
                .await;
            settle(result, &notes).map(|(_, calendar)| calendar)
        })
        .await?;
        let external_id = primary.id.ok_or_else(|| {
            CalendarError::Provider("Google named no id for the primary calendar".into())
        })?;
        Ok(Authorized {
            tokens,
            external_id,
        })
    }
}

/// What a listing reads.
enum Listing<'a> {
    /// Everything in the window (a full sync).
    Window {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// What changed since this sync token.
    Since(&'a str),
}

/// An event's part in busy time.
#[derive(Debug, PartialEq, Eq)]
enum Busy {
    Busy(BusyEvent),
    /// Cancelled, marked free ("show as available"), or declined: not busy.
    Free(String),
}

/// The event as busy time; `None` when it has no usable id or times.
fn busy_event(event: &Event, zone: Tz) -> Option<Busy> {
    let uid = event.id.clone()?;
    let declined = event.attendees.iter().flatten().any(|attendee| {
        attendee.self_ == Some(true) && attendee.response_status.as_deref() == Some("declined")
    });
    if event.status.as_deref() == Some("cancelled")
        || event.transparency.as_deref() == Some("transparent")
        || declined
    {
        return Some(Busy::Free(uid));
    }
    let start = moment(event.start.as_ref()?, zone)?;
    let end = moment(event.end.as_ref()?, zone)?;
    match Interval::new(start, end) {
        Some(interval) => Some(Busy::Busy(BusyEvent {
            uid,
            interval,
            details: details(event),
        })),
        // A zero-length event takes no time.
        None => Some(Busy::Free(uid)),
    }
}

/// One calendar's part of a free/busy answer as busy time in `[from, to)`. A calendar Google
/// cannot answer for comes back inside the HTTP 200, as `errors`.
fn free_busy_periods(
    calendar: FreeBusyCalendar,
    from: i64,
    to: i64,
) -> Result<Vec<Interval>, CalendarError> {
    if let Some(error) = calendar.errors.iter().flatten().next() {
        let reason = error.reason.as_deref().unwrap_or_default();
        let what = format!("Google Calendar free/busy: {reason}");
        return Err(match reason {
            "notFound" => CalendarError::NotFound(what),
            _ => CalendarError::Provider(what),
        });
    }
    let busy = calendar
        .busy
        .into_iter()
        .flatten()
        .filter_map(|period| {
            Interval::new(period.start?.timestamp(), period.end?.timestamp())?.clip(from, to)
        })
        .collect();
    Ok(merge(busy))
}

/// The event's title, organizer and attendees (those without an address are left out:
/// nobody can be told anything through them).
fn details(event: &Event) -> EventDetails {
    let attendees = event
        .attendees
        .iter()
        .flatten()
        .filter_map(|attendee| {
            Some(Attendee {
                email: attendee.email.clone()?,
                name: attendee.display_name.clone(),
                declined: attendee.response_status.as_deref() == Some("declined"),
                resource: attendee.resource == Some(true),
            })
        })
        .collect();
    EventDetails {
        title: event.summary.clone(),
        organizer: event.organizer.as_ref().and_then(|o| o.email.clone()),
        attendees,
        series: event.recurring_event_id.clone(),
        private: matches!(
            event.visibility.as_deref(),
            Some("private" | "confidential")
        ),
    }
}

/// An event's start or end in seconds since the epoch; a date is midnight in `zone`.
fn moment(at: &EventDateTime, zone: Tz) -> Option<i64> {
    if let Some(instant) = at.date_time {
        return Some(instant.timestamp());
    }
    let date: NaiveDate = at.date?;
    let midnight = date.and_hms_opt(0, 0, 0)?;
    // A zone whose midnight is skipped (a DST change at 00:00) starts the day at the
    // earliest instant that exists.
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.timestamp())
}

/// Writes the draft into `event`, keeping what it does not name.
fn fill_event(event: &mut Event, draft: &EventDraft) -> Result<(), CalendarError> {
    event.summary = Some(draft.title.clone());
    event.description = Some(draft.description.clone());
    event.location = draft.location.clone();
    event.start = Some(EventDateTime {
        date_time: Some(instant(draft.interval.start)?),
        time_zone: Some(draft.time_zone.clone()),
        date: None,
    });
    event.end = Some(EventDateTime {
        date_time: Some(instant(draft.interval.end)?),
        time_zone: Some(draft.time_zone.clone()),
        date: None,
    });
    let before = event.attendees.take().unwrap_or_default();
    event.attendees = Some(
        draft
            .attendees
            .iter()
            .map(|email| {
                // An attendee who stays keeps their answer.
                before
                    .iter()
                    .find(|known| {
                        known
                            .email
                            .as_deref()
                            .is_some_and(|known| known.eq_ignore_ascii_case(email))
                    })
                    .cloned()
                    .unwrap_or_else(|| EventAttendee {
                        email: Some(email.clone()),
                        ..EventAttendee::default()
                    })
            })
            .collect(),
    );
    let has_meeting = event
        .conference_data
        .as_ref()
        .is_some_and(|data| data.conference_id.is_some() || data.entry_points.is_some());
    if !draft.online_meeting {
        // With conferenceDataVersion=1, a replacement without conference data drops it.
        event.conference_data = None;
        event.hangout_link = None;
    } else if !has_meeting {
        event.conference_data = Some(ConferenceData {
            create_request: Some(CreateConferenceRequest {
                // Unique per request: Google makes one meeting per request id.
                request_id: Some(uuid::Uuid::new_v4().to_string()),
                conference_solution_key: Some(ConferenceSolutionKey {
                    type_: Some("hangoutsMeet".into()),
                }),
                status: None,
            }),
            ..ConferenceData::default()
        });
    }
    Ok(())
}

/// The Meet link of a written event: `hangoutLink`, or the video entry point.
fn join_url(event: &Event) -> Option<String> {
    event.hangout_link.clone().or_else(|| {
        event
            .conference_data
            .as_ref()?
            .entry_points
            .as_ref()?
            .iter()
            .find(|entry| entry.entry_point_type.as_deref() == Some("video"))?
            .uri
            .clone()
    })
}

fn instant(secs: i64) -> Result<DateTime<Utc>, CalendarError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| CalendarError::Invalid(format!("{secs} is not a representable instant")))
}

fn now() -> i64 {
    Utc::now().timestamp()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The cache holds no invariant a panicking holder could break.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The call, or a provider failure once [`CALL_TIMEOUT`] passes.
async fn bounded<T>(call: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Calendar(CalendarError::Provider(format!(
                "Google did not answer within {} s",
                CALL_TIMEOUT.as_secs()
            ))))
        })
}

/// A failed API call: a refused token (worth one refresh) or anything else.
#[derive(Debug)]
enum ApiError {
    TokenRefused(String),
    Calendar(CalendarError),
}

impl From<ApiError> for CalendarError {
    fn from(err: ApiError) -> CalendarError {
        match err {
            ApiError::TokenRefused(why) => CalendarError::Unauthorized(why),
            ApiError::Calendar(err) => err,
        }
    }
}

impl From<CalendarError> for ApiError {
    fn from(err: CalendarError) -> ApiError {
        ApiError::Calendar(err)
    }
}

/// What the generated client drops from a failed answer: its status and `Retry-After`
/// (a JSON error body reaches us as `Error::BadRequest(json)` without its headers).
#[derive(Debug, Default)]
struct FailureNotes {
    status: Option<u16>,
    retry_after: Option<u64>,
}

impl Delegate for FailureNotes {
    fn http_failure(
        &mut self,
        response: &google_calendar3::common::Response,
        _err: Option<&Value>,
    ) -> Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after = retry_after(response.headers().get("retry-after"));
        // Retrying is the engine's decision (it knows the backoff and the queue).
        Retry::Abort
    }
}

/// `Retry-After` in seconds (Google sends seconds, not dates).
fn retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<u64> {
    value?.to_str().ok()?.trim().parse().ok()
}

/// The outcome of a generated call as the port sees it.
fn settle<T>(result: google_calendar3::Result<T>, notes: &FailureNotes) -> Result<T, ApiError> {
    use google_calendar3::Error;
    let err = match result {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    let (status, reason, message) = match &err {
        Error::BadRequest(body) => {
            let error = &body["error"];
            let status = notes.status.or_else(|| {
                error["code"]
                    .as_u64()
                    .and_then(|code| u16::try_from(code).ok())
            });
            let reason = error["errors"][0]["reason"].as_str().unwrap_or_default();
            let message = error["message"].as_str().unwrap_or_default();
            (status, reason.to_owned(), message.to_owned())
        }
        Error::Failure(response) => (
            Some(response.status().as_u16()),
            String::new(),
            String::new(),
        ),
        Error::HttpError(err) => {
            return Err(CalendarError::Provider(format!(
                "Google Calendar could not be reached: {}",
                with_causes(err)
            ))
            .into());
        }
        other => {
            return Err(CalendarError::Provider(format!("Google Calendar: {other}")).into());
        }
    };
    let what = format!(
        "Google Calendar ({}): {message} {reason}",
        status.map_or_else(|| "?".to_owned(), |s| s.to_string())
    );
    let rate_limited = CalendarError::RateLimited {
        retry_after_secs: notes.retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
    };
    Err(match status {
        Some(401) => ApiError::TokenRefused(what),
        Some(429) => rate_limited.into(),
        Some(403) if reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" => {
            rate_limited.into()
        }
        Some(403) => CalendarError::Unauthorized(what).into(),
        Some(404) => CalendarError::NotFound(what).into(),
        Some(410) => CalendarError::Gone.into(),
        Some(409 | 412) => CalendarError::Conflict(what).into(),
        Some(400) => CalendarError::Invalid(what).into(),
        _ => CalendarError::Provider(what).into(),
    })
}

/// The token endpoint's answer to a grant.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

/// The token endpoint's refusal (`{"error": "invalid_grant", …}`).
#[derive(Deserialize, Default)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The access token for the generated client, which asks for it before each request.
#[derive(Clone)]
struct Bearer(SecretString);

impl GetToken for Bearer {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&str],
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move { Ok(Some(self.0.expose_secret().to_owned())) })
    }
}

/// The RSA key of a PKCS#8 PEM.
fn rsa_key(pem: &str) -> Result<RsaKeyPair, GoogleSetupError> {
    let base64: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|err| GoogleSetupError::PrivateKey(err.to_string()))?;
    RsaKeyPair::from_pkcs8(&der).map_err(|err| GoogleSetupError::PrivateKey(err.to_string()))
}

/// `claims` as an RS256-signed JWT.
fn jwt_assertion(key: &RsaKeyPair, claims: &Value) -> Result<String, CalendarError> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .map_err(|_| CalendarError::Provider("signing the service-account assertion failed".into()))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(json: Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn all_day_events_are_midnight_to_midnight_in_the_calendars_zone() {
        let event = at(json!({"id": "a", "start": {"date": "2026-03-02"},
                              "end": {"date": "2026-03-03"}}));
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 2026-03-02T00:00+09:00 = 2026-03-01T15:00Z.
        assert_eq!(
            busy_event(&event, tokyo),
            Some(Busy::Busy(BusyEvent {
                uid: "a".into(),
                interval: Interval::new(1_772_377_200, 1_772_463_600).unwrap(),
                details: EventDetails::default(),
            }))
        );
    }

    #[test]
    fn an_events_title_organizer_and_attendees_are_read_as_google_sends_them() {
        let event = at(json!({"id": "m", "summary": "Contract review",
        "start": {"dateTime": "2026-03-02T09:00:00Z"}, "end": {"dateTime": "2026-03-02T10:00:00Z"},
        "organizer": {"email": "alice@acme.example", "displayName": "Alice", "self": true},
        "attendees": [
            {"email": "alice@acme.example", "organizer": true, "self": true, "responseStatus": "accepted"},
            {"email": "reception-hq@acme.example", "resource": true, "responseStatus": "accepted"},
            {"email": "taro@example.com", "displayName": "Taro Yamada", "responseStatus": "needsAction"},
            {"email": "hanako@example.com", "responseStatus": "declined"},
            {"displayName": "Someone without an address"}
        ]}));
        let Some(Busy::Busy(busy)) = busy_event(&event, Tz::UTC) else {
            panic!("a busy event");
        };
        let details = busy.details;
        assert_eq!(details.title.as_deref(), Some("Contract review"));
        assert_eq!(details.organizer.as_deref(), Some("alice@acme.example"));
        let seen: Vec<(&str, Option<&str>, bool, bool)> = details
            .attendees
            .iter()
            .map(|a| (a.email.as_str(), a.name.as_deref(), a.declined, a.resource))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("alice@acme.example", None, false, false),
                ("reception-hq@acme.example", None, false, true),
                ("taro@example.com", Some("Taro Yamada"), false, false),
                ("hanako@example.com", None, true, false),
            ]
        );
    }

    #[test]
    fn cancelled_free_and_declined_events_are_not_busy() {
        let zone = Tz::UTC;
        let times = json!({"start": {"dateTime": "2026-03-02T09:00:00Z"},
                           "end": {"dateTime": "2026-03-02T10:00:00Z"}});
        let mut cancelled = times.clone();
        cancelled["id"] = json!("c");
        cancelled["status"] = json!("cancelled");
        let mut free = times.clone();
        free["id"] = json!("f");
        free["transparency"] = json!("transparent");
        let mut declined = times.clone();
        declined["id"] = json!("d");
        declined["attendees"] =
            json!([{"email": "me@x", "self": true, "responseStatus": "declined"}]);
        for (event, uid) in [(cancelled, "c"), (free, "f"), (declined, "d")] {
            assert_eq!(busy_event(&at(event), zone), Some(Busy::Free(uid.into())));
        }
    }

    #[test]
    fn a_failure_without_retry_after_waits_a_minute_and_a_quota_403_is_a_rate_limit() {
        let body = json!({"error": {"code": 403, "message": "Rate Limit Exceeded",
                                    "errors": [{"reason": "rateLimitExceeded"}]}});
        let err = settle::<()>(
            Err(google_calendar3::Error::BadRequest(body)),
            &FailureNotes::default(),
        )
        .unwrap_err();
        assert_eq!(
            CalendarError::from(err),
            CalendarError::RateLimited {
                retry_after_secs: 60
            }
        );
    }
}
