//! Properties of the slot engine over random hours, busy time, rules and spans (around the
//! 2026 DST changes, in zones with half-hour offsets too): no slot touches busy time with
//! its buffers, every slot lies inside a working range on the wall clock, respects the
//! notice and the span; a collective team's slots are free for every host, a round-robin
//! team's for at least one.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use frontdesk_core::domain::booking::{CheckedRules, HostAvailability, LinkKind, link_slots};
use frontdesk_core::domain::calendar::Interval;
use frontdesk_core::domain::slots::{DayRange, SlotRules, WorkingHours, free_slots, local_instant};
use proptest::prelude::*;

const ZONES: [Tz; 6] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::Berlin,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Tokyo,
    chrono_tz::Australia::Adelaide,
    chrono_tz::UTC,
];

/// Days to start from: each 2026 DST change of the zones above, and a plain week.
const STARTS: [&str; 6] = [
    "2026-03-07", // New York springs forward on the 8th
    "2026-03-28", // Berlin springs forward on the 29th
    "2026-10-24", // Berlin falls back on the 25th
    "2026-10-31", // New York falls back on 1 November
    "2026-04-04", // Adelaide falls back on the 5th
    "2026-11-23",
];

fn day_ranges() -> impl Strategy<Value = Vec<DayRange>> {
    // Up to three ranges a day, on a quarter-hour grid, possibly touching midnight.
    prop::collection::vec((0u32..96, 1u32..40), 0..3).prop_map(|pairs| {
        let mut ranges: Vec<DayRange> = pairs
            .into_iter()
            .filter_map(|(start, length)| {
                DayRange::new(start * 15, ((start + length) * 15).min(24 * 60))
            })
            .collect();
        ranges.sort_by_key(|r| r.start_minute);
        ranges
    })
}

fn hours() -> impl Strategy<Value = WorkingHours> {
    (0..ZONES.len(), prop::array::uniform7(day_ranges())).prop_map(|(zone, weekly)| WorkingHours {
        zone: ZONES[zone],
        weekly,
        overrides: BTreeMap::new(),
    })
}

fn rules() -> impl Strategy<Value = SlotRules> {
    (1i64..13, 1i64..13, 0i64..5, 0i64..5, 0i64..49).prop_map(
        |(duration, interval, before, after, notice)| SlotRules {
            duration: duration * 15 * 60,
            interval: interval * 15 * 60,
            buffer_before: before * 15 * 60,
            buffer_after: after * 15 * 60,
            minimum_notice: notice * 30 * 60,
        },
    )
}

/// A span of up to ten days from one of [`STARTS`], a `now` inside it, and busy time.
fn situation() -> impl Strategy<Value = (i64, i64, i64, Vec<Interval>)> {
    (
        0..STARTS.len(),
        1i64..10,
        0i64..48,
        prop::collection::vec((0i64..960, 1i64..24), 0..40),
    )
        .prop_map(|(start, days, now_half_hours, busy)| {
            let day: NaiveDate = STARTS[start].parse().unwrap();
            let from = chrono::Utc
                .from_utc_datetime(&day.and_time(NaiveTime::MIN))
                .timestamp();
            let to = from + days * 86_400;
            let busy = busy
                .into_iter()
                .filter_map(|(at, length)| {
                    Interval::new(from + at * 900, from + (at + length) * 900)
                })
                .collect();
            (from + now_half_hours * 1800, from, to, busy)
        })
}

/// Whether `slot` lies inside one of the day's working ranges of `hours`: it starts at or
/// after the range's start on the wall clock (so not in the second pass through a repeated
/// hour before it), and ends by the range's end read as RFC 5545 reads a local time (the
/// first of two occurrences; in a spring-forward gap, the offset before it, so "02:15" that
/// never happens is 03:15 by the clock).
fn inside_working_hours(hours: &WorkingHours, slot: Interval) -> bool {
    use chrono::Datelike;
    let start = chrono::DateTime::from_timestamp(slot.start, 0)
        .unwrap()
        .with_timezone(&hours.zone);
    let date = start.date_naive();
    let start_minute = start.hour() * 60 + start.minute();
    let range_end = |minute: u32| {
        local_instant(
            hours.zone,
            date.and_time(NaiveTime::MIN) + chrono::Duration::minutes(i64::from(minute)),
        )
    };
    hours.weekly[date.weekday().num_days_from_monday() as usize]
        .iter()
        .any(|r| r.start_minute <= start_minute && slot.end <= range_end(r.end_minute))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_slot_touches_busy_time_and_every_slot_lies_inside_working_hours(
        hours in hours(),
        rules in rules(),
        (now, from, to, busy) in situation(),
    ) {
        let slots = free_slots(&hours, rules, now, from, to, busy.clone());
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start, "in order, no repeats");
        }
        for slot in &slots {
            prop_assert_eq!(slot.end - slot.start, rules.duration);
            prop_assert!(slot.start >= from && slot.end <= to, "inside the span: {:?}", slot);
            prop_assert!(slot.start >= now + rules.minimum_notice, "after the notice: {:?}", slot);
            let (guarded_start, guarded_end) =
                (slot.start - rules.buffer_before, slot.end + rules.buffer_after);
            for b in &busy {
                prop_assert!(
                    b.end <= guarded_start || b.start >= guarded_end,
                    "{:?} with its buffers overlaps busy {:?}", slot, b
                );
            }
            prop_assert!(inside_working_hours(&hours, *slot), "{:?} outside the hours", slot);
        }
    }

    #[test]
    fn a_collective_team_is_free_together_and_round_robin_needs_one_free_host(
        hours in hours(),
        rules in rules(),
        (now, from, to, busy) in situation(),
        split in prop::collection::vec(0usize..3, 40),
    ) {
        // Busy time dealt out over three hosts.
        let mut per_host = vec![Vec::new(), Vec::new(), Vec::new()];
        for (b, host) in busy.iter().zip(split.iter().cycle()) {
            per_host[*host].push(*b);
        }
        let hosts: Vec<HostAvailability> = per_host
            .into_iter()
            .enumerate()
            .map(|(id, busy)| HostAvailability { employee_id: id as i64, busy, full_days: vec![] })
            .collect();
        let checked = CheckedRules {
            hours: hours.clone(),
            durations: vec![rules.duration],
            interval: Some(rules.interval),
            buffer_before: rules.buffer_before,
            buffer_after: rules.buffer_after,
            minimum_notice: rules.minimum_notice,
            max_per_day: None,
            window: 400 * 86_400,
        };
        let alone: Vec<Vec<Interval>> = hosts
            .iter()
            .map(|h| free_slots(&hours, rules, now, from, to, h.busy.clone()))
            .collect();
        let together = link_slots(LinkKind::Collective, &checked, rules.duration, now, (from, to), &hosts);
        for slot in &together {
            prop_assert!(alone.iter().all(|a| a.contains(slot)), "{:?} free for all", slot);
        }
        let any = link_slots(LinkKind::RoundRobin, &checked, rules.duration, now, (from, to), &hosts);
        let mut union: Vec<Interval> = alone.concat();
        union.sort_unstable();
        union.dedup();
        prop_assert_eq!(any, union);
    }
}
