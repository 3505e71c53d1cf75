//! Reception over HTTP, end to end in-process with the Slack fake: a kiosk paired by an
//! admin's code checks a visitor in; the host gets a direct message with three buttons; a
//! signed `block_actions` for "On my way" sets the visit to `host_coming`, updates the
//! message in place (chat.update) and reaches the kiosk's live stream. The kiosk's errors
//! are problem+json in the kiosk's language.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use frontdesk_bots::testing::FakeSlack;
use frontdesk_core::domain::people::{Lang, NotificationPreference};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::slack::SlackInbound;
use frontdesk_webhooks::{AppState, app};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

const SECRET: &str = "test-signing-secret";

struct Desk {
    router: axum::Router,
    engine: Engine,
    fake: FakeSlack,
    /// The paired kiosk's cookie.
    cookie: String,
}

impl Desk {
    /// Slack (where U7 is alice@acme.example), the location `hq` with a paired kiosk, and
    /// Alice, who has never used Frontdesk in Slack (found by her email when notified).
    async fn new(t: &TestDb) -> Desk {
        let fake = FakeSlack::start(&[("U7", "alice@acme.example")]).await;
        let test = TestEngine::with_chat(t, Arc::new(fake.bot()));
        let engine = test.engine.clone();
        let (tenant, owner) = acme_owner(&engine).await;
        engine
            .create_location(
                &owner,
                LocationInput {
                    slug: "hq".into(),
                    name: "Head office".into(),
                    time_zone: "Asia/Tokyo".into(),
                },
            )
            .await
            .unwrap();
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
        let (_, code) = engine.add_kiosk(&owner, "hq", "Lobby").await.unwrap();
        let mut state = AppState::new(engine.clone(), vec![]);
        state.slack = Some(Arc::new(SlackInbound {
            signing_secret: SECRET.to_owned().into(),
            tenant_id: tenant.id,
        }));
        let router = app(state);
        let response = router
            .clone()
            .oneshot(json_request(
                "POST",
                "/api/v1/kiosk/hq/pairing",
                "",
                &json!({"code": code}),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
            "{set_cookie}"
        );
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Desk {
            router,
            engine,
            fake,
            cookie,
        }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn kiosk(&self, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(json_request(method, path, &self.cookie, body))
            .await
    }

    /// Sends what was queued until the fake has received `count` calls of `method`.
    async fn after_dispatch(&self, method: &str, count: usize) -> Vec<Value> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                self.engine.dispatch_due().await.unwrap();
                let calls = self.fake.calls_to(method);
                if calls.len() >= count {
                    return calls.into_iter().map(|c| c.args).collect();
                }
                self.engine.outbox_queued.notified().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method} was called {count} times"))
    }

    /// POSTs a Slack interaction payload, signed as Slack signs it.
    async fn interact(&self, payload: &Value) -> StatusCode {
        let body = format!("payload={}", url_encode(&payload.to_string()));
        let timestamp = self.engine.ports.clock.now().timestamp().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        let request = Request::post("/webhooks/slack/interactions")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(Body::from(body))
            .unwrap();
        self.router.clone().oneshot(request).await.unwrap().status()
    }
}

fn json_request(method: &str, path: &str, cookie: &str, body: &Value) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_LANGUAGE, "en");
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    request.body(body).unwrap()
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `data` of the next `event: visit` on an SSE body, waiting at most five seconds.
async fn next_visit_event(
    stream: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("event: visit")
                    && let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = stream.next().await.expect("the stream stays open").unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("a visit event within five seconds")
}

storage_tests! {
    async fn a_slack_button_answers_the_visitor_on_the_kiosk(t: &TestDb) {
        let desk = Desk::new(t).await;
        let (status, visit) = desk.kiosk("POST", "/api/v1/kiosk/hq/checkins", &json!({
            "host": "alice@acme.example", "visitor_name": "Kenji Mori", "visitor_company": "Globex"
        })).await;
        assert_eq!(status, StatusCode::CREATED, "{visit}");
        assert_eq!(visit["status"], "waiting");
        assert_eq!(visit["host"]["name"], "Alice Sato");
        let id = visit["visit_id"].as_str().unwrap().to_owned();

        // The host's direct message: who, from where, and three buttons.
        let posts = desk.after_dispatch("chat.postMessage", 1).await;
        let blocks = posts[0]["blocks"].as_array().unwrap();
        let text = posts[0]["blocks"].to_string();
        assert!(text.contains("Kenji Mori") && text.contains("Globex"), "{text}");
        let buttons: Vec<&Value> = blocks.iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap())
            .collect();
        let labels: Vec<&str> = buttons.iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
        assert_eq!(labels, vec!["On my way", "Please wait 5 min", "Not available"]);

        // The kiosk follows the visit.
        let events = desk.router.clone().oneshot(
            Request::get(format!("/api/v1/kiosk/hq/visits/{id}/events"))
                .header(header::COOKIE, &desk.cookie)
                .body(Body::empty()).unwrap()
        ).await.unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        assert_eq!(events.headers()[header::CONTENT_TYPE], "text/event-stream");
        let mut stream = events.into_body().into_data_stream();
        let mut buffer = String::new();
        assert_eq!(next_visit_event(&mut stream, &mut buffer).await["status"], "waiting");

        // Alice presses "On my way" in Slack.
        let coming = buttons[0]["action_id"].as_str().unwrap();
        let channel = desk.fake.calls_to("chat.postMessage")[0].args["channel"].clone();
        let payload = json!({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U7"},
            "channel": {"id": channel}, "container": {"type": "message", "channel_id": channel},
            "actions": [{"type": "button", "action_id": coming}]});
        assert_eq!(desk.interact(&payload).await, StatusCode::OK);
        let seen = next_visit_event(&mut stream, &mut buffer).await;
        assert_eq!(seen["status"], "host_coming", "{seen}");

        // The message is updated in place, and the kiosk's GET agrees.
        let updates = desk.after_dispatch("chat.update", 1).await;
        let updated = updates[0]["blocks"].to_string();
        assert!(updated.contains("on the way") && !updated.contains("Please wait"), "{updated}");
        let (_, now) = desk.kiosk("GET", &format!("/api/v1/kiosk/hq/visits/{id}"), &Value::Null).await;
        assert_eq!(now["status"], "host_coming");
    }

    async fn kiosk_errors_say_what_is_wrong_in_the_kiosks_language(t: &TestDb) {
        let desk = Desk::new(t).await;
        let (status, problem) = desk.call(json_request("GET", "/api/v1/kiosk/hq", "", &Value::Null)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "an unpaired browser is no kiosk");
        assert_eq!(problem["type"], "urn:frontdesk:problem:device-not-paired");
        let (status, config) = desk.kiosk("GET", "/api/v1/kiosk/hq", &Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(config["location"]["name"], "Head office");

        let wrong = json!({"reception_code": "000000"});
        let mut request = json_request("POST", "/api/v1/kiosk/hq/checkins", &desk.cookie, &wrong);
        request.headers_mut().insert(header::ACCEPT_LANGUAGE, "ja".parse().unwrap());
        let (status, problem) = desk.call(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(problem["type"], "urn:frontdesk:problem:wrong-reception-code");
        assert!(problem["title"].as_str().unwrap().contains("受付コード"), "{problem}");
        let (_, problem) = desk.kiosk("POST", "/api/v1/kiosk/hq/checkins", &wrong).await;
        assert!(problem["title"].as_str().unwrap().contains("reception code"), "{problem}");

        let (status, problem) = desk.kiosk("POST", "/api/v1/kiosk/hq/checkins",
            &json!({"host": "alice@acme.example"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["field"], "visitor_name", "{problem}");
        let (status, _) = desk.kiosk("POST", "/api/v1/kiosk/hq/checkins",
            &json!({"host": "nobody@acme.example", "visitor_name": "X"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = desk.kiosk("GET", "/api/v1/kiosk/hq/visits/not-a-visit", &Value::Null).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, hosts) = desk.kiosk("GET", "/api/v1/kiosk/hq/hosts?q=sato", &Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(hosts["hosts"][0]["name"], "Alice Sato");
    }
}
