//! `frontdesk slots`: what a booking link offers, from hand-checked inputs, including a DST
//! gap day with an override; bad input named by its field.

mod support;

use serde_json::{Value, json};
use support::run_cli;

async fn slots(input: &Value, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("link.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let mut args = vec!["slots", "--input", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_cli(&args, "").await
}

fn starts(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["start"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_tokyo_day_with_busy_time_buffers_and_notice() {
    let input = json!({
        "timezone": "Asia/Tokyo", "duration_minutes": 30, "interval_minutes": 30,
        "weekly": {"mon": [["09:00", "12:00"], ["13:00", "14:00"]], "tue": [], "sun": []},
        "buffer_before_minutes": 15, "buffer_after_minutes": 15, "minimum_notice_minutes": 60,
        "now": "2026-11-30T08:30:00+09:00", "from": "2026-11-30T00:00:00+09:00", "to": "2026-12-01T00:00:00+09:00",
        "busy": [{"start": "2026-11-30T10:00:00+09:00", "end": "2026-11-30T10:30:00+09:00"}]
    });
    let out = slots(&input, &["--timing"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 09:00 is within the hour's notice; 09:30–10:30 touch the busy half hour with their
    // 15-minute buffers; 11:00, 11:30, 13:00 and 13:30 (Tokyo) are free.
    assert_eq!(
        starts(&out),
        [
            "2026-11-30T02:00:00Z",
            "2026-11-30T02:30:00Z",
            "2026-11-30T04:00:00Z",
            "2026-11-30T04:30:00Z"
        ]
    );
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        json!({"start": "2026-11-30T02:00:00Z", "end": "2026-11-30T02:30:00Z"})
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("computed 4 slots in"),
        "--timing"
    );
}

#[tokio::test]
async fn a_dst_gap_day_with_an_override_in_new_york() {
    // Sunday 8 March 2026: clocks go from 02:00 to 03:00. The override replaces Sunday's
    // (absent) hours with 01:30–04:00; 02:30 does not exist, so slots step in real time:
    // 01:30 EST, then 03:30 EDT (an hour later), and 04:00 is the range's end.
    let input = json!({
        "timezone": "America/New_York", "duration_minutes": 30, "interval_minutes": 60,
        "weekly": {"mon": [["09:00", "17:00"]]},
        "overrides": {"2026-03-08": [["01:30", "04:00"]], "2026-03-09": []},
        "now": "2026-03-01T00:00:00Z", "from": "2026-03-08T00:00:00-05:00", "to": "2026-03-10T00:00:00-04:00"
    });
    let out = slots(&input, &[]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        starts(&out),
        ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"],
        "Monday the 9th is a day off by override"
    );
}

#[tokio::test]
async fn bad_input_exits_1_naming_what_is_wrong() {
    let base = json!({
        "timezone": "Asia/Tokyo", "duration_minutes": 30, "interval_minutes": 30, "weekly": {"mon": [["09:00", "12:00"]]},
        "now": "2026-11-30T00:00:00Z", "from": "2026-11-30T00:00:00Z", "to": "2026-12-01T00:00:00Z"
    });
    for (change, expected) in [
        (
            json!({"weekly": {"mon": [["09:00", "25:00"]]}}),
            "weekly.mon[0]: must be a range of times of day",
        ),
        (
            json!({"weekly": {"monday": []}}),
            "weekly.monday: must be one of: mon, tue",
        ),
        (
            json!({"timezone": "Tokyo"}),
            "timezone: \"Tokyo\" is not an IANA time zone",
        ),
        (
            json!({"duration_minutes": 0}),
            "duration_minutes: 0 is not between 1 and 1440",
        ),
        (
            json!({"to": "2026-11-29T00:00:00Z"}),
            "to: must come after from",
        ),
        (json!({"colour": "red"}), "unknown field `colour`"),
    ] {
        let mut input = base.clone();
        for (key, value) in change.as_object().unwrap() {
            input[key] = value.clone();
        }
        let out = slots(&input, &[]).await;
        assert_eq!(out.status.code(), Some(1), "{change}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{change}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
