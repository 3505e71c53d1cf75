//! Meeting rooms: what a room is doing now (its calendar's bookings plus check-ins), acting
//! on it at the door or from chat (check in, check out, extend, book now), finding a free
//! room, and the jobs that keep rooms honest: the reminder at the start, the release of
//! bookings nobody came to, the series that loses its room after three misses, the nudge
//! before the end, and the word to occupants when the next meeting's visitor arrives.
//!
//! Occupancy is read from the room's calendar cache (`calendar_events`: the built-in
//! calendar's own events, or a provider's cached ones) joined with `room_meetings`, the
//! room's own record of each meeting that began. A release or an early end shortens the
//! room's event (in the built-in calendar at once; at a provider through the outbox), so the
//! calendar's history stays true.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use serde_json::json;

use super::access_log::Event;
use super::outbox::{OutboxMessage, RoomEventChange};
use super::{Actor, Engine};
use crate::domain::calendar::{Interval, Owner, Provider};
use crate::domain::chat::{Action, Button, ButtonStyle, Message};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::Permission;
use crate::domain::room::{
    self as rules, Meeting, ReleasePolicy, RoomFacts, RoomState, RoomWanted, Utilisation,
};
use crate::domain::token;
use crate::engine::conversation::ChatUser;
use crate::i18n::{self, Lang};
use crate::port::SealedAt;
use crate::store::calendar::{self as calendar_store, EventFacts};
use crate::store::employee::{self, Employee};
use crate::store::reception as device_store;
use crate::store::room::{self as store, Room};
use crate::store::{Db, Tx, tenant};
use crate::{Error, Result};

/// Someone may check in this long before their meeting starts.
pub const EARLY_CHECK_IN_SECONDS: i64 = 10 * 60;
/// What "book now" and "extend" offer, in minutes.
pub const SPANS_MINUTES: [i64; 3] = [15, 30, 60];
/// How many meetings to come a room's status lists.
pub const UPCOMING: usize = 5;
/// The sweep records meetings that began at most this long ago (a server that was down
/// longer does not remind or release meetings that began before it came back).
const RECORD_LOOKBACK_MS: i64 = 24 * 3600 * 1000;
/// The occupants are told of a visitor for a meeting starting within this.
pub const VISITOR_LOOKAHEAD_SECONDS: i64 = 30 * 60;
/// The most rooms a search answers with.
pub const MAX_FOUND: usize = 10;
/// The longest grace period a room may set (minutes × 60).
const MAX_GRACE_SECONDS: i64 = 120 * 60;
/// How far from now a room booked from chat may start.
const CHAT_BOOKING_AHEAD_SECONDS: i64 = 62 * 86_400;
/// Slugs a room cannot have: the rooms API uses these names below `/rooms/`.
const RESERVED_SLUGS: [&str; 3] = ["free", "utilisation", "utilisation.csv"];
/// The most equipment words a room lists.
const MAX_EQUIPMENT: usize = 10;
/// Reminders, releases and nudges are written in transactions of at most this many
/// meetings, so a big sweep does not hold the database from check-ins for long (on SQLite,
/// the one writer: about 30 ms for a chunk of releases).
const SWEEP_CHUNK: usize = 500;
/// How many chunks of a sweep PostgreSQL writes at once (with two, a burst of 3,000
/// releases went from about 190 to 140 ms on two cores; BENCHMARKS.md).
const CHUNKS_AT_ONCE: usize = 2;

/// Who acts on a room.
#[derive(Debug, Clone)]
pub enum RoomCaller {
    /// The paired door display of the room.
    Door { device_id: i64 },
    /// An employee: signed in to the web chat, or pressing a chat button.
    Employee(Employee),
    /// The demo's room pages, which need no pairing.
    Demo,
}

impl RoomCaller {
    fn employee(&self) -> Option<&Employee> {
        match self {
            RoomCaller::Employee(employee) => Some(employee),
            _ => None,
        }
    }

    /// The caller as the access log names them.
    fn log_name(&self) -> String {
        match self {
            RoomCaller::Door { device_id } => format!("device:{device_id}"),
            RoomCaller::Employee(employee) => format!("employee:{}", employee.id),
            RoomCaller::Demo => "demo".into(),
        }
    }
}

/// A room as someone at its door (or its page) reaches it.
#[derive(Debug, Clone)]
pub struct RoomAccess {
    pub tenant_id: i64,
    pub room: Room,
    pub caller: RoomCaller,
}

/// A meeting as a room's page shows it. Private meetings carry no title or organizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingView {
    /// The recorded meeting's id, once it began (chat buttons name it).
    pub id: Option<i64>,
    pub start: i64,
    /// When the room is free again (earlier than booked when it ended early or was
    /// released).
    pub end: i64,
    pub title: Option<String>,
    pub organizer: Option<String>,
    pub private: bool,
    pub checked_in: bool,
    /// When it is released if nobody checks in (only while that may still happen).
    pub release_at: Option<i64>,
}

/// A room now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    pub room: RoomSummary,
    pub state: RoomState,
    pub current: Option<MeetingView>,
    pub next: Vec<MeetingView>,
    /// When the room is next taken, if it is free now (`None`: free for the rest of what
    /// its calendar holds).
    pub free_until: Option<i64>,
    pub now: i64,
}

/// What people read about a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub slug: String,
    pub name: String,
    pub capacity: i64,
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    pub time_zone: String,
}

impl From<&Room> for RoomSummary {
    fn from(room: &Room) -> Self {
        RoomSummary {
            slug: room.slug.clone(),
            name: room.name.clone(),
            capacity: room.capacity,
            equipment: equipment_of(room),
            floor: room.floor,
            time_zone: room.time_zone.clone(),
        }
    }
}

/// A room a search found free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRoom {
    /// The room's id (chat buttons name it).
    pub id: i64,
    pub room: RoomSummary,
    /// When its next meeting starts, if any.
    pub free_until: Option<i64>,
}

/// A room's settings as an admin gives them.
#[derive(Debug, Clone, Default)]
pub struct RoomSettings {
    pub name: String,
    pub capacity: i64,
    pub time_zone: String,
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    /// The slug of the location it is in.
    pub location: Option<String>,
    pub release: ReleaseSettings,
}

/// A room's release policy as an admin gives it: exempt organizers by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSettings {
    pub enabled: bool,
    pub grace_minutes: i64,
    /// `None`: long meetings are released like others.
    pub long_meeting_hours: Option<i64>,
    pub exempt: Vec<String>,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        let policy = ReleasePolicy::default();
        ReleaseSettings {
            enabled: policy.enabled,
            grace_minutes: policy.grace_seconds / 60,
            long_meeting_hours: policy.long_meeting_seconds.map(|s| s / 3600),
            exempt: Vec::new(),
        }
    }
}

/// A room as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDetails {
    pub id: i64,
    pub summary: RoomSummary,
    pub location: Option<String>,
    pub release: ReleaseSettings,
}

/// What one sweep of the rooms did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomSweep {
    pub recorded: usize,
    pub reminded: usize,
    pub released: usize,
    pub series_left: usize,
    pub nudged: usize,
}

/// A room's use over a span.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomUse {
    pub room: RoomSummary,
    pub usage: Utilisation,
}

/// The room's equipment words.
fn equipment_of(room: &Room) -> Vec<String> {
    room.equipment
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn policy_of(json: &str) -> Result<ReleasePolicy> {
    serde_json::from_str(json)
        .map_err(|err| Error::internal("reading a room's release policy", err))
}

fn zone_of(room_zone: &str) -> Tz {
    room_zone.parse().unwrap_or(Tz::UTC)
}

/// `HH:MM` of `at` (epoch seconds) in `zone`.
pub fn clock_time(zone: Tz, at: i64) -> String {
    zone.from_utc_datetime(
        &DateTime::<Utc>::from_timestamp(at, 0)
            .unwrap_or_default()
            .naive_utc(),
    )
    .format("%H:%M")
    .to_string()
}

fn title_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "calendar_events",
        column: "title",
        row,
    }
}

/// A meeting of the calendar cache as the pure rules see it.
fn meeting_of(event: &store::RoomEvent) -> Option<Meeting> {
    Some(Meeting {
        uid: event.uid.clone(),
        interval: Interval::new(
            event.starts_at.div_euclid(1000),
            (event.ends_at + 999).div_euclid(1000),
        )?,
        organizer: event.organizer_id,
        booked_at: event.booked_at.map(|b| b.div_euclid(1000)),
        checked_in_at: event.checked_in_at.map(|c| c.div_euclid(1000)),
        ended_at: event
            .ended_at
            .into_iter()
            .chain(event.released_at)
            .min()
            .map(|e| e.div_euclid(1000)),
        private: event.private,
    })
}

/// Whether `word` can be an equipment word: 1–30 lower-case letters, digits and `-`.
fn is_equipment_word(word: &str) -> bool {
    !word.is_empty()
        && word.chars().count() <= 30
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Validated equipment words (see [`is_equipment_word`]), at most [`MAX_EQUIPMENT`], each
/// once, sorted (so a search matches them with one `LIKE` pattern).
fn checked_equipment(items: &[String]) -> Result<String> {
    if items.len() > MAX_EQUIPMENT {
        return Err(Error::invalid(
            "equipment",
            Invalid::TooMany { max: MAX_EQUIPMENT },
        ));
    }
    let mut words: Vec<String> = Vec::new();
    for item in items {
        let word = item.trim().to_lowercase();
        if !is_equipment_word(&word) {
            return Err(Error::invalid("equipment", Invalid::NotSlug));
        }
        words.push(word);
    }
    words.sort_unstable();
    words.dedup();
    Ok(words.join(" "))
}

impl Engine {
    // ---- rooms (admins) ----

    /// Adds a room (admins).
    pub async fn add_room(
        &self,
        actor: &Actor,
        slug: &str,
        settings: &RoomSettings,
    ) -> Result<RoomDetails> {
        actor.require(Permission::ManageLocations)?;
        crate::engine::tenant::validate_slug(slug).map_err(|r| Error::invalid("slug", r))?;
        // Names the rooms API uses below `/rooms/`.
        if RESERVED_SLUGS.contains(&slug) {
            return Err(Error::invalid("slug", Invalid::Taken));
        }
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let mut room = self
            .checked_room(&mut tx, tenant_id, slug, settings)
            .await?;
        room.id = match store::insert_room(&mut tx, tenant_id, &room, now).await {
            Err(crate::store::StoreError::Duplicate) => {
                return Err(Error::invalid("slug", Invalid::Taken));
            }
            other => other?,
        };
        let event = Event::by(
            actor,
            "room.create",
            format!("room:{}", room.id),
            json!({"slug": room.slug, "name": room.name, "capacity": room.capacity}),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        let details = self.room_details(&mut tx, tenant_id, &room).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Changes a room's settings (admins), logged.
    pub async fn update_room(
        &self,
        actor: &Actor,
        slug: &str,
        settings: &RoomSettings,
    ) -> Result<RoomDetails> {
        actor.require(Permission::ManageLocations)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let existing = store::room_by_slug(&mut tx, tenant_id, slug)
            .await?
            .ok_or(Error::NotFound("room"))?;
        let mut room = self
            .checked_room(&mut tx, tenant_id, slug, settings)
            .await?;
        room.id = existing.id;
        store::update_room(&mut tx, tenant_id, &room).await?;
        let event = Event::by(
            actor,
            "room.update",
            format!("room:{}", room.id),
            json!({
                "name": room.name,
                "capacity": room.capacity,
                "equipment": room.equipment,
                "floor": room.floor,
                "release_policy": room.release_policy,
            }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        let details = self.room_details(&mut tx, tenant_id, &room).await?;
        tx.commit().await?;
        self.wake_rooms();
        Ok(details)
    }

    /// The actor's tenant's rooms (everyone signed in).
    pub async fn rooms(&self, actor: &Actor) -> Result<Vec<RoomDetails>> {
        actor.require(Permission::ViewDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let mut all = Vec::new();
        for room in store::rooms(&mut tx, tenant_id).await? {
            all.push(self.room_details(&mut tx, tenant_id, &room).await?);
        }
        Ok(all)
    }

    /// A room as given, checked: a `Room` to write (id 0).
    async fn checked_room(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        slug: &str,
        settings: &RoomSettings,
    ) -> Result<Room> {
        let name = checked_text(&settings.name, TextLimit::name(100))
            .map_err(|r| Error::invalid("name", r))?;
        if !(1..=1000).contains(&settings.capacity) {
            return Err(Error::invalid(
                "capacity",
                Invalid::OutOfRange { min: 1, max: 1000 },
            ));
        }
        if settings.time_zone.parse::<Tz>().is_err() {
            return Err(Error::invalid("time_zone", Invalid::NotTimeZone));
        }
        if let Some(floor) = settings.floor
            && !(-20..=300).contains(&floor)
        {
            return Err(Error::invalid(
                "floor",
                Invalid::OutOfRange { min: -20, max: 300 },
            ));
        }
        let location_id = match &settings.location {
            Some(location) => Some(
                tenant::find_location_by_slug(tx, tenant_id, location)
                    .await?
                    .ok_or_else(|| Error::invalid("location", Invalid::UnknownField))?
                    .id,
            ),
            None => None,
        };
        let release = &settings.release;
        if !(1..=MAX_GRACE_SECONDS / 60).contains(&release.grace_minutes) {
            return Err(Error::invalid(
                "release.grace_minutes",
                Invalid::OutOfRange {
                    min: 1,
                    max: MAX_GRACE_SECONDS / 60,
                },
            ));
        }
        if let Some(hours) = release.long_meeting_hours
            && !(1..=24).contains(&hours)
        {
            return Err(Error::invalid(
                "release.long_meeting_hours",
                Invalid::OutOfRange { min: 1, max: 24 },
            ));
        }
        if release.exempt.len() > 100 {
            return Err(Error::invalid(
                "release.exempt",
                Invalid::TooMany { max: 100 },
            ));
        }
        let mut exempt_organizers = Vec::new();
        for email in &release.exempt {
            let email = crate::domain::people::normalize_email(email)
                .map_err(|r| Error::invalid("release.exempt", r))?;
            let person = employee::find_by_email(tx, tenant_id, &email)
                .await?
                .ok_or_else(|| Error::invalid("release.exempt", Invalid::NotEmail))?;
            exempt_organizers.push(person.id);
        }
        let policy = ReleasePolicy {
            grace_seconds: release.grace_minutes * 60,
            long_meeting_seconds: release.long_meeting_hours.map(|h| h * 3600),
            exempt_organizers,
            enabled: release.enabled,
        };
        Ok(Room {
            id: 0,
            slug: slug.to_owned(),
            name,
            capacity: settings.capacity,
            time_zone: settings.time_zone.clone(),
            equipment: checked_equipment(&settings.equipment)?,
            floor: settings.floor,
            location_id,
            release_policy: serde_json::to_string(&policy)
                .map_err(|err| Error::internal("writing a release policy", err))?,
        })
    }

    async fn room_details(&self, tx: &mut Tx, tenant_id: i64, room: &Room) -> Result<RoomDetails> {
        let policy = policy_of(&room.release_policy)?;
        let location = match room.location_id {
            Some(id) => tenant::find_location(tx, tenant_id, id)
                .await?
                .map(|l| l.slug),
            None => None,
        };
        let mut exempt = Vec::new();
        for id in &policy.exempt_organizers {
            if let Some(person) = employee::find(tx, tenant_id, *id).await? {
                exempt.push(person.profile.email);
            }
        }
        Ok(RoomDetails {
            id: room.id,
            summary: RoomSummary::from(room),
            location,
            release: ReleaseSettings {
                enabled: policy.enabled,
                grace_minutes: policy.grace_seconds / 60,
                long_meeting_hours: policy.long_meeting_seconds.map(|s| s / 3600),
                exempt,
            },
        })
    }

    // ---- reaching a room ----

    /// The room `slug` as the caller reaches it: the paired door display holding
    /// `device_token`, the employee signed in to the web chat with `chat_session`, or — in
    /// the demo only — anyone.
    pub async fn room_access(
        &self,
        slug: &str,
        device_token: Option<&str>,
        chat_session: Option<&str>,
    ) -> Result<RoomAccess> {
        if let Some(device_token) = device_token {
            let mut tx = self.db.read().await?;
            let device = device_store::device_by_token(&mut tx, &token::hash(device_token))
                .await?
                .filter(|d| d.kind == "door");
            if let Some(device) = device {
                let room = store::room_by_slug(&mut tx, device.tenant_id, slug)
                    .await?
                    .filter(|r| Some(r.id) == device.room_id)
                    .ok_or(Error::DeviceNotPaired)?;
                return Ok(RoomAccess {
                    tenant_id: device.tenant_id,
                    room,
                    caller: RoomCaller::Door {
                        device_id: device.id,
                    },
                });
            }
        }
        if let Some(session) = chat_session
            && let Some(signed_in) = self.chat_session(session).await?
        {
            let mut tx = self.db.read().await?;
            let room = store::room_by_slug(&mut tx, signed_in.tenant_id, slug)
                .await?
                .ok_or(Error::NotFound("room"))?;
            return Ok(RoomAccess {
                tenant_id: signed_in.tenant_id,
                room,
                caller: RoomCaller::Employee(signed_in.employee),
            });
        }
        if let Some(tenant_id) = self.demo_tenant().await? {
            let mut tx = self.db.read().await?;
            let room = store::room_by_slug(&mut tx, tenant_id, slug)
                .await?
                .ok_or(Error::NotFound("room"))?;
            return Ok(RoomAccess {
                tenant_id,
                room,
                caller: RoomCaller::Demo,
            });
        }
        Err(Error::RoomSignInNeeded)
    }

    /// Whether `access` still holds. A door display's pairing can be revoked while its
    /// stream is open; an employee's session and the demo are checked when a stream opens,
    /// and a stream lasts under a minute.
    pub async fn room_access_holds(&self, access: &RoomAccess) -> Result<bool> {
        let RoomCaller::Door { device_id } = access.caller else {
            return Ok(true);
        };
        let mut tx = self.db.statements().await?;
        Ok(device_store::device_is_live(&mut tx, device_id).await?)
    }

    /// The tenant whose kiosks and room pages need no pairing: the demo tenant, on a demo
    /// server only.
    pub async fn demo_tenant(&self) -> Result<Option<i64>> {
        if !self.settings.demo {
            return Ok(None);
        }
        let mut tx = self.db.read().await?;
        Ok(tenant::find_tenant_by_slug(&mut tx, super::demo::TENANT)
            .await?
            .map(|t| t.id))
    }

    /// The room with id `room_id` for an employee acting from chat.
    async fn room_for_employee(
        &self,
        tenant_id: i64,
        room_id: i64,
        employee: &Employee,
    ) -> Result<RoomAccess> {
        let mut tx = self.db.read().await?;
        let room = store::room_by_id(&mut tx, tenant_id, room_id)
            .await?
            .ok_or(Error::NotFound("room"))?;
        Ok(RoomAccess {
            tenant_id,
            room,
            caller: RoomCaller::Employee(employee.clone()),
        })
    }

    // ---- status ----

    /// What the room is doing now, and what comes next.
    pub async fn room_status(&self, access: &RoomAccess) -> Result<RoomStatus> {
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.read().await?;
        self.status_in(&mut tx, access, now).await
    }

    async fn status_in(&self, tx: &mut Tx, access: &RoomAccess, now: i64) -> Result<RoomStatus> {
        // From the start of the room's day (a meeting running since the morning) to the
        // end of the next day.
        let from = now - 24 * 3600;
        let to = now + 36 * 3600;
        let events = store::room_events(tx, access.room.id, from * 1000, to * 1000).await?;
        let meetings: Vec<Meeting> = events.iter().filter_map(meeting_of).collect();
        let occupancy = rules::occupancy(&meetings, now, UPCOMING);
        let policy = policy_of(&access.room.release_policy)?;
        let view = |meeting: &Meeting| -> Result<MeetingView> {
            let event = events
                .iter()
                .find(|e| e.uid == meeting.uid)
                .ok_or(Error::NotFound("meeting"))?;
            let title = match (&event.title_sealed, meeting.private) {
                (Some(sealed), false) => {
                    let row = format!("{}/{}", event.calendar_id, event.uid);
                    self.open_for_tenant(sealed, title_at(access.tenant_id, &row))
                        .ok()
                        .and_then(|plain| String::from_utf8(plain).ok())
                }
                _ => None,
            };
            let release_at = match rules::release(meeting, &policy, now) {
                Err(rules::Kept::InGrace) => {
                    let grace_from = meeting
                        .booked_at
                        .map_or(meeting.interval.start, |b| b.max(meeting.interval.start));
                    Some(grace_from + policy.grace_seconds)
                }
                _ => None,
            };
            Ok(MeetingView {
                id: event.meeting_id,
                start: meeting.interval.start,
                end: meeting.effective_end(),
                title,
                organizer: if meeting.private {
                    None
                } else {
                    event.organizer_name.clone()
                },
                private: meeting.private,
                checked_in: meeting.checked_in_at.is_some(),
                release_at: release_at.filter(|_| meeting.interval.start <= now),
            })
        };
        let current = occupancy.current.map(&view).transpose()?;
        let next = occupancy
            .next
            .iter()
            .map(|m| view(m))
            .collect::<Result<Vec<_>>>()?;
        let free_until = match current {
            Some(_) => None,
            None => next.first().map(|m| m.start),
        };
        Ok(RoomStatus {
            room: RoomSummary::from(&access.room),
            state: occupancy.state,
            current,
            next,
            free_until,
            now,
        })
    }

    // ---- acting at the door ----

    /// Checks in to the room's meeting now (or one starting within
    /// [`EARLY_CHECK_IN_SECONDS`]); logged.
    pub async fn check_in_room(&self, access: &RoomAccess) -> Result<RoomStatus> {
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.write().await?;
        store::lock_room(&mut tx, access.room.id).await?;
        let events = store::room_events(
            &mut tx,
            access.room.id,
            now * 1000,
            (now + EARLY_CHECK_IN_SECONDS) * 1000 + 1,
        )
        .await?;
        let open = |e: &&store::RoomEvent| e.released_at.is_none() && e.ended_at.is_none();
        // The meeting holding the room that nobody checked in to yet, else the next one
        // about to start (someone early while the one before is still on).
        let event = events
            .iter()
            .filter(open)
            .filter(|e| e.checked_in_at.is_none())
            .min_by_key(|e| (e.starts_at > now * 1000, e.starts_at))
            .cloned();
        let Some(event) = event else {
            if events
                .iter()
                .filter(open)
                .any(|e| e.checked_in_at.is_some())
            {
                // Already checked in: nothing to do.
                return self.status_in(&mut tx, access, now).await;
            }
            return Err(if events.iter().any(|e| e.released_at.is_some()) {
                Error::MeetingReleased
            } else {
                Error::NoMeetingNow
            });
        };
        let id = self
            .record_meeting(&mut tx, access.tenant_id, access.room.id, &event, now)
            .await?;
        let by = access.caller.employee().map(|e| e.id);
        if store::check_in(&mut tx, id, now * 1000, by).await? {
            self.log_room(
                &mut tx,
                access,
                "room.check_in",
                json!({"meeting": id}),
                now,
            )
            .await?;
            self.update_reminder(&mut tx, access.tenant_id, id, ReminderState::CheckedIn)
                .await?;
        }
        let status = self.status_in(&mut tx, access, now).await?;
        tx.commit().await?;
        self.after_room_change();
        Ok(status)
    }

    /// Ends the room's meeting now (checked out): the room is free from now, and its event
    /// ends now; logged.
    pub async fn check_out_room(&self, access: &RoomAccess) -> Result<RoomStatus> {
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.write().await?;
        store::lock_room(&mut tx, access.room.id).await?;
        let event = self.current_event(&mut tx, access, now).await?;
        may_change(access, &event)?;
        let id = self
            .record_meeting(&mut tx, access.tenant_id, access.room.id, &event, now)
            .await?;
        self.end_now(&mut tx, access, id, &event, now).await?;
        let status = self.status_in(&mut tx, access, now).await?;
        tx.commit().await?;
        self.after_room_change();
        Ok(status)
    }

    /// Ends meeting `id` (the room's `event`) now, in the caller's transaction: the room is
    /// free from now, its event ends at this minute (a calendar shows minutes), the
    /// organizer's reminder says so; logged. `false` when it had already ended.
    async fn end_now(
        &self,
        tx: &mut Tx,
        access: &RoomAccess,
        id: i64,
        event: &store::RoomEvent,
        now: i64,
    ) -> Result<bool> {
        if !store::end_meeting(tx, id, now * 1000).await? {
            return Ok(false);
        }
        let end = (now / 60 * 60)
            .max(event.starts_at / 1000 + 60)
            .min(event.ends_at / 1000);
        self.change_room_event_end(tx, access.tenant_id, event, end)
            .await?;
        self.log_room(tx, access, "room.check_out", json!({"meeting": id}), now)
            .await?;
        self.update_reminder(tx, access.tenant_id, id, ReminderState::Ended)
            .await?;
        Ok(true)
    }

    /// Extends the room's meeting by `minutes` (15, 30 or 60) when the room is free that
    /// long after it; logged.
    pub async fn extend_room(&self, access: &RoomAccess, minutes: i64) -> Result<RoomStatus> {
        let minutes = checked_span(minutes)?;
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.write().await?;
        store::lock_room(&mut tx, access.room.id).await?;
        let event = self.current_event(&mut tx, access, now).await?;
        may_change(access, &event)?;
        let end = event.ends_at / 1000;
        let new_end = end + minutes * 60;
        let after = store::room_events(&mut tx, access.room.id, end * 1000, new_end * 1000).await?;
        let taken: Vec<Meeting> = after
            .iter()
            .filter(|e| e.uid != event.uid)
            .filter_map(meeting_of)
            .collect();
        let span = Interval::new(end, new_end).ok_or(Error::RoomNotFree)?;
        if !rules::free_for(&taken, span) {
            return Err(Error::RoomNotFree);
        }
        let id = self
            .record_meeting(&mut tx, access.tenant_id, access.room.id, &event, now)
            .await?;
        store::set_meeting_end(&mut tx, id, new_end * 1000).await?;
        self.change_room_event_end(&mut tx, access.tenant_id, &event, new_end)
            .await?;
        let detail = json!({"meeting": id, "minutes": minutes});
        self.log_room(&mut tx, access, "room.extend", detail, now)
            .await?;
        let status = self.status_in(&mut tx, access, now).await?;
        tx.commit().await?;
        self.after_room_change();
        Ok(status)
    }

    /// Books the room from now for `minutes` (15, 30 or 60) when it is free that long. At
    /// the door the booking is checked in at once (whoever booked it is there); logged.
    pub async fn book_room_now(&self, access: &RoomAccess, minutes: i64) -> Result<RoomStatus> {
        let minutes = checked_span(minutes)?;
        let now = self.ports.clock.now().timestamp();
        // From the current minute: a calendar shows minutes.
        let start = now / 60 * 60;
        let span = Interval::new(start, start + minutes * 60).ok_or(Error::RoomNotFree)?;
        let mut tx = self.db.write().await?;
        let at_door = !matches!(access.caller, RoomCaller::Employee(_));
        self.book_room(&mut tx, access, span, at_door, now).await?;
        let status = self.status_in(&mut tx, access, now).await?;
        tx.commit().await?;
        self.after_room_change();
        Ok(status)
    }

    /// Books `span` of the room in the caller's transaction when it is free: an event in
    /// the room's calendar, its meeting recorded; checked in when `checked_in`.
    async fn book_room(
        &self,
        tx: &mut Tx,
        access: &RoomAccess,
        span: Interval,
        checked_in: bool,
        now: i64,
    ) -> Result<()> {
        store::lock_room(tx, access.room.id).await?;
        let events =
            store::room_events(tx, access.room.id, span.start * 1000, span.end * 1000).await?;
        let meetings: Vec<Meeting> = events.iter().filter_map(meeting_of).collect();
        if !rules::free_for(&meetings, span) {
            return Err(Error::RoomNotFree);
        }
        let tenant_id = access.tenant_id;
        let organizer = access.caller.employee();
        // The room's calendar is read by everyone: its title is in both languages (the
        // organizer is shown beside it).
        let title = format!(
            "{} / {}",
            i18n::text(Lang::En, "rooms.booked_now"),
            i18n::text(Lang::Ja, "rooms.booked_now")
        );
        let uid = held_uid();
        let facts = EventFacts {
            organizer: organizer.map(|e| e.profile.email.as_str()),
            private: false,
            series: None,
            booked_at: Some(now * 1000),
        };
        let owner = Owner::Room(access.room.id);
        match crate::engine::calendar::provider_calendar(tx, tenant_id, owner).await? {
            Some(calendar) => {
                // Held in the cache at once under its own uid (so nobody else books it
                // meanwhile); the provider's event replaces it when made.
                calendar_store::upsert_event(
                    tx,
                    calendar.id,
                    tenant_id,
                    &uid,
                    span.start * 1000,
                    span.end * 1000,
                    None,
                    &facts,
                )
                .await?;
                let draft = crate::port::EventDraft {
                    title: title.clone(),
                    description: String::new(),
                    interval: span,
                    time_zone: access.room.time_zone.clone(),
                    attendees: Vec::new(),
                    location: Some(access.room.name.clone()),
                    online_meeting: false,
                };
                self.queue_calendar_event(tx, tenant_id, owner, &uid, &draft)
                    .await?;
            }
            None => {
                self.put_local_event(tx, tenant_id, owner, &uid, span, &title, &facts)
                    .await?;
            }
        }
        // Booked at the door, someone is there: the meeting is recorded checked in. Booked
        // from chat, the sweep records it when it starts and reminds its organizer.
        if checked_in {
            let meeting = store::NewMeeting {
                tenant_id,
                room_id: access.room.id,
                uid: &uid,
                series: None,
                starts_at: span.start * 1000,
                ends_at: span.end * 1000,
                organizer_id: organizer.map(|e| e.id),
                private: false,
                booked_at: Some(now * 1000),
            };
            let id = store::ensure_meeting(tx, &meeting, now * 1000).await?;
            store::check_in(tx, id, now * 1000, organizer.map(|e| e.id)).await?;
        }
        let detail = json!({"event": uid, "start": span.start, "end": span.end});
        self.log_room(tx, access, "room.book", detail, now).await?;
        Ok(())
    }

    /// The meeting holding the room at `now` (not ended or released).
    async fn current_event(
        &self,
        tx: &mut Tx,
        access: &RoomAccess,
        now: i64,
    ) -> Result<store::RoomEvent> {
        let events = store::room_events(tx, access.room.id, now * 1000, now * 1000 + 1).await?;
        let meetings: Vec<Meeting> = events.iter().filter_map(meeting_of).collect();
        let occupancy = rules::occupancy(&meetings, now, 0);
        let current = occupancy.current.ok_or(Error::NoMeetingNow)?;
        events
            .into_iter()
            .find(|e| e.uid == current.uid)
            .ok_or(Error::NoMeetingNow)
    }

    /// The id of the record of `event`, a meeting of room `room_id`, made now if needed.
    async fn record_meeting(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        room_id: i64,
        event: &store::RoomEvent,
        now: i64,
    ) -> Result<i64> {
        if let Some(id) = event.meeting_id {
            return Ok(id);
        }
        let meeting = store::NewMeeting {
            tenant_id,
            room_id,
            uid: &event.uid,
            series: event.series.as_deref(),
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            organizer_id: event.organizer_id,
            private: event.private,
            booked_at: event.booked_at,
        };
        Ok(store::ensure_meeting(tx, &meeting, now * 1000).await?)
    }

    /// Moves the end of a room's event to `end` (epoch seconds): in the built-in calendar at
    /// once; at a provider through the outbox, with the cache changed now so the room shows
    /// free (or taken) at once.
    async fn change_room_event_end(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        event: &store::RoomEvent,
        end: i64,
    ) -> Result<()> {
        let change = EventEnd {
            calendar_id: event.calendar_id,
            provider: &event.provider,
            uid: &event.uid,
            end,
        };
        self.change_room_event_ends(tx, tenant_id, &[change]).await
    }

    /// [`Engine::change_room_event_end`] for many events, the cache changed in one statement.
    async fn change_room_event_ends(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        changes: &[EventEnd<'_>],
    ) -> Result<()> {
        let ends: Vec<(i64, &str, i64)> = changes
            .iter()
            .map(|change| (change.calendar_id, change.uid, change.end * 1000))
            .collect();
        store::set_event_ends(tx, &ends).await?;
        for change in changes {
            if is_writable_provider(change.provider) {
                let end = RoomEventChange::End {
                    calendar_id: change.calendar_id,
                    event_id: change.uid.to_owned(),
                    end: change.end,
                };
                self.queue_room_event_change(tx, tenant_id, end).await?;
            }
        }
        Ok(())
    }

    async fn queue_room_event_change(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        change: RoomEventChange,
    ) -> Result<()> {
        let key = change.write_key();
        self.queue_write(tx, tenant_id, &OutboxMessage::RoomEvent(change), &key)
            .await?;
        Ok(())
    }

    /// Records `action` on the room by its caller in the access log, in the caller's
    /// transaction.
    async fn log_room(
        &self,
        tx: &mut Tx,
        access: &RoomAccess,
        action: &str,
        detail: serde_json::Value,
        now: i64,
    ) -> Result<()> {
        let event = Event {
            actor: &access.caller.log_name(),
            ip: "",
            action,
            target: format!("room:{}", access.room.id),
            detail,
        };
        self.record(tx, access.tenant_id, now * 1000, event).await?;
        Ok(())
    }

    /// After a change committed: door displays look again, the dispatcher sends.
    fn after_room_change(&self) {
        self.wake_rooms();
        self.outbox_queued.notify_one();
    }

    // ---- finding a room ----

    /// Rooms of the tenant free for all of `span` (epoch seconds) that suit `wanted`,
    /// smallest first, at most [`MAX_FOUND`].
    pub async fn find_rooms(
        &self,
        tenant_id: i64,
        wanted: &RoomWanted,
        span: Interval,
    ) -> Result<Vec<FoundRoom>> {
        // Words rooms cannot have match no room (and cannot reach the LIKE pattern).
        if !wanted.equipment.iter().all(|w| is_equipment_word(w)) {
            return Ok(Vec::new());
        }
        let search = store::FreeSearch {
            seats: wanted.seats.unwrap_or(1),
            floor: wanted.floor,
            equipment: &wanted.equipment,
            limit: MAX_FOUND as i64,
        };
        let mut tx = self.db.statements().await?;
        let free = store::free_rooms(
            &mut tx,
            tenant_id,
            &search,
            (span.start * 1000, span.end * 1000),
        )
        .await?;
        Ok(free
            .into_iter()
            // The database matched them; the rule says so in one place for everything else.
            .filter(|r| {
                let facts = RoomFacts {
                    capacity: r.capacity,
                    equipment: r.equipment.split_whitespace().map(str::to_owned).collect(),
                    floor: r.floor,
                };
                rules::suits(&facts, wanted)
            })
            .map(|r| FoundRoom {
                id: r.id,
                free_until: r.next_start.map(|s| s.div_euclid(1000)),
                room: RoomSummary {
                    slug: r.slug,
                    name: r.name,
                    capacity: r.capacity,
                    equipment: r.equipment.split_whitespace().map(str::to_owned).collect(),
                    floor: r.floor,
                    time_zone: r.time_zone,
                },
            })
            .collect())
    }

    /// [`Engine::find_rooms`] for a signed-in actor.
    pub async fn find_rooms_for(
        &self,
        actor: &Actor,
        wanted: &RoomWanted,
        span: Interval,
    ) -> Result<Vec<FoundRoom>> {
        actor.require(Permission::ViewDirectory)?;
        self.find_rooms(actor.account.tenant_id, wanted, span).await
    }

    // ---- the jobs ----

    /// One pass over every room: meetings that began are recorded and their organizers
    /// reminded; bookings nobody checked in to within the grace period are released (and a
    /// series that missed three times in a row loses the room); occupants whose meeting
    /// ends soon while the room is booked next are nudged. Each happens once, whichever
    /// instance runs it.
    pub async fn sweep_rooms(&self) -> Result<RoomSweep> {
        let mut sweep = RoomSweep::default();
        let now = self.ports.clock.now().timestamp();
        self.record_and_remind(now, &mut sweep).await?;
        self.release_no_shows(now, &mut sweep).await?;
        self.nudge_ending(now, &mut sweep).await?;
        if sweep.released + sweep.reminded + sweep.nudged + sweep.recorded > 0 {
            self.after_room_change();
        }
        Ok(sweep)
    }

    async fn record_and_remind(&self, now: i64, sweep: &mut RoomSweep) -> Result<()> {
        let mut tx = self.db.write().await?;
        sweep.recorded =
            store::record_started(&mut tx, now * 1000, now * 1000 - RECORD_LOOKBACK_MS).await?;
        tx.commit().await?;
        // Reminders go to meetings still waiting within their room's grace period (one
        // recorded late, after the server was down, is not reminded past it: the release
        // notice says what happened), in chunks, each claimed once.
        let mut due = {
            let mut tx = self.db.statements().await?;
            store::unreminded(&mut tx, (now - MAX_GRACE_SECONDS) * 1000, now * 1000).await?
        };
        due.sort_by_key(|meeting| (meeting.tenant_id, meeting.starts_at, meeting.id));
        let chunks = tenant_chunks(&due, |meeting| meeting.tenant_id);
        let reminded = self
            .in_chunk_transactions(chunks, |mut tx, chunk| async move {
                let reminded = self.remind_chunk(&mut tx, chunk, now).await?;
                Ok((tx, reminded))
            })
            .await?;
        sweep.reminded += reminded.iter().sum::<usize>();
        Ok(())
    }

    /// Runs `work` on each of `chunks` in a write transaction of its own, committed when
    /// it succeeds; the results in no particular order. PostgreSQL runs
    /// `CHUNKS_AT_ONCE` at a time: the server works on each on a core of its own, and the
    /// chunks hold different meetings, so they do not wait for one another. SQLite has one
    /// writer at a time, so it takes them one by one.
    async fn in_chunk_transactions<'a, T, R, Fut>(
        &self,
        chunks: impl Iterator<Item = &'a [T]>,
        work: impl Fn(Tx, &'a [T]) -> Fut,
    ) -> Result<Vec<R>>
    where
        T: 'a,
        Fut: Future<Output = Result<(Tx, R)>>,
    {
        let at_once = match self.db {
            Db::Postgres(_) => CHUNKS_AT_ONCE,
            Db::Sqlite(_) => 1,
        };
        // The futures are made first: a stream that maps with a closure trips the compiler's
        // check that the sweep's future can move between threads (it cannot prove it for
        // every lifetime the closure could be called with).
        let pending: Vec<_> = chunks
            .map(|chunk| self.in_its_own_transaction(&work, chunk))
            .collect();
        stream::iter(pending)
            .buffer_unordered(at_once)
            .try_collect()
            .await
    }

    async fn in_its_own_transaction<'a, T, R, Fut>(
        &self,
        work: &impl Fn(Tx, &'a [T]) -> Fut,
        chunk: &'a [T],
    ) -> Result<R>
    where
        Fut: Future<Output = Result<(Tx, R)>>,
    {
        let tx = self.db.write().await?;
        let (tx, result) = work(tx, chunk).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Sends the start reminders of one tenant's `chunk` of meetings in `tx`, each claimed
    /// once, queued together; returns how many were sent.
    async fn remind_chunk(&self, tx: &mut Tx, chunk: &[store::Started], now: i64) -> Result<usize> {
        let Some(tenant_id) = chunk.first().map(|meeting| meeting.tenant_id) else {
            return Ok(0);
        };
        let ids: Vec<i64> = chunk.iter().map(|meeting| meeting.id).collect();
        let claimed = store::claim_reminders(tx, &ids, now * 1000).await?;
        let claimed = claimed_of(chunk, claimed, |meeting| meeting.id);
        let organizers: Vec<i64> = claimed.iter().filter_map(|m| m.organizer_id).collect();
        let people = self.people(tx, tenant_id, &organizers).await?;
        let mut messages = Vec::new();
        let mut reminded = 0;
        for meeting in claimed {
            let Some(person) = meeting.organizer_id.and_then(|id| people.get(&id)) else {
                continue;
            };
            let policy = policy_of(&meeting.release_policy)?;
            // Past its room's grace period a reminder would come too late.
            if now - meeting.starts_at / 1000 >= policy.grace_seconds {
                continue;
            }
            let message = reminder(
                person,
                &meeting.room_name,
                meeting.id,
                meeting.starts_at / 1000,
                &policy,
                ReminderState::Waiting,
            );
            self.notify_employee_into(
                tx,
                tenant_id,
                person,
                &reminder_key(meeting.id),
                &message,
                &mut messages,
            )
            .await?;
            reminded += 1;
        }
        self.queue_all(tx, tenant_id, &messages).await?;
        Ok(reminded)
    }

    /// The employees of `ids` (each once; one that is gone is left out) by id, read at once.
    async fn people(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        ids: &[i64],
    ) -> Result<HashMap<i64, Employee>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let people = employee::find_many(tx, tenant_id, &ids).await?;
        Ok(people
            .into_iter()
            .map(|person| (person.id, person))
            .collect())
    }

    async fn release_no_shows(&self, now: i64, sweep: &mut RoomSweep) -> Result<()> {
        let waiting = {
            let mut tx = self.db.statements().await?;
            store::waiting(&mut tx, now * 1000).await?
        };
        let mut due = Vec::new();
        for meeting in waiting {
            let policy = policy_of(&meeting.release_policy)?;
            let view = Meeting {
                uid: meeting.uid.clone(),
                interval: match Interval::new(
                    meeting.starts_at.div_euclid(1000),
                    (meeting.ends_at + 999).div_euclid(1000),
                ) {
                    Some(interval) => interval,
                    None => continue,
                },
                organizer: meeting.organizer_id,
                booked_at: meeting.booked_at.map(|b| b.div_euclid(1000)),
                checked_in_at: None,
                ended_at: None,
                private: false,
            };
            if let Ok(at) = rules::release(&view, &policy, now) {
                due.push((meeting, at));
            }
        }
        due.sort_by_key(|(meeting, _)| (meeting.tenant_id, meeting.id));
        let chunks = tenant_chunks(&due, |(meeting, _)| meeting.tenant_id);
        let parts = self
            .in_chunk_transactions(chunks, |mut tx, chunk| async move {
                let part = self.release_chunk(&mut tx, chunk, now).await?;
                Ok((tx, part))
            })
            .await?;
        for part in parts {
            sweep.released += part.released;
            sweep.series_left += part.series_left;
        }
        Ok(())
    }

    /// Releases one tenant's `chunk` of due meetings (each with its release time) in `tx`:
    /// claims them, ends their events, takes strikes-out series out of the room, and tells
    /// the organizers; what it released and how many series lost the room.
    async fn release_chunk(
        &self,
        tx: &mut Tx,
        chunk: &[(store::Waiting, i64)],
        now: i64,
    ) -> Result<RoomSweep> {
        let mut sweep = RoomSweep::default();
        let Some(tenant_id) = chunk.first().map(|(meeting, _)| meeting.tenant_id) else {
            return Ok(sweep);
        };
        let claims: Vec<(i64, i64)> = chunk
            .iter()
            .map(|(meeting, at)| (meeting.id, at * 1000))
            .collect();
        // Those another instance released first, or someone checked in to meanwhile, stay.
        let claimed = store::claim_releases(tx, &claims).await?;
        let released = claimed_of(chunk, claimed, |(meeting, _)| meeting.id);
        sweep.released += released.len();
        let ends: Vec<EventEnd> = released
            .iter()
            .map(|(meeting, at)| EventEnd {
                calendar_id: meeting.calendar_id,
                provider: &meeting.provider,
                uid: &meeting.uid,
                end: *at,
            })
            .collect();
        self.change_room_event_ends(tx, tenant_id, &ends).await?;
        let mut series_left = HashSet::new();
        for (meeting, _) in &released {
            let Some(series) = &meeting.series else {
                continue;
            };
            let record = store::series_record(
                tx,
                meeting.room_id,
                series,
                meeting.starts_at,
                i64::from(rules::STRIKES_TO_LEAVE_SERIES),
            )
            .await?;
            if rules::series_strikes_out(&record) {
                self.leave_series(tx, meeting, series, now).await?;
                series_left.insert(meeting.id);
                sweep.series_left += 1;
            }
        }
        let organizers: Vec<i64> = released
            .iter()
            .filter_map(|(meeting, _)| meeting.organizer_id)
            .collect();
        let people = self.people(tx, tenant_id, &organizers).await?;
        self.tell_released(tx, tenant_id, &released, &series_left, &people)
            .await?;
        Ok(sweep)
    }

    /// Takes the room out of a series nobody comes to: its later occurrences leave the
    /// room's calendar (at the provider, the room declines the series).
    async fn leave_series(
        &self,
        tx: &mut Tx,
        meeting: &store::Waiting,
        series: &str,
        now: i64,
    ) -> Result<()> {
        store::delete_series_from(tx, meeting.calendar_id, series, meeting.ends_at).await?;
        if is_writable_provider(&meeting.provider) {
            self.queue_room_event_change(
                tx,
                meeting.tenant_id,
                RoomEventChange::LeaveSeries {
                    calendar_id: meeting.calendar_id,
                    series: series.to_owned(),
                },
            )
            .await?;
        }
        let log = Event {
            actor: "system",
            ip: "",
            action: "room.leave_series",
            target: format!("room:{}", meeting.room_id),
            detail: json!({"series": series}),
        };
        self.record(tx, meeting.tenant_id, now * 1000, log).await?;
        Ok(())
    }

    /// Tells each organizer their booking was released (and the series left): a new
    /// message, and the start reminder loses its buttons. The messages of all `released`
    /// are queued together.
    async fn tell_released(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        released: &[&(store::Waiting, i64)],
        series_left: &HashSet<i64>,
        people: &HashMap<i64, Employee>,
    ) -> Result<()> {
        let mut messages = Vec::new();
        let mut reminders = Vec::new();
        for (meeting, at) in released {
            let Some(person) = meeting.organizer_id.and_then(|id| people.get(&id)) else {
                continue;
            };
            let lang = person.profile.language;
            let zone = zone_of(&person.profile.time_zone);
            let mut message = Message::text(i18n::format(
                lang,
                "rooms.released",
                &[
                    ("room", &meeting.room_name),
                    ("start", &clock_time(zone, meeting.starts_at / 1000)),
                    ("time", &clock_time(zone, *at)),
                ],
            ));
            if series_left.contains(&meeting.id) {
                message = message.paragraph(i18n::format(
                    lang,
                    "rooms.series_left",
                    &[("room", &meeting.room_name)],
                ));
            }
            let notice = format!("room-meeting:{}:released", meeting.id);
            self.notify_employee_into(tx, tenant_id, person, &notice, &message, &mut messages)
                .await?;
            if meeting.reminded_at.is_some() {
                let policy = policy_of(&meeting.release_policy)?;
                let updated = reminder(
                    person,
                    &meeting.room_name,
                    meeting.id,
                    meeting.starts_at / 1000,
                    &policy,
                    ReminderState::Released,
                );
                reminders.push((reminder_key(meeting.id), updated));
            }
        }
        let updates: Vec<(&str, &Message)> = reminders
            .iter()
            .map(|(key, message)| (key.as_str(), message))
            .collect();
        self.update_notices_into(tx, tenant_id, &updates, &mut messages)
            .await?;
        self.queue_all(tx, tenant_id, &messages).await?;
        Ok(())
    }

    async fn nudge_ending(&self, now: i64, sweep: &mut RoomSweep) -> Result<()> {
        let ending = {
            let mut tx = self.db.statements().await?;
            store::ending(
                &mut tx,
                now * 1000,
                (now + rules::NUDGE_BEFORE_END_SECONDS) * 1000,
            )
            .await?
        };
        let mut due = Vec::new();
        for meeting in ending {
            let (Some(current), next) = (
                Interval::new(meeting.starts_at / 1000, meeting.ends_at / 1000),
                meeting
                    .next_start
                    .and_then(|s| Interval::new(s / 1000, s / 1000 + 1)),
            ) else {
                continue;
            };
            let current_meeting = Meeting {
                uid: meeting.uid.clone(),
                interval: current,
                organizer: meeting.organizer_id,
                booked_at: None,
                checked_in_at: Some(meeting.checked_in_at / 1000),
                ended_at: None,
                private: false,
            };
            let next_meeting = next.map(|interval| Meeting {
                // Another meeting than the current one (the query saw to that).
                uid: String::new(),
                interval,
                organizer: None,
                booked_at: None,
                checked_in_at: None,
                ended_at: None,
                private: false,
            });
            if rules::nudge_due(&current_meeting, next_meeting.as_ref(), now) {
                due.push(meeting);
            }
        }
        due.sort_by_key(|meeting| (meeting.tenant_id, meeting.id));
        let chunks = tenant_chunks(&due, |meeting| meeting.tenant_id);
        let nudged = self
            .in_chunk_transactions(chunks, |mut tx, chunk| async move {
                let nudged = self.nudge_chunk(&mut tx, chunk, now).await?;
                Ok((tx, nudged))
            })
            .await?;
        sweep.nudged += nudged.iter().sum::<usize>();
        Ok(())
    }

    /// Tells the occupants of one tenant's `chunk` of meetings that their meeting ends soon
    /// and the room is booked next, in `tx`, each meeting claimed once and the messages
    /// queued together; returns how many meetings were nudged.
    async fn nudge_chunk(&self, tx: &mut Tx, chunk: &[store::Ending], now: i64) -> Result<usize> {
        let Some(tenant_id) = chunk.first().map(|meeting| meeting.tenant_id) else {
            return Ok(0);
        };
        let ids: Vec<i64> = chunk.iter().map(|meeting| meeting.id).collect();
        let claimed = store::claim_nudges(tx, &ids, now * 1000).await?;
        let claimed = claimed_of(chunk, claimed, |meeting| meeting.id);
        let everyone: Vec<i64> = claimed
            .iter()
            .flat_map(|meeting| occupants(meeting.organizer_id, meeting.checked_in_by))
            .collect();
        let people = self.people(tx, tenant_id, &everyone).await?;
        let mut messages = Vec::new();
        for meeting in &claimed {
            for id in occupants(meeting.organizer_id, meeting.checked_in_by) {
                let Some(person) = people.get(&id) else {
                    continue;
                };
                let zone = zone_of(&person.profile.time_zone);
                let message = Message::text(i18n::format(
                    person.profile.language,
                    "rooms.nudge_end",
                    &[
                        ("room", &meeting.room_name),
                        ("end", &clock_time(zone, meeting.ends_at / 1000)),
                    ],
                ));
                let notice = format!("room-meeting:{}:ending", meeting.id);
                self.notify_employee_into(tx, tenant_id, person, &notice, &message, &mut messages)
                    .await?;
            }
        }
        self.queue_all(tx, tenant_id, &messages).await?;
        Ok(claimed.len())
    }

    /// A visitor of `host` checked in at reception (in the caller's transaction): where a
    /// room the host booked next is still in use, its occupants are told, once.
    pub(crate) async fn tell_occupants_visitor_arrived(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        host: &Employee,
        now_ms: i64,
    ) -> Result<()> {
        let occupied = store::occupied_before(
            tx,
            tenant_id,
            &host.profile.email,
            now_ms,
            now_ms + VISITOR_LOOKAHEAD_SECONDS * 1000,
        )
        .await?;
        for meeting in occupied {
            if !store::claim_visitor_nudge(tx, meeting.id, now_ms).await? {
                continue;
            }
            for id in occupants(meeting.organizer_id, meeting.checked_in_by) {
                if id == host.id {
                    continue;
                }
                let Some(person) = employee::find(tx, tenant_id, id).await? else {
                    continue;
                };
                let zone = zone_of(&person.profile.time_zone);
                // The visitor is not named: they are the host's guest, not the occupants'.
                // Nor is the host when their meeting is private.
                let key = if meeting.next_private {
                    "rooms.nudge_visitor_private"
                } else {
                    "rooms.nudge_visitor"
                };
                let message = Message::text(i18n::format(
                    person.profile.language,
                    key,
                    &[
                        ("host", &host.profile.name),
                        ("room", &meeting.room_name),
                        ("start", &clock_time(zone, meeting.next_start / 1000)),
                    ],
                ));
                self.notify_employee(
                    tx,
                    tenant_id,
                    &person,
                    &format!("room-meeting:{}:visitor", meeting.id),
                    &message,
                )
                .await?;
            }
        }
        Ok(())
    }

    // ---- reminders ----

    async fn update_reminder(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        meeting_id: i64,
        state: ReminderState,
    ) -> Result<()> {
        let Some(meeting) = store::meeting(tx, tenant_id, meeting_id).await? else {
            return Ok(());
        };
        if meeting.reminded_at.is_none() {
            return Ok(());
        }
        let (Some(organizer_id), Some(room)) = (
            meeting.organizer_id,
            store::room_by_id(tx, tenant_id, meeting.room_id).await?,
        ) else {
            return Ok(());
        };
        let Some(person) = employee::find(tx, tenant_id, organizer_id).await? else {
            return Ok(());
        };
        let policy = policy_of(&room.release_policy)?;
        let message = reminder(
            &person,
            &room.name,
            meeting.id,
            meeting.starts_at / 1000,
            &policy,
            state,
        );
        self.update_notice(tx, tenant_id, &reminder_key(meeting.id), &message)
            .await?;
        Ok(())
    }

    // ---- utilisation ----

    /// How each room was used by meetings that began in `[from, to)` (epoch seconds) and are
    /// over now.
    pub async fn room_utilisation(
        &self,
        actor: &Actor,
        from: i64,
        to: i64,
    ) -> Result<Vec<RoomUse>> {
        actor.require(Permission::ViewDirectory)?;
        if to <= from || to - from > 400 * 86_400 {
            return Err(Error::invalid(
                "to",
                Invalid::OutOfRange {
                    min: from + 1,
                    max: from + 400 * 86_400,
                },
            ));
        }
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.statements().await?;
        let rooms = store::rooms(&mut tx, tenant_id).await?;
        let history = store::history(&mut tx, tenant_id, from * 1000, to * 1000).await?;
        let mut by_room: HashMap<i64, Vec<(Meeting, Option<i64>)>> = HashMap::new();
        for past in history {
            let Some(interval) = Interval::new(past.starts_at / 1000, past.ends_at / 1000) else {
                continue;
            };
            let meeting = Meeting {
                uid: past.uid,
                interval,
                organizer: None,
                booked_at: None,
                checked_in_at: past.checked_in_at.map(|c| c / 1000),
                ended_at: past.ended_at.or(past.released_at).map(|e| e / 1000),
                private: false,
            };
            by_room
                .entry(past.room_id)
                .or_default()
                .push((meeting, past.released_at.map(|r| r / 1000)));
        }
        Ok(rooms
            .iter()
            .map(|room| RoomUse {
                room: RoomSummary::from(room),
                usage: rules::utilisation(
                    by_room.get(&room.id).map_or(&[][..], Vec::as_slice),
                    now,
                ),
            })
            .collect())
    }

    // ---- door displays ----

    /// A new door display for room `slug`, waiting to be paired with the returned code
    /// (admins); logged.
    pub async fn add_door_display(
        &self,
        actor: &Actor,
        slug: &str,
        name: &str,
    ) -> Result<(device_store::DeviceRow, String)> {
        actor.require(Permission::ManageLocations)?;
        let tenant_id = actor.account.tenant_id;
        let room = {
            let mut tx = self.db.read().await?;
            store::room_by_slug(&mut tx, tenant_id, slug)
                .await?
                .ok_or(Error::NotFound("room"))?
        };
        self.add_device(actor, "door", None, Some(room.id), name, slug)
            .await
    }

    /// Pairs the tablet that typed `code` as the door display of room `slug`: the device
    /// token it keeps from now on.
    pub async fn pair_door_display(&self, slug: &str, code: &str) -> Result<(RoomAccess, String)> {
        let code = super::reception::typed_pairing_code(code).ok_or(Error::WrongPairingCode)?;
        let now = self.ports.clock.now_ms();
        let device_token = token::generate();
        let mut tx = self.db.write().await?;
        // The code names its tenant: pairing codes are unique across the server.
        let pending = device_store::pending_device(&mut tx, &token::hash(&code), now)
            .await?
            .filter(|d| d.kind == "door")
            .ok_or(Error::WrongPairingCode)?;
        let room = store::room_by_slug(&mut tx, pending.tenant_id, slug)
            .await?
            .filter(|r| Some(r.id) == pending.room_id)
            .ok_or(Error::WrongPairingCode)?;
        let device = device_store::pair_device(
            &mut tx,
            pending.tenant_id,
            &token::hash(&code),
            &token::hash(&device_token),
            now,
        )
        .await?
        .ok_or(Error::WrongPairingCode)?;
        tx.commit().await?;
        Ok((
            RoomAccess {
                tenant_id: device.tenant_id,
                room,
                caller: RoomCaller::Door {
                    device_id: device.id,
                },
            },
            device_token,
        ))
    }

    /// Revokes door display `id` (admins): the tablet stops showing the room at once, its
    /// open stream told; logged.
    pub async fn revoke_door_display(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::ManageLocations)?;
        self.revoke_device(actor, "door", id).await?;
        // Its open stream ends now, not when it next reconnects.
        self.wake_rooms();
        Ok(())
    }

    /// The tenant's door displays.
    pub async fn door_displays(&self, actor: &Actor) -> Result<Vec<device_store::DeviceRow>> {
        actor.require(Permission::ManageLocations)?;
        let mut tx = self.db.read().await?;
        Ok(device_store::list_devices(&mut tx, actor.account.tenant_id, "door").await?)
    }

    /// Wakes every live door display stream of this instance.
    pub fn wake_rooms(&self) {
        self.rooms_changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever a room of this instance changed.
    pub fn watch_rooms(&self) -> tokio::sync::watch::Receiver<u64> {
        self.rooms_changed.subscribe()
    }

    // ---- chat ----

    /// The answer to `rooms …` / `会議室 …`: rooms free now (or at the time asked) for the
    /// people and time asked, with a button to book each.
    pub(crate) async fn rooms_from_chat(
        &self,
        who: &ChatUser,
        employee: &Employee,
        text: &str,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let zone = zone_of(&employee.profile.time_zone);
        let now = self.ports.clock.now();
        let request = rules::RoomRequest::parse(text, now, zone);
        let span = request.span;
        let found = self
            .find_rooms(who.tenant_id, &request.wanted, span)
            .await?;
        let when = if request.now {
            i18n::format(
                lang,
                "rooms.search.now",
                &[("minutes", &request.minutes.to_string())],
            )
        } else {
            i18n::format(
                lang,
                "rooms.search.at",
                &[
                    ("start", &clock_time(zone, span.start)),
                    ("end", &clock_time(zone, span.end)),
                ],
            )
        };
        if found.is_empty() {
            return Ok(Message::text(i18n::format(
                lang,
                "rooms.search.none",
                &[("when", &when)],
            )));
        }
        let mut message =
            Message::text(i18n::format(lang, "rooms.search.found", &[("when", &when)]));
        let mut buttons = Vec::new();
        for found in found.iter().take(5) {
            let until = match found.free_until {
                Some(until) => i18n::format(
                    lang,
                    "rooms.search.until",
                    &[("time", &clock_time(zone, until))],
                ),
                None => i18n::text(lang, "rooms.search.all_day"),
            };
            let equipment = if found.room.equipment.is_empty() {
                String::new()
            } else {
                format!(" · {}", found.room.equipment.join(", "))
            };
            message = message.paragraph(i18n::format(
                lang,
                "rooms.search.line",
                &[
                    ("room", &found.room.name),
                    ("seats", &found.room.capacity.to_string()),
                    ("equipment", &equipment),
                    ("until", &until),
                ],
            ));
            buttons.push(Button {
                action: Action::BookRoom {
                    room: found.id,
                    start: if request.now { 0 } else { span.start },
                    minutes: request.minutes,
                },
                label: i18n::format(
                    lang,
                    "rooms.button.book",
                    &[
                        ("room", &found.room.name),
                        ("minutes", &request.minutes.to_string()),
                    ],
                ),
                style: ButtonStyle::Default,
            });
        }
        Ok(message.buttons(buttons))
    }

    /// A "book" button of a room search: books the room for the employee (not checked in:
    /// they have the grace period to get there).
    pub(crate) async fn book_room_from_chat(
        &self,
        who: &ChatUser,
        employee: &Employee,
        room_id: i64,
        start: i64,
        minutes: i64,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let zone = zone_of(&employee.profile.time_zone);
        let access = self
            .room_for_employee(who.tenant_id, room_id, employee)
            .await?;
        let minutes = minutes.clamp(5, rules::MAX_SEARCH_MINUTES);
        let now = self.ports.clock.now().timestamp();
        let start = if start == 0 { now / 60 * 60 } else { start };
        // An action id can be altered: only a time a search could have offered.
        let Some(span) = Some(start)
            .filter(|s| (now - 86_400..=now + CHAT_BOOKING_AHEAD_SECONDS).contains(s))
            .and_then(|s| Interval::new(s, s + minutes * 60))
            .filter(|s| s.end > now)
        else {
            return Ok(Message::text(i18n::text(lang, "rooms.search.past")));
        };
        let mut tx = self.db.write().await?;
        match self.book_room(&mut tx, &access, span, false, now).await {
            Err(Error::RoomNotFree) => {
                return Ok(Message::text(i18n::format(
                    lang,
                    "rooms.taken_meanwhile",
                    &[("room", &access.room.name)],
                )));
            }
            other => other?,
        };
        tx.commit().await?;
        self.after_room_change();
        let policy = policy_of(&access.room.release_policy)?;
        Ok(Message::text(i18n::format(
            lang,
            "rooms.booked",
            &[
                ("room", &access.room.name),
                ("start", &clock_time(zone, span.start)),
                ("end", &clock_time(zone, span.end)),
                ("grace", &(policy.grace_seconds / 60).to_string()),
            ],
        )))
    }

    /// Meeting `meeting_id` and its room, when `employee` organized it (only the organizer
    /// acts on a meeting from its reminder).
    async fn organizers_meeting(
        &self,
        who: &ChatUser,
        employee: &Employee,
        meeting_id: i64,
    ) -> Result<Option<(store::MeetingRecord, RoomAccess)>> {
        let meeting = {
            let mut tx = self.db.read().await?;
            store::meeting(&mut tx, who.tenant_id, meeting_id).await?
        };
        let Some(meeting) = meeting.filter(|m| m.organizer_id == Some(employee.id)) else {
            return Ok(None);
        };
        let access = self
            .room_for_employee(who.tenant_id, meeting.room_id, employee)
            .await?;
        Ok(Some((meeting, access)))
    }

    /// The reminder's Check in button.
    pub(crate) async fn check_in_from_chat(
        &self,
        who: &ChatUser,
        employee: &Employee,
        meeting_id: i64,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let Some((meeting, access)) = self.organizers_meeting(who, employee, meeting_id).await?
        else {
            return Ok(Message::text(i18n::text(lang, "rooms.not_yours")));
        };
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.write().await?;
        // Read again in the transaction that checks in: the sweep may have released it.
        let meeting = store::meeting(&mut tx, who.tenant_id, meeting.id)
            .await?
            .ok_or(Error::NotFound("meeting"))?;
        if meeting.released_at.is_some() {
            return Ok(Message::text(i18n::format(
                lang,
                "rooms.already_released",
                &[("room", &access.room.name)],
            )));
        }
        let over = meeting.ended_at.is_some() || now * 1000 >= meeting.ends_at;
        if over {
            return Ok(Message::text(i18n::format(
                lang,
                "rooms.meeting_over",
                &[("room", &access.room.name)],
            )));
        }
        if store::check_in(&mut tx, meeting.id, now * 1000, Some(employee.id)).await? {
            let detail = json!({"meeting": meeting.id, "from": "chat"});
            self.log_room(&mut tx, &access, "room.check_in", detail, now)
                .await?;
        }
        let policy = policy_of(&access.room.release_policy)?;
        let message = reminder(
            employee,
            &access.room.name,
            meeting.id,
            meeting.starts_at / 1000,
            &policy,
            ReminderState::CheckedIn,
        );
        self.update_notice(&mut tx, who.tenant_id, &reminder_key(meeting.id), &message)
            .await?;
        tx.commit().await?;
        self.after_room_change();
        Ok(message)
    }

    /// The reminder's Release button: the organizer gives the room back now.
    pub(crate) async fn release_from_chat(
        &self,
        who: &ChatUser,
        employee: &Employee,
        meeting_id: i64,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let Some((meeting, access)) = self.organizers_meeting(who, employee, meeting_id).await?
        else {
            return Ok(Message::text(i18n::text(lang, "rooms.not_yours")));
        };
        let now = self.ports.clock.now().timestamp();
        let mut tx = self.db.write().await?;
        let events = store::room_events(
            &mut tx,
            meeting.room_id,
            meeting.starts_at,
            meeting.ends_at.max(meeting.starts_at + 1),
        )
        .await?;
        if let Some(event) = events.into_iter().find(|e| e.uid == meeting.uid) {
            self.end_now(&mut tx, &access, meeting.id, &event, now)
                .await?;
        }
        let policy = policy_of(&access.room.release_policy)?;
        let message = reminder(
            employee,
            &access.room.name,
            meeting.id,
            meeting.starts_at / 1000,
            &policy,
            ReminderState::Ended,
        );
        tx.commit().await?;
        self.after_room_change();
        Ok(message)
    }
}

/// A new uid for a room booked on the spot: in the built-in calendar its event's uid; at a
/// provider the uid it is held under until the provider made the event.
fn held_uid() -> String {
    format!("room-{}@frontdesk", uuid::Uuid::new_v4())
}

/// Whether `uid` is one of [`held_uid`]'s.
pub(crate) fn is_held_uid(uid: &str) -> bool {
    uid.starts_with("room-") && uid.ends_with("@frontdesk")
}

/// Whether the caller may end or extend the meeting `event`: at the door (or in the demo)
/// anyone there may; an employee from their phone only for a meeting they organized or
/// checked in to (not someone else's, from afar).
fn may_change(access: &RoomAccess, event: &store::RoomEvent) -> Result<()> {
    match &access.caller {
        RoomCaller::Employee(employee)
            if event.organizer_id != Some(employee.id)
                && event.checked_in_by != Some(employee.id) =>
        {
            Err(Error::Forbidden)
        }
        _ => Ok(()),
    }
}

/// Whether Frontdesk writes changes of a room's events at this provider (Google and
/// Microsoft; the built-in calendar is written at once, ICS feeds are read-only).
fn is_writable_provider(provider: &str) -> bool {
    matches!(
        Provider::parse(provider),
        Some(Provider::Google | Provider::Microsoft)
    )
}

fn checked_span(minutes: i64) -> Result<i64> {
    if SPANS_MINUTES.contains(&minutes) {
        Ok(minutes)
    } else {
        Err(Error::invalid(
            "minutes",
            Invalid::NotOneOf {
                allowed: &["15", "30", "60"],
            },
        ))
    }
}

/// `items` (sorted by tenant) in the chunks a sweep works in: each one tenant's (its people
/// and notices are read and queued together) and at most `SWEEP_CHUNK` long (one
/// transaction each, short enough not to hold others up).
fn tenant_chunks<T>(items: &[T], tenant: impl Fn(&T) -> i64) -> impl Iterator<Item = &[T]> {
    items
        .chunk_by(move |a, b| tenant(a) == tenant(b))
        .flat_map(|tenant_items| tenant_items.chunks(SWEEP_CHUNK))
}

/// The meetings of `chunk` whose ids a batch claim returned (`claimed`: those this instance
/// claimed, not another instance first), in the chunk's order.
fn claimed_of<T>(chunk: &[T], claimed: Vec<i64>, id: impl Fn(&T) -> i64) -> Vec<&T> {
    let claimed: HashSet<i64> = claimed.into_iter().collect();
    chunk
        .iter()
        .filter(|item| claimed.contains(&id(item)))
        .collect()
}

/// Who is in a meeting: its organizer and whoever checked in (each once).
fn occupants(organizer: Option<i64>, checked_in_by: Option<i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = organizer.into_iter().chain(checked_in_by).collect();
    ids.dedup();
    ids
}

/// A room's event to end at `end` (epoch seconds), and where it is kept.
struct EventEnd<'a> {
    calendar_id: i64,
    provider: &'a str,
    uid: &'a str,
    end: i64,
}

fn reminder_key(meeting_id: i64) -> String {
    format!("room-meeting:{meeting_id}:start")
}

/// Where the start reminder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReminderState {
    Waiting,
    CheckedIn,
    Released,
    Ended,
}

/// The start reminder to the organizer: check in or the room is released; with buttons
/// while that is open.
fn reminder(
    person: &Employee,
    room: &str,
    meeting_id: i64,
    start: i64,
    policy: &ReleasePolicy,
    state: ReminderState,
) -> Message {
    let lang = person.profile.language;
    let zone = zone_of(&person.profile.time_zone);
    let args = [
        ("room", room),
        ("start", &clock_time(zone, start)),
        ("deadline", &clock_time(zone, start + policy.grace_seconds)),
    ];
    match state {
        ReminderState::Waiting => {
            let key = if policy.enabled {
                "rooms.reminder"
            } else {
                "rooms.reminder_kept"
            };
            Message::text(i18n::format(lang, key, &args)).buttons(vec![
                Button {
                    action: Action::CheckInRoom {
                        meeting: meeting_id,
                    },
                    label: i18n::text(lang, "rooms.button.check_in"),
                    style: ButtonStyle::Primary,
                },
                Button {
                    action: Action::ReleaseRoom {
                        meeting: meeting_id,
                    },
                    label: i18n::text(lang, "rooms.button.release"),
                    style: ButtonStyle::Danger,
                },
            ])
        }
        ReminderState::CheckedIn => Message::text(i18n::format(lang, "rooms.checked_in", &args)),
        ReminderState::Released => {
            Message::text(i18n::format(lang, "rooms.reminder_released", &args))
        }
        ReminderState::Ended => Message::text(i18n::format(lang, "rooms.ended", &args)),
    }
}
