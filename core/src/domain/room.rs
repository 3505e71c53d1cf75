//! Meeting rooms: what a room's meetings and check-ins say about it now (free, booked but
//! not checked in, in use), when a meeting nobody came to is released, when occupants are
//! nudged, which rooms are free for a search, and how a room was used. Pure: instants are
//! epoch seconds; the engine reads meetings from the room's calendar cache and check-ins
//! from the database.

use serde::{Deserialize, Serialize};

use super::calendar::Interval;

/// Release a booking nobody checked in to this long after its start (Robin and Microsoft
/// use 10 minutes).
pub const DEFAULT_GRACE_SECONDS: i64 = 10 * 60;
/// Meetings this long or longer are not released (all-day workshops; Robin: 8 hours).
pub const DEFAULT_LONG_MEETING_SECONDS: i64 = 8 * 3600;
/// A series loses its room after this many missed check-ins in a row (Envoy: 3).
pub const STRIKES_TO_LEAVE_SERIES: u32 = 3;
/// Occupants are nudged this long before their meeting ends when the room is booked next.
pub const NUDGE_BEFORE_END_SECONDS: i64 = 5 * 60;

/// What a room is doing at an instant, as the door display colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomState {
    /// Nobody has it (green).
    Free,
    /// A meeting has it but nobody has checked in (yellow).
    Booked,
    /// Someone checked in (red).
    InUse,
}

/// A meeting in a room: a booking in its calendar, or a walk-in booked at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The calendar event's uid.
    pub uid: String,
    pub interval: Interval,
    /// Who booked it, when known (an employee id).
    pub organizer: Option<i64>,
    /// When it was booked, when known (a booking made just before its start gets its grace
    /// from then).
    pub booked_at: Option<i64>,
    /// When someone checked in.
    pub checked_in_at: Option<i64>,
    /// When it ended early (checked out) or was released: the room is free from then.
    pub ended_at: Option<i64>,
    /// Private meetings show no title or organizer on the door.
    pub private: bool,
}

impl Meeting {
    /// When the room is free again: the end, or earlier when it ended early or was released.
    pub fn effective_end(&self) -> i64 {
        self.ended_at
            .map_or(self.interval.end, |ended| ended.min(self.interval.end))
    }

    /// Whether it holds the room at `at`.
    pub fn holds_at(&self, at: i64) -> bool {
        self.interval.start <= at && at < self.effective_end()
    }
}

/// A room's state at `now`: the meeting holding it, if any, and the meetings still to come
/// (in order, at most `upcoming`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupancy<'a> {
    pub state: RoomState,
    pub current: Option<&'a Meeting>,
    pub next: Vec<&'a Meeting>,
}

/// What `meetings` (any order) say about the room at `now`.
pub fn occupancy(meetings: &[Meeting], now: i64, upcoming: usize) -> Occupancy<'_> {
    let current = meetings
        .iter()
        .filter(|m| m.holds_at(now))
        // Overlapping bookings (a calendar allows them): the one checked in wins, then the
        // earlier.
        .min_by_key(|m| (m.checked_in_at.is_none(), m.interval.start));
    let state = match current {
        None => RoomState::Free,
        Some(m) if m.checked_in_at.is_some() => RoomState::InUse,
        Some(_) => RoomState::Booked,
    };
    let mut next: Vec<&Meeting> = meetings
        .iter()
        .filter(|m| m.interval.start > now && m.effective_end() > m.interval.start)
        .collect();
    next.sort_by_key(|m| m.interval.start);
    next.truncate(upcoming);
    Occupancy {
        state,
        current,
        next,
    }
}

/// When bookings nobody checked in to are released, and who is spared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleasePolicy {
    /// How long after the start a booking waits for a check-in.
    pub grace_seconds: i64,
    /// Meetings at least this long are never released (`None`: no such exemption).
    pub long_meeting_seconds: Option<i64>,
    /// Organizers whose meetings are never released (employee ids).
    pub exempt_organizers: Vec<i64>,
    /// Off for this room: nothing is released.
    pub enabled: bool,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        ReleasePolicy {
            grace_seconds: DEFAULT_GRACE_SECONDS,
            long_meeting_seconds: Some(DEFAULT_LONG_MEETING_SECONDS),
            exempt_organizers: Vec::new(),
            enabled: true,
        }
    }
}

/// Why a meeting is not released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Someone checked in.
    CheckedIn,
    /// It already ended or was released.
    Over,
    /// Its grace period is still running.
    InGrace,
    /// The room does not release meetings.
    Disabled,
    /// It is as long as a workshop.
    LongMeeting,
    /// Its organizer is exempt.
    ExemptOrganizer,
}

/// Whether `meeting` is released at `now`: `Ok(at)` with the instant its event is shortened
/// to (the end of the grace period, so history shows how long the room was held), or why
/// it is kept. The grace runs from the start, or from the booking when it was made after
/// the start had passed (booked at the door a minute late).
pub fn release(meeting: &Meeting, policy: &ReleasePolicy, now: i64) -> Result<i64, Kept> {
    if !policy.enabled {
        return Err(Kept::Disabled);
    }
    if meeting.checked_in_at.is_some() {
        return Err(Kept::CheckedIn);
    }
    if meeting.ended_at.is_some() || now >= meeting.interval.end {
        return Err(Kept::Over);
    }
    if policy
        .long_meeting_seconds
        .is_some_and(|long| meeting.interval.end - meeting.interval.start >= long)
    {
        return Err(Kept::LongMeeting);
    }
    if meeting
        .organizer
        .is_some_and(|o| policy.exempt_organizers.contains(&o))
    {
        return Err(Kept::ExemptOrganizer);
    }
    let grace_from = meeting
        .booked_at
        .map_or(meeting.interval.start, |b| b.max(meeting.interval.start));
    let release_at = grace_from + policy.grace_seconds;
    if now < release_at {
        return Err(Kept::InGrace);
    }
    Ok(release_at.min(meeting.interval.end))
}

/// Whether a series should give up its room after these occurrences (oldest first; `true`
/// where nobody checked in): the last [`STRIKES_TO_LEAVE_SERIES`] in a row were missed.
pub fn series_strikes_out(missed: &[bool]) -> bool {
    let strikes = STRIKES_TO_LEAVE_SERIES as usize;
    missed.len() >= strikes && missed[missed.len() - strikes..].iter().all(|m| *m)
}

/// Whether the occupants of `current` should be told at `now` that the room is booked
/// right after them: within [`NUDGE_BEFORE_END_SECONDS`] of its end, someone is in the room,
/// and the next meeting starts when it ends (or before).
pub fn nudge_due(current: &Meeting, next: Option<&Meeting>, now: i64) -> bool {
    let end = current.effective_end();
    current.checked_in_at.is_some()
        && current.ended_at.is_none()
        && now < end
        && now >= end - NUDGE_BEFORE_END_SECONDS
        && next.is_some_and(|n| n.interval.start <= end && n.uid != current.uid)
}

/// What a search for a room asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomWanted {
    pub seats: Option<i64>,
    /// Every item must be there (`display`, `video`, `whiteboard` …).
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
}

/// A room as a search sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomFacts {
    pub capacity: i64,
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
}

/// Whether `room` suits `wanted`.
pub fn suits(room: &RoomFacts, wanted: &RoomWanted) -> bool {
    wanted.seats.is_none_or(|seats| room.capacity >= seats)
        && wanted.floor.is_none_or(|floor| room.floor == Some(floor))
        && wanted
            .equipment
            .iter()
            .all(|item| room.equipment.iter().any(|have| have == item))
}

/// Whether a room with these `meetings` is free for all of `span` (meetings that ended early
/// or were released free it from then).
pub fn free_for(meetings: &[Meeting], span: Interval) -> bool {
    meetings
        .iter()
        .all(|m| m.effective_end() <= span.start || m.interval.start >= span.end)
}

/// How a room was used over some meetings (hours as seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Utilisation {
    /// Time booked, as booked.
    pub booked: i64,
    /// Time held by someone who checked in (until they left or the meeting ended).
    pub used: i64,
    /// Time given back by auto-release.
    pub released: i64,
    /// Meetings whose check-in was tracked (they ended, and the room takes check-ins).
    pub tracked: u32,
    /// Of those, meetings nobody checked in to.
    pub no_shows: u32,
}

impl Utilisation {
    /// The share of tracked meetings nobody came to; `None` when none were tracked.
    pub fn no_show_rate(&self) -> Option<f64> {
        (self.tracked > 0).then(|| f64::from(self.no_shows) / f64::from(self.tracked))
    }
}

/// The utilisation of meetings that are over at `now`. `released_at` tells, per meeting,
/// when auto-release gave it back (None if it was not released).
pub fn utilisation(meetings: &[(Meeting, Option<i64>)], now: i64) -> Utilisation {
    let mut total = Utilisation::default();
    for (meeting, released_at) in meetings {
        if meeting.interval.end > now {
            continue;
        }
        let length = meeting.interval.end - meeting.interval.start;
        total.booked += length;
        total.tracked += 1;
        match (meeting.checked_in_at, released_at) {
            (Some(checked_in), _) => {
                let from = checked_in.max(meeting.interval.start);
                total.used += (meeting.effective_end() - from).max(0);
            }
            (None, Some(released)) => {
                total.no_shows += 1;
                total.released += (meeting.interval.end - released).max(0);
            }
            (None, None) => total.no_shows += 1,
        }
    }
    total
}

/// How long a room search asks for when it does not say (minutes).
pub const DEFAULT_SEARCH_MINUTES: i64 = 30;
/// The longest a room search may ask for (minutes).
pub const MAX_SEARCH_MINUTES: i64 = 8 * 60;

/// A room search as typed in chat: `rooms 6 people 30m`, `rooms 4 at 14:00 display`,
/// `会議室 空き 6人 1時間 3階 モニター`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRequest {
    pub wanted: RoomWanted,
    pub minutes: i64,
    /// From now (to the minute), or from the time asked.
    pub span: Interval,
    /// No time was asked: from now.
    pub now: bool,
}

impl RoomRequest {
    /// The search in `text` (the words after the command), at `now`, times read in `zone`.
    /// Words it does not know are left out: a search is never refused.
    pub fn parse(
        text: &str,
        now: chrono::DateTime<chrono::Utc>,
        zone: chrono_tz::Tz,
    ) -> RoomRequest {
        use chrono::TimeZone;
        use unicode_normalization::UnicodeNormalization;
        let text: String = text.nfkc().collect::<String>().to_lowercase();
        let mut wanted = RoomWanted::default();
        let mut minutes = None;
        let mut at: Option<(u32, u32)> = None;
        let pieces: Vec<String> = text.split_whitespace().flat_map(split_at_numbers).collect();
        let mut index = 0;
        while index < pieces.len() {
            let piece = pieces[index].as_str();
            let following = pieces.get(index + 1).map(String::as_str).unwrap_or("");
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            let unit = &piece[digits.len()..];
            let number = digits.parse::<i64>().ok();
            index += 1;
            if let Some((hour, minute)) = clock(piece) {
                at = Some((hour, minute));
                continue;
            }
            if let Some(item) = equipment_word(piece) {
                if !wanted.equipment.iter().any(|have| have == item) {
                    wanted.equipment.push(item.to_owned());
                }
                continue;
            }
            if piece == "floor"
                && let Ok(floor) = following.parse::<i64>()
            {
                wanted.floor = Some(floor);
                index += 1;
                continue;
            }
            let Some(number) = number else { continue };
            match unit {
                "people" | "person" | "persons" | "pax" | "seats" | "人" | "名" | "席" => {
                    wanted.seats = Some(number)
                }
                "m" | "min" | "mins" | "minutes" | "分" => minutes = Some(number),
                "h" | "hr" | "hrs" | "hour" | "hours" | "時間" => minutes = Some(number * 60),
                "f" | "階" => wanted.floor = Some(number),
                "時" => {
                    at = u32::try_from(number)
                        .ok()
                        .filter(|h| *h < 24)
                        .map(|h| (h, 0))
                }
                "" => match following {
                    "people" | "person" | "persons" | "pax" | "seats" => {
                        wanted.seats = Some(number);
                        index += 1;
                    }
                    "min" | "mins" | "minutes" => {
                        minutes = Some(number);
                        index += 1;
                    }
                    "hour" | "hours" => {
                        minutes = Some(number * 60);
                        index += 1;
                    }
                    _ if wanted.seats.is_none() => wanted.seats = Some(number),
                    _ => {}
                },
                _ => {}
            }
        }
        let minutes = minutes
            .unwrap_or(DEFAULT_SEARCH_MINUTES)
            .clamp(5, MAX_SEARCH_MINUTES);
        wanted.seats = wanted.seats.filter(|s| (1..=1000).contains(s));
        let now_secs = now.timestamp();
        let start = at.and_then(|(hour, minute)| {
            let local = now.with_timezone(&zone).date_naive();
            let wall = local.and_hms_opt(hour, minute, 0)?;
            let mut start = zone.from_local_datetime(&wall).earliest()?.timestamp();
            // A time already past today means tomorrow's.
            if start + 60 <= now_secs {
                start += 86_400;
            }
            Some(start)
        });
        let (start, asked_now) = match start {
            Some(start) => (start, false),
            None => (now_secs / 60 * 60, true),
        };
        RoomRequest {
            wanted,
            minutes,
            span: Interval {
                start,
                end: start + minutes * 60,
            },
            now: asked_now,
        }
    }
}

/// `6人30分` → `6人`, `30分`: a number starts a new piece.
fn split_at_numbers(word: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut previous_digit = false;
    for c in word.chars() {
        let digit = c.is_ascii_digit() || c == ':';
        if digit && !previous_digit && !pieces.last().is_none_or(|p| p.is_empty()) {
            pieces.push(String::new());
        }
        if pieces.is_empty() {
            pieces.push(String::new());
        }
        if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
        previous_digit = digit;
    }
    pieces
}

/// `14:00` or `9:30` as (hour, minute).
fn clock(piece: &str) -> Option<(u32, u32)> {
    let (hour, minute) = piece.split_once(':')?;
    let hour: u32 = hour.parse().ok().filter(|h| *h < 24)?;
    let minute: u32 = minute.parse().ok().filter(|m| *m < 60)?;
    Some((hour, minute))
}

/// The equipment a word asks for, in the words rooms list.
fn equipment_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "display" | "monitor" | "screen" | "tv" | "モニター" | "ディスプレイ" | "テレビ"
        | "画面" => "display",
        "video" | "camera" | "vc" | "conference" | "ビデオ" | "カメラ" | "テレビ会議"
        | "web会議" => "video",
        "whiteboard" | "board" | "ホワイトボード" => "whiteboard",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NINE: i64 = 1_795_564_800; // 2026-11-25 09:00 JST

    fn meeting(uid: &str, start_min: i64, end_min: i64) -> Meeting {
        Meeting {
            uid: uid.into(),
            interval: Interval {
                start: NINE + start_min * 60,
                end: NINE + end_min * 60,
            },
            organizer: Some(7),
            booked_at: Some(NINE - 86_400),
            checked_in_at: None,
            ended_at: None,
            private: false,
        }
    }

    fn at(minute: i64) -> i64 {
        NINE + minute * 60
    }

    #[test]
    fn a_room_is_free_booked_or_in_use_and_lists_what_comes_next() {
        let mut standup = meeting("standup", 0, 30);
        let review = meeting("review", 60, 120);
        let later = meeting("later", 180, 240);
        let meetings = vec![later.clone(), review.clone(), standup.clone()];
        let now = occupancy(&meetings, at(10), 5);
        assert_eq!(now.state, RoomState::Booked);
        assert_eq!(now.current.map(|m| m.uid.as_str()), Some("standup"));
        assert_eq!(
            now.next.iter().map(|m| m.uid.as_str()).collect::<Vec<_>>(),
            vec!["review", "later"]
        );
        standup.checked_in_at = Some(at(2));
        let meetings = vec![standup.clone(), review.clone()];
        assert_eq!(occupancy(&meetings, at(10), 5).state, RoomState::InUse);
        assert_eq!(occupancy(&meetings, at(40), 5).state, RoomState::Free);
        // Checked out early: free from then.
        standup.ended_at = Some(at(20));
        let meetings = vec![standup, review];
        assert_eq!(occupancy(&meetings, at(25), 1).state, RoomState::Free);
        assert_eq!(occupancy(&meetings, at(25), 1).next.len(), 1);
    }

    #[test]
    fn a_no_show_is_released_at_the_end_of_the_grace_period_and_not_before() {
        let policy = ReleasePolicy::default();
        let m = meeting("m", 0, 60);
        assert_eq!(release(&m, &policy, at(9)), Err(Kept::InGrace));
        assert_eq!(release(&m, &policy, at(10)), Ok(at(10)));
        // A sweep that runs late still shortens the event to the end of the grace period.
        assert_eq!(release(&m, &policy, at(14)), Ok(at(10)));
        let mut came = m.clone();
        came.checked_in_at = Some(at(9));
        assert_eq!(release(&came, &policy, at(30)), Err(Kept::CheckedIn));
        let mut done = m.clone();
        done.ended_at = Some(at(10));
        assert_eq!(release(&done, &policy, at(30)), Err(Kept::Over));
        assert_eq!(release(&m, &policy, at(60)), Err(Kept::Over));
    }

    #[test]
    fn long_meetings_chosen_people_late_bookings_and_switched_off_rooms_are_spared() {
        let policy = ReleasePolicy {
            exempt_organizers: vec![7],
            ..ReleasePolicy::default()
        };
        assert_eq!(
            release(&meeting("m", 0, 60), &policy, at(30)),
            Err(Kept::ExemptOrganizer)
        );
        let policy = ReleasePolicy::default();
        assert_eq!(
            release(&meeting("workshop", 0, 8 * 60), &policy, at(30)),
            Err(Kept::LongMeeting)
        );
        // Booked at the door five minutes after the start: grace from then.
        let mut late = meeting("late", 0, 60);
        late.booked_at = Some(at(5));
        assert_eq!(release(&late, &policy, at(14)), Err(Kept::InGrace));
        assert_eq!(release(&late, &policy, at(15)), Ok(at(15)));
        let off = ReleasePolicy {
            enabled: false,
            ..ReleasePolicy::default()
        };
        assert_eq!(
            release(&meeting("m", 0, 60), &off, at(30)),
            Err(Kept::Disabled)
        );
    }

    #[test]
    fn room_searches_are_read_in_english_and_japanese() {
        use chrono::TimeZone;
        let zone: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
        // 2026-11-25 09:00:30 JST.
        let now = chrono::Utc.timestamp_opt(NINE + 30, 0).unwrap();
        let plain = RoomRequest::parse("", now, zone);
        assert_eq!(plain.wanted, RoomWanted::default());
        assert_eq!((plain.minutes, plain.now), (30, true));
        assert_eq!(plain.span.start, NINE, "from the current minute");
        let english = RoomRequest::parse("6 people 1h display floor 3", now, zone);
        assert_eq!(english.wanted.seats, Some(6));
        assert_eq!(english.wanted.floor, Some(3));
        assert_eq!(english.wanted.equipment, vec!["display".to_string()]);
        assert_eq!(english.minutes, 60);
        let japanese = RoomRequest::parse("空き ６人30分 ３階 ビデオ", now, zone);
        assert_eq!(japanese.wanted.seats, Some(6));
        assert_eq!(japanese.minutes, 30);
        assert_eq!(japanese.wanted.floor, Some(3));
        assert_eq!(japanese.wanted.equipment, vec!["video".to_string()]);
        let later = RoomRequest::parse("4 at 14:00 45m", now, zone);
        assert!(!later.now);
        assert_eq!(later.span.start, NINE + 5 * 3600);
        assert_eq!(later.span.end, NINE + 5 * 3600 + 45 * 60);
        assert_eq!(later.wanted.seats, Some(4));
        // Earlier than now: tomorrow's.
        let tomorrow = RoomRequest::parse("8時", now, zone);
        assert_eq!(tomorrow.span.start, NINE - 3600 + 86_400);
    }

    #[test]
    fn a_series_strikes_out_after_three_missed_check_ins_in_a_row() {
        assert!(!series_strikes_out(&[true, true]));
        assert!(series_strikes_out(&[true, true, true]));
        assert!(!series_strikes_out(&[true, true, false]));
        assert!(series_strikes_out(&[false, true, true, true]));
        assert!(!series_strikes_out(&[true, false, true, true]));
    }

    #[test]
    fn occupants_are_nudged_five_minutes_before_the_end_when_the_room_is_booked_next() {
        let mut current = meeting("current", 0, 60);
        current.checked_in_at = Some(at(1));
        let next = meeting("next", 60, 90);
        let gap = meeting("gap", 75, 90);
        assert!(!nudge_due(&current, Some(&next), at(54)));
        assert!(nudge_due(&current, Some(&next), at(55)));
        assert!(nudge_due(&current, Some(&next), at(59)));
        assert!(!nudge_due(&current, Some(&next), at(60)));
        assert!(
            !nudge_due(&current, Some(&gap), at(56)),
            "a gap after: no rush"
        );
        assert!(!nudge_due(&current, None, at(56)));
        let mut empty = current.clone();
        empty.checked_in_at = None;
        assert!(
            !nudge_due(&empty, Some(&next), at(56)),
            "nobody in the room"
        );
    }

    #[test]
    fn a_search_finds_rooms_that_suit_and_are_free_for_the_whole_span() {
        let room = RoomFacts {
            capacity: 6,
            equipment: vec!["display".into(), "whiteboard".into()],
            floor: Some(3),
        };
        assert!(suits(&room, &RoomWanted::default()));
        let six_with_display = RoomWanted {
            seats: Some(6),
            equipment: vec!["display".into()],
            floor: None,
        };
        assert!(suits(&room, &six_with_display));
        assert!(!suits(
            &room,
            &RoomWanted {
                seats: Some(8),
                ..RoomWanted::default()
            }
        ));
        assert!(!suits(
            &room,
            &RoomWanted {
                equipment: vec!["video".into()],
                ..RoomWanted::default()
            }
        ));
        assert!(!suits(
            &room,
            &RoomWanted {
                floor: Some(2),
                ..RoomWanted::default()
            }
        ));
        let mut busy = meeting("m", 30, 60);
        let span = |a, b| Interval {
            start: at(a),
            end: at(b),
        };
        assert!(free_for(std::slice::from_ref(&busy), span(0, 30)));
        assert!(!free_for(std::slice::from_ref(&busy), span(15, 45)));
        busy.ended_at = Some(at(40));
        assert!(free_for(&[busy], span(40, 60)), "released at 40");
    }

    #[test]
    fn utilisation_counts_booked_used_and_released_time_and_no_shows_over_tracked_meetings() {
        let mut used = meeting("used", 0, 60);
        used.checked_in_at = Some(at(5));
        used.ended_at = Some(at(45));
        let released = meeting("released", 60, 120);
        let mut released_ended = released.clone();
        released_ended.ended_at = Some(at(70));
        let future = meeting("future", 600, 660);
        let total = utilisation(
            &[(used, None), (released_ended, Some(at(70))), (future, None)],
            at(300),
        );
        assert_eq!(total.booked, 120 * 60);
        assert_eq!(total.used, 40 * 60);
        assert_eq!(total.released, 50 * 60);
        assert_eq!((total.tracked, total.no_shows), (2, 1));
        assert_eq!(total.no_show_rate(), Some(0.5));
        assert_eq!(Utilisation::default().no_show_rate(), None);
    }
}
