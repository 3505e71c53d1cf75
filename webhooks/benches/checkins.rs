//! Kiosk check-ins under load, end to end: the real HTTP server on loopback, a paired
//! kiosk's `POST /api/v1/kiosk/hq/checkins` sent at a steady rate by a load generator, the
//! dispatcher running as in the server, and the fake Slack Web API receiving each host's
//! `chat.postMessage`. Reports the rate sustained and the time from sending the POST to the
//! fake receiving the host's message; every check-in must be recorded once and notified once.
//!
//! `cargo bench -p frontdesk-webhooks --bench checkins` (SQLite; PostgreSQL too when
//! `FRONTDESK_TEST_DATABASE_URL` is set). Method and results: BENCHMARKS.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk_bots::testing::FakeSlack;
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner, percentile};
use frontdesk_webhooks::AppState;

/// Check-ins per second, and for how long.
const RATE: u64 = 200;
const SECONDS: u64 = 30;
/// Hosts the visitors come to see (each linked on Slack).
const HOSTS: usize = 100;

async fn run(name: &str, t: TestDb) {
    let slack = FakeSlack::start(&[]).await;
    let test = TestEngine::with_chat(&t, Arc::new(slack.bot()));
    let engine = test.engine.clone();
    let (_, owner) = acme_owner(&engine).await;
    let location = LocationInput {
        slug: "hq".into(),
        name: "Head office".into(),
        time_zone: "Asia/Tokyo".into(),
    };
    engine.create_location(&owner, location).await.unwrap();
    for n in 0..HOSTS {
        let input = EmployeeInput {
            email: format!("host{n}@acme.example"),
            name: format!("Host {n}"),
            name_kana: String::new(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Chat,
            chat_identities: [(Platform::Slack, format!("U{n}"))].into(),
        };
        engine.create_employee(&owner, input).await.unwrap();
    }
    let (_, code) = engine.add_kiosk(&owner, "hq", "Bench").await.unwrap();

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
    let dispatcher = {
        let mut stopped = stopped.clone();
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .run_dispatcher(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        })
    };

    // Pair the kiosk as a tablet does: the device cookie comes back from the server.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let paired = client
        .post(format!("{base}/api/v1/kiosk/hq/pairing"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(paired.status(), 204);
    let cookie = paired.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let total = (RATE * SECONDS) as usize;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut requests = Vec::with_capacity(total);
    for n in 0..total {
        ticks.tick().await;
        let (client, cookie, url) = (
            client.clone(),
            cookie.clone(),
            format!("{base}/api/v1/kiosk/hq/checkins"),
        );
        requests.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "host": format!("host{}@acme.example", n % HOSTS),
                "visitor_name": format!("Visitor {n}"),
                "visitor_company": "Bench Co",
            });
            let sent = Instant::now();
            let response = client
                .post(url)
                .header("cookie", cookie)
                .header("idempotency-key", format!("bench-{n}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201, "check-in {n}");
            (n, sent, sent.elapsed())
        }));
    }
    let mut sent_at = HashMap::with_capacity(total);
    let mut answers = Vec::with_capacity(total);
    for request in requests {
        let (n, sent, took) = request.await.unwrap();
        sent_at.insert(n, sent);
        answers.push(took.as_secs_f64() * 1000.0);
    }
    let offered = total as f64 / started.elapsed().as_secs_f64();
    slack.wait_for("chat.postMessage", total).await;
    let _ = stop.send(true);
    server.await.unwrap();
    dispatcher.await.unwrap();

    let posts = slack.succeeded("chat.postMessage");
    let mut millis: Vec<f64> = posts
        .iter()
        .filter_map(|call| {
            let text = call.args["text"].as_str()?;
            let n: usize = text
                .strip_prefix("Visitor ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let at = sent_at.get(&n)?;
            Some(call.at.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    assert_eq!(posts.len(), total, "every host notified once");
    assert_eq!(millis.len(), total, "every notice names its visitor");
    let on_site = engine.on_site(&owner, Some("hq")).await.unwrap();
    assert_eq!(on_site.len(), total, "every check-in recorded once");
    millis.sort_by(f64::total_cmp);
    answers.sort_by(f64::total_cmp);
    println!(
        "{name}: {total} check-ins at {offered:.0}/s; POST answered p50 {:.1} ms, p99 {:.1} ms; \
         POST → chat.postMessage p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&answers, 50.0),
        percentile(&answers, 99.0),
        percentile(&millis, 50.0),
        percentile(&millis, 95.0),
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
