//! The public slots endpoint under load: the real HTTP server on loopback, a booking link
//! whose host has a month of busy time in the built-in calendar and some bookings, and 64
//! connections each asking `GET /api/v1/public/links/alice/slots` for a month, back to back,
//! for a fixed time. Reports requests per second and latency percentiles. The load generator
//! runs on the same machine (2 cores), so the numbers are a lower bound.
//!
//! `cargo bench -p frontdesk-webhooks --bench slots_load` (SQLite; PostgreSQL too when
//! `FRONTDESK_TEST_DATABASE_URL` is set). Method and results: BENCHMARKS.md.

use std::time::{Duration, Instant};

use frontdesk_core::domain::calendar::Owner;
use frontdesk_core::domain::people::NotificationPreference;
use frontdesk_core::engine::booking::{BookingRequest, LinkInput};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner, percentile};
use frontdesk_webhooks::AppState;

const CONNECTIONS: usize = 64;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);

async fn run(name: &str, t: TestDb) {
    let test = TestEngine::on(&t);
    let engine = test.engine.clone();
    let (_, owner) = acme_owner(&engine).await;
    let location = LocationInput {
        slug: "hq".into(),
        name: "Head office".into(),
        time_zone: "Asia/Tokyo".into(),
    };
    engine.create_location(&owner, location).await.unwrap();
    let alice = EmployeeInput {
        email: "alice@acme.example".into(),
        name: "Alice Sato".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: Lang::En,
        notification: NotificationPreference::Email,
        chat_identities: Default::default(),
    };
    let alice = engine.create_employee(&owner, alice).await.unwrap();
    let weekday = serde_json::json!([["09:00", "12:00"], ["13:00", "18:00"]]);
    let rules = serde_json::json!({
        "time_zone": "Asia/Tokyo",
        "durations_minutes": [30],
        "interval_minutes": 15,
        "weekly": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
        "buffer_before_minutes": 10,
        "buffer_after_minutes": 10,
        "place": {"kind": "in_person", "location": "hq"}
    });
    let link = LinkInput {
        slug: "alice".into(),
        title: "Product demo".into(),
        kind: "one_on_one".into(),
        hosts: vec![],
        owner: Some("alice@acme.example".into()),
        rules: serde_json::from_value(rules).unwrap(),
        single_use: false,
        active: true,
    };
    engine.create_booking_link(&owner, link).await.unwrap();
    // A month of meetings: three an hour-long block each working day (deterministic), and
    // a booking on each of the first ten days.
    let start = engine.ports.clock.now().timestamp();
    for day in 0..31 {
        for block in 0..3 {
            let at = start + day * 86_400 + (block * 3 + day % 3) * 3600;
            engine
                .add_calendar_event(&owner, Owner::Employee(alice.id), at, at + 3600, "Busy")
                .await
                .unwrap();
        }
    }
    let slots = engine
        .booking_slots(
            "alice",
            engine.ports.clock.now().date_naive(),
            engine.ports.clock.now().date_naive() + chrono::Days::new(30),
            "Asia/Tokyo",
            None,
        )
        .await
        .unwrap();
    for (n, slot) in slots.iter().step_by(slots.len() / 10).take(10).enumerate() {
        let request = BookingRequest {
            start: chrono::DateTime::from_timestamp(slot.start, 0)
                .unwrap()
                .to_rfc3339(),
            name: format!("Guest {n}"),
            email: format!("guest{n}@example.com"),
            time_zone: "Asia/Tokyo".into(),
            ..BookingRequest::default()
        };
        engine
            .book("alice", request, "192.0.2.1", None)
            .await
            .unwrap();
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = {
        let mut stopped = stopped.clone();
        let state = AppState::new(engine.clone(), vec![]);
        tokio::spawn(async move {
            frontdesk_webhooks::serve(listener, state, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
        })
    };
    let today = engine.ports.clock.now().date_naive();
    let url = format!(
        "{base}/api/v1/public/links/alice/slots?from={today}&to={}&tz=Europe/Berlin",
        today + chrono::Days::new(30)
    );
    let first: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let offered = first["slots"].as_array().map_or(0, Vec::len);
    assert!(offered > 300, "a month of slots: {offered}");

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let began = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, url) = (client.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut millis = Vec::new();
            loop {
                let sent = Instant::now();
                if sent.duration_since(began) >= WARM_UP + MEASURE {
                    break;
                }
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let body = response.bytes().await.unwrap();
                assert!(body.len() > 1_000);
                if sent.duration_since(began) >= WARM_UP {
                    millis.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            millis
        }));
    }
    let mut millis = Vec::new();
    for worker in workers {
        millis.extend(worker.await.unwrap());
    }
    let _ = stop.send(true);
    server.await.unwrap();
    millis.sort_by(f64::total_cmp);
    println!(
        "{name}: {} requests in {:.0} s at {CONNECTIONS} connections = {:.0}/s ({offered} slots, {} bytes each); \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        millis.len(),
        MEASURE.as_secs_f64(),
        millis.len() as f64 / MEASURE.as_secs_f64(),
        first.to_string().len(),
        percentile(&millis, 50.0),
        percentile(&millis, 90.0),
        percentile(&millis, 99.0),
        millis[millis.len() - 1],
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    run("SQLite", TestDb::sqlite().await).await;
    if let Some(postgres) = TestDb::postgres().await {
        run("PostgreSQL", postgres).await;
    }
}
