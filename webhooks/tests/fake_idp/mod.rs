//! A local OpenID Connect identity provider for tests, speaking the real wire format:
//! discovery, a key set, `/authorize` (which signs the configured person in at once and
//! redirects back with a code) and `/token` (which checks the client secret and the PKCE
//! verifier, and returns an ES256-signed ID token). It can misbehave on demand, one way at
//! a time, to test each refusal. Dropping it stops its server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client this identity provider knows.
pub const CLIENT_ID: &str = "frontdesk-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "fake-idp-client-secret-5d1c";
/// The id of the one published signing key.
const KID: &str = "test-key-1";

/// One way to misbehave (what the next ID tokens get wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    /// A correct token.
    #[default]
    None,
    /// `alg: none`, no signature.
    Unsigned,
    /// Signed with the published key, then the claims changed (the signature no longer fits).
    TamperedSignature,
    /// Signed with another key, under a `kid` the key set does not publish.
    UnknownKey,
    /// Signed with another key, under the published key's `kid` (key substitution).
    SubstitutedKey,
    /// `aud` is another client.
    WrongAudience,
    /// `iss` is another issuer.
    WrongIssuer,
    /// Expired an hour before the test's now.
    Expired,
    /// A nonce other than the one the authorization request carried.
    WrongNonce,
}

/// The person `/authorize` signs in.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub email_verified: bool,
}

struct Grant {
    code_challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Shared {
    issuer: String,
    /// The test's clock: tokens are issued and expire relative to it.
    now: DateTime<Utc>,
    key: EcdsaKeyPair,
    other_key: EcdsaKeyPair,
    rng: SystemRandom,
    person: Mutex<Person>,
    misbehaviour: Mutex<Misbehaviour>,
    /// Shows a page with a link back instead of redirecting at once (a person's click).
    interactive: std::sync::atomic::AtomicBool,
    grants: Mutex<HashMap<String, Grant>>,
    authorize_requests: Mutex<Vec<HashMap<String, String>>>,
    token_refusals: Mutex<Vec<String>>,
}

/// A running fake identity provider.
pub struct FakeIdp {
    /// `http://127.0.0.1:<port>` (loopback, so Frontdesk accepts it over plain http).
    pub issuer: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn key_pair(rng: &SystemRandom) -> EcdsaKeyPair {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng).unwrap()
}

impl FakeIdp {
    /// Starts one on `127.0.0.1:0` whose tokens are issued at `now`, signing in `email`
    /// (verified).
    pub async fn start(now: DateTime<Utc>, email: &str) -> FakeIdp {
        FakeIdp::start_named(now, email, "127.0.0.1").await
    }

    /// [`FakeIdp::start`], its issuer naming the host `host` (`localhost` puts it on another
    /// site than an app on 127.0.0.1, as a real identity provider is, for browser tests).
    pub async fn start_named(now: DateTime<Utc>, email: &str, host: &str) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://{host}:{port}");
        let rng = SystemRandom::new();
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            now,
            key: key_pair(&rng),
            other_key: key_pair(&rng),
            rng,
            person: Mutex::new(Person {
                email: email.into(),
                email_verified: true,
            }),
            misbehaviour: Mutex::default(),
            interactive: Default::default(),
            grants: Mutex::default(),
            authorize_requests: Mutex::default(),
            token_refusals: Mutex::default(),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        FakeIdp {
            issuer,
            shared,
            stop: Some(stop),
            task,
        }
    }

    /// Signs in `person` from now on.
    pub fn sign_in_as(&self, person: Person) {
        *self.shared.person.lock().unwrap() = person;
    }

    /// From now on `/authorize` answers a page whose link `#continue` leads back, as a real
    /// provider's sign-in page does: the way back is then a navigation this other site
    /// starts (what SameSite cookies look at), not the browser.
    pub fn ask_before_redirecting(&self) {
        self.shared
            .interactive
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Misbehaves so from now on.
    pub fn misbehave(&self, how: Misbehaviour) {
        *self.shared.misbehaviour.lock().unwrap() = how;
    }

    /// The query of every authorization request so far.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.shared.authorize_requests.lock().unwrap().clone()
    }

    /// Why each refused token request was refused.
    pub fn token_refusals(&self) -> Vec<String> {
        self.shared.token_refusals.lock().unwrap().clone()
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    // The public key is the uncompressed point 0x04 ‖ x ‖ y.
    let point = shared.key.public_key().as_ref();
    Json(json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KID,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]}))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        Json(json!({ "error": "invalid_request", "error_description": why })),
    )
        .into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared
        .authorize_requests
        .lock()
        .unwrap()
        .push(query.clone());
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    // PKCE with S256 is required; a plain or missing challenge is refused.
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "S256 PKCE required");
    }
    if param("client_id") != CLIENT_ID || param("response_type") != "code" {
        return refuse(StatusCode::BAD_REQUEST, "unknown client or response type");
    }
    if !param("scope").split(' ').any(|scope| scope == "openid") || param("nonce").is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "openid scope and nonce required");
    }
    let code = format!("code-{}", uuid_like(&shared));
    let redirect_uri = param("redirect_uri");
    shared.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            code_challenge: param("code_challenge"),
            nonce: param("nonce"),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state"));
    if shared.interactive.load(std::sync::atomic::Ordering::SeqCst) {
        let href = back.as_str().replace('&', "&amp;");
        let page = format!(
            "<!doctype html><title>Fake IdP</title><a id=\"continue\" href=\"{href}\">Continue</a>"
        );
        return axum::response::Html(page).into_response();
    }
    Redirect::to(back.as_str()).into_response()
}

/// A random enough code.
fn uuid_like(shared: &Shared) -> String {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&shared.rng, &mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The client id and secret of a `client_secret_basic` Authorization header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let refused = |why: &str| {
        shared.token_refusals.lock().unwrap().push(why.to_owned());
        refuse(StatusCode::BAD_REQUEST, why)
    };
    if basic_credentials(&headers) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
        return refused("wrong client credentials");
    }
    let param = |name: &str| form.get(name).cloned().unwrap_or_default();
    if param("grant_type") != "authorization_code" {
        return refused("wrong grant type");
    }
    // A code is single use.
    let Some(grant) = shared.grants.lock().unwrap().remove(&param("code")) else {
        return refused("unknown or used code");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(param("code_verifier").as_bytes()));
    if challenge != grant.code_challenge {
        return refused("the PKCE verifier does not match the challenge");
    }
    if param("redirect_uri") != grant.redirect_uri {
        return refused("another redirect_uri than at authorization");
    }
    let id_token = id_token(&shared, &grant.nonce);
    Json(json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// An ID token for the configured person, wrong in the configured way.
fn id_token(shared: &Shared, nonce: &str) -> String {
    let how = *shared.misbehaviour.lock().unwrap();
    let person = shared.person.lock().unwrap().clone();
    let now = shared.now.timestamp();
    let (issued, expires) = match how {
        Misbehaviour::Expired => (now - 7200, now - 3600),
        _ => (now, now + 300),
    };
    let claims = json!({
        "iss": if how == Misbehaviour::WrongIssuer { "https://evil.example".to_owned() } else { shared.issuer.clone() },
        "aud": if how == Misbehaviour::WrongAudience { "another-client" } else { CLIENT_ID },
        "sub": "subject-1",
        "iat": issued,
        "exp": expires,
        "nonce": if how == Misbehaviour::WrongNonce { "another-nonce" } else { nonce },
        "email": person.email,
        "email_verified": person.email_verified,
    });
    if how == Misbehaviour::Unsigned {
        return format!("{}.{}.", encode(&json!({"alg": "none"})), encode(&claims));
    }
    let kid = if how == Misbehaviour::UnknownKey {
        "unpublished-key"
    } else {
        KID
    };
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
    let signing_input = format!("{}.{}", encode(&header), encode(&claims));
    let key = match how {
        Misbehaviour::SubstitutedKey | Misbehaviour::UnknownKey => &shared.other_key,
        _ => &shared.key,
    };
    let signature = key.sign(&shared.rng, signing_input.as_bytes()).unwrap();
    let signature = URL_SAFE_NO_PAD.encode(signature.as_ref());
    if how == Misbehaviour::TamperedSignature {
        let mut tampered = claims.clone();
        tampered["email"] = json!("owner@acme.example");
        return format!("{}.{}.{signature}", encode(&header), encode(&tampered));
    }
    format!("{signing_input}.{signature}")
}
