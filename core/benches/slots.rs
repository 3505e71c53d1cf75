//! The slot engine on one host over 60 days with 2,000 busy intervals (issue 10's target:
//! < 0.2 ms), and on the same span with no busy time.
//!
//! `cargo bench -p frontdesk-core --bench slots`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
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

/// 2,000 busy intervals of 15–90 minutes spread over `days` (deterministic).
fn busy(from: i64, days: i64) -> Vec<Interval> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..2_000)
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
    let busy = busy(from, days);
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
