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

/// What the fake answers a call with, instead of success.
#[derive(Debug, Clone)]
pub enum Trouble {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 200 with `ok: false` and this error code.
    SlackError(&'static str),
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub authorization: String,
    /// The JSON body of a POST, or the query of a GET as an object.
    pub args: Value,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<Call>,
    trouble: VecDeque<Trouble>,
    /// Known users: id → email.
    users: BTreeMap<String, String>,
    posted: u64,
}

/// The fake Slack Web API on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeSlack {
    pub address: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSlack {
    /// The fake, knowing `users` (id, verified email).
    pub async fn start(users: &[(&str, &str)]) -> FakeSlack {
        let state = Arc::new(Mutex::new(FakeState {
            users: users
                .iter()
                .map(|(id, email)| (id.to_string(), email.to_string()))
                .collect(),
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/api/{method}", post(fake_post).get(fake_get))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSlack {
            address,
            state,
            server,
        }
    }

    /// A bot calling this fake.
    pub fn bot(&self) -> SlackBot {
        SlackBot::new("xoxb-test-token", &format!("http://{}/api", self.address))
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of one Web API method.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Makes the next calls fail with `trouble`, in order.
    pub fn trouble(&self, trouble: impl IntoIterator<Item = Trouble>) {
        self.state.lock().unwrap().trouble.extend(trouble);
    }
}

async fn fake_post(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Json(args): Json<Value>,
) -> Response {
    answer(&state, method, &headers, args)
}

async fn fake_get(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    answer(&state, method, &headers, json!(query))
}

fn answer(state: &Mutex<FakeState>, method: String, headers: &HeaderMap, args: Value) -> Response {
    let mut state = state.lock().unwrap();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.calls.push(Call {
        method: method.clone(),
        authorization,
        args: args.clone(),
    });
    if let Some(trouble) = state.trouble.pop_front() {
        return match trouble {
            Trouble::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response(),
            Trouble::ServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response()
            }
            Trouble::SlackError(code) => Json(json!({"ok": false, "error": code})).into_response(),
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
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    Json(reply).into_response()
}
