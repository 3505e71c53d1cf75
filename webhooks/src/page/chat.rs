//! `/chat`: the built-in web chat. Employees sign in by a mailed link (`/chat/sign-in`),
//! then talk to Frontdesk: `POST /chat/messages` and `/chat/actions` answer with the new
//! messages, and `GET /chat/events` streams new and updated messages as server-sent events
//! (each with its event number as `id:`, so a reconnect with `Last-Event-ID` resumes
//! exactly). The page's script is `/assets/chat.js`; nothing inline.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use frontdesk_core::Error;
use frontdesk_core::domain::chat::Block;
use frontdesk_core::engine::conversation::Input;
use frontdesk_core::engine::web_chat::{
    ChatEmployee, EMPLOYEE_SESSION_TTL, MAX_WEB_CHAT_TEXT, WebChatMessage,
};
use frontdesk_core::store::web_chat::Author;
use serde::{Deserialize, Serialize};

use super::{Texts, render, render_private};
use crate::AppState;
use crate::extract::{AppJson, ClientIp};
use crate::problem::ApiError;

/// The web chat session cookie (apart from the admin session's).
pub const CHAT_COOKIE: &str = "fd_chat";
/// Its name under https (see [`crate::extract::SECURE_SESSION_COOKIE`]).
pub const SECURE_CHAT_COOKIE: &str = "__Host-fd_chat";

/// Live streams one employee may hold at once (a few tabs); more are refused with 429.
pub const MAX_STREAMS_PER_EMPLOYEE: usize = 4;
/// How often a stream looks for messages other instances wrote.
const POLL: Duration = Duration::from_secs(2);
/// A comment this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A stream ends itself before the server's idle limit closes the connection; the browser
/// reconnects at once with `Last-Event-ID` and misses nothing.
const STREAM_LIFETIME: Duration = Duration::from_secs(50);

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/chat", get(show))
        .route("/chat/sign-in/request", post(request_link))
        .route("/chat/sign-in", get(show_link).post(sign_in))
        .route("/chat/sign-out", post(sign_out))
        .route("/chat/messages", post(say))
        .route("/chat/actions", post(press))
        .route("/chat/events", get(events))
}

/// The web chat session cookie's name here (room pages read it too).
pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        SECURE_CHAT_COOKIE
    } else {
        CHAT_COOKIE
    }
}

/// The chat session cookie carrying `value` for `max_age_secs` (0 clears it). Lax, not
/// Strict: the sign-in mail's link is followed from another site (the mail client).
fn chat_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((cookie_name(state), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_secs))
        .secure(state.secure_cookies)
        .build()
}

/// The employee signed in to the web chat; 401 without a valid chat session, 403 when the
/// tenant's IP allow-list does not admit the address.
pub(crate) struct ChatSignedIn {
    employee: ChatEmployee,
    token: String,
}

impl<S> FromRequestParts<S> for ChatSignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = AppState::from_ref(state);
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(cookie_name(&app))
            .ok_or(ApiError::Unauthorized)?
            .value()
            .to_owned();
        let employee = app
            .engine
            .chat_session(&token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let what = format!("{} {}", parts.method, parts.uri.path());
        app.engine
            .admit_address(
                employee.tenant_id,
                ip,
                &employee.employee.profile.email,
                &what,
            )
            .await?;
        Ok(ChatSignedIn { employee, token })
    }
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    t: Texts,
    title: String,
    view: ChatView,
}

/// What the chat page shows.
enum ChatView {
    /// The sign-in form; `sent` once a link was asked for.
    SignIn { sent: bool },
    /// The "Sign in" button for a mailed link's `token`.
    Link { token: String },
    /// A link that did not work (or none), with the way to a new one.
    BadLink { problem: String },
    /// The conversation of a signed-in employee.
    Chat { name: String, max_text: usize },
}

fn page(t: Texts, status: StatusCode, view: ChatView) -> Response {
    let title = t.text("page.chat.title");
    let private = matches!(view, ChatView::Link { .. });
    let page = ChatPage { t, title, view };
    if private {
        render_private(status, &page)
    } else {
        render(status, &page)
    }
}

async fn show(signed_in: Result<ChatSignedIn, ApiError>) -> Response {
    match signed_in {
        // In the employee's own language, from the directory.
        Ok(me) => page(
            Texts(me.employee.employee.profile.language),
            StatusCode::OK,
            ChatView::Chat {
                name: me.employee.employee.profile.name.clone(),
                max_text: MAX_WEB_CHAT_TEXT,
            },
        ),
        Err(ApiError::Unauthorized) => page(
            Texts::of_request(),
            StatusCode::OK,
            ChatView::SignIn { sent: false },
        ),
        Err(refused) => refused.into_response(),
    }
}

#[derive(Deserialize)]
struct LinkRequest {
    tenant: String,
    email: String,
}

async fn request_link(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<LinkRequest>, FormRejection>,
) -> Response {
    let t = Texts::of_request();
    let Ok(Form(form)) = form else {
        return page(t, StatusCode::BAD_REQUEST, ChatView::SignIn { sent: false });
    };
    // Whatever happens, the same answer: nothing tells who is in the directory.
    if let Err(err) = state
        .engine
        .request_chat_sign_in(form.tenant.trim(), &form.email, &ip.to_string())
        .await
    {
        return ApiError::Engine(err).into_response();
    }
    page(t, StatusCode::OK, ChatView::SignIn { sent: true })
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The mailed link opens a page with a button: only the press (a POST) uses the link up,
/// so a mail scanner that fetches links cannot.
async fn show_link(Query(query): Query<TokenQuery>) -> Response {
    let t = Texts::of_request();
    match query.token.filter(|token| !token.is_empty()) {
        Some(token) => page(t, StatusCode::OK, ChatView::Link { token }),
        None => page(
            t,
            StatusCode::BAD_REQUEST,
            ChatView::BadLink {
                problem: t.text("page.chat.link.missing"),
            },
        ),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let t = Texts::of_request();
    let bad = |problem: String| page(t, StatusCode::BAD_REQUEST, ChatView::BadLink { problem });
    let Ok(Form(form)) = form else {
        return bad(t.text("page.chat.link.missing"));
    };
    match state
        .engine
        .sign_in_to_chat(&form.token, &ip.to_string())
        .await
    {
        Ok(signed_in) => {
            let cookie = chat_cookie(
                &state,
                signed_in.session_token,
                EMPLOYEE_SESSION_TTL.num_seconds(),
            );
            (jar.add(cookie), Redirect::to("/chat")).into_response()
        }
        Err(Error::InvalidSignInLink) => bad(t.text("error.invalid_sign_in_link")),
        Err(err) => ApiError::Engine(err).into_response(),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    me: Result<ChatSignedIn, ApiError>,
) -> Result<Response, ApiError> {
    if let Ok(me) = me {
        state.engine.sign_out_of_chat(&me.token).await?;
    }
    let jar = jar.add(chat_cookie(&state, String::new(), 0));
    Ok((jar, Redirect::to("/chat")).into_response())
}

/// A web chat message on the wire.
#[derive(Serialize)]
struct WireMessage {
    id: i64,
    /// The message's latest event number (the stream's `id:`).
    seq: i64,
    /// `employee` or `frontdesk`.
    author: &'static str,
    /// When it was first written (RFC 3339, UTC).
    at: String,
    summary: String,
    blocks: Vec<Block>,
}

impl From<WebChatMessage> for WireMessage {
    fn from(m: WebChatMessage) -> WireMessage {
        WireMessage {
            id: m.id,
            seq: m.seq,
            author: match m.author {
                Author::Employee => "employee",
                Author::Frontdesk => "frontdesk",
            },
            at: chrono::DateTime::from_timestamp_millis(m.at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            summary: m.message.summary,
            blocks: m.message.blocks,
        }
    }
}

#[derive(Serialize)]
struct Written {
    messages: Vec<WireMessage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SayRequest {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PressRequest {
    action: String,
}

async fn say(
    State(state): State<AppState>,
    me: ChatSignedIn,
    AppJson(body): AppJson<SayRequest>,
) -> Result<axum::Json<Written>, ApiError> {
    converse(&state, &me, Input::Text(body.text)).await
}

async fn press(
    State(state): State<AppState>,
    me: ChatSignedIn,
    AppJson(body): AppJson<PressRequest>,
) -> Result<axum::Json<Written>, ApiError> {
    converse(&state, &me, Input::Pressed(body.action)).await
}

async fn converse(
    state: &AppState,
    me: &ChatSignedIn,
    input: Input,
) -> Result<axum::Json<Written>, ApiError> {
    let written = state.engine.web_chat_say(&me.employee, &input).await?;
    Ok(axum::Json(Written {
        messages: written.into_iter().map(WireMessage::from).collect(),
    }))
}

/// Live streams per key (an employee's web chat, a kiosk's visit), to cap them.
#[derive(Debug, Default)]
pub struct LiveStreams(Mutex<HashMap<i64, usize>>);

impl LiveStreams {
    /// A slot for one more stream of `employee_id`, if under the cap.
    pub(crate) fn open(self: &Arc<Self>, employee_id: i64) -> Option<StreamSlot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(employee_id).or_default();
        if *count >= MAX_STREAMS_PER_EMPLOYEE {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: self.clone(),
            employee_id,
        })
    }
}

/// One open stream; its slot is given back when the stream ends or the client goes.
pub(crate) struct StreamSlot {
    streams: Arc<LiveStreams>,
    employee_id: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.employee_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.employee_id);
            }
        }
    }
}

/// Where a stream is: what it has sent up to, and what it still has to send.
struct Stream {
    state: AppState,
    me: ChatSignedIn,
    last: Option<i64>,
    pending: std::collections::VecDeque<WireMessage>,
    changes: tokio::sync::watch::Receiver<u64>,
    until: tokio::time::Instant,
    _slot: StreamSlot,
}

impl Stream {
    /// The next event, waiting for one; `None` when the stream should end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                let event = Event::default()
                    .id(message.seq.to_string())
                    .json_data(&message)
                    .ok()?;
                return Some(event);
            }
            match self
                .state
                .engine
                .web_chat_after(&self.me.employee, self.last)
                .await
            {
                Ok(found) if !found.is_empty() => {
                    self.last = found.last().map(|m| m.seq);
                    self.pending
                        .extend(found.into_iter().map(WireMessage::from));
                    continue;
                }
                Ok(_) => {
                    self.last.get_or_insert(0);
                }
                Err(err) => {
                    tracing::error!(error = %frontdesk_core::error::with_causes(&err), "web chat stream failed");
                    return None;
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.until) => return None,
                changed = self.changes.changed() => { changed.ok()?; }
                () = tokio::time::sleep(POLL) => {
                    // A stream lives no longer than its session.
                    match self.state.engine.chat_session(&self.me.token).await {
                        Ok(Some(_)) => {}
                        _ => return None,
                    }
                }
            }
        }
    }
}

/// The employee's new and updated messages as server-sent events: without `Last-Event-ID`,
/// the latest page first; with it, everything after that event.
async fn events(
    State(state): State<AppState>,
    me: ChatSignedIn,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0);
    let Some(slot) = state.chat_streams.open(me.employee.employee.id) else {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "10")],
            "too many open chat streams",
        )
            .into_response());
    };
    let changes = state.engine.web_chat_changes();
    let stream = Stream {
        state,
        me,
        last,
        pending: Default::default(),
        changes,
        until: tokio::time::Instant::now() + STREAM_LIFETIME,
        _slot: slot,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        stream
            .next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), stream))
    });
    // The first event tells the browser to reconnect quickly when the stream ends.
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().retry(Duration::from_millis(500)))
    });
    use futures_util::StreamExt;
    let sse = Sse::new(first.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}
