//! The visit history, visitor labels, CSV downloads, outgoing webhooks and the badge's token
//! over HTTP, in-process through the whole middleware stack, on SQLite and PostgreSQL. The
//! webhook receiver is a real server on a loopback socket, reached by the real sender
//! (`HttpWebhooks`), and checks each delivery's signature as the README tells receivers to.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Duration;
use frontdesk_connectors::webhook::HttpWebhooks;
use frontdesk_core::domain::people::{Lang, NotificationPreference, Role};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::port::Clock;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner, test_settings};
use frontdesk_webhooks::{AppState, app};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

const PASSWORD: &str = "Blue-Kiosk-4821";

/// An answer as a test reads it.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Acme's reception at `hq` (Alice hosts), a paired kiosk, the owner signed in, and the
/// engine delivering webhooks for real.
struct Desk {
    router: axum::Router,
    engine: Engine,
    clock: Arc<ManualClock>,
    owner: String,
    kiosk: String,
}

impl Desk {
    async fn new(t: &TestDb) -> Desk {
        let test = TestEngine::on(t);
        let ports = test.ports_with_webhooks(Arc::new(HttpWebhooks::new().unwrap()));
        let engine = Engine::new(t.db.clone(), ports, test_settings());
        let (_, owner) = acme_owner(&engine).await;
        let hq = LocationInput {
            slug: "hq".into(),
            name: "Head office".into(),
            time_zone: "Asia/Tokyo".into(),
        };
        engine.create_location(&owner, hq).await.unwrap();
        let alice = EmployeeInput {
            email: "alice@acme.example".into(),
            name: "Alice Sato".into(),
            name_kana: "さとう ありす".into(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Chat,
            chat_identities: Default::default(),
        };
        engine.create_employee(&owner, alice).await.unwrap();
        let mut desk = Desk {
            router: app(AppState::new(engine.clone(), vec![])),
            engine,
            clock: test.clock.clone(),
            owner: String::new(),
            kiosk: String::new(),
        };
        desk.owner = desk.login("owner@acme.example").await;
        let kiosk = desk
            .admin(
                "POST",
                "/api/v1/locations/hq/kiosks",
                json!({"name": "Lobby"}),
            )
            .await;
        assert_eq!(kiosk.status, StatusCode::CREATED, "{}", kiosk.text);
        let code = kiosk.json()["pairing_code"].as_str().unwrap().to_owned();
        let paired = desk
            .call(
                "POST",
                "/api/v1/kiosk/hq/pairing",
                "",
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(paired.status, StatusCode::NO_CONTENT);
        let set_cookie = paired.headers[header::SET_COOKIE].to_str().unwrap();
        desk.kiosk = set_cookie.split(';').next().unwrap().to_owned();
        desk
    }

    async fn login(&self, email: &str) -> String {
        let body = json!({"tenant": "acme", "email": email, "password": PASSWORD});
        let reply = self
            .call("POST", "/api/v1/auth/login", "", Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// An account of acme with `role`, signed in: its cookie.
    async fn account(&self, email: &str, role: Role, can_export: bool) -> String {
        let tenant = self.engine.tenant("acme").await.unwrap().unwrap();
        let new = NewAdmin {
            email: email.into(),
            password: PASSWORD.into(),
            role,
            can_export,
            language: Lang::En,
        };
        self.engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap();
        self.login(email).await
    }

    async fn call(&self, method: &str, uri: &str, cookie: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT_LANGUAGE, "en");
        if !cookie.is_empty() {
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
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn admin(&self, method: &str, uri: &str, body: Value) -> Reply {
        let body = (!body.is_null()).then_some(body);
        self.call(method, uri, &self.owner, body).await
    }

    /// Checks `name` in for Alice at the kiosk: the kiosk's answer.
    async fn check_in(&self, name: &str, company: &str) -> Value {
        let body =
            json!({"host": "alice@acme.example", "visitor_name": name, "visitor_company": company});
        let reply = self
            .call("POST", "/api/v1/kiosk/hq/checkins", &self.kiosk, Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// The access-log actions and targets the owner sees, newest first.
    async fn logged(&self, action: &str) -> Vec<String> {
        let log = self
            .admin(
                "GET",
                &format!("/api/v1/access-log?action={action}"),
                Value::Null,
            )
            .await;
        log.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["actor"].as_str().unwrap(),
                    e["target"].as_str().unwrap()
                )
            })
            .collect()
    }
}

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver on a loopback socket: it keeps what it receives and answers with the
/// statuses it is given, in order (then 204).
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(|headers: HeaderMap, body: String| async move {
                state
                    .received
                    .lock()
                    .unwrap()
                    .push(Received { headers, body });
                state
                    .answers
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or(StatusCode::NO_CONTENT)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// How a receiver verifies a delivery (see the README): the HMAC-SHA256 of
/// `"{X-Frontdesk-Timestamp}.{body}"` under the endpoint's secret, hex, after `v1=`, compared
/// in constant time, and the timestamp within five minutes of the receiver's clock.
fn verifies(secret: &str, delivery: &Received, now_secs: i64) -> bool {
    let timestamp = delivery.headers["x-frontdesk-timestamp"].to_str().unwrap();
    let Some(hex_mac) = delivery.headers["x-frontdesk-signature"]
        .to_str()
        .unwrap()
        .strip_prefix("v1=")
    else {
        return false;
    };
    let Ok(mac_bytes) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(delivery.body.as_bytes());
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (now_secs - t).abs() <= 300);
    mac.verify_slice(&mac_bytes).is_ok() && fresh
}

storage_tests! {
    async fn labels_the_history_and_downloads_over_http(t: &TestDb) {
        let desk = Desk::new(t).await;
        let formula = r#"=HYPERLINK("http://x","y")"#;
        let visit = desk.check_in(formula, "Globex").await;
        let id = visit["visit_id"].as_str().unwrap().to_owned();
        desk.clock.advance(Duration::minutes(5));
        desk.check_in("Aiko Ueda", "Initech").await;

        let vip = desk.admin("POST", "/api/v1/visitor-labels", json!({"name": "VIP"})).await;
        assert_eq!(vip.status, StatusCode::CREATED, "{}", vip.text);
        let vip = vip.json()["id"].as_i64().unwrap();
        let again = desk.admin("POST", "/api/v1/visitor-labels", json!({"name": "VIP"})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let listed = desk.admin("GET", "/api/v1/visitor-labels", Value::Null).await;
        assert_eq!(listed.json(), json!([{"id": vip, "name": "VIP"}]));

        let receptionist = desk.account("desk@acme.example", Role::Receptionist, false).await;
        let put = |labels: Value| {
            let uri = format!("/api/v1/visits/{id}/labels");
            let cookie = receptionist.clone();
            let desk = &desk;
            async move { desk.call("PUT", &uri, &cookie, Some(json!({"labels": labels}))).await }
        };
        let labelled = put(json!([vip])).await;
        assert_eq!(labelled.status, StatusCode::OK, "{}", labelled.text);
        assert_eq!(labelled.json()["labels"], json!([{"id": vip, "name": "VIP"}]));
        let unknown = put(json!([vip, 999])).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.json()["field"], "labels[1]", "{}", unknown.text);

        // The history: newest first, searched, filtered; bad filters named.
        let all = desk.call("GET", "/api/v1/visits", &receptionist, None).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        let names: Vec<Value> = all.json()["visits"].as_array().unwrap().iter()
            .map(|v| v["visitor_name"].clone()).collect();
        assert_eq!(names, [json!("Aiko Ueda"), json!(formula)]);
        let found = desk.call("GET", "/api/v1/visits?q=hyperlink&limit=10", &receptionist, None).await.json();
        assert_eq!(found["visits"][0]["id"], id.as_str());
        assert_eq!(found["visits"][0]["labels"][0]["name"], "VIP");
        assert_eq!((found["truncated"].clone(), found["next_before"].clone()), (json!(false), Value::Null));
        let by_label = desk.call("GET", &format!("/api/v1/visits?label={vip}"), &receptionist, None).await.json();
        assert_eq!(by_label["visits"].as_array().unwrap().len(), 1);
        let paged = desk.call("GET", "/api/v1/visits?limit=1", &receptionist, None).await.json();
        let next = paged["next_before"].as_i64().expect("a next page");
        let older = desk.call("GET", &format!("/api/v1/visits?limit=1&before={next}"), &receptionist, None).await.json();
        assert_eq!(older["visits"][0]["id"], id.as_str());
        let bad = desk.call("GET", "/api/v1/visits?status=gone", &receptionist, None).await;
        assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("status")));
        let bad = desk.call("GET", "/api/v1/visits?location=moon", &receptionist, None).await;
        assert_eq!(bad.status, StatusCode::NOT_FOUND);
        let bad = desk.call("GET", "/api/v1/visits?colour=red", &receptionist, None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The downloads: neutralised cells, private, logged; refused without the permission.
        let csv = desk.admin("GET", "/api/v1/visits/export", Value::Null).await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
        assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(csv.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"visits.csv\"");
        assert_eq!(csv.headers[header::CACHE_CONTROL], "no-store");
        assert!(csv.text.contains(r#""'=HYPERLINK(""http://x"",""y"")""#), "{}", csv.text);
        assert!(!csv.text.contains(",=HYPERLINK") && !csv.text.contains("\"=HYPERLINK"), "{}", csv.text);
        let expected = desk.admin("POST", "/api/v1/expected-visits", json!({"location": "hq",
            "host": "alice@acme.example", "visitor_name": "+81 Caller", "day": "2026-11-26"})).await;
        assert_eq!(expected.status, StatusCode::CREATED, "{}", expected.text);
        let appointments = desk.admin("GET", "/api/v1/expected-visits/export?from=2026-11-25&to=2026-11-30", Value::Null).await;
        assert_eq!(appointments.status, StatusCode::OK, "{}", appointments.text);
        assert!(appointments.text.contains("'+81 Caller"), "{}", appointments.text);
        assert_eq!(desk.logged("visits.export").await, ["owner@acme.example visits"]);
        assert_eq!(desk.logged("expected_visits.export").await, ["owner@acme.example expected_visits"]);

        let admin = desk.account("admin@acme.example", Role::Admin, false).await;
        let refused = desk.call("GET", "/api/v1/visits/export", &admin, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        desk.clock.advance(Duration::seconds(61));
        let refused = desk.call("GET", "/api/v1/expected-visits/export?from=2026-11-25&to=2026-11-30", &admin, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(desk.logged("access.refused").await, [
            "admin@acme.example GET /api/v1/expected-visits/export",
            "admin@acme.example GET /api/v1/visits/export",
        ]);
        assert_eq!(desk.logged("visits.export").await.len(), 1, "a refused download is not a download");
    }

    async fn a_receiver_on_the_loopback_gets_signed_check_ins_and_check_outs(t: &TestDb) {
        let desk = Desk::new(t).await;
        let (receiver, url) = Receiver::start().await;
        let refused = desk.admin("POST", "/api/v1/webhook-endpoints", json!({"url": "http://gate.example.com/hook"})).await;
        assert_eq!((refused.status, refused.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("url")));
        let refused = desk.admin("POST", "/api/v1/webhook-endpoints", json!({"url": url, "events": []})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let created = desk.admin("POST", "/api/v1/webhook-endpoints", json!({"url": url})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let created = created.json();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert_eq!(created["events"], json!(["visit.checked_in", "visit.checked_out"]));
        let listed = desk.admin("GET", "/api/v1/webhook-endpoints", Value::Null).await;
        assert_eq!(listed.json()[0]["url"], url.as_str());
        assert!(!listed.text.contains("secret") && !listed.text.contains(&secret), "shown once: {}", listed.text);

        // The receiver fails the first delivery; the dispatcher retries it after the backoff.
        receiver.answers.lock().unwrap().push_back(StatusCode::SERVICE_UNAVAILABLE);
        let visit = desk.check_in("Kenji Moriyama", "Globex").await;
        let id = visit["visit_id"].as_str().unwrap().to_owned();
        desk.engine.dispatch_due().await.unwrap();
        assert_eq!(receiver.received().len(), 1, "tried once");
        desk.clock.advance(Duration::minutes(1));
        desk.engine.dispatch_due().await.unwrap();
        let received = receiver.received();
        assert_eq!(received.len(), 2, "delivered on the retry");
        let delivery = &received[1];
        let now = desk.clock.now().timestamp();
        assert!(verifies(&secret, delivery, now), "{delivery:?}");
        assert!(!verifies("another secret", delivery, now));
        assert!(!verifies(&secret, delivery, now + 301), "a replay after five minutes is refused");
        assert_eq!(delivery.headers["x-frontdesk-timestamp"], now.to_string().as_str(), "signed when sent");
        assert_eq!(delivery.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(delivery.headers["x-frontdesk-event"], "visit.checked_in");
        assert_eq!(
            delivery.headers["x-frontdesk-delivery"], received[0].headers["x-frontdesk-delivery"],
            "a retry carries the delivery's id"
        );
        let body: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(body["visit"]["id"], id.as_str());
        assert_eq!(body["visit"]["host"]["name"], "Alice Sato");
        assert!(!delivery.body.contains("Kenji") && !delivery.body.contains("Globex"));

        let out = desk.admin("POST", &format!("/api/v1/visits/{id}/check-out"), Value::Null).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.text);
        desk.engine.dispatch_due().await.unwrap();
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        assert!(verifies(&secret, &received[2], desk.clock.now().timestamp()));
        let body: Value = serde_json::from_str(&received[2].body).unwrap();
        assert_eq!((body["event"].clone(), body["visit"]["status"].clone()), (json!("visit.checked_out"), json!("checked_out")));

        let endpoint = created["id"].as_i64().unwrap();
        let deleted = desk.admin("DELETE", &format!("/api/v1/webhook-endpoints/{endpoint}"), Value::Null).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        desk.check_in("Aiko Ueda", "Initech").await;
        desk.engine.dispatch_due().await.unwrap();
        assert_eq!(receiver.received().len(), 3, "a deleted endpoint hears nothing");
    }

    async fn a_badge_opens_only_with_its_token_and_its_qr_code_checks_out(t: &TestDb) {
        let desk = Desk::new(t).await;
        let settings = desk.admin("PUT", "/api/v1/locations/hq/reception", json!({"badge_printing": true})).await;
        assert_eq!(settings.status, StatusCode::OK, "{}", settings.text);
        let visit = desk.check_in("Kenji <b>Mori</b>", "Globex").await;
        let badge_url = visit["badge_url"].as_str().expect("a badge to print").to_owned();
        let id = visit["visit_id"].as_str().unwrap();
        assert!(badge_url.starts_with(&format!("/kiosk/hq/badge/{id}?t=")), "{badge_url}");

        let page = desk.call("GET", &badge_url, &desk.kiosk, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer", "the URL holds the badge's token");
        let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        for shown in ["Kenji &#60;b&#62;Mori", "Globex", "Alice Sato", "Head office", "2026-11-25 09:00", "<svg"] {
            assert!(page.text.contains(shown), "{shown} in {}", page.text);
        }
        assert!(!page.text.contains("<b>Mori") && !page.text.contains("<?xml"), "{}", page.text);
        let css = desk.call("GET", "/assets/frontdesk.css", "", None).await;
        assert!(css.text.contains("@page badge { size: 62mm 100mm; margin: 0; }"), "a 62 mm label");
        assert!(css.text.contains("page: badge;"));

        // Only the badge's own token, visit and location show it.
        let token = badge_url.split("?t=").nth(1).unwrap();
        let other = desk.check_in("Aiko Ueda", "Initech").await;
        let other_id = other["visit_id"].as_str().unwrap();
        for wrong in [
            format!("/kiosk/hq/badge/{id}?t=x{token}"),
            format!("/kiosk/hq/badge/{id}?t={}", other["badge_url"].as_str().unwrap().split("?t=").nth(1).unwrap()),
            format!("/kiosk/hq/badge/{id}"),
            format!("/kiosk/hq/badge/{other_id}?t={token}"),
            format!("/kiosk/annex/badge/{id}?t={token}"),
        ] {
            let page = desk.call("GET", &wrong, &desk.kiosk, None).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{wrong}: {}", page.text);
        }
        let elsewhere = desk.call("GET", &badge_url, "", None).await;
        assert_ne!(elsewhere.status, StatusCode::OK, "only on a kiosk");

        // The kiosk checks out the badge's QR code (its URL, as a scanner types it).
        let scanned = format!("http://127.0.0.1:8080{badge_url}");
        let out = desk.call("POST", "/api/v1/kiosk/hq/checkouts", &desk.kiosk, Some(json!({"badge": scanned}))).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.text);
        assert_eq!(out.json()["status"], "checked_out");
        let page = desk.call("GET", &badge_url, &desk.kiosk, None).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "a visitor who left has no badge to print");
    }
}
