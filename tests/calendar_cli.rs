//! `frontdesk calendar busy`: an admin's look at an ICS file's busy time, as JSON lines in
//! UTC, merged; a broken file named by its line.

mod support;

use support::run_cli;

const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTART;TZID=Asia/Tokyo:20261201T100000\r\nDTEND;TZID=Asia/Tokyo:20261201T110000\r\n\
RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Asia/Tokyo:20261202T100000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:review\r\nDTSTART;TZID=Tokyo Standard Time:20261201T103000\r\nDTEND;TZID=Tokyo Standard Time:20261201T120000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:offsite\r\nDTSTART;VALUE=DATE:20261204\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

async fn busy(feed: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alice.ics");
    std::fs::write(&file, feed).unwrap();
    let mut all = vec!["calendar", "busy", "--ics", file.to_str().unwrap()];
    all.extend_from_slice(args);
    run_cli(&all, "").await
}

#[tokio::test]
async fn the_busy_time_of_a_feed_is_printed_in_utc_merged_within_the_days_asked_for() {
    let out = busy(
        FEED,
        &[
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-04",
            "--tz",
            "Asia/Tokyo",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        concat!(
            // 10:00–11:00 and the review 10:30–12:00 in Tokyo: one block.
            "{\"start\":\"2026-12-01T01:00:00Z\",\"end\":\"2026-12-01T03:00:00Z\"}\n",
            // 2 December is excluded; the 4th (all day) is past --to's midnight.
            "{\"start\":\"2026-12-03T01:00:00Z\",\"end\":\"2026-12-03T02:00:00Z\"}\n",
        )
    );

    // In UTC the all-day event is the whole UTC day, and the days start at UTC midnight.
    let out = busy(FEED, &["--from", "2026-12-04", "--to", "2026-12-05"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        // The stand-up (01:00–02:00 UTC) lies inside the all-day block: one block.
        "{\"start\":\"2026-12-04T00:00:00Z\",\"end\":\"2026-12-05T00:00:00Z\"}\n",
        "overlapping blocks merge into one"
    );
}

#[tokio::test]
async fn a_broken_file_or_a_bad_argument_exits_1_saying_what_is_wrong() {
    let broken = FEED.replace(
        "DTEND;TZID=Asia/Tokyo:20261201T110000",
        "DTEND;TZID=Asia/Tokyo:tomorrow",
    );
    let out = busy(&broken, &["--from", "2026-12-01", "--to", "2026-12-04"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("alice.ics: line 6: \"tomorrow\" is not a date-time"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing half-printed");

    let out = busy(FEED, &["--from", "2026-12-04", "--to", "2026-12-01"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--to 2026-12-01 must come after --from 2026-12-04")
    );
    let out = busy(
        FEED,
        &[
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
            "--tz",
            "Mars/Olympus",
        ],
    )
    .await;
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--tz \"Mars/Olympus\" is not a time zone")
    );
}
