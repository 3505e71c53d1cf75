//! The slot engine on one host over 60 days with 2,000 busy intervals (issue 10's target:
//! < 0.2 ms), on the same span with no busy time, and a team of 10 hosts with 2,000 busy
//! intervals each, booked collectively and by round robin (target: < 2 ms).
//!
//! `cargo bench -p frontdesk-core --bench slots`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use frontdesk_core::domain::booking::{CheckedRules, HostAvailability, LinkKind, link_slots};
use frontdesk_core::domain::calendar::Interval;
use frontdesk_core::domain::slots::{DayRange, SlotRules, WorkingHours, free_slots};

/// Weekdays 09:00–12:00 and 13:00–18:00 in Tokyo.
fn hours() -> WorkingHours {
    let day = vec![
        DayRange::new(540, 720).unwrap(),
        DayRange::new(780, 1080).unwrap(),
    ];
    WorkingHours {
        zone: chrono_tz::Asia::Tokyo,
        weekly: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ],
        overrides: BTreeMap::new(),
    }
}

/// `count` busy intervals of 15–90 minutes spread over `days` (deterministic per `seed`).
fn busy_intervals(from: i64, days: i64, count: usize, seed: u64) -> Vec<Interval> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let start = from + (next() % (days as u64 * 86_400)) as i64 / 900 * 900;
            let length = 900 * (1 + (next() % 6) as i64);
            Interval::new(start, start + length).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // Monday 2026-11-30, 00:00 in Tokyo.
    let from = 1_796_482_800;
    let days = 60;
    let to = from + days * 86_400;
    let rules = SlotRules {
        duration: 30 * 60,
        interval: 15 * 60,
        buffer_before: 10 * 60,
        buffer_after: 10 * 60,
        minimum_notice: 3600,
    };
    let hours = hours();
    let busy = busy_intervals(from, days, 2_000, 0);
    let found = free_slots(&hours, rules, from, from, to, busy.clone()).len();
    assert!(found > 100, "the input leaves slots: {found}");
    println!("{found} slots offered");
    c.bench_function("one host, 60 days, 2,000 busy intervals", |b| {
        b.iter(|| {
            free_slots(
                black_box(&hours),
                rules,
                from,
                from,
                to,
                black_box(busy.clone()),
            )
        })
    });
    c.bench_function("one host, 60 days, no busy time", |b| {
        b.iter(|| free_slots(black_box(&hours), rules, from, from, to, Vec::new()))
    });

    // A team of 10: for round robin each host has their own 2,000 busy intervals (20,000
    // in all); a collective team needs all ten free at once, which 20,000 meetings leave
    // nowhere, so there each has 200 (2,000 in all, as for one host).
    let team = |per_host: usize| -> Vec<HostAvailability> {
        (0..10)
            .map(|n| HostAvailability {
                employee_id: n,
                busy: busy_intervals(from, days, per_host, n as u64 + 1),
                full_days: vec![],
            })
            .collect()
    };
    let checked = CheckedRules {
        hours: hours.clone(),
        durations: vec![rules.duration],
        interval: Some(rules.interval),
        buffer_before: rules.buffer_before,
        buffer_after: rules.buffer_after,
        minimum_notice: rules.minimum_notice,
        max_per_day: None,
        window: 90 * 86_400,
    };
    for (kind, name, team) in [
        (
            LinkKind::Collective,
            "team of 10, collective, 60 days, 200 busy each",
            team(200),
        ),
        (
            LinkKind::RoundRobin,
            "team of 10, round robin, 60 days, 2,000 busy each",
            team(2_000),
        ),
    ] {
        let found = link_slots(kind, &checked, rules.duration, from, (from, to), &team).len();
        println!("{name}: {found} slots offered");
        c.bench_function(name, |b| {
            b.iter(|| {
                link_slots(
                    kind,
                    &checked,
                    rules.duration,
                    from,
                    (from, to),
                    black_box(&team),
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
