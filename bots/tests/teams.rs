//! The Teams bot against a fake Bot Framework and Graph speaking their JSON: a notice is a
//! proactive 1:1 Adaptive Card updated in place, people are found by email, each failure is
//! classified the way the dispatcher needs, and the Bot Framework's tokens are checked.

use frontdesk_bots::teams::{TeamsBot, card};
use frontdesk_bots::teams_events::{Rejection, Verifier};
use frontdesk_bots::testing::FakeTeams;
use frontdesk_bots::testing::teams::{APP_ID, DIRECTORY_TENANT, Forgery, Trouble, signed_token};
use frontdesk_core::domain::chat::{Action, Button, ButtonStyle, Field, Message};
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::port::{ChatBot, ChatError, Recipient, Sent};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use serde_json::{Value, json};
use std::sync::Arc;

fn notice(lang_ja: bool) -> Message {
    let (title, label, value, button) = if lang_ja {
        ("山田様がお見えです", "受付", "本社 1F", "ヘルプ")
    } else {
        ("Ms Yamada has arrived", "Where", "Head office 1F", "Help")
    };
    Message::text(title)
        .fields(vec![Field {
            label: label.into(),
            value: value.into(),
        }])
        .buttons(vec![Button {
            action: Action::Help,
            label: button.into(),
            style: ButtonStyle::Primary,
        }])
}

fn the_card(activity: &Value) -> &Value {
    assert_eq!(
        activity["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    &activity["attachments"][0]["content"]
}

#[tokio::test]
async fn a_notice_is_a_proactive_one_to_one_card_updated_in_place() {
    let fake = FakeTeams::start(&[]).await;
    let bot = fake.bot();
    let sent = bot
        .send(&Recipient::User("aad-bob".into()), &notice(false))
        .await
        .unwrap();
    assert_eq!(sent.conversation, "a:1aad-bob");

    let created = fake.calls_to("POST", "/v3/conversations");
    assert_eq!(created.len(), 1);
    let create = &created[0].body;
    assert_eq!(create["members"], json!([{"id": "aad-bob"}]));
    assert_eq!(create["isGroup"], false);
    assert_eq!(create["tenantId"], DIRECTORY_TENANT);
    assert_eq!(create["bot"]["id"], format!("28:{APP_ID}"));

    let posted = fake.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].path, "/v3/conversations/a%3A1aad-bob/activities");
    assert!(posted[0].authorization.starts_with("Bearer bot-token-"));
    assert_eq!(posted[0].body["summary"], "Ms Yamada has arrived");
    assert_eq!(
        the_card(&posted[0].body)["body"][0]["text"],
        "Ms Yamada has arrived"
    );

    let answered = Message::text("Ms Yamada was welcomed by Bob");
    bot.update(&sent, &answered).await.unwrap();
    let updates = fake.calls_to("PUT", &format!("/activities/{}", sent.message_id));
    assert_eq!(updates.len(), 1, "{:?}", fake.calls());
    assert_eq!(
        updates[0].path,
        format!(
            "/v3/conversations/a%3A1aad-bob/activities/{}",
            sent.message_id
        )
    );
    assert_eq!(
        the_card(&updates[0].body)["body"][0]["text"],
        "Ms Yamada was welcomed by Bob"
    );
    assert_eq!(fake.posted().len(), 1, "updated, not posted again");
    let tokens = fake.calls_to("POST", "/botframework/token");
    assert_eq!(tokens.len(), 1, "the token is reused until it nears expiry");
}

#[tokio::test]
async fn the_card_shows_texts_facts_and_buttons_carrying_the_action_id_in_either_language() {
    for japanese in [false, true] {
        let message = notice(japanese);
        let card = card(&message);
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        let body = card["body"].as_array().unwrap();
        assert_eq!(body[0]["type"], "TextBlock");
        let (title, fact_title, fact_value, button) = if japanese {
            ("山田様がお見えです", "受付", "本社 1F", "ヘルプ")
        } else {
            ("Ms Yamada has arrived", "Where", "Head office 1F", "Help")
        };
        assert_eq!(body[0]["text"], title);
        assert_eq!(body[1]["type"], "FactSet");
        assert_eq!(
            body[1]["facts"],
            json!([{"title": fact_title, "value": fact_value}])
        );
        assert_eq!(body[2]["type"], "ActionSet");
        let action = &body[2]["actions"][0];
        assert_eq!(action["type"], "Action.Execute");
        assert_eq!(action["title"], button);
        assert_eq!(action["verb"], "fd1:help");
        assert_eq!(action["data"]["action"], "fd1:help");
        assert_eq!(action["fallback"]["type"], "Action.Submit");
    }
}

#[test]
fn a_visitor_named_like_markdown_is_shown_as_typed() {
    let message =
        Message::text("[urgent](https://evil.example) **VIP** has arrived").fields(vec![Field {
            label: "Name".into(),
            value: "_Yamada_".into(),
        }]);
    let card = card(&message);
    assert_eq!(
        card["body"][0]["text"],
        r"\[urgent\](https://evil.example) \*\*VIP\*\* has arrived"
    );
    assert_eq!(card["body"][1]["facts"][0]["value"], r"\_Yamada\_");
}

#[tokio::test]
async fn people_are_found_by_email_and_their_email_read_through_graph() {
    let fake = FakeTeams::start(&[("aad-bob", "bob@acme.example")]).await;
    let bot = fake.bot();
    assert_eq!(
        bot.find_user_by_email("bob@acme.example").await.unwrap(),
        Some("aad-bob".into())
    );
    assert_eq!(
        bot.find_user_by_email("nobody@acme.example").await.unwrap(),
        None
    );
    assert_eq!(
        bot.user_email("aad-bob").await.unwrap(),
        Some("bob@acme.example".into())
    );
    assert_eq!(bot.user_email("aad-gone").await.unwrap(), None);
    let lookups = fake.calls_to("GET", "");
    assert!(
        lookups
            .iter()
            .all(|c| c.authorization.starts_with("Bearer graph-token-"))
    );
    let graph_tokens = fake.calls_to("POST", "/directory/token");
    assert_eq!(graph_tokens.len(), 1);
    assert_eq!(
        graph_tokens[0].body["scope"],
        "https://graph.microsoft.com/.default"
    );
}

#[tokio::test]
async fn each_failure_is_classified_as_the_dispatcher_needs() {
    let fake = FakeTeams::start(&[]).await;
    let bot = fake.bot();
    let to = Recipient::Channel("19:general@thread.tacv2".into());
    let message = Message::text("hello");

    fake.trouble([Trouble::RateLimited { retry_after: 7 }]);
    assert_eq!(
        bot.send(&to, &message).await,
        Err(ChatError::RateLimited {
            retry_after_secs: 7
        })
    );
    fake.trouble([Trouble::ServerError]);
    assert!(matches!(
        bot.send(&to, &message).await,
        Err(ChatError::Temporary(_))
    ));
    fake.trouble([Trouble::Forbidden]);
    assert!(matches!(
        bot.send(&to, &message).await,
        Err(ChatError::Permanent(_))
    ));
    let gone = Sent {
        conversation: "19:general@thread.tacv2".into(),
        message_id: "missing".into(),
    };
    fake.trouble([Trouble::Forbidden]);
    assert!(matches!(
        bot.update(&gone, &message).await,
        Err(ChatError::Permanent(_))
    ));

    // A token revoked early: renewed once, then the call goes through.
    let before = fake.calls_to("POST", "/botframework/token").len();
    fake.trouble([Trouble::Unauthorized]);
    assert!(bot.send(&to, &message).await.is_ok());
    assert_eq!(
        fake.calls_to("POST", "/botframework/token").len(),
        before + 1
    );
    // Refused again with a fresh token: permanent.
    fake.trouble([Trouble::Unauthorized, Trouble::Unauthorized]);
    assert!(matches!(
        bot.send(&to, &message).await,
        Err(ChatError::Permanent(_))
    ));

    // A wrong app password is permanent; Teams unreachable is temporary.
    let mut settings = fake.settings();
    settings.app_password = "wrong".into();
    assert!(matches!(
        TeamsBot::new(settings).send(&to, &message).await,
        Err(ChatError::Permanent(_))
    ));
    let mut settings = fake.settings();
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    settings.service_url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    assert!(matches!(
        TeamsBot::new(settings).send(&to, &message).await,
        Err(ChatError::Temporary(_))
    ));
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_unavailability_not_a_forged_token() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let openid = format!("http://{}/openid", closed.local_addr().unwrap());
    drop(closed);
    let verifier = Verifier::new(APP_ID, &openid);
    let now = 1_764_115_200;
    let token = format!(
        "Bearer {}",
        signed_token("https://smba.trafficmanager.net/apac/", now, Forgery::None)
    );
    for at in [now, now + 1] {
        assert!(matches!(
            verifier.verify(Some(&token), at).await,
            Err(Rejection::KeysUnavailable(_))
        ));
    }
}

#[tokio::test]
async fn only_the_bot_frameworks_tokens_for_this_bot_are_accepted() {
    let fake = FakeTeams::start(&[]).await;
    let verifier = Verifier::new(APP_ID, &fake.openid_url());
    let now = 1_764_115_200;
    let service = fake.service_url();
    let header = |forgery| fake.authorization(&service, now, forgery);

    let verified = verifier
        .verify(Some(&header(Forgery::None)), now)
        .await
        .unwrap();
    assert_eq!(verified.covers(&service, "msteams"), Ok(()));
    assert_eq!(
        verified.covers("https://smba.trafficmanager.net/emea/", "msteams"),
        Err(Rejection::ServiceUrl)
    );
    // Within the 5 minute leeway, and beyond it.
    assert!(
        verifier
            .verify(Some(&header(Forgery::None)), now + 3540 + 299)
            .await
            .is_ok()
    );
    assert_eq!(
        verifier
            .verify(Some(&header(Forgery::None)), now + 3540 + 301)
            .await
            .err(),
        Some(Rejection::Time)
    );

    let refused = [
        (Forgery::WrongAudience, Rejection::Audience),
        (Forgery::WrongIssuer, Rejection::Issuer),
        (Forgery::Expired, Rejection::Time),
        (Forgery::AlgNone, Rejection::Algorithm),
        (Forgery::Hs256, Rejection::Algorithm),
        (Forgery::Tampered, Rejection::Signature),
    ];
    for (forgery, why) in refused {
        assert_eq!(
            verifier.verify(Some(&header(forgery)), now).await.err(),
            Some(why),
            "{forgery:?}"
        );
    }
    let mismatch = verifier
        .verify(Some(&header(Forgery::ServiceUrlMismatch)), now)
        .await
        .unwrap();
    assert_eq!(
        mismatch.covers(&service, "msteams"),
        Err(Rejection::ServiceUrl)
    );
    let webchat_key = verifier
        .verify(Some(&header(Forgery::MissingEndorsement)), now)
        .await
        .unwrap();
    assert_eq!(
        webchat_key.covers(&service, "msteams"),
        Err(Rejection::Endorsement)
    );
    assert_eq!(
        verifier.verify(None, now).await.err(),
        Some(Rejection::Missing)
    );
    assert_eq!(
        verifier.verify(Some("Bearer not.a-jwt"), now).await.err(),
        Some(Rejection::Malformed)
    );

    // An unknown key refetches the key set once; a flood of them within the minute does not.
    let fetched = fake.key_fetches();
    assert_eq!(fetched, 1, "the keys are cached");
    let unknown = signed_token(&service, now + 120, Forgery::UnknownKey);
    for _ in 0..5 {
        assert_eq!(
            verifier
                .verify(Some(&format!("Bearer {unknown}")), now + 120)
                .await
                .err(),
            Some(Rejection::UnknownKey)
        );
    }
    assert_eq!(fake.key_fetches(), 2, "one refetch for the unknown key");
}

storage_tests! {
    async fn a_notice_survives_teams_trouble_and_arrives_once_to_the_person_found_by_email(t: &TestDb) {
        let fake = FakeTeams::start(&[("aad-bob", "bob@acme.example")]).await;
        let test = TestEngine::with_chat(t, Arc::new(fake.bot()));
        let engine = test.engine.clone();
        let (tenant, owner) = acme_owner(&engine).await;
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
        let bob = engine.create_employee(&owner, bob).await.unwrap();
        let mut tx = engine.db.write().await.unwrap();
        engine.notify_employee(&mut tx, tenant.id, &bob, "visit:1", &notice(false)).await.unwrap();
        tx.commit().await.unwrap();

        // 500, then 429 (Retry-After 5 s), then it goes through.
        fake.trouble([Trouble::ServerError, Trouble::RateLimited { retry_after: 5 }]);
        for _ in 0..4 {
            engine.dispatch_due().await.unwrap();
            test.clock.advance(chrono::Duration::seconds(10));
        }
        let posted = fake.posted();
        assert_eq!(posted.len(), 1, "delivered once: {:?}", fake.calls());
        assert_eq!(posted[0].path, "/v3/conversations/a%3A1aad-bob/activities");
        assert_eq!(posted[0].body["summary"], "Ms Yamada has arrived");
        let bob = engine.employee(&owner, bob.id).await.unwrap();
        assert_eq!(bob.profile.chat_identities.get(&Platform::Teams).map(String::as_str), Some("aad-bob"), "linked for next time");
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "nothing left to send");
    }
}
