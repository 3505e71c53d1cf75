//! The conversation every chat surface shares: help in the person's language, linking a chat
//! account by the email the platform verified, and clear answers to anything else.

mod common;

use std::sync::Arc;

use common::{Fixture, person, settings};
use frontdesk_core::domain::chat::{Action, Block, Message};
use frontdesk_core::domain::people::{Lang, Platform};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::i18n;
use frontdesk_core::port::{ChatBots, Ports};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{RecordingBot, TestDb};

/// The fixture's engine with a Slack bot that knows `users` (user id, verified email).
fn with_slack(f: &Fixture, users: &[(&str, &str)]) -> Engine {
    let bot = users
        .iter()
        .fold(RecordingBot::new(Platform::Slack), |bot, (user, email)| {
            bot.knowing(user, email)
        });
    let ports = Ports {
        chat: ChatBots::default().with(Arc::new(bot)),
        ..f.engine.ports.clone()
    };
    Engine::new(f.engine.db.clone(), ports, settings())
}

fn slack_user(f: &Fixture, user_id: &str) -> ChatUser {
    ChatUser {
        tenant_id: f.tenant.id,
        platform: Platform::Slack,
        user_id: user_id.into(),
        locale: Some(Lang::En),
    }
}

/// Every paragraph of `message`, joined.
fn text_of(message: &Message) -> String {
    message
        .blocks
        .iter()
        .filter_map(|block| match block {
            Block::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn actions_of(message: &Message) -> Vec<Action> {
    message.all_buttons().map(|button| button.action).collect()
}

fn said(message: &Message, lang: Lang, key: &str) -> bool {
    text_of(message).contains(&i18n::text(lang, key))
}

storage_tests! {
    async fn help_answers_in_the_language_typed_and_offers_to_link(t: &TestDb) {
        let f = Fixture::new(t).await;
        let engine = with_slack(&f, &[]);
        let who = slack_user(&f, "U1");
        let english = engine.converse(&who, &Input::Text("help".into())).await.unwrap();
        assert!(said(&english, Lang::En, "conversation.help.commands"), "{english:?}");
        assert!(said(&english, Lang::En, "conversation.help.not_linked"));
        assert_eq!(actions_of(&english), [Action::Link]);
        let japanese = engine.converse(&who, &Input::Text("ヘルプ".into())).await.unwrap();
        assert!(said(&japanese, Lang::Ja, "conversation.help.commands"), "{japanese:?}");
        assert!(text_of(&japanese).contains("連携"));
        // A bare mention is a request for help too.
        let mention = engine.converse(&who, &Input::Text("<@UBOT>".into())).await.unwrap();
        assert_eq!(mention, english);
    }

    async fn pressing_link_links_the_employee_with_the_verified_email(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mut alice = person("alice@acme.example", "佐藤 ありす");
        alice.language = Lang::Ja;
        let alice = f.engine.create_employee(&f.owner, alice).await.unwrap();
        let engine = with_slack(&f, &[("U1", "Alice@Acme.example")]);
        let who = slack_user(&f, "U1");

        let help = engine.converse(&who, &Input::Text("help".into())).await.unwrap();
        let link = help.all_buttons().next().unwrap().action.id();
        let linked = engine.converse(&who, &Input::Pressed(link)).await.unwrap();
        assert!(
            text_of(&linked).contains("連携しました") && text_of(&linked).contains("佐藤 ありす"),
            "answered in Alice's own language: {linked:?}"
        );
        let stored = f.engine.employee(&f.owner, alice.id).await.unwrap();
        assert_eq!(stored.profile.chat_identities.get(&Platform::Slack).map(String::as_str), Some("U1"));
        let logged = f.logged("chat.link").await;
        assert_eq!(logged.len(), 1);
        assert_eq!((logged[0].actor.as_str(), logged[0].target.as_str()), ("slack:U1", &*format!("employee:{}", alice.id)));

        // From now on Alice is known, whatever language she types in.
        let again = engine.converse(&who, &Input::Text("help".into())).await.unwrap();
        assert!(text_of(&again).contains("佐藤 ありす さんとして連携済み"), "{again:?}");
        assert!(actions_of(&again).is_empty(), "no link button once linked");
        let twice = engine.converse(&who, &Input::Text("link".into())).await.unwrap();
        assert!(text_of(&twice).contains("連携済み"), "{twice:?}");
        assert_eq!(f.logged("chat.link").await.len(), 1, "linking again changes nothing");
    }

    async fn linking_without_a_usable_email_says_why_and_writes_nothing(t: &TestDb) {
        let f = Fixture::new(t).await;
        let engine = with_slack(&f, &[("U2", "stranger@elsewhere.example"), ("U3", "not an address")]);
        let stranger = engine.converse(&slack_user(&f, "U2"), &Input::Text("link".into())).await.unwrap();
        assert!(text_of(&stranger).contains("stranger@elsewhere.example"), "{stranger:?}");
        assert!(text_of(&stranger).starts_with("No employee in the directory"), "{stranger:?}");
        for who in [slack_user(&f, "U3"), slack_user(&f, "U-unknown-to-slack")] {
            let answer = engine.converse(&who, &Input::Text("link".into())).await.unwrap();
            assert!(said(&answer, Lang::En, "conversation.linking.no_email"), "{answer:?}");
        }
        // A platform with no bot configured (Discord here) cannot say who the user is.
        let discord = ChatUser { platform: Platform::Discord, ..slack_user(&f, "80351110224678912") };
        let answer = engine.converse(&discord, &Input::Text("連携".into())).await.unwrap();
        assert!(said(&answer, Lang::Ja, "conversation.linking.no_email"), "{answer:?}");
        assert!(f.logged("chat.link").await.is_empty());
    }

    async fn anything_else_is_answered_with_what_went_wrong_and_a_way_on(t: &TestDb) {
        let f = Fixture::new(t).await;
        let engine = with_slack(&f, &[]);
        let who = slack_user(&f, "U1");
        let unknown = engine.converse(&who, &Input::Text("teleport me".into())).await.unwrap();
        assert!(text_of(&unknown).contains("“teleport”"), "{unknown:?}");
        assert_eq!(actions_of(&unknown), [Action::Help]);
        for id in ["fd1:delete_everything", "fd9:help", ""] {
            let stale = engine.converse(&who, &Input::Pressed(id.into())).await.unwrap();
            assert!(said(&stale, Lang::En, "conversation.unknown_button"), "{id:?}: {stale:?}");
        }
    }

    async fn a_link_in_one_tenant_means_nothing_in_another(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine.create_employee(&f.owner, person("alice@acme.example", "Alice")).await.unwrap();
        let engine = with_slack(&f, &[("U1", "alice@acme.example")]);
        engine.converse(&slack_user(&f, "U1"), &Input::Text("link".into())).await.unwrap();
        let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
        let elsewhere = ChatUser { tenant_id: globex.id, ..slack_user(&f, "U1") };
        let answer = engine.converse(&elsewhere, &Input::Text("help".into())).await.unwrap();
        assert!(said(&answer, Lang::En, "conversation.help.not_linked"), "{answer:?}");
        let link = engine.converse(&elsewhere, &Input::Text("link".into())).await.unwrap();
        assert!(text_of(&link).starts_with("No employee in the directory"), "{link:?}");
    }
}
