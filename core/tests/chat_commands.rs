//! Chat commands for reception and scheduling: `visitors` lists my visitors today (with a
//! check-out button for those on site), `invite` expects one; `links` (and `link`, once
//! linked) shows my booking links; `book @bob kenji@globex.example 30m tomorrow` (or
//! `来週 30分 @bob`) offers the times everyone is free, and one press books it: every
//! colleague held (never twice), their calendars written, outside guests invited by mail
//! with an ICS, the colleagues told in chat.
//!
//! The clock starts on Wednesday 2026-11-25 at 09:00 in Tokyo (00:00 UTC).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone};
use common::{Fixture, person};
use frontdesk_core::domain::booking::LinkRules;
use frontdesk_core::domain::calendar::Owner;
use frontdesk_core::domain::chat::{Action, Block, Message};
use frontdesk_core::domain::people::{Lang, Platform};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::booking::LinkInput;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::engine::reception::{CheckIn, Kiosk};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::port::{ChatBots, Ports, Recipient};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{RecordingBot, TestDb};

/// Slack, the location `hq` (Tokyo) with a paired kiosk, and Alice (U1, English), Bob (U2,
/// Japanese) and Carol (U3, Japanese), all in Tokyo.
struct Office {
    f: Fixture,
    engine: Engine,
    bot: Arc<RecordingBot>,
    kiosk: Kiosk,
    alice: Employee,
    bob: Employee,
    carol: Employee,
}

impl Office {
    async fn new(t: &TestDb) -> Office {
        let f = Fixture::new(t).await;
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let ports = Ports {
            chat: ChatBots::default().with(bot.clone()),
            ..f.engine.ports.clone()
        };
        let engine = Engine::new(f.engine.db.clone(), ports, common::settings());
        let location = LocationInput {
            slug: "hq".into(),
            name: "本社".into(),
            time_zone: "Asia/Tokyo".into(),
        };
        engine.create_location(&f.owner, location).await.unwrap();
        let mut made = Vec::new();
        for (email, name, slack, lang) in [
            ("alice@acme.example", "Alice Sato", "U1", Lang::En),
            ("bob@acme.example", "Bob Tanaka", "U2", Lang::Ja),
            ("carol@acme.example", "Carol Suzuki", "U3", Lang::Ja),
        ] {
            let mut input = person(email, name);
            input.language = lang;
            input.chat_identities = BTreeMap::from([(Platform::Slack, slack.to_owned())]);
            made.push(engine.create_employee(&f.owner, input).await.unwrap());
        }
        let (_, code) = engine.add_kiosk(&f.owner, "hq", "Lobby").await.unwrap();
        let (kiosk, _) = engine.pair_kiosk("hq", &code).await.unwrap();
        let mut made = made.into_iter();
        Office {
            engine,
            bot,
            kiosk,
            alice: made.next().unwrap(),
            bob: made.next().unwrap(),
            carol: made.next().unwrap(),
            f,
        }
    }

    fn user(&self, slack: &str) -> ChatUser {
        ChatUser {
            tenant_id: self.f.tenant.id,
            platform: Platform::Slack,
            user_id: slack.into(),
            locale: None,
        }
    }

    /// `slack` types `text`.
    async fn say(&self, slack: &str, text: &str) -> Message {
        self.engine
            .converse(&self.user(slack), &Input::Text(text.into()))
            .await
            .unwrap()
    }

    /// `slack` presses the button of `action`.
    async fn press(&self, slack: &str, action: Action) -> Message {
        self.engine
            .converse(&self.user(slack), &Input::Pressed(action.id()))
            .await
            .unwrap()
    }

    /// `employee` is in a meeting in their built-in calendar on `day` from `from` to `to`
    /// (Tokyo).
    async fn busy(&self, employee: &Employee, day: &str, from: &str, to: &str) {
        self.engine
            .add_calendar_event(
                &self.f.owner,
                Owner::Employee(employee.id),
                tokyo(day, from),
                tokyo(day, to),
                "Busy",
            )
            .await
            .unwrap();
    }

    /// A visitor walks in for Alice at the kiosk; the visit's id.
    async fn walk_in(&self, name: &str) -> i64 {
        let input = CheckIn {
            host: Some(serde_json::json!("alice@acme.example")),
            visitor_name: Some(name.into()),
            visitor_company: Some("Initech".into()),
            ..CheckIn::default()
        };
        self.engine
            .check_in(&self.kiosk, "192.0.2.50", input, None)
            .await
            .unwrap()
            .visit
            .id
    }
}

/// The instant (epoch seconds) of `HH:MM` on `day` in Tokyo.
fn tokyo(day: &str, time: &str) -> i64 {
    let zone: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let day: NaiveDate = day.parse().unwrap();
    let time = chrono::NaiveTime::parse_from_str(time, "%H:%M").unwrap();
    zone.from_local_datetime(&day.and_time(time))
        .single()
        .unwrap()
        .timestamp()
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

/// The slot buttons of an offer: (action, label, start).
fn slots_of(message: &Message) -> Vec<(Action, String, i64)> {
    message
        .all_buttons()
        .filter_map(|b| match b.action {
            Action::Book { start, .. } => Some((b.action, b.label.clone(), start)),
            _ => None,
        })
        .collect()
}

/// The labels of an offer's buttons.
fn labels(message: &Message) -> Vec<String> {
    slots_of(message).into_iter().map(|(_, l, _)| l).collect()
}

const TOMORROW: &str = "2026-11-26";

storage_tests! {
    async fn visitors_lists_my_expected_and_on_site_visitors_with_a_check_out_button(t: &TestDb) {
        let o = Office::new(t).await;
        // `invite` expects a visitor exactly like `visitor`: the answer is the code to send.
        let invited = o.say("U1", "invite Kenji Mori, Globex today 14:00").await;
        let text = text_of(&invited);
        assert!(text.contains("Kenji Mori is expected on 2026-11-25 14:00 at 本社"), "{text}");
        let code = text.split("Reception code: ").nth(1).unwrap()[..6].to_owned();
        assert!(code.chars().all(|c| c.is_ascii_digit()), "{text}");
        let japanese = o.say("U1", "招待 山田太郎、エグザンプル 明日").await;
        assert!(text_of(&japanese).contains("山田太郎 is expected on 2026-11-26"), "{japanese:?}");
        o.say("U2", "visitor Someone Else, Hooli today").await;
        let walk_in = o.walk_in("Yumi Ito").await;

        let listed = o.say("U1", "visitors").await;
        let text = text_of(&listed);
        assert!(text.starts_with("Your visitors today (2026-11-25):"), "{text}");
        assert!(text.contains(&format!("14:00 Kenji Mori (Globex) — 本社 (reception code {code})")), "{text}");
        assert!(text.contains("Yumi Ito (Initech) — 本社, since 09:00"), "{text}");
        assert!(!text.contains("山田太郎"), "tomorrow's visitor is not today's: {text}");
        assert!(!text.contains("Someone Else"), "Bob's visitor is not mine: {text}");
        let buttons: Vec<_> = listed.all_buttons().collect();
        assert_eq!(buttons.len(), 1, "one check-out button, for the one on site: {buttons:?}");
        assert_eq!(buttons[0].action, Action::CheckOutVisit { visit: walk_in });
        assert_eq!(buttons[0].label, "Check out Yumi Ito");

        let pressed = o.press("U1", buttons[0].action).await;
        assert!(text_of(&pressed).contains("Yumi Ito"), "{pressed:?}");
        let again = text_of(&o.say("U1", "<@UBOT> visitors").await);
        assert!(!again.contains("Yumi Ito") && again.contains("Kenji Mori"), "{again}");

        // Bob asks in Japanese and has his own visitor only.
        let bob = text_of(&o.say("U2", "来客").await);
        assert!(bob.starts_with("本日（2026-11-25）のあなたの来客:"), "{bob}");
        assert!(bob.contains("Someone Else (Hooli)") && bob.contains("時間指定なし"), "{bob}");
        // Carol has none; someone not linked is asked to link first.
        assert!(text_of(&o.say("U3", "来客").await).contains("在館中の来客もいません"));
        assert!(o.say("U9", "visitors").await.all_buttons().any(|b| b.action == Action::Link));
    }

    async fn links_shows_my_booking_links_or_how_to_get_one(t: &TestDb) {
        let o = Office::new(t).await;
        let none = text_of(&o.say("U1", "links").await);
        assert!(none.contains("POST /api/v1/booking-links"), "{none}");
        // `link` once linked: already linked, and here are the links.
        let link = text_of(&o.say("U1", "link").await);
        assert!(link.contains("already linked to Alice Sato") && link.contains("no booking link yet"), "{link}");

        for (slug, active) in [("alice", true), ("alice-old", false)] {
            let rules: LinkRules = serde_json::from_value(serde_json::json!({
                "time_zone": "Asia/Tokyo",
                "durations_minutes": [30, 60],
                "weekly": {"mon": [["09:00", "18:00"]]},
                "place": {"kind": "phone"}
            }))
            .unwrap();
            let input = LinkInput {
                slug: slug.into(),
                title: format!("Chat with Alice ({slug})"),
                kind: "one_on_one".into(),
                hosts: vec![],
                owner: Some("alice@acme.example".into()),
                rules,
                single_use: false,
                active,
            };
            o.engine.create_booking_link(&o.f.owner, input).await.unwrap();
        }
        let links = text_of(&o.say("U1", "link").await);
        assert!(links.contains("Chat with Alice (alice) — http://127.0.0.1:8080/b/alice — 30 / 60 min — taking bookings"), "{links}");
        assert!(links.contains("/b/alice-old — 30 / 60 min — switched off"), "{links}");
        assert_eq!(text_of(&o.say("U1", "links").await), links.split_once('\n').unwrap().1);
        // Bob, in Japanese, has none of Alice's.
        let bob = text_of(&o.say("U2", "予約リンク").await);
        assert!(bob.starts_with("予約リンクはまだありません"), "{bob}");
    }

    async fn book_offers_the_soonest_times_everyone_is_free(t: &TestDb) {
        let o = Office::new(t).await;
        o.busy(&o.bob, TOMORROW, "09:00", "12:00").await;
        o.busy(&o.carol, TOMORROW, "12:00", "13:00").await;
        o.busy(&o.alice, TOMORROW, "13:00", "13:30").await;
        let offer = o.say("U1", "book @bob @carol 30m tomorrow").await;
        assert!(text_of(&offer).starts_with("Free for you and Bob Tanaka, Carol Suzuki (30 min)"), "{offer:?}");
        assert_eq!(labels(&offer), ["Thu 11/26 13:30", "Thu 11/26 14:00", "Thu 11/26 14:30", "Thu 11/26 15:00", "Thu 11/26 15:30"]);

        // By email, with an outside guest, 45 minutes: the guest is not asked, only invited.
        let offer = o.say("U1", "book bob@acme.example kenji@globex.example 45m tomorrow").await;
        assert_eq!(labels(&offer), ["Thu 11/26 12:00", "Thu 11/26 13:30", "Thu 11/26 14:00", "Thu 11/26 14:30", "Thu 11/26 15:00"]);
        assert!(text_of(&offer).starts_with("Free for you and Bob Tanaka (45 min)"), "the guest's time is not asked: {offer:?}");
        assert!(text_of(&offer).contains("invitation by mail: kenji@globex.example"), "{offer:?}");
        let alone = o.say("U1", "book kenji@globex.example 30m tomorrow").await;
        assert!(text_of(&alone).starts_with("You are free then (30 min)."), "{alone:?}");
        assert_eq!(labels(&alone)[0], "Thu 11/26 09:00");

        // Today: nothing before now (09:00 has passed by 10 minutes), nothing after 18:00.
        o.f.clock.advance(Duration::minutes(10));
        let today = o.say("U1", "book 1h with bob today").await;
        let starts: Vec<i64> = slots_of(&today).iter().map(|s| s.2).collect();
        assert_eq!(starts.first(), Some(&tokyo("2026-11-25", "09:30")), "{today:?}");
        // This week from Thursday: Friday after Thursday, never the weekend.
        o.busy(&o.bob, TOMORROW, "12:00", "18:00").await;
        o.busy(&o.bob, "2026-11-25", "09:00", "18:00").await;
        let week = o.say("U1", "book @bob 8h this week").await;
        assert_eq!(labels(&week), ["Fri 11/27 09:00", "Fri 11/27 09:30", "Fri 11/27 10:00"]);
        let none = o.say("U1", "book @bob 30m 2026-11-28").await;
        assert!(text_of(&none).contains("no common free 30 minutes"), "a Saturday: {none:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 0, "offers book nothing");
    }

    async fn one_press_books_holds_everyone_writes_calendars_and_invites_the_guest(t: &TestDb) {
        let o = Office::new(t).await;
        let offer = o.say("U1", "book @bob kenji@globex.example 30m tomorrow").await;
        let slots = slots_of(&offer);
        assert_eq!(slots[0].1, "Thu 11/26 09:00");
        let booked = text_of(&o.press("U1", slots[0].0).await);
        assert!(booked.starts_with("Booked: Meeting with Alice Sato, 2026-11-26 (Thu) 09:00–09:30 Asia/Tokyo, with Bob Tanaka, kenji@globex.example."), "{booked}");
        assert!(booked.contains("Invitations were mailed to kenji@globex.example"), "{booked}");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings WHERE link_id IS NULL").await, 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 2, "Alice and Bob are held");
        for who in [&o.alice, &o.bob] {
            let busy = o.engine.busy(o.f.tenant.id, Owner::Employee(who.id), slots[0].2, slots[0].2 + 1800).await.unwrap();
            assert_eq!(busy.intervals.len(), 1, "in {}'s calendar", who.profile.name);
        }

        // Pressing again, or another time of the same offer, books nothing more.
        for again in [slots[0].0, slots[1].0] {
            let answer = text_of(&o.press("U1", again).await);
            assert!(answer.contains("already booked: 2026-11-26 (Thu) 09:00–09:30"), "{answer}");
        }
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 2);
        // The held time is offered to nobody any more.
        let next = o.say("U3", "予約 @bob 明日 30分").await;
        assert_eq!(labels(&next).first().map(String::as_str), Some("11/26(木) 09:30"), "{next:?}");

        o.engine.dispatch_due().await.unwrap();
        let mails = o.f.mailer.sent();
        let mail = mails.iter().find(|m| m.to == "kenji@globex.example").expect("the guest's invitation");
        assert!(mail.subject.contains("Invitation: Meeting with Alice Sato"), "{}", mail.subject);
        assert!(mail.body.contains("Alice Sato invites you") && mail.body.contains("2026-11-26 (Thu) 09:00–09:30 Asia/Tokyo"), "{}", mail.body);
        let ics = String::from_utf8(mail.attachments[0].bytes.clone()).unwrap();
        assert!(ics.contains("METHOD:REQUEST") && ics.contains("SUMMARY:Meeting with Alice Sato"), "{ics}");
        assert!(ics.contains("DTSTART:20261126T000000Z"), "{ics}");
        assert_eq!(mails.iter().filter(|m| m.to.ends_with("@acme.example")).count(), 0, "colleagues are told in chat");
        let sent = o.bot.sent();
        assert_eq!(sent.len(), 1, "Bob is told, Alice has her answer: {sent:?}");
        assert_eq!(sent[0].0, Recipient::User("U2".into()));
        assert!(text_of(&sent[0].1).contains("Alice Sato さんが打ち合わせを予約しました"), "{:?}", sent[0].1);
        assert!(text_of(&sent[0].1).contains("2026-11-26 (木) 09:00–09:30"), "{:?}", sent[0].1);
    }

    async fn the_requester_cancels_a_chat_meeting_and_everyone_is_free_and_told(t: &TestDb) {
        let o = Office::new(t).await;
        let slots = slots_of(&o.say("U1", "book @bob kenji@globex.example 30m tomorrow").await);
        let booked = o.press("U1", slots[0].0).await;
        let cancel = booked
            .all_buttons()
            .find(|b| matches!(b.action, Action::CancelMeeting { .. }))
            .map(|b| b.action)
            .expect("the booked answer has a Cancel button");
        // Bob may not cancel Alice's meeting.
        assert!(text_of(&o.press("U2", cancel).await).contains("予約した人だけ"));
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 2);

        let answer = text_of(&o.press("U1", cancel).await);
        assert!(answer.starts_with("Cancelled the meeting on 2026-11-26 (Thu) 09:00–09:30"), "{answer}");
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 0, "everyone's time is free");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings WHERE status = 'cancelled'").await, 1);
        for who in [&o.alice, &o.bob] {
            let busy = o.engine.busy(o.f.tenant.id, Owner::Employee(who.id), slots[0].2, slots[0].2 + 1800).await.unwrap();
            assert_eq!(busy.intervals, vec![], "gone from {}'s calendar", who.profile.name);
        }
        // The time is offered again; a second press cancels nothing.
        let again = o.say("U3", "book @bob 30m tomorrow").await;
        assert_eq!(slots_of(&again)[0].2, slots[0].2);
        assert!(text_of(&o.press("U1", cancel).await).contains("nothing to cancel"));

        o.engine.dispatch_due().await.unwrap();
        let to_guest: Vec<_> = o.f.mailer.sent().into_iter().filter(|m| m.to == "kenji@globex.example").collect();
        assert_eq!(to_guest.len(), 2, "the invitation and its cancellation");
        let cancellation = to_guest.iter().find(|m| m.subject.starts_with("Cancelled:")).expect("a cancellation");
        let ics = String::from_utf8(cancellation.attachments[0].bytes.clone()).unwrap();
        assert!(ics.contains("METHOD:CANCEL") && ics.contains("SEQUENCE:1"), "{ics}");
        let invitation = to_guest.iter().find(|m| m.subject.starts_with("Invitation:")).unwrap();
        let uid = |ics: &str| ics.lines().find(|l| l.starts_with("UID:")).map(str::to_owned);
        assert_eq!(uid(&ics), uid(&String::from_utf8(invitation.attachments[0].bytes.clone()).unwrap()), "the same event");
        let told: Vec<_> = o.bot.sent().into_iter().filter(|(to, m)| *to == Recipient::User("U2".into()) && text_of(m).contains("キャンセル")).collect();
        assert_eq!(told.len(), 1, "Bob is told");
    }

    async fn a_time_taken_meanwhile_is_answered_with_fresh_ones_and_never_booked_twice(t: &TestDb) {
        let o = Office::new(t).await;
        let alices = slots_of(&o.say("U1", "book @bob 30m tomorrow").await);
        let carols = slots_of(&o.say("U3", "予約 @bob 明日 30分").await);
        assert_eq!((alices[0].2, carols[0].2), (tokyo(TOMORROW, "09:00"), tokyo(TOMORROW, "09:00")));
        assert!(text_of(&o.press("U3", carols[0].0).await).starts_with("予約しました"));
        let taken = o.press("U1", alices[0].0).await;
        assert!(text_of(&taken).starts_with("That time was just taken."), "{taken:?}");
        assert_eq!(labels(&taken).first().map(String::as_str), Some("Thu 11/26 09:30"), "fresh times: {taken:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 2, "Bob held once, with Carol");
        let fresh = slots_of(&taken);
        assert!(text_of(&o.press("U1", fresh[0].0).await).starts_with("Booked:"));
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 4);

        // Both press 10:00 with Bob at the same instant: one meeting.
        let alices = slots_of(&o.say("U1", "book @bob 30m tomorrow").await);
        let carols = slots_of(&o.say("U3", "予約 @bob 明日 30分").await);
        let ten = tokyo(TOMORROW, "10:00");
        let pick = |slots: &[(Action, String, i64)]| slots.iter().find(|s| s.2 == ten).unwrap().0;
        let (a, c) = tokio::join!(o.press("U1", pick(&alices)), o.press("U3", pick(&carols)));
        let booked = [text_of(&a).starts_with("Booked:"), text_of(&c).starts_with("予約しました")];
        assert_eq!(booked.iter().filter(|b| **b).count(), 1, "{a:?} {c:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 6);

        // Two times of one offer pressed at the same instant: one meeting, not two.
        let offer = slots_of(&o.say("U1", "book kenji@globex.example 30m tomorrow").await);
        let (first, second) = tokio::join!(o.press("U1", offer[0].0), o.press("U1", offer[1].0));
        let booked = [&first, &second].iter().filter(|m| text_of(m).starts_with("Booked:")).count();
        assert_eq!(booked, 1, "{first:?} {second:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 7);
    }

    async fn only_the_requester_may_press_and_altered_or_late_presses_book_nothing(t: &TestDb) {
        let o = Office::new(t).await;
        let offer = slots_of(&o.say("U1", "book @bob 30m tomorrow").await);
        let refused = text_of(&o.press("U2", offer[0].0).await);
        assert_eq!(refused, "このボタンで予約できるのは依頼した Alice Sato さんだけです。");
        assert!(o.press("U9", offer[0].0).await.all_buttons().any(|b| b.action == Action::Link), "not linked");
        // A start off the offer's grid (an altered id) is not booked; fresh times are offered.
        let Action::Book { proposal, start } = offer[0].0 else { unreachable!() };
        let altered = o.press("U1", Action::Book { proposal, start: start + 600 }).await;
        assert!(text_of(&altered).starts_with("That time was just taken."), "{altered:?}");
        let unknown = o.press("U1", Action::Book { proposal: proposal ^ 1, start }).await;
        assert_eq!(text_of(&unknown), "This offer no longer exists. Ask again.");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 0);
        // After the days asked for, the offer has expired.
        o.f.clock.advance(Duration::days(2));
        assert_eq!(text_of(&o.press("U1", offer[0].0).await), "This offer has expired. Ask again.");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 0);
        // A week after, housekeeping forgets it.
        o.engine.housekeeping().await.unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_proposals").await, 1);
        o.f.clock.advance(Duration::days(7));
        o.engine.housekeeping().await.unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_proposals").await, 0);
        assert_eq!(text_of(&o.press("U1", offer[0].0).await), "This offer no longer exists. Ask again.");
    }

    async fn japanese_phrasing_books_in_japanese(t: &TestDb) {
        let o = Office::new(t).await;
        let offer = o.say("U2", "来週 30分 @alice").await;
        assert!(text_of(&offer).starts_with("あなたと Alice Sato の空き時間（30 分）です。"), "{offer:?}");
        assert_eq!(labels(&offer)[0], "11/30(月) 09:00");
        let offer = o.say("U2", "予約 @carol 明日 1時間").await;
        assert_eq!(labels(&offer)[..2], ["11/26(木) 09:00", "11/26(木) 09:30"]);
        let booked = text_of(&o.press("U2", slots_of(&offer)[1].0).await);
        assert!(booked.starts_with("予約しました: Bob Tanaka さんとの打ち合わせ、2026-11-26 (木) 09:30–10:30 Asia/Tokyo、参加者 Carol Suzuki。"), "{booked}");
        // Carol's notice is in Japanese too.
        o.engine.dispatch_due().await.unwrap();
        let sent = o.bot.sent();
        assert_eq!(sent.len(), 1);
        assert!(text_of(&sent[0].1).contains("Bob Tanaka さんが打ち合わせを予約しました"), "{:?}", sent[0].1);
    }

    async fn a_bad_request_says_what_was_not_understood(t: &TestDb) {
        let o = Office::new(t).await;
        let cases = [
            ("U1", "book @bob tomorow", "I did not understand “tomorow”"),
            ("U1", "book @dave 30m", "I did not understand “dave”"),
            ("U1", "book 30m tomorrow", "Whom should I book with?"),
            ("U1", "book @bob 600m", "not 600 minutes"),
            ("U1", "book @bob 2026-11-01", "in the past"),
            ("U1", "book <@U99>", "has not linked this chat"),
            ("U2", "予約 @alice 2026-11-01", "過去"),
            ("U2", "来週 30分 @だれか", "「だれか」が分かりませんでした"),
        ];
        for (user, text, expected) in cases {
            let answer = text_of(&o.say(user, text).await);
            assert!(answer.contains(expected), "{text:?}: {answer}");
            let usage = if user == "U1" { "To book a meeting, write:" } else { "打ち合わせを予約するには" };
            assert!(answer.contains(usage), "{text:?} says how to ask: {answer}");
        }
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_proposals").await, 0);
        // Two people answer to "sato": their emails are asked for.
        let mut input = person("sato@acme.example", "Ken Sato");
        input.language = Lang::En;
        o.engine.create_employee(&o.f.owner, input).await.unwrap();
        let answer = text_of(&o.say("U1", "book @sato").await);
        assert!(answer.contains("“sato” could be") && answer.contains("Alice Sato <alice@acme.example>") && answer.contains("Ken Sato <sato@acme.example>"), "{answer}");
    }

    async fn guests_emails_are_sealed_at_rest(t: &TestDb) {
        let o = Office::new(t).await;
        let offer = slots_of(&o.say("U1", "book @bob kenji.mori@globex.example 30m tomorrow").await);
        assert_eq!(t.tables_containing("kenji.mori@globex").await, Vec::<String>::new());
        assert!(text_of(&o.press("U1", offer[0].0).await).contains("kenji.mori@globex.example"));
        o.engine.dispatch_due().await.unwrap();
        assert_eq!(t.tables_containing("kenji.mori@globex").await, Vec::<String>::new());
    }
}
