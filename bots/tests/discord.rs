//! The Discord bot against a local fake of Discord's REST API that speaks Discord's JSON
//! (errors included: 429 with `retry_after`, 5xx, 403 code 50007): direct messages with
//! embeds and components, updated in place, every failure mapped to what the dispatcher
//! does with it, the slash command registered in English and Japanese; then a notice end to
//! end through the outbox to a linked employee.

use std::sync::Arc;

use frontdesk_bots::testing::discord::{DiscordTrouble, FakeDiscord};
use frontdesk_core::domain::chat::{Action, Block, Button, ButtonStyle, Choice, Field, Message};
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::i18n::Lang;
use frontdesk_core::port::{ChatBot, ChatError, Recipient};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use serde_json::json;

fn visitor_notice() -> Message {
    Message::text("Kenji @everyone & **co** is here")
        .fields(vec![Field {
            label: "Company".into(),
            value: "Globex".into(),
        }])
        .buttons(vec![
            Button {
                action: Action::Help,
                label: "On my way".into(),
                style: ButtonStyle::Primary,
            },
            Button {
                action: Action::Link,
                label: "Link".into(),
                style: ButtonStyle::Default,
            },
        ])
}

#[tokio::test]
async fn a_notice_is_a_direct_message_with_components_updated_in_place() {
    let discord = FakeDiscord::start().await;
    let bot = discord.bot();
    let sent = bot
        .send(
            &Recipient::User("80351110224678912".into()),
            &visitor_notice(),
        )
        .await
        .unwrap();
    assert_eq!(
        (sent.conversation.as_str(), sent.message_id.as_str()),
        ("180351110224678912", "1300000000000000001")
    );

    let calls = discord.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect::<Vec<_>>(),
        [
            "POST /users/@me/channels",
            "POST /channels/180351110224678912/messages"
        ]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.authorization == "Bot test-bot-token")
    );
    assert_eq!(calls[0].body, json!({"recipient_id": "80351110224678912"}));
    let posted = &calls[1].body;
    // Markup and mentions are shown as typed, and nobody is pinged.
    assert_eq!(
        posted["content"],
        "Kenji \\@everyone & \\*\\*co\\*\\* is here"
    );
    assert_eq!(
        posted["allowed_mentions"],
        json!({"parse": [], "users": [], "roles": []})
    );
    assert_eq!(
        posted["embeds"][0]["fields"],
        json!([{"name": "Company", "value": "Globex", "inline": true}])
    );
    assert_eq!(
        posted["components"],
        json!([{"type": 1, "components": [
            {"type": 2, "style": 1, "custom_id": "fd1:help", "label": "On my way", "disabled": false},
            {"type": 2, "style": 2, "custom_id": "fd1:link", "label": "Link", "disabled": false}]}])
    );

    let answered = Message::text("アリスさんが向かっています").fields(vec![Field {
        label: "会社".into(),
        value: "グロービクス".into(),
    }]);
    bot.update(&sent, &answered).await.unwrap();
    let update = &discord.calls_to("PATCH", "/channels/")[0];
    assert_eq!(
        update.path,
        "/channels/180351110224678912/messages/1300000000000000001"
    );
    assert_eq!(update.body["content"], "アリスさんが向かっています");
    assert_eq!(update.body["embeds"][0]["fields"][0]["name"], "会社");
    assert_eq!(update.body["components"], json!([]), "the buttons are gone");
}

#[tokio::test]
async fn a_menu_and_many_buttons_fit_discords_rows() {
    let discord = FakeDiscord::start().await;
    let buttons = (0..7)
        .map(|i| Button {
            action: Action::Help,
            label: format!("Button {i}"),
            style: ButtonStyle::Danger,
        })
        .collect();
    let mut message = Message::text("Pick a room").buttons(buttons);
    message.blocks.push(Block::Select {
        action: Action::Help,
        placeholder: "会議室".into(),
        options: vec![Choice {
            value: "room-1".into(),
            label: "Room 1".into(),
        }],
    });
    discord
        .bot()
        .send(&Recipient::Channel("42".into()), &message)
        .await
        .unwrap();
    let components = &discord.calls_to("POST", "/channels/42/messages")[0].body["components"];
    let rows = components.as_array().unwrap();
    assert_eq!(
        rows.len(),
        3,
        "five buttons a row, then the menu: {components}"
    );
    assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
    assert_eq!(rows[1]["components"].as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["components"][0]["style"], 4);
    assert_eq!(
        rows[2]["components"][0],
        json!({"type": 3, "custom_id": "fd1:help", "placeholder": "会議室",
               "options": [{"label": "Room 1", "value": "room-1"}]})
    );
}

#[tokio::test]
async fn each_failure_becomes_what_the_dispatcher_does_with_it() {
    let discord = FakeDiscord::start().await;
    let bot = discord.bot();
    let to = Recipient::Channel("42".into());
    for (trouble, expected) in [
        (
            DiscordTrouble::RateLimited { retry_after: 1.5 },
            ChatError::RateLimited {
                retry_after_secs: 2,
            },
        ),
        (
            DiscordTrouble::CannotDm,
            ChatError::Permanent(
                "HTTP 403, Discord code 50007: Cannot send messages to this user".into(),
            ),
        ),
        (
            DiscordTrouble::Unauthorized,
            ChatError::Permanent("HTTP 401, Discord code 0: 401: Unauthorized".into()),
        ),
        (
            DiscordTrouble::ServerError,
            ChatError::Temporary("HTTP 500, Discord code 0: 500: Internal Server Error".into()),
        ),
    ] {
        discord.trouble([trouble.clone()]);
        assert_eq!(
            bot.send(&to, &visitor_notice()).await.unwrap_err(),
            expected,
            "{trouble:?}"
        );
    }
    // An update of a message that is gone will never succeed.
    discord.trouble([DiscordTrouble::UnknownMessage]);
    let gone = frontdesk_core::port::Sent {
        conversation: "42".into(),
        message_id: "1300000000000000001".into(),
    };
    assert!(matches!(
        bot.update(&gone, &visitor_notice()).await,
        Err(ChatError::Permanent(reason)) if reason.contains("10008")
    ));
    assert!(
        bot.send(&to, &visitor_notice()).await.is_ok(),
        "and it recovers"
    );
}

#[tokio::test]
async fn a_discord_that_does_not_answer_is_a_temporary_failure() {
    // A port that was listening and no longer is: the connection is refused.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let bot = frontdesk_bots::discord::DiscordBot::new(
        "test-bot-token",
        frontdesk_bots::testing::discord::APPLICATION_ID,
        &format!("http://{address}"),
    )
    .unwrap();
    assert!(matches!(
        bot.send(&Recipient::Channel("42".into()), &visitor_notice())
            .await,
        Err(ChatError::Temporary(_))
    ));
}

#[tokio::test]
async fn a_late_answer_replaces_the_deferred_response_through_the_interaction_webhook() {
    let discord = FakeDiscord::start().await;
    discord
        .bot()
        .answer_later("interaction-token", &visitor_notice())
        .await
        .unwrap();
    let patched = &discord.calls_to("PATCH", "/webhooks/")[0];
    assert_eq!(
        patched.path,
        format!(
            "/webhooks/{}/interaction-token/messages/@original",
            frontdesk_bots::testing::discord::APPLICATION_ID
        )
    );
    assert_eq!(
        patched.body["content"],
        "Kenji \\@everyone & \\*\\*co\\*\\* is here"
    );
    assert_eq!(
        patched.body["components"][0]["components"][1]["custom_id"],
        "fd1:link"
    );
}

#[tokio::test]
async fn discord_has_no_email_lookup() {
    let discord = FakeDiscord::start().await;
    let bot = discord.bot();
    assert_eq!(bot.user_email("42").await.unwrap(), None);
    assert_eq!(
        bot.find_user_by_email("bob@acme.example").await.unwrap(),
        None
    );
    assert!(discord.calls().is_empty(), "nothing was asked of Discord");
}

#[tokio::test]
async fn the_slash_command_is_registered_in_english_and_japanese_and_again_harmlessly() {
    let discord = FakeDiscord::start().await;
    let bot = discord.bot();
    bot.register_commands().await.unwrap();
    bot.register_commands().await.unwrap();
    let calls = discord.calls_to("PUT", "/applications/");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].path,
        format!(
            "/applications/{}/commands",
            frontdesk_bots::testing::discord::APPLICATION_ID
        )
    );
    assert_eq!(
        calls[0].body, calls[1].body,
        "the same whole list each time"
    );
    let commands = calls[0].body.as_array().unwrap();
    assert_eq!(commands.len(), 1);
    let command = &commands[0];
    assert_eq!(command["name"], "frontdesk");
    assert_eq!(command["name_localizations"]["ja"], "受付");
    assert!(
        command["description_localizations"]["ja"]
            .as_str()
            .unwrap()
            .contains("ヘルプ")
    );
    let option = &command["options"][0];
    assert_eq!(
        (
            option["name"].as_str(),
            option["type"].as_u64(),
            option["required"].as_bool()
        ),
        (Some("text"), Some(3), Some(false))
    );
    assert_eq!(option["name_localizations"]["ja"], "内容");
}

/// An engine on `t` whose only chat platform is the fake Discord.
fn engine_with(t: &TestDb, discord: &FakeDiscord) -> TestEngine {
    TestEngine::with_chat(t, Arc::new(discord.bot()))
}

/// Acme's owner and its employee `email`, linked on Discord as `discord_user` if given.
async fn employee_of(
    engine: &Engine,
    email: &str,
    discord_user: Option<&str>,
) -> (Actor, Employee) {
    let (_tenant, actor) = acme_owner(engine).await;
    let input = EmployeeInput {
        email: email.into(),
        name: "Bob".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: Lang::En,
        notification: NotificationPreference::Chat,
        chat_identities: discord_user
            .map(|id| [(Platform::Discord, id.to_owned())].into_iter().collect())
            .unwrap_or_default(),
    };
    let employee = engine.create_employee(&actor, input).await.unwrap();
    (actor, employee)
}

storage_tests! {
    async fn a_notice_to_a_linked_employee_survives_discord_trouble_and_arrives_once(t: &TestDb) {
        let discord = FakeDiscord::start().await;
        let test = engine_with(t, &discord);
        let engine = &test.engine;
        let (owner, bob) = employee_of(engine, "bob@acme.example", Some("80351110224678912")).await;
        let mut tx = engine.db.write().await.unwrap();
        engine.notify_employee(&mut tx, owner.account.tenant_id, &bob, "visit:1", &visitor_notice()).await.unwrap();
        tx.commit().await.unwrap();

        discord.trouble([DiscordTrouble::ServerError, DiscordTrouble::RateLimited { retry_after: 2.0 }]);
        for _ in 0..3 {
            engine.dispatch_due().await.unwrap();
            test.clock.advance(chrono::Duration::seconds(10));
        }
        let posted = discord.calls_to("POST", "/channels/");
        assert_eq!(posted.len(), 1, "delivered once: {:?}", discord.calls());
        assert_eq!(posted[0].path, "/channels/180351110224678912/messages");
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "nothing left to send");
    }

    async fn an_employee_not_linked_on_discord_is_mailed_not_looked_up(t: &TestDb) {
        let discord = FakeDiscord::start().await;
        let test = engine_with(t, &discord);
        let engine = &test.engine;
        let (owner, bob) = employee_of(engine, "bob@acme.example", None).await;
        let mut tx = engine.db.write().await.unwrap();
        let queued = engine.notify_employee(&mut tx, owner.account.tenant_id, &bob, "visit:1", &visitor_notice()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(queued, 1, "the mail only");
        engine.dispatch_due().await.unwrap();
        assert!(discord.calls().is_empty(), "Discord was not asked: {:?}", discord.calls());
    }
}
