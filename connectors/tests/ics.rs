//! ICS feeds in the shapes calendars really write them, to busy time: recurring series with
//! exceptions, Outlook's Windows zone names and VTIMEZONEs, all-day events, DST changes
//! inside a series, folded lines and LF-only files, and broken feeds named by their line.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use frontdesk_connectors::ics::{self, IcsError};
use frontdesk_core::domain::calendar::Interval;

fn at(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

/// `seconds` as the tests write instants: RFC 3339 in UTC with `Z`.
fn shown(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The busy intervals of `feed` in `[from, to)`, as RFC 3339 pairs in UTC.
fn busy(feed: &str, from: &str, to: &str, floating: Tz) -> Vec<(String, String)> {
    let feed = ics::parse(feed).unwrap();
    feed.busy(at(from), at(to), floating)
        .unwrap()
        .into_iter()
        .map(|Interval { start, end }| (shown(start), shown(end)))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(start, end)| (start.to_string(), end.to_string()))
        .collect()
}

const WEEKLY_WITH_EXCEPTIONS: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
BEGIN:VEVENT\r\n\
UID:standup@example.com\r\n\
DTSTART;TZID=Asia/Tokyo:20261201T100000\r\n\
DTEND;TZID=Asia/Tokyo:20261201T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU\r\n\
EXDATE;TZID=Asia/Tokyo:20261208T100000\r\n\
SUMMARY:Team stand-up\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT10M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:standup@example.com\r\n\
RECURRENCE-ID;TZID=Asia/Tokyo:20261215T100000\r\n\
DTSTART;TZID=Asia/Tokyo:20261216T140000\r\n\
DTEND;TZID=Asia/Tokyo:20261216T150000\r\n\
SUMMARY:Team stand-up (moved)\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

#[test]
fn a_weekly_series_skips_its_exdate_and_moves_its_overridden_occurrence() {
    let shown = busy(
        WEEKLY_WITH_EXCEPTIONS,
        "2026-11-30T00:00:00Z",
        "2027-01-01T00:00:00Z",
        Tz::UTC,
    );
    assert_eq!(
        shown,
        pairs(&[
            ("2026-12-01T01:00:00Z", "2026-12-01T02:00:00Z"),
            // 8 December is excluded; 15 December moved to the 16th, 14:00 Tokyo.
            ("2026-12-16T05:00:00Z", "2026-12-16T06:00:00Z"),
            ("2026-12-22T01:00:00Z", "2026-12-22T02:00:00Z"),
        ])
    );
}

const OUTLOOK: &str = "BEGIN:VCALENDAR\r\n\
METHOD:PUBLISH\r\n\
PRODID:Microsoft Exchange Server 2010\r\n\
VERSION:2.0\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Tokyo Standard Time\r\n\
BEGIN:STANDARD\r\n\
DTSTART:16010101T000000\r\n\
TZOFFSETFROM:+0900\r\n\
TZOFFSETTO:+0900\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Customized Time Zone\r\n\
BEGIN:STANDARD\r\n\
DTSTART:16010101T020000\r\n\
TZOFFSETFROM:-0400\r\n\
TZOFFSETTO:-0500\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\n\
END:STANDARD\r\n\
BEGIN:DAYLIGHT\r\n\
DTSTART:16010101T020000\r\n\
TZOFFSETFROM:-0500\r\n\
TZOFFSETTO:-0400\r\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\n\
END:DAYLIGHT\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:040000008200E00074C5B7101A82E00800000000\r\n\
DTSTART;TZID=Tokyo Standard Time:20261202T090000\r\n\
DTEND;TZID=Tokyo Standard Time:20261202T100000\r\n\
STATUS:CONFIRMED\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:before-the-change\r\n\
DTSTART;TZID=Customized Time Zone:20261028T090000\r\n\
DTEND;TZID=Customized Time Zone:20261028T093000\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:after-the-change\r\n\
DTSTART;TZID=Customized Time Zone:20261104T090000\r\n\
DTEND;TZID=Customized Time Zone:20261104T093000\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:cancelled\r\n\
DTSTART;TZID=Tokyo Standard Time:20261203T090000\r\n\
DTEND;TZID=Tokyo Standard Time:20261203T100000\r\n\
STATUS:CANCELLED\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:free\r\n\
DTSTART;TZID=Tokyo Standard Time:20261204T090000\r\n\
DTEND;TZID=Tokyo Standard Time:20261204T100000\r\n\
TRANSP:TRANSPARENT\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

#[test]
fn outlook_windows_zone_names_and_a_zone_only_its_vtimezone_defines_are_read() {
    let shown = busy(
        OUTLOOK,
        "2026-10-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        Tz::UTC,
    );
    assert_eq!(
        shown,
        pairs(&[
            // "Customized Time Zone", by its VTIMEZONE: daylight time (−4) until 1 November…
            ("2026-10-28T13:00:00Z", "2026-10-28T13:30:00Z"),
            // …standard time (−5) after.
            ("2026-11-04T14:00:00Z", "2026-11-04T14:30:00Z"),
            // "Tokyo Standard Time" is Asia/Tokyo. The cancelled and the free event are not busy.
            ("2026-12-02T00:00:00Z", "2026-12-02T01:00:00Z"),
        ])
    );
}

const ALL_DAY: &str = "BEGIN:VCALENDAR\nVERSION:2.0\n\
BEGIN:VEVENT\nUID:offsite\nDTSTART;VALUE=DATE:20261203\nDTEND;VALUE=DATE:20261205\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:holiday\nDTSTART;VALUE=DATE:20261223\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:floating-lunch\nDTSTART:20261210T120000\nDTEND:20261210T130000\nEND:VEVENT\n\
END:VCALENDAR\n";

#[test]
fn all_day_and_floating_events_are_in_the_calendar_owners_zone() {
    let shown = busy(
        ALL_DAY,
        "2026-12-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        Tz::Asia__Tokyo,
    );
    assert_eq!(
        shown,
        pairs(&[
            // Two whole days in Tokyo.
            ("2026-12-02T15:00:00Z", "2026-12-04T15:00:00Z"),
            ("2026-12-10T03:00:00Z", "2026-12-10T04:00:00Z"),
            // No DTEND: the one day.
            ("2026-12-22T15:00:00Z", "2026-12-23T15:00:00Z"),
        ])
    );
    let in_new_york = busy(
        ALL_DAY,
        "2026-12-10T00:00:00Z",
        "2026-12-11T00:00:00Z",
        Tz::America__New_York,
    );
    assert_eq!(
        in_new_york,
        pairs(&[("2026-12-10T17:00:00Z", "2026-12-10T18:00:00Z")])
    );
}

const ACROSS_DST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nUID:weekly-ny\r\n\
DTSTART;TZID=America/New_York:20261019T100000\r\n\
DURATION:PT1H\r\n\
RRULE:FREQ=WEEKLY;UNTIL=20261110T000000Z\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn a_series_keeps_its_wall_clock_time_across_a_dst_change() {
    let shown = busy(
        ACROSS_DST,
        "2026-10-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
        Tz::UTC,
    );
    assert_eq!(
        shown,
        pairs(&[
            ("2026-10-19T14:00:00Z", "2026-10-19T15:00:00Z"),
            ("2026-10-26T14:00:00Z", "2026-10-26T15:00:00Z"),
            // New York left daylight time on 1 November: 10:00 is now 15:00 UTC.
            ("2026-11-02T15:00:00Z", "2026-11-02T16:00:00Z"),
            ("2026-11-09T15:00:00Z", "2026-11-09T16:00:00Z"),
        ])
    );
}

#[test]
fn folded_lines_and_lf_only_files_read_like_any_other() {
    let folded = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:folded\nSUMMARY:A very long title that \n a calendar folded over two lines\nDTSTART:20261201T090000Z\nDTEND:20261201T\n 100000Z\nRRULE:FREQ=DAILY;CO\n UNT=2\nEND:VEVENT\nEND:VCALENDAR\n";
    let shown = busy(
        folded,
        "2026-12-01T00:00:00Z",
        "2026-12-05T00:00:00Z",
        Tz::UTC,
    );
    assert_eq!(
        shown,
        pairs(&[
            ("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"),
            ("2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z"),
        ])
    );
}

#[test]
fn overlapping_events_merge_and_the_range_clips_them() {
    let feed = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20261201T090000Z\nDTEND:20261201T110000Z\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:b\nDTSTART:20261201T100000Z\nDTEND:20261201T120000Z\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:c\nDTSTART:20261201T120000Z\nDTEND:20261201T123000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    let shown = busy(
        feed,
        "2026-12-01T09:30:00Z",
        "2026-12-02T00:00:00Z",
        Tz::UTC,
    );
    assert_eq!(
        shown,
        pairs(&[("2026-12-01T09:30:00Z", "2026-12-01T12:30:00Z")])
    );
}

fn error_of(feed: &str) -> IcsError {
    ics::parse(feed).expect_err("a broken feed")
}

#[test]
fn a_broken_feed_is_refused_naming_the_line_that_is_wrong() {
    let bad_date = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nDTSTART:2026-12-01 09:00\nEND:VEVENT\nEND:VCALENDAR\n";
    let err = error_of(bad_date);
    assert_eq!(err.line, 5);
    assert!(err.to_string().starts_with("line 5: "), "{err}");
    assert!(err.reason.contains("2026-12-01 09:00"), "{err}");

    let unknown_zone = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART;TZID=Mars/Olympus:20261201T090000\nEND:VEVENT\nEND:VCALENDAR\n";
    let err = error_of(unknown_zone);
    assert_eq!(
        (err.line, err.reason.as_str()),
        (4, "unknown time zone \"Mars/Olympus\"")
    );

    let bad_rule = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20261201T090000Z\nRRULE:FREQ=SOMETIMES\nEND:VEVENT\nEND:VCALENDAR\n";
    assert_eq!(error_of(bad_rule).line, 5);

    assert_eq!(error_of("hello\n").line, 1, "not a calendar at all");
    let unfinished = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20261201T090000Z\n";
    assert!(
        error_of(unfinished).reason.contains("ends before"),
        "{}",
        error_of(unfinished)
    );
    let no_start = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n";
    assert_eq!(
        error_of(no_start),
        IcsError {
            line: 2,
            reason: "a VEVENT without DTSTART".into()
        }
    );
}

#[test]
fn a_series_that_repeats_without_end_is_refused_instead_of_expanded_forever() {
    let every_second = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20261201T090000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY\nEND:VEVENT\nEND:VCALENDAR\n";
    let feed = ics::parse(every_second).unwrap();
    let err = feed
        .busy(
            at("2026-12-01T00:00:00Z"),
            at("2027-03-01T00:00:00Z"),
            Tz::UTC,
        )
        .expect_err("too many occurrences");
    assert_eq!(err.line, 6);
    assert!(err.reason.contains("repeats more than"), "{err}");
}
