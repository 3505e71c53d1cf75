//! Microsoft 365 calendars over Microsoft Graph, behind the [`Calendar`] port: busy time
//! from `calendarView/delta` (and asked live from `calendar/getSchedule`), events with a
//! Teams link, push through Graph subscriptions, and the tenant's rooms from `places`.
//!
//! Graph calls go through `graph-rs-sdk` (its typed API where it has the call, its `custom`
//! request otherwise). Tokens are ours: the SDK's OAuth clients cannot be pointed at another
//! token URL and do not hand refreshed tokens back, so the token endpoint is called here
//! (reqwest, bounded in time and size) and the SDK is given the access token.
//!
//! - Per-person OAuth (`CalendarRef::app_credentials == false`): the tokens come from the
//!   core's [`TokenStore`]; an expired access token, or a 401, is refreshed once (and the
//!   new tokens saved) before the call is retried once. Graph is asked for `/me/...`.
//! - Application access (`app_credentials == true`): client credentials, cached in memory
//!   until shortly before they expire; the calendar's `external_id` is the user or room
//!   mailbox (`/users/{id}/...`).
//!
//! Failures become [`CalendarError`]s the engine acts on: 410 or a sync-state error code →
//! `Gone` (resync), 429 → `RateLimited` (Retry-After, else 60 s), 503 with Retry-After →
//! `RateLimited` (Graph throttles with 503 too) and without → `Provider` (an outage, left to
//! the engine's backoff), other 5xx and transport failures → `Provider`, 404 → `NotFound`,
//! 401/403 after the retry → `Unauthorized`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_core::domain::calendar::{Interval, Provider, merge};
use frontdesk_core::error::with_causes;
use frontdesk_core::port::{
    Attendee, AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef,
    Changes, EventDetails, EventDraft, OAuthTokens, ProviderEvent, ProviderRoom, SyncWindow,
    TokenStore, Watch, WatchRequest,
};
use graph_http::api_impl::RequestHandler;
use graph_rs_sdk::http::Method;
use graph_rs_sdk::users::{
    CalendarViewApiClient, DefaultCalendarApiClient, EventsApiClient, EventsIdApiClient,
};
use graph_rs_sdk::{GraphClient, GraphClientConfiguration, GraphFailure};
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

/// Graph's v1.0 endpoint.
pub const GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The Microsoft identity platform's token endpoint; `{tenant}` is replaced.
pub const TOKEN_URL: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
/// Where people sign in to allow access; `{tenant}` is replaced.
pub const AUTHORIZE_URL: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize";
/// What a person allows: their calendar (read and write), who they are, and a refresh token.
pub const DELEGATED_SCOPES: &str = "offline_access Calendars.ReadWrite User.Read";
/// Client credentials take the application permissions granted in the tenant, all at once.
pub const APP_SCOPE: &str = "https://graph.microsoft.com/.default";

/// How long one Graph call may take, connection included. Creating a subscription waits
/// for Graph's own validation request to our callback (up to 10 s), hence the margin.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from Graph or the token endpoint (a delta page of 200 events
/// is well under a megabyte).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// The most pages one sync follows: a calendar with more changes than this is refused
/// rather than read forever.
pub const MAX_PAGES: usize = 200;
/// Graph's limit for event subscriptions, in minutes ahead.
pub const MAX_SUBSCRIPTION_MINUTES: i64 = 4230;
/// What a 429 without `Retry-After` waits.
const DEFAULT_RETRY_AFTER_SECS: u64 = 60;
/// Tokens are renewed this long before they expire, so none runs out mid-sync.
const EXPIRY_MARGIN_SECS: i64 = 120;
/// Graph's limit on `clientState`.
const MAX_CLIENT_STATE: usize = 128;
/// Asks for event times in UTC (parsed without a zone table) and pages of up to 100.
const PREFER: &str = "outlook.timezone=\"UTC\", odata.maxpagesize=100";
/// The slot length of `getSchedule`'s `availabilityView`, in minutes. Only its
/// `scheduleItems` are read: the coarsest view Graph allows keeps the answer small.
const AVAILABILITY_VIEW_MINUTES: u32 = 1440;

/// How Frontdesk reaches a Microsoft 365 tenant.
#[derive(Debug, Clone)]
pub struct MicrosoftSettings {
    /// The Entra application (client) id.
    pub client_id: String,
    pub client_secret: SecretString,
    /// The directory (tenant) id or domain; `organizations` or `common` for multi-tenant apps.
    pub tenant_id: String,
    /// Graph's base URL, version included.
    pub graph_url: String,
    /// The token endpoint; `{tenant}` is replaced by `tenant_id`.
    pub token_url: String,
    /// The authorization endpoint; `{tenant}` is replaced by `tenant_id`.
    pub authorize_url: String,
}

impl MicrosoftSettings {
    /// The settings of the public Microsoft cloud for this application.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        tenant_id: impl Into<String>,
    ) -> MicrosoftSettings {
        MicrosoftSettings {
            client_id: client_id.into(),
            client_secret,
            tenant_id: tenant_id.into(),
            graph_url: GRAPH_URL.into(),
            token_url: TOKEN_URL.into(),
            authorize_url: AUTHORIZE_URL.into(),
        }
    }
}

/// Why the connector could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MicrosoftSetupError {
    #[error("the Microsoft 365 {name} URL {url:?} is not usable: {reason}")]
    Url {
        name: &'static str,
        url: String,
        reason: String,
    },
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// A room of the tenant (`GET /places/microsoft.graph.room`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicrosoftRoom {
    /// The room's mailbox: its calendar's `external_id`.
    pub email: String,
    pub display_name: String,
    pub capacity: Option<u32>,
    pub floor_number: Option<i32>,
}

/// An application token and when to stop using it.
#[derive(Debug)]
struct AppToken {
    access_token: SecretString,
    renew_at: Instant,
}

/// Microsoft 365 calendars over Graph.
#[derive(Debug)]
pub struct MicrosoftCalendar {
    settings: MicrosoftSettings,
    graph_url: Url,
    token_url: Url,
    authorize_url: Url,
    /// For the token endpoint (Graph calls use the SDK's own client).
    http: reqwest::Client,
    app_token: tokio::sync::Mutex<Option<AppToken>>,
}

/// Whose tokens one operation uses.
#[derive(Clone, Copy)]
enum Credential<'a> {
    App,
    Person(&'a dyn TokenStore),
}

/// One operation's Graph client, and whether its token was already renewed once.
struct Session<'a> {
    credential: Credential<'a>,
    client: GraphClient,
    renewed: bool,
}

/// The next page of a paged read: the first request, or a link Graph gave.
enum Page {
    First,
    Link(Url),
}

impl MicrosoftCalendar {
    /// The connector for `settings`. Its URLs must be https, or http to a loopback address
    /// (a local fake): tokens are never sent in the clear over a network.
    pub fn new(settings: MicrosoftSettings) -> Result<MicrosoftCalendar, MicrosoftSetupError> {
        let tenant = |url: &str| url.replace("{tenant}", &settings.tenant_id);
        let graph_url = checked_url("Graph", settings.graph_url.trim_end_matches('/'))?;
        let token_url = checked_url("token", &tenant(&settings.token_url))?;
        let authorize_url = checked_url("authorization", &tenant(&settings.authorize_url))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("Frontdesk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(MicrosoftCalendar {
            settings,
            graph_url,
            token_url,
            authorize_url,
            http,
            app_token: tokio::sync::Mutex::new(None),
        })
    }

    /// The tenant's rooms (application access: needs the `Place.Read.All` permission).
    pub async fn room_mailboxes(&self) -> Result<Vec<MicrosoftRoom>, CalendarError> {
        let mut session = self.session(Credential::App).await?;
        let mut rooms = Vec::new();
        let mut page = Page::First;
        for _ in 0..MAX_PAGES {
            let response = self
                .send(&mut session, |client| match &page {
                    // Not in the SDK's typed API: it has only the `graph.room` alias.
                    Page::First => client
                        .custom(Method::GET, None)
                        .extend_path(&["places", "microsoft.graph.room"]),
                    Page::Link(url) => link_request(client, url),
                })
                .await?;
            let list: RoomPage = read_json(response).await?;
            rooms.extend(list.value.into_iter().filter_map(|room| {
                Some(MicrosoftRoom {
                    email: room.email_address?,
                    display_name: room.display_name.unwrap_or_default(),
                    capacity: room.capacity,
                    floor_number: room.floor_number,
                })
            }));
            match list.next_link {
                Some(next) => page = Page::Link(self.own_link(&next).ok_or_else(foreign_link)?),
                None => return Ok(rooms),
            }
        }
        Err(too_many_pages())
    }

    /// A Graph client sending `access_token`, bounded in time.
    fn graph(&self, access_token: &SecretString) -> GraphClient {
        let config = GraphClientConfiguration::new()
            .access_token(access_token.expose_secret())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .https_only(self.graph_url.scheme() == "https");
        let mut client = GraphClient::from(config);
        // `use_endpoint` panics on hosts outside the SDK's list of national clouds; the URL
        // was checked in `new` (https, or a loopback fake) and is the operator's choice.
        client.use_test_endpoint(&self.graph_url);
        client
    }

    /// A client for one operation, with a token that has not expired (as far as is known).
    async fn session<'a>(&self, credential: Credential<'a>) -> Result<Session<'a>, CalendarError> {
        let access_token = match credential {
            Credential::App => self.app_token(false).await?,
            Credential::Person(store) => {
                let tokens = store.tokens().await?;
                let expired = tokens
                    .expires_at
                    .is_some_and(|at| at <= Utc::now().timestamp() + EXPIRY_MARGIN_SECS);
                if expired && tokens.refresh_token.is_some() {
                    self.refresh(store, tokens).await?
                } else {
                    tokens.access_token
                }
            }
        };
        Ok(Session {
            credential,
            client: self.graph(&access_token),
            renewed: false,
        })
    }

    /// The session of `calendar`'s credentials.
    async fn session_for<'a>(
        &self,
        calendar: &CalendarRef,
        tokens: &'a dyn TokenStore,
    ) -> Result<Session<'a>, CalendarError> {
        self.session(if calendar.app_credentials {
            Credential::App
        } else {
            Credential::Person(tokens)
        })
        .await
    }

    /// Sends the request `build` makes; on a 401, renews the token once and sends it again.
    /// An unsuccessful answer is turned into its [`CalendarError`].
    async fn send(
        &self,
        session: &mut Session<'_>,
        build: impl Fn(&GraphClient) -> RequestHandler,
    ) -> Result<reqwest::Response, CalendarError> {
        let mut response = send_once(build(&session.client)).await?;
        if response.status() == StatusCode::UNAUTHORIZED && !session.renewed {
            session.renewed = true;
            let access_token = match session.credential {
                Credential::App => self.app_token(true).await?,
                Credential::Person(store) => {
                    let tokens = store.tokens().await?;
                    self.refresh(store, tokens).await?
                }
            };
            session.client = self.graph(&access_token);
            response = send_once(build(&session.client)).await?;
        }
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(failure(response).await)
        }
    }

    /// The application's token: the cached one unless `renew` or it is about to expire.
    async fn app_token(&self, renew: bool) -> Result<SecretString, CalendarError> {
        // Held across the grant: concurrent calls wait for one new token, not fetch their own.
        let mut cached = self.app_token.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|t| !renew && t.renew_at > Instant::now())
        {
            return Ok(token.access_token.clone());
        }
        let granted = self
            .grant(&[("grant_type", "client_credentials"), ("scope", APP_SCOPE)])
            .await?;
        let lifetime = granted.expires_in.unwrap_or(3600) as i64 - EXPIRY_MARGIN_SECS;
        let access_token = SecretString::from(granted.access_token);
        *cached = Some(AppToken {
            access_token: access_token.clone(),
            renew_at: Instant::now() + Duration::from_secs(lifetime.max(0) as u64),
        });
        Ok(access_token)
    }

    /// Trades the refresh token of `tokens` for new ones, saves them, and returns the new
    /// access token. A refused refresh means the person must connect again.
    async fn refresh(
        &self,
        store: &dyn TokenStore,
        tokens: OAuthTokens,
    ) -> Result<SecretString, CalendarError> {
        let Some(refresh_token) = tokens.refresh_token else {
            return Err(CalendarError::Unauthorized(
                "Microsoft 365 no longer accepts the access token and there is no refresh \
                 token; connect the calendar again"
                    .into(),
            ));
        };
        let granted = self
            .grant(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
                ("scope", DELEGATED_SCOPES),
            ])
            .await?;
        // Microsoft usually rotates the refresh token; when it does not, the old one stays.
        let renewed = granted.into_tokens(Some(refresh_token));
        store.save(&renewed).await?;
        Ok(renewed.access_token)
    }

    /// One grant at the token endpoint, authenticated with the client secret.
    async fn grant(&self, form: &[(&str, &str)]) -> Result<Granted, CalendarError> {
        let mut fields = vec![
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose_secret()),
        ];
        fields.extend_from_slice(form);
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&fields)
            .send()
            .await
            .map_err(|err| {
                CalendarError::Provider(format!(
                    "the Microsoft token endpoint could not be reached: {}",
                    with_causes(&err.without_url())
                ))
            })?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let body = read_body(response).await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|err| {
                CalendarError::Provider(format!("the token endpoint's answer is unreadable: {err}"))
            });
        }
        let refusal: OAuthRefusal = serde_json::from_slice(&body).unwrap_or_default();
        let what = format!(
            "the Microsoft token endpoint refused ({status} {}): {}",
            refusal.error,
            first_line(&refusal.error_description)
        );
        Err(match (status, refusal.error.as_str()) {
            (StatusCode::TOO_MANY_REQUESTS, _) => CalendarError::RateLimited {
                retry_after_secs: retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
            },
            (status, _) if status.is_server_error() => CalendarError::Provider(what),
            (
                _,
                "invalid_grant"
                | "invalid_client"
                | "unauthorized_client"
                | "interaction_required"
                | "consent_required",
            ) => CalendarError::Unauthorized(format!("{what}; connect the calendar again")),
            _ => CalendarError::Invalid(what),
        })
    }

    /// `link` parsed, if it points into our Graph endpoint: links come back from Graph and
    /// are stored as cursors, and the bearer token must go nowhere else.
    fn own_link(&self, link: &str) -> Option<Url> {
        let url = Url::parse(link).ok()?;
        (url.origin() == self.graph_url.origin() && url.path().starts_with(self.graph_url.path()))
            .then_some(url)
    }

    /// The events of `calendar`: `/users/{id}/events` or `/me/events`.
    fn events(client: &GraphClient, calendar: &CalendarRef) -> EventsApiClient {
        if calendar.app_credentials {
            client.user(&calendar.external_id).events()
        } else {
            client.me().events()
        }
    }

    fn event(client: &GraphClient, calendar: &CalendarRef, id: &str) -> EventsIdApiClient {
        if calendar.app_credentials {
            client.user(&calendar.external_id).event(id)
        } else {
            client.me().event(id)
        }
    }

    fn calendar_view(client: &GraphClient, calendar: &CalendarRef) -> CalendarViewApiClient {
        if calendar.app_credentials {
            client.user(&calendar.external_id).calendar_views()
        } else {
            client.me().calendar_views()
        }
    }

    /// The mailbox's own calendar: `/users/{id}/calendar` or `/me/calendar`.
    fn default_calendar(client: &GraphClient, calendar: &CalendarRef) -> DefaultCalendarApiClient {
        if calendar.app_credentials {
            client.user(&calendar.external_id).default_calendar()
        } else {
            client.me().default_calendar()
        }
    }

    /// Writes an event (create or update) and reads back its id and Teams link.
    async fn write_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: Option<&str>,
        event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut session = self.session_for(calendar, tokens).await?;
        let body = event_body(event);
        let response = self
            .send(&mut session, |client| match id {
                None => Self::events(client, calendar).create_events(&body),
                Some(id) => Self::event(client, calendar, id).update_events(&body),
            })
            .await?;
        let written: WrittenEvent = read_json(response).await?;
        Ok(ProviderEvent {
            id: written.id,
            join_url: written.online_meeting.and_then(|m| m.join_url),
        })
    }
}

#[async_trait]
impl Calendar for MicrosoftCalendar {
    async fn rooms(&self) -> Result<Vec<ProviderRoom>, CalendarError> {
        Ok(self
            .room_mailboxes()
            .await?
            .into_iter()
            .map(|room| ProviderRoom {
                external_id: room.email,
                name: room.display_name,
                capacity: room.capacity,
                floor: room.floor_number,
            })
            .collect())
    }

    fn provider(&self) -> Provider {
        Provider::Microsoft
    }

    async fn changes(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        cursor: Option<&str>,
        window: SyncWindow,
    ) -> Result<Changes, CalendarError> {
        // A cursor that is not one of our delta links (another endpoint since, or damaged)
        // cannot be used: a full sync replaces it.
        let mut page = match cursor {
            Some(link) => Page::Link(self.own_link(link).ok_or(CalendarError::Gone)?),
            None => Page::First,
        };
        let (start, end) = (instant(window.from)?, instant(window.to)?);
        let mut session = self.session_for(calendar, tokens).await?;
        // The last word on each event wins: one may change twice across pages.
        let mut seen: BTreeMap<String, Option<(Interval, EventDetails)>> = BTreeMap::new();
        for _ in 0..MAX_PAGES {
            let response = self
                .send(&mut session, |client| {
                    let request = match &page {
                        Page::First => Self::calendar_view(client, calendar)
                            .delta()
                            .append_query_pair("startDateTime", start.as_str())
                            .append_query_pair("endDateTime", end.as_str()),
                        Page::Link(url) => link_request(client, url),
                    };
                    request.header(
                        reqwest::header::HeaderName::from_static("prefer"),
                        HeaderValue::from_static(PREFER),
                    )
                })
                .await?;
            let delta: DeltaPage = read_json(response).await?;
            for item in delta.value {
                let (id, busy) = classify(item)?;
                seen.insert(id, busy);
            }
            match (delta.next_link, delta.delta_link) {
                (Some(next), _) => {
                    page = Page::Link(self.own_link(&next).ok_or_else(foreign_link)?);
                }
                (None, Some(delta_link)) => {
                    let full = cursor.is_none();
                    let mut changes = Changes {
                        full,
                        cursor: Some(delta_link),
                        ..Changes::default()
                    };
                    for (uid, busy) in seen {
                        match busy {
                            Some((interval, details)) => changes.busy.push(BusyEvent {
                                uid,
                                interval,
                                details,
                            }),
                            // A full sync replaces the cached copy: nothing to remove.
                            None if !full => changes.removed.push(uid),
                            None => {}
                        }
                    }
                    return Ok(changes);
                }
                (None, None) => {
                    return Err(CalendarError::Invalid(
                        "a Graph delta page had neither a next link nor a delta link".into(),
                    ));
                }
            }
        }
        Err(too_many_pages())
    }

    async fn free_busy(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError> {
        let body = json!({
            "schedules": [calendar.external_id],
            "startTime": utc_wall_clock(from)?,
            "endTime": utc_wall_clock(to)?,
            "availabilityViewInterval": AVAILABILITY_VIEW_MINUTES,
        });
        let mut session = self.session_for(calendar, tokens).await?;
        let response = self
            .send(&mut session, |client| {
                Self::default_calendar(client, calendar)
                    .get_schedule(&body)
                    .header(
                        reqwest::header::HeaderName::from_static("prefer"),
                        HeaderValue::from_static(PREFER),
                    )
            })
            .await?;
        let answer: ScheduleAnswer = read_json(response).await?;
        // One schedule was asked for; Graph names it as it was asked (matched loosely:
        // mailbox addresses are not case-sensitive).
        let schedule = answer
            .value
            .into_iter()
            .find(|s| s.schedule_id.eq_ignore_ascii_case(&calendar.external_id))
            .ok_or_else(|| {
                CalendarError::Invalid(
                    "Graph's getSchedule answer does not name the mailbox asked about".into(),
                )
            })?;
        schedule_busy(schedule, from, to)
    }

    async fn create_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        self.write_event(calendar, tokens, None, event).await
    }

    async fn update_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        self.write_event(calendar, tokens, Some(id), event).await
    }

    async fn cancel_event(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
    ) -> Result<(), CalendarError> {
        let mut session = self.session_for(calendar, tokens).await?;
        let body = json!({ "comment": "" });
        match self
            .send(&mut session, |client| {
                Self::event(client, calendar, id).cancel(&body)
            })
            .await
        {
            // Already gone is what cancelling wanted.
            Ok(_) | Err(CalendarError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn set_event_end(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        id: &str,
        end: i64,
    ) -> Result<(), CalendarError> {
        let end = chrono::DateTime::<chrono::Utc>::from_timestamp(end, 0)
            .ok_or_else(|| CalendarError::Invalid(format!("{end} is not an instant")))?;
        // A PATCH of the end alone: the rest stays as its organizer made it.
        let body = json!({
            "end": {
                "dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "timeZone": "UTC",
            }
        });
        let mut session = self.session_for(calendar, tokens).await?;
        self.send(&mut session, |client| {
            Self::event(client, calendar, id).update_events(&body)
        })
        .await
        .map(|_| ())
    }

    async fn leave_series(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        series: &str,
    ) -> Result<(), CalendarError> {
        // The room mailbox declines the series master: its occurrences leave the room, and
        // the organizer is told.
        let body = json!({
            "sendResponse": true,
            "comment": "Nobody checked in to the last meetings of this series, so the room was released. / 直近の会議でチェックインがなかったため、会議室を解放しました。",
        });
        let mut session = self.session_for(calendar, tokens).await?;
        match self
            .send(&mut session, |client| {
                Self::event(client, calendar, series).decline(&body)
            })
            .await
        {
            // Already gone is what leaving wanted.
            Ok(_) | Err(CalendarError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        request: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError> {
        let client_state = request.secret.expose_secret();
        if client_state.len() > MAX_CLIENT_STATE {
            return Err(CalendarError::Invalid(format!(
                "Graph takes a clientState of at most {MAX_CLIENT_STATE} characters"
            )));
        }
        let resource = if calendar.app_credentials {
            format!("/users/{}/events", calendar.external_id)
        } else {
            "me/events".to_owned()
        };
        let body = json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": request.callback_url,
            "lifecycleNotificationUrl": request.callback_url,
            "resource": resource,
            "expirationDateTime": subscription_expiry(request.expires_at)?,
            "clientState": client_state,
            "latestSupportedTlsVersion": "v1_2",
        });
        let mut session = self.session_for(calendar, tokens).await?;
        let response = self
            .send(&mut session, |client| {
                client.subscriptions().create_subscription(&body)
            })
            .await?;
        let subscription: Subscription = read_json(response).await?;
        subscription.into_watch().map(Some)
    }

    async fn renew_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
        request: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        let body = json!({ "expirationDateTime": subscription_expiry(request.expires_at)? });
        let mut session = self.session_for(calendar, tokens).await?;
        let renewed = self
            .send(&mut session, |client| {
                client.subscription(&watch.id).update_subscription(&body)
            })
            .await;
        match renewed {
            Ok(response) => read_json::<Subscription>(response).await?.into_watch(),
            // Graph removed it (expired, or deleted): open a new one.
            Err(CalendarError::NotFound(_)) => self
                .watch(calendar, tokens, request)
                .await?
                .ok_or_else(|| CalendarError::Provider("no subscription was opened".into())),
            Err(err) => Err(err),
        }
    }

    async fn stop_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        watch: &Watch,
    ) -> Result<(), CalendarError> {
        let mut session = self.session_for(calendar, tokens).await?;
        match self
            .send(&mut session, |client| {
                client.subscription(&watch.id).delete_subscription()
            })
            .await
        {
            Ok(_) | Err(CalendarError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn authorization_url(&self, request: &AuthorizationRequest) -> Option<String> {
        let mut url = self.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &request.redirect_uri)
                .append_pair("response_mode", "query")
                .append_pair("scope", DELEGATED_SCOPES)
                .append_pair("state", &request.state)
                .append_pair("code_challenge", &request.code_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = &request.login_hint {
                query.append_pair("login_hint", hint);
            }
        }
        Some(url.to_string())
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Authorized, CalendarError> {
        let granted = self
            .grant(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", code_verifier),
                ("redirect_uri", redirect_uri),
                ("scope", DELEGATED_SCOPES),
            ])
            .await?;
        let tokens = granted.into_tokens(None);
        let client = self.graph(&tokens.access_token);
        let response = send_once(client.me().get_user()).await?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let me: Me = read_json(response).await?;
        // The mailbox, as a calendar's `external_id` is elsewhere (and what `/users/{id}`
        // takes); the immutable id when the account has no mailbox address.
        let external_id = me
            .mail
            .or(me.user_principal_name)
            .filter(|m| !m.is_empty())
            .unwrap_or(me.id);
        Ok(Authorized {
            tokens,
            external_id,
        })
    }
}

/// `url` (a next or delta link Graph gave) as a request.
fn link_request(client: &GraphClient, url: &Url) -> RequestHandler {
    let mut request = client.custom(Method::GET, None);
    *request.as_mut() = url.clone();
    request
}

/// Sends one request; a failure to get any answer is the provider's.
async fn send_once(request: RequestHandler) -> Result<reqwest::Response, CalendarError> {
    request.send().await.map_err(|err| {
        // The SDK's tower service hands transport errors back boxed.
        let transport = match &err {
            GraphFailure::ReqwestError(err) => Some(err),
            GraphFailure::Other(boxed) => boxed.downcast_ref::<reqwest::Error>(),
            _ => None,
        };
        match transport {
            Some(err) => unreachable(err),
            None => {
                CalendarError::Provider(format!("the Graph request failed: {}", with_causes(&err)))
            }
        }
    })
}

/// A transport failure, described without its URL (a delta link's token stays out of logs).
fn unreachable(err: &reqwest::Error) -> CalendarError {
    let why = if err.is_timeout() {
        "it took too long"
    } else if err.is_connect() {
        "no connection"
    } else {
        "the transfer failed"
    };
    let cause = std::error::Error::source(err)
        .map(with_causes)
        .unwrap_or_default();
    CalendarError::Provider(format!(
        "Microsoft Graph could not be reached ({why}): {cause}"
    ))
}

/// The error an unsuccessful Graph answer stands for (from its status alone when its body
/// cannot be read).
async fn failure(response: reqwest::Response) -> CalendarError {
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = read_body(response).await.unwrap_or_default();
    graph_error(status, retry_after, &body)
}

/// The [`CalendarError`] of a Graph error answer (`{"error": {"code", "message"}}`).
fn graph_error(status: StatusCode, retry_after: Option<u64>, body: &[u8]) -> CalendarError {
    let error = serde_json::from_slice::<GraphErrorBody>(body)
        .map(|body| body.error)
        .unwrap_or_default();
    let what = format!(
        "Microsoft Graph answered {status} {}: {}",
        error.code,
        first_line(&error.message)
    );
    let sync_state_lost = matches!(
        error.code.as_str(),
        "SyncStateNotFound" | "SyncStateInvalid" | "resyncRequired" | "syncStateNotFound"
    );
    match status {
        _ if sync_state_lost => CalendarError::Gone,
        StatusCode::GONE => CalendarError::Gone,
        StatusCode::UNAUTHORIZED => {
            CalendarError::Unauthorized(format!("{what}; connect the calendar again"))
        }
        StatusCode::FORBIDDEN => CalendarError::Unauthorized(format!(
            "{what}; the account or the application lacks a calendar permission"
        )),
        StatusCode::NOT_FOUND => CalendarError::NotFound(what),
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => CalendarError::Conflict(what),
        StatusCode::TOO_MANY_REQUESTS => CalendarError::RateLimited {
            retry_after_secs: retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
        },
        StatusCode::SERVICE_UNAVAILABLE => match retry_after {
            Some(retry_after_secs) => CalendarError::RateLimited { retry_after_secs },
            None => CalendarError::Provider(what),
        },
        status if status.is_server_error() => CalendarError::Provider(what),
        _ => CalendarError::Invalid(what),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Graph).
fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The body of `response`, up to [`MAX_RESPONSE_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, CalendarError> {
    let too_large = || {
        CalendarError::Invalid(format!(
            "a Microsoft answer was larger than {MAX_RESPONSE_BYTES} bytes"
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        CalendarError::Provider(format!(
            "a Microsoft answer could not be read: {}",
            with_causes(&err.without_url())
        ))
    })? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The JSON body of a successful answer.
async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, CalendarError> {
    let body = read_body(response).await?;
    serde_json::from_slice(&body).map_err(|err| {
        CalendarError::Invalid(format!(
            "a Microsoft Graph answer is not as documented: {err}"
        ))
    })
}

/// One delta item: its id, and its busy time with what it is and who is invited, or `None`
/// when it no longer makes anyone busy (deleted, cancelled, shown as free, or empty).
fn classify(item: Value) -> Result<(String, Option<(Interval, EventDetails)>), CalendarError> {
    let event: DeltaEvent = serde_json::from_value(item).map_err(|err| {
        CalendarError::Invalid(format!("a Graph delta item is not as documented: {err}"))
    })?;
    let gone =
        event.removed.is_some() || event.is_cancelled || event.show_as.as_deref() == Some("free");
    if gone {
        return Ok((event.id, None));
    }
    let (Some(start), Some(end)) = (event.start, event.end) else {
        return Err(CalendarError::Invalid(format!(
            "the Graph event {} has no start or end",
            event.id
        )));
    };
    let Some(interval) = Interval::new(start.epoch(&event.id)?, end.epoch(&event.id)?) else {
        return Ok((event.id, None));
    };
    let details = EventDetails {
        title: event.subject,
        organizer: event.organizer.and_then(|o| o.email_address.address),
        // Those without an address cannot be told anything: left out.
        attendees: event
            .attendees
            .into_iter()
            .filter_map(|attendee| {
                Some(Attendee {
                    email: attendee.email_address.address?,
                    name: attendee.email_address.name.filter(|n| !n.is_empty()),
                    declined: attendee.status.and_then(|s| s.response).as_deref()
                        == Some("declined"),
                    resource: attendee.kind.as_deref() == Some("resource"),
                })
            })
            .collect(),
        series: event.series_master_id,
        private: matches!(
            event.sensitivity.as_deref(),
            Some("private" | "confidential")
        ),
    };
    Ok((event.id, Some((interval, details))))
}

/// One schedule of a `getSchedule` answer as busy time in `[from, to)`. A mailbox Graph
/// cannot answer for comes back inside the HTTP 200, as `error`.
///
/// Every item whose status is not `free` is busy: `busy`, `tentative`, `oof` (out of office),
/// `workingElsewhere` and `unknown`. That is the rule of the cache ([`classify`] drops only
/// what shows as free, or is cancelled, which Graph leaves out of a schedule), so a check
/// compares like with like; and none of those times can be offered to someone else: a
/// tentative hold or an absence is not free time.
fn schedule_busy(
    schedule: ScheduleInformation,
    from: i64,
    to: i64,
) -> Result<Vec<Interval>, CalendarError> {
    if let Some(error) = schedule.error {
        let what = format!(
            "Graph's getSchedule: {} {}",
            error.response_code,
            first_line(&error.message)
        );
        return Err(match error.response_code.as_str() {
            "ErrorNoFreeBusyAccess" | "ErrorAccessDenied" => CalendarError::Unauthorized(format!(
                "{what}; the account or the application lacks a calendar permission"
            )),
            code if code.contains("NotFound") || code == "ErrorInvalidRecipients" => {
                CalendarError::NotFound(what)
            }
            _ => CalendarError::Provider(what),
        });
    }
    let mut busy = Vec::new();
    for item in schedule.schedule_items {
        if item.status == "free" {
            continue;
        }
        let (start, end) = (
            item.start.epoch("(schedule item)")?,
            item.end.epoch("(schedule item)")?,
        );
        busy.extend(Interval::new(start, end).and_then(|i| i.clip(from, to)));
    }
    Ok(merge(busy))
}

/// `epoch` as a `dateTimeTimeZone` in UTC (`{"dateTime": "2026-05-01T00:00:00", "timeZone": "UTC"}`).
fn utc_wall_clock(epoch: i64) -> Result<Value, CalendarError> {
    let at = DateTime::<Utc>::from_timestamp(epoch, 0)
        .ok_or_else(|| CalendarError::Invalid(format!("{epoch} is not a representable instant")))?;
    Ok(json!({
        "dateTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "timeZone": "UTC",
    }))
}

/// `epoch` as Graph's query parameters want it (`2026-05-01T00:00:00Z`).
fn instant(epoch: i64) -> Result<String, CalendarError> {
    DateTime::<Utc>::from_timestamp(epoch, 0)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .ok_or_else(|| CalendarError::Invalid(format!("{epoch} is not a representable instant")))
}

/// The expiry to ask for: `wanted`, but no further ahead than Graph allows (less a minute
/// for the request's own way there).
fn subscription_expiry(wanted: i64) -> Result<String, CalendarError> {
    let latest = Utc::now().timestamp() + MAX_SUBSCRIPTION_MINUTES * 60 - 60;
    instant(wanted.min(latest))
}

/// The Graph body of an event: its times as wall-clock time in its own zone (so Outlook
/// shows them there), Teams when asked for.
fn event_body(event: &EventDraft) -> Value {
    let zone = event.time_zone.parse::<Tz>().ok();
    let wall_clock = |epoch: i64| -> Value {
        let at = DateTime::<Utc>::from_timestamp(epoch, 0).unwrap_or_default();
        match zone {
            Some(zone) => json!({
                "dateTime": at.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S").to_string(),
                "timeZone": zone.name(),
            }),
            None => json!({
                "dateTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "timeZone": "UTC",
            }),
        }
    };
    let attendees: Vec<Value> = event
        .attendees
        .iter()
        .map(|address| json!({ "emailAddress": { "address": address }, "type": "required" }))
        .collect();
    let mut body = json!({
        "subject": event.title,
        "body": { "contentType": "text", "content": event.description },
        "start": wall_clock(event.interval.start),
        "end": wall_clock(event.interval.end),
        "attendees": attendees,
        "location": { "displayName": event.location.clone().unwrap_or_default() },
    });
    if event.online_meeting {
        body["isOnlineMeeting"] = json!(true);
        body["onlineMeetingProvider"] = json!("teamsForBusiness");
    }
    body
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn foreign_link() -> CalendarError {
    CalendarError::Invalid("Graph gave a next link outside its own endpoint".into())
}

fn too_many_pages() -> CalendarError {
    CalendarError::Invalid(format!(
        "Graph kept paging past {MAX_PAGES} pages; the calendar is too large to read"
    ))
}

/// The token endpoint's success.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

impl Granted {
    /// The tokens granted; `refresh_token` is kept when no new one came.
    fn into_tokens(self, refresh_token: Option<SecretString>) -> OAuthTokens {
        OAuthTokens {
            access_token: SecretString::from(self.access_token),
            refresh_token: self.refresh_token.map(SecretString::from).or(refresh_token),
            expires_at: self
                .expires_in
                .map(|secs| Utc::now().timestamp() + secs as i64),
        }
    }
}

/// The token endpoint's refusal (`{"error", "error_description"}`).
#[derive(Deserialize, Default)]
struct OAuthRefusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphErrorDetail,
}

#[derive(Deserialize, Default)]
struct GraphErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct DeltaPage {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaEvent {
    id: String,
    #[serde(rename = "@removed")]
    removed: Option<Value>,
    #[serde(default)]
    is_cancelled: bool,
    show_as: Option<String>,
    start: Option<GraphTime>,
    end: Option<GraphTime>,
    subject: Option<String>,
    organizer: Option<GraphRecipient>,
    #[serde(default)]
    attendees: Vec<GraphAttendee>,
    series_master_id: Option<String>,
    sensitivity: Option<String>,
}

/// Graph's `recipient`: `{"emailAddress": {"name", "address"}}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphRecipient {
    #[serde(default)]
    email_address: GraphEmailAddress,
}

#[derive(Deserialize, Default)]
struct GraphEmailAddress {
    name: Option<String>,
    address: Option<String>,
}

/// Graph's `attendee`: a recipient, its kind (`required`, `optional`, `resource`) and answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphAttendee {
    #[serde(default)]
    email_address: GraphEmailAddress,
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<GraphResponse>,
}

/// Graph's `responseStatus`.
#[derive(Deserialize)]
struct GraphResponse {
    response: Option<String>,
}

/// Graph's `dateTimeTimeZone`: wall-clock time and the zone it is in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphTime {
    date_time: String,
    time_zone: Option<String>,
}

impl GraphTime {
    /// Seconds since the epoch. Times come in UTC (asked for with `Prefer`); an IANA zone is
    /// understood too, anything else is refused rather than guessed.
    fn epoch(&self, event_id: &str) -> Result<i64, CalendarError> {
        let unreadable = || {
            CalendarError::Invalid(format!(
                "the Graph event {event_id} has an unreadable time {:?} ({:?})",
                self.date_time, self.time_zone
            ))
        };
        let wall_clock = NaiveDateTime::parse_from_str(&self.date_time, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| unreadable())?;
        match self.time_zone.as_deref().unwrap_or("UTC") {
            "UTC" | "Etc/UTC" | "tzone://Microsoft/Utc" | "Coordinated Universal Time" => {
                Ok(wall_clock.and_utc().timestamp())
            }
            zone => {
                let zone: Tz = zone.parse().map_err(|_| unreadable())?;
                zone.from_local_datetime(&wall_clock)
                    .earliest()
                    .map(|at| at.timestamp())
                    .ok_or_else(unreadable)
            }
        }
    }
}

/// `getSchedule`'s answer: one `scheduleInformation` per mailbox asked about.
#[derive(Deserialize)]
struct ScheduleAnswer {
    #[serde(default)]
    value: Vec<ScheduleInformation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleInformation {
    #[serde(default)]
    schedule_id: String,
    #[serde(default)]
    schedule_items: Vec<ScheduleItem>,
    error: Option<FreeBusyError>,
}

/// Graph's `scheduleItem` (its subject and location, when shared, are not read).
#[derive(Deserialize)]
struct ScheduleItem {
    #[serde(default)]
    status: String,
    start: GraphTime,
    end: GraphTime,
}

/// Graph's `freeBusyError`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FreeBusyError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    response_code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenEvent {
    id: String,
    online_meeting: Option<OnlineMeeting>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnlineMeeting {
    join_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscription {
    id: String,
    expiration_date_time: String,
}

impl Subscription {
    fn into_watch(self) -> Result<Watch, CalendarError> {
        let expires_at = DateTime::parse_from_rfc3339(&self.expiration_date_time)
            .map_err(|_| {
                CalendarError::Invalid(format!(
                    "the subscription's expiry {:?} is unreadable",
                    self.expiration_date_time
                ))
            })?
            .timestamp();
        Ok(Watch {
            id: self.id,
            resource_id: None,
            expires_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    id: String,
    mail: Option<String>,
    user_principal_name: Option<String>,
}

#[derive(Deserialize)]
struct RoomPage {
    #[serde(default)]
    value: Vec<Room>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Room {
    email_address: Option<String>,
    display_name: Option<String>,
    capacity: Option<u32>,
    floor_number: Option<i32>,
}

/// `url` parsed, if tokens may be sent to it: https, or http to a loopback address.
fn checked_url(name: &'static str, url: &str) -> Result<Url, MicrosoftSetupError> {
    let refuse = |reason: &str| MicrosoftSetupError::Url {
        name,
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|err| refuse(&err.to_string()))?;
    if parsed.query().is_some() {
        return Err(refuse("it must not have a query"));
    }
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(refuse("it must be https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(date_time: &str, zone: &str) -> GraphTime {
        GraphTime {
            date_time: date_time.into(),
            time_zone: Some(zone.into()),
        }
    }

    #[test]
    fn graph_times_in_utc_and_in_an_iana_zone_are_the_same_instants() {
        let utc = time("2026-03-02T08:00:00.0000000", "UTC")
            .epoch("e")
            .unwrap();
        assert_eq!(utc, 1_772_438_400);
        let berlin = time("2026-03-02T09:00:00", "Europe/Berlin")
            .epoch("e")
            .unwrap();
        assert_eq!(berlin, utc);
        let unknown = time("2026-03-02T09:00:00", "W. Europe Standard Time").epoch("e");
        assert!(matches!(unknown, Err(CalendarError::Invalid(m)) if m.contains("unreadable")));
    }

    #[test]
    fn an_events_subject_organizer_and_attendees_are_read_as_graph_sends_them() {
        let (id, busy) = classify(json!({
            "id": "AAMkAGEv-1", "subject": "Contract review", "isCancelled": false,
            "showAs": "busy",
            "start": {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"},
            "organizer": {"emailAddress": {"name": "Alice Sato", "address": "alice@acme.example"}},
            "attendees": [
                {"type": "resource", "status": {"response": "accepted", "time": "2026-03-01T00:00:00Z"},
                 "emailAddress": {"name": "Reception HQ", "address": "reception-hq@acme.example"}},
                {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                 "emailAddress": {"name": "Taro Yamada", "address": "taro@example.com"}},
                {"type": "optional", "status": {"response": "declined", "time": "2026-03-01T00:00:00Z"},
                 "emailAddress": {"name": "", "address": "hanako@example.com"}},
                {"type": "required", "emailAddress": {"name": "No address"}}
            ]
        }))
        .unwrap();
        assert_eq!(id, "AAMkAGEv-1");
        let (_, details) = busy.expect("busy");
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
                (
                    "reception-hq@acme.example",
                    Some("Reception HQ"),
                    false,
                    true
                ),
                ("taro@example.com", Some("Taro Yamada"), false, false),
                ("hanako@example.com", None, true, false),
            ]
        );
    }

    #[test]
    fn error_answers_become_what_the_engine_acts_on() {
        let body = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        let gone = graph_error(StatusCode::GONE, None, body("SyncStateNotFound").as_bytes());
        assert_eq!(gone, CalendarError::Gone);
        let resync = graph_error(
            StatusCode::BAD_REQUEST,
            None,
            body("resyncRequired").as_bytes(),
        );
        assert_eq!(resync, CalendarError::Gone);
        assert_eq!(
            graph_error(StatusCode::TOO_MANY_REQUESTS, None, b""),
            CalendarError::RateLimited {
                retry_after_secs: DEFAULT_RETRY_AFTER_SECS
            }
        );
        assert_eq!(
            graph_error(StatusCode::SERVICE_UNAVAILABLE, Some(9), b""),
            CalendarError::RateLimited {
                retry_after_secs: 9
            }
        );
        assert!(matches!(
            graph_error(StatusCode::SERVICE_UNAVAILABLE, None, b""),
            CalendarError::Provider(_)
        ));
        assert!(matches!(
            graph_error(StatusCode::NOT_FOUND, None, body("ErrorItemNotFound").as_bytes()),
            CalendarError::NotFound(m) if m.contains("ErrorItemNotFound")
        ));
        assert!(matches!(
            graph_error(StatusCode::FORBIDDEN, None, b"not json"),
            CalendarError::Unauthorized(_)
        ));
    }

    #[test]
    fn a_schedule_graph_cannot_answer_for_is_told_by_its_response_code() {
        let refused = |code: &str| {
            let schedule = serde_json::from_value::<ScheduleInformation>(json!({
                "scheduleId": "room@contoso.test", "availabilityView": "",
                "error": {"message": "m", "responseCode": code}
            }))
            .unwrap();
            schedule_busy(schedule, 0, 3600).unwrap_err()
        };
        assert!(matches!(
            refused("ErrorNoFreeBusyAccess"),
            CalendarError::Unauthorized(_)
        ));
        assert!(matches!(
            refused("ErrorMailRecipientNotFound"),
            CalendarError::NotFound(_)
        ));
        assert!(matches!(
            refused("ErrorProxyRequestProcessingFailed"),
            CalendarError::Provider(_)
        ));
    }

    #[test]
    fn urls_that_would_carry_tokens_in_the_clear_are_refused() {
        assert!(checked_url("Graph", "https://graph.microsoft.com/v1.0").is_ok());
        assert!(checked_url("Graph", "http://127.0.0.1:8080/v1.0").is_ok());
        assert!(checked_url("Graph", "http://graph.example.com/v1.0").is_err());
        assert!(checked_url("Graph", "https://graph.microsoft.com/v1.0?x=1").is_err());
    }

    #[test]
    fn a_subscription_never_asks_for_more_than_graph_allows() {
        let far = Utc::now().timestamp() + 30 * 24 * 3600;
        let asked = DateTime::parse_from_rfc3339(&subscription_expiry(far).unwrap())
            .unwrap()
            .timestamp();
        assert!(asked <= Utc::now().timestamp() + MAX_SUBSCRIPTION_MINUTES * 60);
        assert!(asked > Utc::now().timestamp() + (MAX_SUBSCRIPTION_MINUTES - 5) * 60);
    }
}
