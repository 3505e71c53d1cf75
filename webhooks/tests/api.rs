//! The admin API over HTTP (in-process, through the whole middleware stack), on SQLite and
//! PostgreSQL: sign-in, tenant isolation, CSRF refusal, throttling, error shapes, the IP allow-list.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use frontdesk_core::domain::people::{Permission, Role};
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::i18n::Lang;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, test_settings};
use frontdesk_webhooks::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "Kq7#vLp2xW";

struct Api {
    router: Router,
    engine: Engine,
    clock: std::sync::Arc<frontdesk_core::testing::ManualClock>,
    mailer: std::sync::Arc<frontdesk_core::testing::RecordingMailer>,
}

/// A response as a test reads it.
struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn new(t: &TestDb) -> Api {
        Api::serving_at(t, "http://127.0.0.1:8080").await
    }

    /// The app as served at `public_url`.
    async fn serving_at(t: &TestDb, public_url: &str) -> Api {
        Api::with(t, public_url, vec![]).await
    }

    /// The app behind proxies in `trusted_proxies` (their `X-Forwarded-For` is believed).
    async fn behind(t: &TestDb, trusted_proxies: &[&str]) -> Api {
        let trusted = trusted_proxies
            .iter()
            .map(|net| net.parse().unwrap())
            .collect();
        Api::with(t, "http://127.0.0.1:8080", trusted).await
    }

    /// The app with these calendar providers configured.
    async fn with_calendars(t: &TestDb, calendars: frontdesk_core::port::Calendars) -> Api {
        let TestEngine {
            engine,
            clock,
            mailer,
            ..
        } = TestEngine::on(t);
        let ports = frontdesk_core::port::Ports {
            calendars,
            ..engine.ports.clone()
        };
        let engine = Engine::new(engine.db.clone(), ports, test_settings());
        let router = app(AppState::new(engine.clone(), vec![]));
        Api {
            router,
            engine,
            clock,
            mailer,
        }
    }

    async fn with(t: &TestDb, public_url: &str, trusted_proxies: Vec<ipnet::IpNet>) -> Api {
        let settings = Settings {
            public_url: public_url.into(),
            ..test_settings()
        };
        let TestEngine {
            engine,
            clock,
            mailer,
            ..
        } = TestEngine::with_settings(t, settings);
        let router = app(AppState::new(engine.clone(), trusted_proxies));
        Api {
            router,
            engine,
            clock,
            mailer,
        }
    }

    /// A tenant with an account of `role`; returns the account's session cookie.
    async fn tenant_with(&self, slug: &str, role: Role, can_export: bool) -> String {
        let tenant = self.engine.ensure_tenant(slug, slug).await.unwrap();
        let email = format!("{}@{slug}.example", role.as_str());
        let new = NewAdmin {
            email: email.clone(),
            password: PASSWORD.into(),
            role,
            can_export,
            language: Lang::En,
        };
        self.engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap();
        self.login(slug, &email, PASSWORD).await
    }

    /// Signs in; the raw `Set-Cookie` header of the session.
    async fn set_cookie(&self, tenant: &str, email: &str, password: &str) -> String {
        let reply = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"tenant": tenant, "email": email, "password": password})),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let set_cookie = reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
            "{set_cookie}"
        );
        set_cookie
    }

    /// Signs in; the `name=value` to send back as `Cookie`.
    async fn login(&self, tenant: &str, email: &str, password: &str) -> String {
        let set_cookie = self.set_cookie(tenant, email, password).await;
        set_cookie.split(';').next().unwrap().to_owned()
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.send(None, method, uri, cookie, body, extra).await
    }

    /// [`Api::call`] over a connection from `peer` (an IP address).
    async fn call_from(
        &self,
        peer: &str,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let peer = std::net::SocketAddr::new(peer.parse().unwrap(), 40_000);
        self.send(Some(peer), method, uri, cookie, body, extra)
            .await
    }

    async fn send(
        &self,
        peer: Option<std::net::SocketAddr>,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(peer) = peer {
            request = request.extension(axum::extract::ConnectInfo(peer));
        }
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        // A body that is a JSON string is sent as it is, as CSV (the import takes a file).
        let request = match body {
            Some(Value::String(csv)) => request
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(csv)),
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// Rules of a booking link: 30 minutes on weekday mornings in Tokyo, by phone.
fn booking_rules() -> Value {
    json!({"time_zone": "Asia/Tokyo", "durations_minutes": [30],
           "weekly": {"mon": [["09:00", "12:00"]], "tue": [["09:00", "12:00"]]},
           "place": {"kind": "phone"}})
}

fn alice() -> Value {
    json!({"email": "alice@a.example", "name": "Alice Sato", "name_kana": "さとう ありす", "department": "Sales",
           "time_zone": "Asia/Tokyo", "language": "ja", "notification": "chat", "chat_identities": {"slack": "U1"}})
}

storage_tests! {
    async fn an_admin_of_one_tenant_gets_404_for_another_tenants_employees_on_every_route(t: &TestDb) {
        let api = Api::new(t).await;
        let a = api.tenant_with("tenant-a", Role::Owner, true).await;
        let b = api.tenant_with("tenant-b", Role::Owner, true).await;
        let created = api.call(Method::POST, "/api/v1/employees", Some(&a), Some(alice()), &[]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        let path = format!("/api/v1/employees/{id}");

        for (method, body) in [(Method::GET, None), (Method::PUT, Some(alice())), (Method::DELETE, None)] {
            let reply = api.call(method.clone(), &path, Some(&b), body, &[]).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.body);
            assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
        }
        let listed = api.call(Method::GET, "/api/v1/employees", Some(&b), None, &[]).await;
        assert_eq!(listed.body["total"], 0, "B sees none of A's employees");
        let accounts = api.call(Method::GET, "/api/v1/accounts", Some(&b), None, &[]).await;
        assert_eq!(accounts.body.as_array().unwrap().len(), 1, "only B's owner: {}", accounts.body);
        assert_eq!(accounts.body[0]["email"], "owner@tenant-b.example");
        let export = api.call(Method::GET, "/api/v1/employees/export", Some(&b), None, &[]).await;
        assert!(!export.body.as_str().unwrap().contains("alice@a.example"));
        let log = api.call(Method::GET, "/api/v1/access-log?limit=500", Some(&b), None, &[]).await;
        assert!(!log.body.to_string().contains("alice@a.example"), "B's log holds nothing of A's");

        let still_there = api.call(Method::GET, &path, Some(&a), None, &[]).await;
        assert_eq!(still_there.status, StatusCode::OK);
        assert_eq!(still_there.body["name"], "Alice Sato");
    }

    async fn requests_without_a_session_are_refused_with_401(t: &TestDb) {
        let api = Api::new(t).await;
        for uri in ["/api/v1/employees", "/api/v1/access-log", "/api/v1/accounts", "/api/v1/locations", "/api/v1/auth/me"] {
            let reply = api.call(Method::GET, uri, None, None, &[]).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
        }
        let forged = api.call(Method::GET, "/api/v1/employees", Some("fd_session=forged"), None, &[]).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }

    async fn a_cross_site_post_is_refused_and_writes_nothing(t: &TestDb) {
        let api = Api::new(t).await;
        let a = api.tenant_with("tenant-a", Role::Owner, true).await;
        let cross = api.call(Method::POST, "/api/v1/employees", Some(&a), Some(alice()), &[("sec-fetch-site", "cross-site")]).await;
        assert_eq!(cross.status, StatusCode::FORBIDDEN, "{}", cross.body);
        let by_origin = api
            .call(Method::POST, "/api/v1/employees", Some(&a), Some(alice()), &[("origin", "https://evil.example"), ("host", "fd.example")])
            .await;
        assert_eq!(by_origin.status, StatusCode::FORBIDDEN);
        let form = Request::builder()
            .method(Method::POST)
            .uri("/password-reset")
            .header("sec-fetch-site", "cross-site")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("token=x&new_password=Kq7%23vLp2xW"))
            .unwrap();
        assert_eq!(api.router.clone().oneshot(form).await.unwrap().status(), StatusCode::FORBIDDEN);
        let listed = api.call(Method::GET, "/api/v1/employees", Some(&a), None, &[]).await;
        assert_eq!(listed.body["total"], 0, "nothing was written");
        let same_origin = api.call(Method::POST, "/api/v1/employees", Some(&a), Some(alice()), &[("sec-fetch-site", "same-origin")]).await;
        assert_eq!(same_origin.status, StatusCode::CREATED);
    }

    async fn repeated_failed_logins_get_429_with_retry_after(t: &TestDb) {
        let api = Api::new(t).await;
        api.tenant_with("tenant-a", Role::Owner, true).await;
        let attempt = |password: &'static str| {
            api.call(Method::POST, "/api/v1/auth/login", None,
                Some(json!({"tenant": "tenant-a", "email": "owner@tenant-a.example", "password": password})), &[])
        };
        for _ in 0..10 {
            assert_eq!(attempt("Wrong#Pass1").await.status, StatusCode::UNAUTHORIZED);
        }
        let throttled = attempt(PASSWORD).await;
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.body);
        let retry_after: u64 = throttled.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
    }

    async fn sign_ins_beyond_the_hashing_queue_get_503_with_retry_after(t: &TestDb) {
        // One hash at a time and none waiting.
        let mut settings = test_settings();
        settings.hashing_limits.memory_budget_mib = 1;
        settings.hashing_limits.max_waiting = 0;
        let TestEngine { engine, clock, mailer, .. } = TestEngine::with_settings(t, settings);
        let api = Api { router: app(AppState::new(engine.clone(), vec![])), engine, clock, mailer };
        api.tenant_with("tenant-a", Role::Owner, true).await;

        // While hashing is held, the first sign-in to reach it holds the only place and
        // every other is refused; which one gets it does not matter.
        let hold = api.engine.hold_hashing().await;
        let mut sign_ins = tokio::task::JoinSet::new();
        for n in 0..3 {
            let router = api.router.clone();
            sign_ins.spawn(async move {
                let body = json!({"tenant": "tenant-a", "email": "owner@tenant-a.example", "password": "Wrong#Pass1"});
                let request = Request::builder().method(Method::POST).uri("/api/v1/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("x-forwarded-for", format!("192.0.2.{n}"))
                    .body(Body::from(body.to_string())).unwrap();
                router.oneshot(request).await.unwrap()
            });
        }
        for _ in 0..2 {
            let busy = sign_ins.join_next().await.unwrap().unwrap();
            assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(busy.headers()[header::CONTENT_TYPE], "application/problem+json");
            let retry_after: u64 = busy.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
            assert!(retry_after >= 1, "{retry_after}");
            let bytes = axum::body::to_bytes(busy.into_body(), 1 << 20).await.unwrap();
            let problem: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(problem["type"], "urn:frontdesk:problem:busy", "{problem}");
        }
        drop(hold);
        let checked = sign_ins.join_next().await.unwrap().unwrap();
        assert_eq!(checked.status(), StatusCode::UNAUTHORIZED, "the admitted sign-in is checked");
    }

    async fn bad_input_gets_422_naming_the_field_and_changes_nothing(t: &TestDb) {
        let api = Api::new(t).await;
        let a = api.tenant_with("tenant-a", Role::Owner, true).await;
        let mut unknown = alice();
        unknown["nickname"] = json!("Ally");
        let reply = api.call(Method::POST, "/api/v1/employees", Some(&a), Some(unknown), &[]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body["detail"].as_str().unwrap().contains("nickname"), "{}", reply.body);

        let mut bad_zone = alice();
        bad_zone["time_zone"] = json!("Mars/Olympus");
        let reply = api.call(Method::POST, "/api/v1/employees", Some(&a), Some(bad_zone), &[]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body["field"], "time_zone");

        let malformed = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/employees")
            .header(header::COOKIE, &a)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"email\": "))
            .unwrap();
        assert_eq!(api.router.clone().oneshot(malformed).await.unwrap().status(), StatusCode::BAD_REQUEST);

        let weak = api.call(Method::POST, "/api/v1/accounts", Some(&a),
            Some(json!({"email": "new@a.example", "password": "Password1!", "role": "admin"})), &[]).await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(weak.body["violations"], json!(["common"]));

        let listed = api.call(Method::GET, "/api/v1/employees", Some(&a), None, &[]).await;
        assert_eq!(listed.body["total"], 0);
        let accounts = api.call(Method::GET, "/api/v1/accounts", Some(&a), None, &[]).await;
        assert_eq!(accounts.body.as_array().unwrap().len(), 1, "only the owner");
    }

    async fn error_titles_follow_accept_language(t: &TestDb) {
        let api = Api::new(t).await;
        let ja = api.call(Method::GET, "/api/v1/employees", None, None, &[("accept-language", "ja,en;q=0.5")]).await;
        let en = api.call(Method::GET, "/api/v1/employees", None, None, &[("accept-language", "en-US")]).await;
        assert_eq!(ja.body["title"], "ログインしてください");
        assert_eq!(en.body["title"], "Sign in first");
    }

    async fn receptionists_read_the_directory_but_cannot_change_it_or_read_the_log(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        api.call(Method::POST, "/api/v1/employees", Some(&owner), Some(alice()), &[]).await;
        let tenant = api.engine.tenant("tenant-a").await.unwrap().unwrap();
        let new = NewAdmin { email: "desk@tenant-a.example".into(), password: PASSWORD.into(), role: Role::Receptionist, can_export: false, language: Lang::Ja };
        api.engine.create_account(tenant.id, None, &new).await.unwrap();
        let desk = api.login("tenant-a", "desk@tenant-a.example", PASSWORD).await;
        assert_eq!(api.call(Method::GET, "/api/v1/employees", Some(&desk), None, &[]).await.body["total"], 1);
        let create = api.call(Method::POST, "/api/v1/employees", Some(&desk), Some(alice()), &[]).await;
        assert_eq!(create.status, StatusCode::FORBIDDEN);
        assert_eq!(api.call(Method::GET, "/api/v1/access-log", Some(&desk), None, &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(api.call(Method::GET, "/api/v1/employees/export", Some(&desk), None, &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(api.call(Method::GET, "/api/v1/outbox/undeliverable", Some(&desk), None, &[]).await.status, StatusCode::FORBIDDEN);
        let owner_view = api.call(Method::GET, "/api/v1/outbox/undeliverable", Some(&owner), None, &[]).await;
        assert_eq!(owner_view.body, json!([]), "nothing failed");

        // The refusals are in the log: the first of the minute, not every one.
        let refused = |log: &Value| -> Vec<String> {
            log["entries"].as_array().unwrap().iter()
                .filter(|e| e["action"] == "access.refused")
                .map(|e| format!("{} {}", e["actor"].as_str().unwrap(), e["target"].as_str().unwrap()))
                .collect()
        };
        let log = api.call(Method::GET, "/api/v1/access-log", Some(&owner), None, &[]).await;
        assert_eq!(refused(&log.body), ["desk@tenant-a.example POST /api/v1/employees"]);
        api.clock.advance(chrono::Duration::seconds(61));
        api.call(Method::GET, "/api/v1/access-log", Some(&desk), None, &[]).await;
        let log = api.call(Method::GET, "/api/v1/access-log", Some(&owner), None, &[]).await;
        assert_eq!(refused(&log.body).len(), 2, "a minute later, the next refusal is logged");
    }

    async fn the_access_log_lists_pages_filters_and_exports_what_admins_did(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let created = api.call(Method::POST, "/api/v1/employees", Some(&owner), Some(alice()), &[]).await;
        let id = created.body["id"].as_i64().unwrap();
        let mut renamed = alice();
        renamed["name"] = json!("Alice Sato-Tanaka");
        api.call(Method::PUT, &format!("/api/v1/employees/{id}"), Some(&owner), Some(renamed), &[]).await;

        let page = api.call(Method::GET, "/api/v1/access-log?limit=2", Some(&owner), None, &[]).await;
        let entries = page.body["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["action"], "employee.update");
        assert_eq!(entries[0]["detail"]["changed"], json!(["name"]));
        assert_eq!(entries[0]["ip"], "127.0.0.1");
        let before = page.body["next_before"].as_i64().unwrap();
        let older = api.call(Method::GET, &format!("/api/v1/access-log?limit=2&before={before}"), Some(&owner), None, &[]).await;
        assert_eq!(older.body["entries"][0]["action"], "login.ok");

        let filtered = api.call(Method::GET, "/api/v1/access-log?action=employee.create", Some(&owner), None, &[]).await;
        assert_eq!(filtered.body["entries"].as_array().unwrap().len(), 1);

        let csv = api.call(Method::GET, "/api/v1/access-log/export", Some(&owner), None, &[]).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
        let text = csv.body.as_str().unwrap();
        assert!(text.starts_with("seq,at_utc,actor,ip,action"), "{text}");
        assert!(text.contains("employee.update"));
        let after = api.call(Method::GET, "/api/v1/access-log?limit=1", Some(&owner), None, &[]).await;
        assert_eq!(after.body["entries"][0]["action"], "access_log.export", "the export itself is logged");

        let bad = api.call(Method::GET, "/api/v1/access-log?from=yesterday", Some(&owner), None, &[]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn the_openapi_document_is_generated_from_the_handlers() {
    let doc = serde_json::to_value(frontdesk_webhooks::api::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // Every operation documents the problem+json answer any request may get.
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let default = &operation["responses"]["default"]["content"]["application/problem+json"];
            assert!(!default.is_null(), "{method} {path}");
        }
    }
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["title"].is_object());
    for (path, name) in [("/employees", "q"), ("/access-log", "action")] {
        let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(parameter["in"], "query", "{path} {name}");
    }
    for path in [
        "/auth/login",
        "/employees",
        "/employees/{id}",
        "/employees/import",
        "/access-log",
        "/accounts",
        "/locations",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(
        doc["components"]["schemas"]
            .get("EmployeeRequest")
            .is_some()
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_unknown_routes_are_problems() {
    let t = TestDb::sqlite().await;
    let api = Api::new(&t).await;
    let fresh = api.call(Method::GET, "/healthz", None, None, &[]).await;
    let id = fresh.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    let forged = api
        .call(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "proxy-42")],
        )
        .await;
    let replaced = forged.headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        replaced.len(),
        36,
        "a client that is not a trusted proxy gets a fresh id: {replaced}"
    );

    // Called without a socket, the peer is 127.0.0.1: make that the trusted proxy.
    let state = AppState::new(api.engine.clone(), vec!["127.0.0.1/32".parse().unwrap()]);
    let behind_proxy = app(state)
        .oneshot(
            Request::get("/healthz")
                .header("x-request-id", "proxy-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        behind_proxy.headers()["x-request-id"],
        "proxy-42",
        "a trusted proxy's id is kept"
    );

    let missing = api
        .call(Method::GET, "/no/such/page", None, None, &[])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let wrong_method = api.call(Method::DELETE, "/healthz", None, None, &[]).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_method.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(wrong_method.body["status"], 405);
    let wrong_api_method = api
        .call(Method::DELETE, "/api/v1/auth/me", None, None, &[])
        .await;
    assert_eq!(wrong_api_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_api_method.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let t = TestDb::sqlite().await;
    let api = Api::new(&t).await;
    for method in ["XA", "XB", "XC"] {
        api.call(
            Method::from_bytes(method.as_bytes()).unwrap(),
            "/healthz",
            None,
            None,
            &[],
        )
        .await;
    }
    let metrics = api.call(Method::GET, "/metrics", None, None, &[]).await;
    let text = metrics.body.as_str().unwrap();
    assert!(!text.contains("method=\"XA\""), "{text}");
    assert!(
        text.contains(
            "frontdesk_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn the_session_cookie_lives_for_the_session_and_signing_out_clears_it() {
    let t = TestDb::sqlite().await;
    let api = Api::new(&t).await;
    let session = api.tenant_with("tenant-a", Role::Owner, false).await;
    let set = api
        .set_cookie("tenant-a", "owner@tenant-a.example", PASSWORD)
        .await;
    let ttl = api.engine.settings.session_ttl.num_seconds();
    assert!(set.contains("Path=/"), "{set}");
    assert!(set.contains(&format!("Max-Age={ttl}")), "{set}");

    let out = api
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&session),
            None,
            &[],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("fd_session=;"), "{cleared}");
    for attribute in ["Max-Age=0", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(cleared.contains(attribute), "{attribute}: {cleared}");
    }
    let me = api
        .call(Method::GET, "/api/v1/auth/me", Some(&session), None, &[])
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "the session has ended");
}

#[tokio::test]
async fn a_chosen_language_cookie_wins_over_accept_language() {
    let t = TestDb::sqlite().await;
    let api = Api::new(&t).await;
    let chosen = api
        .call(
            Method::GET,
            "/api/v1/employees",
            Some("fd_lang=ja"),
            None,
            &[("accept-language", "en-US")],
        )
        .await;
    assert_eq!(chosen.body["title"], "ログインしてください");
}

storage_tests! {
    async fn readiness_fails_while_the_database_is_unreachable(t: &TestDb) {
        let api = Api::new(t).await;
        assert_eq!(api.call(Method::GET, "/readyz", None, None, &[]).await.status, StatusCode::OK);
        api.engine.db.close().await;
        let down = api.call(Method::GET, "/readyz", None, None, &[]).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(api.call(Method::GET, "/healthz", None, None, &[]).await.status, StatusCode::OK, "alive all the same");
    }

    async fn session_cookies_are_secure_when_served_over_https(t: &TestDb) {
        let plain = Api::new(t).await;
        plain.tenant_with("tenant-a", Role::Owner, false).await;
        let cookie = plain.set_cookie("tenant-a", "owner@tenant-a.example", PASSWORD).await;
        assert!(!cookie.contains("Secure"), "{cookie}");
        let tls = Api::serving_at(t, "https://frontdesk.example.com").await;
        let cookie = tls.set_cookie("tenant-a", "owner@tenant-a.example", PASSWORD).await;
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    }

    async fn the_reset_page_keeps_its_link_out_of_caches_and_referrers(t: &TestDb) {
        let api = Api::new(t).await;
        let page = api.call(Method::GET, "/password-reset?token=abc", None, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
        let malformed = Request::builder()
            .method(Method::POST)
            .uri("/password-reset")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("nothing=here"))
            .unwrap();
        let response = api.router.clone().oneshot(malformed).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    }
}

storage_tests! {
    async fn the_invitation_page_keeps_its_link_out_of_caches_and_referrers(t: &TestDb) {
        let api = Api::new(t).await;
        let page = api.call(Method::GET, "/invitation?token=abc", None, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
        let missing = api.call(Method::GET, "/invitation", None, None, &[("accept-language", "en")]).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(missing.body.as_str().unwrap().contains("This page needs the link from the invitation email."));
    }

    async fn owners_change_and_remove_accounts_but_never_the_last_owner(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let other = api.tenant_with("tenant-b", Role::Owner, true).await;
        let created = api
            .call(Method::POST, "/api/v1/accounts", Some(&owner),
                Some(json!({"email": "ann@tenant-a.example", "password": PASSWORD, "role": "admin"})), &[])
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let ann_id = created.body["id"].as_i64().unwrap();
        let ann = api.login("tenant-a", "ann@tenant-a.example", PASSWORD).await;
        assert_eq!(api.call(Method::GET, "/api/v1/access-log", Some(&ann), None, &[]).await.status, StatusCode::OK);

        let path = format!("/api/v1/accounts/{ann_id}");
        let foreign = api.call(Method::PUT, &path, Some(&other), Some(json!({"role": "owner", "can_export": true})), &[]).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another tenant's owner cannot touch it");
        assert_eq!(api.call(Method::DELETE, &path, Some(&other), None, &[]).await.status, StatusCode::NOT_FOUND);

        let demoted = api.call(Method::PUT, &path, Some(&owner), Some(json!({"role": "receptionist", "can_export": false})), &[]).await;
        assert_eq!(demoted.body["role"], "receptionist");
        assert_eq!(api.call(Method::GET, "/api/v1/access-log", Some(&ann), None, &[]).await.status, StatusCode::FORBIDDEN,
            "the change applies to the signed-in session at once");

        let me = api.call(Method::GET, "/api/v1/auth/me", Some(&owner), None, &[]).await;
        let owner_path = format!("/api/v1/accounts/{}", me.body["id"]);
        let last = api.call(Method::DELETE, &owner_path, Some(&owner), None, &[]).await;
        assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
        let demote_last = api.call(Method::PUT, &owner_path, Some(&owner), Some(json!({"role": "admin", "can_export": true})), &[]).await;
        assert_eq!(demote_last.status, StatusCode::CONFLICT);

        assert_eq!(api.call(Method::DELETE, &path, Some(&owner), None, &[]).await.status, StatusCode::NO_CONTENT);
        assert_eq!(api.call(Method::GET, "/api/v1/auth/me", Some(&ann), None, &[]).await.status, StatusCode::UNAUTHORIZED,
            "a removed account's session ends");
        let log = api.call(Method::GET, "/api/v1/access-log?limit=10", Some(&owner), None, &[]).await;
        let actions: Vec<&str> = log.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"account.update") && actions.contains(&"account.delete"), "{actions:?}");
    }
}

storage_tests! {
    async fn admins_add_and_change_locations_of_their_own_tenant_only(t: &TestDb) {
        let api = Api::new(t).await;
        let a = api.tenant_with("tenant-a", Role::Owner, true).await;
        let b = api.tenant_with("tenant-b", Role::Owner, true).await;
        let hq = json!({"slug": "hq", "name": "Head office", "time_zone": "Asia/Tokyo"});
        assert_eq!(api.call(Method::POST, "/api/v1/locations", Some(&a), Some(hq.clone()), &[]).await.status, StatusCode::CREATED);
        assert_eq!(api.call(Method::POST, "/api/v1/locations", Some(&a), Some(hq), &[]).await.status, StatusCode::CONFLICT);
        let bad_slug = json!({"slug": "Head Office", "name": "x", "time_zone": "Asia/Tokyo"});
        let refused = api.call(Method::POST, "/api/v1/locations", Some(&a), Some(bad_slug), &[]).await;
        assert_eq!(refused.body["field"], "slug");

        let change = json!({"name": "本社", "time_zone": "Asia/Osaka"});
        let wrong_zone = api.call(Method::PUT, "/api/v1/locations/hq", Some(&a), Some(change), &[]).await;
        assert_eq!(wrong_zone.status, StatusCode::UNPROCESSABLE_ENTITY, "Asia/Osaka is not a zone");
        let change = json!({"name": "本社", "time_zone": "Asia/Tokyo"});
        let foreign = api.call(Method::PUT, "/api/v1/locations/hq", Some(&b), Some(change.clone()), &[]).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        let renamed = api.call(Method::PUT, "/api/v1/locations/hq", Some(&a), Some(change), &[]).await;
        assert_eq!(renamed.body["name"], "本社");
        let listed = api.call(Method::GET, "/api/v1/locations", Some(&b), None, &[]).await;
        assert_eq!(listed.body, json!([]), "B sees none of A's locations");
    }
}

impl Api {
    /// Invites `email` as the signed-in owner `cookie`; the token of the mail delivered.
    async fn invite(&self, owner: &str, email: &str, role: &str, language: &str) -> String {
        let body = json!({"email": email, "role": role, "language": language});
        let invited = self
            .call(
                Method::POST,
                "/api/v1/accounts/invitations",
                Some(owner),
                Some(body),
                &[],
            )
            .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
        assert!(
            self.engine.dispatch_due().await.unwrap() >= 1,
            "the mail is sent"
        );
        let mail = self.mailer.sent().pop().expect("a mail");
        assert_eq!(mail.to, email);
        let marker = "/invitation?token=";
        let start = mail.body.find(marker).expect("an invitation link") + marker.len();
        mail.body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    async fn accept(&self, token: &str, password: &str) -> Reply {
        let body = json!({"token": token, "password": password});
        self.call(
            Method::POST,
            "/api/v1/auth/invitations/accept",
            None,
            Some(body),
            &[("accept-language", "en")],
        )
        .await
    }
}

storage_tests! {
    async fn an_invited_receptionist_accepts_the_link_and_signs_in(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let token = api.invite(&owner, "desk@tenant-a.example", "receptionist", "ja").await;
        let mail = api.mailer.sent().pop().unwrap();
        assert!(mail.body.contains("http://127.0.0.1:8080/invitation?token="), "{}", mail.body);
        assert!(mail.body.contains("受付担当"), "the mail is in Japanese: {}", mail.body);

        let pending = api.call(Method::GET, "/api/v1/accounts/invitations", Some(&owner), None, &[]).await;
        assert_eq!(pending.status, StatusCode::OK);
        let pending = pending.body.as_array().unwrap().clone();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0]["email"], "desk@tenant-a.example");
        assert_eq!(pending[0]["role"], "receptionist");
        assert!(pending[0]["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(!pending[0].to_string().contains(&token), "the token is never listed");
        assert!(pending[0].get("token").is_none());

        let weak = api.accept(&token, "desk@tenant-a.example").await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", weak.body);
        let accepted = api.accept(&token, PASSWORD).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
        assert_eq!(accepted.body["role"], "receptionist");
        assert_eq!(accepted.body["language"], "ja");
        let desk = api.login("tenant-a", "desk@tenant-a.example", PASSWORD).await;
        let me = api.call(Method::GET, "/api/v1/auth/me", Some(&desk), None, &[]).await;
        assert_eq!(me.body["email"], "desk@tenant-a.example");

        let again = api.accept(&token, "Other-Secret-2468").await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(again.body["type"], "urn:frontdesk:problem:invalid-invitation", "{}", again.body);
        assert_eq!(again.body["title"], "This invitation link is invalid, already used or has expired");
        let body = json!({"token": token, "password": PASSWORD});
        let ja = api.call(Method::POST, "/api/v1/auth/invitations/accept", None, Some(body), &[("accept-language", "ja")]).await;
        assert_eq!(ja.body["title"], "この招待リンクは無効か、使用済みか、有効期限が切れています");

        let log = api.call(Method::GET, "/api/v1/access-log?limit=20", Some(&owner), None, &[]).await;
        assert_eq!(entries_of(&log.body, "account.invite").len(), 1, "{}", log.body);
        let created = entries_of(&log.body, "account.create");
        assert_eq!(created.iter().filter(|e| e.starts_with("desk@tenant-a.example ")).count(), 1, "{created:?}");
        assert!(api.call(Method::GET, "/api/v1/accounts/invitations", Some(&owner), None, &[]).await.body == json!([]));
    }

    async fn an_invitation_expires_after_seventy_two_hours(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let token = api.invite(&owner, "late@tenant-a.example", "admin", "en").await;
        api.clock.advance(chrono::Duration::hours(72));
        let late = api.accept(&token, PASSWORD).await;
        assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
        assert_eq!(late.body["title"], "This invitation link is invalid, already used or has expired");
        // The owner's session has ended by now too.
        let owner = api.login("tenant-a", "owner@tenant-a.example", PASSWORD).await;
        let pending = api.call(Method::GET, "/api/v1/accounts/invitations", Some(&owner), None, &[]).await;
        assert_eq!(pending.body, json!([]));
    }

    async fn of_two_concurrent_accepts_over_the_api_exactly_one_creates_the_account(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let token = api.invite(&owner, "twice@tenant-a.example", "admin", "en").await;
        let (a, b) = tokio::join!(api.accept(&token, "First-Secret-1111"), api.accept(&token, "Second-Secret-2222"));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::BAD_REQUEST], "{} {}", a.body, b.body);
    }

    async fn inviting_an_email_that_has_an_account_is_a_conflict(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let body = json!({"email": "OWNER@tenant-a.example", "role": "admin"});
        let taken = api.call(Method::POST, "/api/v1/accounts/invitations", Some(&owner), Some(body), &[]).await;
        assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
        let as_owner = json!({"email": "boss@tenant-a.example", "role": "owner"});
        let refused = api.call(Method::POST, "/api/v1/accounts/invitations", Some(&owner), Some(as_owner), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.body["field"], "role");
        assert!(api.mailer.sent().is_empty(), "nothing is mailed");
    }
}

/// Every route of the app as `(method, path)`: the API's from its OpenAPI document (with
/// sample path parameters), and the pages, health and static routes beside it.
fn every_route() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(frontdesk_webhooks::api::openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let path = path.replace("{id}", "1").replace("{slug}", "hq");
            routes.push((
                method.to_uppercase().parse().unwrap(),
                format!("/api/v1{path}"),
            ));
        }
    }
    assert!(
        routes.len() >= 15,
        "sanity: the document was read: {routes:?}"
    );
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/password-reset?token=x"),
        (Method::POST, "/password-reset"),
        (Method::GET, "/invitation?token=x"),
        (Method::POST, "/invitation"),
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/assets/frontdesk.css"),
        (Method::GET, "/assets/chat.js"),
        (Method::GET, "/assets/kiosk.js"),
        (Method::GET, "/assets/kiosk-icon.svg"),
        (Method::GET, "/assets/booking.js"),
        (Method::GET, "/b/alice"),
        (Method::GET, "/b/alice/bookings/x?t=y"),
        (Method::GET, "/b/alice/bookings/x/invite.ics?t=y"),
        (Method::GET, "/b/alice/bookings/x/code.svg?t=y"),
        (Method::GET, "/kiosk/hq"),
        (Method::GET, "/kiosk/hq/manifest.webmanifest"),
        (Method::GET, "/kiosk/hq/badge/x?t=y"),
        (Method::GET, "/kiosk/service-worker.js"),
        (Method::GET, "/assets/room.js"),
        (Method::GET, "/r/room-a"),
        (Method::GET, "/r/room-a/door"),
        (Method::GET, "/r/room-a/qr"),
        (Method::GET, "/admin/rooms"),
        (Method::GET, "/chat"),
        (Method::POST, "/chat/sign-in/request"),
        (Method::GET, "/chat/sign-in?token=x"),
        (Method::POST, "/chat/sign-in"),
        (Method::POST, "/chat/sign-out"),
        (Method::POST, "/chat/messages"),
        (Method::POST, "/chat/actions"),
        (Method::GET, "/chat/events"),
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/no/such/page"),
    ] {
        routes.push((method, path.to_owned()));
    }
    routes
}

storage_tests! {
    async fn every_route_answers_with_the_security_headers(t: &TestDb) {
        let api = Api::serving_at(t, "https://fd.example.com").await;
        let cookie = api.tenant_with("acme", Role::Owner, true).await;
        assert!(cookie.starts_with("__Host-fd_session="), "under https: {cookie}");
        for (method, path) in every_route() {
            let reply = api.call(method.clone(), &path, Some(&cookie), None, &[]).await;
            let header = |name: &str| {
                reply.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
            };
            let at = format!("{method} {path} ({})", reply.status);
            assert_eq!(header("x-content-type-options"), "nosniff", "{at}");
            assert_eq!(header("x-frame-options"), "DENY", "{at}");
            assert!(!header("referrer-policy").is_empty(), "{at}");
            let csp = header("content-security-policy");
            assert!(
                csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
                "{at}: {csp}"
            );
            assert!(!csp.contains("unsafe-inline"), "{at}: {csp}");
            assert!(header("strict-transport-security").starts_with("max-age="), "{at}");
            if !path.starts_with("/assets/") {
                assert_eq!(header("cache-control"), "no-store", "{at}");
            }
        }
    }

    async fn an_oversized_body_is_refused_as_a_problem_on_every_route(t: &TestDb) {
        let api = Api::new(t).await;
        let cookie = api.tenant_with("acme", Role::Owner, true).await;
        let oversized = "x".repeat(frontdesk_webhooks::extract::MAX_BODY_BYTES + 1);
        for (method, path) in every_route() {
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, oversized.len())
                .body(Body::from(oversized.clone()))
                .unwrap();
            let response = api.router.clone().oneshot(request).await.unwrap();
            let at = format!("{method} {path}");
            assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{at}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json", "{at}");
        }
    }

    async fn the_session_cookie_has_no_prefix_over_plain_http(t: &TestDb) {
        let api = Api::new(t).await;
        let cookie = api.tenant_with("acme", Role::Owner, true).await;
        assert!(cookie.starts_with("fd_session="), "{cookie}");
        let me = api.call(Method::GET, "/api/v1/auth/me", Some(&cookie), None, &[]).await;
        assert_eq!(me.status, StatusCode::OK);
        let reply = api.call(Method::GET, "/healthz", None, None, &[]).await;
        assert!(reply.headers.get("strict-transport-security").is_none(), "no HSTS without https");
    }
}

storage_tests! {
    async fn a_put_that_leaves_out_a_field_is_refused_and_a_patch_changes_only_what_it_names(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("acme", Role::Owner, true).await;
        let created = api.call(Method::POST, "/api/v1/employees", Some(&owner), Some(alice()), &[]).await;
        let path = format!("/api/v1/employees/{}", created.body["id"]);

        let mut partial = alice();
        partial.as_object_mut().unwrap().remove("department");
        let refused = api.call(Method::PUT, &path, Some(&owner), Some(partial), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body["detail"].as_str().unwrap().contains("department"), "{}", refused.body);
        let unchanged = api.call(Method::GET, &path, Some(&owner), None, &[]).await;
        assert_eq!(unchanged.body["department"], "Sales", "nothing was cleared");

        let patched = api
            .call(Method::PATCH, &path, Some(&owner), Some(json!({"department": "Marketing"})), &[])
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(patched.body["department"], "Marketing");
        assert_eq!(patched.body["name_kana"], "さとう ありす", "fields left out are kept");
        assert_eq!(patched.body["chat_identities"], json!({"slack": "U1"}));

        let bad = api
            .call(Method::PATCH, &path, Some(&owner), Some(json!({"name": "A\u{1b}B"})), &[])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.body["field"], "name");
        assert_eq!(bad.body["reason"], "control_character");
    }

    async fn a_text_beyond_its_limit_is_refused_naming_the_field_and_the_limit_not_echoing_it(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("acme", Role::Owner, true).await;
        let long = "長".repeat(201);
        let mut body = alice();
        body["name"] = json!(long);
        let refused = api.call(Method::POST, "/api/v1/employees", Some(&owner), Some(body), &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["field"], "name");
        assert_eq!(refused.body["reason"], "too_long");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains("200") && detail.len() < 300, "{detail}");
        let location = json!({"slug": "hq", "name": "a\nb", "time_zone": "Asia/Tokyo"});
        let refused = api.call(Method::POST, "/api/v1/locations", Some(&owner), Some(location), &[]).await;
        assert_eq!(refused.body["field"], "name", "{}", refused.body);
        assert_eq!(refused.body["reason"], "control_character");
    }
}

/// The schema `schema` names, following a `$ref` into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Whether a schema admits a string (`"string"`, or `["string", "null"]` for an option).
fn is_text(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "string",
        Value::Array(types) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

storage_tests! {
    async fn every_text_field_of_every_body_and_query_has_a_limit_and_refuses_control_characters(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("acme", Role::Owner, true).await;
        let doc = serde_json::to_value(frontdesk_webhooks::api::openapi()).unwrap();
        let long = "x".repeat(frontdesk_webhooks::extract::MAX_TEXT_FIELD + 1);
        let mut checked = 0;
        for (path, operations) in doc["paths"].as_object().unwrap() {
            let uri = format!("/api/v1{}", path.replace("{id}", "1").replace("{calendar}", "1").replace("{slug}", "hq"));
            for (method, operation) in operations.as_object().unwrap() {
                let method: Method = method.to_uppercase().parse().unwrap();
                let body = &operation["requestBody"]["content"]["application/json"]["schema"];
                if !body.is_null() {
                    let schema = resolve(&doc, body);
                    // A free-form object (a location's reception settings) has no named
                    // properties to walk; `AppJson` bounds every text in it all the same.
                    let properties = schema["properties"].as_object().into_iter().flatten();
                    for (field, property) in properties {
                        if !is_text(resolve(&doc, property)) {
                            continue;
                        }
                        for (value, reason) in [(long.as_str(), "too_long"), ("a\u{0}b", "control_character")] {
                            let reply = api.call(method.clone(), &uri, Some(&owner), Some(json!({ field: value })), &[]).await;
                            let at = format!("{method} {uri} {field} {reason}");
                            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {}", reply.body);
                            assert_eq!(reply.body["field"], field.as_str(), "{at}");
                            assert_eq!(reply.body["reason"], reason, "{at}");
                            assert!(reply.body.to_string().len() < 1000, "{at}: the input is not echoed");
                            checked += 1;
                        }
                    }
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    if parameter["in"] != "query" || !is_text(&parameter["schema"]) {
                        continue;
                    }
                    let name = parameter["name"].as_str().unwrap();
                    let reply = api.call(method.clone(), &format!("{uri}?{name}={long}"), Some(&owner), None, &[]).await;
                    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {uri} ?{name}");
                    assert_eq!(reply.body["field"], name);
                    checked += 1;
                }
            }
        }
        assert!(checked >= 30, "sanity: the schemas were walked ({checked} checks)");
    }
}

/// The IP allow-list's path.
const ALLOW_LIST: &str = "/api/v1/security/ip-allow-list";

/// The access-log entries of `action` as `actor ip target`.
fn entries_of(log: &Value, action: &str) -> Vec<String> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| {
            format!(
                "{} {} {}",
                e["actor"].as_str().unwrap(),
                e["ip"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect()
}

fn sign_in_body(password: &str) -> Option<Value> {
    Some(json!({"tenant": "tenant-a", "email": "owner@tenant-a.example", "password": password}))
}

storage_tests! {
    async fn an_owner_restricts_the_admin_api_to_listed_networks_and_other_addresses_get_403(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let unrestricted = api.call(Method::GET, ALLOW_LIST, Some(&owner), None, &[]).await;
        assert_eq!(unrestricted.body, json!({"networks": []}), "a new tenant is unrestricted");

        let list = json!({"networks": ["203.0.113.7/24", " 2001:db8::1/32", "198.51.100.7", "203.0.113.0/24"]});
        let saved = api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(list), &[]).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert_eq!(saved.body, json!({"networks": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]}),
            "normalised, repeats dropped, in the owner's order");

        for inside in ["203.0.113.77", "2001:db8:5::9", "198.51.100.7", "::ffff:203.0.113.8"] {
            let reply = api.call_from(inside, Method::GET, "/api/v1/employees", Some(&owner), None, &[]).await;
            assert_eq!(reply.status, StatusCode::OK, "{inside}: {}", reply.body);
        }
        for outside in ["198.51.100.8", "203.0.114.1", "2001:db9::1", "127.0.0.1"] {
            let reply = api.call_from(outside, Method::GET, "/api/v1/employees", Some(&owner), None, &[("accept-language", "en")]).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{outside}");
            assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(reply.body["type"], "urn:frontdesk:problem:address-not-allowed");
            assert!(reply.body["title"].as_str().unwrap().contains("IP allow-list"), "{}", reply.body);
            assert_eq!(reply.body["address"], outside);
        }
        let ja = api.call_from("198.51.100.8", Method::GET, ALLOW_LIST, Some(&owner), None, &[("accept-language", "ja")]).await;
        assert!(ja.body["title"].as_str().unwrap().contains("IP 許可リスト"), "{}", ja.body);
    }

    async fn sign_in_from_an_address_outside_the_list_is_refused_before_the_password_is_checked(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let list = json!({"networks": ["203.0.113.0/24"]});
        let saved = api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(list), &[]).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);

        let refused = api.call_from("198.51.100.8", Method::POST, "/api/v1/auth/login", None, sign_in_body(PASSWORD), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert_eq!(refused.body["type"], "urn:frontdesk:problem:address-not-allowed");
        assert!(refused.headers.get(header::SET_COOKIE).is_none(), "no session was made");
        // A wrong password gets the same answer: the password was never looked at, and
        // guesses from outside do not count towards locking the account.
        for _ in 0..12 {
            let guess = api.call_from("198.51.100.8", Method::POST, "/api/v1/auth/login", None, sign_in_body("Wrong#Pass1"), &[]).await;
            assert_eq!(guess.status, StatusCode::FORBIDDEN);
        }
        let inside = api.call_from("203.0.113.9", Method::POST, "/api/v1/auth/login", None, sign_in_body(PASSWORD), &[]).await;
        assert_eq!(inside.status, StatusCode::OK, "{}", inside.body);
    }

    async fn behind_a_trusted_proxy_the_right_most_untrusted_hop_decides(t: &TestDb) {
        let api = Api::behind(t, &["10.0.0.0/8"]).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let list = json!({"networks": ["203.0.113.0/24"]});
        let saved = api.call_from("10.0.0.2", Method::PUT, ALLOW_LIST, Some(&owner), Some(list), &[("x-forwarded-for", "203.0.113.5")]).await;
        assert_eq!(saved.status, StatusCode::OK, "the forwarded address is the owner's: {}", saved.body);

        let through = |xff: &'static str| {
            let (api, owner) = (&api, &owner);
            async move { api.call_from("10.0.0.2", Method::GET, "/api/v1/employees", Some(owner), None, &[("x-forwarded-for", xff)]).await }
        };
        assert_eq!(through("203.0.113.9").await.status, StatusCode::OK);
        assert_eq!(through("198.51.100.1, 203.0.113.9, 10.0.0.7").await.status, StatusCode::OK,
            "proxies in the chain are skipped; what the client wrote before its address does not matter");
        let spoofed = through("203.0.113.9, 198.51.100.4").await;
        assert_eq!(spoofed.status, StatusCode::FORBIDDEN, "the client wrote 203.0.113.9; the proxy saw 198.51.100.4");
        assert_eq!(spoofed.body["address"], "198.51.100.4");
        let no_header = api.call_from("10.0.0.2", Method::GET, "/api/v1/employees", Some(&owner), None, &[]).await;
        assert_eq!(no_header.status, StatusCode::FORBIDDEN, "without a forwarded address, the proxy itself is the client");
    }

    async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(t: &TestDb) {
        // SECURITY.md case 18: only a trusted proxy's X-Forwarded-For is believed.
        let api = Api::behind(t, &["10.0.0.0/8"]).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let list = json!({"networks": ["203.0.113.0/24"]});
        api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(list), &[]).await;

        let spoofed = [("x-forwarded-for", "203.0.113.5")];
        let reply = api.call_from("198.51.100.8", Method::GET, "/api/v1/employees", Some(&owner), None, &spoofed).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(reply.body["address"], "198.51.100.8");
        let sign_in = api.call_from("198.51.100.8", Method::POST, "/api/v1/auth/login", None, sign_in_body(PASSWORD), &spoofed).await;
        assert_eq!(sign_in.status, StatusCode::FORBIDDEN);
    }

    async fn health_metrics_the_api_document_and_pages_without_a_session_stay_reachable_from_anywhere(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let list = json!({"networks": ["203.0.113.0/24"]});
        api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(list), &[]).await;
        // Platform webhooks (`/webhooks/…`) and the public booking API (`/api/v1/public/…`)
        // take no session, so the restriction — which lives in the session extractor —
        // cannot reach them; the routes of this tree without a session are checked here.
        for uri in ["/healthz", "/readyz", "/metrics", "/", "/api/v1/openapi.json", "/password-reset?token=x"] {
            let reply = api.call_from("198.51.100.8", Method::GET, uri, Some(&owner), None, &[]).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        }
        let reset = api.call_from("198.51.100.8", Method::POST, "/api/v1/auth/password-reset", None,
            Some(json!({"tenant": "tenant-a", "email": "owner@tenant-a.example"})), &[]).await;
        assert_eq!(reset.status, StatusCode::ACCEPTED);
    }

    async fn saving_a_list_that_shuts_out_the_owner_needs_confirmation_and_is_logged_with_both_lists(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let first = api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(json!({"networks": ["203.0.113.0/24"]})), &[]).await;
        assert_eq!(first.status, StatusCode::OK);

        let elsewhere = json!({"networks": ["198.51.100.0/24"]});
        let refused = api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(elsewhere.clone()), &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains("203.0.113.5") && detail.contains("confirm_lockout"), "{detail}");
        let unchanged = api.call_from("203.0.113.5", Method::GET, ALLOW_LIST, Some(&owner), None, &[]).await;
        assert_eq!(unchanged.body, json!({"networks": ["203.0.113.0/24"]}), "nothing was saved");

        let confirmed = json!({"networks": ["198.51.100.0/24"], "confirm_lockout": true});
        let saved = api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(confirmed), &[]).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        let locked_out = api.call_from("203.0.113.5", Method::GET, ALLOW_LIST, Some(&owner), None, &[]).await;
        assert_eq!(locked_out.status, StatusCode::FORBIDDEN, "as the owner was warned");

        let log = api.call_from("198.51.100.1", Method::GET, "/api/v1/access-log", Some(&owner), None, &[]).await;
        let changes: Vec<&Value> = log.body["entries"].as_array().unwrap().iter()
            .filter(|e| e["action"] == "ip_allow_list.update").collect();
        assert_eq!(changes.len(), 2, "the refused change is not recorded: {}", log.body);
        assert_eq!(changes[0]["detail"], json!({"old": ["203.0.113.0/24"], "new": ["198.51.100.0/24"], "lockout_confirmed": true}));
        assert_eq!(changes[0]["ip"], "203.0.113.5");
        assert_eq!(changes[1]["detail"], json!({"old": [], "new": ["203.0.113.0/24"], "lockout_confirmed": false}));

        let lifted = api.call_from("198.51.100.1", Method::PUT, ALLOW_LIST, Some(&owner), Some(json!({"networks": []})), &[]).await;
        assert_eq!(lifted.status, StatusCode::OK, "an empty list locks no one out");
        assert_eq!(api.call_from("203.0.113.5", Method::GET, ALLOW_LIST, Some(&owner), None, &[]).await.status, StatusCode::OK);
    }

    async fn only_owners_keep_the_list_and_each_bad_entry_is_named(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        let tenant = api.engine.tenant("tenant-a").await.unwrap().unwrap();
        let new = NewAdmin { email: "admin@tenant-a.example".into(), password: PASSWORD.into(), role: Role::Admin, can_export: true, language: Lang::En };
        api.engine.create_account(tenant.id, None, &new).await.unwrap();
        let admin = api.login("tenant-a", "admin@tenant-a.example", PASSWORD).await;
        let list = json!({"networks": ["127.0.0.0/8"]});
        assert_eq!(api.call(Method::GET, ALLOW_LIST, Some(&admin), None, &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(api.call(Method::PUT, ALLOW_LIST, Some(&admin), Some(list), &[]).await.status, StatusCode::FORBIDDEN);

        let bad = json!({"networks": ["127.0.0.0/8", "203.0.113.0/33"]});
        let reply = api.call(Method::PUT, ALLOW_LIST, Some(&owner), Some(bad), &[("accept-language", "en")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
        assert_eq!(reply.body["field"], "networks[1]");
        assert_eq!(reply.body["reason"], "not_network");
        assert!(reply.body["detail"].as_str().unwrap().contains("CIDR"), "{}", reply.body);

        let many: Vec<String> = (0..201).map(|n| format!("10.{}.{}.0/24", n / 256, n % 256)).collect();
        let reply = api.call(Method::PUT, ALLOW_LIST, Some(&owner), Some(json!({"networks": many})), &[]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body["field"], "networks");
        assert_eq!(reply.body["reason"], "too_many");
        let mut most = many;
        most[199] = "127.0.0.1".into();
        most.truncate(200);
        let reply = api.call(Method::PUT, ALLOW_LIST, Some(&owner), Some(json!({"networks": most})), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "200 entries are fine: {}", reply.body);
        assert_eq!(api.call(Method::GET, ALLOW_LIST, Some(&owner), None, &[]).await.body["networks"].as_array().unwrap().len(), 200);
    }

    async fn a_refused_address_is_logged_once_a_minute_per_address(t: &TestDb) {
        let api = Api::new(t).await;
        let owner = api.tenant_with("tenant-a", Role::Owner, true).await;
        api.call_from("203.0.113.5", Method::PUT, ALLOW_LIST, Some(&owner), Some(json!({"networks": ["203.0.113.0/24"]})), &[]).await;

        for _ in 0..3 {
            api.call_from("198.51.100.8", Method::GET, "/api/v1/employees", Some(&owner), None, &[]).await;
        }
        api.call_from("198.51.100.8", Method::POST, "/api/v1/auth/login", None, sign_in_body(PASSWORD), &[]).await;
        api.call_from("198.51.100.9", Method::POST, "/api/v1/auth/login", None, sign_in_body(PASSWORD), &[]).await;
        let log = api.call_from("203.0.113.5", Method::GET, "/api/v1/access-log", Some(&owner), None, &[]).await;
        assert_eq!(
            entries_of(&log.body, "access.address_refused"),
            ["owner@tenant-a.example 198.51.100.9 sign-in", "owner@tenant-a.example 198.51.100.8 GET /api/v1/employees"],
            "the first refusal of each address in the minute"
        );
        assert!(entries_of(&log.body, "access.refused").is_empty(), "not logged a second time as a role refusal");

        api.clock.advance(chrono::Duration::seconds(61));
        api.call_from("198.51.100.8", Method::DELETE, "/api/v1/employees/1", Some(&owner), None, &[]).await;
        let log = api.call_from("203.0.113.5", Method::GET, "/api/v1/access-log", Some(&owner), None, &[]).await;
        let refused = entries_of(&log.body, "access.address_refused");
        assert_eq!(refused.len(), 3, "a minute later, the next refusal is logged: {refused:?}");
        assert_eq!(refused[0], "owner@tenant-a.example 198.51.100.8 DELETE /api/v1/employees/1");
    }
}

/// What each API route needs (`None`: any signed-in account, or no session at all), and a
/// body the route accepts, so a refusal can only come from the permission check.
fn route_permissions() -> Vec<(Method, &'static str, Option<Permission>, Option<Value>)> {
    use Permission::*;
    let person = json!({"email": "new@acme.example", "name": "New Person", "name_kana": "", "department": "",
        "time_zone": "Asia/Tokyo", "language": "ja", "notification": "chat", "chat_identities": {}});
    vec![
        (Method::GET, "/api/v1/auth/me", None, None),
        (Method::GET, "/api/v1/employees", Some(ViewDirectory), None),
        (
            Method::GET,
            "/api/v1/employees/{employee}",
            Some(ViewDirectory),
            None,
        ),
        (Method::GET, "/api/v1/locations", Some(ViewDirectory), None),
        (
            Method::POST,
            "/api/v1/employees",
            Some(EditDirectory),
            Some(person.clone()),
        ),
        (
            Method::PUT,
            "/api/v1/employees/{employee}",
            Some(EditDirectory),
            Some(
                json!({"email": "alice@a.example", "name": "Alice Renamed", "name_kana": "",
                "department": "", "time_zone": "Asia/Tokyo", "language": "ja",
                "notification": "chat", "chat_identities": {}}),
            ),
        ),
        (
            Method::PATCH,
            "/api/v1/employees/{employee}",
            Some(EditDirectory),
            Some(json!({"department": "Ops"})),
        ),
        (
            Method::POST,
            "/api/v1/locations",
            Some(ManageLocations),
            Some(json!({"slug": "annex", "name": "Annex", "time_zone": "Asia/Tokyo"})),
        ),
        (
            Method::PUT,
            "/api/v1/locations/hq",
            Some(ManageLocations),
            Some(json!({"name": "Head office", "time_zone": "Asia/Tokyo"})),
        ),
        (
            Method::POST,
            "/api/v1/employees/import",
            Some(EditDirectory),
            Some(Value::String(
                "email,department\nalice@a.example,Ops\n".into(),
            )),
        ),
        (Method::GET, "/api/v1/rooms", Some(ViewDirectory), None),
        (
            Method::POST,
            "/api/v1/rooms",
            Some(ManageLocations),
            Some(
                json!({"slug": "room-x", "name": "Room X", "capacity": 4, "time_zone": "Asia/Tokyo"}),
            ),
        ),
        (
            Method::PUT,
            "/api/v1/rooms/{room}",
            Some(ManageLocations),
            Some(
                json!({"name": "Room A", "capacity": 6, "time_zone": "Asia/Tokyo", "equipment": ["display"]}),
            ),
        ),
        (
            Method::POST,
            "/api/v1/rooms/{room}/door-displays",
            Some(ManageLocations),
            Some(json!({"name": "Door A"})),
        ),
        (
            Method::GET,
            "/api/v1/door-displays",
            Some(ManageLocations),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/door-displays/{door_display}",
            Some(ManageLocations),
            None,
        ),
        (
            Method::GET,
            "/api/v1/rooms/utilisation?from=2026-11-01&to=2026-11-30",
            Some(ViewDirectory),
            None,
        ),
        (
            Method::GET,
            "/api/v1/rooms/utilisation.csv?from=2026-11-01&to=2026-11-30",
            Some(ViewDirectory),
            None,
        ),
        (Method::GET, "/api/v1/calendars", Some(ViewDirectory), None),
        (
            Method::POST,
            "/api/v1/calendars",
            Some(EditDirectory),
            Some(
                json!({"room": "room-a", "provider": "ics", "url": "https://calendar.example/a.ics"}),
            ),
        ),
        // Before the calendar is disconnected below: asks the fake Google.
        (
            Method::GET,
            "/api/v1/calendars/{calendar}/free-busy?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z",
            Some(EditDirectory),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/calendars/{calendar}",
            Some(EditDirectory),
            None,
        ),
        (
            Method::POST,
            "/api/v1/calendars/authorizations",
            Some(EditDirectory),
            Some(json!({"room": "room-a", "provider": "google"})),
        ),
        (
            Method::GET,
            "/api/v1/calendars/provider-rooms?provider=microsoft",
            Some(ManageLocations),
            None,
        ),
        (
            Method::POST,
            "/api/v1/calendar-feeds",
            Some(EditDirectory),
            Some(json!({"room": "room-a"})),
        ),
        (
            Method::DELETE,
            "/api/v1/calendar-feeds?room=room-a",
            Some(EditDirectory),
            None,
        ),
        (
            Method::GET,
            "/api/v1/calendar-events?room=room-b&from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z",
            Some(ViewDirectory),
            None,
        ),
        (
            Method::POST,
            "/api/v1/calendar-events",
            Some(EditDirectory),
            Some(
                json!({"room": "room-a", "start": "2026-11-25T09:00:00Z", "end": "2026-11-25T10:00:00Z", "title": "Board"}),
            ),
        ),
        (
            Method::DELETE,
            "/api/v1/calendar-events/{event}?room=room-b",
            Some(EditDirectory),
            None,
        ),
        (Method::GET, "/api/v1/access-log", Some(ViewAccessLog), None),
        (
            Method::GET,
            "/api/v1/access-log/export",
            Some(ExportPersonalData),
            None,
        ),
        (
            Method::GET,
            "/api/v1/employees/export",
            Some(ExportPersonalData),
            None,
        ),
        (
            Method::GET,
            "/api/v1/outbox/undeliverable",
            Some(ViewUndeliverable),
            None,
        ),
        (Method::GET, "/api/v1/accounts", Some(ManageAccounts), None),
        (
            Method::GET,
            "/api/v1/accounts/invitations",
            Some(ManageAccounts),
            None,
        ),
        (
            Method::POST,
            "/api/v1/accounts/invitations",
            Some(ManageAccounts),
            Some(json!({"email": "invited@acme.example", "role": "admin"})),
        ),
        (
            Method::POST,
            "/api/v1/accounts",
            Some(ManageAccounts),
            Some(
                json!({"email": "another@acme.example", "password": "Kq7#vLp2xW-9", "role": "receptionist"}),
            ),
        ),
        (
            Method::PUT,
            "/api/v1/accounts/{other}",
            Some(ManageAccounts),
            Some(json!({"role": "receptionist", "can_export": false})),
        ),
        (
            Method::GET,
            "/api/v1/security/ip-allow-list",
            Some(ManageSecurity),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/security/ip-allow-list",
            Some(ManageSecurity),
            Some(json!({"networks": []})),
        ),
        // PUT before GET and DELETE: GET answers 404 until settings exist. Every issuer
        // answers discovery through the test harness's identity-provider port.
        (
            Method::PUT,
            "/api/v1/security/sso",
            Some(ManageSecurity),
            Some(
                json!({"issuer": "https://idp.example", "client_id": "frontdesk",
                "client_secret": "s3cret", "require_sso": false}),
            ),
        ),
        (
            Method::GET,
            "/api/v1/security/sso",
            Some(ManageSecurity),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/security/sso",
            Some(ManageSecurity),
            None,
        ),
        (
            Method::GET,
            "/api/v1/locations/hq/reception",
            Some(ViewVisits),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/locations/hq/reception",
            Some(ManageReception),
            Some(json!({"badge_printing": true, "answer_timeout_seconds": 120})),
        ),
        (Method::GET, "/api/v1/kiosks", Some(ManageReception), None),
        (
            Method::POST,
            "/api/v1/locations/hq/kiosks",
            Some(ManageReception),
            Some(json!({"name": "Lobby"})),
        ),
        (
            Method::GET,
            "/api/v1/expected-visits?from=2026-11-25&to=2026-11-26",
            Some(ViewVisits),
            None,
        ),
        (
            Method::POST,
            "/api/v1/expected-visits",
            Some(HandleVisitors),
            Some(
                json!({"location": "hq", "host": "alice@a.example", "visitor_name": "Kenji Mori",
                "day": "2026-11-26"}),
            ),
        ),
        (
            Method::GET,
            "/api/v1/visits/on-site",
            Some(ViewVisits),
            None,
        ),
        (
            Method::POST,
            "/api/v1/visits/{visit}/check-out",
            Some(HandleVisitors),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/expected-visits/{expected_visit}",
            Some(HandleVisitors),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/kiosks/{kiosk}",
            Some(ManageReception),
            None,
        ),
        (
            Method::GET,
            "/api/v1/visitor-labels",
            Some(ViewVisits),
            None,
        ),
        (
            Method::POST,
            "/api/v1/visitor-labels",
            Some(ManageReception),
            Some(json!({"name": "Vendor"})),
        ),
        (
            Method::PUT,
            "/api/v1/visits/{visit}/labels",
            Some(HandleVisitors),
            Some(json!({"labels": []})),
        ),
        (
            Method::DELETE,
            "/api/v1/visitor-labels/{label}",
            Some(ManageReception),
            None,
        ),
        (
            Method::GET,
            "/api/v1/visits?q=kenji",
            Some(ViewVisits),
            None,
        ),
        (
            Method::GET,
            "/api/v1/visits/export",
            Some(ExportPersonalData),
            None,
        ),
        (
            Method::GET,
            "/api/v1/expected-visits/export?from=2026-11-25&to=2026-11-30",
            Some(ExportPersonalData),
            None,
        ),
        (
            Method::GET,
            "/api/v1/webhook-endpoints",
            Some(ManageReception),
            None,
        ),
        (
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(ManageReception),
            Some(json!({"url": "https://gate.example.com/frontdesk"})),
        ),
        (
            Method::DELETE,
            "/api/v1/webhook-endpoints/{endpoint}",
            Some(ManageReception),
            None,
        ),
        // Booking links: everyone lists their own; Alice's link is an admin's to change.
        (Method::GET, "/api/v1/booking-links", None, None),
        (
            Method::POST,
            "/api/v1/booking-links",
            Some(ManageBookingLinks),
            Some(
                json!({"slug": "alice-new", "title": "Chat", "owner": "alice@a.example",
                "rules": booking_rules()}),
            ),
        ),
        (
            Method::GET,
            "/api/v1/booking-links/{link}",
            Some(ManageBookingLinks),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/booking-links/{link}",
            Some(ManageBookingLinks),
            Some(
                json!({"slug": "ignored", "title": "Coffee", "owner": "alice@a.example",
                "rules": booking_rules()}),
            ),
        ),
        (
            Method::DELETE,
            "/api/v1/booking-links/{link}",
            Some(ManageBookingLinks),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/employees/{employee}",
            Some(EditDirectory),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/accounts/{other}",
            Some(ManageAccounts),
            None,
        ),
    ]
}

#[tokio::test]
async fn every_route_is_allowed_or_refused_for_every_role_as_the_permission_matrix_says() {
    // The table above covers every documented operation that needs a session.
    let doc = serde_json::to_value(frontdesk_webhooks::api::openapi()).unwrap();
    let table = route_permissions();
    let without_session = [
        "/auth/login",
        "/auth/logout",
        "/auth/password",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/auth/invitations/accept",
        // The kiosk's own API: a paired device, no session (webhooks/tests/reception.rs).
        "/kiosk/{location}",
        "/kiosk/{location}/pairing",
        "/kiosk/{location}/hosts",
        "/kiosk/{location}/checkins",
        "/kiosk/{location}/visits/{visit}",
        "/kiosk/{location}/visits/{visit}/events",
        "/kiosk/{location}/checkouts",
        // A room's door display or an employee signed in to the web chat acts on it (and
        // anyone finds rooms with a session of either kind; webhooks/tests/rooms.rs).
        "/rooms/{room}/status",
        "/rooms/{room}/events",
        "/rooms/{room}/check-in",
        "/rooms/{room}/check-out",
        "/rooms/{room}/extend",
        "/rooms/{room}/book-now",
        "/rooms/{room}/pairing",
        "/rooms/free",
        // The booking page's API: public (webhooks/tests/booking.rs).
        "/public/links/{link}",
        "/public/links/{link}/slots",
        "/public/links/{link}/bookings",
        "/public/bookings/{booking}",
        "/public/bookings/{booking}/reschedule",
        "/public/bookings/{booking}/cancel",
    ];
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let templated = format!("/api/v1{path}")
                .replace("{id}", "{employee}")
                .replace("{slug}", "hq");
            let covered = table.iter().any(|(m, p, _, _)| {
                let p = p.split('?').next().unwrap_or(p);
                *m == method && (p == templated || p.replace("{other}", "{employee}") == templated)
            });
            assert!(
                covered || without_session.contains(&path.as_str()),
                "{method} {path} is in the matrix test"
            );
        }
    }

    for (role, can_export) in [
        (Role::Viewer, true),
        (Role::Receptionist, false),
        (Role::Admin, false),
        (Role::Admin, true),
        (Role::Owner, true),
    ] {
        // A fresh tenant per role, so one role's changes cannot decide another's answers.
        let t = TestDb::sqlite().await;
        // Google and Microsoft configured (fakes), so their routes can succeed.
        let google = frontdesk_connectors::testing::FakeGoogle::start().await;
        let graph = frontdesk_connectors::testing::FakeGraph::start().await;
        let calendars = frontdesk_core::port::Calendars::default()
            .with(std::sync::Arc::new(google.connector()))
            .with(std::sync::Arc::new(
                frontdesk_connectors::microsoft::MicrosoftCalendar::new(graph.settings()).unwrap(),
            ));
        let api = Api::with_calendars(&t, calendars).await;
        let owner = api.tenant_with("acme", Role::Owner, true).await;
        // Rooms with a connected calendar (Google's, through the service account) and a
        // built-in event, for the calendar routes.
        for slug in ["room-a", "room-b"] {
            let room =
                json!({"slug": slug, "name": slug, "capacity": 6, "time_zone": "Asia/Tokyo"});
            let created = api
                .call(Method::POST, "/api/v1/rooms", Some(&owner), Some(room), &[])
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        }
        let connect =
            json!({"room": "room-b", "provider": "google", "calendar_id": "room-b@acme.example"});
        let calendar = api
            .call(
                Method::POST,
                "/api/v1/calendars",
                Some(&owner),
                Some(connect),
                &[],
            )
            .await;
        let calendar = calendar.body["id"]
            .as_i64()
            .expect("a calendar")
            .to_string();
        let event = json!({"room": "room-b", "start": "2026-11-25T11:00:00Z", "end": "2026-11-25T12:00:00Z", "title": "Sales"});
        let event = api
            .call(
                Method::POST,
                "/api/v1/calendar-events",
                Some(&owner),
                Some(event),
                &[],
            )
            .await;
        let event = event.body["uid"].as_str().expect("an event").to_string();
        let employee = api
            .call(
                Method::POST,
                "/api/v1/employees",
                Some(&owner),
                Some(alice()),
                &[],
            )
            .await;
        let employee = employee.body["id"].as_i64().unwrap().to_string();
        api.call(
            Method::POST,
            "/api/v1/locations",
            Some(&owner),
            Some(json!({"slug": "hq", "name": "HQ", "time_zone": "Asia/Tokyo"})),
            &[],
        )
        .await;
        let tenant = api.engine.tenant("acme").await.unwrap().unwrap();
        // A kiosk, an expected visitor and a visitor on site, for the reception routes.
        let kiosk = api
            .call(
                Method::POST,
                "/api/v1/locations/hq/kiosks",
                Some(&owner),
                Some(json!({"name": "Lobby"})),
                &[],
            )
            .await;
        let kiosk_device = kiosk.body["kiosk"]["id"].as_i64().expect("a kiosk");
        // A door display, for its revoke route.
        let door = api
            .call(
                Method::POST,
                "/api/v1/rooms/room-a/door-displays",
                Some(&owner),
                Some(json!({"name": "Door A"})),
                &[],
            )
            .await;
        let door_device = door.body["door_display"]["id"]
            .as_i64()
            .expect("a door display");
        let (kiosk, _) = api
            .engine
            .pair_kiosk("hq", kiosk.body["pairing_code"].as_str().unwrap())
            .await
            .unwrap();
        let expected = api
            .call(
                Method::POST,
                "/api/v1/expected-visits",
                Some(&owner),
                Some(json!({"location": "hq", "host": "alice@a.example",
                    "visitor_name": "Aiko Ueda", "day": "2026-11-26"})),
                &[],
            )
            .await;
        let expected = expected.body["id"]
            .as_str()
            .expect("an expected visit")
            .to_owned();
        let checkin = frontdesk_core::engine::reception::CheckIn {
            host: Some(json!("alice@a.example")),
            visitor_name: Some("Kenji Mori".into()),
            ..Default::default()
        };
        let visit = api
            .engine
            .check_in(&kiosk, "192.0.2.7", checkin, None)
            .await
            .unwrap()
            .visit;
        // A visitor label and a webhook endpoint, for their routes.
        let label = api
            .call(
                Method::POST,
                "/api/v1/visitor-labels",
                Some(&owner),
                Some(json!({"name": "Candidate"})),
                &[],
            )
            .await;
        let label = label.body["id"].as_i64().expect("a label").to_string();
        let endpoint = api
            .call(
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(&owner),
                Some(json!({"url": "https://gate.example.com/hook"})),
                &[],
            )
            .await;
        let endpoint = endpoint.body["id"]
            .as_i64()
            .expect("an endpoint")
            .to_string();
        // Alice's booking link, for the booking-link routes.
        let link = api
            .call(
                Method::POST,
                "/api/v1/booking-links",
                Some(&owner),
                Some(
                    json!({"slug": "alice-link", "title": "Chat", "owner": "alice@a.example",
                    "rules": booking_rules()}),
                ),
                &[],
            )
            .await;
        assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
        let other = api
            .engine
            .create_account(
                tenant.id,
                None,
                &NewAdmin {
                    email: "other@acme.example".into(),
                    password: PASSWORD.into(),
                    role: Role::Receptionist,
                    can_export: false,
                    language: Lang::En,
                },
            )
            .await
            .unwrap();
        let me = if role == Role::Owner {
            owner.clone()
        } else {
            api.engine
                .create_account(
                    tenant.id,
                    None,
                    &NewAdmin {
                        email: "me@acme.example".into(),
                        password: PASSWORD.into(),
                        role,
                        can_export,
                        language: Lang::En,
                    },
                )
                .await
                .unwrap();
            api.login("acme", "me@acme.example", PASSWORD).await
        };
        for (method, path, permission, body) in route_permissions() {
            let path = path
                .replace("{employee}", &employee)
                .replace("{other}", &other.id.to_string())
                .replace("{calendar}", &calendar)
                .replace("{room}", "room-a")
                .replace("{event}", &event)
                .replace("{kiosk}", &kiosk_device.to_string())
                .replace("{door_display}", &door_device.to_string())
                .replace("{expected_visit}", &expected)
                .replace("{visit}", &visit.public_id)
                .replace("{label}", &label)
                .replace("{endpoint}", &endpoint)
                .replace("{link}", "alice-link");
            let reply = api.call(method.clone(), &path, Some(&me), body, &[]).await;
            let allowed = permission.is_none_or(|p| {
                role.allows(p) && (p != Permission::ExportPersonalData || can_export)
            });
            let at = format!(
                "{role:?} (export: {can_export}) {method} {path}: {} {}",
                reply.status, reply.body
            );
            if allowed {
                assert!(reply.status.is_success(), "{at}");
            } else {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{at}");
            }
        }
    }
}
