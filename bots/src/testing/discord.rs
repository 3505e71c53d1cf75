//! A fake of Discord's REST API for tests, on a loopback port: it serves the `/api/v10/...`
//! paths serenity's routes name, speaks Discord's JSON (errors included: 429 with
//! `retry_after` and `Retry-After`, 5xx, 403 code 50007) and records every request. And a
//! signer that signs interactions the way Discord does, with a test Ed25519 key.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::discord::DiscordBot;

/// The application id the fake's bots use.
pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_001;

/// What the fake answers a request with, instead of success.
#[derive(Debug, Clone)]
pub enum DiscordTrouble {
    /// HTTP 429, `retry_after` (seconds, fractional like Discord's) in the body and the
    /// `Retry-After` header.
    RateLimited { retry_after: f64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 401: the bot token is not valid (any more).
    Unauthorized,
    /// HTTP 403 with code 50007: the user does not take direct messages from the bot.
    CannotDm,
    /// HTTP 404 with code 10008: the message is gone.
    UnknownMessage,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct DiscordCall {
    pub method: String,
    /// The path, from `/api/v10/`.
    pub path: String,
    pub authorization: String,
    /// The JSON body (`null` when there is none).
    pub body: Value,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<DiscordCall>,
    trouble: VecDeque<DiscordTrouble>,
    posted: u64,
}

/// The fake Discord REST API on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeDiscord {
    pub address: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeDiscord {
            address,
            state,
            server,
        }
    }

    /// The API host to give a bot (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A bot of application [`APPLICATION_ID`] calling this fake.
    pub fn bot(&self) -> DiscordBot {
        DiscordBot::new("test-bot-token", APPLICATION_ID, &self.url()).unwrap()
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<DiscordCall> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The requests with `method` to paths starting with `path` (after `/api/v10`).
    pub fn calls_to(&self, method: &str, path: &str) -> Vec<DiscordCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(path))
            .collect()
    }

    /// Makes the next requests fail with `trouble`, in order.
    pub fn trouble(&self, trouble: impl IntoIterator<Item = DiscordTrouble>) {
        self.state.lock().unwrap().trouble.extend(trouble);
    }
}

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({ "message": message, "code": code }))).into_response()
}

async fn answer(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.calls.push(DiscordCall {
        method: method.to_string(),
        path: path.clone(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: body.clone(),
    });
    if let Some(trouble) = state.trouble.pop_front() {
        return match trouble {
            DiscordTrouble::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after.ceil().to_string())],
                Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false})),
            )
                .into_response(),
            DiscordTrouble::ServerError => {
                error(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error")
            }
            DiscordTrouble::Unauthorized => error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized"),
            DiscordTrouble::CannotDm => error(
                StatusCode::FORBIDDEN,
                50007,
                "Cannot send messages to this user",
            ),
            DiscordTrouble::UnknownMessage => {
                error(StatusCode::NOT_FOUND, 10008, "Unknown Message")
            }
        };
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let reply = match (method.as_str(), segments.as_slice()) {
        ("POST", ["users", "@me", "channels"]) => {
            // A DM channel's id: the user's with a 1 in front, so tests can tell whose it is.
            let user = body["recipient_id"].as_str().unwrap_or_default();
            json!({"id": format!("1{user}"), "type": 1, "recipients": [{"id": user}]})
        }
        ("POST", ["channels", channel, "messages"]) => {
            state.posted += 1;
            let id = 1_300_000_000_000_000_000 + state.posted;
            json!({"id": id.to_string(), "channel_id": channel, "content": body["content"]})
        }
        ("PATCH", ["channels", channel, "messages", message]) => {
            json!({"id": message, "channel_id": channel, "content": body["content"]})
        }
        ("PUT", ["applications", _, "commands"]) => json!(
            body.as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, command)| {
                    let mut command = command.clone();
                    command["id"] = json!((1_200_000_000_000_000_000u64 + i as u64).to_string());
                    command
                })
                .collect::<Vec<_>>()
        ),
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
            json!({"id": "1400000000000000001", "content": body["content"]})
        }
        _ => return error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    };
    Json(reply).into_response()
}

/// Signs interactions as Discord does, with a fixed test key.
#[derive(Debug)]
pub struct DiscordSigner {
    key: SigningKey,
}

impl Default for DiscordSigner {
    fn default() -> DiscordSigner {
        DiscordSigner::from_seed([7; 32])
    }
}

impl DiscordSigner {
    /// A signer whose secret key is `seed` (another seed: another application).
    pub fn from_seed(seed: [u8; 32]) -> DiscordSigner {
        DiscordSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key as the Developer Portal shows it (hex).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// `X-Signature-Ed25519` for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        hex::encode(self.key.sign(&message).to_bytes())
    }
}
