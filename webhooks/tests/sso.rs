//! Single sign-on with OpenID Connect, end to end on SQLite and PostgreSQL: the app driven
//! in-process, the real OpenID Connect client (`frontdesk-connectors`) talking HTTP to a
//! local fake identity provider (`fake_idp`), which misbehaves on demand.

// Shared with the page test (tests/browser_pages.rs); each uses only part of it.
#[allow(dead_code)]
mod fake_idp;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp, Misbehaviour, Person};
use frontdesk_connectors::openid::OidcHttpClient;
use frontdesk_core::domain::people::Role;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::i18n::{self, Lang};
use frontdesk_core::port::sealing_key_id;
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::{
    ManualClock, RecordingMailer, TestDb, TestEngine, test_settings, test_start,
};
use frontdesk_webhooks::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "Kq7#vLp2xW";
const OWNER: &str = "owner@acme.example";
const ADMIN: &str = "admin@acme.example";

/// A response as a test reads it.
struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The session cookie this answer sets (`name=value`), if it sets one with a value.
    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .find(|pair| pair.starts_with("fd_session=") && pair.len() > "fd_session=".len())
    }

    fn location(&self) -> String {
        self.headers[header::LOCATION].to_str().unwrap().to_owned()
    }
}

/// A signed-in callback on its way: where the identity provider sent the browser back,
/// and the state cookie the browser holds.
struct Callback {
    path: String,
    state_cookie: String,
}

struct Sso {
    router: Router,
    engine: Engine,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
    idp: FakeIdp,
    /// The owner's password session.
    owner: String,
    /// Follows nothing: each redirect is looked at.
    http: reqwest::Client,
}

impl Sso {
    /// Tenant `acme` with an owner and an admin, its SSO set to the fake identity provider
    /// (which signs the admin in) through the settings API.
    async fn new(t: &TestDb) -> Sso {
        let idp = FakeIdp::start(test_start(), ADMIN).await;
        let base = TestEngine::with_settings(t, test_settings());
        let ports = base.ports_with_openid(Arc::new(OidcHttpClient::new().unwrap()));
        let engine = Engine::new(t.db.clone(), ports, test_settings());
        let router = app(AppState::new(engine.clone(), vec![]));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut sso = Sso {
            router,
            engine,
            mailer: base.mailer,
            clock: base.clock,
            idp,
            owner: String::new(),
            http,
        };
        sso.account("acme", OWNER, Role::Owner).await;
        sso.account("acme", ADMIN, Role::Admin).await;
        sso.owner = sso
            .password_login("acme", OWNER)
            .await
            .session_cookie()
            .unwrap();
        let reply = sso.configure(&sso.owner, false).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        sso
    }

    async fn account(&self, tenant: &str, email: &str, role: Role) {
        let tenant = self.engine.ensure_tenant(tenant, tenant).await.unwrap();
        let new = NewAdmin {
            email: email.into(),
            password: PASSWORD.into(),
            role,
            can_export: true,
            language: Lang::En,
        };
        self.engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap();
    }

    /// PUT /security/sso to the fake identity provider as `cookie`.
    async fn configure(&self, cookie: &str, require_sso: bool) -> Reply {
        let body = json!({"issuer": self.idp.issuer, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "require_sso": require_sso});
        self.call(
            Method::PUT,
            "/api/v1/security/sso",
            Some(cookie),
            Some(body),
        )
        .await
    }

    async fn password_login(&self, tenant: &str, email: &str) -> Reply {
        let body = json!({"tenant": tenant, "email": email, "password": PASSWORD});
        self.call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT_LANGUAGE, "en");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// `/sso/{tenant}/start`, then the identity provider's `/authorize`: where it sends
    /// the browser back, with the state cookie the start set.
    async fn through_identity_provider(&self, tenant: &str) -> Callback {
        let started = self
            .call(Method::GET, &format!("/sso/{tenant}/start"), None, None)
            .await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text);
        let state_cookie = started.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let authorize = started.location();
        assert!(
            authorize.starts_with(&format!("{}/authorize?", self.idp.issuer)),
            "{authorize}"
        );
        let answer = self.http.get(&authorize).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let back = answer.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let path = back
            .strip_prefix(&test_settings().public_url)
            .unwrap_or_else(|| panic!("back to the public URL: {back}"))
            .to_owned();
        Callback { path, state_cookie }
    }

    async fn callback(&self, callback: &Callback) -> Reply {
        self.call(
            Method::GET,
            &callback.path,
            Some(&callback.state_cookie),
            None,
        )
        .await
    }

    /// Start, identity provider, callback.
    async fn sign_in(&self) -> Reply {
        let callback = self.through_identity_provider("acme").await;
        self.callback(&callback).await
    }

    /// The access-log entries with `action`, newest first (read as the owner).
    async fn logged(&self, action: &str) -> Vec<Value> {
        let reply = self
            .call(
                Method::GET,
                &format!("/api/v1/access-log?action={action}"),
                Some(&self.owner),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["entries"].as_array().unwrap().clone()
    }
}

/// How many sessions exist (the owner's password session is one).
async fn sessions(db: &Db) -> i64 {
    scalar_i64(db, "SELECT COUNT(*) FROM sessions").await
}

async fn scalar_i64(db: &Db, sql: &'static str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn texts(db: &Db, sql: &'static str) -> Vec<String> {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    }
}

fn en(key: &str) -> String {
    i18n::text(Lang::En, key)
}

storage_tests! {
    async fn signing_in_through_the_identity_provider_opens_a_session_and_is_logged(t: &TestDb) {
        let sso = Sso::new(t).await;
        let reply = sso.sign_in().await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        assert_eq!(reply.location(), "/");
        let cookie = reply.session_cookie().expect("a session cookie");
        let set_cookie = reply.headers.get_all(header::SET_COOKIE).iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("fd_session=")).unwrap();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");

        let me = sso.call(Method::GET, "/api/v1/auth/me", Some(&cookie), None).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["email"], ADMIN);
        let employees = sso.call(Method::GET, "/api/v1/employees", Some(&cookie), None).await;
        assert_eq!(employees.status, StatusCode::OK, "{}", employees.text);

        let logins = sso.logged("login.ok").await;
        assert_eq!(logins[0]["actor"], ADMIN);
        assert_eq!(logins[0]["detail"]["method"], "sso");
        // The owner's own password sign-in is the same kind of entry.
        assert_eq!(logins[1]["detail"]["method"], "password");

        // The authorization request was a code flow with S256 PKCE, a nonce, our redirect URI.
        let requests = sso.idp.authorize_requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request["code_challenge_method"], "S256");
        assert_eq!(request["response_type"], "code");
        assert_eq!(request["redirect_uri"], "http://127.0.0.1:8080/sso/acme/callback");
        assert!(request["scope"].split(' ').any(|s| s == "email"), "{request:?}");
        assert!(request["nonce"].len() >= 43 && request["state"].len() >= 43, "{request:?}");
        assert!(sso.idp.token_refusals().is_empty(), "{:?}", sso.idp.token_refusals());
    }

    async fn every_bad_id_token_is_refused_and_signs_nobody_in(t: &TestDb) {
        let sso = Sso::new(t).await;
        for how in [
            Misbehaviour::Unsigned,
            Misbehaviour::TamperedSignature,
            Misbehaviour::UnknownKey,
            Misbehaviour::SubstitutedKey,
            Misbehaviour::WrongAudience,
            Misbehaviour::WrongIssuer,
            Misbehaviour::Expired,
            Misbehaviour::WrongNonce,
        ] {
            sso.idp.misbehave(how);
            let reply = sso.sign_in().await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{how:?}: {}", reply.text);
            assert!(reply.text.contains(&en("page.sso.identity_provider")), "{how:?}: {}", reply.text);
            assert_eq!(reply.session_cookie(), None, "{how:?}");
            assert_eq!(sessions(&t.db).await, 1, "{how:?}: only the owner's session");
        }
        // Each code was exchanged: the refusals were the ID tokens' verification.
        assert!(sso.idp.token_refusals().is_empty(), "{:?}", sso.idp.token_refusals());
        let failures = sso.logged("login.failed").await;
        assert_eq!(failures.len(), 8);
        assert!(failures.iter().all(|f| f["detail"] == json!({"method": "sso", "reason": "identity_provider"})), "{failures:?}");
        // The same flow with a well-behaved identity provider signs in: the refusals above
        // were the tokens' faults.
        sso.idp.misbehave(Misbehaviour::None);
        let reply = sso.sign_in().await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
        assert_eq!(sessions(&t.db).await, 2);
    }

    async fn a_callback_used_twice_is_refused_the_second_time(t: &TestDb) {
        let sso = Sso::new(t).await;
        let callback = sso.through_identity_provider("acme").await;
        assert_eq!(sso.callback(&callback).await.status, StatusCode::SEE_OTHER);
        let again = sso.callback(&callback).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
        assert!(again.text.contains(&en("error.invalid_sso_attempt")), "{}", again.text);
        assert_eq!(again.session_cookie(), None);
        assert_eq!(sessions(&t.db).await, 2);
    }

    async fn an_attempt_expires_after_ten_minutes(t: &TestDb) {
        let sso = Sso::new(t).await;
        let callback = sso.through_identity_provider("acme").await;
        sso.clock.advance(chrono::Duration::minutes(10));
        let reply = sso.callback(&callback).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(sessions(&t.db).await, 1);
    }

    async fn an_unverified_or_unknown_email_signs_nobody_in(t: &TestDb) {
        let sso = Sso::new(t).await;
        sso.idp.sign_in_as(Person { email: ADMIN.into(), email_verified: false });
        let reply = sso.sign_in().await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert!(reply.text.contains(&en("page.sso.email_not_verified")), "{}", reply.text);

        sso.idp.sign_in_as(Person { email: "nobody@acme.example".into(), email_verified: true });
        let reply = sso.sign_in().await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert!(reply.text.contains(&en("page.sso.no_account")), "{}", reply.text);
        assert_eq!(reply.session_cookie(), None);
        assert_eq!(sessions(&t.db).await, 1);
        // SSO never creates accounts.
        assert_eq!(scalar_i64(&t.db, "SELECT COUNT(*) FROM accounts").await, 2);
        let reasons: Vec<Value> = sso.logged("login.failed").await.iter()
            .map(|f| f["detail"]["reason"].clone()).collect();
        assert_eq!(reasons, [json!("no_account"), json!("email_not_verified")]);
    }

    async fn a_state_from_another_tenant_or_another_browser_is_refused(t: &TestDb) {
        let sso = Sso::new(t).await;
        sso.account("other", "owner@other.example", Role::Owner).await;
        sso.account("other", ADMIN, Role::Admin).await;
        let other_owner = sso.password_login("other", "owner@other.example").await.session_cookie().unwrap();
        assert_eq!(sso.configure(&other_owner, false).await.status, StatusCode::OK);

        // acme's attempt delivered to other's callback (same identity provider, same email).
        let callback = sso.through_identity_provider("acme").await;
        let moved = Callback {
            path: callback.path.replace("/sso/acme/", "/sso/other/"),
            state_cookie: callback.state_cookie.clone(),
        };
        let reply = sso.callback(&moved).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.session_cookie(), None);

        // The callback link opened in a browser that did not start the attempt.
        let callback = sso.through_identity_provider("acme").await;
        let elsewhere = Callback { path: callback.path.clone(), state_cookie: "fd_sso_state=someone-else".into() };
        let reply = sso.callback(&elsewhere).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(sessions(&t.db).await, 2, "the two owners' password sessions only");
        // The right browser still finishes it.
        assert_eq!(sso.callback(&callback).await.status, StatusCode::SEE_OTHER);
    }

    async fn require_sso_refuses_non_owners_passwords_but_not_owners(t: &TestDb) {
        let sso = Sso::new(t).await;
        assert_eq!(sso.configure(&sso.owner, true).await.status, StatusCode::OK);

        let refused = sso.password_login("acme", ADMIN).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        let problem = refused.json();
        assert_eq!(problem["type"], "urn:frontdesk:problem:sso-required");
        assert!(problem["title"].as_str().unwrap().contains("single sign-on"), "{problem}");
        assert_eq!(refused.session_cookie(), None);
        // A wrong password is still just a wrong password.
        let wrong = sso.call(Method::POST, "/api/v1/auth/login", None,
            Some(json!({"tenant": "acme", "email": ADMIN, "password": "Wrong#Pass9"}))).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

        let owner = sso.password_login("acme", OWNER).await;
        assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);

        // No reset link for the admin (the answer is the same), one for the owner.
        for email in [ADMIN, OWNER] {
            let reply = sso.call(Method::POST, "/api/v1/auth/password-reset", None,
                Some(json!({"tenant": "acme", "email": email}))).await;
            assert_eq!(reply.status, StatusCode::ACCEPTED);
        }
        sso.engine.dispatch_due().await.unwrap();
        let sent: Vec<String> = sso.mailer.sent().iter().map(|m| m.to.clone()).collect();
        assert_eq!(sent, [OWNER]);
        assert_eq!(sso.logged("password_reset.refused").await.len(), 1);

        // The admin signs in through the identity provider instead.
        assert_eq!(sso.sign_in().await.status, StatusCode::SEE_OTHER);
    }

    async fn the_sso_settings_keep_the_client_secret_sealed_and_unshown(t: &TestDb) {
        let sso = Sso::new(t).await;
        let shown = sso.call(Method::GET, "/api/v1/security/sso", Some(&sso.owner), None).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert_eq!(shown.json(), json!({"issuer": sso.idp.issuer, "client_id": CLIENT_ID,
            "client_secret_set": true, "require_sso": false}));
        assert!(!shown.text.contains(CLIENT_SECRET));

        let stored = texts(&t.db, "SELECT client_secret FROM sso_settings").await;
        assert_eq!(stored.len(), 1);
        assert!(stored[0].starts_with("fd1.") && !stored[0].contains(CLIENT_SECRET), "{stored:?}");
        // Under the tenant's data key, not a master key: a purge leaves it unreadable.
        let key_id = sealing_key_id(&stored[0]).unwrap();
        assert!(!sso.engine.ports.secrets.holds_key(key_id), "{stored:?}");
        let details = texts(&t.db, "SELECT CAST(detail AS TEXT) FROM access_log").await;
        assert!(details.iter().all(|d| !d.contains(CLIENT_SECRET)));
        assert!(sso.logged("sso.update").await[0]["detail"]["client_secret_changed"] == json!(true));
        // On SQLite, not anywhere in the database's files either.
        if t.url().starts_with("sqlite:") {
            let file = std::path::PathBuf::from(t.url().trim_start_matches("sqlite://"));
            for entry in std::fs::read_dir(file.parent().unwrap()).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                assert!(!bytes.windows(CLIENT_SECRET.len()).any(|w| w == CLIENT_SECRET.as_bytes()));
            }
        }

        // Leaving the secret out keeps it: sign-in still works after turning require_sso on.
        let kept = sso.call(Method::PUT, "/api/v1/security/sso", Some(&sso.owner),
            Some(json!({"issuer": sso.idp.issuer, "client_id": CLIENT_ID, "require_sso": true}))).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
        assert_eq!(sso.sign_in().await.status, StatusCode::SEE_OTHER);

        let deleted = sso.call(Method::DELETE, "/api/v1/security/sso", Some(&sso.owner), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let gone = sso.call(Method::GET, "/api/v1/security/sso", Some(&sso.owner), None).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(sso.logged("sso.delete").await.len(), 1);
        let start = sso.call(Method::GET, "/sso/acme/start", None, None).await;
        assert_eq!(start.status, StatusCode::NOT_FOUND);
        assert!(start.text.contains(&en("error.sso_not_configured")));
    }

    async fn bad_sso_settings_get_422_naming_the_field_and_nothing_is_stored(t: &TestDb) {
        let sso = Sso::new(t).await;
        let deleted = sso.call(Method::DELETE, "/api/v1/security/sso", Some(&sso.owner), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let cases = [
            (json!({"issuer": "http://idp.example", "client_id": "x", "client_secret": "s"}), "issuer", "not_issuer_url"),
            (json!({"issuer": "not a url", "client_id": "x", "client_secret": "s"}), "issuer", "not_issuer_url"),
            // Loopback, but nothing answers discovery there.
            (json!({"issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "s"}), "issuer", "issuer_unreachable"),
            (json!({"issuer": sso.idp.issuer, "client_id": "", "client_secret": "s"}), "client_id", "required"),
            (json!({"issuer": sso.idp.issuer, "client_id": "x".repeat(256), "client_secret": "s"}), "client_id", "too_long"),
            // The first settings need a secret.
            (json!({"issuer": sso.idp.issuer, "client_id": "x"}), "client_secret", "required"),
        ];
        for (body, field, reason) in cases {
            let reply = sso.call(Method::PUT, "/api/v1/security/sso", Some(&sso.owner), Some(body.clone())).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
            assert_eq!(reply.json()["field"], field, "{body}: {}", reply.text);
            assert_eq!(reply.json()["reason"], reason, "{body}: {}", reply.text);
        }
        let unknown = sso.call(Method::PUT, "/api/v1/security/sso", Some(&sso.owner),
            Some(json!({"issuer": sso.idp.issuer, "client_id": "x", "client_secret": "s", "extra": 1}))).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(scalar_i64(&t.db, "SELECT COUNT(*) FROM sso_settings").await, 0);
    }

    async fn purging_a_tenant_deletes_its_sso_settings_and_attempts(t: &TestDb) {
        let sso = Sso::new(t).await;
        sso.through_identity_provider("acme").await;
        assert_eq!(scalar_i64(&t.db, "SELECT COUNT(*) FROM sso_login_attempts").await, 1);
        sso.engine.purge_tenant("acme", "operator").await.unwrap();
        assert_eq!(scalar_i64(&t.db, "SELECT COUNT(*) FROM sso_settings").await, 0);
        assert_eq!(scalar_i64(&t.db, "SELECT COUNT(*) FROM sso_login_attempts").await, 0);
    }
}
