//! The scheduler with two instances on one database: each fire runs exactly once, and a
//! run abandoned by a dead instance is taken over once its lease lapses.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use common::{ManualClock, start};
use frontdesk_core::Error;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::scheduler::{Job, Scheduler};
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::{TestDb, TestEngine};
use tokio::sync::Notify;

const EVERY_MINUTE: &str = "0 * * * * *";

/// A job named `count` that counts its runs.
fn counting_job(counter: &Arc<AtomicUsize>) -> Job {
    let counter = counter.clone();
    Job::new("count", EVERY_MINUTE, move |_engine: Engine| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
    .unwrap()
}

/// One row of `job_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    fire_at: DateTime<Utc>,
    owner: String,
    state: String,
    attempts: i64,
    error: Option<String>,
}

/// The rows of `job_runs` for the job `count`, by fire.
async fn runs(db: &Db) -> Vec<Run> {
    const SQL: &str = "SELECT fire_at, owner, state, attempts, error FROM job_runs \
        WHERE job = 'count' ORDER BY fire_at";
    let rows: Vec<(i64, String, String, i64, Option<String>)> = match db {
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
    };
    rows.into_iter()
        .map(|(fire_at, owner, state, attempts, error)| Run {
            fire_at: DateTime::from_timestamp_millis(fire_at).unwrap(),
            owner,
            state,
            attempts,
            error,
        })
        .collect()
}

/// Two engines, as two server instances would have: one database, separate pools, one clock.
async fn two_instances(db: &Db, url: &str) -> (Engine, Engine, Arc<ManualClock>) {
    let TestEngine { engine, clock, .. } = TestEngine::on_db(db.clone());
    let second_db = Db::connect(url).await.expect("second connection pool");
    let second = Engine::new(
        second_db,
        engine.ports.clone(),
        engine.settings.as_ref().clone(),
    );
    (engine, second, clock)
}

fn minute(n: i64) -> DateTime<Utc> {
    start() + Duration::minutes(n)
}

storage_tests! {
    async fn two_instances_run_each_fire_exactly_once(t: &TestDb) {
        let (engine_a, engine_b, clock) = two_instances(&t.db, t.url()).await;
        let counter = Arc::new(AtomicUsize::new(0));
        let a = Scheduler::new(engine_a, vec![counting_job(&counter)]);
        let b = Scheduler::new(engine_b.clone(), vec![counting_job(&counter)]);

        // Starting up fires nothing: the first fire is the next minute.
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        assert_eq!((ra.unwrap(), rb.unwrap()), (0, 0));

        for round in 1..=6 {
            clock.advance(Duration::minutes(1));
            let (ra, rb) = tokio::join!(a.tick(), b.tick());
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert_eq!(
                ra + rb,
                1,
                "round {round}: one instance runs the fire ({ra} + {rb})"
            );
            assert_eq!(counter.load(Ordering::SeqCst), round);

            // Ticking again within the same minute runs nothing more.
            let (ra, rb) = tokio::join!(a.tick(), b.tick());
            assert_eq!((ra.unwrap(), rb.unwrap()), (0, 0), "round {round}");
        }

        assert_eq!(counter.load(Ordering::SeqCst), 6);
        let runs = runs(&t.db).await;
        assert_eq!(
            runs.iter().map(|r| r.fire_at).collect::<Vec<_>>(),
            (1..=6).map(minute).collect::<Vec<_>>()
        );
        for run in &runs {
            assert_eq!(
                (run.state.as_str(), run.attempts, run.error.as_deref()),
                ("done", 1, None),
                "{run:?}"
            );
            assert!(run.owner == a.owner() || run.owner == b.owner(), "{run:?}");
        }
        engine_b.db.close().await;
    }

    async fn fires_missed_while_every_instance_was_down_run_once(t: &TestDb) {
        let (engine_a, engine_b, clock) = two_instances(&t.db, t.url()).await;
        let counter = Arc::new(AtomicUsize::new(0));
        let a = Scheduler::new(engine_a.clone(), vec![counting_job(&counter)]);
        assert_eq!(a.tick().await.unwrap(), 0);
        clock.advance(Duration::minutes(1));
        assert_eq!(a.tick().await.unwrap(), 1);
        drop(a);

        // Both instances start again ten minutes later: the latest missed fire runs, once.
        clock.advance(Duration::minutes(10));
        let a = Scheduler::new(engine_a, vec![counting_job(&counter)]);
        let b = Scheduler::new(engine_b.clone(), vec![counting_job(&counter)]);
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        assert_eq!(ra.unwrap() + rb.unwrap(), 1);
        assert_eq!(counter.load(Ordering::SeqCst), 2);
        let fires: Vec<_> = runs(&t.db).await.into_iter().map(|r| r.fire_at).collect();
        assert_eq!(fires, [minute(1), minute(11)]);
        engine_b.db.close().await;
    }

    async fn a_run_abandoned_mid_way_is_taken_over_after_its_lease(t: &TestDb) {
        let (engine_a, engine_b, clock) = two_instances(&t.db, t.url()).await;

        // Instance A's job starts, then hangs for ever.
        let started = Arc::new(Notify::new());
        let never = Arc::new(Notify::new());
        let hanging = {
            let (started, never) = (started.clone(), never.clone());
            Job::new("count", EVERY_MINUTE, move |_engine: Engine| {
                let (started, never) = (started.clone(), never.clone());
                async move {
                    started.notify_one();
                    never.notified().await;
                    Ok(())
                }
            })
            .unwrap()
        };
        let a = Arc::new(Scheduler::new(engine_a, vec![hanging]));
        let counter = Arc::new(AtomicUsize::new(0));
        let b = Scheduler::new(engine_b.clone(), vec![counting_job(&counter)]);
        assert_eq!(a.tick().await.unwrap(), 0);
        assert_eq!(b.tick().await.unwrap(), 0);

        clock.advance(Duration::minutes(1));
        let ticking = tokio::spawn({
            let a = a.clone();
            async move { a.tick().await }
        });
        started.notified().await;
        let claimed = runs(&t.db).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (
                claimed[0].fire_at,
                claimed[0].owner.as_str(),
                claimed[0].state.as_str()
            ),
            (minute(1), a.owner(), "running")
        );

        // Instance A dies.
        ticking.abort();
        assert!(ticking.await.unwrap_err().is_cancelled());

        // While A's lease holds, B leaves the run alone.
        assert_eq!(b.tick().await.unwrap(), 0);
        assert_eq!(counter.load(Ordering::SeqCst), 0);
        clock.advance(Duration::seconds(59));
        assert_eq!(b.tick().await.unwrap(), 0);
        assert_eq!(runs(&t.db).await[0].state, "running");

        // Past the 60 s lease B takes the run over (and runs the 00:02 fire that is also due).
        clock.advance(Duration::seconds(2));
        assert_eq!(b.tick().await.unwrap(), 2);
        assert_eq!(counter.load(Ordering::SeqCst), 2);
        let runs = runs(&t.db).await;
        let summary: Vec<_> = runs
            .iter()
            .map(|r| (r.fire_at, r.owner.as_str(), r.state.as_str(), r.attempts))
            .collect();
        assert_eq!(
            summary,
            [
                (minute(1), b.owner(), "done", 2),
                (minute(2), b.owner(), "done", 1)
            ]
        );

        // Nothing is left to take over.
        clock.advance(Duration::seconds(30));
        assert_eq!(b.tick().await.unwrap(), 0);
        assert_eq!(counter.load(Ordering::SeqCst), 2);
        engine_b.db.close().await;
    }

    async fn a_failing_job_is_recorded_with_its_error_and_not_retried(t: &TestDb) {
        let (engine_a, engine_b, clock) = two_instances(&t.db, t.url()).await;
        let attempts = Arc::new(AtomicUsize::new(0));
        let failing = |attempts: Arc<AtomicUsize>| {
            Job::new("count", EVERY_MINUTE, move |_engine: Engine| {
                let attempts = attempts.clone();
                async move {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err(Error::internal("sending", std::io::Error::other("the mail server is on fire")))
                }
            })
            .unwrap()
        };
        let a = Scheduler::new(engine_a, vec![failing(attempts.clone())]);
        let b = Scheduler::new(engine_b.clone(), vec![failing(attempts.clone())]);
        assert_eq!(a.tick().await.unwrap() + b.tick().await.unwrap(), 0);
        clock.advance(Duration::minutes(1));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        assert_eq!(ra.unwrap() + rb.unwrap(), 1);

        let runs = runs(&t.db).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].state, "failed");
        assert!(
            runs[0]
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("the mail server is on fire"),
            "{runs:?}"
        );

        // A failed run is finished, not abandoned: nobody takes it over.
        clock.advance(Duration::seconds(90));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        assert_eq!(ra.unwrap() + rb.unwrap(), 1, "only the 00:02 fire");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        engine_b.db.close().await;
    }
}
