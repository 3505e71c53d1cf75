//! A fake of Microsoft Graph and of the Microsoft identity platform's OAuth endpoints, on a
//! loopback port, for tests of the Microsoft 365 connector (and of whatever drives it).
//!
//! It speaks Graph's JSON, errors included (`{"error": {"code", "message"}}`, 401, 410,
//! 429 with `Retry-After`, 5xx), checks bearer tokens, client secrets and PKCE, pages
//! `calendarView/delta` in small pages with delta links that return only what changed
//! since, answers `calendar/getSchedule` from the events it holds, and performs the
//! subscription validation handshake against the test's own receiver before a subscription
//! exists. It records every request and stops when dropped.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_core::port::OAuthTokens;
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::microsoft::MicrosoftSettings;

/// The application the fake knows.
pub const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
/// Its client secret.
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The fake's tenant.
pub const TENANT_ID: &str = "contoso-tenant";
/// The user every fake starts with.
pub const ALICE_ID: &str = "48d31887-5fad-4d73-a9f5-3c356e68a038";
pub const ALICE_MAIL: &str = "alice@contoso.test";
/// How long the tokens the fake issues last, in seconds.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// How long the fake waits for a validation answer, as Graph does.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the fake answers the next Graph request with, instead of the real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// 401 `InvalidAuthenticationToken`.
    Unauthorized,
    /// 429 `TooManyRequests`, with `Retry-After` when given.
    RateLimited { retry_after: Option<u64> },
    /// 503 `ServiceNotAvailable`, with `Retry-After` when given.
    Unavailable { retry_after: Option<u64> },
    /// 410 `SyncStateNotFound`.
    Gone,
    /// 500 `generalException`.
    ServerError,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded (`/v1.0/me/calendarView/delta()`, `/{tenant}/oauth2/v2.0/token`).
    pub path: String,
    /// The raw query string, if any.
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: String,
    /// The `Prefer` header, if any.
    pub prefer: String,
    /// The JSON body (or the form of a token request, as an object); `null` when empty.
    pub body: Value,
    /// The status the fake answered with (0 while it is still answering).
    pub status: u16,
}

/// A live subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub resource: String,
    pub change_type: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// The mailbox whose events it watches.
    mailbox: String,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    mail: String,
    display_name: String,
}

#[derive(Debug, Clone)]
struct Room {
    mail: String,
    display_name: String,
    capacity: u32,
    floor: i32,
}

#[derive(Debug, Clone)]
struct Event {
    id: String,
    /// The owner's user id.
    mailbox: String,
    subject: String,
    body: Value,
    start: i64,
    end: i64,
    show_as: String,
    is_cancelled: bool,
    deleted: bool,
    online_provider: Option<String>,
    join_url: Option<String>,
    attendees: Value,
    /// A `recipient`: the mailbox's owner unless changed.
    organizer: Value,
    location: Value,
    /// The change sequence number of its last change.
    version: u64,
}

/// Who a token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    User(String),
    App,
}

#[derive(Debug)]
struct Code {
    user: String,
    challenge: String,
    redirect_uri: String,
}

/// A delta query's position: the changes after `seq` touching the window.
#[derive(Debug, Clone)]
struct DeltaState {
    mailbox: String,
    seq: u64,
    start: i64,
    end: i64,
}

/// The rest of a paged delta answer.
#[derive(Debug)]
struct Pending {
    items: VecDeque<Value>,
    state: DeltaState,
}

#[derive(Debug, Default)]
struct FakeState {
    requests: Vec<Request>,
    trouble: VecDeque<Trouble>,
    users: Vec<User>,
    rooms: Vec<Room>,
    events: BTreeMap<String, Event>,
    /// The change sequence: bumped by every change to an event.
    seq: u64,
    next_id: u64,
    page_size: usize,
    delta_tokens: BTreeMap<String, DeltaState>,
    skip_tokens: BTreeMap<String, Pending>,
    codes: BTreeMap<String, Code>,
    access_tokens: BTreeMap<String, Subject>,
    refresh_tokens: BTreeMap<String, String>,
    refresh_revoked: bool,
    subscriptions: BTreeMap<String, Subscription>,
    /// Successful grants per grant type.
    grants: BTreeMap<String, usize>,
}

impl FakeState {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:06}", self.next_id)
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The user id of the mailbox `key` (an id or an address).
    fn mailbox(&self, key: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.id == key || u.mail.eq_ignore_ascii_case(key))
            .map(|u| u.id.clone())
    }

    /// The mailbox owner (a user id) as a Graph `recipient`.
    fn recipient(&self, user_id: &str) -> Value {
        match self.users.iter().find(|u| u.id == user_id) {
            Some(user) => {
                json!({"emailAddress": {"name": user.display_name, "address": user.mail}})
            }
            None => Value::Null,
        }
    }

    fn issue_tokens(&mut self, user: &str) -> (String, String) {
        let access = format!("at-{}", uuid::Uuid::new_v4());
        let refresh = format!("rt-{}", uuid::Uuid::new_v4());
        self.access_tokens
            .insert(access.clone(), Subject::User(user.to_owned()));
        self.refresh_tokens.insert(refresh.clone(), user.to_owned());
        (access, refresh)
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<FakeState>,
    base: String,
    /// For the validation handshake and notifications.
    http: reqwest::Client,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock has failed already; keep answering.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake Graph and identity platform on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeGraph {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGraph {
    /// The fake on a free loopback port, knowing the application [`CLIENT_ID`] and the user
    /// Alice ([`ALICE_ID`], [`ALICE_MAIL`]), with delta pages of two events.
    pub async fn start() -> FakeGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the fake Graph");
        let address = listener.local_addr().expect("the fake's address");
        let http = reqwest::Client::builder()
            .timeout(VALIDATION_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the fake's HTTP client");
        let state = FakeState {
            users: vec![User {
                id: ALICE_ID.into(),
                mail: ALICE_MAIL.into(),
                display_name: "Alice Example".into(),
            }],
            page_size: 2,
            ..FakeState::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            base: format!("http://{address}"),
            http,
        });
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .route("/v1.0/{*rest}", any(graph))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGraph {
            address,
            shared,
            server,
        }
    }

    /// Graph's base URL (`…/v1.0`).
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.shared.base)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/{TENANT_ID}/oauth2/v2.0/token", self.shared.base)
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/{TENANT_ID}/oauth2/v2.0/authorize", self.shared.base)
    }

    /// Connector settings pointing at this fake, with the application it knows.
    pub fn settings(&self) -> MicrosoftSettings {
        MicrosoftSettings {
            graph_url: self.graph_url(),
            token_url: format!("{}/{{tenant}}/oauth2/v2.0/token", self.shared.base),
            authorize_url: format!("{}/{{tenant}}/oauth2/v2.0/authorize", self.shared.base),
            ..MicrosoftSettings::new(CLIENT_ID, SecretString::from(CLIENT_SECRET), TENANT_ID)
        }
    }

    /// Adds a user (a mailbox with a calendar).
    pub fn add_user(&self, id: &str, mail: &str) {
        self.shared.state().users.push(User {
            id: id.into(),
            mail: mail.into(),
            display_name: id.into(),
        });
    }

    /// Adds a room: a place listed under `places`, and a mailbox with a calendar.
    pub fn add_room(&self, mail: &str, display_name: &str, capacity: u32, floor: i32) {
        let mut state = self.shared.state();
        let id = state.next_id("room-");
        state.users.push(User {
            id,
            mail: mail.into(),
            display_name: display_name.into(),
        });
        state.rooms.push(Room {
            mail: mail.into(),
            display_name: display_name.into(),
            capacity,
            floor,
        });
    }

    /// Tokens of `user` as if they had signed in (access, refresh, and when it expires).
    pub fn sign_in(&self, user: &str) -> OAuthTokens {
        let mut state = self.shared.state();
        let user = state.mailbox(user).expect("a user the fake knows");
        let (access, refresh) = state.issue_tokens(&user);
        OAuthTokens {
            access_token: SecretString::from(access),
            refresh_token: Some(SecretString::from(refresh)),
            expires_at: Some(Utc::now().timestamp() + TOKEN_LIFETIME_SECS),
        }
    }

    /// Puts a busy event in `mailbox`'s calendar; returns its id.
    pub fn seed_event(&self, mailbox: &str, subject: &str, start: i64, end: i64) -> String {
        let mut state = self.shared.state();
        let mailbox = state.mailbox(mailbox).expect("a mailbox the fake knows");
        let id = state.next_id("AAMkAGEv-");
        let version = state.bump();
        let organizer = state.recipient(&mailbox);
        state.events.insert(
            id.clone(),
            Event {
                id: id.clone(),
                organizer,
                mailbox,
                subject: subject.into(),
                body: json!({"contentType": "text", "content": ""}),
                start,
                end,
                show_as: "busy".into(),
                is_cancelled: false,
                deleted: false,
                online_provider: None,
                join_url: None,
                attendees: json!([]),
                location: json!({"displayName": ""}),
                version,
            },
        );
        id
    }

    /// Moves an event, as its organizer would in Outlook.
    pub fn move_event(&self, id: &str, start: i64, end: i64) {
        self.change_event(id, |event| {
            event.start = start;
            event.end = end;
        });
    }

    /// Replaces an event's attendees (see [`attendee`]), as its organizer would.
    pub fn set_attendees(&self, id: &str, attendees: Vec<Value>) {
        self.change_event(id, |event| event.attendees = Value::Array(attendees));
    }

    /// Retitles an event.
    pub fn set_subject(&self, id: &str, subject: &str) {
        self.change_event(id, |event| event.subject = subject.into());
    }

    /// Cancels an event, as its organizer would (it stays, marked cancelled).
    pub fn cancel_event(&self, id: &str) {
        self.change_event(id, |event| event.is_cancelled = true);
    }

    /// Deletes an event.
    pub fn delete_event(&self, id: &str) {
        self.change_event(id, |event| event.deleted = true);
    }

    /// Sets how an event shows (`free`, `tentative`, `busy`, `oof`, …).
    pub fn set_show_as(&self, id: &str, show_as: &str) {
        self.change_event(id, |event| event.show_as = show_as.into());
    }

    fn change_event(&self, id: &str, change: impl FnOnce(&mut Event)) {
        let mut state = self.shared.state();
        let version = state.bump();
        let event = state.events.get_mut(id).expect("an event the fake holds");
        change(event);
        event.version = version;
    }

    /// The event `id` as Graph returns it, if it exists.
    pub fn event(&self, id: &str) -> Option<Value> {
        let state = self.shared.state();
        state.events.get(id).filter(|e| !e.deleted).map(event_json)
    }

    /// Events per delta page (2 unless changed).
    pub fn set_page_size(&self, events: usize) {
        self.shared.state().page_size = events.max(1);
    }

    /// Forgets every delta token: the next incremental sync is answered 410.
    pub fn expire_delta_tokens(&self) {
        self.shared.state().delta_tokens.clear();
    }

    /// Makes every access token issued so far expire (Graph answers 401).
    pub fn expire_access_tokens(&self) {
        self.shared.state().access_tokens.clear();
    }

    /// Revokes every refresh token (as a password reset or an admin would): refreshing
    /// is answered `invalid_grant` from now on.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.state().refresh_revoked = true;
    }

    /// Makes the next Graph requests fail with `trouble`, in order.
    pub fn trouble(&self, trouble: impl IntoIterator<Item = Trouble>) {
        self.shared.state().trouble.extend(trouble);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state().requests.clone()
    }

    /// The requests of `method` whose path contains `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(path))
            .collect()
    }

    /// How many requests of `method` had a path containing `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests_to(method, path).len()
    }

    /// How many tokens were granted with `grant_type` (`authorization_code`,
    /// `refresh_token`, `client_credentials`).
    pub fn grants(&self, grant_type: &str) -> usize {
        self.shared
            .state()
            .grants
            .get(grant_type)
            .copied()
            .unwrap_or(0)
    }

    /// The live subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared
            .state()
            .subscriptions
            .values()
            .cloned()
            .collect()
    }

    /// Delivers a change notification (`changeType: updated`, about the mailbox's most
    /// recently changed event) for `subscription_id` to its notification URL; returns the
    /// receiver's status.
    pub async fn notify(&self, subscription_id: &str) -> Result<StatusCode, String> {
        let (url, payload) = {
            let state = self.shared.state();
            let subscription = state
                .subscriptions
                .get(subscription_id)
                .ok_or_else(|| format!("no subscription {subscription_id}"))?;
            let latest = state
                .events
                .values()
                .filter(|e| e.mailbox == subscription.mailbox)
                .max_by_key(|e| e.version);
            let resource = match latest {
                Some(e) => format!("Users/{}/Events/{}", e.mailbox, e.id),
                None => format!("Users/{}/Events", subscription.mailbox),
            };
            let mut change = json!({
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": rfc3339(subscription.expires_at),
                "changeType": "updated",
                "resource": resource,
                "tenantId": TENANT_ID,
            });
            if let Some(state) = &subscription.client_state {
                change["clientState"] = json!(state);
            }
            if let Some(e) = latest {
                change["resourceData"] = json!({
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": format!("W/\"{}\"", e.version),
                    "id": e.id,
                });
            }
            (
                subscription.notification_url.clone(),
                json!({ "value": [change] }),
            )
        };
        self.deliver(&url, &payload).await
    }

    /// Delivers the lifecycle event `event` (`missed`, `subscriptionRemoved`,
    /// `reauthorizationRequired`) for `subscription_id` to its lifecycle URL; returns the
    /// receiver's status. `subscriptionRemoved` also removes the subscription.
    pub async fn lifecycle(
        &self,
        subscription_id: &str,
        event: &str,
    ) -> Result<StatusCode, String> {
        let (url, payload) = {
            let mut state = self.shared.state();
            let subscription = state
                .subscriptions
                .get(subscription_id)
                .cloned()
                .ok_or_else(|| format!("no subscription {subscription_id}"))?;
            let url = subscription
                .lifecycle_notification_url
                .clone()
                .ok_or_else(|| format!("{subscription_id} has no lifecycle URL"))?;
            if event == "subscriptionRemoved" {
                state.subscriptions.remove(subscription_id);
            }
            let mut notice = json!({
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": rfc3339(subscription.expires_at),
                "lifecycleEvent": event,
                "resource": subscription.resource,
                "tenantId": TENANT_ID,
            });
            if let Some(state) = &subscription.client_state {
                notice["clientState"] = json!(state);
            }
            (url, json!({ "value": [notice] }))
        };
        self.deliver(&url, &payload).await
    }

    async fn deliver(&self, url: &str, payload: &Value) -> Result<StatusCode, String> {
        let response = self
            .shared
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|err| format!("the notification to {url} failed: {err}"))?;
        Ok(response.status())
    }
}

/// Graph's error answer.
fn graph_failure(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": rfc3339(Utc::now().timestamp()),
                "request-id": uuid::Uuid::new_v4().to_string(),
            },
        }
    });
    (status, axum::Json(body)).into_response()
}

/// The identity platform's error answer.
fn oauth_failure(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "error_codes": [],
        "timestamp": rfc3339(Utc::now().timestamp()),
        "trace_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

fn rfc3339(epoch: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time as Graph writes it when asked for UTC.
fn graph_time(epoch: i64) -> Value {
    let at = DateTime::<Utc>::from_timestamp(epoch, 0).unwrap_or_default();
    json!({
        "dateTime": format!("{}.0000000", at.format("%Y-%m-%dT%H:%M:%S")),
        "timeZone": "UTC",
    })
}

/// A `dateTimeTimeZone` as written by a client: wall-clock time in UTC or an IANA zone.
fn parse_graph_time(value: &Value) -> Option<i64> {
    let wall_clock =
        NaiveDateTime::parse_from_str(value["dateTime"].as_str()?, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    match value["timeZone"].as_str().unwrap_or("UTC") {
        "UTC" => Some(wall_clock.and_utc().timestamp()),
        zone => zone
            .parse::<Tz>()
            .ok()?
            .from_local_datetime(&wall_clock)
            .earliest()
            .map(|at| at.timestamp()),
    }
}

fn event_json(event: &Event) -> Value {
    json!({
        "@odata.etag": format!("W/\"{}\"", event.version),
        "id": event.id,
        "subject": event.subject,
        "body": event.body,
        "start": graph_time(event.start),
        "end": graph_time(event.end),
        "showAs": event.show_as,
        "isCancelled": event.is_cancelled,
        "isAllDay": false,
        "type": "singleInstance",
        "isOnlineMeeting": event.join_url.is_some(),
        "onlineMeetingProvider": event.online_provider.as_deref().unwrap_or("unknown"),
        "onlineMeeting": event.join_url.as_ref().map(|url| json!({ "joinUrl": url })),
        "attendees": event.attendees,
        "organizer": event.organizer,
        "location": event.location,
    })
}

/// An `attendee` as Graph writes it: `kind` is `required`, `optional` or `resource`; no
/// answer yet.
pub fn attendee(address: &str, name: &str, kind: &str) -> Value {
    json!({
        "type": kind,
        "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
        "emailAddress": {"name": name, "address": address},
    })
}

fn removed_json(id: &str) -> Value {
    json!({ "id": id, "@removed": { "reason": "deleted" } })
}

/// Records a request; returns its index (for its status later).
fn record(
    state: &mut FakeState,
    method: &Method,
    path: String,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Value,
) -> usize {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.requests.push(Request {
        method: method.to_string(),
        path,
        query: query.unwrap_or_default().to_owned(),
        authorization: text(header::AUTHORIZATION),
        prefer: text(header::HeaderName::from_static("prefer")),
        body,
        status: 0,
    });
    state.requests.len() - 1
}

fn answered(shared: &Shared, index: usize, response: Response) -> Response {
    if let Some(request) = shared.state().requests.get_mut(index) {
        request.status = response.status().as_u16();
    }
    response
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = shared.state();
    let index = record(
        &mut state,
        &Method::GET,
        format!("/{tenant}/oauth2/v2.0/authorize"),
        raw.as_deref(),
        &headers,
        json!(query),
    );
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let refused = |reason: &str| (StatusCode::BAD_REQUEST, reason.to_owned()).into_response();
    let response = if field("client_id") != CLIENT_ID {
        refused("AADSTS700016: Application not found in the directory")
    } else if field("response_type") != "code" {
        refused("AADSTS900144: response_type must be code")
    } else if field("code_challenge").is_empty() || field("code_challenge_method") != "S256" {
        refused("AADSTS9002325: Proof Key for Code Exchange (S256) is required")
    } else if field("redirect_uri").is_empty() {
        refused("AADSTS900144: The request body must contain redirect_uri")
    } else {
        let hint = field("login_hint");
        let user = state
            .mailbox(hint)
            .or_else(|| state.users.first().map(|u| u.id.clone()));
        match user {
            None => refused("no user to sign in"),
            Some(user) => {
                let code = format!("code-{}", uuid::Uuid::new_v4());
                state.codes.insert(
                    code.clone(),
                    Code {
                        user,
                        challenge: field("code_challenge").to_owned(),
                        redirect_uri: field("redirect_uri").to_owned(),
                    },
                );
                let location = reqwest::Url::parse_with_params(
                    field("redirect_uri"),
                    [("code", code.as_str()), ("state", field("state"))],
                );
                match location {
                    Ok(location) => (
                        StatusCode::FOUND,
                        [(header::LOCATION, location.to_string())],
                    )
                        .into_response(),
                    Err(_) => refused("AADSTS50011: The redirect URI is not valid"),
                }
            }
        }
    };
    drop(state);
    answered(&shared, index, response)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let mut state = shared.state();
    let index = record(
        &mut state,
        &Method::POST,
        format!("/{tenant}/oauth2/v2.0/token"),
        None,
        &headers,
        json!(form),
    );
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let response = if field("client_id") != CLIENT_ID {
        oauth_failure(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        )
    } else if field("client_secret") != CLIENT_SECRET {
        oauth_failure(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        )
    } else {
        grant(&mut state, field("grant_type"), &form)
    };
    drop(state);
    answered(&shared, index, response)
}

fn grant(state: &mut FakeState, grant_type: &str, form: &BTreeMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let invalid_grant =
        |description: &str| oauth_failure(StatusCode::BAD_REQUEST, "invalid_grant", description);
    let issued = match grant_type {
        "authorization_code" => {
            let Some(code) = state.codes.remove(field("code")) else {
                return invalid_grant(
                    "AADSTS70008: The provided authorization code or refresh token has expired \
                     due to inactivity.",
                );
            };
            if code.redirect_uri != field("redirect_uri") {
                return invalid_grant(
                    "AADSTS50148: The redirect_uri does not match the one of the authorization \
                     request.",
                );
            }
            let verifier = PkceCodeVerifier::new(field("code_verifier").to_owned());
            if PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() != code.challenge {
                return invalid_grant(
                    "AADSTS501481: The Code_Verifier does not match the code_challenge supplied \
                     in the authorization request.",
                );
            }
            let (access, refresh) = state.issue_tokens(&code.user);
            json!({"access_token": access, "refresh_token": refresh})
        }
        "refresh_token" => {
            let user = state.refresh_tokens.get(field("refresh_token")).cloned();
            match user {
                Some(user) if !state.refresh_revoked => {
                    let (access, refresh) = state.issue_tokens(&user);
                    json!({"access_token": access, "refresh_token": refresh})
                }
                _ => {
                    return invalid_grant(
                        "AADSTS70000: The provided grant has expired due to it being revoked, \
                         a fresh auth token is needed.",
                    );
                }
            }
        }
        "client_credentials" => {
            if !field("scope").ends_with("/.default") {
                return oauth_failure(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "AADSTS1002012: The provided value for scope is not valid. Client \
                     credential flows must have a scope value with /.default suffixed.",
                );
            }
            let access = format!("app-{}", uuid::Uuid::new_v4());
            state.access_tokens.insert(access.clone(), Subject::App);
            json!({ "access_token": access })
        }
        other => {
            return oauth_failure(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("AADSTS70003: The app requested an unsupported grant type '{other}'."),
            );
        }
    };
    *state.grants.entry(grant_type.to_owned()).or_default() += 1;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": field("scope"),
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
    });
    if let (Some(body), Some(issued)) = (body.as_object_mut(), issued.as_object()) {
        body.extend(issued.clone());
    }
    axum::Json(body).into_response()
}

/// Every Graph request: recorded, then troubled, then authenticated, then answered.
async fn graph(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // `None`: a body that is not JSON (answered 400 once recorded).
    let body: Option<Value> = if body.is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_slice(&body).ok()
    };
    let index = record(
        &mut shared.state(),
        &method,
        format!("/v1.0/{rest}"),
        raw.as_deref(),
        &headers,
        body.clone().unwrap_or(Value::Null),
    );
    let Some(body) = body else {
        let response = graph_failure(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload.",
        );
        return answered(&shared, index, response);
    };
    let response = match answer(&shared, &method, &rest, &query, &headers, &body) {
        Ok(response) => response,
        // Subscriptions wait for the validation handshake: answered without the lock held.
        Err(subject) => create_subscription(&shared, &subject, &body).await,
    };
    answered(&shared, index, response)
}

/// The answer to a Graph request, or (`Err`) the subject creating a subscription.
fn answer(
    shared: &Shared,
    method: &Method,
    rest: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Response, Subject> {
    let mut state = shared.state();
    if let Some(trouble) = state.trouble.pop_front() {
        return Ok(troubled(trouble));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(subject) = state.access_tokens.get(bearer).cloned() else {
        return Ok(graph_failure(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            if bearer.is_empty() {
                "Access token is empty."
            } else {
                "Lifetime validation failed, the token is expired."
            },
        ));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if *method == Method::POST && segments == ["subscriptions"] {
        return Err(subject);
    }
    Ok(respond(
        &mut state,
        &shared.base,
        &subject,
        method,
        &segments,
        query,
        body,
    ))
}

fn troubled(trouble: Trouble) -> Response {
    let with_retry_after = |response: Response, retry_after: Option<u64>| {
        let mut response = response;
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        response
    };
    match trouble {
        Trouble::Unauthorized => graph_failure(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        ),
        Trouble::RateLimited { retry_after } => with_retry_after(
            graph_failure(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests, retry later.",
            ),
            retry_after,
        ),
        Trouble::Unavailable { retry_after } => with_retry_after(
            graph_failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceNotAvailable",
                "The service is temporarily unavailable.",
            ),
            retry_after,
        ),
        Trouble::Gone => graph_failure(
            StatusCode::GONE,
            "SyncStateNotFound",
            "The sync state generation is not found.",
        ),
        Trouble::ServerError => graph_failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An unexpected error occurred.",
        ),
    }
}

/// The mailbox a path's owner (`me` or `users/{id}`) names, if the subject may use it.
fn owner<'p>(
    state: &FakeState,
    subject: &Subject,
    segments: &'p [&'p str],
) -> Result<(String, &'p [&'p str]), Box<Response>> {
    match (segments, subject) {
        (["me", rest @ ..], Subject::User(user)) => Ok((user.clone(), rest)),
        (["me", ..], Subject::App) => Err(Box::new(graph_failure(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ))),
        (["users", key, rest @ ..], subject) => {
            let mailbox = state.mailbox(key).ok_or_else(|| {
                Box::new(graph_failure(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    &format!("The requested user '{key}' is invalid."),
                ))
            })?;
            match subject {
                Subject::User(user) if *user != mailbox => Err(Box::new(graph_failure(
                    StatusCode::FORBIDDEN,
                    "ErrorAccessDenied",
                    "Access is denied. Check credentials and try again.",
                ))),
                _ => Ok((mailbox, rest)),
            }
        }
        _ => Err(Box::new(not_found_segment(
            segments.first().copied().unwrap_or_default(),
        ))),
    }
}

fn not_found_segment(segment: &str) -> Response {
    graph_failure(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

fn respond(
    state: &mut FakeState,
    base: &str,
    subject: &Subject,
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Response {
    match (method, segments) {
        (&Method::GET, ["places", "microsoft.graph.room"]) => {
            let rooms: Vec<Value> = state
                .rooms
                .iter()
                .map(|room| {
                    json!({
                        "@odata.type": "#microsoft.graph.room",
                        "id": uuid::Uuid::new_v4().to_string(),
                        "displayName": room.display_name,
                        "emailAddress": room.mail,
                        "capacity": room.capacity,
                        "floorNumber": room.floor,
                        "bookingType": "standard",
                    })
                })
                .collect();
            axum::Json(json!({
                "@odata.context": format!("{base}/v1.0/$metadata#places/microsoft.graph.room"),
                "value": rooms,
            }))
            .into_response()
        }
        (_, ["subscriptions", id]) => subscription(state, method, id, body),
        (&Method::GET, ["me"]) => match subject {
            Subject::User(user) => match state.users.iter().find(|u| u.id == *user) {
                Some(user) => axum::Json(json!({
                    "@odata.context": format!("{base}/v1.0/$metadata#users/$entity"),
                    "id": user.id,
                    "displayName": user.display_name,
                    "mail": user.mail,
                    "userPrincipalName": user.mail,
                }))
                .into_response(),
                None => not_found_segment("me"),
            },
            Subject::App => graph_failure(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            ),
        },
        _ => {
            let (mailbox, rest) = match owner(state, subject, segments) {
                Ok(found) => found,
                Err(response) => return *response,
            };
            match (method, rest) {
                (&Method::POST, ["calendar", "getSchedule"]) => get_schedule(state, base, body),
                (&Method::GET, ["calendarView", "delta" | "delta()"]) => {
                    let link = format!("{base}/v1.0/{}", segments.join("/"));
                    delta(state, &link, &mailbox, query)
                }
                (&Method::POST, ["events"]) => create_event(state, &mailbox, body),
                (&Method::PATCH, ["events", id]) => update_event(state, &mailbox, id, body),
                (&Method::GET, ["events", id]) => match state.events.get(*id) {
                    Some(e) if e.mailbox == mailbox && !e.deleted => {
                        axum::Json(event_json(e)).into_response()
                    }
                    _ => item_not_found(),
                },
                (&Method::POST, ["events", id, "cancel"]) => {
                    let version = state.bump();
                    match state.events.get_mut(*id) {
                        Some(e) if e.mailbox == mailbox && !e.deleted => {
                            e.is_cancelled = true;
                            e.version = version;
                            StatusCode::ACCEPTED.into_response()
                        }
                        _ => item_not_found(),
                    }
                }
                _ => not_found_segment(rest.first().copied().unwrap_or_default()),
            }
        }
    }
}

/// Graph's longest `getSchedule` window.
const MAX_SCHEDULE_DAYS: i64 = 62;

/// `calendar/getSchedule`: for each mailbox in `schedules`, its events overlapping the window
/// (not deleted, not cancelled) as `scheduleItems` with their `showAs` as `status` (times in
/// UTC), and the `availabilityView` of the window in slots of `availabilityViewInterval`
/// minutes. A mailbox the fake does not know is answered with an `error` in its place.
fn get_schedule(state: &FakeState, base: &str, body: &Value) -> Response {
    let invalid =
        |message: &str| graph_failure(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", message);
    let (Some(start), Some(end)) = (
        parse_graph_time(&body["startTime"]),
        parse_graph_time(&body["endTime"]),
    ) else {
        return invalid("startTime and endTime (dateTime, timeZone) are required.");
    };
    if end <= start || end - start > MAX_SCHEDULE_DAYS * 24 * 3600 {
        return invalid("The time window must be positive and at most 62 days long.");
    }
    let interval = body["availabilityViewInterval"].as_i64().unwrap_or(30);
    if !(5..=1440).contains(&interval) {
        return invalid("availabilityViewInterval must be between 5 and 1440 minutes.");
    }
    let Some(schedules) = body["schedules"].as_array().filter(|s| !s.is_empty()) else {
        return invalid("schedules is required.");
    };
    let answers: Vec<Value> = schedules
        .iter()
        .map(|schedule| {
            let schedule = schedule.as_str().unwrap_or_default();
            let Some(mailbox) = state.mailbox(schedule) else {
                return json!({
                    "scheduleId": schedule,
                    "availabilityView": "",
                    "error": {
                        "message": format!("The requested user '{schedule}' is invalid."),
                        "responseCode": "ErrorMailRecipientNotFound",
                    },
                });
            };
            let items: Vec<&Event> = state
                .events
                .values()
                .filter(|e| e.mailbox == mailbox && !e.deleted && !e.is_cancelled)
                .filter(|e| e.start < end && e.end > start)
                .collect();
            let slot = interval * 60;
            let view: String = (0..(end - start + slot - 1) / slot)
                .map(|n| {
                    let (from, to) = (start + n * slot, start + (n + 1) * slot);
                    items
                        .iter()
                        .filter(|e| e.start < to && e.end > from)
                        .map(|e| availability_code(&e.show_as))
                        .max()
                        .unwrap_or('0')
                })
                .collect();
            let schedule_items: Vec<Value> = items
                .iter()
                .map(|e| {
                    json!({
                        "isPrivate": false,
                        "status": e.show_as,
                        "subject": e.subject,
                        "location": e.location["displayName"],
                        "isMeeting": e.attendees.as_array().is_some_and(|a| !a.is_empty()),
                        "isRecurring": false,
                        "isException": false,
                        "isReminderSet": true,
                        "start": graph_time(e.start),
                        "end": graph_time(e.end),
                    })
                })
                .collect();
            json!({
                "scheduleId": schedule,
                "availabilityView": view,
                "scheduleItems": schedule_items,
                "workingHours": {
                    "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                    "startTime": "08:00:00.0000000",
                    "endTime": "17:00:00.0000000",
                    "timeZone": {"name": "UTC"},
                },
            })
        })
        .collect();
    axum::Json(json!({
        "@odata.context": format!("{base}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)"),
        "value": answers,
    }))
    .into_response()
}

/// A status's digit in an `availabilityView` (0 free, 1 tentative, 2 busy, 3 oof,
/// 4 working elsewhere).
fn availability_code(show_as: &str) -> char {
    match show_as {
        "free" => '0',
        "tentative" => '1',
        "oof" => '3',
        "workingElsewhere" => '4',
        _ => '2',
    }
}

fn item_not_found() -> Response {
    graph_failure(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

/// `calendarView/delta`: a first page of the window, a page of a paged answer
/// (`$skiptoken`), or the changes since a delta link (`$deltatoken`).
fn delta(
    state: &mut FakeState,
    link: &str,
    mailbox: &str,
    query: &BTreeMap<String, String>,
) -> Response {
    let mut pending = if let Some(skip) = query.get("$skiptoken") {
        match state.skip_tokens.remove(skip) {
            Some(pending) => pending,
            None => {
                return graph_failure(
                    StatusCode::GONE,
                    "SyncStateNotFound",
                    "The sync state generation is not found.",
                );
            }
        }
    } else if let Some(token) = query.get("$deltatoken") {
        let Some(since) = state.delta_tokens.get(token).cloned() else {
            return graph_failure(
                StatusCode::GONE,
                "SyncStateNotFound",
                "The sync state generation is not found.",
            );
        };
        let items = state
            .events
            .values()
            .filter(|e| e.mailbox == since.mailbox && e.version > since.seq)
            .map(|e| {
                let inside = e.start < since.end && e.end > since.start;
                if e.deleted || !inside {
                    removed_json(&e.id)
                } else {
                    event_json(e)
                }
            })
            .collect();
        Pending {
            items,
            state: DeltaState {
                seq: state.seq,
                ..since
            },
        }
    } else {
        let window = |name: &str| {
            query
                .get(name)
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|at| at.timestamp())
        };
        let (Some(start), Some(end)) = (window("startDateTime"), window("endDateTime")) else {
            return graph_failure(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters \
                 StartDateTime and EndDateTime.",
            );
        };
        let items = state
            .events
            .values()
            .filter(|e| e.mailbox == mailbox && !e.deleted && e.start < end && e.end > start)
            .map(event_json)
            .collect();
        Pending {
            items,
            state: DeltaState {
                mailbox: mailbox.to_owned(),
                seq: state.seq,
                start,
                end,
            },
        }
    };
    if pending.state.mailbox != mailbox {
        return graph_failure(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The delta token belongs to another calendar.",
        );
    }
    let take = state.page_size.min(pending.items.len());
    let page: Vec<Value> = pending.items.drain(..take).collect();
    let mut answer = json!({
        "@odata.context": format!("{link}/$metadata#Collection(event)"),
        "value": page,
    });
    if pending.items.is_empty() {
        let token = format!("dt-{}", uuid::Uuid::new_v4().simple());
        state.delta_tokens.insert(token.clone(), pending.state);
        answer["@odata.deltaLink"] = json!(format!("{link}?$deltatoken={token}"));
    } else {
        let token = format!("st-{}", uuid::Uuid::new_v4().simple());
        state.skip_tokens.insert(token.clone(), pending);
        answer["@odata.nextLink"] = json!(format!("{link}?$skiptoken={token}"));
    }
    axum::Json(answer).into_response()
}

fn create_event(state: &mut FakeState, mailbox: &str, body: &Value) -> Response {
    let (Some(start), Some(end)) = (
        parse_graph_time(&body["start"]),
        parse_graph_time(&body["end"]),
    ) else {
        return graph_failure(
            StatusCode::BAD_REQUEST,
            "TimeZoneNotSupportedException",
            "A valid start and end (dateTime, timeZone) are required.",
        );
    };
    let id = state.next_id("AAMkAGEv-");
    let version = state.bump();
    let mut event = Event {
        id: id.clone(),
        organizer: state.recipient(mailbox),
        mailbox: mailbox.to_owned(),
        subject: String::new(),
        body: json!({"contentType": "text", "content": ""}),
        start,
        end,
        show_as: "busy".into(),
        is_cancelled: false,
        deleted: false,
        online_provider: None,
        join_url: None,
        attendees: json!([]),
        location: json!({"displayName": ""}),
        version,
    };
    apply(&mut event, body);
    let answer = event_json(&event);
    state.events.insert(id, event);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

fn update_event(state: &mut FakeState, mailbox: &str, id: &str, body: &Value) -> Response {
    let version = state.bump();
    let Some(event) = state
        .events
        .get_mut(id)
        .filter(|e| e.mailbox == mailbox && !e.deleted)
    else {
        return item_not_found();
    };
    if let Some(start) = body.get("start") {
        match parse_graph_time(start) {
            Some(start) => event.start = start,
            None => {
                return graph_failure(
                    StatusCode::BAD_REQUEST,
                    "TimeZoneNotSupportedException",
                    "The start is not a valid dateTimeTimeZone.",
                );
            }
        }
    }
    if let Some(end) = body.get("end") {
        match parse_graph_time(end) {
            Some(end) => event.end = end,
            None => {
                return graph_failure(
                    StatusCode::BAD_REQUEST,
                    "TimeZoneNotSupportedException",
                    "The end is not a valid dateTimeTimeZone.",
                );
            }
        }
    }
    apply(event, body);
    event.version = version;
    axum::Json(event_json(event)).into_response()
}

/// The fields of a POST or PATCH body other than the times.
fn apply(event: &mut Event, body: &Value) {
    if let Some(subject) = body["subject"].as_str() {
        event.subject = subject.to_owned();
    }
    for (field, value) in [
        ("body", &mut event.body),
        ("attendees", &mut event.attendees),
        ("location", &mut event.location),
    ] {
        if let Some(new) = body.get(field) {
            *value = new.clone();
        }
    }
    if let Some(show_as) = body["showAs"].as_str() {
        event.show_as = show_as.to_owned();
    }
    let provider = body["onlineMeetingProvider"]
        .as_str()
        .unwrap_or("teamsForBusiness");
    if body["isOnlineMeeting"] == json!(true) && event.join_url.is_none() {
        event.online_provider = Some(provider.to_owned());
        event.join_url = Some(format!(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{}%40thread.v2/0",
            event.id
        ));
    }
}

/// POST /subscriptions: checks the body as Graph does, then validates the notification
/// (and lifecycle) URL with the handshake before the subscription exists.
async fn create_subscription(shared: &Shared, subject: &Subject, body: &Value) -> Response {
    let bad = |message: &str| graph_failure(StatusCode::BAD_REQUEST, "InvalidRequest", message);
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let (change_type, notification_url, resource) = (
        text("changeType"),
        text("notificationUrl"),
        text("resource"),
    );
    if change_type.is_empty() || notification_url.is_empty() || resource.is_empty() {
        return bad("changeType, notificationUrl and resource are required.");
    }
    let Some(expires_at) = DateTime::parse_from_rfc3339(&text("expirationDateTime"))
        .ok()
        .map(|at| at.timestamp())
    else {
        return bad("expirationDateTime is required and must be a date and time.");
    };
    let now = Utc::now().timestamp();
    if expires_at > now + 4230 * 60 {
        return bad("Subscription expiration can only be 4230 minutes in the future.");
    }
    if expires_at <= now {
        return bad("Subscription expiration must be in the future.");
    }
    let client_state = body["clientState"].as_str().map(str::to_owned);
    if client_state.as_ref().is_some_and(|s| s.len() > 128) {
        return bad("clientState must be at most 128 characters.");
    }
    let mailbox = {
        let state = shared.state();
        let trimmed = resource.trim_start_matches('/');
        let parts: Vec<&str> = trimmed.split('/').collect();
        let named = match (parts.as_slice(), subject) {
            (["me", "events"], Subject::User(user)) => Some(user.clone()),
            (["users", key, "events"], Subject::App) => state.mailbox(key),
            (["users", key, "events"], Subject::User(user)) => {
                state.mailbox(key).filter(|m| m == user)
            }
            _ => None,
        };
        match named {
            Some(mailbox) => mailbox,
            None => {
                return graph_failure(
                    StatusCode::BAD_REQUEST,
                    "ExtensionError",
                    &format!("Resource '{resource}' is not supported or not accessible."),
                );
            }
        }
    };
    let lifecycle_url = body["lifecycleNotificationUrl"].as_str().map(str::to_owned);
    for url in std::iter::once(&notification_url).chain(lifecycle_url.as_ref()) {
        if let Err(reason) = validate(shared, url).await {
            return bad(&format!(
                "Subscription validation request failed. Notification endpoint must respond \
                 with 200 OK to validation request. ({reason})"
            ));
        }
    }
    let subscription = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        change_type,
        notification_url,
        lifecycle_notification_url: lifecycle_url,
        client_state,
        expires_at,
        mailbox,
    };
    let answer = subscription_json(&subscription);
    shared
        .state()
        .subscriptions
        .insert(subscription.id.clone(), subscription);
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// Graph's validation request: POST `url?validationToken=…`, answered 200, `text/plain`,
/// with the decoded token, within 10 seconds.
async fn validate(shared: &Shared, url: &str) -> Result<(), String> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let mut target = reqwest::Url::parse(url).map_err(|err| format!("bad URL: {err}"))?;
    target
        .query_pairs_mut()
        .append_pair("validationToken", &token);
    let response = shared
        .http
        .post(target)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .send()
        .await
        .map_err(|err| format!("no answer: {err}"))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.map_err(|err| err.to_string())?;
    if status != StatusCode::OK {
        return Err(format!("answered {status}"));
    }
    if !content_type.starts_with("text/plain") {
        return Err(format!("answered {content_type:?}, not text/plain"));
    }
    if text != token {
        return Err("the answer was not the validation token".into());
    }
    Ok(())
}

fn subscription_json(subscription: &Subscription) -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": subscription.id,
        "resource": subscription.resource,
        "applicationId": CLIENT_ID,
        "changeType": subscription.change_type,
        "clientState": subscription.client_state,
        "notificationUrl": subscription.notification_url,
        "lifecycleNotificationUrl": subscription.lifecycle_notification_url,
        "expirationDateTime": rfc3339(subscription.expires_at),
        "creatorId": ALICE_ID,
        "latestSupportedTlsVersion": "v1_2",
    })
}

/// GET, PATCH (new expiry) or DELETE of one subscription.
fn subscription(state: &mut FakeState, method: &Method, id: &str, body: &Value) -> Response {
    let not_found = || {
        graph_failure(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("The object was not found. Subscription {id}"),
        )
    };
    match *method {
        Method::GET => match state.subscriptions.get(id) {
            Some(s) => axum::Json(subscription_json(s)).into_response(),
            None => not_found(),
        },
        Method::DELETE => match state.subscriptions.remove(id) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => not_found(),
        },
        Method::PATCH => {
            let Some(expires_at) = body["expirationDateTime"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.timestamp())
            else {
                return graph_failure(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "expirationDateTime is required.",
                );
            };
            if expires_at > Utc::now().timestamp() + 4230 * 60 {
                return graph_failure(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "Subscription expiration can only be 4230 minutes in the future.",
                );
            }
            match state.subscriptions.get_mut(id) {
                Some(s) => {
                    s.expires_at = expires_at;
                    axum::Json(subscription_json(s)).into_response()
                }
                None => not_found(),
            }
        }
        _ => not_found_segment("subscriptions"),
    }
}
