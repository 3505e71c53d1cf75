//! The Slack bot against a local fake of the Slack Web API that speaks Slack's JSON (errors
//! included: `ok: false`, 429 with `Retry-After`, 5xx): direct messages in Block Kit,
//! updates in place, user lookups, and every failure mapped to what the dispatcher does with
//! it; then notices end to end through the outbox.

use std::sync::Arc;

use frontdesk_bots::testing::{FakeSlack, Trouble};
use frontdesk_core::domain::chat::{Action, Button, ButtonStyle, Field, Message};
use frontdesk_core::domain::people::Platform;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::port::{ChatBot, ChatBots, ChatError, Ports, Recipient};
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use serde_json::json;

fn visitor_notice() -> Message {
    Message::text("Kenji <!channel> & co is here")
        .fields(vec![Field {
            label: "Company".into(),
            value: "*Globex*".into(),
        }])
        .buttons(vec![Button {
            action: Action::Help,
            label: "On my way".into(),
            style: ButtonStyle::Primary,
        }])
}

#[tokio::test]
async fn a_notice_is_a_direct_message_in_block_kit_updated_in_place() {
    let slack = FakeSlack::start(&[]).await;
    let bot = slack.bot();
    let sent = bot
        .send(&Recipient::User("U1".into()), &visitor_notice())
        .await
        .unwrap();
    assert_eq!(
        (sent.conversation.as_str(), sent.message_id.as_str()),
        ("DU1", "1764115200.000001")
    );

    let calls = slack.calls();
    assert_eq!(
        calls.iter().map(|c| c.method.as_str()).collect::<Vec<_>>(),
        ["conversations.open", "chat.postMessage"]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.authorization == "Bearer xoxb-test-token")
    );
    assert_eq!(calls[0].args["users"], json!(["U1"]));
    let posted = &calls[1].args;
    assert_eq!(posted["channel"], "DU1");
    // The notification text is escaped mrkdwn; the blocks are plain text shown as typed.
    assert_eq!(posted["text"], "Kenji &lt;!channel&gt; &amp; co is here");
    assert_eq!(
        posted["blocks"][0],
        json!({"type": "section", "text": {"type": "plain_text", "text": "Kenji <!channel> & co is here"}})
    );
    assert_eq!(
        posted["blocks"][1]["fields"][0],
        json!({"type": "plain_text", "text": "Company\n*Globex*"})
    );
    assert_eq!(
        posted["blocks"][2],
        json!({"type": "actions", "elements": [{"type": "button", "action_id": "fd1:help",
               "text": {"type": "plain_text", "text": "On my way"}, "style": "primary"}]})
    );

    bot.update(&sent, &Message::text("Alice is on her way"))
        .await
        .unwrap();
    let update = &slack.calls_to("chat.update")[0].args;
    assert_eq!(
        (update["channel"].as_str(), update["ts"].as_str()),
        (Some("DU1"), Some("1764115200.000001"))
    );
    assert_eq!(update["blocks"][0]["text"]["text"], "Alice is on her way");
}

#[tokio::test]
async fn users_are_found_by_email_and_their_verified_email_is_read() {
    let slack = FakeSlack::start(&[("U7", "bob@acme.example")]).await;
    let bot = slack.bot();
    assert_eq!(
        bot.find_user_by_email("bob@acme.example")
            .await
            .unwrap()
            .as_deref(),
        Some("U7")
    );
    assert_eq!(
        bot.find_user_by_email("nobody@acme.example").await.unwrap(),
        None
    );
    assert_eq!(
        bot.user_email("U7").await.unwrap().as_deref(),
        Some("bob@acme.example")
    );
    assert_eq!(
        slack.calls_to("users.lookupByEmail")[0].args["email"],
        "bob@acme.example"
    );
}

#[tokio::test]
async fn each_failure_becomes_what_the_dispatcher_does_with_it() {
    let slack = FakeSlack::start(&[]).await;
    let bot = slack.bot();
    let to = Recipient::Channel("C1".into());
    for (trouble, expected) in [
        (
            Trouble::RateLimited { retry_after: 7 },
            ChatError::RateLimited {
                retry_after_secs: 7,
            },
        ),
        (
            Trouble::SlackError("account_inactive"),
            ChatError::Permanent("account_inactive".into()),
        ),
        (
            Trouble::SlackError("channel_not_found"),
            ChatError::Permanent("channel_not_found".into()),
        ),
        (
            Trouble::SlackError("internal_error"),
            ChatError::Temporary("internal_error".into()),
        ),
    ] {
        slack.trouble([trouble.clone()]);
        assert_eq!(
            bot.send(&to, &visitor_notice()).await.unwrap_err(),
            expected,
            "{trouble:?}"
        );
    }
    slack.trouble([Trouble::ServerError]);
    assert!(matches!(
        bot.send(&to, &visitor_notice()).await,
        Err(ChatError::Temporary(_))
    ));
    assert!(
        bot.send(&to, &visitor_notice()).await.is_ok(),
        "and it recovers"
    );
}

/// An engine on `t` whose only chat platform is the fake Slack.
fn engine_with(t: &TestDb, slack: &FakeSlack) -> TestEngine {
    TestEngine::with_chat(t, Arc::new(slack.bot()))
}

/// An employee with `email` who wants notices in chat.
fn person(email: &str) -> EmployeeInput {
    EmployeeInput {
        email: email.into(),
        name: "Bob".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: frontdesk_core::i18n::Lang::En,
        notification: frontdesk_core::domain::people::NotificationPreference::Chat,
        chat_identities: Default::default(),
    }
}

/// Acme's owner and its employee with `email`.
async fn employee_of(engine: &Engine, email: &str) -> (Actor, Employee) {
    let (_tenant, actor) = acme_owner(engine).await;
    let employee = engine.create_employee(&actor, person(email)).await.unwrap();
    (actor, employee)
}

storage_tests! {
    async fn a_notice_survives_slack_trouble_and_arrives_once(t: &TestDb) {
        let slack = FakeSlack::start(&[("U7", "bob@acme.example")]).await;
        let test = engine_with(t, &slack);
        let engine = &test.engine;
        let (owner, bob) = employee_of(engine, "bob@acme.example").await;
        let mut tx = engine.db.write().await.unwrap();
        engine.notify_employee(&mut tx, owner.account.tenant_id, &bob, "visit:1", &visitor_notice()).await.unwrap();
        tx.commit().await.unwrap();

        // Slack answers 500, then 429 (Retry-After 5 s), then not at all (the bot gives up
        // waiting), then recovers.
        slack.trouble([Trouble::ServerError, Trouble::RateLimited { retry_after: 5 }, Trouble::NoAnswer]);
        for _ in 0..4 {
            engine.dispatch_due().await.unwrap();
            test.clock.advance(chrono::Duration::seconds(10));
        }
        assert_eq!(slack.calls_to("users.lookupByEmail").len(), 4, "tried through each failure");
        let posted = slack.succeeded("chat.postMessage");
        assert_eq!(posted.len(), 1, "delivered once: {:?}", slack.calls());
        assert_eq!(posted[0].args["channel"], "DU7");
        let bob = engine.employee(&owner, bob.id).await.unwrap();
        assert_eq!(bob.profile.chat_identities.get(&Platform::Slack).map(String::as_str), Some("U7"), "linked for next time");
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "nothing left to send");
    }

    async fn two_instances_on_one_database_deliver_each_notice_and_update_once(t: &TestDb) {
        let slack = FakeSlack::start(&[]).await;
        let first = engine_with(t, &slack);
        let second = Engine::new(
            Db::connect(t.url()).await.unwrap(),
            Ports { chat: ChatBots::default().with(Arc::new(slack.bot())), ..first.engine.ports.clone() },
            frontdesk_core::testing::test_settings(),
        );
        let (owner, _) = employee_of(&first.engine, "bob@acme.example").await;
        let people = 40;
        for n in 0..people {
            let mut input = person(&format!("p{n}@acme.example"));
            input.chat_identities = [(Platform::Slack, format!("U{n}"))].into();
            let employee = first.engine.create_employee(&owner, input).await.unwrap();
            let mut tx = first.engine.db.write().await.unwrap();
            first.engine.notify_employee(&mut tx, owner.account.tenant_id, &employee, &format!("visit:{n}"), &visitor_notice()).await.unwrap();
            if n % 2 == 0 {
                first.engine.update_notice(&mut tx, owner.account.tenant_id, &format!("visit:{n}"), &Message::text("On my way")).await.unwrap();
            }
            tx.commit().await.unwrap();
        }

        // Both instances dispatch at once; an update that overtook its notice on the other
        // instance waits for it, so time moves on until nothing is left.
        loop {
            let (a, b) = tokio::join!(first.engine.dispatch_due(), second.dispatch_due());
            if a.unwrap() + b.unwrap() == 0 && slack.succeeded("chat.update").len() == people / 2 {
                break;
            }
            first.clock.advance(chrono::Duration::minutes(1));
        }
        let mut channels: Vec<String> = slack.succeeded("chat.postMessage").iter()
            .map(|call| call.args["channel"].as_str().unwrap().to_owned()).collect();
        channels.sort();
        let mut expected: Vec<String> = (0..people).map(|n| format!("DU{n}")).collect();
        expected.sort();
        assert_eq!(channels, expected, "every notice posted once, none twice");
        let mut updated: Vec<String> = slack.succeeded("chat.update").iter()
            .map(|call| call.args["channel"].as_str().unwrap().to_owned()).collect();
        updated.sort();
        let mut expected: Vec<String> = (0..people).step_by(2).map(|n| format!("DU{n}")).collect();
        expected.sort();
        assert_eq!(updated, expected, "every update made once");
    }
}
