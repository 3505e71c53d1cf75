//! Expanding an ICS feed to busy time: 2,000 events, 200 of them recurring series (daily,
//! weekly on several days, monthly; some with EXDATEs and a moved occurrence), in three
//! zones, over 90 days. Target: < 20 ms. Method and results: BENCHMARKS.md.

use std::fmt::Write;
use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate};
use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use frontdesk_connectors::ics;

const ZONES: [&str; 3] = ["Asia/Tokyo", "America/New_York", "Tokyo Standard Time"];

/// A feed like a busy person's year: one-off meetings spread over 90 days, and series.
fn feed() -> String {
    let first = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut ics =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Frontdesk//bench//EN\r\n");
    for n in 0..1_800u32 {
        let day = first + Duration::days(i64::from(n % 90));
        let hour = 8 + n % 10;
        let zone = ZONES[n as usize % 3];
        let _ = write!(
            ics,
            "BEGIN:VEVENT\r\nUID:single-{n}\r\nDTSTART;TZID={zone}:{}T{hour:02}{:02}00\r\n\
             DTEND;TZID={zone}:{}T{hour:02}{:02}00\r\nSUMMARY:Meeting {n}\r\nEND:VEVENT\r\n",
            day.format("%Y%m%d"),
            (n % 2) * 30,
            day.format("%Y%m%d"),
            (n % 2) * 30 + 25,
        );
    }
    let rules = [
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        "FREQ=MONTHLY;BYDAY=1FR",
        "FREQ=WEEKLY;UNTIL=20261215T000000Z",
    ];
    for n in 0..200u32 {
        // Series that began up to a year before the range, as real ones do.
        let start = first - Duration::days(i64::from(n) * 2);
        let zone = ZONES[n as usize % 3];
        let hour = 9 + n % 8;
        let _ = write!(
            ics,
            "BEGIN:VEVENT\r\nUID:series-{n}\r\nDTSTART;TZID={zone}:{}T{hour:02}0000\r\n\
             DURATION:PT45M\r\nRRULE:{}\r\nEXDATE;TZID={zone}:{}T{hour:02}0000\r\nEND:VEVENT\r\n",
            start.format("%Y%m%d"),
            rules[n as usize % rules.len()],
            (start + Duration::days(7)).format("%Y%m%d"),
        );
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

fn expanding_a_feed(c: &mut Criterion) {
    let text = feed();
    let from = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
        .unwrap()
        .timestamp();
    let to = from + 90 * 86_400;
    let parsed = ics::parse(&text).unwrap();
    assert_eq!(parsed.len(), 2_000);
    let busy = parsed.busy(from, to, Tz::Asia__Tokyo).unwrap();
    println!(
        "{} bytes, 2,000 events → {} busy blocks over 90 days",
        text.len(),
        busy.len()
    );

    c.bench_function("parse 2,000 events", |b| {
        b.iter(|| ics::parse(black_box(&text)).unwrap())
    });
    c.bench_function("busy over 90 days (parsed feed)", |b| {
        b.iter(|| {
            parsed
                .busy(black_box(from), black_box(to), Tz::Asia__Tokyo)
                .unwrap()
        })
    });
    c.bench_function("parse and busy over 90 days", |b| {
        b.iter(|| {
            ics::parse(black_box(&text))
                .unwrap()
                .busy(from, to, Tz::Asia__Tokyo)
                .unwrap()
        })
    });
}

criterion_group!(benches, expanding_a_feed);
criterion_main!(benches);
