//! Discord's interactions end to end in-process: verified before they are read (wrong,
//! missing, stale or future signatures refused, nothing stored), the endpoint check (PING),
//! `/frontdesk help` answered at once to its sender in their language, a pressed button
//! answered, an interaction id acted on once, and linking by a code from the web chat (once,
//! briefly, with wrong codes limited).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use frontdesk_bots::testing::discord::{DiscordSigner, FakeDiscord};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::conversation::{Input, LINK_CODE_TTL};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::i18n::Lang;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::discord::DiscordInbound;
use frontdesk_webhooks::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const PATH: &str = "/webhooks/discord/interactions";

struct Discord {
    router: axum::Router,
    engine: Engine,
    test: TestEngine,
    owner: Actor,
    signer: DiscordSigner,
    _fake: FakeDiscord,
    now: i64,
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Discord {
    async fn new(t: &TestDb) -> Discord {
        let fake = FakeDiscord::start().await;
        let bot = Arc::new(fake.bot());
        let test = TestEngine::with_chat(t, bot.clone());
        let engine = test.engine.clone();
        let (tenant, owner) = acme_owner(&engine).await;
        let signer = DiscordSigner::default();
        let mut state = AppState::new(engine.clone(), vec![]);
        state.discord = Some(Arc::new(DiscordInbound {
            verifier: frontdesk_bots::discord_interactions::verifier(&signer.public_key_hex())
                .unwrap(),
            tenant_id: tenant.id,
            bot,
        }));
        let now = engine.ports.clock.now().timestamp();
        Discord {
            router: app(state),
            engine,
            test,
            owner,
            signer,
            _fake: fake,
            now,
        }
    }

    /// POSTs `body` with `signature` of the request signed at `timestamp`.
    async fn post_with(
        &self,
        body: &str,
        signature: Option<String>,
        timestamp: Option<i64>,
    ) -> Reply {
        let mut request = Request::post(PATH).header(header::CONTENT_TYPE, "application/json");
        if let Some(signature) = signature {
            request = request.header("x-signature-ed25519", signature);
        }
        if let Some(timestamp) = timestamp {
            request = request.header("x-signature-timestamp", timestamp.to_string());
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body }
    }

    /// POSTs `body` signed by `signer` at `signed_at`.
    async fn post_signed_as(&self, body: &str, signer: &DiscordSigner, signed_at: i64) -> Reply {
        let signature = signer.sign(&signed_at.to_string(), body.as_bytes());
        self.post_with(body, Some(signature), Some(signed_at)).await
    }

    async fn post(&self, body: &str) -> Reply {
        self.post_signed_as(body, &self.signer, self.now).await
    }
}

/// `/frontdesk text:<text>` from user 42 in a server, their client in `locale`.
fn command(id: &str, text: &str, locale: &str) -> String {
    command_from(id, "42", text, locale)
}

fn command_from(id: &str, user: &str, text: &str, locale: &str) -> String {
    json!({"id": id, "type": 2, "token": "interaction-token", "application_id": "1", "locale": locale,
           "guild_id": "7", "channel_id": "8",
           "data": {"id": "9", "name": "frontdesk", "type": 1,
                    "options": [{"name": "text", "type": 3, "value": text}]},
           "member": {"user": {"id": user, "username": "bob"}}})
    .to_string()
}

impl Discord {
    /// Bob, in the directory, signed in to the web chat (by his mailed link).
    async fn bob_in_the_web_chat(&self) -> (i64, frontdesk_core::engine::web_chat::ChatEmployee) {
        let bob = EmployeeInput {
            email: "bob@acme.example".into(),
            name: "Bob".into(),
            name_kana: String::new(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: frontdesk_core::domain::people::NotificationPreference::Chat,
            chat_identities: Default::default(),
        };
        let bob = self.engine.create_employee(&self.owner, bob).await.unwrap();
        self.engine
            .request_chat_sign_in("acme", "bob@acme.example", "192.0.2.7")
            .await
            .unwrap();
        self.engine.dispatch_due().await.unwrap();
        let mail = self.test.mailer.sent().pop().expect("a sign-in mail");
        let start = mail.body.find("token=").expect("a link") + "token=".len();
        let token = mail.body[start..].split_whitespace().next().unwrap();
        let me = self
            .engine
            .sign_in_to_chat(token, "192.0.2.7")
            .await
            .unwrap()
            .employee;
        (bob.id, me)
    }

    /// The code the web chat gives `me` for `link`.
    async fn link_code(&self, me: &frontdesk_core::engine::web_chat::ChatEmployee) -> String {
        let said = self
            .engine
            .web_chat_say(me, &Input::Text("link".into()))
            .await
            .unwrap();
        let answer = &said[1].message.summary;
        answer
            .split(|c: char| c.is_whitespace() || c == '.')
            .find(|word| word.len() == 9 && word.as_bytes()[4] == b'-')
            .unwrap_or_else(|| panic!("a code in {answer:?}"))
            .to_owned()
    }

    async fn discord_identity(&self, employee_id: i64) -> Option<String> {
        let bob = self
            .engine
            .employee(&self.owner, employee_id)
            .await
            .unwrap();
        bob.profile.chat_identities.get(&Platform::Discord).cloned()
    }
}

/// A button with `custom_id` pressed by user 43 in a direct message.
fn pressed(id: &str, custom_id: &str) -> String {
    json!({"id": id, "type": 3, "token": "interaction-token", "application_id": "1", "locale": "en-US",
           "channel_id": "8", "user": {"id": "43", "username": "carol"},
           "data": {"custom_id": custom_id, "component_type": 2}})
    .to_string()
}

/// The custom ids of the buttons in an interaction response.
fn custom_ids(reply: &Value) -> Vec<String> {
    reply["data"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["custom_id"].as_str().map(str::to_owned))
        .collect()
}

storage_tests! {
    async fn interactions_not_signed_by_the_application_now_are_refused_and_nothing_is_stored(t: &TestDb) {
        let discord = Discord::new(t).await;
        let body = command("1001", "help", "en-US");
        let another_application = DiscordSigner::from_seed([9; 32]);
        for (signer, signed_at, what) in [
            (&another_application, discord.now, "another key"),
            (&discord.signer, discord.now - 301, "stale"),
            (&discord.signer, discord.now + 301, "from the future"),
        ] {
            let reply = discord.post_signed_as(&body, signer, signed_at).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", reply.body);
        }
        let of_another_body = discord.signer.sign(&discord.now.to_string(), command("1001", "link", "en-US").as_bytes());
        let good = discord.signer.sign(&discord.now.to_string(), body.as_bytes());
        for (signature, timestamp, what) in [
            (Some(of_another_body), Some(discord.now), "signature of another body"),
            (Some("00".repeat(64)), Some(discord.now), "a signature of zeros"),
            (Some("not hex".into()), Some(discord.now), "not hex"),
            (None, Some(discord.now), "no signature"),
            (Some(good.clone()), None, "no timestamp"),
            (Some(good), Some(discord.now + 1), "another timestamp"),
        ] {
            let reply = discord.post_with(&body, signature, timestamp).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", reply.body);
        }
        assert!(discord.engine.first_delivery(Platform::Discord, "1001").await.unwrap(), "the refused interaction was not recorded");
        assert_eq!(discord.engine.dispatch_due().await.unwrap(), 0, "nothing was queued");
    }

    async fn discord_checks_the_endpoint_with_a_ping(t: &TestDb) {
        let discord = Discord::new(t).await;
        let reply = discord.post(r#"{"id":"1000","type":1,"application_id":"1","token":"t","version":1}"#).await;
        assert_eq!((reply.status, reply.body), (StatusCode::OK, json!({"type": 1})));
        let unreadable = discord.post("{not json").await;
        assert_eq!(unreadable.status, StatusCode::BAD_REQUEST);
    }

    async fn the_help_command_is_answered_at_once_to_its_sender_in_their_language(t: &TestDb) {
        let discord = Discord::new(t).await;
        let reply = discord.post(&command("1002", "help", "ja")).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["type"], 4, "answered in the response: {}", reply.body);
        assert_eq!(reply.body["data"]["flags"], 64, "seen by its sender only");
        let content = reply.body["data"]["content"].as_str().unwrap();
        assert!(content.contains("来客"), "{content}");
        assert_eq!(custom_ids(&reply.body), ["fd1:link"], "an unlinked person is offered to link");

        let english = discord.post(&command("1003", "help", "en-US")).await;
        let content = english.body["data"]["content"].as_str().unwrap();
        assert!(!content.contains("来客") && content.contains("Frontdesk"), "{content}");
        assert!(content.contains("link CODE"), "linking on Discord goes by a code: {content}");
        assert!(!content.contains("by your email"), "{content}");
    }

    async fn a_pressed_button_is_answered(t: &TestDb) {
        let discord = Discord::new(t).await;
        let reply = discord.post(&pressed("1004", "fd1:help")).await;
        assert_eq!((reply.status, reply.body["type"].clone()), (StatusCode::OK, json!(4)), "{:?}", reply.body);
        assert_eq!(custom_ids(&reply.body), ["fd1:link"]);
        let altered = discord.post(&pressed("1005", "fd1:drop_everything")).await;
        assert_eq!(custom_ids(&altered.body), ["fd1:help"], "an unknown button is answered with help: {}", altered.body);
    }

    async fn an_interaction_sent_again_is_acted_on_once(t: &TestDb) {
        let discord = Discord::new(t).await;
        let body = command("1006", "help", "en-US");
        let first = discord.post(&body).await;
        assert_eq!(first.status, StatusCode::OK);
        let again = discord.post(&body).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    }

    async fn a_code_from_the_web_chat_links_the_discord_user_once(t: &TestDb) {
        let discord = Discord::new(t).await;
        let asked = discord.post(&command("2001", "link", "en-US")).await;
        let how = asked.body["data"]["content"].as_str().unwrap();
        assert!(how.contains("/chat") && how.contains("web chat"), "says how to get a code: {how}");

        let (bob, me) = discord.bob_in_the_web_chat().await;
        let code = discord.link_code(&me).await;
        let linked = discord.post(&command("2002", &format!("link {}", code.to_lowercase()), "en-US")).await;
        let content = linked.body["data"]["content"].as_str().unwrap();
        assert!(content.starts_with("Linked"), "{content}");
        assert_eq!(discord.discord_identity(bob).await.as_deref(), Some("42"));

        // Used once: another Discord user cannot take it over with the same code.
        let again = discord.post(&command_from("2003", "77", &format!("link {code}"), "ja")).await;
        let content = again.body["data"]["content"].as_str().unwrap();
        assert!(content.contains("連携コードは使えません"), "{content}");
        assert_eq!(discord.discord_identity(bob).await.as_deref(), Some("42"));
    }

    async fn a_link_code_expires_and_wrong_codes_are_limited(t: &TestDb) {
        let discord = Discord::new(t).await;
        let (bob, me) = discord.bob_in_the_web_chat().await;
        let old = discord.link_code(&me).await;
        discord.test.clock.advance(LINK_CODE_TTL + chrono::Duration::seconds(1));
        let now = discord.engine.ports.clock.now().timestamp();
        let expired = discord.post_signed_as(&command("3001", &format!("link {old}"), "en-US"), &discord.signer, now).await;
        assert!(expired.body["data"]["content"].as_str().unwrap().contains("does not work"), "{:?}", expired.body);

        let fresh = discord.link_code(&me).await;
        for i in 0..4 {
            let wrong = discord.post_signed_as(&command(&format!("310{i}"), "link AAAA-AAAA", "en-US"), &discord.signer, now).await;
            assert!(wrong.body["data"]["content"].as_str().unwrap().contains("does not work"));
        }
        // Five wrong codes in a quarter hour: even the right one waits.
        let blocked = discord.post_signed_as(&command("3201", &format!("link {fresh}"), "en-US"), &discord.signer, now).await;
        let content = blocked.body["data"]["content"].as_str().unwrap();
        assert!(content.contains("Too many"), "{content}");
        assert_eq!(discord.discord_identity(bob).await, None);
    }
}
