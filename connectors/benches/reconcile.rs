//! Reconciling 1,000 Google calendars: the engine's `sync_due_calendars` with the real
//! Google connector against the fake Google on loopback, on SQLite (and PostgreSQL when
//! `FRONTDESK_TEST_DATABASE_URL` is set). Each calendar is reached with the service account
//! (a JWT bearer grant per person, cached) and holds 20 events over the next 30 days.
//! Reported: the first (full) pass and the next (incremental, nothing changed) pass, and one
//! where a tenth of the calendars changed: wall time and the requests Google received.
//!
//! `cargo bench -p frontdesk-connectors --bench reconcile`

use std::sync::Arc;
use std::time::Instant;

use frontdesk_connectors::testing::google::{FakeEvent, FakeGoogle};
use frontdesk_core::domain::calendar::{Owner, Provider};
use frontdesk_core::domain::people::{Lang, NotificationPreference};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::calendar::RECONCILE_EVERY;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::port::{Calendars, Ports};
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};

const CALENDARS: usize = 1_000;
const EVENTS_PER_CALENDAR: i64 = 20;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        run("SQLite", TestDb::sqlite().await).await;
        if let Some(postgres) = TestDb::postgres().await {
            run("PostgreSQL", postgres).await;
        }
    });
}

async fn run(backend: &str, t: TestDb) {
    let google = FakeGoogle::start().await;
    google.set_page_size(2500);
    let TestEngine { engine, clock, .. } = TestEngine::on(&t);
    let ports = Ports {
        calendars: Calendars::default().with(Arc::new(google.connector())),
        ..engine.ports.clone()
    };
    let engine = Engine::new(
        t.db.clone(),
        ports,
        frontdesk_core::testing::test_settings(),
    );
    let (_, owner) = acme_owner(&engine).await;
    let now = engine.ports.clock.now().timestamp();
    for i in 0..CALENDARS {
        let email = format!("person{i}@acme.example");
        let person = engine
            .create_employee(
                &owner,
                EmployeeInput {
                    email: email.clone(),
                    name: format!("Person {i}"),
                    name_kana: String::new(),
                    department: String::new(),
                    time_zone: "Asia/Tokyo".into(),
                    language: Lang::Ja,
                    notification: NotificationPreference::Email,
                    chat_identities: Default::default(),
                },
            )
            .await
            .expect("an employee");
        for n in 0..EVENTS_PER_CALENDAR {
            let start = now + 3600 + n * 36 * 3600;
            google.put_event(
                &email,
                FakeEvent::timed(&format!("e{n}"), start, start + 3600),
            );
        }
        engine
            .connect_with_app_credentials(
                &owner,
                Owner::Employee(person.id),
                Provider::Google,
                &email,
            )
            .await
            .expect("connected");
    }

    let pass = |name: &'static str| {
        let engine = engine.clone();
        let google = &google;
        async move {
            let before = google.counts();
            let started = Instant::now();
            let synced = engine.sync_due_calendars().await.expect("a pass");
            let took = started.elapsed();
            let after = google.counts();
            let requests: Vec<String> = after
                .iter()
                .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .map(|(op, n)| format!("{op} {n}"))
                .collect();
            println!(
                "{backend:10} {name:28} {synced:5} calendars in {:8.1} ms ({:.2} ms each): {}",
                took.as_secs_f64() * 1000.0,
                took.as_secs_f64() * 1000.0 / synced.max(1) as f64,
                requests.join(", ")
            );
            synced
        }
    };
    assert_eq!(pass("full sync").await, CALENDARS);
    clock.advance(RECONCILE_EVERY);
    assert_eq!(pass("reconcile, nothing changed").await, CALENDARS);
    for i in (0..CALENDARS).step_by(10) {
        let start = now + 7200;
        google.put_event(
            &format!("person{i}@acme.example"),
            FakeEvent::timed("moved", start, start + 1800),
        );
    }
    clock.advance(RECONCILE_EVERY);
    assert_eq!(pass("reconcile, 10 % changed").await, CALENDARS);
}
