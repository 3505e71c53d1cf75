//! Reception: a visitor checks in at a paired kiosk (with a reception code, by picking the
//! host, or by a category); the host hears at once with three buttons; pressing one sets the
//! visit's status, updates the notice in place and reaches the kiosk; nobody answering
//! reaches the fallback contact; codes are valid on their day only and guessing them is
//! throttled; entrance terms are accepted once per validity period; visitors still on site
//! are reminded to their hosts and checked out at the end of the day.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::chat::{Action, Block, ButtonStyle, Message};
use frontdesk_core::domain::people::{Lang, Platform, Role};
use frontdesk_core::domain::visit::{
    Category, Contact, HostAnswer, ReceptionSettings, Terms, VisitStatus,
};
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::engine::expected_visit::ExpectedVisitInput;
use frontdesk_core::engine::reception::{CheckIn, Kiosk, MAX_CODE_ATTEMPTS};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::port::{ChatBots, Ports, Recipient};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{RecordingBot, TestDb};

/// A fixture with Slack, the location `hq` (Tokyo) with a paired kiosk, and employees
/// Alice (Slack U1, the host), Bob (U2) and Carol (U3, reception's contact).
struct Desk {
    f: Fixture,
    engine: Engine,
    bot: Arc<RecordingBot>,
    kiosk: Kiosk,
    alice: Employee,
    bob: Employee,
}

impl Desk {
    async fn new(t: &TestDb) -> Desk {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let ports = Ports {
            chat: ChatBots::default().with(bot.clone()),
            ..f.engine.ports.clone()
        };
        let engine = Engine::new(f.engine.db.clone(), ports, common::settings());
        engine
            .create_location(
                &f.owner,
                LocationInput {
                    slug: "hq".into(),
                    name: "本社".into(),
                    time_zone: "Asia/Tokyo".into(),
                },
            )
            .await
            .unwrap();
        let mut employees = Vec::new();
        for (email, name, kana, slack) in [
            ("alice@acme.example", "佐藤 ありす", "さとう ありす", "U1"),
            ("bob@acme.example", "田中 ぼぶ", "たなか ぼぶ", "U2"),
            (
                "carol@acme.example",
                "鈴木 キャロル",
                "すずき きゃろる",
                "U3",
            ),
        ] {
            let mut input = person(email, name);
            input.name_kana = kana.into();
            input.language = if slack == "U1" { Lang::En } else { Lang::Ja };
            input.chat_identities = BTreeMap::from([(Platform::Slack, slack.to_owned())]);
            employees.push(engine.create_employee(&f.owner, input).await.unwrap());
        }
        let (_, code) = engine.add_kiosk(&f.owner, "hq", "Lobby").await.unwrap();
        let (kiosk, _token) = engine.pair_kiosk("hq", &code).await.unwrap();
        let mut employees = employees.into_iter();
        Desk {
            engine,
            bot,
            kiosk,
            alice: employees.next().unwrap(),
            bob: employees.next().unwrap(),
            f,
        }
    }

    /// Replaces hq's reception settings and reloads the kiosk.
    async fn settings(&mut self, settings: ReceptionSettings) {
        self.engine
            .set_reception_settings(&self.f.owner, "hq", settings)
            .await
            .unwrap();
        self.kiosk = self.reload_kiosk().await;
    }

    async fn reload_kiosk(&self) -> Kiosk {
        // The paired kiosk, as the next request would resolve it.
        let (_, code) = self
            .engine
            .add_kiosk(&self.f.owner, "hq", "Reloaded")
            .await
            .unwrap();
        self.engine.pair_kiosk("hq", &code).await.unwrap().0
    }

    /// Expects `name` for Alice on `day` (YYYY-MM-DD); the code.
    async fn expect(&self, name: &str, day: &str) -> String {
        let input = ExpectedVisitInput {
            location: "hq".into(),
            host: "alice@acme.example".into(),
            visitor_name: name.into(),
            visitor_company: "Globex".into(),
            visitor_email: Some("kenji@globex.example".into()),
            day: day.into(),
            time: Some("14:00".into()),
            purpose: Some("Quarterly review".into()),
        };
        self.engine
            .add_expected_visit(&self.f.owner, &input)
            .await
            .unwrap()
            .code
    }

    async fn by_code(
        &self,
        code: &str,
    ) -> Result<frontdesk_core::engine::reception::CheckedIn, Error> {
        let input = CheckIn {
            reception_code: Some(code.into()),
            ..CheckIn::default()
        };
        self.engine
            .check_in(&self.kiosk, "192.0.2.50", input, None)
            .await
    }

    async fn for_alice(
        &self,
        name: &str,
        email: Option<&str>,
        accept: Option<i64>,
    ) -> Result<frontdesk_core::engine::reception::CheckedIn, Error> {
        let input = CheckIn {
            host: Some(serde_json::json!("alice@acme.example")),
            visitor_name: Some(name.into()),
            visitor_company: Some("Globex".into()),
            visitor_email: email.map(Into::into),
            accept_terms: accept,
            ..CheckIn::default()
        };
        self.engine
            .check_in(&self.kiosk, "192.0.2.50", input, None)
            .await
    }

    /// `user` presses the button of `action` in Slack.
    async fn press(&self, user: &str, action: Action) -> Message {
        let who = ChatUser {
            tenant_id: self.f.tenant.id,
            platform: Platform::Slack,
            user_id: user.into(),
            locale: None,
        };
        self.engine
            .converse(&who, &Input::Pressed(action.id()))
            .await
            .unwrap()
    }
}

/// The answer buttons of a notice, as (answer, style).
fn answers(message: &Message) -> Vec<(HostAnswer, ButtonStyle)> {
    message
        .all_buttons()
        .filter_map(|b| match b.action {
            Action::AnswerVisit { answer, .. } => Some((answer, b.style)),
            _ => None,
        })
        .collect()
}

fn visit_of(message: &Message) -> i64 {
    message
        .all_buttons()
        .find_map(|b| match b.action {
            Action::AnswerVisit { visit, .. } | Action::CheckOutVisit { visit } => Some(visit),
            _ => None,
        })
        .expect("a visit button")
}

fn text_of(message: &Message) -> String {
    message
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text { text } => text.clone(),
            Block::Fields { fields } => fields
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const TODAY: &str = "2026-11-25";
const TOMORROW: &str = "2026-11-26";

storage_tests! {
    async fn a_reception_code_checks_in_and_the_hosts_answer_reaches_the_kiosk(t: &TestDb) {
        let desk = Desk::new(t).await;
        let code = desk.expect("Kenji Mori", TODAY).await;
        desk.engine.dispatch_due().await.unwrap();
        let mails = desk.f.mailer.sent();
        assert!(mails.iter().any(|m| m.to == "kenji@globex.example" && m.body.contains(&code)),
            "the visitor is mailed the code");

        let checked_in = desk.by_code(&format!(" {} {} ", &code[..3], &code[3..])).await.unwrap();
        let visit = checked_in.visit;
        assert_eq!(visit.status, VisitStatus::Waiting);
        assert_eq!(visit.host_name.as_deref(), Some("佐藤 ありす"));
        assert_eq!(visit.visitor_name, "Kenji Mori", "the code brings the announced name");
        assert!(desk.bot.sent().is_empty(), "the notice goes through the outbox");

        desk.engine.dispatch_due().await.unwrap();
        let sent = desk.bot.sent();
        assert_eq!(sent.len(), 1, "{sent:?}");
        let (to, notice) = &sent[0];
        assert_eq!(to, &Recipient::User("U1".into()));
        let text = text_of(notice);
        assert!(text.contains("Kenji Mori") && text.contains("Globex") && text.contains("Quarterly review"), "{text}");
        assert_eq!(
            answers(notice),
            vec![
                (HostAnswer::Coming, ButtonStyle::Primary),
                (HostAnswer::Delayed(5), ButtonStyle::Default),
                (HostAnswer::Unavailable, ButtonStyle::Danger),
            ]
        );

        let reply = desk.press("U1", Action::AnswerVisit { visit: visit_of(notice), answer: HostAnswer::Delayed(5) }).await;
        assert!(reply.summary.contains("5"), "{reply:?}");
        let seen = desk.engine.kiosk_visit(&desk.kiosk, &visit.public_id).await.unwrap();
        assert_eq!((seen.status, seen.delay_minutes), (VisitStatus::HostDelayed, Some(5)));

        desk.engine.dispatch_due().await.unwrap();
        let updated = desk.bot.updated();
        assert_eq!(updated.len(), 1, "the notice is updated in place");
        let text = text_of(&updated[0].1);
        assert!(text.contains("please wait 5 minutes"), "{text}");
        assert!(answers(&updated[0].1).is_empty(), "answered: no answer buttons any more");
        assert!(updated[0].1.all_buttons().any(|b| matches!(b.action, Action::CheckOutVisit { .. })));

        // The code opened the expected visit: it is marked arrived.
        let expected = desk.engine.expected_visits(&desk.f.owner, chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).await.unwrap();
        assert_eq!(expected[0].status, "arrived");
    }

    async fn wrong_and_other_days_codes_are_refused_and_guessing_is_throttled(t: &TestDb) {
        let desk = Desk::new(t).await;
        let today = desk.expect("Aiko Ueda", TODAY).await;
        let tomorrow = desk.expect("Kenji Mori", TOMORROW).await;
        assert!(matches!(desk.by_code(&tomorrow).await, Err(Error::WrongReceptionCode)),
            "a code works on its day only");
        assert!(matches!(desk.by_code("12345").await, Err(Error::WrongReceptionCode)));
        let wrong = ["000000", "000001", "000002"]
            .into_iter()
            .find(|c| *c != today && *c != tomorrow)
            .unwrap();
        for _ in 2..MAX_CODE_ATTEMPTS {
            assert!(matches!(desk.by_code(wrong).await, Err(Error::WrongReceptionCode)));
        }
        match desk.by_code(&today).await {
            Err(Error::Throttled { retry_after_secs }) => {
                assert!(retry_after_secs > 0 && retry_after_secs <= 15 * 60, "{retry_after_secs}")
            }
            other => panic!("a kiosk that guessed is throttled, even for a right code: {other:?}"),
        }
        desk.f.clock.advance(Duration::minutes(16));
        assert!(desk.by_code(&today).await.is_ok(), "the window passes");
        desk.f.clock.advance(Duration::days(1));
        assert!(desk.by_code(&tomorrow).await.is_ok(), "tomorrow's code works tomorrow");
        assert!(matches!(desk.by_code(&today).await, Err(Error::WrongReceptionCode)),
            "yesterday's code no longer does");
    }

    async fn the_same_idempotency_key_records_one_visit(t: &TestDb) {
        let desk = Desk::new(t).await;
        let input = || CheckIn {
            host: Some(serde_json::json!(desk.alice.id)),
            visitor_name: Some("Kenji Mori".into()),
            ..CheckIn::default()
        };
        let first = desk.engine.check_in(&desk.kiosk, "192.0.2.50", input(), Some("k-1")).await.unwrap();
        let again = desk.engine.check_in(&desk.kiosk, "192.0.2.50", input(), Some("k-1")).await.unwrap();
        assert!(first.created && !again.created);
        assert_eq!(first.visit.public_id, again.visit.public_id);
        let on_site = desk.engine.on_site(&desk.f.owner, None).await.unwrap();
        assert_eq!(on_site.len(), 1);
        desk.engine.dispatch_due().await.unwrap();
        assert_eq!(desk.bot.sent().len(), 1, "one notice");
    }

    async fn entrance_terms_are_accepted_once_per_validity_period(t: &TestDb) {
        let mut desk = Desk::new(t).await;
        let terms = |version| Terms {
            version,
            text_ja: "機密を守ります。".into(),
            text_en: "I keep what I see confidential.".into(),
            validity_days: 30,
        };
        desk.settings(ReceptionSettings { terms: Some(terms(1)), ..Default::default() }).await;
        match desk.for_alice("Kenji Mori", Some("kenji@globex.example"), None).await {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "accept_terms"),
            other => panic!("terms must be accepted first, got {other:?}"),
        }
        desk.for_alice("Kenji Mori", Some("kenji@globex.example"), Some(1)).await.unwrap();
        desk.for_alice("Kenji Mori", Some("KENJI@globex.example"), None).await
            .expect("a returning visitor is not asked again");
        assert!(desk.for_alice("Aiko Ueda", Some("aiko@globex.example"), None).await.is_err(),
            "another visitor is asked");
        desk.f.clock.advance(Duration::days(31));
        assert!(desk.for_alice("Kenji Mori", Some("kenji@globex.example"), None).await.is_err(),
            "the acceptance lapsed");
        desk.for_alice("Kenji Mori", Some("kenji@globex.example"), Some(1)).await.unwrap();
        desk.settings(ReceptionSettings { terms: Some(terms(2)), ..Default::default() }).await;
        assert!(desk.for_alice("Kenji Mori", Some("kenji@globex.example"), None).await.is_err(),
            "new terms are accepted anew");
        assert!(desk.for_alice("Kenji Mori", Some("kenji@globex.example"), Some(1)).await.is_err(),
            "accepting an old version does not count");
    }

    async fn only_the_host_or_the_reception_contact_may_answer(t: &TestDb) {
        let mut desk = Desk::new(t).await;
        desk.settings(ReceptionSettings {
            fallback: Some(Contact::Employee("carol@acme.example".into())),
            ..Default::default()
        }).await;
        let visit = desk.for_alice("Kenji Mori", None, None).await.unwrap().visit;
        let answer = |answer| Action::AnswerVisit { visit: visit.id, answer };
        let reply = desk.press("U2", answer(HostAnswer::Coming)).await;
        assert!(reply.summary.contains("訪問先の担当者"), "Bob (Japanese) is told no: {reply:?}");
        let seen = desk.engine.kiosk_visit(&desk.kiosk, &visit.public_id).await.unwrap();
        assert_eq!(seen.status, VisitStatus::Waiting);
        let reply = desk.press("U9", answer(HostAnswer::Coming)).await;
        assert!(reply.all_buttons().any(|b| b.action == Action::Link), "an unlinked user is asked to link: {reply:?}");
        desk.press("U3", answer(HostAnswer::Unavailable)).await;
        let seen = desk.engine.kiosk_visit(&desk.kiosk, &visit.public_id).await.unwrap();
        assert_eq!(seen.status, VisitStatus::HostUnavailable, "the fallback contact may answer");
        let _ = &desk.bob;
    }

    async fn an_unanswered_visit_reaches_the_fallback_contact_once(t: &TestDb) {
        let mut desk = Desk::new(t).await;
        desk.settings(ReceptionSettings {
            fallback: Some(Contact::Employee("carol@acme.example".into())),
            answer_timeout_seconds: 120,
            ..Default::default()
        }).await;
        let waiting = desk.for_alice("Kenji Mori", None, None).await.unwrap().visit;
        let answered = desk.for_alice("Aiko Ueda", None, None).await.unwrap().visit;
        desk.press("U1", Action::AnswerVisit { visit: answered.id, answer: HostAnswer::Coming }).await;
        desk.f.clock.advance(Duration::seconds(119));
        assert_eq!(desk.engine.send_due_fallbacks().await.unwrap(), 0, "not before the timeout");
        desk.f.clock.advance(Duration::seconds(1));
        assert_eq!(desk.engine.send_due_fallbacks().await.unwrap(), 1, "only the unanswered visit");
        assert_eq!(desk.engine.send_due_fallbacks().await.unwrap(), 0, "once");
        desk.engine.dispatch_due().await.unwrap();
        let to_carol: Vec<_> = desk.bot.sent().into_iter().filter(|(to, _)| to == &Recipient::User("U3".into())).collect();
        assert_eq!(to_carol.len(), 1, "{to_carol:?}");
        assert!(to_carol[0].1.summary.contains("応答がありません"), "{:?}", to_carol[0].1);
        assert_eq!(visit_of(&to_carol[0].1), waiting.id);
        assert_eq!(answers(&to_carol[0].1).len(), 3, "Carol can answer for Alice");
    }

    async fn a_category_notifies_its_contact_and_an_unknown_one_is_refused(t: &TestDb) {
        let mut desk = Desk::new(t).await;
        desk.settings(ReceptionSettings {
            categories: [(Category::Delivery, Contact::Employee("bob@acme.example".into()))].into(),
            ..Default::default()
        }).await;
        let input = |category| CheckIn {
            category: Some(category),
            visitor_name: Some("Yamato Transport".into()),
            ..CheckIn::default()
        };
        let visit = desk.engine.check_in(&desk.kiosk, "192.0.2.50", input(Category::Delivery), None).await.unwrap().visit;
        assert_eq!((visit.category, visit.host_name), (Some(Category::Delivery), None));
        assert!(matches!(
            desk.engine.check_in(&desk.kiosk, "192.0.2.50", input(Category::Interview), None).await,
            Err(Error::Invalid { .. })
        ));
        desk.engine.dispatch_due().await.unwrap();
        let sent = desk.bot.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, Recipient::User("U2".into()));
        assert!(text_of(&sent[0].1).contains("配達"), "{:?}", sent[0].1);
    }

    async fn visitors_still_on_site_are_reminded_then_checked_out_at_day_end(t: &TestDb) {
        let desk = Desk::new(t).await;
        // 09:00 in Tokyo. Reminders at 18:00, check-out at 23:30 (the defaults).
        let visit = desk.for_alice("Kenji Mori", None, None).await.unwrap().visit;
        desk.f.clock.advance(Duration::hours(8) + Duration::minutes(59));
        assert_eq!(desk.engine.run_reception_day().await.unwrap().reminded, 0, "17:59: not yet");
        desk.f.clock.advance(Duration::minutes(1));
        assert_eq!(desk.engine.run_reception_day().await.unwrap().reminded, 1, "18:00");
        assert_eq!(desk.engine.run_reception_day().await.unwrap().reminded, 0, "once");
        desk.engine.dispatch_due().await.unwrap();
        // The arrival notice and the reminder go out side by side, in either order: the
        // reminder is the one with the check-out button.
        let check_out = Action::CheckOutVisit { visit: visit.id };
        let sent = desk.bot.sent();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent.iter().filter(|(_, m)| m.all_buttons().any(|b| b.action == check_out)).count(), 1, "{sent:?}");
        desk.f.clock.advance(Duration::hours(5) + Duration::minutes(30));
        let pass = desk.engine.run_reception_day().await.unwrap();
        assert_eq!(pass.checked_out, 1, "23:30");
        let seen = desk.engine.kiosk_visit(&desk.kiosk, &visit.public_id).await.unwrap();
        assert_eq!(seen.status, VisitStatus::CheckedOut);
        assert!(desk.engine.on_site(&desk.f.owner, Some("hq")).await.unwrap().is_empty());
    }

    async fn the_host_checks_a_visitor_out_from_chat_and_the_notice_says_so(t: &TestDb) {
        let desk = Desk::new(t).await;
        let visit = desk.for_alice("Kenji Mori", None, None).await.unwrap().visit;
        desk.engine.dispatch_due().await.unwrap();
        let reply = desk.press("U1", Action::CheckOutVisit { visit: visit.id }).await;
        assert!(reply.summary.contains("Kenji Mori"), "{reply:?}");
        let again = desk.press("U1", Action::CheckOutVisit { visit: visit.id }).await;
        assert!(again.summary.contains("already"), "{again:?}");
        desk.engine.dispatch_due().await.unwrap();
        let updated = desk.bot.updated();
        assert!(text_of(&updated.last().unwrap().1).contains("Checked out at"), "{updated:?}");
    }

    async fn pairing_codes_work_once_and_a_revoked_kiosk_stops(t: &TestDb) {
        let desk = Desk::new(t).await;
        let (device, code) = desk.engine.add_kiosk(&desk.f.owner, "hq", "Door").await.unwrap();
        let receptionist: Actor = desk.f.account("desk@acme.example", Role::Receptionist, false).await;
        assert!(matches!(desk.engine.add_kiosk(&receptionist, "hq", "X").await, Err(Error::Forbidden)));
        assert!(matches!(desk.engine.pair_kiosk("elsewhere", &code).await, Err(Error::WrongPairingCode)),
            "a code pairs its own location only");
        let (_, token) = desk.engine.pair_kiosk("hq", &code.to_lowercase()).await.unwrap();
        assert!(matches!(desk.engine.pair_kiosk("hq", &code).await, Err(Error::WrongPairingCode)), "once");
        assert!(desk.engine.kiosk("hq", Some(&token)).await.is_ok());
        assert!(matches!(desk.engine.kiosk("hq", None).await, Err(Error::DeviceNotPaired)),
            "outside the demo an unpaired browser is no kiosk");
        desk.engine.revoke_kiosk(&desk.f.owner, device.id).await.unwrap();
        assert!(matches!(desk.engine.kiosk("hq", Some(&token)).await, Err(Error::DeviceNotPaired)));
        assert_eq!(desk.f.logged("device.revoke").await.len(), 1);
        let (_, late) = desk.engine.add_kiosk(&desk.f.owner, "hq", "Late").await.unwrap();
        desk.f.clock.advance(Duration::hours(25));
        assert!(matches!(desk.engine.pair_kiosk("hq", &late).await, Err(Error::WrongPairingCode)), "expired");
    }

    async fn hosts_are_found_by_kanji_kana_and_romaji(t: &TestDb) {
        let desk = Desk::new(t).await;
        for query in ["佐藤", "さとう", "サトウ", "sato", "Satou", "alice@"] {
            let found = desk.engine.kiosk_hosts(&desk.kiosk, query).await.unwrap();
            let names: Vec<_> = found.iter().map(|e| e.profile.name.as_str()).collect();
            assert_eq!(names, vec!["佐藤 ありす"], "{query}");
        }
        assert!(desk.engine.kiosk_hosts(&desk.kiosk, "").await.unwrap().is_empty());
        let found = desk.engine.kiosk_hosts(&desk.kiosk, "suzuki").await.unwrap();
        assert_eq!(found[0].profile.email, "carol@acme.example");
    }

    async fn a_host_expects_a_visitor_in_chat_and_gets_the_code(t: &TestDb) {
        let desk = Desk::new(t).await;
        let who = ChatUser { tenant_id: desk.f.tenant.id, platform: Platform::Slack, user_id: "U1".into(), locale: None };
        let say = |text: &str| Input::Text(text.to_owned());
        let reply = desk.engine.converse(&who, &say("visitor Kenji Mori, Globex tomorrow 14:00 kenji@globex.example")).await.unwrap();
        let code: String = reply.summary.split("code: ").nth(1).expect("a code in the reply").chars().take(6).collect();
        assert!(reply.summary.contains("2026-11-26 14:00") && reply.summary.contains("mailed"), "{reply:?}");
        assert!(matches!(desk.by_code(&code).await, Err(Error::WrongReceptionCode)), "tomorrow's");
        desk.f.clock.advance(Duration::days(1));
        let visit = desk.by_code(&code).await.unwrap().visit;
        assert_eq!((visit.visitor_name.as_str(), visit.visitor_company.as_str()), ("Kenji Mori", "Globex"));
        assert_eq!(visit.host_name.as_deref(), Some("佐藤 ありす"));
        desk.engine.dispatch_due().await.unwrap();
        assert!(desk.f.mailer.sent().iter().any(|m| m.to == "kenji@globex.example" && m.body.contains(&code)));
        let bob = ChatUser { user_id: "U2".into(), ..who.clone() };
        let reply = desk.engine.converse(&bob, &say("来客 明日")).await.unwrap();
        assert!(reply.summary.contains("来客 氏名"), "usage in Japanese: {reply:?}");
        let reply = desk.engine.converse(&bob, &say("来客 山田太郎、エグザンプル @osaka")).await.unwrap();
        assert!(reply.summary.contains("osaka") && reply.summary.contains("hq"), "{reply:?}");
        assert_eq!(desk.f.logged("expected_visit.create").await.len(), 1);
    }

    async fn visitor_data_is_sealed_at_rest(t: &TestDb) {
        let desk = Desk::new(t).await;
        desk.expect("Hanako Kuroda", TODAY).await;
        desk.for_alice("Kenji Moriyama", Some("moriyama@globex.example"), None).await.unwrap();
        for needle in ["Hanako Kuroda", "Kenji Moriyama", "moriyama@globex", "Quarterly review"] {
            assert_eq!(t.tables_containing(needle).await, Vec::<String>::new(), "{needle}");
        }
    }

    async fn the_demo_code_checks_in_taro_yamada_for_alice(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mut settings = common::settings();
        settings.demo = true;
        let engine = Engine::new(f.engine.db.clone(), f.engine.ports.clone(), settings);
        engine.seed_demo().await.unwrap();
        engine.seed_demo().await.unwrap();
        let kiosk = engine.kiosk("hq", None).await.expect("the demo kiosk needs no pairing");
        let input = CheckIn { reception_code: Some("246810".into()), ..CheckIn::default() };
        let visit = engine.check_in(&kiosk, "192.0.2.9", input, None).await.unwrap().visit;
        assert!(visit.visitor_name.contains("Taro Yamada"), "{visit:?}");
        assert!(visit.host_name.as_deref().is_some_and(|n| n.contains("Alice")), "{visit:?}");
        assert!(kiosk.settings.badge_printing);
    }
}
