//! Scheduling: a host's booking link offers their real free slots; a guest books one and the
//! database refuses a second booking of the same time, however many arrive at once; the
//! guest gets a confirmation with an invitation (and a reception code for a meeting in
//! person), the host a chat notice; the guest can move or cancel from the manage link; team
//! links book everyone (collective) or the fairest free host (round robin).
//!
//! The clock starts on Wednesday 2026-11-25 at 09:00 in Tokyo (00:00 UTC).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::booking::LinkRules;
use frontdesk_core::domain::calendar::Owner;
use frontdesk_core::domain::people::{Platform, Role};
use frontdesk_core::engine::booking::{Booked, BookingRequest, HostInput, LinkInput};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::port::{ChatBots, Ports};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{RecordingBot, TestDb};

const WEDNESDAY: &str = "2026-11-25";

/// The tenant `acme` with location `hq` (Tokyo) and Alice, Bob and Carol on Slack.
struct Scheduling {
    f: Fixture,
    engine: Engine,
    bot: Arc<RecordingBot>,
    alice: Employee,
    bob: Employee,
}

impl Scheduling {
    async fn new(t: &TestDb) -> Scheduling {
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
        for (email, name, slack) in [
            ("alice@acme.example", "Alice Sato", "U1"),
            ("bob@acme.example", "Bob Tanaka", "U2"),
            ("carol@acme.example", "Carol Suzuki", "U3"),
        ] {
            let mut input = person(email, name);
            input.chat_identities = BTreeMap::from([(Platform::Slack, slack.to_owned())]);
            made.push(engine.create_employee(&f.owner, input).await.unwrap());
        }
        let mut made = made.into_iter();
        Scheduling {
            engine,
            bot,
            alice: made.next().unwrap(),
            bob: made.next().unwrap(),
            f,
        }
    }

    /// Creates link `slug` (30 min, weekdays 09:00–18:00 Tokyo, at `hq`) with `extra` rules.
    async fn link(&self, slug: &str, kind: &str, hosts: &[(&str, i64)], extra: serde_json::Value) {
        let mut rules = serde_json::json!({
            "time_zone": "Asia/Tokyo",
            "durations_minutes": [30],
            "weekly": {
                "mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]],
                "wed": [["09:00", "18:00"]], "thu": [["09:00", "18:00"]],
                "fri": [["09:00", "18:00"]]
            },
            "place": {"kind": "in_person", "location": "hq"}
        });
        rules
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let rules: LinkRules = serde_json::from_value(rules).unwrap();
        let input = LinkInput {
            slug: slug.into(),
            title: "Product demo".into(),
            kind: kind.into(),
            hosts: hosts
                .iter()
                .map(|(email, weight)| HostInput {
                    email: email.to_string(),
                    weight: *weight,
                })
                .collect(),
            owner: Some(hosts[0].0.to_string()),
            rules,
            single_use: false,
            active: true,
        };
        self.engine
            .create_booking_link(&self.f.owner, input)
            .await
            .unwrap();
    }

    /// The starts (HH:MM in Tokyo) the link offers on `day`.
    async fn starts(&self, slug: &str, day: &str) -> Vec<String> {
        let day: NaiveDate = day.parse().unwrap();
        let slots = self
            .engine
            .booking_slots(slug, day, day, "Asia/Tokyo", None)
            .await
            .unwrap();
        slots.iter().map(|s| tokyo(s.start)).collect()
    }

    async fn book(&self, slug: &str, start: &str, email: &str) -> Result<Booked, Error> {
        self.book_from(slug, start, email, "192.0.2.10", None).await
    }

    async fn book_from(
        &self,
        slug: &str,
        start: &str,
        email: &str,
        ip: &str,
        key: Option<&str>,
    ) -> Result<Booked, Error> {
        let request = BookingRequest {
            start: start.into(),
            name: "Kenji Mori".into(),
            email: email.into(),
            company: Some("Globex".into()),
            time_zone: "Europe/Berlin".into(),
            ..BookingRequest::default()
        };
        self.engine.book(slug, request, ip, key).await
    }
}

fn wednesday() -> NaiveDate {
    WEDNESDAY.parse().unwrap()
}

fn tokyo(at: i64) -> String {
    let zone: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .with_timezone(&zone)
        .format("%H:%M")
        .to_string()
}

/// The manage token in a manage URL.
fn token_of(booked: &Booked) -> String {
    let url = booked
        .manage_url
        .clone()
        .expect("a new booking has its manage link");
    url.split("?t=").nth(1).unwrap().to_owned()
}

storage_tests! {
    async fn a_guest_books_a_free_slot_and_gets_a_code_an_invitation_and_the_host_a_notice(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let offered = s.starts("alice", WEDNESDAY).await;
        assert_eq!(offered.first().map(String::as_str), Some("09:00"));
        assert_eq!(offered.len(), 18, "09:00 to 17:30 every 30 minutes: {offered:?}");

        let booked = s.book("alice", "2026-11-25T10:00:00+09:00", "kenji@globex.example").await.unwrap();
        assert!(booked.created);
        let view = &booked.booking;
        assert_eq!(view.hosts, vec!["Alice Sato".to_string()]);
        let code = view.reception_code.clone().expect("a meeting in person gets a reception code");
        assert_eq!(code.len(), 6);
        assert!(!s.starts("alice", WEDNESDAY).await.contains(&"10:00".to_string()));

        // The code opens the visit at the kiosk's location that day.
        let expected = s.engine.expected_visits(&s.f.owner, wednesday(), wednesday()).await.unwrap();
        assert_eq!(expected.len(), 1);
        assert_eq!((expected[0].code.as_str(), expected[0].visitor_name.as_str()), (code.as_str(), "Kenji Mori"));

        // Alice's built-in calendar holds the meeting.
        let busy = s.engine.busy(s.f.tenant.id, Owner::Employee(s.alice.id), view.start - 1, view.end + 1).await.unwrap();
        assert_eq!(busy.intervals.len(), 1);

        s.engine.dispatch_due().await.unwrap();
        let mails = s.f.mailer.sent();
        let mail = mails.iter().find(|m| m.to == "kenji@globex.example").expect("the guest's confirmation");
        assert!(mail.body.contains(&code), "{}", mail.body);
        assert!(mail.body.contains("/b/alice/bookings/"), "the manage link: {}", mail.body);
        // The guest is in Berlin: the time in the mail is theirs.
        assert!(mail.body.contains("2026-11-25 (Wed) 02:00–02:30 Europe/Berlin"), "{}", mail.body);
        let ics = String::from_utf8(mail.attachments[0].bytes.clone()).unwrap();
        assert!(ics.contains("METHOD:REQUEST"), "{ics}");
        assert!(ics.contains(&format!("UID:{}@frontdesk", view.public_id)), "{ics}");
        assert!(ics.contains("SEQUENCE:0"), "{ics}");
        let sent = s.bot.sent();
        assert_eq!(sent.len(), 1, "Alice is told on Slack");
        assert!(sent[0].1.summary.contains("Kenji Mori"), "{:?}", sent[0].1);
    }

    async fn a_taken_slot_is_refused_and_bad_fields_are_named(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        s.book("alice", "2026-11-25T10:00:00+09:00", "kenji@globex.example").await.unwrap();
        let again = s.book_from("alice", "2026-11-25T10:00:00+09:00", "yumi@initech.example", "192.0.2.11", None).await;
        assert!(matches!(again, Err(Error::SlotTaken)), "{again:?}");

        let field = |result: Result<Booked, Error>| match result {
            Err(Error::Invalid { field, .. }) => field.to_string(),
            other => panic!("expected a bad field, got {other:?}"),
        };
        assert_eq!(field(s.book("alice", "2026-11-25T10:10:00+09:00", "a@b.example").await), "start", "off the grid");
        assert_eq!(field(s.book("alice", "2026-11-28T10:00:00+09:00", "a@b.example").await), "start", "a Saturday");
        assert_eq!(field(s.book("alice", "2026-11-25T08:00:00+09:00", "a@b.example").await), "start", "in the past");
        assert_eq!(field(s.book("alice", "tomorrow", "a@b.example").await), "start");
        assert_eq!(field(s.book("alice", "2026-11-25T11:00:00+09:00", "not an email").await), "email");
        let request = BookingRequest {
            start: "2026-11-25T11:00:00+09:00".into(),
            name: "Kenji".into(),
            email: "k@globex.example".into(),
            time_zone: "Europe/Berlin".into(),
            answers: BTreeMap::from([("shoe_size".to_string(), "42".to_string())]),
            ..BookingRequest::default()
        };
        assert_eq!(field(s.engine.book("alice", request, "192.0.2.12", None).await), "answers.shoe_size");
        let rows = t.count("SELECT COUNT(*) FROM bookings").await;
        assert_eq!(rows, 1, "nothing written by refused bookings");
    }

    async fn fifty_guests_at_once_for_one_slot_make_one_booking(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..50 {
            let engine = s.engine.clone();
            tasks.spawn(async move {
                let request = BookingRequest {
                    start: "2026-11-26T14:00:00+09:00".into(),
                    name: format!("Guest {n}"),
                    email: format!("guest{n}@example.com"),
                    time_zone: "Asia/Tokyo".into(),
                    ..BookingRequest::default()
                };
                engine.book("alice", request, &format!("198.51.100.{n}"), None).await
            });
        }
        let (mut booked, mut taken) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(_) => booked += 1,
                Err(Error::SlotTaken) => taken += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!((booked, taken), (1, 49));
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 1);
    }

    async fn a_repeated_idempotency_key_answers_the_first_booking(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let first = s.book_from("alice", "2026-11-25T15:00:00+09:00", "k@globex.example", "192.0.2.10", Some("key-1")).await.unwrap();
        let again = s.book_from("alice", "2026-11-25T15:00:00+09:00", "k@globex.example", "192.0.2.10", Some("key-1")).await.unwrap();
        assert!(first.created && !again.created);
        assert_eq!(first.booking.public_id, again.booking.public_id);
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1);
    }

    async fn buffers_minimum_notice_and_max_per_day_shape_the_offer(t: &TestDb) {
        let s = Scheduling::new(t).await;
        let rules = serde_json::json!({
            "buffer_before_minutes": 15, "buffer_after_minutes": 15,
            "minimum_notice_minutes": 120, "max_per_day": 2
        });
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], rules).await;
        // Now is 09:00: two hours' notice.
        assert_eq!(s.starts("alice", WEDNESDAY).await.first().map(String::as_str), Some("11:00"));
        s.book("alice", "2026-11-25T13:00:00+09:00", "a@globex.example").await.unwrap();
        let offered = s.starts("alice", WEDNESDAY).await;
        for gone in ["12:30", "13:00", "13:30"] {
            assert!(!offered.contains(&gone.to_string()), "{gone} touches the buffers: {offered:?}");
        }
        assert!(offered.contains(&"12:00".to_string()) && offered.contains(&"14:00".to_string()), "{offered:?}");
        s.book("alice", "2026-11-25T16:00:00+09:00", "b@globex.example").await.unwrap();
        assert_eq!(s.starts("alice", WEDNESDAY).await, Vec::<String>::new(), "two a day at most");
        assert_eq!(s.starts("alice", "2026-11-26").await.len(), 18, "the next day is open");
    }

    async fn a_collective_link_needs_every_host_free_and_holds_them_all(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("team", "collective", &[("alice@acme.example", 1), ("bob@acme.example", 1)], serde_json::json!({})).await;
        // Bob is in another meeting 10:00–11:00.
        // 2026-11-25 10:00–11:00 in Tokyo.
        s.engine.add_calendar_event(&s.f.owner, Owner::Employee(s.bob.id), 1_795_568_400, 1_795_572_000, "Planning").await.unwrap();
        let offered = s.starts("team", WEDNESDAY).await;
        assert!(!offered.contains(&"10:00".to_string()) && !offered.contains(&"10:30".to_string()), "{offered:?}");
        let booked = s.book("team", "2026-11-25T11:00:00+09:00", "k@globex.example").await.unwrap();
        assert_eq!(booked.booking.hosts.len(), 2);
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 2);
        // Alice alone is held at 11:00 for any other link too.
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        assert!(!s.starts("alice", WEDNESDAY).await.contains(&"11:00".to_string()));
    }

    async fn round_robin_gives_each_booking_to_the_fairest_free_host(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("sales", "round_robin", &[("alice@acme.example", 2), ("bob@acme.example", 1)], serde_json::json!({})).await;
        let mut got = Vec::new();
        for (n, start) in ["10:00", "10:30", "11:00", "11:30", "12:00", "12:30"].iter().enumerate() {
            let booked = s.book_from("sales", &format!("2026-11-26T{start}:00+09:00"), &format!("g{n}@globex.example"), &format!("192.0.2.{n}"), None).await.unwrap();
            got.push(booked.booking.hosts[0].clone());
        }
        let alice = got.iter().filter(|h| h.as_str() == "Alice Sato").count();
        assert_eq!((alice, got.len() - alice), (4, 2), "weight 2 gets twice the bookings: {got:?}");
        // Both free at 14:00: two bookings there go to both, a third finds nobody.
        s.book_from("sales", "2026-11-26T14:00:00+09:00", "x@globex.example", "192.0.2.20", None).await.unwrap();
        s.book_from("sales", "2026-11-26T14:00:00+09:00", "y@globex.example", "192.0.2.21", None).await.unwrap();
        let third = s.book_from("sales", "2026-11-26T14:00:00+09:00", "z@globex.example", "192.0.2.22", None).await;
        assert!(matches!(third, Err(Error::SlotTaken)), "{third:?}");
        assert!(!s.starts("sales", "2026-11-26").await.contains(&"14:00".to_string()));
    }

    async fn the_guest_moves_and_cancels_from_the_manage_link(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let booked = s.book("alice", "2026-11-25T10:00:00+09:00", "k@globex.example").await.unwrap();
        let (id, token) = (booked.booking.public_id.clone(), token_of(&booked));
        let other = s.book_from("alice", "2026-11-25T11:00:00+09:00", "o@globex.example", "192.0.2.30", None).await.unwrap();

        let wrong = s.engine.reschedule_booking(&id, "not-the-token", "2026-11-25T15:00:00+09:00").await;
        assert!(matches!(wrong, Err(Error::InvalidManageLink)), "{wrong:?}");
        let taken = s.engine.reschedule_booking(&id, &token, "2026-11-25T11:00:00+09:00").await;
        assert!(matches!(taken, Err(Error::SlotTaken)), "{taken:?}");
        // Moving by 30 minutes into its own old time is fine.
        let moved = s.engine.reschedule_booking(&id, &token, "2026-11-25T10:30:00+09:00").await.unwrap();
        assert_eq!(moved.sequence, 1);
        let offered = s.starts("alice", WEDNESDAY).await;
        assert!(offered.contains(&"10:00".to_string()) && !offered.contains(&"10:30".to_string()), "{offered:?}");
        let expected = s.engine.expected_visits(&s.f.owner, wednesday(), wednesday()).await.unwrap();
        let mine = expected.iter().find(|e| Some(&e.code) == moved.reception_code.as_ref()).expect("the visit moved with it");
        assert_eq!(mine.starts_at, Some(moved.start * 1000));

        let cancelled = s.engine.cancel_booking(&id, &token).await.unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert!(s.starts("alice", WEDNESDAY).await.contains(&"10:30".to_string()), "free again");
        let expected = s.engine.expected_visits(&s.f.owner, wednesday(), wednesday()).await.unwrap();
        assert_eq!(expected.iter().filter(|e| e.status == "expected").count(), 1, "only the other guest is expected");
        assert!(matches!(s.engine.cancel_booking(&id, &token).await, Err(Error::Conflict(_))));
        assert_eq!(s.engine.guest_booking(&other.booking.public_id, &token_of(&other)).await.unwrap().status, "confirmed");

        s.engine.dispatch_due().await.unwrap();
        let to_guest: Vec<_> = s.f.mailer.sent().into_iter().filter(|m| m.to == "k@globex.example").collect();
        assert_eq!(to_guest.len(), 3, "booked, moved, cancelled");
        // The dispatcher sends side by side: find each mail by its subject.
        let ics = |subject: &str| {
            let mail = to_guest.iter().find(|m| m.subject.contains(subject)).expect(subject);
            String::from_utf8(mail.attachments[0].bytes.clone()).unwrap()
        };
        let (booked, moved, cancelled) = (ics("Booked:"), ics("Moved:"), ics("Cancelled:"));
        // Booked in Japanese: every mail about it puts Japanese first.
        for first in ["予約確定", "日時変更", "キャンセル"] {
            assert!(to_guest.iter().any(|m| m.subject.starts_with(first)), "{first}: {:?}", to_guest.iter().map(|m| &m.subject).collect::<Vec<_>>());
        }
        assert!(booked.contains("SEQUENCE:0") && booked.contains("METHOD:REQUEST"), "{booked}");
        assert!(moved.contains("SEQUENCE:1") && moved.contains("METHOD:REQUEST"), "{moved}");
        assert!(cancelled.contains("SEQUENCE:2") && cancelled.contains("METHOD:CANCEL"), "{cancelled}");
        for ics in [booked, moved, cancelled] {
            assert!(ics.contains(&format!("UID:{id}@frontdesk")), "one UID throughout: {ics}");
        }
    }

    async fn a_single_use_link_offers_nothing_once_used(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("once", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let mut link = s.engine.booking_link(&s.f.owner, "once").await.unwrap();
        link.single_use = true;
        let input = LinkInput {
            slug: "once".into(),
            title: link.title.clone(),
            kind: "one_on_one".into(),
            hosts: vec![],
            owner: Some("alice@acme.example".into()),
            rules: link.rules.clone(),
            single_use: true,
            active: true,
        };
        s.engine.update_booking_link(&s.f.owner, "once", input).await.unwrap();
        s.book("once", "2026-11-25T10:00:00+09:00", "k@globex.example").await.unwrap();
        let day: NaiveDate = WEDNESDAY.parse().unwrap();
        assert!(matches!(s.engine.booking_slots("once", day, day, "Asia/Tokyo", None).await, Err(Error::LinkUsed)));
        assert!(matches!(s.book("once", "2026-11-25T11:00:00+09:00", "o@globex.example").await, Err(Error::LinkUsed)));
    }

    async fn one_address_may_book_twenty_times_an_hour(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let starts: Vec<String> = ["2026-11-26", "2026-11-27"]
            .iter()
            .flat_map(|day| (18..36).map(move |half| format!("{day}T{:02}:{:02}:00+09:00", half / 2, half % 2 * 30)))
            .collect();
        for start in &starts[..20] {
            s.book("alice", start, "k@globex.example").await.map(|_| ()).unwrap_or_else(|e| panic!("{start}: {e:?}"));
        }
        let refused = s.book("alice", &starts[20], "k@globex.example").await;
        assert!(matches!(refused, Err(Error::Throttled { .. })), "{refused:?}");
        s.f.clock.advance(Duration::minutes(61));
        s.book("alice", &starts[21], "k@globex.example").await.unwrap();
    }

    async fn hosts_manage_their_own_links_and_admins_all(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        let alice: Actor = s.f.account("alice@acme.example", Role::Viewer, false).await;
        let bob: Actor = s.f.account("bob@acme.example", Role::Viewer, false).await;
        assert_eq!(s.engine.booking_links(&alice).await.unwrap().len(), 1);
        assert_eq!(s.engine.booking_links(&bob).await.unwrap().len(), 0);
        assert!(matches!(s.engine.delete_booking_link(&bob, "alice").await, Err(Error::Forbidden)));
        let link = s.engine.booking_link(&alice, "alice").await.unwrap();
        let input = LinkInput {
            slug: "alice".into(),
            title: "Coffee chat".into(),
            kind: "one_on_one".into(),
            hosts: vec![],
            owner: None,
            rules: link.rules,
            single_use: false,
            active: true,
        };
        assert_eq!(s.engine.update_booking_link(&alice, "alice", input).await.unwrap().title, "Coffee chat");
        // Bob may not make a link for Alice, nor take a slug in use.
        let taken = LinkInput { owner: None, ..s_input("alice") };
        assert!(matches!(s.engine.create_booking_link(&bob, taken).await, Err(Error::Conflict(_))));
        let for_alice = LinkInput { owner: Some("alice@acme.example".into()), ..s_input("bob-for-alice") };
        assert!(matches!(s.engine.create_booking_link(&bob, for_alice).await, Err(Error::Forbidden)));
        s.engine.delete_booking_link(&alice, "alice").await.unwrap();
    }

    async fn the_demo_link_offers_alices_real_gaps_and_books_with_a_reception_code(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mut settings = common::settings();
        settings.demo = true;
        let engine = Engine::new(f.engine.db.clone(), f.engine.ports.clone(), settings);
        engine.seed_demo().await.unwrap();
        engine.seed_demo().await.unwrap();
        // Thursday 2026-11-26: Alice has a customer call 14:00–15:30.
        let day: NaiveDate = "2026-11-26".parse().unwrap();
        let slots = engine.booking_slots("alice", day, day, "Asia/Tokyo", None).await.unwrap();
        let starts: Vec<String> = slots.iter().map(|s| tokyo(s.start)).collect();
        assert_eq!(starts.len(), 18 - 3, "the call takes 14:00, 14:30 and 15:00: {starts:?}");
        assert!(!starts.contains(&"14:30".to_string()) && starts.contains(&"15:30".to_string()));
        let request = BookingRequest {
            start: "2026-11-26T11:00:00+09:00".into(),
            name: "Hanako Ito".into(),
            email: "hanako@example.com".into(),
            time_zone: "Asia/Tokyo".into(),
            ..BookingRequest::default()
        };
        let booked = engine.book("alice", request, "192.0.2.1", None).await.unwrap();
        assert!(booked.booking.reception_code.is_some());
        assert_eq!(booked.booking.hosts, vec!["Alice Sato".to_string()]);
    }

    async fn guest_details_are_sealed_at_rest(t: &TestDb) {
        let s = Scheduling::new(t).await;
        s.link("alice", "one_on_one", &[("alice@acme.example", 1)], serde_json::json!({})).await;
        s.book("alice", "2026-11-25T10:00:00+09:00", "kenji.mori@globex.example").await.unwrap();
        for needle in ["Kenji Mori", "kenji.mori@globex", "Globex"] {
            assert_eq!(t.tables_containing(needle).await, Vec::<String>::new(), "{needle}");
        }
    }
}

/// A plain link input for `slug`.
fn s_input(slug: &str) -> LinkInput {
    LinkInput {
        slug: slug.into(),
        title: "Chat".into(),
        kind: "one_on_one".into(),
        hosts: vec![],
        owner: None,
        rules: serde_json::from_value(serde_json::json!({
            "time_zone": "Asia/Tokyo",
            "durations_minutes": [30],
            "weekly": {"mon": [["09:00", "18:00"]]},
            "place": {"kind": "phone"}
        }))
        .unwrap(),
        single_use: false,
        active: true,
    }
}
