//! Teams' activities end to end in-process, against a fake Bot Framework: every token the
//! Bot Framework did not issue for this bot and this activity is refused with nothing
//! stored, a message is answered through the outbox once however often it is retried and in
//! the person's language, and the answer's `link` button links the account whether Teams
//! sends it as `Action.Submit` or `Action.Execute`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use frontdesk_bots::teams_events::{MICROSOFT_SERVICE_HOSTS, Verifier};
use frontdesk_bots::testing::FakeTeams;
use frontdesk_bots::testing::teams::{APP_ID, Forgery, signed_token};
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::i18n::Lang;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::teams::TeamsInbound;
use frontdesk_webhooks::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const PATH: &str = "/webhooks/teams/messages";

struct Teams {
    router: axum::Router,
    engine: Engine,
    fake: FakeTeams,
    owner: Actor,
    now: i64,
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Teams {
    async fn new(t: &TestDb) -> Teams {
        let fake = FakeTeams::start(&[("aad-bob", "bob@acme.example")]).await;
        let test = TestEngine::with_chat(t, Arc::new(fake.bot()));
        let engine = test.engine.clone();
        let (tenant, owner) = acme_owner(&engine).await;
        let mut state = AppState::new(engine.clone(), vec![]);
        state.teams = Some(Arc::new(TeamsInbound {
            verifier: Verifier::new(APP_ID, &fake.openid_url()),
            tenant_id: tenant.id,
            allowed_service_hosts: MICROSOFT_SERVICE_HOSTS
                .iter()
                .map(|host| host.to_string())
                .chain(["127.0.0.1".to_owned()])
                .collect(),
        }));
        let now = engine.ports.clock.now().timestamp();
        Teams {
            router: app(state),
            engine,
            fake,
            owner,
            now,
        }
    }

    /// POSTs `activity` with `authorization` (or none).
    async fn post_with(&self, activity: &Value, authorization: Option<String>) -> Reply {
        let mut request = Request::post(PATH).header(header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = request.body(Body::from(activity.to_string())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    /// POSTs `activity` signed as the Bot Framework signs it (or forged).
    async fn post(&self, activity: &Value, forgery: Forgery) -> Reply {
        let service = activity["serviceUrl"].as_str().unwrap();
        let authorization = self.fake.authorization(service, self.now, forgery);
        self.post_with(activity, Some(authorization)).await
    }

    /// Sends what was queued until the fake has received `count` activities (the answers are
    /// made in the background after the request was acknowledged).
    async fn posts_after_dispatch(&self, count: usize) -> Vec<Value> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                self.engine.dispatch_due().await.unwrap();
                let posts = self.fake.posted();
                if posts.len() >= count {
                    return posts.into_iter().map(|c| c.body).collect();
                }
                self.engine.outbox_queued.notified().await;
            }
        })
        .await
        .expect("the answers were posted")
    }

    async fn bob(&self) -> i64 {
        let bob = EmployeeInput {
            email: "bob@acme.example".into(),
            name: "Bob".into(),
            name_kana: String::new(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Chat,
            chat_identities: Default::default(),
        };
        self.engine
            .create_employee(&self.owner, bob)
            .await
            .unwrap()
            .id
    }

    async fn teams_id_of(&self, employee: i64) -> Option<String> {
        let employee = self.engine.employee(&self.owner, employee).await.unwrap();
        employee
            .profile
            .chat_identities
            .get(&Platform::Teams)
            .cloned()
    }
}

/// A Teams activity from the person `aad` in their 1:1 chat with the bot.
fn activity(service_url: &str, kind: &str, id: &str, aad: &str, locale: &str) -> Value {
    json!({
        "type": kind, "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "timestamp": "2026-11-26T09:00:00.000Z", "locale": locale,
        "from": {"id": format!("29:1{aad}"), "name": "Someone", "aadObjectId": aad},
        "recipient": {"id": format!("28:{APP_ID}"), "name": "Frontdesk"},
        "conversation": {"id": format!("a:1{aad}"), "conversationType": "personal", "tenantId": "72f988bf-test-tenant"},
        "channelData": {"tenant": {"id": "72f988bf-test-tenant"}},
    })
}

fn message(service_url: &str, id: &str, aad: &str, text: &str, locale: &str) -> Value {
    let mut message = activity(service_url, "message", id, aad, locale);
    message["text"] = json!(text);
    message
}

fn the_card(activity: &Value) -> &Value {
    assert_eq!(
        activity["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    &activity["attachments"][0]["content"]
}

storage_tests! {
    async fn activities_not_vouched_for_by_the_bot_framework_are_refused_and_nothing_is_stored(t: &TestDb) {
        let teams = Teams::new(t).await;
        let service = teams.fake.service_url();
        let help = message(&service, "act-1", "aad-alice", "help", "en-US");
        let forgeries = [
            Forgery::WrongAudience, Forgery::WrongIssuer, Forgery::Expired, Forgery::UnknownKey,
            Forgery::AlgNone, Forgery::Hs256, Forgery::Tampered, Forgery::ServiceUrlMismatch,
            Forgery::MissingEndorsement,
        ];
        for forgery in forgeries {
            let reply = teams.post(&help, forgery).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{forgery:?}: {:?}", reply.body);
        }
        let unsigned = teams.post_with(&help, None).await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
        // A correctly signed activity naming a serviceUrl that is not on the allow-list.
        let elsewhere = "http://127.0.0.2:9/";
        let stray = message(elsewhere, "act-1", "aad-alice", "help", "en-US");
        let reply = teams.post_with(&stray, Some(teams.fake.authorization(elsewhere, teams.now, Forgery::None))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);

        assert!(teams.engine.first_delivery(Platform::Teams, "act-1").await.unwrap(), "the refused activity was not recorded");
        assert_eq!(teams.engine.dispatch_due().await.unwrap(), 0, "nothing was queued");
        assert!(teams.fake.posted().is_empty());
        // The unknown key came within a minute of the first fetch: no refetch for it (the
        // refetch itself is tested in the bot's tests).
        assert_eq!(teams.fake.key_fetches(), 1, "the keys were fetched once");
    }

    async fn a_message_is_answered_once_in_the_persons_language_however_often_it_is_retried(t: &TestDb) {
        let teams = Teams::new(t).await;
        let service = teams.fake.service_url();
        let help = message(&service, "act-2", "aad-alice", "<at>Frontdesk</at> help", "ja-JP");
        for _ in 0..4 {
            let reply = teams.post(&help, Forgery::None).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        }
        let posts = teams.posts_after_dispatch(1).await;
        let card = the_card(&posts[0]);
        let first = card["body"][0]["text"].as_str().unwrap();
        assert!(first.contains("来客"), "{first}");
        let link = card["body"].as_array().unwrap().last().unwrap();
        assert_eq!(link["actions"][0]["verb"], "fd1:link");
        let created = teams.fake.calls_to("POST", "/v3/conversations");
        assert_eq!(created[0].body["members"][0]["id"], "aad-alice");
        teams.engine.dispatch_due().await.unwrap();
        assert_eq!(teams.fake.posted().len(), 1, "one answer for four deliveries");
    }

    async fn pressing_link_on_the_card_as_a_submit_links_the_teams_user_with_their_email(t: &TestDb) {
        let teams = Teams::new(t).await;
        let bob = teams.bob().await;
        let mut press = activity(&teams.fake.service_url(), "message", "act-3", "aad-bob", "en-US");
        press["value"] = json!({"action": "fd1:link"});
        let reply = teams.post(&press, Forgery::None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let posts = teams.posts_after_dispatch(1).await;
        assert!(posts[0]["summary"].as_str().unwrap().starts_with("Linked"), "{}", posts[0]);
        assert_eq!(teams.teams_id_of(bob).await.as_deref(), Some("aad-bob"));
    }

    async fn pressing_link_as_an_execute_is_answered_with_the_card_in_the_response(t: &TestDb) {
        let teams = Teams::new(t).await;
        let bob = teams.bob().await;
        let mut press = activity(&teams.fake.service_url(), "invoke", "act-4", "aad-bob", "en-US");
        press["name"] = json!("adaptiveCard/action");
        press["value"] = json!({"action": {"type": "Action.Execute", "verb": "fd1:link", "data": {"action": "fd1:link"}}, "trigger": "manual"});
        let reply = teams.post(&press, Forgery::None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["statusCode"], 200);
        assert_eq!(reply.body["type"], "application/vnd.microsoft.card.adaptive");
        let text = reply.body["value"]["body"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("Linked"), "{text}");
        assert_eq!(teams.teams_id_of(bob).await.as_deref(), Some("aad-bob"));
        // The retry is not acted on again, and nothing was sent as a message.
        let retry = teams.post(&press, Forgery::None).await;
        assert_eq!(retry.status, StatusCode::OK);
        assert_eq!(retry.body["type"], "application/vnd.microsoft.activity.message");
        assert_eq!(teams.engine.dispatch_due().await.unwrap(), 0);
        assert!(teams.fake.posted().is_empty());
    }

    async fn installing_the_bot_is_acknowledged_and_stores_nothing(t: &TestDb) {
        let teams = Teams::new(t).await;
        let mut installed = activity(&teams.fake.service_url(), "conversationUpdate", "act-5", "aad-alice", "en-US");
        installed["membersAdded"] = json!([{"id": format!("28:{APP_ID}")}]);
        let reply = teams.post(&installed, Forgery::None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(teams.engine.dispatch_due().await.unwrap(), 0);
        assert!(teams.fake.posted().is_empty());
    }

    async fn without_a_teams_section_the_endpoint_does_not_exist(t: &TestDb) {
        let engine = TestEngine::on(t).engine;
        let request = Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let response = app(AppState::new(engine, vec![])).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    async fn an_activity_with_a_valid_token_but_an_unreadable_body_is_refused(t: &TestDb) {
        let teams = Teams::new(t).await;
        let service = teams.fake.service_url();
        let request = Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", signed_token(&service, teams.now, Forgery::None)))
            .body(Body::from("{not json"))
            .unwrap();
        let response = teams.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
