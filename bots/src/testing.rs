//! A fake of the Slack Web API for tests, on a loopback port: it speaks Slack's JSON (errors
//! included: `ok: false`, 429 with `Retry-After`, 5xx) and records every call. The Discord
//! fake and signer are in [`discord`].

pub mod discord;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::slack::SlackBot;

pub mod teams;
pub use teams::FakeTeams;

/// What the fake answers a call with, instead of success.
#[derive(Debug, Clone)]
pub enum Trouble {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 200 with `ok: false` and this error code.
    SlackError(&'static str),
    /// No answer at all: the call is received, and the caller gives up waiting.
    NoAnswer,
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub authorization: String,
    /// The JSON body of a POST, or the query of a GET as an object.
    pub args: Value,
    /// When it arrived.
    pub at: std::time::Instant,
    /// Whether the fake answered it with success.
    pub succeeded: bool,
}

/// What the fake's handlers and its owner share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<FakeState>,
    /// Woken after each call.
    arrived: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<Call>,
    trouble: VecDeque<Trouble>,
    /// Known users: id → email.
    users: BTreeMap<String, String>,
    posted: u64,
    /// Successful calls per method.
    succeeded: BTreeMap<String, usize>,
}

/// The fake Slack Web API on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeSlack {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSlack {
    /// The fake on a free loopback port, knowing `users` (id, verified email).
    pub async fn start(users: &[(&str, &str)]) -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        FakeSlack::start_on(listener, users)
    }

    /// The fake on `listener` (a port chosen before Slack "came back"), knowing `users`.
    pub fn start_on(listener: tokio::net::TcpListener, users: &[(&str, &str)]) -> FakeSlack {
        let state = Mutex::new(FakeState {
            users: users
                .iter()
                .map(|(id, email)| (id.to_string(), email.to_string()))
                .collect(),
            ..FakeState::default()
        });
        let shared = Arc::new(Shared {
            state,
            arrived: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .route("/api/{method}", post(fake_post).get(fake_get))
            .with_state(shared.clone());
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSlack {
            address,
            shared,
            server,
        }
    }

    /// A bot calling this fake, giving up on a call after a second (so a test of
    /// [`Trouble::NoAnswer`] is not kept waiting).
    pub fn bot(&self) -> SlackBot {
        SlackBot::new("xoxb-test-token", &format!("http://{}/api", self.address))
            .with_call_timeout(std::time::Duration::from_secs(1))
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state.lock().unwrap().calls.clone()
    }

    /// The calls of one Web API method.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The successful calls of `method` once there are at least `count` (what the server
    /// does after answering a request arrives a little later); panics after 10 s.
    pub async fn wait_for(&self, method: &str, count: usize) -> Vec<Call> {
        let arrived = async {
            loop {
                let next_call = self.shared.arrived.notified();
                tokio::pin!(next_call);
                // Registered before looking, so a call arriving in between still wakes us.
                next_call.as_mut().enable();
                let succeeded = self
                    .shared
                    .state
                    .lock()
                    .unwrap()
                    .succeeded
                    .get(method)
                    .copied();
                if succeeded.unwrap_or(0) >= count {
                    return self.succeeded(method);
                }
                next_call.await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), arrived)
            .await
            .unwrap_or_else(|_| panic!("{count} calls to {method} within 10 s: {:?}", self.calls()))
    }

    /// The calls of one Web API method that succeeded: for `chat.postMessage`, the messages
    /// Slack would show.
    pub fn succeeded(&self, method: &str) -> Vec<Call> {
        self.calls_to(method)
            .into_iter()
            .filter(|c| c.succeeded)
            .collect()
    }

    /// Makes the next calls fail with `trouble`, in order.
    pub fn trouble(&self, trouble: impl IntoIterator<Item = Trouble>) {
        self.shared.state.lock().unwrap().trouble.extend(trouble);
    }
}

async fn fake_post(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Json(args): Json<Value>,
) -> Response {
    answer(&shared, method, &headers, args).await
}

async fn fake_get(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    answer(&shared, method, &headers, json!(query)).await
}

/// The fake's answer; a call meeting [`Trouble::NoAnswer`] waits until the caller gives up.
async fn answer(shared: &Shared, method: String, headers: &HeaderMap, args: Value) -> Response {
    let reply = respond(&mut shared.state.lock().unwrap(), method, headers, args);
    shared.arrived.notify_waiters();
    match reply {
        Some(reply) => reply,
        None => std::future::pending().await,
    }
}

fn respond(
    state: &mut FakeState,
    method: String,
    headers: &HeaderMap,
    args: Value,
) -> Option<Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.calls.push(Call {
        method: method.clone(),
        authorization,
        args: args.clone(),
        at: std::time::Instant::now(),
        succeeded: false,
    });
    if let Some(trouble) = state.trouble.pop_front() {
        return match trouble {
            Trouble::NoAnswer => None,
            Trouble::RateLimited { retry_after } => Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after.to_string())],
                    Json(json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response(),
            ),
            Trouble::ServerError => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response())
            }
            Trouble::SlackError(code) => {
                Some(Json(json!({"ok": false, "error": code})).into_response())
            }
        };
    }
    let reply = match method.as_str() {
        "conversations.open" => {
            let user = args["users"][0].as_str().unwrap_or_default();
            json!({"ok": true, "channel": {"id": format!("D{user}")}})
        }
        "chat.postMessage" => {
            state.posted += 1;
            let ts = format!("1764115200.{:06}", state.posted);
            json!({"ok": true, "channel": args["channel"], "ts": ts,
                   "message": {"ts": ts, "text": args["text"], "type": "message"}})
        }
        "chat.update" => {
            json!({"ok": true, "channel": args["channel"], "ts": args["ts"], "text": args["text"],
                               "message": {"text": args["text"], "type": "message"}})
        }
        "users.info" => {
            let id = args["user"].as_str().unwrap_or_default();
            match state.users.get(id) {
                Some(email) => json!({"ok": true, "user": {"id": id, "profile": {"email": email}}}),
                None => json!({"ok": false, "error": "user_not_found"}),
            }
        }
        "users.lookupByEmail" => {
            let email = args["email"].as_str().unwrap_or_default();
            match state
                .users
                .iter()
                .find(|(_, known)| known.as_str() == email)
            {
                Some((id, _)) => json!({"ok": true, "user": {"id": id}}),
                None => json!({"ok": false, "error": "users_not_found"}),
            }
        }
        "views.publish" => {
            let mut view = args["view"].clone();
            view["id"] = json!("V0HOME");
            view["team_id"] = json!("T0ACME");
            view["hash"] = json!("1764115200.home");
            json!({"ok": true, "view": view})
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    if reply["ok"] == json!(true) {
        if let Some(call) = state.calls.last_mut() {
            call.succeeded = true;
        }
        *state.succeeded.entry(method).or_default() += 1;
    }
    Some(Json(reply).into_response())
}
