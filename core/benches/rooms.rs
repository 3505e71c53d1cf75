//! Rooms at scale: 10,000 rooms with 100,000 bookings (ten a day each, 08:00–18:00 Tokyo,
//! 50 minutes on the hour, organized by 1,000 employees). Issue 11's targets: a release
//! sweep in < 200 ms, the free-now query in < 20 ms.
//!
//! - `sweep, nothing due`: the sweep at 10:20, when every running meeting was recorded at
//!   10:00 and the no-shows released at 10:10 (what every sweep but one an hour does).
//! - `sweep at the hour, reminding 10000`: the sweep at 10:00, when every room's meeting
//!   begins: it records them all and reminds each organizer.
//! - `sweep releasing N`: the sweep at 10:10 when N of the 10:00 meetings had nobody check
//!   in (300: 3 %, what one sweep meets when starts spread over the hour; 3,000: 30 %, every
//!   no-show of a top-of-the-hour start at once), so it releases them, shortens their
//!   events and queues a notice to each organizer. The state is put back before each run
//!   (not timed).
//! - `sweep nudging 10000`: the sweep at 10:56 when every room's meeting is in use until
//!   11:00 and the room is booked from then: it tells each meeting's occupants.
//! - `free now`: rooms for 4 people with a display, free for 30 minutes, at 10:55 (every
//!   room between meetings), at 10:20 (every room taken but the 3,000 released) and at
//!   10:05 (every room taken: the no-shows are not released yet, so each room is ruled out).
//!
//! SQLite always; PostgreSQL too when `FRONTDESK_TEST_DATABASE_URL` is set.
//! `cargo bench -p frontdesk-core --bench rooms`

use std::hint::black_box;
use std::time::Duration as StdDuration;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use frontdesk_core::domain::calendar::{Interval, Owner, Provider};
use frontdesk_core::domain::people::{Lang, NotificationPreference};
use frontdesk_core::domain::room::RoomWanted;
use frontdesk_core::engine::Engine;
use frontdesk_core::store::calendar::{self, EventFacts};
use frontdesk_core::store::employee::{self, EmployeeProfile};
use frontdesk_core::store::room::{self, Room};
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner};

const ROOMS: usize = 10_000;
const PER_ROOM: i64 = 10;
const ORGANIZERS: usize = 1_000;

/// 2026-11-25 `hour`:`minute` in Tokyo, epoch seconds.
fn tokyo(hour: u32, minute: u32) -> i64 {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(2026, 11, 25, hour, minute, 0)
        .unwrap()
        .timestamp()
}

fn set_clock(clock: &ManualClock, at: i64) {
    use frontdesk_core::port::Clock;
    let target = Utc.timestamp_opt(at, 0).unwrap();
    clock.advance(target - clock.now());
}

/// The rooms, their calendars, their bookings and the organizers, written in one
/// transaction; the tenant's id.
async fn seed(engine: &Engine) -> i64 {
    let (tenant, _) = acme_owner(engine).await;
    let mut tx = engine.db.write().await.unwrap();
    let mut organizers = Vec::with_capacity(ORGANIZERS);
    for i in 0..ORGANIZERS {
        let email = format!("person{i}@acme.example");
        let profile = EmployeeProfile {
            email: email.clone(),
            name: format!("Person {i}"),
            name_kana: "ぱーそん".into(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Email,
            chat_identities: Default::default(),
        };
        employee::insert(&mut tx, tenant.id, &profile, 0)
            .await
            .unwrap();
        organizers.push(email);
    }
    for i in 0..ROOMS {
        let room = Room {
            id: 0,
            slug: format!("room-{i}"),
            name: format!("Room {i}"),
            capacity: [4, 6, 8, 12][i % 4],
            time_zone: "Asia/Tokyo".into(),
            equipment: if i % 2 == 0 {
                "display video"
            } else {
                "whiteboard"
            }
            .into(),
            floor: Some((i / 100) as i64),
            location_id: None,
            release_policy: "{}".into(),
        };
        let id = room::insert_room(&mut tx, tenant.id, &room, 0)
            .await
            .unwrap();
        let calendar = calendar::insert(
            &mut tx,
            tenant.id,
            Owner::Room(id),
            Provider::Local,
            false,
            0,
        )
        .await
        .unwrap();
        for hour in 0..PER_ROOM {
            let start = tokyo(8, 0) + hour * 3600;
            let organizer = &organizers[(i * PER_ROOM as usize + hour as usize) % ORGANIZERS];
            let facts = EventFacts {
                organizer: Some(organizer),
                private: false,
                series: None,
                booked_at: Some(tokyo(0, 0) * 1000),
            };
            calendar::upsert_event(
                &mut tx,
                calendar,
                tenant.id,
                &format!("b{i}-{hour}"),
                start * 1000,
                (start + 50 * 60) * 1000,
                None,
                &facts,
            )
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    tenant.id
}

/// Runs `sql` binding `values`, in one transaction.
async fn execute(engine: &Engine, sql: &'static str, values: &[i64]) {
    let mut tx = engine.db.write().await.unwrap();
    match &mut tx {
        frontdesk_core::store::Tx::Sqlite(c) => {
            let mut query = sqlx::query(sql);
            for value in values {
                query = query.bind(*value);
            }
            query.execute(&mut **c).await.unwrap();
        }
        frontdesk_core::store::Tx::Postgres(c) => {
            let mut query = sqlx::query(sql);
            for value in values {
                query = query.bind(*value);
            }
            query.execute(&mut **c).await.unwrap();
        }
        _ => unreachable!(),
    }
    tx.commit().await.unwrap();
}

/// Clears old row versions and gathers statistics, as PostgreSQL's autovacuum does (outside
/// a transaction, as `VACUUM` must run). SQLite is left as the server leaves it: without
/// statistics (gathering them slowed the public slots read by a third; BENCHMARKS.md).
async fn vacuum(engine: &Engine) {
    if let frontdesk_core::store::Db::Postgres(pool) = &engine.db {
        sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
    }
}

/// Forgets the 10:00 meetings and the queued reminders, as before the 10:00 sweep.
async fn before_the_hour(engine: &Engine) {
    let sql = "DELETE FROM room_meetings WHERE starts_at = $1";
    execute(engine, sql, &[tokyo(10, 0) * 1000]).await;
    execute(engine, "DELETE FROM outbox", &[]).await;
}

/// Makes `no_shows_per_thousand` of the 10:00 meetings no-shows (spread evenly over the
/// rooms) and the others checked in; nothing released yet, the outbox empty. Only the rows
/// the last run changed are changed back, and the old row versions are vacuumed away, as
/// autovacuum does between a live server's sweeps (a run that met the versions dozens of
/// earlier runs left would measure the benchmark's own churn).
async fn before_the_release(engine: &Engine, no_shows_per_thousand: i64) {
    execute(
        engine,
        "UPDATE room_meetings SET released_at = NULL, checked_in_at = NULL \
         WHERE starts_at = $1 AND (id % 1000) < $2 \
         AND (released_at IS NOT NULL OR checked_in_at IS NOT NULL)",
        &[tokyo(10, 0) * 1000, no_shows_per_thousand],
    )
    .await;
    execute(
        engine,
        "UPDATE room_meetings SET released_at = NULL, checked_in_at = starts_at + 120000 \
         WHERE starts_at = $1 AND (id % 1000) >= $2 \
         AND (released_at IS NOT NULL OR checked_in_at IS NULL)",
        &[tokyo(10, 0) * 1000, no_shows_per_thousand],
    )
    .await;
    execute(
        engine,
        "UPDATE calendar_events SET ends_at = starts_at + 3000000 \
         WHERE ends_at <> starts_at + 3000000",
        &[],
    )
    .await;
    execute(engine, "DELETE FROM outbox", &[]).await;
    vacuum(engine).await;
}

/// Makes every 10:00 meeting checked in and booked until 11:00, when the room's next
/// meeting starts.
async fn in_use_until_the_next(engine: &Engine) {
    let start = tokyo(10, 0) * 1000;
    execute(
        engine,
        "UPDATE room_meetings SET checked_in_at = starts_at + 120000, released_at = NULL, \
         ends_at = starts_at + 3600000 WHERE starts_at = $1",
        &[start],
    )
    .await;
    execute(
        engine,
        "UPDATE calendar_events SET ends_at = starts_at + 3600000 WHERE starts_at = $1",
        &[start],
    )
    .await;
}

/// Forgets the end nudges and the queued messages.
async fn before_the_nudge(engine: &Engine) {
    execute(engine, "UPDATE room_meetings SET nudged_at = NULL", &[]).await;
    execute(engine, "DELETE FROM outbox", &[]).await;
}

fn bench_backend(c: &mut Criterion, name: &str, db: TestDb, runtime: &tokio::runtime::Runtime) {
    let TestEngine { engine, clock, .. } = TestEngine::on(&db);
    let tenant_id = runtime.block_on(seed(&engine));
    // 10:00: every room's meeting begins, is recorded and its organizer reminded.
    set_clock(&clock, tokyo(10, 0));
    let first = runtime.block_on(engine.sweep_rooms()).unwrap();
    assert_eq!(first.recorded, ROOMS);
    // The planner's statistics, as a database in use has them: PostgreSQL's autovacuum
    // gathers them within a minute of a bulk change (SQLite gathers none); here they are
    // gathered at once, after the meetings and the reminders' outbox rows exist.
    // (Gathered before, they describe those two tables as empty, and PostgreSQL then reads
    // a row by its id with a scan of the whole table: 1 ms a statement instead of 0.05.)
    runtime.block_on(vacuum(&engine));
    let mut group = c.benchmark_group(format!("rooms ({name})"));
    group.sample_size(10);
    group.measurement_time(StdDuration::from_secs(20));

    // 10:00 once more: every meeting recorded and its organizer reminded anew (the records
    // and the outbox are cleared before each run, not timed).
    group.bench_function(format!("sweep at the hour, reminding {ROOMS}"), |b| {
        b.iter_batched(
            || runtime.block_on(before_the_hour(&engine)),
            |()| {
                let sweep = runtime.block_on(engine.sweep_rooms()).unwrap();
                assert_eq!((sweep.recorded, sweep.reminded), (ROOMS, ROOMS));
                sweep
            },
            BatchSize::PerIteration,
        )
    });

    // The searches see the rooms as a live server does at 10:10: one sweep released the
    // 3,000 no-shows (their events now end at 10:10), and autovacuum cleared the old row
    // versions the runs above left (which a search for busy rooms would visit). They run
    // before the release runs, which put each 10:00 meeting back dozens of times.
    set_clock(&clock, tokyo(10, 10));
    runtime.block_on(before_the_release(&engine, 300));
    let sweep = runtime.block_on(engine.sweep_rooms()).unwrap();
    assert_eq!(sweep.released, 3_000);
    runtime.block_on(vacuum(&engine));
    let wanted = RoomWanted {
        seats: Some(4),
        equipment: vec!["display".into()],
        floor: None,
    };
    group.bench_function("free now, every room taken but the released", |b| {
        let now = tokyo(10, 20);
        let span = Interval::new(now, now + 1800).unwrap();
        b.iter(|| {
            let found = runtime
                .block_on(engine.find_rooms(tenant_id, &wanted, span))
                .unwrap();
            assert!(!found.is_empty());
            black_box(found)
        })
    });
    group.bench_function("free now, every room taken", |b| {
        // 10:05: the no-shows are not released yet, so no room is free: every one is tested.
        let now = tokyo(10, 5);
        let span = Interval::new(now, now + 1800).unwrap();
        b.iter(|| {
            let found = runtime
                .block_on(engine.find_rooms(tenant_id, &wanted, span))
                .unwrap();
            assert!(found.is_empty());
            black_box(found)
        })
    });
    group.bench_function("free now, every room between meetings", |b| {
        let now = tokyo(10, 55);
        let span = Interval::new(now, now + 300).unwrap();
        b.iter(|| {
            let found = runtime
                .block_on(engine.find_rooms(tenant_id, &wanted, span))
                .unwrap();
            assert_eq!(found.len(), 10);
            black_box(found)
        })
    });
    set_clock(&clock, tokyo(10, 10));
    // 3 %: what one sweep meets when starts spread over the hour; 30 %: every no-show of
    // a top-of-the-hour start at once (industry surveys: 25–37 % of meetings go unused).
    for per_thousand in [30, 300] {
        let released = ROOMS * per_thousand as usize / 1000;
        group.bench_function(format!("sweep releasing {released}"), |b| {
            b.iter_batched(
                || runtime.block_on(before_the_release(&engine, per_thousand)),
                |()| {
                    let sweep = runtime.block_on(engine.sweep_rooms()).unwrap();
                    assert_eq!(sweep.released, released);
                    sweep
                },
                BatchSize::PerIteration,
            )
        });
    }

    set_clock(&clock, tokyo(10, 20));
    runtime.block_on(engine.sweep_rooms()).unwrap();
    group.bench_function("sweep, nothing due", |b| {
        b.iter(|| {
            let sweep = runtime.block_on(engine.sweep_rooms()).unwrap();
            assert_eq!(sweep.released + sweep.recorded, 0);
            black_box(sweep)
        })
    });

    // 10:56: every room's 10:00 meeting is in use and runs until 11:00, when the room's
    // next meeting begins, so each one's occupants are told (the nudges are put back
    // before each run, not timed).
    set_clock(&clock, tokyo(10, 56));
    runtime.block_on(in_use_until_the_next(&engine));
    group.bench_function(format!("sweep nudging {ROOMS}"), |b| {
        b.iter_batched(
            || runtime.block_on(before_the_nudge(&engine)),
            |()| {
                let sweep = runtime.block_on(engine.sweep_rooms()).unwrap();
                assert_eq!(sweep.nudged, ROOMS);
                sweep
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn rooms(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sqlite = runtime.block_on(TestDb::sqlite());
    bench_backend(c, "SQLite", sqlite, &runtime);
    if let Some(postgres) = runtime.block_on(TestDb::postgres()) {
        bench_backend(c, "PostgreSQL", postgres, &runtime);
    }
}

criterion_group!(benches, rooms);
criterion_main!(benches);
