//! A fake of the Bot Framework and of Microsoft Graph for tests, on one loopback port: the
//! connector (`/v3/conversations…`, recording every activity), the token endpoints, the
//! OpenID metadata and key set, Graph's `/v1.0/users/{id or email}`. It signs inbound
//! activities the way the Bot Framework does, or wrongly on purpose ([`Forgery`]), and can
//! answer with trouble (429 with `Retry-After`, 500, 401, 403).
//!
//! The two RSA keys are fixed test keys checked in beside this file (made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`): generating RSA keys at
//! test start is slow in debug builds and `ring` cannot do it.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::teams::{TeamsBot, TeamsSettings};
use crate::teams_events::BOT_FRAMEWORK_ISSUER;

/// The bot's app id the fake's tokens are for.
pub const APP_ID: &str = "5f0c7a2e-test-4bot-9a1d-frontdesk001";
/// The app password the fake's token endpoints accept.
pub const APP_PASSWORD: &str = "fake-teams-app-password";
/// The organisation's Entra tenant.
pub const DIRECTORY_TENANT: &str = "72f988bf-test-tenant";
/// The key the Bot Framework signs with, endorsed for Teams.
const TEAMS_KID: &str = "fake-key-teams";
/// A published key endorsed only for the web chat channel.
const WEBCHAT_KID: &str = "fake-key-webchat";

const TEAMS_KEY: &str = include_str!("teams_test_key_1.pem");
const WEBCHAT_KEY: &str = include_str!("teams_test_key_2.pem");

/// How a signed activity's token is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// A correct token.
    None,
    /// For another bot.
    WrongAudience,
    /// From another issuer.
    WrongIssuer,
    /// Expired ten minutes before `now` (beyond the 5 minute leeway).
    Expired,
    /// Signed under a `kid` the key set does not publish.
    UnknownKey,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 with the app password as the secret.
    Hs256,
    /// Signed, then the claims changed.
    Tampered,
    /// For a `serviceUrl` other than the activity's.
    ServiceUrlMismatch,
    /// Signed with a published key that is not endorsed for `msteams`.
    MissingEndorsement,
}

/// What the fake answers a connector or Graph call with, instead of success.
#[derive(Debug, Clone)]
pub enum Trouble {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after: u64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 401 (a token revoked early).
    Unauthorized,
    /// HTTP 403 (the bot was removed or blocked).
    Forbidden,
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub authorization: String,
    /// The JSON body, or the form of a token request as an object.
    pub body: Value,
}

#[derive(Debug, Default)]
struct FakeState {
    calls: Vec<Call>,
    trouble: VecDeque<Trouble>,
    /// Known people: Entra object id → email.
    users: BTreeMap<String, String>,
    tokens_issued: u64,
    activities: u64,
    key_fetches: usize,
}

/// The fake Bot Framework and Graph on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct FakeTeams {
    pub address: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    server: JoinHandle<()>,
}

impl Drop for FakeTeams {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn key_pair(pem: &str) -> RsaKeyPair {
    let der: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(der).expect("the test key is base64"))
        .expect("the test key is an RSA PKCS#8 key")
}

fn jwk(kid: &str, pem: &str, endorsements: &[&str]) -> Value {
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair(pem).public());
    json!({"kty": "RSA", "use": "sig", "kid": kid, "n": URL_SAFE_NO_PAD.encode(public.n),
           "e": URL_SAFE_NO_PAD.encode(public.e), "endorsements": endorsements,
           "x5t": kid, "x5c": []})
}

impl FakeTeams {
    /// The fake, knowing `users` (Entra object id, email).
    pub async fn start(users: &[(&str, &str)]) -> FakeTeams {
        let state = Arc::new(Mutex::new(FakeState {
            users: users
                .iter()
                .map(|(id, email)| (id.to_string(), email.to_string()))
                .collect(),
            ..FakeState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/botframework/token", post(token))
            .route("/directory/token", post(token))
            .route("/openid", get(openid))
            .route("/keys", get(keys))
            .route("/v3/conversations", post(connector))
            .route(
                "/v3/conversations/{conversation}/activities",
                post(connector),
            )
            .route(
                "/v3/conversations/{conversation}/activities/{activity}",
                put(connector),
            )
            .route("/v1.0/users/{user}", get(graph_user))
            .with_state((state.clone(), address));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeTeams {
            address,
            state,
            server,
        }
    }

    /// The connector's service URL (what activities carry as `serviceUrl`).
    pub fn service_url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// The OpenID metadata URL.
    pub fn openid_url(&self) -> String {
        format!("http://{}/openid", self.address)
    }

    /// The bot's settings pointing at this fake.
    pub fn settings(&self) -> TeamsSettings {
        TeamsSettings {
            app_id: APP_ID.into(),
            app_password: APP_PASSWORD.into(),
            directory_tenant_id: DIRECTORY_TENANT.into(),
            service_url: self.service_url(),
            token_url: format!("http://{}/botframework/token", self.address),
            graph_token_url: format!("http://{}/directory/token", self.address),
            graph_url: format!("http://{}", self.address),
        }
    }

    /// A bot calling this fake.
    pub fn bot(&self) -> TeamsBot {
        TeamsBot::new(self.settings())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls with this method whose path ends with `suffix` (`/activities`, `/v3/conversations`, …).
    pub fn calls_to(&self, method: &str, suffix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.ends_with(suffix))
            .collect()
    }

    /// The activities posted (not updates), in order.
    pub fn posted(&self) -> Vec<Call> {
        self.calls_to("POST", "/activities")
    }

    /// How often the key set was fetched.
    pub fn key_fetches(&self) -> usize {
        self.state.lock().unwrap().key_fetches
    }

    /// Makes the next connector or Graph calls fail with `trouble`, in order.
    pub fn trouble(&self, trouble: impl IntoIterator<Item = Trouble>) {
        self.state.lock().unwrap().trouble.extend(trouble);
    }

    /// The `Authorization` header the Bot Framework would send with an activity from
    /// `service_url` at `now` (epoch seconds), forged as `forgery` says.
    pub fn authorization(&self, service_url: &str, now: i64, forgery: Forgery) -> String {
        format!("Bearer {}", signed_token(service_url, now, forgery))
    }
}

/// A Bot Framework token for an activity from `service_url`, issued at `now`.
pub fn signed_token(service_url: &str, now: i64, forgery: Forgery) -> String {
    let (kid, pem) = match forgery {
        Forgery::UnknownKey => ("fake-key-never-published", TEAMS_KEY),
        Forgery::MissingEndorsement => (WEBCHAT_KID, WEBCHAT_KEY),
        _ => (TEAMS_KID, TEAMS_KEY),
    };
    let alg = match forgery {
        Forgery::AlgNone => "none",
        Forgery::Hs256 => "HS256",
        _ => "RS256",
    };
    let (issued, expires) = match forgery {
        Forgery::Expired => (now - 3600, now - 600),
        _ => (now - 60, now + 3540),
    };
    let claims = json!({
        "iss": if forgery == Forgery::WrongIssuer { "https://sts.windows.net/evil/" } else { BOT_FRAMEWORK_ISSUER },
        "aud": if forgery == Forgery::WrongAudience { "another-bot-app-id" } else { APP_ID },
        "serviceUrl": if forgery == Forgery::ServiceUrlMismatch { "https://smba.trafficmanager.net/evil/" } else { service_url },
        "nbf": issued, "iat": issued, "exp": expires,
    });
    let header = json!({"alg": alg, "kid": kid, "typ": "JWT", "x5t": kid});
    let encoded = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match forgery {
        Forgery::AlgNone => Vec::new(),
        Forgery::Hs256 => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, APP_PASSWORD.as_bytes());
            ring::hmac::sign(&key, encoded.as_bytes()).as_ref().to_vec()
        }
        _ => {
            let pair = key_pair(pem);
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                encoded.as_bytes(),
                &mut signature,
            )
            .expect("signing works");
            signature
        }
    };
    let encoded = if forgery == Forgery::Tampered {
        // Same signature, the audience claim changed after signing.
        let claims = json!({"iss": BOT_FRAMEWORK_ISSUER, "aud": APP_ID, "serviceUrl": service_url,
                            "nbf": issued, "exp": expires + 86_400});
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    } else {
        encoded
    };
    format!("{encoded}.{}", URL_SAFE_NO_PAD.encode(signature))
}

type Shared = (Arc<Mutex<FakeState>>, SocketAddr);

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn token(
    State((state, _)): State<Shared>,
    uri: axum::http::Uri,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.calls.push(Call {
        method: "POST".into(),
        path: uri.path().to_owned(),
        authorization: String::new(),
        body: json!(form),
    });
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != APP_ID || field("client_secret") != APP_PASSWORD {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})),
        )
            .into_response();
    }
    let prefix = if field("scope") == crate::teams::GRAPH_SCOPE {
        "graph"
    } else if field("scope") == crate::teams::BOT_SCOPE {
        "bot"
    } else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    };
    state.tokens_issued += 1;
    Json(
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                "access_token": format!("{prefix}-token-{}", state.tokens_issued)}),
    )
    .into_response()
}

async fn openid(State((_, address)): State<Shared>) -> Json<Value> {
    Json(json!({
        "issuer": BOT_FRAMEWORK_ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("http://{address}/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn keys(State((state, _)): State<Shared>) -> Json<Value> {
    state.lock().unwrap().key_fetches += 1;
    Json(json!({"keys": [
        jwk(TEAMS_KID, TEAMS_KEY, &["msteams", "emulator"]),
        jwk(WEBCHAT_KID, WEBCHAT_KEY, &["webchat"]),
    ]}))
}

/// Records the call; the trouble queued, or a 401 without the right kind of token.
fn take_call(
    state: &mut FakeState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Value,
    token_prefix: &str,
) -> Option<Response> {
    let authorization = authorization(headers);
    state.calls.push(Call {
        method: method.to_string(),
        path: path.to_owned(),
        authorization: authorization.clone(),
        body,
    });
    if !authorization.starts_with(&format!("Bearer {token_prefix}-token-")) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Authorization has been denied for this request."})),
            )
                .into_response(),
        );
    }
    let trouble = state.trouble.pop_front()?;
    Some(match trouble {
        Trouble::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            Json(json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}})),
        )
            .into_response(),
        Trouble::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream trouble").into_response()
        }
        Trouble::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Authorization has been denied for this request."})),
        )
            .into_response(),
        Trouble::Forbidden => (
            StatusCode::FORBIDDEN,
            Json(
                json!({"error": {"code": "BotDisabledByAdmin", "message": "The bot is blocked."}}),
            ),
        )
            .into_response(),
    })
}

async fn connector(
    State((state, _)): State<Shared>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = state.lock().unwrap();
    let path = uri.path().to_owned();
    if let Some(refused) = take_call(&mut state, &method, &path, &headers, body.clone(), "bot") {
        return refused;
    }
    if path == "/v3/conversations" {
        let member = body["members"][0]["id"].as_str().unwrap_or_default();
        if member.is_empty() || body["tenantId"].as_str().is_none() {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"code": "BadArgument"}})),
            )
                .into_response();
        }
        return (
            StatusCode::CREATED,
            Json(json!({"id": format!("a:1{member}")})),
        )
            .into_response();
    }
    if method == Method::PUT {
        let id = path.rsplit('/').next().unwrap_or_default();
        return Json(json!({"id": id})).into_response();
    }
    state.activities += 1;
    (
        StatusCode::CREATED,
        Json(json!({"id": format!("1764115200{:03}", state.activities)})),
    )
        .into_response()
}

async fn graph_user(
    State((state, _)): State<Shared>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(refused) = take_call(
        &mut state,
        &method,
        uri.path(),
        &headers,
        Value::Null,
        "graph",
    ) {
        return refused;
    }
    let found = state
        .users
        .iter()
        .find(|(id, email)| **id == key || email.eq_ignore_ascii_case(&key));
    match found {
        Some((id, email)) => {
            Json(json!({"id": id, "mail": email, "userPrincipalName": email})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "Request_ResourceNotFound",
                                  "message": format!("Resource '{key}' does not exist.")}})),
        )
            .into_response(),
    }
}
