//! A fake of the Google Calendar API and of Google's OAuth endpoints on one loopback port,
//! speaking Google's JSON (errors as `{"error": {"code", "message", "errors": [{"reason"}]}}`).
//!
//! - OAuth: the authorization endpoint (redirects with a code), the token endpoint
//!   (`authorization_code` with the PKCE verifier checked against the challenge,
//!   `refresh_token`, and the service account's JWT bearer grant with its RS256 signature,
//!   `iss`, `aud`, `scope`, `exp` and `sub` checked). API calls need a token it issued.
//! - Events: list (full, in a window, in small pages; or the changes since a sync token, which
//!   [`FakeGoogle::expire_sync_tokens`] invalidates: 410 `fullSyncRequired`), get, insert,
//!   update, patch, delete; a Meet link for `conferenceDataVersion=1` with a `createRequest`.
//! - Free/busy: `freeBusy` answers each calendar asked about with the busy time of the events
//!   it holds (not cancelled, not shown as available, not declined by the calendar's owner),
//!   merged and clipped to the window; an unknown calendar with `errors: [{reason: notFound}]`.
//! - Push channels: `events/watch`, `channels/stop`, and [`FakeGoogle::push`] delivering a
//!   notification with Google's `X-Goog-*` headers.
//! - Trouble ([`Trouble`]): 401, 429 or 403 with `Retry-After`, 500, 410, queued in order.
//!
//! Every request is recorded ([`FakeGoogle::requests`]) and counted per Google method id
//! (`calendar.events.list`, `oauth2.token`…), so a benchmark can report what it cost.
//!
//! The service account's key is a fixed test key checked in beside this file (made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`): `ring` cannot make one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_core::domain::calendar::{Interval, merge};
use frontdesk_core::port::OAuthTokens;
use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::google::{GoogleCalendar, GoogleSettings, ServiceAccount};

/// The OAuth client the fake knows.
pub const CLIENT_ID: &str = "frontdesk-test.apps.googleusercontent.com";
/// Its secret.
pub const CLIENT_SECRET: &str = "fake-google-client-secret";
/// The service account the fake knows (with [`SERVICE_ACCOUNT_KEY`]).
pub const SERVICE_ACCOUNT_EMAIL: &str = "frontdesk@frontdesk-test.iam.gserviceaccount.com";
/// The service account's PKCS#8 key.
pub const SERVICE_ACCOUNT_KEY: &str = include_str!("google_service_account_key.pem");
/// How long the access tokens it issues live (Google's 3599 s).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3599;
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// Google's longest channel for events is about a month.
const MAX_CHANNEL_SECS: i64 = 30 * 24 * 3600;

/// What the fake answers the next API call with, instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// 401 `authError` (the access token expired or was revoked early).
    Unauthorized,
    /// 429 `rateLimitExceeded`, with `Retry-After` when given.
    RateLimited { retry_after: Option<u64> },
    /// 403 `rateLimitExceeded` (how Calendar usually says it), with `Retry-After` when given.
    QuotaExceeded { retry_after: Option<u64> },
    /// 500 `backendError`.
    ServerError,
    /// 410 `fullSyncRequired`.
    Gone,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Google's method id (`calendar.events.insert`), `oauth2.token` or `oauth2.authorize`.
    pub operation: &'static str,
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body, or the form of a token request as an object; `null` when empty.
    pub body: Value,
}

impl Request {
    /// The first query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }
}

/// An event to put in a calendar, in Google's JSON.
#[derive(Debug, Clone)]
pub struct FakeEvent {
    pub id: String,
    pub body: Value,
}

impl FakeEvent {
    /// A busy event from `start` to `end` (seconds since the epoch).
    pub fn timed(id: &str, start: i64, end: i64) -> FakeEvent {
        FakeEvent {
            id: id.into(),
            body: json!({"summary": id, "start": {"dateTime": rfc3339(start)},
                         "end": {"dateTime": rfc3339(end)}}),
        }
    }

    /// An all-day event from `start` to `end` (dates, `end` exclusive: "2026-03-02").
    pub fn all_day(id: &str, start: &str, end: &str) -> FakeEvent {
        FakeEvent {
            id: id.into(),
            body: json!({"summary": id, "start": {"date": start}, "end": {"date": end}}),
        }
    }

    /// Shown as available (`transparency: transparent`).
    pub fn transparent(mut self) -> FakeEvent {
        self.body["transparency"] = json!("transparent");
        self
    }

    /// Titled `summary`.
    pub fn titled(mut self, summary: &str) -> FakeEvent {
        self.body["summary"] = json!(summary);
        self
    }

    /// Organized by `email` (else by the calendar's owner, as Google fills in).
    pub fn organizer(mut self, email: &str) -> FakeEvent {
        self.body["organizer"] = json!({"email": email});
        self
    }

    /// With `attendees` in Google's shape; attendees already there stay.
    pub fn attendees(mut self, attendees: &[FakeAttendee]) -> FakeEvent {
        let mut list = self.body["attendees"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.extend(attendees.iter().map(FakeAttendee::to_json));
        self.body["attendees"] = Value::Array(list);
        self
    }
}

/// Someone (or a room) invited to a [`FakeEvent`].
#[derive(Debug, Clone)]
pub struct FakeAttendee {
    pub email: String,
    pub display_name: Option<String>,
    /// `needsAction`, `accepted`, `declined`, `tentative`.
    pub response_status: &'static str,
    pub resource: bool,
}

impl FakeAttendee {
    /// A person who has not answered yet.
    pub fn person(email: &str, display_name: Option<&str>) -> FakeAttendee {
        FakeAttendee {
            email: email.into(),
            display_name: display_name.map(Into::into),
            response_status: "needsAction",
            resource: false,
        }
    }

    /// A room or other resource (Google lists it with `resource: true`), accepted.
    pub fn resource(email: &str) -> FakeAttendee {
        FakeAttendee {
            email: email.into(),
            display_name: None,
            response_status: "accepted",
            resource: true,
        }
    }

    /// Who answered `status`.
    pub fn answered(mut self, status: &'static str) -> FakeAttendee {
        self.response_status = status;
        self
    }

    fn to_json(&self) -> Value {
        let mut attendee = json!({"email": self.email, "responseStatus": self.response_status});
        if let Some(name) = &self.display_name {
            attendee["displayName"] = json!(name);
        }
        if self.resource {
            attendee["resource"] = json!(true);
        }
        attendee
    }
}

/// An open push channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeChannel {
    pub id: String,
    pub resource_id: String,
    pub calendar_id: String,
    pub address: String,
    pub token: Option<String>,
    /// When it ends, in milliseconds since the epoch.
    pub expiration_ms: i64,
}

#[derive(Debug)]
struct StoredEvent {
    body: Value,
    /// The sync state at its last change.
    changed_at: u64,
}

#[derive(Debug)]
struct PendingCode {
    user: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Debug)]
struct FakeState {
    requests: Vec<Request>,
    counts: BTreeMap<&'static str, usize>,
    trouble: VecDeque<Trouble>,
    /// Calendar id → its IANA zone.
    calendars: BTreeMap<String, String>,
    /// Calendar id → event id → event (cancelled ones stay, for incremental sync).
    events: BTreeMap<String, BTreeMap<String, StoredEvent>>,
    /// Bumped by every change; a sync token names the state it was issued at.
    version: u64,
    /// Bumped by [`FakeGoogle::expire_sync_tokens`]; tokens of an older epoch are refused.
    epoch: u64,
    page_size: usize,
    /// Access token → whose it is.
    access_tokens: HashMap<String, String>,
    refresh_tokens: HashMap<String, String>,
    codes: HashMap<String, PendingCode>,
    channels: BTreeMap<String, FakeChannel>,
    /// Push messages sent per channel.
    messages: HashMap<String, u64>,
    /// For unique ids, tokens, codes and meetings.
    serial: u64,
}

impl FakeState {
    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn zone(&self, calendar: &str) -> Tz {
        self.calendars
            .get(calendar)
            .and_then(|zone| zone.parse().ok())
            .unwrap_or(Tz::UTC)
    }

    fn issue(&mut self, user: &str, with_refresh: bool) -> (String, Option<String>) {
        self.calendars
            .entry(user.to_owned())
            .or_insert_with(|| "UTC".into());
        let n = self.next();
        let access = format!("ya29.fake-{n}");
        self.access_tokens.insert(access.clone(), user.to_owned());
        let refresh = with_refresh.then(|| {
            let refresh = format!("1//fake-refresh-{n}");
            self.refresh_tokens.insert(refresh.clone(), user.to_owned());
            refresh
        });
        (access, refresh)
    }
}

struct Shared {
    state: Mutex<FakeState>,
    address: SocketAddr,
}

/// The fake Google on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeGoogle {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGoogle {
    /// The fake on a free loopback port, with no calendars and pages of 3 events.
    pub async fn start() -> FakeGoogle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            address,
            state: Mutex::new(FakeState {
                requests: Vec::new(),
                counts: BTreeMap::new(),
                trouble: VecDeque::new(),
                calendars: BTreeMap::new(),
                events: BTreeMap::new(),
                version: 1,
                epoch: 1,
                page_size: 3,
                access_tokens: HashMap::new(),
                refresh_tokens: HashMap::new(),
                codes: HashMap::new(),
                channels: BTreeMap::new(),
                messages: HashMap::new(),
                serial: 0,
            }),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGoogle {
            address,
            shared,
            server,
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.shared.state.lock().unwrap()
    }

    /// The Calendar API's base URL (with its trailing slash).
    pub fn api_url(&self) -> String {
        format!("http://{}/calendar/v3/", self.address)
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.address)
    }

    /// The OAuth authorization endpoint.
    pub fn auth_url(&self) -> String {
        format!("http://{}/o/oauth2/v2/auth", self.address)
    }

    /// Settings pointing at this fake, with its client and service account.
    pub fn settings(&self) -> GoogleSettings {
        GoogleSettings {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            api_url: self.api_url(),
            token_url: self.token_url(),
            auth_url: self.auth_url(),
            service_account: Some(ServiceAccount {
                client_email: SERVICE_ACCOUNT_EMAIL.into(),
                private_key_pem: SERVICE_ACCOUNT_KEY.into(),
            }),
        }
    }

    /// The real connector, calling this fake.
    pub fn connector(&self) -> GoogleCalendar {
        GoogleCalendar::new(self.settings()).expect("the fake's settings are valid")
    }

    /// Adds (or re-zones) the calendar `id`, whose all-day events are dates in `time_zone`.
    pub fn add_calendar(&self, id: &str, time_zone: &str) {
        self.state().calendars.insert(id.into(), time_zone.into());
    }

    /// Tokens of `user` as if they had authorized the app (their calendar is created).
    pub fn issue_tokens(&self, user: &str) -> OAuthTokens {
        let (access, refresh) = self.state().issue(user, true);
        OAuthTokens {
            access_token: access.into(),
            refresh_token: refresh.map(Into::into),
            expires_at: Some(Utc::now().timestamp() + ACCESS_TOKEN_LIFETIME_SECS),
        }
    }

    /// What `user` approving the consent screen yields: a code for `redirect_uri`, good
    /// once, with the verifier of `code_challenge` (S256).
    pub fn authorize(&self, user: &str, code_challenge: &str, redirect_uri: &str) -> String {
        let mut state = self.state();
        let code = format!("4/fake-code-{}", state.next());
        state.codes.insert(
            code.clone(),
            PendingCode {
                user: user.into(),
                challenge: code_challenge.into(),
                redirect_uri: redirect_uri.into(),
            },
        );
        code
    }

    /// Revokes every token of `user` (they removed the app's access).
    pub fn revoke(&self, user: &str) {
        let mut state = self.state();
        state.access_tokens.retain(|_, owner| owner != user);
        state.refresh_tokens.retain(|_, owner| owner != user);
    }

    /// Adds or replaces an event (a change incremental sync reports).
    pub fn put_event(&self, calendar: &str, event: FakeEvent) {
        let mut state = self.state();
        state
            .calendars
            .entry(calendar.to_owned())
            .or_insert_with(|| "UTC".into());
        state.version += 1;
        let changed_at = state.version;
        let mut body = event.body;
        complete_event(&mut body, &event.id, calendar);
        state
            .events
            .entry(calendar.to_owned())
            .or_default()
            .insert(event.id, StoredEvent { body, changed_at });
    }

    /// Cancels an event, as its organizer deleting it would.
    pub fn cancel_event(&self, calendar: &str, id: &str) {
        let mut state = self.state();
        state.version += 1;
        let version = state.version;
        if let Some(stored) = state
            .events
            .get_mut(calendar)
            .and_then(|events| events.get_mut(id))
        {
            stored.body["status"] = json!("cancelled");
            stored.changed_at = version;
        }
    }

    /// The event as the fake holds it.
    pub fn event(&self, calendar: &str, id: &str) -> Option<Value> {
        self.state()
            .events
            .get(calendar)?
            .get(id)
            .map(|stored| stored.body.clone())
    }

    /// Every sync token issued so far stops working (410 `fullSyncRequired`).
    pub fn expire_sync_tokens(&self) {
        self.state().epoch += 1;
    }

    /// How many events a page holds at most.
    pub fn set_page_size(&self, events: usize) {
        self.state().page_size = events.max(1);
    }

    /// The next API calls meet `trouble`, in order (the token endpoint is not affected).
    pub fn trouble(&self, trouble: impl IntoIterator<Item = Trouble>) {
        self.state().trouble.extend(trouble);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// The requests of one operation (`calendar.events.list`).
    pub fn requests_of(&self, operation: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|request| request.operation == operation)
            .collect()
    }

    /// How many requests of `operation` arrived.
    pub fn count(&self, operation: &str) -> usize {
        self.state().counts.get(operation).copied().unwrap_or(0)
    }

    /// Requests per operation.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.state().counts.clone()
    }

    /// How many requests arrived in all.
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// The open push channels.
    pub fn channels(&self) -> Vec<FakeChannel> {
        self.state().channels.values().cloned().collect()
    }

    /// Delivers an `exists` notification on the channel, as Google does after a change;
    /// the receiver's HTTP status, or why there was none.
    pub async fn push(&self, channel_id: &str) -> Result<u16, String> {
        let (channel, number) = {
            let mut state = self.state();
            let channel = state
                .channels
                .get(channel_id)
                .cloned()
                .ok_or_else(|| format!("no open channel {channel_id}"))?;
            let number = state.messages.entry(channel_id.to_owned()).or_insert(0);
            *number += 1;
            (channel, *number)
        };
        let expiration = DateTime::from_timestamp_millis(channel.expiration_ms)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut request = reqwest::Client::new()
            .post(&channel.address)
            .header("X-Goog-Channel-ID", &channel.id)
            .header("X-Goog-Resource-ID", &channel.resource_id)
            .header(
                "X-Goog-Resource-URI",
                resource_uri(&self.api_url(), &channel.calendar_id),
            )
            .header("X-Goog-Resource-State", "exists")
            .header("X-Goog-Message-Number", number.to_string())
            .header("X-Goog-Channel-Expiration", expiration);
        if let Some(token) = &channel.token {
            request = request.header("X-Goog-Channel-Token", token);
        }
        let response = request.send().await.map_err(|err| err.to_string())?;
        Ok(response.status().as_u16())
    }
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn resource_uri(api_url: &str, calendar: &str) -> String {
    format!("{api_url}calendars/{calendar}/events?alt=json")
}

/// The read-only fields Google fills in.
fn complete_event(body: &mut Value, id: &str, calendar: &str) {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    body["kind"] = json!("calendar#event");
    body["id"] = json!(id);
    body["etag"] = json!(format!("\"{}\"", Utc::now().timestamp_micros()));
    if body.get("status").is_none() {
        body["status"] = json!("confirmed");
    }
    if body.get("created").is_none() {
        body["created"] = json!(now);
    }
    body["updated"] = json!(now);
    body["htmlLink"] = json!(format!("https://www.google.com/calendar/event?eid={id}"));
    body["iCalUID"] = json!(format!("{id}@google.com"));
    if body.get("organizer").is_none_or(Value::is_null) {
        body["organizer"] = json!({"email": calendar, "self": true});
    }
    // Google marks the organizer's and the calendar owner's own entries among the attendees.
    let organizer = body["organizer"]["email"].clone();
    if let Some(attendees) = body.get_mut("attendees").and_then(Value::as_array_mut) {
        for attendee in attendees {
            if attendee["email"] == organizer {
                attendee["organizer"] = json!(true);
            }
            if attendee["email"] == calendar {
                attendee["self"] = json!(true);
            }
        }
    }
}

/// A Google error answer.
fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"code": status.as_u16(), "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}]}}),
        ),
    )
        .into_response()
}

/// An OAuth error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn trouble_answer(trouble: Trouble) -> Response {
    let with_retry = |mut response: Response, retry_after: Option<u64>| {
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
        }
        response
    };
    match trouble {
        Trouble::Unauthorized => {
            google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials")
        }
        Trouble::RateLimited { retry_after } => with_retry(
            google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            ),
            retry_after,
        ),
        Trouble::QuotaExceeded { retry_after } => with_retry(
            google_error(
                StatusCode::FORBIDDEN,
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            ),
            retry_after,
        ),
        Trouble::ServerError => google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "backendError",
            "Backend Error",
        ),
        Trouble::Gone => sync_token_gone(),
    }
}

fn sync_token_gone() -> Response {
    google_error(
        StatusCode::GONE,
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
    )
}

/// `%XX` decoded (paths carry calendar ids with `@`, maybe encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every request: routed by method and path, recorded, then answered.
async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
        .collect();
    let path = format!("/{}", segments.join("/"));
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let is_form = matches!(segments.as_slice(), ["token"]);
    let body_value = if body.is_empty() {
        Value::Null
    } else if is_form {
        Value::Object(
            url::form_urlencoded::parse(&body)
                .into_owned()
                .map(|(key, value)| (key, Value::String(value)))
                .collect(),
        )
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(err) => {
                return google_error(StatusCode::BAD_REQUEST, "parseError", &err.to_string());
            }
        }
    };
    let operation = operation(&method, &segments);
    let mut state = shared.state.lock().unwrap();
    state.requests.push(Request {
        operation,
        method: method.to_string(),
        path,
        query: query.clone(),
        authorization: authorization.clone(),
        body: body_value.clone(),
    });
    *state.counts.entry(operation).or_default() += 1;
    let api = Api {
        state: &mut state,
        query: &query,
        body: body_value,
        api_url: format!("http://{}/calendar/v3/", shared.address),
        token_url: format!("http://{}/token", shared.address),
    };
    match (operation, segments.as_slice()) {
        ("oauth2.token", _) => api.token(),
        ("oauth2.authorize", _) => api.authorize(),
        ("unknown", _) => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
        (_, rest) => {
            let rest: Vec<&str> = rest.iter().skip(2).copied().collect();
            api.calendar_api(operation, &rest, authorization.as_deref())
        }
    }
}

/// The Google method id of a request.
fn operation(method: &Method, segments: &[&str]) -> &'static str {
    match (method.as_str(), segments) {
        ("POST", ["token"]) => "oauth2.token",
        ("GET", ["o", "oauth2", "v2", "auth"]) => "oauth2.authorize",
        ("GET", ["calendar", "v3", "calendars", _]) => "calendar.calendars.get",
        ("GET", ["calendar", "v3", "users", "me", "calendarList", _]) => {
            "calendar.calendarList.get"
        }
        ("GET", ["calendar", "v3", "calendars", _, "events"]) => "calendar.events.list",
        ("POST", ["calendar", "v3", "calendars", _, "events"]) => "calendar.events.insert",
        ("POST", ["calendar", "v3", "calendars", _, "events", "watch"]) => "calendar.events.watch",
        ("GET", ["calendar", "v3", "calendars", _, "events", _]) => "calendar.events.get",
        ("PUT", ["calendar", "v3", "calendars", _, "events", _]) => "calendar.events.update",
        ("PATCH", ["calendar", "v3", "calendars", _, "events", _]) => "calendar.events.patch",
        ("DELETE", ["calendar", "v3", "calendars", _, "events", _]) => "calendar.events.delete",
        ("POST", ["calendar", "v3", "channels", "stop"]) => "calendar.channels.stop",
        ("POST", ["calendar", "v3", "freeBusy"]) => "calendar.freebusy.query",
        _ => "unknown",
    }
}

/// One request being answered, with the fake's state locked.
struct Api<'a> {
    state: &'a mut FakeState,
    query: &'a [(String, String)],
    body: Value,
    api_url: String,
    token_url: String,
}

impl Api<'_> {
    fn form(&self, name: &str) -> &str {
        self.body[name].as_str().unwrap_or_default()
    }

    fn token(self) -> Response {
        let grant = self.form("grant_type").to_owned();
        if grant != JWT_BEARER_GRANT
            && (self.form("client_id") != CLIENT_ID || self.form("client_secret") != CLIENT_SECRET)
        {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            );
        }
        match grant.as_str() {
            "authorization_code" => self.code_grant(),
            "refresh_token" => {
                let refresh_token = self.form("refresh_token");
                let Some(user) = self.state.refresh_tokens.get(refresh_token).cloned() else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Token has been expired or revoked.",
                    );
                };
                let (access, _) = self.state.issue(&user, false);
                token_answer(&access, None)
            }
            JWT_BEARER_GRANT => self.jwt_grant(),
            _ => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type.",
            ),
        }
    }

    fn code_grant(self) -> Response {
        let code = self.form("code").to_owned();
        let Some(pending) = self.state.codes.remove(&code) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Malformed auth code.",
            );
        };
        if pending.redirect_uri != self.form("redirect_uri") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "Bad Request",
            );
        }
        let verified = URL_SAFE_NO_PAD.encode(Sha256::digest(self.form("code_verifier")));
        if verified != pending.challenge {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid code verifier.",
            );
        }
        let (access, refresh) = self.state.issue(&pending.user, true);
        token_answer(&access, refresh.as_deref())
    }

    fn jwt_grant(self) -> Response {
        let refuse = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
        let assertion = self.form("assertion");
        let parts: Vec<&str> = assertion.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return refuse("Invalid JWT: not three parts.");
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        };
        let (Some(header), Some(claims), Ok(signature)) = (
            decode(header),
            decode(claims),
            URL_SAFE_NO_PAD.decode(signature),
        ) else {
            return refuse("Invalid JWT: undecodable.");
        };
        if header["alg"] != "RS256" {
            return refuse("Invalid JWT: the algorithm must be RS256.");
        }
        let key = service_account_key();
        let signed = format!("{}.{}", parts[0], parts[1]);
        if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
            .verify(signed.as_bytes(), &signature)
            .is_err()
        {
            return refuse("Invalid JWT Signature.");
        }
        let now = Utc::now().timestamp();
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap_or_default(),
            claims["exp"].as_i64().unwrap_or_default(),
        );
        if claims["iss"] != SERVICE_ACCOUNT_EMAIL {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            );
        }
        if claims["aud"] != self.token_url.as_str() {
            return refuse(
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
            );
        }
        if iat > now + 60 || exp <= now || exp - iat > 3600 {
            return refuse(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            );
        }
        if !claims["scope"]
            .as_str()
            .is_some_and(|scope| scope.split(' ').any(|s| s == CALENDAR_SCOPE))
        {
            return refuse("Invalid JWT: the calendar scope is missing.");
        }
        let Some(subject) = claims["sub"].as_str().filter(|sub| sub.contains('@')) else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
            );
        };
        let (access, _) = self.state.issue(subject, false);
        token_answer(&access, None)
    }

    /// The consent screen, approved at once by `login_hint`: back to the redirect URI.
    fn authorize(self) -> Response {
        let query = self.query;
        let Some(redirect_uri) = param(query, "redirect_uri") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing redirect_uri.",
            );
        };
        if param(query, "client_id") != Some(CLIENT_ID)
            || param(query, "response_type") != Some("code")
            || param(query, "code_challenge_method") != Some("S256")
        {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Bad Request");
        }
        let (Some(challenge), Some(user)) =
            (param(query, "code_challenge"), param(query, "login_hint"))
        else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Bad Request");
        };
        let code = format!("4/fake-code-{}", self.state.next());
        self.state.codes.insert(
            code.clone(),
            PendingCode {
                user: user.into(),
                challenge: challenge.into(),
                redirect_uri: redirect_uri.into(),
            },
        );
        let mut location = match url::Url::parse(redirect_uri) {
            Ok(url) => url,
            Err(_) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Bad redirect_uri.",
                );
            }
        };
        location.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = param(query, "state") {
            location.query_pairs_mut().append_pair("state", state);
        }
        (
            StatusCode::FOUND,
            [(header::LOCATION, location.to_string())],
        )
            .into_response()
    }

    /// `rest`: the path after `/calendar/v3`.
    fn calendar_api(
        mut self,
        operation: &'static str,
        rest: &[&str],
        authorization: Option<&str>,
    ) -> Response {
        if let Some(trouble) = self.state.trouble.pop_front() {
            return trouble_answer(trouble);
        }
        let Some(user) = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .and_then(|token| self.state.access_tokens.get(token))
            .cloned()
        else {
            return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
        };
        match operation {
            "calendar.channels.stop" => return self.stop_channel(),
            "calendar.freebusy.query" => return self.free_busy(),
            _ => {}
        }
        // `calendars/{id}/…` or `users/me/calendarList/{id}`.
        let named = if rest.first() == Some(&"users") {
            rest.get(3)
        } else {
            rest.get(1)
        };
        let calendar = match named.copied() {
            Some("primary") => user,
            Some(calendar) => calendar.to_owned(),
            None => return google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
        };
        let Some(zone) = self.state.calendars.get(&calendar).cloned() else {
            return google_error(StatusCode::NOT_FOUND, "notFound", "Not Found");
        };
        match operation {
            "calendar.calendars.get" => axum::Json(json!({"kind": "calendar#calendar",
                "etag": "\"fake\"", "id": calendar, "summary": calendar, "timeZone": zone}))
            .into_response(),
            "calendar.calendarList.get" => axum::Json(json!({"kind": "calendar#calendarListEntry",
                "etag": "\"fake\"", "id": calendar, "summary": calendar, "timeZone": zone,
                "accessRole": "owner", "primary": true}))
            .into_response(),
            "calendar.events.list" => self.list(&calendar),
            "calendar.events.insert" => {
                let id = format!("fdk{:06}", self.state.next());
                self.write(&calendar, &id, None)
            }
            "calendar.events.watch" => self.watch(&calendar),
            _ => {
                let id = rest.get(3).copied().unwrap_or_default().to_owned();
                let current = self
                    .state
                    .events
                    .get(&calendar)
                    .and_then(|events| events.get(&id))
                    .map(|stored| stored.body.clone());
                let Some(current) = current else {
                    return google_error(StatusCode::NOT_FOUND, "notFound", "Not Found");
                };
                let deleted = current["status"] == "cancelled";
                match operation {
                    "calendar.events.get" => axum::Json(current).into_response(),
                    _ if deleted => {
                        google_error(StatusCode::GONE, "deleted", "Resource has been deleted")
                    }
                    "calendar.events.update" => self.write(&calendar, &id, Some(current)),
                    "calendar.events.patch" => {
                        let mut merged = current.clone();
                        if let (Some(merged), Some(changes)) =
                            (merged.as_object_mut(), self.body.as_object())
                        {
                            for (key, value) in changes {
                                merged.insert(key.clone(), value.clone());
                            }
                        }
                        self.body = merged;
                        self.write(&calendar, &id, Some(current))
                    }
                    _ => {
                        self.state.version += 1;
                        let version = self.state.version;
                        if let Some(stored) = self
                            .state
                            .events
                            .get_mut(&calendar)
                            .and_then(|events| events.get_mut(&id))
                        {
                            stored.body["status"] = json!("cancelled");
                            stored.changed_at = version;
                        }
                        StatusCode::NO_CONTENT.into_response()
                    }
                }
            }
        }
    }

    /// Stores the request's event as `id` (replacing `previous`), with its Meet link.
    fn write(self, calendar: &str, id: &str, previous: Option<Value>) -> Response {
        let mut body = self.body;
        if !body.is_object() || body["start"].is_null() || body["end"].is_null() {
            return google_error(StatusCode::BAD_REQUEST, "required", "Missing end time.");
        }
        let with_conferences = param(self.query, "conferenceDataVersion") == Some("1");
        let previous_data = previous
            .as_ref()
            .map(|previous| previous["conferenceData"].clone())
            .unwrap_or(Value::Null);
        if !with_conferences {
            // Google leaves conference data alone unless the client says it understands it.
            body["conferenceData"] = previous_data;
        } else if let Some(request_id) = body["conferenceData"]["createRequest"]["requestId"]
            .as_str()
            .map(str::to_owned)
        {
            let known = previous_data["createRequest"]["requestId"] == request_id.as_str();
            if known {
                body["conferenceData"] = previous_data;
            } else if body["conferenceData"]["createRequest"]["conferenceSolutionKey"]["type"]
                != "hangoutsMeet"
            {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "Invalid conference type value.",
                );
            } else {
                let code = meeting_code(self.state.next());
                let uri = format!("https://meet.google.com/{code}");
                body["conferenceData"] = json!({
                    "createRequest": {"requestId": request_id,
                        "conferenceSolutionKey": {"type": "hangoutsMeet"},
                        "status": {"statusCode": "success"}},
                    "entryPoints": [{"entryPointType": "video", "uri": uri,
                        "label": format!("meet.google.com/{code}")}],
                    "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
                    "conferenceId": code,
                });
            }
        }
        let meeting = body["conferenceData"]["entryPoints"]
            .as_array()
            .and_then(|entries| {
                entries
                    .iter()
                    .find(|entry| entry["entryPointType"] == "video")
            })
            .and_then(|entry| entry["uri"].as_str())
            .map(str::to_owned);
        if let Some(object) = body.as_object_mut() {
            if body_is_null(object.get("conferenceData")) {
                object.remove("conferenceData");
            }
            match meeting {
                Some(uri) => {
                    object.insert("hangoutLink".into(), json!(uri));
                }
                None => {
                    object.remove("hangoutLink");
                }
            }
            if let Some(created) = previous.as_ref().and_then(|p| p.get("created")) {
                object.insert("created".into(), created.clone());
            }
            object.remove("status");
        }
        complete_event(&mut body, id, calendar);
        self.state.version += 1;
        let changed_at = self.state.version;
        self.state
            .events
            .entry(calendar.to_owned())
            .or_default()
            .insert(
                id.to_owned(),
                StoredEvent {
                    body: body.clone(),
                    changed_at,
                },
            );
        axum::Json(body).into_response()
    }

    fn list(self, calendar: &str) -> Response {
        let query = self.query;
        let state = self.state;
        let zone = state.zone(calendar);
        let events: Vec<&StoredEvent> = state
            .events
            .get(calendar)
            .map(|events| events.values().collect())
            .unwrap_or_default();
        let page_size = param(query, "maxResults")
            .and_then(|max| max.parse::<usize>().ok())
            .unwrap_or(250)
            .clamp(1, 2500)
            .min(state.page_size);
        let chosen: Vec<Value> = if let Some(token) = param(query, "syncToken") {
            for refused in [
                "timeMin",
                "timeMax",
                "updatedMin",
                "orderBy",
                "q",
                "iCalUID",
            ] {
                if param(query, refused).is_some() {
                    return google_error(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        &format!("Sync token cannot be used with {refused}."),
                    );
                }
            }
            let since = token
                .strip_prefix("fake-sync.")
                .and_then(|rest| rest.split_once('.'))
                .and_then(|(epoch, version)| {
                    Some((epoch.parse::<u64>().ok()?, version.parse::<u64>().ok()?))
                });
            let Some(since) = since
                .filter(|(epoch, _)| *epoch == state.epoch)
                .map(|(_, v)| v)
            else {
                return sync_token_gone();
            };
            events
                .iter()
                .filter(|stored| stored.changed_at > since)
                .map(|stored| {
                    if stored.body["status"] == "cancelled" {
                        json!({"kind": "calendar#event", "id": stored.body["id"],
                               "status": "cancelled"})
                    } else {
                        stored.body.clone()
                    }
                })
                .collect()
        } else {
            let show_deleted = param(query, "showDeleted") == Some("true");
            let bound = |name: &str| {
                param(query, name)
                    .map(|at| DateTime::parse_from_rfc3339(at).map(|at| at.timestamp()))
            };
            let (from, to) = match (bound("timeMin"), bound("timeMax")) {
                (Some(Err(_)), _) | (_, Some(Err(_))) => {
                    return google_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
                }
                (from, to) => (
                    from.and_then(Result::ok).unwrap_or(i64::MIN),
                    to.and_then(Result::ok).unwrap_or(i64::MAX),
                ),
            };
            events
                .iter()
                .filter(|stored| show_deleted || stored.body["status"] != "cancelled")
                .filter(|stored| {
                    event_span(&stored.body, zone)
                        .is_some_and(|(start, end)| end > from && start < to)
                })
                .map(|stored| stored.body.clone())
                .collect()
        };
        let offset = match param(query, "pageToken") {
            None => 0,
            Some(token) => match token
                .strip_prefix("fake-page.")
                .and_then(|n| n.parse().ok())
            {
                Some(offset) => offset,
                None => {
                    return google_error(StatusCode::BAD_REQUEST, "invalid", "Invalid page token.");
                }
            },
        };
        let items: Vec<Value> = chosen
            .iter()
            .skip(offset)
            .take(page_size)
            .cloned()
            .collect();
        let mut page = json!({"kind": "calendar#events", "etag": "\"fake\"", "summary": calendar,
            "updated": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "timeZone": zone.name(), "accessRole": "owner", "defaultReminders": [],
            "items": items});
        if offset + page_size < chosen.len() {
            page["nextPageToken"] = json!(format!("fake-page.{}", offset + page_size));
        } else {
            page["nextSyncToken"] = json!(format!("fake-sync.{}.{}", state.epoch, state.version));
        }
        axum::Json(page).into_response()
    }

    /// `freeBusy`: the busy periods of each calendar in `items` between `timeMin` and
    /// `timeMax`, as Google computes them from the calendar's events.
    fn free_busy(self) -> Response {
        let bound = |name: &str| {
            self.body[name]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.timestamp())
        };
        let (Some(from), Some(to)) = (bound("timeMin"), bound("timeMax")) else {
            return google_error(
                StatusCode::BAD_REQUEST,
                "required",
                "Missing timeMin or timeMax parameter.",
            );
        };
        if to <= from {
            return google_error(
                StatusCode::BAD_REQUEST,
                "timeRangeEmpty",
                "The specified time range is empty.",
            );
        }
        let mut calendars = Map::new();
        for id in self.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["id"].as_str())
        {
            let answer = if self.state.calendars.contains_key(id) {
                let periods: Vec<Value> = busy_periods(self.state, id, from, to)
                    .into_iter()
                    .map(|busy| json!({"start": rfc3339(busy.start), "end": rfc3339(busy.end)}))
                    .collect();
                json!({ "busy": periods })
            } else {
                json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
            };
            calendars.insert(id.to_owned(), answer);
        }
        axum::Json(
            json!({"kind": "calendar#freeBusy", "timeMin": rfc3339(from),
            "timeMax": rfc3339(to), "calendars": calendars}),
        )
        .into_response()
    }

    fn watch(self, calendar: &str) -> Response {
        let body = &self.body;
        let (Some(id), Some(address)) = (body["id"].as_str(), body["address"].as_str()) else {
            return google_error(StatusCode::BAD_REQUEST, "required", "Required");
        };
        if !matches!(body["type"].as_str(), Some("web_hook" | "webhook")) {
            return google_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid value for: web_hook is the only supported type",
            );
        }
        if self.state.channels.contains_key(id) {
            return google_error(
                StatusCode::BAD_REQUEST,
                "channelIdNotUnique",
                &format!("Channel id {id} not unique"),
            );
        }
        let now_ms = Utc::now().timestamp_millis();
        let longest = now_ms + MAX_CHANNEL_SECS * 1000;
        let expiration_ms = body["expiration"]
            .as_str()
            .and_then(|ms| ms.parse::<i64>().ok())
            .or_else(|| body["expiration"].as_i64())
            .map_or(now_ms + 7 * 24 * 3600 * 1000, |ms| ms.min(longest));
        let channel = FakeChannel {
            id: id.to_owned(),
            resource_id: format!("fake-resource-{}", URL_SAFE_NO_PAD.encode(calendar)),
            calendar_id: calendar.to_owned(),
            address: address.to_owned(),
            token: body["token"].as_str().map(str::to_owned),
            expiration_ms,
        };
        let answer = json!({"kind": "api#channel", "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": resource_uri(&self.api_url, calendar),
            "token": channel.token, "expiration": expiration_ms.to_string()});
        self.state.channels.insert(channel.id.clone(), channel);
        axum::Json(answer).into_response()
    }

    fn stop_channel(self) -> Response {
        let id = self.body["id"].as_str().unwrap_or_default();
        let resource = self.body["resourceId"].as_str();
        match self.state.channels.get(id) {
            Some(channel) if Some(channel.resource_id.as_str()) == resource => {
                self.state.channels.remove(id);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => google_error(
                StatusCode::NOT_FOUND,
                "notFound",
                &format!("Channel '{id}' not found for project 'frontdesk-test'"),
            ),
        }
    }
}

fn body_is_null(value: Option<&Value>) -> bool {
    value.is_none_or(Value::is_null)
}

/// A Meet code like Google's (`abc-defg-hij`), from a serial number.
fn meeting_code(n: u64) -> String {
    let letters: Vec<char> = (0..10)
        .map(|i| (b'a' + ((n / 26u64.pow(i % 4) + u64::from(i)) % 26) as u8) as char)
        .collect();
    let text: String = letters.into_iter().collect();
    format!("{}-{}-{}", &text[0..3], &text[3..7], &text[7..10])
}

/// The busy time of `calendar`'s events in `[from, to)`, merged: what is neither cancelled,
/// nor shown as available, nor declined by the calendar's owner.
fn busy_periods(state: &FakeState, calendar: &str, from: i64, to: i64) -> Vec<Interval> {
    let zone = state.zone(calendar);
    let busy = state
        .events
        .get(calendar)
        .into_iter()
        .flat_map(|events| events.values())
        .map(|stored| &stored.body)
        .filter(|body| body["status"] != "cancelled" && body["transparency"] != "transparent")
        .filter(|body| {
            !body["attendees"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|attendee| {
                    attendee["self"] == true && attendee["responseStatus"] == "declined"
                })
        })
        .filter_map(|body| {
            let (start, end) = event_span(body, zone)?;
            Interval::new(start, end)?.clip(from, to)
        })
        .collect();
    merge(busy)
}

/// An event's span in seconds; a date is midnight in `zone`.
fn event_span(body: &Value, zone: Tz) -> Option<(i64, i64)> {
    let moment = |at: &Value| -> Option<i64> {
        if let Some(instant) = at["dateTime"].as_str() {
            return DateTime::parse_from_rfc3339(instant)
                .ok()
                .map(|at| at.timestamp());
        }
        let date = NaiveDate::parse_from_str(at["date"].as_str()?, "%Y-%m-%d").ok()?;
        zone.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|at| at.timestamp())
    };
    Some((moment(&body["start"])?, moment(&body["end"])?))
}

fn token_answer(access: &str, refresh: Option<&str>) -> Response {
    let mut answer = Map::new();
    answer.insert("access_token".into(), json!(access));
    answer.insert("expires_in".into(), json!(ACCESS_TOKEN_LIFETIME_SECS));
    answer.insert("token_type".into(), json!("Bearer"));
    answer.insert("scope".into(), json!(CALENDAR_SCOPE));
    if let Some(refresh) = refresh {
        answer.insert("refresh_token".into(), json!(refresh));
    }
    axum::Json(Value::Object(answer)).into_response()
}

fn service_account_key() -> RsaKeyPair {
    let der: String = SERVICE_ACCOUNT_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(der).expect("the test key is base64"))
        .expect("the test key is an RSA PKCS#8 key")
}
