//! A meeting asked for in chat (`book @bob kenji@globex.example 30m next week`,
//! `来週 30分 @bob`): with whom, for how long, over which days. Pure: days are read against a
//! given `today` (the requester's), so the same words always mean the same days.

use chrono::{Datelike, Duration, NaiveDate};

/// The length when none is given.
pub const DEFAULT_MINUTES: i64 = 30;
/// The shortest and longest meeting the bot books.
pub const MIN_MINUTES: i64 = 5;
pub const MAX_MINUTES: i64 = 8 * 60;
/// The most people one request names.
pub const MAX_PEOPLE: usize = 20;
/// The days looked at when none are given: today and the six after.
pub const DEFAULT_DAYS: i64 = 7;
/// How far ahead a meeting may be asked for.
pub const MAX_DAYS_AHEAD: i64 = 90;

/// Someone a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    /// A platform mention (`<@U123>`): the platform's user id, as sent.
    Mention(String),
    /// `@bob` or a bare `bob`: a colleague by the name of their email or their name.
    Name(String),
    /// An email address (lower-cased): a colleague's, else an outside guest's.
    Email(String),
}

/// A request, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRequest {
    pub people: Vec<Person>,
    pub minutes: i64,
    /// The first and last day looked at (both included), in the requester's zone.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// Why a request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingRequestError {
    /// Nobody to meet.
    NoOne,
    /// More than [`MAX_PEOPLE`] people.
    TooMany,
    /// A length outside [`MIN_MINUTES`]..=[`MAX_MINUTES`] (the words as typed).
    BadLength(String),
    /// Days all in the past, or reaching more than [`MAX_DAYS_AHEAD`] ahead.
    DayOutOfRange,
}

/// Whether a message starting with `word` (lower-cased) is a meeting request without the
/// command word: it starts with a day or a length (`来週 30分 @bob`, `tomorrow 1h @carol`).
pub fn starts_meeting_request(word: &str) -> bool {
    let today = NaiveDate::MIN;
    single_day_word(word, today).is_some()
        || matches!(word, "来週" | "今週")
        || length_word(word).is_some()
}

/// Words that join names and mean nothing else.
fn is_filler(word: &str) -> bool {
    matches!(
        word,
        "with" | "and" | "&" | "+" | "for" | "a" | "meeting" | "mtg" | "と" | "で" | "さん"
    )
}

/// The day a single word names: today, tomorrow, `YYYY-MM-DD` or `M/D` (a `M/D` before
/// today is next year's).
fn single_day_word(word: &str, today: NaiveDate) -> Option<NaiveDate> {
    match word {
        "today" | "今日" | "きょう" | "本日" => Some(today),
        "tomorrow" | "明日" | "あした" | "あす" => today.succ_opt(),
        _ => word.parse::<NaiveDate>().ok().or_else(|| {
            let (m, d) = word.split_once('/')?;
            if m.len() > 2 || d.len() > 2 {
                return None;
            }
            let (m, d) = (m.parse().ok()?, d.parse().ok()?);
            let this_year = NaiveDate::from_ymd_opt(today.year(), m, d)?;
            if this_year < today {
                NaiveDate::from_ymd_opt(today.year() + 1, m, d)
            } else {
                Some(this_year)
            }
        }),
    }
}

/// Minutes in `30m`, `90min`, `1h`, `2hours`, `30分`, `1時間`, `1時間30分`.
fn length_word(word: &str) -> Option<i64> {
    if let Some((hours, rest)) = word.split_once("時間") {
        let hours: i64 = hours.parse().ok()?;
        let minutes: i64 = match rest {
            "" => 0,
            rest => rest.strip_suffix('分')?.parse().ok()?,
        };
        return Some(hours * 60 + minutes);
    }
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 4 {
        return None;
    }
    let (number, unit) = word.split_at(digits);
    let number: i64 = number.parse().ok()?;
    unit_minutes(unit).map(|per| number * per)
}

/// Minutes per unit: `m`, `min`, `mins`, `minutes`, `分` → 1; `h`, `hr`, `hour(s)`, `時間` → 60.
fn unit_minutes(unit: &str) -> Option<i64> {
    match unit {
        "m" | "min" | "mins" | "minute" | "minutes" | "分" => Some(1),
        "h" | "hr" | "hrs" | "hour" | "hours" | "時間" => Some(60),
        _ => None,
    }
}

/// The Monday of `day`'s week.
fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

impl MeetingRequest {
    /// Reads `text` (the words after the command, NFKC-normalised) against `today`.
    pub fn parse(text: &str, today: NaiveDate) -> Result<MeetingRequest, MeetingRequestError> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '、' | '，'))
            .filter(|w| !w.is_empty())
            .take(60)
            .collect();
        let mut people = Vec::new();
        let mut minutes = None;
        let mut days: Option<(NaiveDate, NaiveDate)> = None;
        let mut add_days = |first: NaiveDate, last: NaiveDate| {
            days = Some(match days {
                Some((a, b)) => (a.min(first), b.max(last)),
                None => (first, last),
            });
        };
        let mut index = 0;
        while index < words.len() {
            let word = words[index];
            let lower = word.to_lowercase();
            let next = words.get(index + 1).map(|w| w.to_lowercase());
            index += 1;
            let this_week = (today, monday_of(today) + Duration::days(6));
            let next_week = (
                monday_of(today) + Duration::days(7),
                monday_of(today) + Duration::days(13),
            );
            match (lower.as_str(), next.as_deref()) {
                ("this", Some("week")) => {
                    index += 1;
                    add_days(this_week.0, this_week.1);
                }
                ("next", Some("week")) => {
                    index += 1;
                    add_days(next_week.0, next_week.1);
                }
                ("今週", _) => add_days(this_week.0, this_week.1),
                ("来週", _) => add_days(next_week.0, next_week.1),
                (word, next) => {
                    if let Some(day) = single_day_word(word, today) {
                        add_days(day, day);
                    } else if let Some(length) = length_word(word) {
                        minutes = Some(length);
                    } else if let (Ok(number), Some(per)) =
                        (word.parse::<i64>(), next.and_then(unit_minutes))
                    {
                        index += 1;
                        minutes = Some(number.saturating_mul(per));
                    } else if is_filler(word) {
                    } else if let Some(id) =
                        word.strip_prefix("<@").and_then(|w| w.strip_suffix('>'))
                    {
                        // Slack `<@U123>` or `<@U123|bob>`, Discord `<@123>` or `<@!123>`:
                        // the id as sent (the original word keeps its case).
                        let original = &words[index - 1][2..words[index - 1].len() - 1];
                        let id = original.split('|').next().unwrap_or(id);
                        people.push(Person::Mention(id.trim_start_matches('!').to_owned()));
                    } else if let Some(name) = word.strip_prefix('@').filter(|n| !n.is_empty()) {
                        people.push(Person::Name(name.to_owned()));
                    } else if word.contains('@') {
                        people.push(Person::Email(word.to_owned()));
                    } else {
                        people.push(Person::Name(word.to_owned()));
                    }
                }
            }
        }
        let minutes = minutes.unwrap_or(DEFAULT_MINUTES);
        if !(MIN_MINUTES..=MAX_MINUTES).contains(&minutes) {
            return Err(MeetingRequestError::BadLength(format!("{minutes}")));
        }
        let (first_day, last_day) =
            days.unwrap_or((today, today + Duration::days(DEFAULT_DAYS - 1)));
        if last_day < today || (last_day - today).num_days() > MAX_DAYS_AHEAD {
            return Err(MeetingRequestError::DayOutOfRange);
        }
        let mut unique: Vec<Person> = Vec::new();
        for person in people {
            if !unique.contains(&person) {
                unique.push(person);
            }
        }
        if unique.is_empty() {
            return Err(MeetingRequestError::NoOne);
        }
        if unique.len() > MAX_PEOPLE {
            return Err(MeetingRequestError::TooMany);
        }
        Ok(MeetingRequest {
            people: unique,
            minutes,
            first_day: first_day.max(today),
            last_day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Wednesday 2026-11-25.
    fn read(text: &str) -> Result<MeetingRequest, MeetingRequestError> {
        MeetingRequest::parse(text, day("2026-11-25"))
    }

    #[test]
    fn people_lengths_and_days_are_read_in_english_and_japanese() {
        let request = read("@bob @carol 30m next week").unwrap();
        assert_eq!(
            request,
            MeetingRequest {
                people: vec![Person::Name("bob".into()), Person::Name("carol".into())],
                minutes: 30,
                first_day: day("2026-11-30"),
                last_day: day("2026-12-06"),
            }
        );
        let request = read("bob@acme.example Kenji@Globex.example 45m tomorrow").unwrap();
        assert_eq!(
            request.people,
            vec![
                Person::Email("bob@acme.example".into()),
                Person::Email("kenji@globex.example".into())
            ]
        );
        assert_eq!(request.minutes, 45);
        assert_eq!(
            (request.first_day, request.last_day),
            (day("2026-11-26"), day("2026-11-26"))
        );
        let request = read("来週 30分 @bob").unwrap();
        assert_eq!(
            (request.minutes, request.first_day),
            (30, day("2026-11-30"))
        );
        let request = read("@bob 明日 1時間").unwrap();
        assert_eq!((request.minutes, request.last_day), (60, day("2026-11-26")));
        assert_eq!(
            read("<@U02ABC> 90 min 今週").unwrap().people,
            vec![Person::Mention("U02ABC".into())]
        );
        assert_eq!(
            read("<@!8035|x> this week").unwrap(),
            MeetingRequest {
                people: vec![Person::Mention("8035".into())],
                minutes: 30,
                first_day: day("2026-11-25"),
                last_day: day("2026-11-29"),
            }
        );
        assert_eq!(read("30m with bob and carol").unwrap().people.len(), 2);
        assert_eq!(read("@bob 1時間30分").unwrap().minutes, 90);
        assert_eq!(read("@bob 2h").unwrap().minutes, 120);
        // No days: the coming week, from today.
        let request = read("@bob").unwrap();
        assert_eq!(
            (request.first_day, request.last_day, request.minutes),
            (day("2026-11-25"), day("2026-12-01"), 30)
        );
        assert_eq!(read("@bob 12/01").unwrap().first_day, day("2026-12-01"));
        assert_eq!(
            read("@bob 2027-01-05").unwrap().first_day,
            day("2027-01-05")
        );
        // A M/D already past is next year's: too far ahead.
        assert_eq!(read("@bob 11/24"), Err(MeetingRequestError::DayOutOfRange));
    }

    #[test]
    fn what_cannot_be_booked_is_said() {
        assert_eq!(read("30m tomorrow"), Err(MeetingRequestError::NoOne));
        assert_eq!(
            read("@bob 600m"),
            Err(MeetingRequestError::BadLength("600".into()))
        );
        assert_eq!(
            read("@bob 2m"),
            Err(MeetingRequestError::BadLength("2".into()))
        );
        assert_eq!(
            read("@bob 2026-11-24"),
            Err(MeetingRequestError::DayOutOfRange)
        );
        assert_eq!(
            read("@bob 2027-06-01"),
            Err(MeetingRequestError::DayOutOfRange)
        );
        assert_eq!(
            read("@bob today 2030-01-01"),
            Err(MeetingRequestError::DayOutOfRange),
            "a span reaching years ahead"
        );
        // An unknown word is a name to look up; the engine says it is nobody it knows.
        assert_eq!(
            read("@bob tomorow").unwrap().people[1],
            Person::Name("tomorow".into())
        );
    }

    #[test]
    fn a_message_starting_with_a_day_or_a_length_is_a_request() {
        for word in [
            "来週",
            "今週",
            "明日",
            "tomorrow",
            "today",
            "30分",
            "1h",
            "45m",
            "2026-12-01",
        ] {
            assert!(starts_meeting_request(word), "{word}");
        }
        for word in ["hello", "bob", "30", "next", "visitor"] {
            assert!(!starts_meeting_request(word), "{word}");
        }
    }
}
