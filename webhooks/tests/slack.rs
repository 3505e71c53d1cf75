//! Slack's requests end to end in-process: verified before they are read (wrong, missing or
//! stale signatures refused, nothing stored), the events URL check, a direct message
//! answered through the outbox once however often Slack retries it, a slash command
//! answered at once in the person's language, a button that links the account.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use frontdesk_bots::testing::FakeSlack;
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::i18n::Lang;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::slack::SlackInbound;
use frontdesk_webhooks::{AppState, app};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

const SECRET: &str = "test-signing-secret";

struct Slack {
    router: axum::Router,
    engine: Engine,
    fake: FakeSlack,
    owner: Actor,
    now: i64,
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Slack {
    async fn new(t: &TestDb) -> Slack {
        let fake = FakeSlack::start(&[("U7", "bob@acme.example")]).await;
        let test = TestEngine::with_chat(t, Arc::new(fake.bot()));
        let engine = test.engine.clone();
        let (tenant, owner) = acme_owner(&engine).await;
        let mut state = AppState::new(engine.clone(), vec![]);
        state.slack = Some(Arc::new(SlackInbound {
            signing_secret: SECRET.to_owned().into(),
            tenant_id: tenant.id,
        }));
        let now = engine.ports.clock.now().timestamp();
        Slack {
            router: app(state),
            engine,
            fake,
            owner,
            now,
        }
    }

    /// POSTs `body` to `path`, signed as Slack signs it at `signed_at` (with `secret`).
    async fn post_signed_as(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        secret: &str,
        signed_at: i64,
    ) -> Reply {
        let timestamp = signed_at.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    async fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        self.post_signed_as(path, content_type, body, SECRET, self.now)
            .await
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    /// Sends what was queued until the fake has received `count` posts (the answers are
    /// made in the background after the request was acknowledged).
    async fn posts_after_dispatch(&self, count: usize) -> Vec<Value> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                self.engine.dispatch_due().await.unwrap();
                let posts = self.fake.calls_to("chat.postMessage");
                if posts.len() >= count {
                    return posts.into_iter().map(|c| c.args).collect();
                }
                self.engine.outbox_queued.notified().await;
            }
        })
        .await
        .expect("the answers were posted")
    }
}

/// Bob, with `email`, wanting notices in chat.
fn employee_input(email: &str) -> EmployeeInput {
    EmployeeInput {
        email: email.into(),
        name: "Bob".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: Lang::En,
        notification: frontdesk_core::domain::people::NotificationPreference::Chat,
        chat_identities: Default::default(),
    }
}

fn dm(event_id: &str, user: &str, text: &str) -> String {
    json!({"type": "event_callback", "team_id": "T1", "event_id": event_id,
           "event": {"type": "message", "channel_type": "im", "user": user, "channel": format!("D{user}"), "text": text}})
    .to_string()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
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

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

storage_tests! {
    async fn requests_not_signed_by_slack_now_are_refused_and_nothing_is_stored(t: &TestDb) {
        let slack = Slack::new(t).await;
        let body = dm("Ev1", "U1", "help");
        for (secret, signed_at) in [("another-secret", slack.now), (SECRET, slack.now - 301), (SECRET, slack.now + 301)] {
            let reply = slack.post_signed_as("/webhooks/slack/events", JSON, &body, secret, signed_at).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{secret} at {signed_at}: {:?}", reply.body);
        }
        let unsigned = Request::post("/webhooks/slack/events").header(header::CONTENT_TYPE, JSON).body(Body::from(body.clone())).unwrap();
        assert_eq!(slack.send(unsigned).await.status, StatusCode::UNAUTHORIZED);
        assert!(slack.engine.first_delivery(Platform::Slack, "Ev1").await.unwrap(), "the refused event was not recorded");
        assert_eq!(slack.engine.dispatch_due().await.unwrap(), 0, "nothing was queued");
    }

    async fn slack_checks_the_events_url_with_a_challenge(t: &TestDb) {
        let slack = Slack::new(t).await;
        let reply = slack.post("/webhooks/slack/events", JSON, r#"{"type":"url_verification","challenge":"3eZbrw1aB"}"#).await;
        assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, json!({"challenge": "3eZbrw1aB"})));
    }

    async fn a_direct_message_is_answered_once_however_often_slack_retries_it(t: &TestDb) {
        let slack = Slack::new(t).await;
        for _ in 0..4 {
            let reply = slack.post("/webhooks/slack/events", JSON, &dm("Ev2", "U1", "help")).await;
            assert_eq!(reply.status, StatusCode::OK);
        }
        let posts = slack.posts_after_dispatch(1).await;
        assert_eq!(posts[0]["channel"], "DU1");
        assert_eq!(posts[0]["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["action_id"], "fd1:link");
        slack.engine.dispatch_due().await.unwrap();
        assert_eq!(slack.fake.calls_to("chat.postMessage").len(), 1, "one answer for four deliveries");
    }

    async fn the_home_tab_shows_what_frontdesk_does_and_whom_the_person_is_linked_to(t: &TestDb) {
        let slack = Slack::new(t).await;
        let opened = |event_id: &str| json!({"type": "event_callback", "team_id": "T1", "event_id": event_id,
            "event": {"type": "app_home_opened", "user": "U7", "channel": "DU7", "tab": "home"}}).to_string();
        // Retried by Slack: drawn once.
        for _ in 0..2 {
            assert_eq!(slack.post("/webhooks/slack/events", JSON, &opened("Ev10")).await.status, StatusCode::OK);
        }
        let published = slack.fake.wait_for("views.publish", 1).await;
        assert_eq!(published[0].args["user_id"], "U7");
        let view = &published[0].args["view"];
        assert_eq!(view["type"], "home");
        assert!(view["blocks"][0]["text"]["text"].as_str().unwrap().contains("Frontdesk"), "{view}");
        assert_eq!(view["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["action_id"], "fd1:link",
                   "not linked yet: the link button is offered");

        // Bob links, and the next time he opens the tab it says so, in his language.
        let mut bob = employee_input("bob@acme.example");
        bob.language = Lang::Ja;
        slack.engine.create_employee(&slack.owner, bob).await.unwrap();
        let payload = json!({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U7"},
                             "channel": {"id": "DU7"}, "actions": [{"type": "button", "action_id": "fd1:link"}]});
        slack.post("/webhooks/slack/interactions", FORM, &form(&[("payload", &payload.to_string())])).await;
        slack.posts_after_dispatch(1).await;
        slack.post("/webhooks/slack/events", JSON, &opened("Ev11")).await;
        let published = slack.fake.wait_for("views.publish", 2).await;
        let blocks = published[1].args["view"]["blocks"].to_string();
        assert!(blocks.contains("Bob") && !blocks.contains("fd1:link"), "{blocks}");
        assert!(blocks.contains("連携"), "in Japanese, Bob's language: {blocks}");

        // Opening the Messages tab draws nothing.
        let messages_tab = opened("Ev12").replace(r#""tab":"home""#, r#""tab":"messages""#);
        slack.post("/webhooks/slack/events", JSON, &messages_tab).await;
        assert_eq!(slack.fake.calls_to("views.publish").len(), 2);
    }

    async fn a_slash_command_is_answered_at_once_to_its_sender_in_their_language(t: &TestDb) {
        let slack = Slack::new(t).await;
        let body = form(&[("team_id", "T1"), ("user_id", "U1"), ("command", "/frontdesk"), ("text", "ヘルプ")]);
        let reply = slack.post("/webhooks/slack/commands", FORM, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["response_type"], "ephemeral");
        let first = reply.body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(first.contains("来客"), "{first}");
    }

    async fn pressing_link_links_the_slack_user_to_the_employee_with_their_email(t: &TestDb) {
        let slack = Slack::new(t).await;
        let bob = slack.engine.create_employee(&slack.owner, employee_input("bob@acme.example")).await.unwrap();
        let payload = json!({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U7"},
                             "channel": {"id": "DU7"}, "actions": [{"type": "button", "action_id": "fd1:link"}]});
        let reply = slack.post("/webhooks/slack/interactions", FORM, &form(&[("payload", &payload.to_string())])).await;
        assert_eq!(reply.status, StatusCode::OK);
        let posts = slack.posts_after_dispatch(1).await;
        assert!(posts[0]["text"].as_str().unwrap().starts_with("Linked"), "{}", posts[0]);
        let bob = slack.engine.employee(&slack.owner, bob.id).await.unwrap();
        assert_eq!(bob.profile.chat_identities.get(&Platform::Slack).map(String::as_str), Some("U7"));
        let unreadable = slack.post("/webhooks/slack/interactions", FORM, "payload=%7Bnot-json").await;
        assert_eq!(unreadable.status, StatusCode::BAD_REQUEST);
    }
}
