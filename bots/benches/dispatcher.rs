//! The outbox dispatcher against the fake Slack Web API: throughput draining a backlog, and
//! the latency from a notice's commit to the fake receiving its `chat.postMessage`, with
//! notices committed at a steady rate while the dispatcher runs as it does in the server.
//!
//! `cargo bench -p frontdesk-bots --bench dispatcher` (SQLite; PostgreSQL too when
//! `FRONTDESK_TEST_DATABASE_URL` is set). Method and results: BENCHMARKS.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk_bots::testing::FakeSlack;
use frontdesk_core::domain::chat::Message;
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner, percentile};

/// Notices in the backlog drained for throughput.
const BACKLOG: usize = 5_000;
/// Notices committed one by one, at [`RATE`] per second, for latency.
const STREAM: usize = 5_000;
const RATE: u64 = 500;
/// People the notices go to (each linked on Slack).
const PEOPLE: usize = 100;

struct Bench {
    engine: Engine,
    tenant_id: i64,
    people: Vec<Employee>,
    slack: FakeSlack,
    _test: TestEngine,
}

async fn setup(t: &TestDb) -> Bench {
    let slack = FakeSlack::start(&[]).await;
    let test = TestEngine::with_chat(t, Arc::new(slack.bot()));
    let engine = test.engine.clone();
    let (tenant, owner) = acme_owner(&engine).await;
    let mut people = Vec::with_capacity(PEOPLE);
    for n in 0..PEOPLE {
        let input = EmployeeInput {
            email: format!("p{n}@acme.example"),
            name: format!("Person {n}"),
            name_kana: String::new(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Chat,
            chat_identities: [(Platform::Slack, format!("U{n}"))].into(),
        };
        people.push(engine.create_employee(&owner, input).await.unwrap());
    }
    Bench {
        engine,
        tenant_id: tenant.id,
        people,
        slack,
        _test: test,
    }
}

impl Bench {
    /// Queues notices `range` (one per person in turn) in one transaction.
    async fn queue(&self, range: std::ops::Range<usize>) {
        let mut tx = self.engine.db.write().await.unwrap();
        for n in range {
            let person = &self.people[n % PEOPLE];
            let message = Message::text(format!("bench notice {n}"));
            self.engine
                .notify_employee(
                    &mut tx,
                    self.tenant_id,
                    person,
                    &format!("bench:{n}"),
                    &message,
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    fn posted(&self) -> usize {
        self.slack.succeeded("chat.postMessage").len()
    }
}

async fn throughput(bench: &Bench) -> f64 {
    for start in (0..BACKLOG).step_by(500) {
        bench.queue(start..start + 500).await;
    }
    let started = Instant::now();
    let handled = bench.engine.dispatch_due().await.unwrap();
    let took = started.elapsed();
    assert_eq!(handled, BACKLOG);
    assert_eq!(bench.posted(), BACKLOG, "every notice posted once");
    BACKLOG as f64 / took.as_secs_f64()
}

/// Milliseconds from commit to the fake receiving each notice, sorted.
async fn latency(bench: &Bench) -> Vec<f64> {
    let first = BACKLOG;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = bench.engine.clone();
    let dispatcher = tokio::spawn(async move {
        engine
            .run_dispatcher(async {
                let _ = stopped.await;
            })
            .await;
    });
    let mut committed = HashMap::with_capacity(STREAM);
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    for n in first..first + STREAM {
        ticks.tick().await;
        bench.queue(n..n + 1).await;
        committed.insert(n, Instant::now());
        bench.engine.outbox_queued.notify_one();
    }
    bench
        .slack
        .wait_for("chat.postMessage", first + STREAM)
        .await;
    let _ = stop.send(());
    dispatcher.await.unwrap();

    let mut millis: Vec<f64> = bench
        .slack
        .succeeded("chat.postMessage")
        .into_iter()
        .filter_map(|call| {
            let text = call.args["text"].as_str()?.to_owned();
            let n: usize = text.strip_prefix("bench notice ")?.parse().ok()?;
            let at = committed.get(&n)?;
            Some(call.at.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    assert_eq!(millis.len(), STREAM, "every streamed notice posted once");
    millis.sort_by(f64::total_cmp);
    millis
}

async fn run(name: &str, t: TestDb) {
    let bench = setup(&t).await;
    let per_second = throughput(&bench).await;
    let millis = latency(&bench).await;
    println!(
        "{name}: backlog of {BACKLOG} drained at {per_second:.0} notices/s; \
         {STREAM} notices at {RATE}/s, commit → chat.postMessage p50 {:.1} ms, p95 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
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
