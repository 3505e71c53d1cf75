//! ICS feeds (RFC 5545) to busy time: the feed is tokenized by `ical` (folded lines, CRLF or
//! LF), read into events here, and recurring events are expanded by `rrule` in their own
//! time zone, so a weekly 10:00 stays 10:00 across a DST change.
//!
//! What counts: EXDATE removes occurrences, a RECURRENCE-ID event replaces the occurrence it
//! names, STATUS:CANCELLED and TRANSP:TRANSPARENT events are not busy, all-day and floating
//! events take the zone the caller gives. TZID may be an IANA name, a Windows name (as
//! Outlook writes them), or only defined by the feed's own VTIMEZONE.
//!
//! A feed is untrusted: its size is bounded by the caller, and the occurrences one
//! expansion may produce by [`MAX_OCCURRENCES`].

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use frontdesk_core::domain::calendar::{Interval, merge};
use ical::line::LineReader;
use ical::property::{Property, PropertyParser};
use rrule::{RRule, Unvalidated};

/// The largest feed read (a calendar of many years is a few MiB).
pub const MAX_FEED_BYTES: u64 = 16 * 1024 * 1024;

/// The longest range busy time is asked for at once.
pub const MAX_RANGE_DAYS: i64 = 400;

/// The most occurrences one expansion of a feed may produce: a hostile or broken feed
/// (`FREQ=SECONDLY`) is refused instead of eating the server.
pub const MAX_OCCURRENCES: usize = 100_000;

/// Why a feed cannot be read: the line of the file, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct IcsError {
    pub line: usize,
    pub reason: String,
}

fn error(line: usize, reason: impl Into<String>) -> IcsError {
    IcsError {
        line,
        reason: reason.into(),
    }
}

/// A time zone an event's times are in.
#[derive(Debug, Clone)]
enum Zone {
    /// `…Z`.
    Utc,
    /// By IANA or Windows name.
    Named(Tz),
    /// Only defined by the feed's VTIMEZONE.
    Defined(Arc<DefinedZone>),
    /// No zone: the wall clock of whoever reads the calendar (the caller says which).
    Floating,
}

/// A time as the feed gives it: a local date-time in a zone, or a date (all day).
#[derive(Debug, Clone)]
enum When {
    At(NaiveDateTime, Zone),
    Date(NaiveDate),
}

/// A VTIMEZONE's rules: each observance (STANDARD or DAYLIGHT) starts at its onsets, local
/// time, and sets the offset from then on.
#[derive(Debug, Default)]
struct DefinedZone {
    observances: Vec<Observance>,
}

#[derive(Debug)]
struct Observance {
    onset: NaiveDateTime,
    rule: Option<RRule<Unvalidated>>,
    offset: FixedOffset,
}

impl DefinedZone {
    /// The offset in force at local time `local`: that of the observance that began last.
    fn offset_at(&self, local: NaiveDateTime) -> Option<FixedOffset> {
        self.observances
            .iter()
            .filter_map(|o| o.last_onset_before(local).map(|at| (at, o.offset)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, offset)| offset)
    }
}

impl Observance {
    fn last_onset_before(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        if self.onset > local {
            return None;
        }
        let Some(rule) = &self.rule else {
            return Some(self.onset);
        };
        // Onsets are yearly at most: the last one is within the year before `local`.
        let naive_utc = |t: NaiveDateTime| rrule::Tz::UTC.from_utc_datetime(&t);
        let set = rule.clone().build(naive_utc(self.onset)).ok()?;
        let from = (local - Duration::days(400)).max(self.onset);
        set.after(naive_utc(from))
            .before(naive_utc(local))
            .all(16)
            .dates
            .last()
            .map(|at| at.naive_utc())
            .or(Some(self.onset))
    }
}

/// One VEVENT.
#[derive(Debug)]
struct Event {
    uid: String,
    start: When,
    end: Option<When>,
    duration: Option<Duration>,
    /// The rule and its line.
    rule: Option<(RRule<Unvalidated>, usize)>,
    rdates: Vec<When>,
    exdates: Vec<When>,
    recurrence_id: Option<When>,
    busy: bool,
}

/// A parsed feed.
#[derive(Debug, Default)]
pub struct Feed {
    events: Vec<Event>,
}

/// Where the reader is.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Inside {
    Nothing,
    Calendar,
    Event,
    TimeZone,
    Observance,
    /// VALARM, VTODO, … : skipped to its END.
    Other,
}

/// A VEVENT being read: its properties, with their lines.
#[derive(Default)]
struct EventLines {
    begin: usize,
    properties: Vec<(usize, Property)>,
}

/// A VTIMEZONE being read.
#[derive(Default)]
struct ZoneLines {
    tzid: Option<String>,
    observances: Vec<Vec<(usize, Property)>>,
}

/// Reads `text` (a whole ICS file).
pub fn parse(text: &str) -> Result<Feed, IcsError> {
    // The property parser does not say where a property was; a second reader over the same
    // text yields the same logical lines with their numbers.
    let numbers = LineReader::new(text.as_bytes()).map(|line| line.number());
    let properties = PropertyParser::from_reader(text.as_bytes());
    let mut inside = vec![Inside::Nothing];
    let mut events: Vec<EventLines> = Vec::new();
    let mut zones: Vec<ZoneLines> = Vec::new();
    let mut seen_calendar = false;
    for (line, property) in numbers.zip(properties) {
        let property = property.map_err(|err| error(line, err.to_string()))?;
        let name = property.name.to_ascii_uppercase();
        let value = property.value.as_deref().unwrap_or_default();
        let here = *inside.last().unwrap_or(&Inside::Nothing);
        match name.as_str() {
            "BEGIN" => {
                let component = value.to_ascii_uppercase();
                let next = match (here, component.as_str()) {
                    (Inside::Nothing, "VCALENDAR") => {
                        seen_calendar = true;
                        Inside::Calendar
                    }
                    (Inside::Nothing, _) => {
                        return Err(error(line, format!("{component} outside VCALENDAR")));
                    }
                    (Inside::Calendar, "VEVENT") => {
                        events.push(EventLines {
                            begin: line,
                            properties: Vec::new(),
                        });
                        Inside::Event
                    }
                    (Inside::Calendar, "VTIMEZONE") => {
                        zones.push(ZoneLines::default());
                        Inside::TimeZone
                    }
                    (Inside::TimeZone, "STANDARD" | "DAYLIGHT") => {
                        if let Some(zone) = zones.last_mut() {
                            zone.observances.push(Vec::new());
                        }
                        Inside::Observance
                    }
                    _ => Inside::Other,
                };
                inside.push(next);
            }
            "END" => {
                if inside.len() <= 1 {
                    return Err(error(line, format!("END:{value} without its BEGIN")));
                }
                inside.pop();
            }
            _ => match here {
                Inside::Event => {
                    if let Some(event) = events.last_mut() {
                        event.properties.push((line, property));
                    }
                }
                Inside::TimeZone if name == "TZID" => {
                    if let Some(zone) = zones.last_mut() {
                        zone.tzid = Some(value.to_owned());
                    }
                }
                Inside::Observance => {
                    if let Some(observance) =
                        zones.last_mut().and_then(|z| z.observances.last_mut())
                    {
                        observance.push((line, property));
                    }
                }
                _ => {}
            },
        }
    }
    if !seen_calendar {
        return Err(error(1, "not an iCalendar file (no BEGIN:VCALENDAR)"));
    }
    if inside.len() > 1 {
        let last = events.last().map_or(1, |e| e.begin);
        return Err(error(last, "the file ends before its END:VCALENDAR"));
    }
    let defined = defined_zones(zones)?;
    let events = events
        .into_iter()
        .map(|lines| read_event(lines, &defined))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Feed { events })
}

fn defined_zones(zones: Vec<ZoneLines>) -> Result<HashMap<String, Arc<DefinedZone>>, IcsError> {
    let mut defined = HashMap::new();
    for zone in zones {
        let Some(tzid) = zone.tzid else { continue };
        let mut rules = DefinedZone::default();
        for properties in zone.observances {
            let mut onset = None;
            let mut offset = None;
            let mut rule = None;
            for (line, property) in &properties {
                let value = property.value.as_deref().unwrap_or_default();
                match property.name.to_ascii_uppercase().as_str() {
                    "DTSTART" => onset = Some(local_date_time(value, *line)?),
                    "TZOFFSETTO" => offset = Some(utc_offset(value, *line)?),
                    "RRULE" => rule = Some(recurrence_rule(value, *line)?),
                    _ => {}
                }
            }
            let line = properties.first().map_or(1, |(line, _)| *line);
            let (Some(onset), Some(offset)) = (onset, offset) else {
                return Err(error(
                    line,
                    format!("VTIMEZONE {tzid}: an observance without DTSTART or TZOFFSETTO"),
                ));
            };
            rules.observances.push(Observance {
                onset,
                rule,
                offset,
            });
        }
        defined.insert(tzid, Arc::new(rules));
    }
    Ok(defined)
}

fn read_event(
    lines: EventLines,
    defined: &HashMap<String, Arc<DefinedZone>>,
) -> Result<Event, IcsError> {
    let mut uid = String::new();
    let mut start = None;
    let mut end = None;
    let mut duration = None;
    let mut rule = None;
    let mut rdates = Vec::new();
    let mut exdates = Vec::new();
    let mut recurrence_id = None;
    let mut busy = true;
    for (line, property) in &lines.properties {
        let line = *line;
        let value = property.value.as_deref().unwrap_or_default();
        match property.name.to_ascii_uppercase().as_str() {
            "UID" => uid = value.to_owned(),
            "DTSTART" => start = Some(when(property, value, line, defined)?),
            "DTEND" => end = Some(when(property, value, line, defined)?),
            "DURATION" => duration = Some(iso_duration(value, line)?),
            "RRULE" => rule = Some((recurrence_rule(value, line)?, line)),
            "RDATE" => {
                for part in value.split(',') {
                    rdates.push(when(property, part, line, defined)?);
                }
            }
            "EXDATE" => {
                for part in value.split(',') {
                    exdates.push(when(property, part, line, defined)?);
                }
            }
            "RECURRENCE-ID" => recurrence_id = Some(when(property, value, line, defined)?),
            "STATUS" if value.eq_ignore_ascii_case("CANCELLED") => busy = false,
            "TRANSP" if value.eq_ignore_ascii_case("TRANSPARENT") => busy = false,
            _ => {}
        }
    }
    let start = start.ok_or_else(|| error(lines.begin, "a VEVENT without DTSTART"))?;
    Ok(Event {
        uid,
        start,
        end,
        duration,
        rule,
        rdates,
        exdates,
        recurrence_id,
        busy,
    })
}

/// The parameter `name` of `property`, if given.
fn param<'a>(property: &'a Property, name: &str) -> Option<&'a str> {
    property
        .params
        .as_ref()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

/// A DTSTART-like value with its parameters (VALUE=DATE, TZID).
fn when(
    property: &Property,
    value: &str,
    line: usize,
    defined: &HashMap<String, Arc<DefinedZone>>,
) -> Result<When, IcsError> {
    let value = value.trim();
    let is_date = param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()));
    if is_date {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(When::Date)
            .map_err(|_| error(line, format!("{value:?} is not a date (YYYYMMDD)")));
    }
    let (local, utc) = match value.strip_suffix('Z') {
        Some(local) => (local, true),
        None => (value, false),
    };
    let at = local_date_time(local, line)?;
    let zone = if utc {
        Zone::Utc
    } else {
        match param(property, "TZID") {
            Some(tzid) => zone_named(tzid, defined)
                .ok_or_else(|| error(line, format!("unknown time zone {tzid:?}")))?,
            None => Zone::Floating,
        }
    };
    Ok(When::At(at, zone))
}

fn local_date_time(value: &str, line: usize) -> Result<NaiveDateTime, IcsError> {
    NaiveDateTime::parse_from_str(value.trim(), "%Y%m%dT%H%M%S").map_err(|_| {
        error(
            line,
            format!("{value:?} is not a date-time (YYYYMMDDTHHMMSS)"),
        )
    })
}

fn utc_offset(value: &str, line: usize) -> Result<FixedOffset, IcsError> {
    let bad = || error(line, format!("{value:?} is not a UTC offset (+HHMM)"));
    let value = value.trim();
    let (sign, digits) = match value.as_bytes().first() {
        Some(b'+') => (1, &value[1..]),
        Some(b'-') => (-1, &value[1..]),
        _ => return Err(bad()),
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| digits[range].parse::<i32>().unwrap_or(0);
    let seconds =
        number(0..2) * 3600 + number(2..4) * 60 + if digits.len() == 6 { number(4..6) } else { 0 };
    FixedOffset::east_opt(sign * seconds).ok_or_else(bad)
}

fn recurrence_rule(value: &str, line: usize) -> Result<RRule<Unvalidated>, IcsError> {
    RRule::from_str(value).map_err(|err| error(line, format!("RRULE: {err}")))
}

/// An RFC 5545 duration (`PT1H30M`, `P1D`, `-PT15M`, `P2W`).
fn iso_duration(value: &str, line: usize) -> Result<Duration, IcsError> {
    let bad = || error(line, format!("{value:?} is not a duration (like PT1H30M)"));
    let value = value.trim();
    let (sign, rest) = match value.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, value.strip_prefix('+').unwrap_or(value)),
    };
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                total += match (c, in_time) {
                    ('W', false) => Duration::weeks(n),
                    ('D', false) => Duration::days(n),
                    ('H', true) => Duration::hours(n),
                    ('M', true) => Duration::minutes(n),
                    ('S', true) => Duration::seconds(n),
                    _ => return Err(bad()),
                };
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total * sign)
}

/// A TZID: an IANA name, a Windows name, a name ending in an IANA one (Mozilla's
/// `/mozilla.org/20050126_1/America/New_York`), or the feed's own VTIMEZONE.
fn zone_named(tzid: &str, defined: &HashMap<String, Arc<DefinedZone>>) -> Option<Zone> {
    let tzid = tzid.trim().trim_matches('"');
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(Zone::Named(tz));
    }
    if let Some(tz) = windows_zone(tzid) {
        return Some(Zone::Named(tz));
    }
    let segments: Vec<&str> = tzid.rsplit('/').take(3).collect();
    for take in [3, 2] {
        if segments.len() >= take {
            let name: Vec<&str> = segments[..take].iter().rev().copied().collect();
            if let Ok(tz) = name.join("/").parse::<Tz>() {
                return Some(Zone::Named(tz));
            }
        }
    }
    defined.get(tzid).cloned().map(Zone::Defined)
}

/// Windows time zone names (as Outlook and Exchange write TZID) to IANA, after CLDR's
/// windowsZones (the territory "001" entries).
fn windows_zone(name: &str) -> Option<Tz> {
    const ZONES: &[(&str, Tz)] = &[
        ("Dateline Standard Time", Tz::Etc__GMTPlus12),
        ("UTC-11", Tz::Etc__GMTPlus11),
        ("Hawaiian Standard Time", Tz::Pacific__Honolulu),
        ("Alaskan Standard Time", Tz::America__Anchorage),
        ("Pacific Standard Time (Mexico)", Tz::America__Tijuana),
        ("Pacific Standard Time", Tz::America__Los_Angeles),
        ("US Mountain Standard Time", Tz::America__Phoenix),
        ("Mountain Standard Time (Mexico)", Tz::America__Mazatlan),
        ("Mountain Standard Time", Tz::America__Denver),
        ("Central America Standard Time", Tz::America__Guatemala),
        ("Central Standard Time", Tz::America__Chicago),
        ("Central Standard Time (Mexico)", Tz::America__Mexico_City),
        ("Canada Central Standard Time", Tz::America__Regina),
        ("SA Pacific Standard Time", Tz::America__Bogota),
        ("Eastern Standard Time", Tz::America__New_York),
        ("Eastern Standard Time (Mexico)", Tz::America__Cancun),
        (
            "US Eastern Standard Time",
            Tz::America__Indiana__Indianapolis,
        ),
        ("Venezuela Standard Time", Tz::America__Caracas),
        ("Atlantic Standard Time", Tz::America__Halifax),
        ("SA Western Standard Time", Tz::America__La_Paz),
        ("Central Brazilian Standard Time", Tz::America__Cuiaba),
        ("Pacific SA Standard Time", Tz::America__Santiago),
        ("Newfoundland Standard Time", Tz::America__St_Johns),
        ("E. South America Standard Time", Tz::America__Sao_Paulo),
        ("Argentina Standard Time", Tz::America__Buenos_Aires),
        ("SA Eastern Standard Time", Tz::America__Cayenne),
        ("Greenland Standard Time", Tz::America__Godthab),
        ("Montevideo Standard Time", Tz::America__Montevideo),
        ("UTC-02", Tz::Etc__GMTPlus2),
        ("Azores Standard Time", Tz::Atlantic__Azores),
        ("Cape Verde Standard Time", Tz::Atlantic__Cape_Verde),
        ("UTC", Tz::Etc__UTC),
        ("GMT Standard Time", Tz::Europe__London),
        ("Greenwich Standard Time", Tz::Atlantic__Reykjavik),
        ("Morocco Standard Time", Tz::Africa__Casablanca),
        ("W. Europe Standard Time", Tz::Europe__Berlin),
        ("Central Europe Standard Time", Tz::Europe__Budapest),
        ("Romance Standard Time", Tz::Europe__Paris),
        ("Central European Standard Time", Tz::Europe__Warsaw),
        ("W. Central Africa Standard Time", Tz::Africa__Lagos),
        ("GTB Standard Time", Tz::Europe__Bucharest),
        ("E. Europe Standard Time", Tz::Europe__Chisinau),
        ("Egypt Standard Time", Tz::Africa__Cairo),
        ("South Africa Standard Time", Tz::Africa__Johannesburg),
        ("FLE Standard Time", Tz::Europe__Kiev),
        ("Israel Standard Time", Tz::Asia__Jerusalem),
        ("Jordan Standard Time", Tz::Asia__Amman),
        ("Middle East Standard Time", Tz::Asia__Beirut),
        ("Syria Standard Time", Tz::Asia__Damascus),
        ("Turkey Standard Time", Tz::Europe__Istanbul),
        ("Arabic Standard Time", Tz::Asia__Baghdad),
        ("Arab Standard Time", Tz::Asia__Riyadh),
        ("Russian Standard Time", Tz::Europe__Moscow),
        ("E. Africa Standard Time", Tz::Africa__Nairobi),
        ("Iran Standard Time", Tz::Asia__Tehran),
        ("Arabian Standard Time", Tz::Asia__Dubai),
        ("Azerbaijan Standard Time", Tz::Asia__Baku),
        ("Georgian Standard Time", Tz::Asia__Tbilisi),
        ("Caucasus Standard Time", Tz::Asia__Yerevan),
        ("Afghanistan Standard Time", Tz::Asia__Kabul),
        ("West Asia Standard Time", Tz::Asia__Tashkent),
        ("Ekaterinburg Standard Time", Tz::Asia__Yekaterinburg),
        ("Pakistan Standard Time", Tz::Asia__Karachi),
        ("India Standard Time", Tz::Asia__Kolkata),
        ("Sri Lanka Standard Time", Tz::Asia__Colombo),
        ("Nepal Standard Time", Tz::Asia__Kathmandu),
        ("Central Asia Standard Time", Tz::Asia__Almaty),
        ("Bangladesh Standard Time", Tz::Asia__Dhaka),
        ("Myanmar Standard Time", Tz::Asia__Yangon),
        ("SE Asia Standard Time", Tz::Asia__Bangkok),
        ("N. Central Asia Standard Time", Tz::Asia__Novosibirsk),
        ("China Standard Time", Tz::Asia__Shanghai),
        ("North Asia Standard Time", Tz::Asia__Krasnoyarsk),
        ("Singapore Standard Time", Tz::Asia__Singapore),
        ("W. Australia Standard Time", Tz::Australia__Perth),
        ("Taipei Standard Time", Tz::Asia__Taipei),
        ("Ulaanbaatar Standard Time", Tz::Asia__Ulaanbaatar),
        ("North Asia East Standard Time", Tz::Asia__Irkutsk),
        ("Tokyo Standard Time", Tz::Asia__Tokyo),
        ("Korea Standard Time", Tz::Asia__Seoul),
        ("Yakutsk Standard Time", Tz::Asia__Yakutsk),
        ("Cen. Australia Standard Time", Tz::Australia__Adelaide),
        ("AUS Central Standard Time", Tz::Australia__Darwin),
        ("E. Australia Standard Time", Tz::Australia__Brisbane),
        ("AUS Eastern Standard Time", Tz::Australia__Sydney),
        ("West Pacific Standard Time", Tz::Pacific__Port_Moresby),
        ("Tasmania Standard Time", Tz::Australia__Hobart),
        ("Vladivostok Standard Time", Tz::Asia__Vladivostok),
        ("Central Pacific Standard Time", Tz::Pacific__Guadalcanal),
        ("New Zealand Standard Time", Tz::Pacific__Auckland),
        ("UTC+12", Tz::Etc__GMTMinus12),
        ("Fiji Standard Time", Tz::Pacific__Fiji),
        ("Tonga Standard Time", Tz::Pacific__Tongatapu),
        ("Samoa Standard Time", Tz::Pacific__Apia),
        ("Line Islands Standard Time", Tz::Pacific__Kiritimati),
    ];
    ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .map(|(_, tz)| *tz)
}

impl Zone {
    /// The instant of local time `local` here; in a DST gap the time after it, in an
    /// overlap the earlier one (RFC 5545, 3.3.5).
    fn instant(&self, local: NaiveDateTime, floating: Tz) -> DateTime<Utc> {
        match self {
            Zone::Utc => Utc.from_utc_datetime(&local),
            Zone::Named(tz) => in_zone(tz, local),
            Zone::Floating => in_zone(&floating, local),
            Zone::Defined(zone) => {
                let offset = zone
                    .offset_at(local)
                    .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
                Utc.from_utc_datetime(&(local - offset))
            }
        }
    }

    /// The zone `rrule` expands in: named zones as themselves; the others as naive times,
    /// converted afterwards.
    fn for_expansion(&self, floating: Tz) -> Option<Tz> {
        match self {
            Zone::Utc => Some(Tz::UTC),
            Zone::Named(tz) => Some(*tz),
            Zone::Floating => Some(floating),
            Zone::Defined(_) => None,
        }
    }
}

fn in_zone(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        // Skipped by a DST change: the wall clock jumped over it, so the same wall time an
        // hour on (the length of the gap everywhere but Lord Howe Island) is meant.
        LocalResult::None => in_zone(tz, local + Duration::hours(1)),
    }
}

impl When {
    /// The local date-time and zone: an all-day date is its midnight, floating.
    fn local(&self) -> (NaiveDateTime, Zone) {
        match self {
            When::At(at, zone) => (*at, zone.clone()),
            When::Date(date) => (date.and_time(NaiveTime::MIN), Zone::Floating),
        }
    }

    fn instant(&self, floating: Tz) -> DateTime<Utc> {
        let (local, zone) = self.local();
        zone.instant(local, floating)
    }
}

impl Feed {
    /// How many events the feed has (overrides and cancelled ones included).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the feed has no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The busy time in `[from, to)` (seconds since the epoch), merged and sorted. Floating
    /// and all-day events are in `floating` (the calendar owner's zone).
    pub fn busy(&self, from: i64, to: i64, floating: Tz) -> Result<Vec<Interval>, IcsError> {
        // Occurrences replaced by an override, per series: (UID, original start).
        let replaced: HashSet<(&str, i64)> = self
            .events
            .iter()
            .filter_map(|e| {
                let id = e.recurrence_id.as_ref()?;
                Some((e.uid.as_str(), id.instant(floating).timestamp()))
            })
            .collect();
        let mut busy = Vec::new();
        let mut budget = MAX_OCCURRENCES;
        for event in &self.events {
            let starts = if event.recurrence_id.is_none() {
                event.starts(from, to, floating, &mut budget)?
            } else {
                vec![event.start.clone()]
            };
            if !event.busy {
                continue;
            }
            for start in starts {
                let instant = start.instant(floating).timestamp();
                if event.recurrence_id.is_none()
                    && event.rule.is_some()
                    && replaced.contains(&(event.uid.as_str(), instant))
                {
                    continue;
                }
                if let Some(interval) = event.span(&start, floating) {
                    busy.extend(interval.clip(from, to));
                }
            }
        }
        Ok(merge(busy))
    }
}

impl Event {
    /// How long each occurrence lasts: DTEND − DTSTART, or DURATION; an all-day event
    /// without either lasts its day, a timed one no time at all (RFC 5545, 3.6.1).
    fn length(&self) -> Length {
        match (&self.start, &self.end) {
            (When::Date(start), Some(When::Date(end))) => Length::Days((*end - *start).num_days()),
            (When::Date(_), None) => match self.duration {
                Some(duration) => Length::Days(duration.num_days().max(0)),
                None => Length::Days(1),
            },
            (start, Some(end)) => Length::Exact(end.instant(Tz::UTC) - start.instant(Tz::UTC)),
            (_, None) => Length::Exact(self.duration.unwrap_or_else(Duration::zero)),
        }
    }

    /// The occurrence starting at `start` as an interval (`None` if it lasts no time).
    fn span(&self, start: &When, floating: Tz) -> Option<Interval> {
        match (self.length(), start) {
            (Length::Days(days), When::Date(date)) => {
                let end = When::Date(*date + Duration::days(days));
                Interval::new(
                    start.instant(floating).timestamp(),
                    end.instant(floating).timestamp(),
                )
            }
            (Length::Days(days), When::At(..)) => {
                let begins = start.instant(floating);
                Interval::new(
                    begins.timestamp(),
                    (begins + Duration::days(days)).timestamp(),
                )
            }
            (Length::Exact(length), _) => {
                let begins = start.instant(floating).timestamp();
                Interval::new(begins, begins + length.num_seconds())
            }
        }
    }

    /// The starts of the occurrences that may overlap `[from, to)`.
    fn starts(
        &self,
        from: i64,
        to: i64,
        floating: Tz,
        budget: &mut usize,
    ) -> Result<Vec<When>, IcsError> {
        let Some((rule, line)) = &self.rule else {
            let mut starts = vec![self.start.clone()];
            starts.extend(self.rdates.iter().cloned());
            return Ok(starts);
        };
        let line = *line;
        let longest = match self.length() {
            Length::Days(days) => Duration::days(days + 1),
            Length::Exact(length) => length,
        };
        let (local, zone) = self.start.local();
        let expansion_zone = zone.for_expansion(floating);
        let tz = rrule::Tz::Tz(expansion_zone.unwrap_or(Tz::UTC));
        let dt_start = match expansion_zone {
            Some(zone_tz) => {
                rrule::Tz::Tz(zone_tz).from_utc_datetime(&in_zone(&zone_tz, local).naive_utc())
            }
            // A VTIMEZONE-only zone: expanded in naive local time, converted after.
            None => tz.from_utc_datetime(&local),
        };
        let rule =
            self.rule_with_utc_until(rule, &zone, floating, expansion_zone.is_none(), line)?;
        let set = rule
            .build(dt_start)
            .map_err(|err| error(line, format!("RRULE: {err}")))?;
        // From the earliest start that can still reach `from`, to `to`; bounds as the
        // expansion's own clock reads them.
        let bound = |seconds: i64| -> DateTime<rrule::Tz> {
            let utc = Utc.timestamp_opt(seconds, 0).single().unwrap_or_default();
            match expansion_zone {
                Some(_) => utc.with_timezone(&tz),
                // Naive local time: widen by a day for any offset.
                None => tz.from_utc_datetime(&utc.naive_utc()),
            }
        };
        let slack = if expansion_zone.is_none() { 86_400 } else { 0 };
        let after = bound(from - longest.num_seconds() - 1 - slack);
        let before = bound(to + slack);
        let limit = u16::try_from((*budget).min(u16::MAX as usize)).unwrap_or(u16::MAX);
        let result = set.after(after).before(before).all(limit);
        // Cut short by our budget or by `rrule`'s own bound on iterations: either way the
        // busy time would be incomplete, so it is refused rather than trusted.
        if result.limited {
            return Err(error(
                line,
                format!(
                    "the series repeats more than {MAX_OCCURRENCES} times in the range asked for"
                ),
            ));
        }
        *budget -= result.dates.len();
        let excluded: HashSet<i64> = self
            .exdates
            .iter()
            .map(|exdate| exdate.instant(floating).timestamp())
            .collect();
        let mut starts: Vec<When> = result
            .dates
            .into_iter()
            .map(|at| match (&self.start, expansion_zone) {
                (When::Date(_), _) => When::Date(at.date_naive()),
                (_, Some(_)) => When::At(at.naive_utc(), Zone::Utc),
                (_, None) => When::At(at.naive_utc(), zone.clone()),
            })
            .filter(|start| !excluded.contains(&start.instant(floating).timestamp()))
            .collect();
        starts.extend(self.rdates.iter().cloned());
        Ok(starts)
    }

    /// `rule` with its UNTIL as `rrule` wants it: in UTC when the expansion has a zone (a
    /// floating or date UNTIL is read in the event's zone), in naive local time otherwise.
    fn rule_with_utc_until(
        &self,
        rule: &RRule<Unvalidated>,
        zone: &Zone,
        floating: Tz,
        naive_expansion: bool,
        line: usize,
    ) -> Result<RRule<Unvalidated>, IcsError> {
        let text = rule.to_string();
        let Some(until) = text
            .split(';')
            .find_map(|part| part.strip_prefix("UNTIL="))
            .map(str::to_owned)
        else {
            return Ok(rule.clone());
        };
        let instant = if let Some(utc) = until.strip_suffix('Z') {
            Utc.from_utc_datetime(&local_date_time(utc, line)?)
        } else if until.len() == 8 {
            // A date UNTIL includes that whole day.
            let date = NaiveDate::parse_from_str(&until, "%Y%m%d")
                .map_err(|_| error(line, format!("RRULE: UNTIL {until:?} is not a date")))?;
            zone.instant(
                date.and_hms_opt(23, 59, 59).expect("a valid time"),
                floating,
            )
        } else {
            zone.instant(local_date_time(&until, line)?, floating)
        };
        let written = if naive_expansion {
            let local = match zone {
                Zone::Defined(defined) => {
                    let guess = instant.naive_utc();
                    guess
                        + defined.offset_at(guess).map_or(Duration::zero(), |o| {
                            Duration::seconds(o.local_minus_utc().into())
                        })
                }
                _ => instant.naive_utc(),
            };
            local.format("%Y%m%dT%H%M%SZ").to_string()
        } else {
            instant.format("%Y%m%dT%H%M%SZ").to_string()
        };
        let text = text.replace(&format!("UNTIL={until}"), &format!("UNTIL={written}"));
        // `to_string` may lead with "RRULE:"; the parser takes the bare rule.
        let bare = text.strip_prefix("RRULE:").unwrap_or(&text);
        recurrence_rule(bare, line)
    }
}

/// How long an occurrence lasts: whole days (an all-day event keeps its length in days
/// across a DST change) or an exact time.
enum Length {
    Days(i64),
    Exact(Duration),
}
