//! Booking links: their rules as people write them, checked into what the slot engine
//! needs, and the team rules (collective: every host free; round robin: any host free, the
//! booking going to the one with the fewest bookings for their weight). Pure, no I/O.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::calendar::Interval;
use super::field::{Invalid, TextLimit, checked_text};
use super::slots::{DayRange, SlotRules, WorkingHours, free_slots};
use super::visit::FieldError;

/// Weekday keys of weekly hours, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// The most durations a link offers to choose from.
pub const MAX_DURATIONS: usize = 8;
/// The most questions a link asks.
pub const MAX_QUESTIONS: usize = 10;
/// The longest answer to a question.
pub const MAX_ANSWER: usize = 2_000;
/// The most hosts of a team link.
pub const MAX_HOSTS: usize = 50;
/// The most dated overrides of a link.
pub const MAX_OVERRIDES: usize = 400;
/// The longest rolling window (days ahead a guest may book).
pub const MAX_WINDOW_DAYS: i64 = 366;

/// Who a link books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// One host.
    OneOnOne,
    /// Every host together: a slot is offered when all are free.
    Collective,
    /// One of the hosts: a slot is offered when any is free; the booking goes to the
    /// fairest free host.
    RoundRobin,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::OneOnOne => "one_on_one",
            LinkKind::Collective => "collective",
            LinkKind::RoundRobin => "round_robin",
        }
    }

    pub fn parse(text: &str) -> Option<LinkKind> {
        match text {
            "one_on_one" => Some(LinkKind::OneOnOne),
            "collective" => Some(LinkKind::Collective),
            "round_robin" => Some(LinkKind::RoundRobin),
            _ => None,
        }
    }

    pub const NAMES: &'static [&'static str] = &["one_on_one", "collective", "round_robin"];
}

/// Where a booked meeting happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Place {
    /// A Google Meet link on the event (hosts with Google Calendar).
    GoogleMeet,
    /// A Microsoft Teams link on the event (hosts with Microsoft 365).
    Teams,
    /// At one of the tenant's locations: the guest gets a reception code.
    InPerson { location: String },
    /// The host calls the guest, who leaves a number.
    Phone,
}

impl Place {
    /// Whether the calendar event should carry the provider's video meeting.
    pub fn online(&self) -> bool {
        matches!(self, Place::GoogleMeet | Place::Teams)
    }
}

/// A question a link asks the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The answer's key (a slug).
    pub key: String,
    pub label_ja: String,
    pub label_en: String,
    #[serde(default)]
    pub required: bool,
}

/// A link's rules as written (the admin API's and the store's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRules {
    /// The hosts' working zone (IANA), in which weekly hours and overrides are read.
    pub time_zone: String,
    /// Durations to choose from (minutes); the first is the default.
    pub durations_minutes: Vec<i64>,
    /// The step between slot starts (minutes); the default duration when absent.
    #[serde(default)]
    pub interval_minutes: Option<i64>,
    /// `{"mon": [["09:00","12:00"], ["13:00","18:00"]], …}`; a missing day is a day off.
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    /// `{"YYYY-MM-DD": [[from, to], …]}` replaces that day's weekly hours (`[]`: a day off).
    #[serde(default)]
    pub overrides: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    pub buffer_before_minutes: i64,
    #[serde(default)]
    pub buffer_after_minutes: i64,
    #[serde(default)]
    pub minimum_notice_minutes: i64,
    /// The most bookings one host takes through this link on one day.
    #[serde(default)]
    pub max_per_day: Option<i64>,
    /// How many days ahead a guest may book.
    #[serde(default = "default_window_days")]
    pub window_days: i64,
    #[serde(default)]
    pub questions: Vec<Question>,
    pub place: Place,
}

fn default_window_days() -> i64 {
    60
}

/// A link's rules, checked: what the slot engine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRules {
    pub hours: WorkingHours,
    /// Durations in seconds, the default first.
    pub durations: Vec<i64>,
    /// The interval in seconds, if fixed (else each duration steps by itself).
    pub interval: Option<i64>,
    pub buffer_before: i64,
    pub buffer_after: i64,
    pub minimum_notice: i64,
    pub max_per_day: Option<i64>,
    /// The rolling window in seconds.
    pub window: i64,
}

impl CheckedRules {
    /// The slot engine's rules for a meeting of `duration` seconds.
    pub fn slot_rules(&self, duration: i64) -> SlotRules {
        SlotRules {
            duration,
            interval: self.interval.unwrap_or(duration),
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            minimum_notice: self.minimum_notice,
        }
    }

    /// The span a meeting at `slot` takes from its hosts: the meeting and its buffers.
    pub fn held(&self, slot: Interval) -> Interval {
        Interval {
            start: slot.start - self.buffer_before,
            end: slot.end + self.buffer_after,
        }
    }
}

/// A number of minutes in `min..=max`, in seconds.
fn minutes(field: &str, value: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value * 60)
    } else {
        Err(FieldError::new(
            field.to_owned(),
            Invalid::OutOfRange { min, max },
        ))
    }
}

/// Day ranges written as `[["09:00","12:00"], …]`.
fn day_ranges(field: &str, ranges: &[[String; 2]]) -> Result<Vec<DayRange>, FieldError> {
    if ranges.len() > 12 {
        return Err(FieldError::new(
            field.to_owned(),
            Invalid::TooMany { max: 12 },
        ));
    }
    ranges
        .iter()
        .enumerate()
        .map(|(index, [from, to])| {
            let time = |text: &str| DayRange::parse_time(text);
            time(from)
                .zip(time(to))
                .and_then(|(from, to)| DayRange::new(from, to))
                .ok_or_else(|| FieldError::new(format!("{field}[{index}]"), Invalid::NotTimeRange))
        })
        .collect()
}

/// Weekly hours and overrides as written, read in `zone`.
pub fn working_hours(
    zone: Tz,
    weekly: &BTreeMap<String, Vec<[String; 2]>>,
    overrides: &BTreeMap<String, Vec<[String; 2]>>,
) -> Result<WorkingHours, FieldError> {
    let mut week: [Vec<DayRange>; 7] = Default::default();
    for (day, ranges) in weekly {
        let index = WEEKDAYS.iter().position(|d| d == day).ok_or_else(|| {
            FieldError::new(
                format!("weekly.{day}"),
                Invalid::NotOneOf { allowed: &WEEKDAYS },
            )
        })?;
        week[index] = day_ranges(&format!("weekly.{day}"), ranges)?;
    }
    if overrides.len() > MAX_OVERRIDES {
        return Err(FieldError::new(
            "overrides",
            Invalid::TooMany { max: MAX_OVERRIDES },
        ));
    }
    let mut dated = BTreeMap::new();
    for (date, ranges) in overrides {
        let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| FieldError::new(format!("overrides.{date}"), Invalid::NotDate))?;
        dated.insert(parsed, day_ranges(&format!("overrides.{date}"), ranges)?);
    }
    Ok(WorkingHours {
        zone,
        weekly: week,
        overrides: dated,
    })
}

impl LinkRules {
    /// Checks every field; the first wrong one is named.
    pub fn check(&self) -> Result<CheckedRules, FieldError> {
        let zone: Tz = self
            .time_zone
            .parse()
            .map_err(|_| FieldError::new("time_zone", Invalid::NotTimeZone))?;
        let hours = working_hours(zone, &self.weekly, &self.overrides)?;
        if self.durations_minutes.is_empty() {
            return Err(FieldError::new("durations_minutes", Invalid::Required));
        }
        if self.durations_minutes.len() > MAX_DURATIONS {
            return Err(FieldError::new(
                "durations_minutes",
                Invalid::TooMany { max: MAX_DURATIONS },
            ));
        }
        let durations = self
            .durations_minutes
            .iter()
            .map(|d| minutes("durations_minutes", *d, 5, 12 * 60))
            .collect::<Result<Vec<_>, _>>()?;
        let interval = self
            .interval_minutes
            .map(|i| minutes("interval_minutes", i, 5, 12 * 60))
            .transpose()?;
        let max_per_day = match self.max_per_day {
            Some(max) if !(1..=100).contains(&max) => {
                return Err(FieldError::new(
                    "max_per_day",
                    Invalid::OutOfRange { min: 1, max: 100 },
                ));
            }
            other => other,
        };
        if self.questions.len() > MAX_QUESTIONS {
            return Err(FieldError::new(
                "questions",
                Invalid::TooMany { max: MAX_QUESTIONS },
            ));
        }
        for (index, question) in self.questions.iter().enumerate() {
            let field = |name: &str| format!("questions[{index}].{name}");
            if super::field::validate_slug(&question.key).is_err() {
                return Err(FieldError::new(field("key"), Invalid::NotSlug));
            }
            if self.questions[..index]
                .iter()
                .any(|q| q.key == question.key)
            {
                return Err(FieldError::new(field("key"), Invalid::Taken));
            }
            for (name, label) in [
                ("label_ja", &question.label_ja),
                ("label_en", &question.label_en),
            ] {
                checked_text(label, TextLimit::name(200))
                    .map_err(|reason| FieldError::new(field(name), reason))?;
            }
        }
        if let Place::InPerson { location } = &self.place
            && super::field::validate_slug(location).is_err()
        {
            return Err(FieldError::new("place.location", Invalid::NotSlug));
        }
        Ok(CheckedRules {
            hours,
            durations,
            interval,
            buffer_before: minutes("buffer_before_minutes", self.buffer_before_minutes, 0, 240)?,
            buffer_after: minutes("buffer_after_minutes", self.buffer_after_minutes, 0, 240)?,
            minimum_notice: minutes(
                "minimum_notice_minutes",
                self.minimum_notice_minutes,
                0,
                90 * 24 * 60,
            )?,
            max_per_day,
            window: minutes("window_days", self.window_days, 1, MAX_WINDOW_DAYS)? * 24 * 60,
        })
    }
}

/// The guest's answers, checked against the link's questions: every key asked, required
/// ones given, none too long.
pub fn checked_answers(
    questions: &[Question],
    answers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FieldError> {
    if let Some(key) = answers
        .keys()
        .find(|k| !questions.iter().any(|q| &q.key == *k))
    {
        return Err(FieldError::new(
            format!("answers.{key}"),
            Invalid::UnknownField,
        ));
    }
    let mut checked = BTreeMap::new();
    for question in questions {
        let limit = TextLimit {
            max: MAX_ANSWER,
            multiline: true,
            required: question.required,
        };
        let answer = answers.get(&question.key).map(String::as_str).unwrap_or("");
        let answer = checked_text(answer, limit)
            .map_err(|reason| FieldError::new(format!("answers.{}", question.key), reason))?;
        if !answer.is_empty() {
            checked.insert(question.key.clone(), answer);
        }
    }
    Ok(checked)
}

/// One host of a link as the slot engine sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAvailability {
    pub employee_id: i64,
    /// Busy time: calendar events and booking holds.
    pub busy: Vec<Interval>,
    /// Days (in the link's zone) on which the host is full under `max_per_day`.
    pub full_days: Vec<NaiveDate>,
}

/// The window a guest may see: `[from, to)` cut to `[now, now + window)`.
pub fn bookable_span(rules: &CheckedRules, now: i64, from: i64, to: i64) -> Option<(i64, i64)> {
    let (from, to) = (from.max(now), to.min(now + rules.window));
    (from < to).then_some((from, to))
}

/// The slots of one host: free of busy time, not on a full day.
fn host_slots(
    rules: &CheckedRules,
    duration: i64,
    now: i64,
    (from, to): (i64, i64),
    host: &HostAvailability,
) -> Vec<Interval> {
    let mut slots = free_slots(
        &rules.hours,
        rules.slot_rules(duration),
        now,
        from,
        to,
        host.busy.clone(),
    );
    if !host.full_days.is_empty() {
        let zone = rules.hours.zone;
        slots.retain(|slot| {
            let day = day_in(zone, slot.start);
            !host.full_days.contains(&day)
        });
    }
    slots
}

/// The date in `zone` of instant `at` (epoch seconds).
pub fn day_in(zone: Tz, at: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .with_timezone(&zone)
        .date_naive()
}

/// What a link offers in `[from, to)` for a meeting of `duration` seconds: for one host or
/// a collective team the slots where every host is free, for round robin those where any
/// is. In order, without repeats.
pub fn link_slots(
    kind: LinkKind,
    rules: &CheckedRules,
    duration: i64,
    now: i64,
    span: (i64, i64),
    hosts: &[HostAvailability],
) -> Vec<Interval> {
    match kind {
        LinkKind::OneOnOne | LinkKind::Collective => {
            let together = HostAvailability {
                employee_id: 0,
                busy: hosts.iter().flat_map(|h| h.busy.iter().copied()).collect(),
                full_days: hosts
                    .iter()
                    .flat_map(|h| h.full_days.iter().copied())
                    .collect(),
            };
            if hosts.is_empty() {
                return Vec::new();
            }
            host_slots(rules, duration, now, span, &together)
        }
        LinkKind::RoundRobin => {
            let mut slots: Vec<Interval> = hosts
                .iter()
                .flat_map(|host| host_slots(rules, duration, now, span, host))
                .collect();
            slots.sort_unstable();
            slots.dedup();
            slots
        }
    }
}

/// The hosts free for `slot` (each host's own availability).
pub fn hosts_free_at(
    rules: &CheckedRules,
    now: i64,
    slot: Interval,
    hosts: &[HostAvailability],
) -> Vec<i64> {
    hosts
        .iter()
        .filter(|host| {
            host_slots(
                rules,
                slot.end - slot.start,
                now,
                (slot.start, slot.end),
                host,
            )
            .contains(&slot)
        })
        .map(|host| host.employee_id)
        .collect()
}

/// A round-robin host's standing: how many bookings the link gave them, their weight and
/// when they were last booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLoad {
    pub employee_id: i64,
    pub weight: i64,
    pub bookings: i64,
    pub last_booked_at: Option<i64>,
}

/// The fairest of `candidates`: the fewest bookings for their weight (so a host of weight
/// 2 gets twice the bookings of one of weight 1), then the least recently booked (never
/// booked first), then the lowest id.
pub fn fairest_host(candidates: &[HostLoad]) -> Option<i64> {
    candidates
        .iter()
        .min_by(|a, b| {
            // a.bookings / a.weight against b.bookings / b.weight, without division.
            let load = (a.bookings * b.weight).cmp(&(b.bookings * a.weight));
            load.then(a.last_booked_at.cmp(&b.last_booked_at))
                .then(a.employee_id.cmp(&b.employee_id))
        })
        .map(|host| host.employee_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_json(extra: serde_json::Value) -> LinkRules {
        let mut base = serde_json::json!({
            "time_zone": "Asia/Tokyo",
            "durations_minutes": [30],
            "weekly": {"mon": [["09:00", "12:00"]], "tue": [["09:00", "12:00"]]},
            "place": {"kind": "google_meet"}
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn rules_name_the_first_wrong_field() {
        let wrong = |extra: serde_json::Value| rules_json(extra).check().unwrap_err().field;
        assert_eq!(
            wrong(serde_json::json!({"time_zone": "Tokyo"})),
            "time_zone"
        );
        assert_eq!(
            wrong(serde_json::json!({"weekly": {"mon": [["12:00", "09:00"]]}})),
            "weekly.mon[0]"
        );
        assert_eq!(
            wrong(serde_json::json!({"weekly": {"monday": []}})),
            "weekly.monday"
        );
        assert_eq!(
            wrong(serde_json::json!({"overrides": {"2026-13-01": []}})),
            "overrides.2026-13-01"
        );
        assert_eq!(
            wrong(serde_json::json!({"durations_minutes": []})),
            "durations_minutes"
        );
        assert_eq!(wrong(serde_json::json!({"max_per_day": 0})), "max_per_day");
        assert_eq!(
            wrong(serde_json::json!({"questions": [
                {"key": "topic", "label_ja": "議題", "label_en": "Topic"},
                {"key": "topic", "label_ja": "議題", "label_en": "Topic"}]})),
            "questions[1].key"
        );
        let checked = rules_json(serde_json::json!({"buffer_before_minutes": 10}))
            .check()
            .unwrap();
        assert_eq!(checked.buffer_before, 600);
        assert_eq!(checked.window, 60 * 86_400);
    }

    #[test]
    fn answers_must_be_asked_and_required_ones_given() {
        let questions = vec![
            Question {
                key: "topic".into(),
                label_ja: "議題".into(),
                label_en: "Topic".into(),
                required: true,
            },
            Question {
                key: "notes".into(),
                label_ja: "メモ".into(),
                label_en: "Notes".into(),
                required: false,
            },
        ];
        let answers = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            checked_answers(&questions, &answers(&[]))
                .unwrap_err()
                .field,
            "answers.topic"
        );
        assert_eq!(
            checked_answers(&questions, &answers(&[("topic", "x"), ("extra", "y")]))
                .unwrap_err()
                .field,
            "answers.extra"
        );
        assert_eq!(
            checked_answers(&questions, &answers(&[("topic", " Pricing ")])).unwrap(),
            answers(&[("topic", "Pricing")])
        );
    }

    #[test]
    fn the_fairest_host_has_the_fewest_bookings_for_their_weight_then_waited_longest() {
        let load = |employee_id, weight, bookings, last_booked_at| HostLoad {
            employee_id,
            weight,
            bookings,
            last_booked_at,
        };
        // 3 bookings at weight 2 is a lighter load than 2 at weight 1.
        assert_eq!(
            fairest_host(&[load(1, 1, 2, Some(10)), load(2, 2, 3, Some(20))]),
            Some(2)
        );
        // Equal loads: the one booked longest ago, and never booked before that.
        assert_eq!(
            fairest_host(&[load(1, 1, 1, Some(30)), load(2, 1, 1, Some(20))]),
            Some(2)
        );
        assert_eq!(
            fairest_host(&[load(1, 1, 0, Some(5)), load(2, 1, 0, None)]),
            Some(2)
        );
        assert_eq!(fairest_host(&[]), None);
    }
}
