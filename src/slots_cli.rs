//! `frontdesk slots --input FILE [--timing]`: what a booking link offers and why, from a JSON
//! description of the host's hours and busy time, computed by the slot engine itself
//! (`frontdesk_core::domain::slots`). One JSON line `{"start","end"}` per slot, in UTC.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, FixedOffset};
use frontdesk_core::domain::booking::working_hours;
use frontdesk_core::domain::calendar::Interval;
use frontdesk_core::domain::slots::{SlotRules, WorkingHours, free_slots};
use serde::Deserialize;

/// The largest input read (busy time for a year of a busy calendar is well under this).
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;
/// The longest span asked about.
const MAX_RANGE_DAYS: i64 = 400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    timezone: String,
    duration_minutes: i64,
    interval_minutes: i64,
    weekly: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    overrides: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    buffer_before_minutes: i64,
    #[serde(default)]
    buffer_after_minutes: i64,
    #[serde(default)]
    minimum_notice_minutes: i64,
    now: DateTime<FixedOffset>,
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
    #[serde(default)]
    busy: Vec<Busy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Busy {
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
}

fn minutes(field: &str, value: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&value) {
        Ok(value * 60)
    } else {
        Err(format!("{field}: {value} is not between {min} and {max}"))
    }
}

/// What the engine is asked: hours, rules, now, the span and busy time (epoch seconds).
struct Question {
    hours: WorkingHours,
    rules: SlotRules,
    now: i64,
    from: i64,
    to: i64,
    busy: Vec<Interval>,
}

/// The engine's inputs from `input`, or what is wrong with it.
fn read(input: Input) -> Result<Question, String> {
    let zone = input
        .timezone
        .parse()
        .map_err(|_| format!("timezone: {:?} is not an IANA time zone", input.timezone))?;
    // The same reading of hours as a booking link's (`domain::booking::working_hours`).
    let hours = working_hours(zone, &input.weekly, &input.overrides).map_err(|err| {
        format!(
            "{}: {}",
            err.field,
            err.reason.message(frontdesk_core::i18n::Lang::En)
        )
    })?;
    let rules = SlotRules {
        duration: minutes("duration_minutes", input.duration_minutes, 1, 24 * 60)?,
        interval: minutes("interval_minutes", input.interval_minutes, 1, 24 * 60)?,
        buffer_before: minutes(
            "buffer_before_minutes",
            input.buffer_before_minutes,
            0,
            24 * 60,
        )?,
        buffer_after: minutes(
            "buffer_after_minutes",
            input.buffer_after_minutes,
            0,
            24 * 60,
        )?,
        minimum_notice: minutes(
            "minimum_notice_minutes",
            input.minimum_notice_minutes,
            0,
            366 * 24 * 60,
        )?,
    };
    let (from, to) = (input.from.timestamp(), input.to.timestamp());
    if to <= from {
        return Err("to: must come after from".into());
    }
    if to - from > MAX_RANGE_DAYS * 86_400 {
        return Err(format!("to: the span is longer than {MAX_RANGE_DAYS} days"));
    }
    let busy = input
        .busy
        .iter()
        .enumerate()
        .map(|(index, b)| {
            Interval::new(b.start.timestamp(), b.end.timestamp())
                .ok_or_else(|| format!("busy[{index}]: end does not come after start"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Question {
        hours,
        rules,
        now: input.now.timestamp(),
        from,
        to,
        busy,
    })
}

/// Runs the command: slots on stdout; a bad input → status 1 and what is wrong.
pub fn run(file: &Path, timing: bool) -> anyhow::Result<ExitCode> {
    let fail = |what: String| {
        eprintln!("error: {}: {what}", file.display());
        Ok(ExitCode::FAILURE)
    };
    let size = match std::fs::metadata(file) {
        Ok(meta) => meta.len(),
        Err(err) => return fail(err.to_string()),
    };
    if size > MAX_INPUT_BYTES {
        return fail(format!(
            "{size} bytes; inputs are read up to {MAX_INPUT_BYTES} bytes"
        ));
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => return fail(err.to_string()),
    };
    let input: Input = match serde_json::from_str(&text) {
        Ok(input) => input,
        Err(err) => return fail(err.to_string()),
    };
    let question = match read(input) {
        Ok(question) => question,
        Err(what) => return fail(what),
    };
    let started = Instant::now();
    let slots = free_slots(
        &question.hours,
        question.rules,
        question.now,
        question.from,
        question.to,
        question.busy,
    );
    let took = started.elapsed();
    let utc = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    for slot in &slots {
        // RFC 3339 needs no JSON escaping.
        println!(
            r#"{{"start":"{}","end":"{}"}}"#,
            utc(slot.start),
            utc(slot.end)
        );
    }
    if timing {
        eprintln!(
            "computed {} slots in {:.3} ms",
            slots.len(),
            took.as_secs_f64() * 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
