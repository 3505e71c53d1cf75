//! Notices to employees: queued with the change, sent on each platform that reaches them (a
//! Slack user found by email the first time and linked), mail when asked for or when no chat
//! reaches them, updated in place, and retried as the platform asks.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use common::{Fixture, person, settings};
use frontdesk_core::domain::chat::{Field, Message};
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::Engine;
use frontdesk_core::port::{ChatBots, ChatError, Ports, Recipient};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{RecordingBot, TestDb};

/// The fixture's engine with `bot` as its only chat platform (none: no chat at all).
fn with_bot(f: &Fixture, bot: Option<Arc<RecordingBot>>) -> Engine {
    let chat = match bot {
        Some(bot) => ChatBots::default().with(bot),
        None => ChatBots::default(),
    };
    let ports = Ports {
        chat,
        ..f.engine.ports.clone()
    };
    Engine::new(f.engine.db.clone(), ports, settings())
}

fn visitor_arrived() -> Message {
    Message::text("Your visitor has arrived").fields(vec![Field {
        label: "Visitor".into(),
        value: "Kenji Mori (Globex)".into(),
    }])
}

async fn employee(
    f: &Fixture,
    email: &str,
    slack: Option<&str>,
    pref: NotificationPreference,
) -> Employee {
    let mut input = person(email, "Alice");
    input.notification = pref;
    if let Some(id) = slack {
        input.chat_identities = BTreeMap::from([(Platform::Slack, id.to_owned())]);
    }
    f.engine.create_employee(&f.owner, input).await.unwrap()
}

async fn notify(engine: &Engine, f: &Fixture, employee: &Employee, notice: &str) -> usize {
    let mut tx = engine.db.write().await.unwrap();
    let queued = engine
        .notify_employee(&mut tx, f.tenant.id, employee, notice, &visitor_arrived())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    queued
}

async fn update(engine: &Engine, f: &Fixture, notice: &str, message: &Message) {
    let mut tx = engine.db.write().await.unwrap();
    engine
        .update_notice(&mut tx, f.tenant.id, notice, message)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

storage_tests! {
    async fn a_linked_employee_hears_on_slack_and_the_notice_is_updated_in_place(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let engine = with_bot(&f, Some(bot.clone()));
        let alice = employee(&f, "alice@acme.example", Some("U1"), NotificationPreference::Chat).await;
        assert_eq!(notify(&engine, &f, &alice, "visit:1").await, 1);
        assert!(bot.sent().is_empty(), "nothing is sent inside the transaction");
        engine.dispatch_due().await.unwrap();
        let sent = bot.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, Recipient::User("U1".into()));
        assert_eq!(sent[0].1, visitor_arrived());
        assert!(f.mailer.sent().is_empty(), "chat was enough for Alice");

        let answered = Message::text("Alice is on her way");
        update(&engine, &f, "visit:1", &answered).await;
        engine.dispatch_due().await.unwrap();
        let updated = bot.updated();
        assert_eq!(updated.len(), 1);
        assert_eq!((updated[0].0.conversation.as_str(), updated[0].0.message_id.as_str()), ("D-U1", "m1"));
        assert_eq!(updated[0].1, answered);
    }

    async fn a_notice_and_its_quick_updates_sent_together_end_with_the_last_word(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let engine = with_bot(&f, Some(bot.clone()));
        let alice = employee(&f, "alice@acme.example", Some("U1"), NotificationPreference::Chat).await;
        // Other people's notices around it, so the batch has more to send at once.
        for n in 0..5 {
            let other = employee(&f, &format!("p{n}@acme.example"), Some(&format!("UP{n}")), NotificationPreference::Chat).await;
            notify(&engine, &f, &other, &format!("visit:other-{n}")).await;
        }
        notify(&engine, &f, &alice, "visit:1").await;
        let coming = Message::text("Alice is on her way");
        let left = Message::text("The visitor has left");
        update(&engine, &f, "visit:1", &coming).await;
        update(&engine, &f, "visit:1", &left).await;

        assert_eq!(engine.dispatch_due().await.unwrap(), 8, "all in one go, no retry needed");
        assert_eq!(bot.sent().len(), 6);
        let updated: Vec<Message> = bot.updated().into_iter().map(|(_, message)| message).collect();
        assert_eq!(updated, vec![coming, left], "each update after the message it updates, in order");
        assert_eq!(engine.dispatch_due().await.unwrap(), 0);
    }

    async fn an_unlinked_employee_is_found_on_slack_by_email_and_linked(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack).knowing("U7", "bob@acme.example"));
        let engine = with_bot(&f, Some(bot.clone()));
        let bob = employee(&f, "bob@acme.example", None, NotificationPreference::Chat).await;
        notify(&engine, &f, &bob, "visit:2").await;
        engine.dispatch_due().await.unwrap();
        assert_eq!(bot.sent()[0].0, Recipient::User("U7".into()));
        let stored = f.engine.employee(&f.owner, bob.id).await.unwrap();
        assert_eq!(stored.profile.chat_identities.get(&Platform::Slack).map(String::as_str), Some("U7"));
        let logged = f.logged("chat.link").await;
        assert_eq!((logged.len(), logged[0].actor.as_str()), (1, "system"));

        // Someone not on Slack is skipped there, not retried or dead-lettered.
        let carol = employee(&f, "carol@acme.example", None, NotificationPreference::Chat).await;
        notify(&engine, &f, &carol, "visit:3").await;
        engine.dispatch_due().await.unwrap();
        assert_eq!(bot.sent().len(), 1);
        assert!(engine.undeliverable(&f.owner).await.unwrap().is_empty());
    }

    async fn mail_goes_when_asked_for_or_when_no_chat_reaches_the_employee(t: &TestDb) {
        let f = Fixture::new(t).await;
        let no_chat = with_bot(&f, None);
        let dave = employee(&f, "dave@acme.example", None, NotificationPreference::Chat).await;
        assert_eq!(notify(&no_chat, &f, &dave, "visit:4").await, 1);
        no_chat.dispatch_due().await.unwrap();
        let mails = f.mailer.sent();
        assert_eq!((mails.len(), mails[0].to.as_str()), (1, "dave@acme.example"));
        assert_eq!(mails[0].subject, "Your visitor has arrived");
        assert!(mails[0].body.contains("Visitor: Kenji Mori (Globex)"), "{}", mails[0].body);

        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let slack = with_bot(&f, Some(bot.clone()));
        let erin = employee(&f, "erin@acme.example", Some("U9"), NotificationPreference::ChatAndEmail).await;
        assert_eq!(notify(&slack, &f, &erin, "visit:5").await, 2);
        slack.dispatch_due().await.unwrap();
        assert_eq!(bot.sent().len(), 1);
        assert_eq!(f.mailer.sent().len(), 2);
    }

    async fn a_rate_limited_platform_is_retried_when_it_says_and_an_update_waits_for_its_message(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let engine = with_bot(&f, Some(bot.clone()));
        let alice = employee(&f, "alice@acme.example", Some("U1"), NotificationPreference::Chat).await;
        bot.fail_next([ChatError::RateLimited { retry_after_secs: 30 }]);
        notify(&engine, &f, &alice, "visit:6").await;
        update(&engine, &f, "visit:6", &Message::text("answered")).await;
        engine.dispatch_due().await.unwrap();
        assert!(bot.sent().is_empty() && bot.updated().is_empty(), "neither went yet");

        f.clock.advance(Duration::seconds(29));
        engine.dispatch_due().await.unwrap();
        assert!(bot.sent().is_empty(), "not before the platform's Retry-After");
        f.clock.advance(Duration::minutes(2));
        engine.dispatch_due().await.unwrap();
        assert_eq!(bot.sent().len(), 1, "sent once the wait was over");
        assert_eq!(bot.updated().len(), 1, "and the update followed its message");
        assert!(engine.undeliverable(&f.owner).await.unwrap().is_empty());
    }

    async fn a_permanent_failure_is_dead_lettered_where_admins_see_it(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let engine = with_bot(&f, Some(bot.clone()));
        let alice = employee(&f, "alice@acme.example", Some("U1"), NotificationPreference::Chat).await;
        bot.fail_next([ChatError::Permanent("account_inactive".into())]);
        notify(&engine, &f, &alice, "visit:7").await;
        engine.dispatch_due().await.unwrap();
        let dead = engine.undeliverable(&f.owner).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].channel.as_str(), dead[0].to.as_str()), ("chat", "slack: U1"));
        assert_eq!(dead[0].subject, "Your visitor has arrived");
        assert!(dead[0].reason.contains("account_inactive"), "{:?}", dead[0]);
        engine.dispatch_due().await.unwrap();
        let mails = f.mailer.sent();
        assert_eq!(mails.len(), 1, "Slack gave up, so the notice goes by mail instead");
        assert_eq!((mails[0].to.as_str(), mails[0].subject.as_str()), ("alice@acme.example", "Your visitor has arrived"));
    }

    async fn someone_not_on_slack_gets_the_notice_by_mail(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack).knowing("U7", "bob@acme.example"));
        let engine = with_bot(&f, Some(bot.clone()));
        let frank = employee(&f, "frank@acme.example", None, NotificationPreference::Chat).await;
        assert_eq!(notify(&engine, &f, &frank, "visit:8").await, 1, "Slack is tried first");
        engine.dispatch_due().await.unwrap();
        assert!(bot.sent().is_empty());
        let mails = f.mailer.sent();
        assert_eq!((mails.len(), mails[0].to.as_str()), (1, "frank@acme.example"), "not on Slack: by mail");
        assert_eq!(engine.dispatch_due().await.unwrap(), 0);
        assert!(engine.undeliverable(&f.owner).await.unwrap().is_empty(), "not a failure");
    }

    async fn a_notice_delivered_on_slack_sends_no_fallback_mail(t: &TestDb) {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let engine = with_bot(&f, Some(bot.clone()));
        let alice = employee(&f, "alice@acme.example", Some("U1"), NotificationPreference::Chat).await;
        bot.fail_next([ChatError::Temporary("connection reset".into())]);
        notify(&engine, &f, &alice, "visit:9").await;
        engine.dispatch_due().await.unwrap();
        f.clock.advance(Duration::minutes(1));
        engine.dispatch_due().await.unwrap();
        assert_eq!(bot.sent().len(), 1, "delivered on the second try");
        assert!(f.mailer.sent().is_empty(), "and so no mail");
    }
}
