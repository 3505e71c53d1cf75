//! Expected visits from calendar invitations, on SQLite and PostgreSQL: the engine syncs
//! Alice's calendar through the real Google (and once the real Microsoft 365) connector
//! against its fake; an event that invites the `hq` reception expects each outside attendee
//! and mails them their reception code with its QR. Syncing again changes nothing; moving
//! the event moves the visit (a new code, mailed, only when the old one is taken that day);
//! removing an attendee or cancelling the event withdraws the visits, so their codes stop
//! opening them.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Asia::Tokyo;
use frontdesk_connectors::testing::google::{FakeAttendee, FakeEvent, FakeGoogle};
use frontdesk_connectors::testing::microsoft::{FakeGraph, attendee};
use frontdesk_core::domain::calendar::{Owner, Provider};
use frontdesk_core::domain::people::{Lang, NotificationPreference};
use frontdesk_core::domain::visit::ReceptionSettings;
use frontdesk_core::engine::calendar::RECONCILE_EVERY;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::expected_visit::{ExpectedVisit, NewExpectedVisit, Source};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::port::{Calendar, Calendars, Mail, Ports};
use frontdesk_core::storage_tests;
use frontdesk_core::store::reception as reception_store;
use frontdesk_core::testing::{
    ManualClock, RecordingMailer, TestDb, TestEngine, acme_owner, test_settings,
};

const ALICE: &str = "alice@acme.example";
const BOB: &str = "bob@acme.example";
const RECEPTION: &str = "reception-hq@acme.example";
const TARO: &str = "taro@example.com";
const HANAKO: &str = "hanako@example.org";

/// The engine with one calendar provider, the tenant `acme` with Alice and Bob, and the
/// location `hq` (Tokyo) whose reception is invited as [`RECEPTION`].
struct Setup {
    engine: Engine,
    clock: Arc<ManualClock>,
    mailer: Arc<RecordingMailer>,
    tenant_id: i64,
    owner: Actor,
    alice_id: i64,
    location_id: i64,
}

impl Setup {
    async fn start(t: &TestDb, connector: Arc<dyn Calendar>) -> Setup {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let TestEngine {
            engine,
            clock,
            mailer,
            ..
        } = TestEngine::on(t);
        let ports = Ports {
            calendars: Calendars::default().with(connector),
            ..engine.ports.clone()
        };
        let engine = Engine::new(t.db.clone(), ports, test_settings());
        let (tenant, owner) = acme_owner(&engine).await;
        let mut ids = Vec::new();
        for (email, name) in [(ALICE, "Alice Sato"), (BOB, "Bob Tanaka")] {
            let employee = engine
                .create_employee(
                    &owner,
                    EmployeeInput {
                        email: email.into(),
                        name: name.into(),
                        name_kana: String::new(),
                        department: String::new(),
                        time_zone: "Asia/Tokyo".into(),
                        language: Lang::Ja,
                        notification: NotificationPreference::Chat,
                        chat_identities: Default::default(),
                    },
                )
                .await
                .expect("an employee");
            ids.push(employee.id);
        }
        let location = engine
            .create_location(
                &owner,
                LocationInput {
                    slug: "hq".into(),
                    name: "Head office".into(),
                    time_zone: "Asia/Tokyo".into(),
                },
            )
            .await
            .expect("the location");
        engine
            .set_reception_settings(
                &owner,
                "hq",
                ReceptionSettings {
                    // As an admin might type it: matched without regard to case.
                    reception_address: Some("Reception-HQ@acme.example".into()),
                    ..ReceptionSettings::default()
                },
            )
            .await
            .expect("reception settings");
        Setup {
            engine,
            clock,
            mailer,
            tenant_id: tenant.id,
            owner,
            alice_id: ids[0],
            location_id: location.id,
        }
    }

    async fn connect_alice(&self, provider: Provider) {
        self.engine
            .connect_with_app_credentials(
                &self.owner,
                Owner::Employee(self.alice_id),
                provider,
                ALICE,
            )
            .await
            .expect("Alice's calendar connected");
    }

    /// Syncs what is due, then sends what the outbox holds.
    async fn sync(&self) {
        self.engine.sync_due_calendars().await.expect("a sync");
        self.engine.dispatch_due().await.expect("the outbox");
    }

    /// The next reconciliation (an incremental sync).
    async fn reconcile(&self) {
        self.clock.advance(RECONCILE_EVERY);
        self.sync().await;
    }

    /// Expected visits over the next month, withdrawn ones too, by visitor name.
    async fn visits(&self) -> Vec<ExpectedVisit> {
        let today = self.clock_day();
        let mut visits = self
            .engine
            .expected_visits(&self.owner, today, today + Duration::days(30))
            .await
            .expect("expected visits");
        visits.sort_by(|a, b| a.visitor_name.cmp(&b.visitor_name));
        visits
    }

    fn clock_day(&self) -> NaiveDate {
        use frontdesk_core::port::Clock;
        self.clock.now().with_timezone(&Tokyo).date_naive()
    }

    /// The expected visit `code` opens at `at_ms`, as the kiosk looks it up.
    async fn opened_by(&self, code: &str, at_ms: i64) -> Option<i64> {
        let mut tx = self.engine.db.read().await.unwrap();
        reception_store::expected_by_code(&mut tx, self.tenant_id, code, at_ms)
            .await
            .unwrap()
            .map(|row| row.id)
    }

    fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mailer
            .sent()
            .into_iter()
            .filter(|m| m.to == to)
            .collect()
    }
}

/// Seconds since the epoch of a local time in Tokyo.
fn tokyo(day: &str, hour: u32) -> i64 {
    let date: NaiveDate = day.parse().unwrap();
    Tokyo
        .from_local_datetime(&date.and_hms_opt(hour, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp()
}

/// The text of the QR code in a mail's `reception-code.png`.
fn qr_in(mail: &Mail) -> String {
    let file = mail
        .attachments
        .iter()
        .find(|a| a.filename == "reception-code.png")
        .expect("the QR attached");
    assert_eq!(file.content_type, "image/png");
    assert!(file.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(file.bytes.len() > 100, "{} bytes", file.bytes.len());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(&file.bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("a readable QR code").1
}

/// The meeting of these tests: Alice invites the reception, a room, Bob (a colleague), Taro
/// and Hanako (visitors), and Jiro, who declined.
fn meeting(start: i64) -> FakeEvent {
    FakeEvent::timed("contract", start, start + 3600)
        .titled("Contract review / 契約レビュー")
        .attendees(&[
            FakeAttendee::person(ALICE, Some("Alice Sato")).answered("accepted"),
            FakeAttendee::resource(RECEPTION),
            FakeAttendee::resource("c_room-fuji@resource.calendar.google.com"),
            FakeAttendee::person(BOB, Some("Bob Tanaka")),
            FakeAttendee::person("Taro@Example.com", Some("Taro Yamada")),
            FakeAttendee::person(HANAKO, None),
            FakeAttendee::person("jiro@example.net", Some("Jiro")).answered("declined"),
        ])
}

storage_tests! {
    async fn an_invited_visitor_is_expected_mailed_a_qr_code_moved_and_withdrawn_with_the_event(t: &TestDb) {
        let google = FakeGoogle::start().await;
        google.add_calendar(ALICE, "Asia/Tokyo");
        let s = Setup::start(t, Arc::new(google.connector())).await;
        s.connect_alice(Provider::Google).await;
        // Tomorrow (the clock stands at 2026-11-25 09:00 in Tokyo) at 14:00.
        let start = tokyo("2026-11-26", 14);
        google.put_event(ALICE, meeting(start));
        google.put_event(ALICE, FakeEvent::timed("standup", start - 7200, start - 5400));
        s.sync().await;

        // Taro and Hanako are expected; not Alice (the host), Bob (an employee), the
        // reception, the room, or Jiro (declined).
        let visits = s.visits().await;
        let names: Vec<&str> = visits.iter().map(|v| v.visitor_name.as_str()).collect();
        assert_eq!(names, vec!["Taro Yamada", "hanako"]);
        let taro = &visits[0];
        assert_eq!(taro.host_employee_id, s.alice_id);
        assert_eq!(taro.location_id, s.location_id);
        assert_eq!(taro.day, "2026-11-26");
        assert_eq!(taro.starts_at, Some(start * 1000));
        assert_eq!(taro.visitor_email.as_deref(), Some(TARO));
        assert_eq!(taro.purpose.as_deref(), Some("Contract review / 契約レビュー"));
        assert_eq!(taro.source, "invite");
        assert_eq!(taro.status, "expected");

        // Each visitor got exactly one mail: the code in its text and in the attached QR.
        let mails = s.mails_to(TARO);
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert!(mails[0].body.contains(&taro.code));
        assert!(mails[0].body.contains("Taro Yamada"));
        assert_eq!(qr_in(&mails[0]), taro.code);
        assert_eq!(s.mails_to(HANAKO).len(), 1);
        assert_eq!(s.mailer.sent().len(), 2, "nobody else was mailed");
        assert_eq!(s.opened_by(&taro.code, start * 1000).await, Some(taro.id));
        // The attendee's address is not in the key kept in clear.
        assert!(t.tables_containing("taro@example.com").await.is_empty());

        // Syncing again (incrementally, then everything after an expired sync token) finds
        // the visits as they are: no second visit, no second mail.
        s.reconcile().await;
        google.expire_sync_tokens();
        s.reconcile().await;
        assert_eq!(s.visits().await, visits);
        assert_eq!(s.mailer.sent().len(), 2);

        // Hanako is taken off the invitation: her visit is withdrawn, Taro's stays.
        let mut without_hanako = meeting(start);
        let attendees = without_hanako.body["attendees"].as_array_mut().unwrap();
        attendees.retain(|a| a["email"] != HANAKO);
        google.put_event(ALICE, without_hanako);
        s.reconcile().await;
        let visits = s.visits().await;
        assert_eq!(visits[1].visitor_name, "hanako");
        assert_eq!(visits[1].status, "withdrawn");
        assert_eq!(s.opened_by(&visits[1].code, start * 1000).await, None);
        assert_eq!(visits[0].status, "expected");

        // The meeting moves to Friday: Taro's visit moves with it, same code, no new mail.
        let friday = tokyo("2026-11-27", 10);
        let mut moved = meeting(friday);
        moved.body["attendees"].as_array_mut().unwrap().retain(|a| a["email"] != HANAKO);
        google.put_event(ALICE, moved.clone());
        s.reconcile().await;
        let taro = s.visits().await[0].clone();
        assert_eq!((taro.day.as_str(), taro.starts_at), ("2026-11-27", Some(friday * 1000)));
        assert_eq!(taro.code, visits[0].code);
        assert_eq!(s.opened_by(&taro.code, friday * 1000).await, Some(taro.id));
        assert_eq!(s.opened_by(&taro.code, start * 1000).await, None, "not on Thursday any more");
        assert_eq!(s.mails_to(TARO).len(), 1);

        // Someone else holds Taro's code on Monday; the meeting moves there: Taro gets a new
        // code, mailed with its QR, and the old one opens only the other visit.
        let monday = tokyo("2026-11-30", 15);
        let other = {
            let mut tx = s.engine.db.write().await.unwrap();
            let other = s.engine.register_expected_visit(&mut tx, s.tenant_id, &NewExpectedVisit {
                location_id: s.location_id,
                host_employee_id: s.alice_id,
                visitor_name: "Ichiro Suzuki".into(),
                visitor_company: String::new(),
                visitor_email: None,
                day: "2026-11-30".parse().unwrap(),
                starts_at: None,
                purpose: None,
                source: Source::Admin,
                source_ref: None,
                code: Some(taro.code.clone()),
            }).await.unwrap();
            tx.commit().await.unwrap();
            other
        };
        assert_eq!(other.code, taro.code);
        let mut moved = meeting(monday);
        moved.body["attendees"].as_array_mut().unwrap().retain(|a| a["email"] != HANAKO);
        google.put_event(ALICE, moved);
        s.reconcile().await;
        let visits = s.visits().await;
        let taro_now = visits.iter().find(|v| v.visitor_name == "Taro Yamada").unwrap().clone();
        assert_eq!(taro_now.id, taro.id);
        assert_eq!(taro_now.day, "2026-11-30");
        assert_ne!(taro_now.code, taro.code);
        assert_eq!(s.opened_by(&taro_now.code, monday * 1000).await, Some(taro.id));
        assert_eq!(s.opened_by(&taro.code, monday * 1000).await, Some(other.id));
        let mails = s.mails_to(TARO);
        assert_eq!(mails.len(), 2);
        assert_eq!(qr_in(&mails[1]), taro_now.code);
        assert!(mails[1].body.contains("2026-11-30"));

        // The meeting is cancelled: the visit is withdrawn, its code opens nothing.
        google.cancel_event(ALICE, "contract");
        s.reconcile().await;
        let taro_now = s.visits().await.into_iter().find(|v| v.id == taro.id).unwrap();
        assert_eq!(taro_now.status, "withdrawn");
        assert_eq!(s.opened_by(&taro_now.code, monday * 1000).await, None);
        assert_eq!(s.mails_to(TARO).len(), 2, "no mail about it from us: Google tells attendees");
    }

    async fn an_event_that_stops_inviting_the_reception_withdraws_its_visits_and_a_colleagues_meeting_expects_no_one(t: &TestDb) {
        let google = FakeGoogle::start().await;
        let s = Setup::start(t, Arc::new(google.connector())).await;
        s.connect_alice(Provider::Google).await;
        let start = tokyo("2026-11-26", 11);
        // Only colleagues (and the reception): nobody from outside to expect.
        google.put_event(ALICE, FakeEvent::timed("internal", start, start + 3600).attendees(&[
            FakeAttendee::person(ALICE, None),
            FakeAttendee::person(BOB, Some("Bob")),
            FakeAttendee::resource(RECEPTION),
        ]));
        // A visitor but no reception invited: not a visit.
        google.put_event(ALICE, FakeEvent::timed("call", start + 7200, start + 9000).attendees(&[
            FakeAttendee::person(ALICE, None),
            FakeAttendee::person(TARO, Some("Taro Yamada")),
        ]));
        google.put_event(ALICE, meeting(start + 86_400));
        s.sync().await;
        let visits = s.visits().await;
        assert_eq!(visits.len(), 2, "{visits:?}");
        assert!(visits.iter().all(|v| v.starts_at == Some((start + 86_400) * 1000)));

        // The reception is uninvited: both visits are withdrawn.
        let mut uninvited = meeting(start + 86_400);
        uninvited.body["attendees"].as_array_mut().unwrap().retain(|a| a["email"] != RECEPTION);
        google.put_event(ALICE, uninvited);
        s.reconcile().await;
        assert!(s.visits().await.iter().all(|v| v.status == "withdrawn"));
        // Invited again: the same visits come back with their codes, and nobody is mailed twice.
        google.put_event(ALICE, meeting(start + 86_400));
        s.reconcile().await;
        let back = s.visits().await;
        assert!(back.iter().all(|v| v.status == "expected"));
        assert_eq!(back.iter().map(|v| (&v.id, &v.code)).collect::<Vec<_>>(),
                   visits.iter().map(|v| (&v.id, &v.code)).collect::<Vec<_>>());
        assert_eq!(s.mailer.sent().len(), 2);
    }

    async fn an_invitation_on_a_microsoft_365_calendar_expects_its_visitor(t: &TestDb) {
        let graph = FakeGraph::start().await;
        graph.add_user("alice-id", ALICE);
        let s = Setup::start(t, Arc::new(
            frontdesk_connectors::microsoft::MicrosoftCalendar::new(graph.settings()).unwrap(),
        )).await;
        s.connect_alice(Provider::Microsoft).await;
        let start = tokyo("2026-11-26", 16);
        let id = graph.seed_event(ALICE, "Design review", start, start + 3600);
        graph.set_attendees(&id, vec![
            attendee(RECEPTION, "Reception HQ", "resource"),
            attendee(BOB, "Bob Tanaka", "required"),
            attendee(TARO, TARO, "required"),
        ]);
        s.sync().await;
        let visits = s.visits().await;
        assert_eq!(visits.len(), 1, "{visits:?}");
        let taro = &visits[0];
        // Graph repeats the address as the name: the local part greets him.
        assert_eq!(taro.visitor_name, "taro");
        assert_eq!((taro.host_employee_id, taro.location_id), (s.alice_id, s.location_id));
        assert_eq!(taro.day, "2026-11-26");
        assert_eq!(taro.purpose.as_deref(), Some("Design review"));
        let mails = s.mails_to(TARO);
        assert_eq!(mails.len(), 1);
        assert_eq!(qr_in(&mails[0]), taro.code);

        graph.cancel_event(&id);
        s.reconcile().await;
        assert_eq!(s.visits().await[0].status, "withdrawn");
        assert_eq!(s.opened_by(&taro.code, start * 1000).await, None);
    }
}
