//! Free slots: pure, integer time (seconds since the epoch), no I/O.
//!
//! A host's working hours are wall-clock ranges per weekday in the host's zone, replaced on
//! a date by an override (an empty override is a day off). Each range yields slots starting
//! at its start and stepping by the interval in real time, each ending no later than the
//! range's end. Local times follow RFC 5545: a time in a DST gap takes the offset before the
//! gap (02:30 becomes 03:30 on a one-hour spring-forward), a time that occurs twice is its
//! first occurrence. A slot must lie inside `[from, to)`, start no earlier than
//! `now + minimum notice`, and keep its buffers (before and after) clear of busy time.
//!
//! Busy time is merged and sorted once; each candidate is checked by a binary search for
//! the first busy interval ending after the slot's buffered start, so the work is
//! O((b + s) log b) for b busy intervals and s candidates.

use std::collections::BTreeMap;

use chrono::{
    Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike,
};
use chrono_tz::Tz;

use super::calendar::{Interval, merge};

/// A working range in wall-clock minutes after midnight: `[start, end)`, `end` ≤ 24 × 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl DayRange {
    /// `[start, end)` in minutes after midnight; `None` unless `start < end ≤ 1440`.
    pub fn new(start_minute: u32, end_minute: u32) -> Option<DayRange> {
        (start_minute < end_minute && end_minute <= 24 * 60).then_some(DayRange {
            start_minute,
            end_minute,
        })
    }

    /// `"HH:MM"` (`"24:00"` for the end of the day) as minutes after midnight.
    pub fn parse_time(text: &str) -> Option<u32> {
        let (hours, minutes) = text.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
        let total = hours * 60 + minutes;
        (minutes < 60 && total <= 24 * 60).then_some(total)
    }
}

/// When a host works: weekly ranges (Monday first) and dated overrides, in a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingHours {
    pub zone: Tz,
    /// Index 0 is Monday.
    pub weekly: [Vec<DayRange>; 7],
    /// A date's ranges replace its weekday's; an empty list is a day off.
    pub overrides: BTreeMap<NaiveDate, Vec<DayRange>>,
}

impl WorkingHours {
    /// The ranges of `date`.
    fn ranges(&self, date: NaiveDate) -> &[DayRange] {
        match self.overrides.get(&date) {
            Some(ranges) => ranges,
            None => &self.weekly[date.weekday().num_days_from_monday() as usize],
        }
    }
}

/// What a booking link asks of a slot; all in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRules {
    pub duration: i64,
    pub interval: i64,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub minimum_notice: i64,
}

/// The instant of wall-clock `local` in `zone`, by RFC 5545: the first of two occurrences,
/// and for a time in a gap the offset in effect before the gap.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> i64 {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.timestamp(),
        LocalResult::Ambiguous(first, _) => first.timestamp(),
        LocalResult::None => {
            // The offset before the gap is the one a day earlier (no zone has two
            // transitions within a day).
            let before = zone
                .from_local_datetime(&(local - Duration::days(1)))
                .earliest()
                .map(|at| at.offset().fix().local_minus_utc())
                .unwrap_or(0);
            local.and_utc().timestamp() - i64::from(before)
        }
    }
}

/// The free slots in `[from, to)` given `busy`, in order.
pub fn free_slots(
    hours: &WorkingHours,
    rules: SlotRules,
    now: i64,
    from: i64,
    to: i64,
    busy: Vec<Interval>,
) -> Vec<Interval> {
    let mut slots = Vec::new();
    if rules.duration <= 0 || rules.interval <= 0 || from >= to {
        return slots;
    }
    let busy = merge(busy);
    let earliest_start = from.max(now + rules.minimum_notice);
    let Some(first_day) = day_of(hours.zone, from).and_then(|d| d.pred_opt()) else {
        return slots;
    };
    let Some(last_day) = day_of(hours.zone, to).and_then(|d| d.succ_opt()) else {
        return slots;
    };
    for day in first_day.iter_days().take_while(|d| *d <= last_day) {
        for range in hours.ranges(day) {
            let at = |minute: u32| {
                let midnight = day.and_time(NaiveTime::MIN);
                local_instant(hours.zone, midnight + Duration::minutes(i64::from(minute)))
            };
            let (range_start, range_end) = (at(range.start_minute), at(range.end_minute));
            let mut start = range_start;
            while start + rules.duration <= range_end && start + rules.duration <= to {
                let end = start + rules.duration;
                if start >= earliest_start
                    && starts_inside_on_the_wall_clock(hours.zone, start, day, range)
                    && is_clear(&busy, start - rules.buffer_before, end + rules.buffer_after)
                {
                    slots.push(Interval { start, end });
                }
                start += rules.interval;
            }
        }
    }
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// Whether instant `start` reads as a time of `range` on `day`'s wall clock. On a fall-back
/// day a range starting inside the repeated hour (02:15 on a day when 03:00 becomes 02:00)
/// spans, as instants, the second pass through 02:00–02:15 too; those slots would show a
/// time before the range starts, so they are left out.
fn starts_inside_on_the_wall_clock(zone: Tz, start: i64, day: NaiveDate, range: &DayRange) -> bool {
    chrono::DateTime::from_timestamp(start, 0).is_some_and(|at| {
        let local = at.with_timezone(&zone);
        local.date_naive() != day || local.hour() * 60 + local.minute() >= range.start_minute
    })
}

/// The date in `zone` of instant `at`.
fn day_of(zone: Tz, at: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(at, 0).map(|t| t.with_timezone(&zone).date_naive())
}

/// Whether `[start, end)` overlaps nothing in `busy` (sorted, merged).
fn is_clear(busy: &[Interval], start: i64, end: i64) -> bool {
    let first_ending_after = busy.partition_point(|b| b.end <= start);
    busy.get(first_ending_after).is_none_or(|b| b.start >= end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp()
    }

    fn utc(seconds: i64) -> String {
        chrono::DateTime::from_timestamp(seconds, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    fn weekdays(zone: Tz, ranges: &[(&str, &str)]) -> WorkingHours {
        let ranges: Vec<DayRange> = ranges
            .iter()
            .map(|(a, b)| {
                DayRange::new(
                    DayRange::parse_time(a).unwrap(),
                    DayRange::parse_time(b).unwrap(),
                )
                .unwrap()
            })
            .collect();
        WorkingHours {
            zone,
            weekly: [
                ranges.clone(),
                ranges.clone(),
                ranges.clone(),
                ranges.clone(),
                ranges.clone(),
                vec![],
                vec![],
            ],
            overrides: BTreeMap::new(),
        }
    }

    fn rules(duration_min: i64, interval_min: i64) -> SlotRules {
        SlotRules {
            duration: duration_min * 60,
            interval: interval_min * 60,
            buffer_before: 0,
            buffer_after: 0,
            minimum_notice: 0,
        }
    }

    fn starts(slots: &[Interval]) -> Vec<String> {
        slots.iter().map(|s| utc(s.start)).collect()
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_takes_the_offset_before_it_and_a_repeated_time_its_first_occurrence()
     {
        let ny = chrono_tz::America::New_York;
        let gap = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        // EST (-5) before the gap: 02:30 → 07:30Z, which is 03:30 EDT.
        assert_eq!(utc(local_instant(ny, gap)), "2026-03-08T07:30:00Z");
        let twice = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(
            utc(local_instant(ny, twice)),
            "2026-11-01T05:30:00Z",
            "EDT, the first"
        );
    }

    #[test]
    fn slots_step_from_each_range_start_and_end_within_it() {
        let hours = weekdays(
            chrono_tz::Asia::Tokyo,
            &[("09:00", "10:30"), ("13:00", "14:00")],
        );
        // Monday 2026-11-30 in Tokyo.
        let slots = free_slots(
            &hours,
            rules(30, 30),
            0,
            at("2026-11-30T00:00:00+09:00"),
            at("2026-12-01T00:00:00+09:00"),
            vec![],
        );
        assert_eq!(
            starts(&slots),
            [
                "2026-11-30T00:00:00Z",
                "2026-11-30T00:30:00Z",
                "2026-11-30T01:00:00Z",
                "2026-11-30T04:00:00Z",
                "2026-11-30T04:30:00Z"
            ]
        );
    }

    #[test]
    fn busy_time_buffers_minimum_notice_and_the_window_remove_slots() {
        let hours = weekdays(chrono_tz::Asia::Tokyo, &[("09:00", "12:00")]);
        let day = at("2026-11-30T00:00:00+09:00");
        let busy = vec![
            Interval::new(
                at("2026-11-30T10:00:00+09:00"),
                at("2026-11-30T10:30:00+09:00"),
            )
            .unwrap(),
        ];
        let mut r = rules(30, 30);
        r.buffer_before = 15 * 60;
        r.buffer_after = 15 * 60;
        r.minimum_notice = 60 * 60;
        let now = at("2026-11-30T08:30:00+09:00");
        let slots = free_slots(&hours, r, now, day, at("2026-11-30T11:45:00+09:00"), busy);
        // 09:00 is too soon (notice until 09:30); 09:30, 10:00 and 10:30 touch the busy half
        // hour within their buffers; 11:30 would end past `to`. 11:00 JST is left.
        assert_eq!(starts(&slots), ["2026-11-30T02:00:00Z"]);
    }

    fn every_day(zone: Tz, from: &str, to: &str) -> WorkingHours {
        let mut hours = weekdays(zone, &[(from, to)]);
        hours.weekly[5] = hours.weekly[0].clone();
        hours.weekly[6] = hours.weekly[0].clone();
        hours
    }

    #[test]
    fn a_spring_forward_day_has_an_hour_less_and_a_fall_back_day_an_hour_more() {
        let mut ny = every_day(chrono_tz::America::New_York, "09:00", "17:00");
        // An override replaces that Sunday's hours: 01:00–04:00 across the 02:00 gap.
        let sunday = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        ny.overrides
            .insert(sunday, vec![DayRange::new(60, 240).unwrap()]);
        let slots = free_slots(
            &ny,
            rules(60, 60),
            0,
            at("2026-03-08T00:00:00-05:00"),
            at("2026-03-09T00:00:00-04:00"),
            vec![],
        );
        assert_eq!(
            starts(&slots),
            ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]
        );

        let berlin = every_day(chrono_tz::Europe::Berlin, "01:00", "04:00");
        let slots = free_slots(
            &berlin,
            rules(60, 60),
            0,
            at("2026-10-25T00:00:00+02:00"),
            at("2026-10-26T00:00:00+01:00"),
            vec![],
        );
        assert_eq!(
            starts(&slots),
            [
                "2026-10-24T23:00:00Z",
                "2026-10-25T00:00:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T02:00:00Z"
            ]
        );
    }

    #[test]
    fn a_range_starting_inside_the_repeated_hour_offers_no_slot_before_its_start() {
        // Adelaide falls back on 5 April 2026: 03:00 ACDT becomes 02:00 ACST. Hours
        // 02:15–04:30 start at the first 02:15; the second pass through 02:00–02:15 reads
        // as before the start and offers nothing.
        let adelaide = every_day(chrono_tz::Australia::Adelaide, "02:15", "04:30");
        let slots = free_slots(
            &adelaide,
            rules(15, 15),
            0,
            at("2026-04-05T00:00:00+10:30"),
            at("2026-04-06T00:00:00+09:30"),
            vec![],
        );
        let starts = starts(&slots);
        assert_eq!(
            starts.first().unwrap(),
            "2026-04-04T15:45:00Z",
            "02:15 ACDT"
        );
        assert!(
            !starts.contains(&"2026-04-04T16:30:00Z".to_string()),
            "02:00 ACST"
        );
        assert!(!starts.contains(&"2026-04-04T16:40:00Z".to_string()));
        assert!(
            starts.contains(&"2026-04-04T16:45:00Z".to_string()),
            "02:15 ACST"
        );
        assert_eq!(starts.last().unwrap(), "2026-04-04T18:45:00Z", "04:15 ACST");
    }

    #[test]
    fn half_hour_zones_and_days_off() {
        let mut kolkata = every_day(chrono_tz::Asia::Kolkata, "09:00", "10:00");
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let slots = free_slots(
            &kolkata,
            rules(30, 30),
            0,
            at("2026-12-01T00:00:00+05:30"),
            at("2026-12-02T00:00:00+05:30"),
            vec![],
        );
        assert_eq!(
            starts(&slots),
            ["2026-12-01T03:30:00Z", "2026-12-01T04:00:00Z"]
        );
        kolkata.overrides.insert(day, vec![]);
        let slots = free_slots(
            &kolkata,
            rules(30, 30),
            0,
            at("2026-12-01T00:00:00+05:30"),
            at("2026-12-02T00:00:00+05:30"),
            vec![],
        );
        assert!(slots.is_empty(), "an empty override is a day off");
    }

    #[test]
    fn times_are_read_as_hh_mm_up_to_the_end_of_the_day() {
        assert_eq!(DayRange::parse_time("09:30"), Some(570));
        assert_eq!(DayRange::parse_time("24:00"), Some(1440));
        for bad in ["9:30", "24:01", "12:60", "ab:cd", "0930", ""] {
            assert_eq!(DayRange::parse_time(bad), None, "{bad}");
        }
        assert_eq!(DayRange::new(600, 600), None);
    }
}
