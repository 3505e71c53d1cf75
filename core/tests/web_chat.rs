//! The built-in web chat: employees sign in by a mailed single-use link, their conversation
//! is kept, notices land in it and are updated in place, and a stream resumes exactly.

mod common;

use chrono::Duration;
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::chat::{Action, Block, Message};
use frontdesk_core::domain::people::{Lang, NotificationPreference, Platform};
use frontdesk_core::engine::conversation::Input;
use frontdesk_core::engine::web_chat::{ChatEmployee, WEB_CHAT_PAGE};
use frontdesk_core::i18n;
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::store::web_chat::Author;
use frontdesk_core::testing::TestDb;

async fn alice(f: &Fixture) -> Employee {
    let mut input = person("alice@acme.example", "Alice");
    input.language = Lang::En;
    f.engine.create_employee(&f.owner, input).await.unwrap()
}

/// Sends what is queued; the sign-in link of the last mail to `to`, if any.
async fn mailed_link(f: &Fixture, to: &str) -> Option<String> {
    f.engine.dispatch_due().await.unwrap();
    let mail = f.mailer.sent().into_iter().rev().find(|m| m.to == to)?;
    let start = mail.body.find("/chat/sign-in?token=")? + "/chat/sign-in?token=".len();
    Some(
        mail.body[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned(),
    )
}

async fn signed_in(f: &Fixture, employee: &Employee) -> ChatEmployee {
    f.engine
        .request_chat_sign_in("acme", &employee.profile.email, "192.0.2.7")
        .await
        .unwrap();
    let token = mailed_link(f, &employee.profile.email)
        .await
        .expect("a link");
    f.engine
        .sign_in_to_chat(&token, "192.0.2.7")
        .await
        .unwrap()
        .employee
}

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

storage_tests! {
    async fn a_mailed_link_signs_an_employee_in_once_and_links_their_web_identity(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = alice(&f).await;
        f.engine.request_chat_sign_in("acme", "  ALICE@acme.example ", "192.0.2.7").await.unwrap();
        let token = mailed_link(&f, "alice@acme.example").await.expect("a link is mailed");
        assert_eq!(f.mailer.sent()[0].subject, i18n::text(Lang::En, "mail.chat_sign_in.subject"));

        let sign_in = f.engine.sign_in_to_chat(&token, "192.0.2.7").await.unwrap();
        assert_eq!(sign_in.employee.employee.id, alice.id);
        assert_eq!(
            sign_in.employee.employee.profile.chat_identities.get(&Platform::Web),
            Some(&alice.id.to_string())
        );
        let session = f.engine.chat_session(&sign_in.session_token).await.unwrap().expect("a session");
        assert_eq!(session.employee.id, alice.id);
        assert!(f.engine.chat_session("not-a-token").await.unwrap().is_none());
        // The link works once.
        assert!(matches!(
            f.engine.sign_in_to_chat(&token, "192.0.2.7").await,
            Err(Error::InvalidSignInLink)
        ));
        assert_eq!(f.logged("chat.sign_in").await.len(), 1);
        assert_eq!(f.logged("chat.sign_in_request").await.len(), 1);
        // Signing out ends the session.
        f.engine.sign_out_of_chat(&sign_in.session_token).await.unwrap();
        assert!(f.engine.chat_session(&sign_in.session_token).await.unwrap().is_none());
    }

    async fn a_link_expires_after_fifteen_minutes(t: &TestDb) {
        let f = Fixture::new(t).await;
        alice(&f).await;
        f.engine.request_chat_sign_in("acme", "alice@acme.example", "192.0.2.7").await.unwrap();
        let token = mailed_link(&f, "alice@acme.example").await.unwrap();
        f.clock.advance(Duration::minutes(15));
        assert!(matches!(
            f.engine.sign_in_to_chat(&token, "192.0.2.7").await,
            Err(Error::InvalidSignInLink)
        ));
        assert!(f.logged("chat.sign_in").await.is_empty());
    }

    async fn an_unknown_address_gets_the_same_answer_and_no_mail(t: &TestDb) {
        let f = Fixture::new(t).await;
        alice(&f).await;
        for (tenant, email) in [
            ("acme", "mallory@acme.example"),
            ("nope", "alice@acme.example"),
            ("acme", "not an address"),
            ("ACME!", "alice@acme.example"),
        ] {
            f.engine.request_chat_sign_in(tenant, email, "192.0.2.7").await.unwrap();
        }
        assert_eq!(f.engine.dispatch_due().await.unwrap(), 0);
        assert!(f.mailer.sent().is_empty());
    }

    async fn links_are_mailed_at_most_once_a_minute(t: &TestDb) {
        let f = Fixture::new(t).await;
        alice(&f).await;
        for _ in 0..3 {
            f.engine.request_chat_sign_in("acme", "alice@acme.example", "192.0.2.7").await.unwrap();
        }
        f.engine.dispatch_due().await.unwrap();
        assert_eq!(f.mailer.sent().len(), 1);
        f.clock.advance(Duration::seconds(61));
        f.engine.request_chat_sign_in("acme", "alice@acme.example", "192.0.2.7").await.unwrap();
        f.engine.dispatch_due().await.unwrap();
        assert_eq!(f.mailer.sent().len(), 2);
    }

    async fn the_conversation_is_kept_and_knows_the_employee(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = alice(&f).await;
        let me = signed_in(&f, &alice).await;
        let written = f.engine.web_chat_say(&me, &Input::Text("link".into())).await.unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(written[0].author, Author::Employee);
        assert_eq!(text_of(&written[0].message), "link");
        assert_eq!(written[1].author, Author::Frontdesk);
        // The web chat user is the signed-in employee: already linked; what is left to
        // link is booking links, and Alice has none yet.
        let already = i18n::format(Lang::En, "conversation.linking.already",
            &[("name", "Alice"), ("email", "alice@acme.example")]);
        let no_links = i18n::text(Lang::En, "bot_links.none");
        assert_eq!(text_of(&written[1].message), format!("{already}\n{no_links}"));

        let answer = f.engine.web_chat_say(&me, &Input::Text("hello".into())).await.unwrap();
        let button = answer[1].message.all_buttons().next().expect("a help button").clone();
        assert_eq!(button.action, Action::Help);
        let pressed = f.engine.web_chat_say(&me, &Input::Pressed(button.action.id())).await.unwrap();
        // The press is shown as the button's label, and answered with the help.
        assert_eq!(text_of(&pressed[0].message), button.label);
        let help = text_of(&pressed[1].message);
        assert!(help.contains(&i18n::text(Lang::En, "conversation.help.title")));
        assert!(help.contains(&i18n::text(Lang::En, "conversation.help.commands_web")));
        assert!(!help.contains("link —"), "nothing to link in the web chat: {help}");

        let history = f.engine.web_chat_after(&me, None).await.unwrap();
        assert_eq!(history.len(), 6);
        assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
        // Too long a text is refused and nothing is kept.
        let long = "x".repeat(2_001);
        assert!(matches!(
            f.engine.web_chat_say(&me, &Input::Text(long)).await,
            Err(Error::Invalid { .. })
        ));
        assert_eq!(f.engine.web_chat_after(&me, None).await.unwrap().len(), 6);
    }

    async fn a_notice_reaches_the_web_chat_and_is_updated_in_place(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = alice(&f).await;
        let me = signed_in(&f, &alice).await;
        // Someone else's chat stays theirs.
        let mut bob_input = person("bob@acme.example", "Bob");
        bob_input.notification = NotificationPreference::Email;
        let bob = f.engine.create_employee(&f.owner, bob_input).await.unwrap();
        let bob_chat = signed_in(&f, &bob).await;
        let alice = me.employee.clone();
        let mut changes = f.engine.web_chat_changes();

        let mut tx = f.engine.db.write().await.unwrap();
        f.engine
            .notify_employee(&mut tx, f.tenant.id, &alice, "visit:1", &Message::text("Kenji Mori is here"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let before = f.engine.web_chat_after(&me, None).await.unwrap();
        let notice = before.last().unwrap().clone();
        assert_eq!(text_of(&notice.message), "Kenji Mori is here");
        assert_eq!(notice.author, Author::Frontdesk);

        let mut tx = f.engine.db.write().await.unwrap();
        let updated = f.engine
            .update_notice(&mut tx, f.tenant.id, "visit:1", &Message::text("Kenji Mori is here — answered"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(updated, 1);
        // A stream that saw the notice gets its new version, same message, new event.
        let after = f.engine.web_chat_after(&me, Some(notice.seq)).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].id, notice.id);
        assert!(after[0].seq > notice.seq);
        assert_eq!(text_of(&after[0].message), "Kenji Mori is here — answered");
        let history = f.engine.web_chat_after(&me, None).await.unwrap();
        assert_eq!(history.len(), before.len(), "updated in place, not added");
        assert!(f.engine.web_chat_after(&bob_chat, None).await.unwrap().is_empty());

        // The instance's streams are woken by the outbox dispatcher's round after a commit.
        changes.mark_unchanged();
        f.engine.wake_web_chat();
        assert!(changes.has_changed().unwrap());
    }

    async fn a_stream_resumes_after_an_event_with_nothing_lost_or_repeated(t: &TestDb) {
        let f = Fixture::new(t).await;
        let alice = alice(&f).await;
        let me = signed_in(&f, &alice).await;
        for i in 0..30 {
            f.engine.web_chat_say(&me, &Input::Text(format!("hello {i}"))).await.unwrap();
        }
        let latest = f.engine.web_chat_after(&me, None).await.unwrap();
        assert_eq!(latest.len() as i64, WEB_CHAT_PAGE);
        let mut seen = Vec::new();
        let mut last = 0;
        loop {
            let page = f.engine.web_chat_after(&me, Some(last)).await.unwrap();
            let Some(end) = page.last() else { break };
            last = end.seq;
            seen.extend(page.iter().map(|m| m.seq));
        }
        assert_eq!(seen, (1..=60).collect::<Vec<i64>>());
        assert_eq!(latest.last().unwrap().seq, 60);
    }
}
