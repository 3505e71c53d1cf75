//! Meeting rooms: what the room page and the door display call (a room's status, check in,
//! check out, extend, book now, live changes, pairing a door display), finding a free room,
//! and for admins the rooms' settings, door displays and utilisation.
//!
//! A room is acted on by its paired door display (a device cookie, as kiosks have), by an
//! employee signed in to the web chat on this browser, or — in the demo only — by anyone.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use frontdesk_core::Error;
use frontdesk_core::domain::calendar::Interval;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::domain::room::{RoomState, RoomWanted};
use frontdesk_core::engine::room::{
    FoundRoom, MeetingView, ReleaseSettings, RoomAccess, RoomDetails, RoomSettings, RoomStatus,
    RoomSummary, RoomUse,
};
use frontdesk_core::store::reception::DeviceRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv_download;
use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, SignedIn};
use crate::problem::ApiResult;

/// The door display's device cookie (HttpOnly; the page never reads it).
pub const DOOR_COOKIE: &str = "fd_door";
pub const SECURE_DOOR_COOKIE: &str = "__Host-fd_door";
/// A paired door display keeps its token this long (until revoked).
const DOOR_COOKIE_DAYS: i64 = 400;
/// How often a room stream looks again without being woken: a meeting starts or ends, and
/// other instances change rooms.
const POLL: Duration = Duration::from_secs(5);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A stream ends itself before the server's idle limit; the browser reconnects at once.
const STREAM_LIFETIME: Duration = Duration::from_secs(50);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rooms, create_room))
        .routes(routes!(update_room))
        .routes(routes!(free_rooms))
        .routes(routes!(utilisation))
        .routes(routes!(utilisation_csv))
        .routes(routes!(status))
        .routes(routes!(room_events))
        .routes(routes!(check_in))
        .routes(routes!(check_out))
        .routes(routes!(extend))
        .routes(routes!(book_now))
        .routes(routes!(pair))
        .routes(routes!(add_door_display))
        .routes(routes!(list_door_displays))
        .routes(routes!(revoke_door_display))
}

fn door_cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        SECURE_DOOR_COOKIE
    } else {
        DOOR_COOKIE
    }
}

/// The room `slug` as this browser reaches it: its door display cookie, the web chat
/// session, or the demo.
pub(crate) async fn room_of(
    state: &AppState,
    jar: &CookieJar,
    slug: &str,
) -> ApiResult<RoomAccess> {
    let door = jar
        .get(door_cookie_name(state))
        .map(|c| c.value().to_owned());
    let chat = jar
        .get(crate::page::chat_cookie_name(state))
        .map(|c| c.value().to_owned());
    Ok(state
        .engine
        .room_access(slug, door.as_deref(), chat.as_deref())
        .await?)
}

fn rfc3339(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A room as people read about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomInfo {
    /// Its slug (the `/r/{room}` of its page).
    pub slug: String,
    pub name: String,
    pub capacity: i64,
    /// `display`, `video`, `whiteboard` …
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    pub time_zone: String,
}

impl From<RoomSummary> for RoomInfo {
    fn from(room: RoomSummary) -> Self {
        RoomInfo {
            slug: room.slug,
            name: room.name,
            capacity: room.capacity,
            equipment: room.equipment,
            floor: room.floor,
            time_zone: room.time_zone,
        }
    }
}

/// A meeting in the room. A private one has no title or organizer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingInfo {
    pub start: String,
    /// When the room is free again.
    pub end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<String>,
    pub private: bool,
    pub checked_in: bool,
    /// When it is released if nobody checks in (while that may still happen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_at: Option<String>,
}

impl From<MeetingView> for MeetingInfo {
    fn from(meeting: MeetingView) -> Self {
        MeetingInfo {
            start: rfc3339(meeting.start),
            end: rfc3339(meeting.end),
            title: meeting.title,
            organizer: meeting.organizer,
            private: meeting.private,
            checked_in: meeting.checked_in,
            release_at: meeting.release_at.map(rfc3339),
        }
    }
}

/// What a room is doing now.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomStatusView {
    /// The room's slug.
    pub room: String,
    pub details: RoomInfo,
    /// `free`, `booked` (booked, nobody checked in yet) or `in_use`.
    #[schema(value_type = String)]
    pub state: RoomState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<MeetingInfo>,
    pub next: Vec<MeetingInfo>,
    /// When the room is next taken, if it is free now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_until: Option<String>,
    pub now: String,
}

impl From<RoomStatus> for RoomStatusView {
    fn from(status: RoomStatus) -> Self {
        RoomStatusView {
            room: status.room.slug.clone(),
            details: status.room.into(),
            state: status.state,
            current: status.current.map(Into::into),
            next: status.next.into_iter().map(Into::into).collect(),
            free_until: status.free_until.map(rfc3339),
            now: rfc3339(status.now),
        }
    }
}

/// How long to book or extend, in minutes: 15, 30 or 60.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpanRequest {
    pub minutes: i64,
}

/// A door display's pairing code from an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorPairingRequest {
    pub code: String,
}

/// What the room is doing now, and what comes next (its door display, its page).
#[utoipa::path(get, path = "/rooms/{room}/status", tag = "rooms", params(("room" = String, Path)),
    responses((status = 200, body = RoomStatusView),
        (status = 401, description = "not a paired door display, nor signed in to the web chat"),
        (status = 404)))]
async fn status(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
) -> ApiResult<Json<RoomStatusView>> {
    let access = room_of(&state, &jar, &room).await?;
    Ok(Json(state.engine.room_status(&access).await?.into()))
}

/// Check in to the meeting in the room now (or starting within 10 minutes).
#[utoipa::path(post, path = "/rooms/{room}/check-in", tag = "rooms", params(("room" = String, Path)),
    responses((status = 200, body = RoomStatusView), (status = 401), (status = 404),
        (status = 409, description = "no meeting to check in to, or it was released")))]
async fn check_in(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
) -> ApiResult<Json<RoomStatusView>> {
    let access = room_of(&state, &jar, &room).await?;
    Ok(Json(state.engine.check_in_room(&access).await?.into()))
}

/// End the meeting in the room now: the room is free, and its event ends now.
#[utoipa::path(post, path = "/rooms/{room}/check-out", tag = "rooms", params(("room" = String, Path)),
    responses((status = 200, body = RoomStatusView), (status = 401), (status = 404),
        (status = 409, description = "no meeting holds the room now")))]
async fn check_out(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
) -> ApiResult<Json<RoomStatusView>> {
    let access = room_of(&state, &jar, &room).await?;
    Ok(Json(state.engine.check_out_room(&access).await?.into()))
}

/// Extend the meeting in the room by 15, 30 or 60 minutes, if the room is free that long.
#[utoipa::path(post, path = "/rooms/{room}/extend", tag = "rooms", params(("room" = String, Path)),
    request_body = SpanRequest,
    responses((status = 200, body = RoomStatusView), (status = 401), (status = 404),
        (status = 409, description = "no meeting now, or the room is booked after it"), (status = 422)))]
async fn extend(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
    AppJson(request): AppJson<SpanRequest>,
) -> ApiResult<Json<RoomStatusView>> {
    let access = room_of(&state, &jar, &room).await?;
    Ok(Json(
        state
            .engine
            .extend_room(&access, request.minutes)
            .await?
            .into(),
    ))
}

/// Book the room from now for 15, 30 or 60 minutes, if it is free that long (checked in at
/// once from the door display).
#[utoipa::path(post, path = "/rooms/{room}/book-now", tag = "rooms", params(("room" = String, Path)),
    request_body = SpanRequest,
    responses((status = 201, body = RoomStatusView), (status = 401), (status = 404),
        (status = 409, description = "the room is not free that long"), (status = 422)))]
async fn book_now(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
    AppJson(request): AppJson<SpanRequest>,
) -> ApiResult<(StatusCode, Json<RoomStatusView>)> {
    let access = room_of(&state, &jar, &room).await?;
    let status = state.engine.book_room_now(&access, request.minutes).await?;
    Ok((StatusCode::CREATED, Json(status.into())))
}

/// Pair this browser as the room's door display with a code from an admin; sets the device
/// cookie.
#[utoipa::path(post, path = "/rooms/{room}/pairing", tag = "rooms", params(("room" = String, Path)),
    request_body = DoorPairingRequest,
    responses((status = 204, description = "paired"), (status = 404, description = "wrong, used or expired code")))]
async fn pair(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
    AppJson(request): AppJson<DoorPairingRequest>,
) -> ApiResult<(CookieJar, StatusCode)> {
    let (_, token) = state.engine.pair_door_display(&room, &request.code).await?;
    let cookie = Cookie::build((door_cookie_name(&state), token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::days(DOOR_COOKIE_DAYS))
        .secure(state.secure_cookies)
        .build();
    Ok((jar.add(cookie), StatusCode::NO_CONTENT))
}

/// The room's status as server-sent events (`event: status`, as `GET …/status`): at once,
/// then whenever it changes (a check-in, a booking, a meeting starting or ending). A door
/// display revoked meanwhile gets `event: refused` and the stream ends.
#[utoipa::path(get, path = "/rooms/{room}/events", tag = "rooms", params(("room" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "the room's changes"),
        (status = 401), (status = 404), (status = 429, description = "too many streams for this room")))]
async fn room_events(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(room): AppPath<String>,
) -> ApiResult<Response> {
    let access = room_of(&state, &jar, &room).await?;
    let Some(slot) = state.room_streams.open(access.room.id) else {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "10")],
            "too many open streams for this room",
        )
            .into_response());
    };
    let stream = RoomStream {
        state: state.clone(),
        access,
        last: None,
        changes: state.engine.watch_rooms(),
        until: tokio::time::Instant::now() + STREAM_LIFETIME,
        refused: false,
        _slot: slot,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        stream
            .next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), stream))
    });
    let retry = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().retry(Duration::from_millis(1000)))
    });
    use futures_util::StreamExt;
    let sse = Sse::new(retry.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

/// A door display's stream of one room.
struct RoomStream {
    state: AppState,
    access: RoomAccess,
    /// The last status sent, as sent (without its clock).
    last: Option<String>,
    changes: tokio::sync::watch::Receiver<u64>,
    until: tokio::time::Instant,
    /// The caller's access was revoked and told so: the stream ends.
    refused: bool,
    _slot: crate::page::StreamSlot,
}

impl RoomStream {
    /// The room's next change, waiting for one; `None` when the stream should end.
    async fn next(&mut self) -> Option<Event> {
        if self.refused {
            return None;
        }
        loop {
            match self.state.engine.room_access_holds(&self.access).await {
                Ok(true) => {}
                Ok(false) => {
                    self.refused = true;
                    return Some(Event::default().event("refused").data("revoked"));
                }
                Err(err) => {
                    tracing::warn!(error = %frontdesk_core::error::with_causes(&err), "room stream ended");
                    return None;
                }
            }
            let status = match self.state.engine.room_status(&self.access).await {
                Ok(status) => status,
                Err(err) => {
                    tracing::warn!(error = %frontdesk_core::error::with_causes(&err), "room stream ended");
                    return None;
                }
            };
            let mut view = RoomStatusView::from(status);
            let now = std::mem::take(&mut view.now);
            let seen = serde_json::to_string(&view).ok()?;
            if self.last.as_deref() != Some(seen.as_str()) {
                self.last = Some(seen);
                view.now = now;
                return Event::default().event("status").json_data(view).ok();
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.until) => return None,
                changed = self.changes.changed() => { changed.ok()?; }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Who searches for a room: an admin (their session), an employee signed in to the web
/// chat, or anyone in the demo. The tenant searched.
pub(crate) struct Searcher(pub i64);

impl FromRequestParts<AppState> for Searcher {
    type Rejection = crate::problem::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Searcher> {
        if let Ok(SignedIn(actor)) = SignedIn::from_request_parts(parts, state).await {
            return Ok(Searcher(actor.account.tenant_id));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(session) = jar.get(crate::page::chat_cookie_name(state))
            && let Some(signed_in) = state.engine.chat_session(session.value()).await?
        {
            return Ok(Searcher(signed_in.tenant_id));
        }
        match state.engine.demo_tenant().await? {
            Some(tenant_id) => Ok(Searcher(tenant_id)),
            None => Err(Error::RoomSignInNeeded.into()),
        }
    }
}

/// What a room search asks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FreeQuery {
    /// At least this many seats (default 1).
    pub seats: Option<i64>,
    /// For how long, in minutes (5–480; default 30).
    pub minutes: Option<i64>,
    /// From when (RFC 3339; default now).
    pub at: Option<String>,
    pub floor: Option<i64>,
    /// Equipment every room found has, comma-separated (`display,video`).
    pub equipment: Option<String>,
}

/// A room free for the whole time asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeRoomView {
    #[serde(flatten)]
    pub room: RoomInfo,
    /// When its next meeting starts, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_until: Option<String>,
}

impl From<FoundRoom> for FreeRoomView {
    fn from(found: FoundRoom) -> Self {
        FreeRoomView {
            room: found.room.into(),
            free_until: found.free_until.map(rfc3339),
        }
    }
}

/// Rooms free for the time asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeRooms {
    pub start: String,
    pub end: String,
    /// Smallest first, at most 10.
    pub rooms: Vec<FreeRoomView>,
}

/// Find rooms free now (or from `at`) for `minutes`, by seats, floor and equipment.
#[utoipa::path(get, path = "/rooms/free", tag = "rooms", params(FreeQuery),
    responses((status = 200, body = FreeRooms), (status = 401), (status = 422)))]
async fn free_rooms(
    State(state): State<AppState>,
    Searcher(tenant_id): Searcher,
    AppQuery(query): AppQuery<FreeQuery>,
) -> ApiResult<Json<FreeRooms>> {
    let minutes = query.minutes.unwrap_or(30);
    if !(5..=480).contains(&minutes) {
        return Err(Error::invalid("minutes", Invalid::OutOfRange { min: 5, max: 480 }).into());
    }
    if let Some(seats) = query.seats
        && !(1..=1000).contains(&seats)
    {
        return Err(Error::invalid("seats", Invalid::OutOfRange { min: 1, max: 1000 }).into());
    }
    let start = match query.at.as_deref() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                Error::invalid(
                    "at",
                    Invalid::NotOneOf {
                        allowed: &["RFC 3339"],
                    },
                )
            })?
            .timestamp(),
        None => state.engine.ports.clock.now().timestamp() / 60 * 60,
    };
    let equipment: Vec<String> = query
        .equipment
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .take(10)
        .collect();
    let wanted = RoomWanted {
        seats: query.seats,
        equipment,
        floor: query.floor,
    };
    let span = Interval::new(start, start + minutes * 60)
        .ok_or_else(|| Error::invalid("at", Invalid::Required))?;
    let found = state.engine.find_rooms(tenant_id, &wanted, span).await?;
    Ok(Json(FreeRooms {
        start: rfc3339(span.start),
        end: rfc3339(span.end),
        rooms: found.into_iter().map(Into::into).collect(),
    }))
}

// ---- admins ----

/// A room as admins manage it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomView {
    pub id: i64,
    /// Used in room URLs (`/r/{slug}`).
    pub slug: String,
    pub name: String,
    pub capacity: i64,
    pub time_zone: String,
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    /// The slug of the location it is in.
    pub location: Option<String>,
    pub release: ReleaseView,
}

/// When bookings nobody checked in to are released.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseView {
    /// Off: nothing is released in this room.
    pub enabled: bool,
    /// Minutes after the start a booking waits for a check-in (1–120; default 10).
    pub grace_minutes: i64,
    /// Meetings this long or longer are never released (1–24 hours; null: none spared;
    /// default 8).
    pub long_meeting_hours: Option<i64>,
    /// Organizers whose meetings are never released (employees' emails).
    pub exempt: Vec<String>,
}

impl From<ReleaseSettings> for ReleaseView {
    fn from(r: ReleaseSettings) -> Self {
        ReleaseView {
            enabled: r.enabled,
            grace_minutes: r.grace_minutes,
            long_meeting_hours: r.long_meeting_hours,
            exempt: r.exempt,
        }
    }
}

impl From<RoomDetails> for RoomView {
    fn from(room: RoomDetails) -> Self {
        RoomView {
            id: room.id,
            slug: room.summary.slug,
            name: room.summary.name,
            capacity: room.summary.capacity,
            time_zone: room.summary.time_zone,
            equipment: room.summary.equipment,
            floor: room.summary.floor,
            location: room.location,
            release: room.release.into(),
        }
    }
}

/// A room's settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomRequest {
    pub name: String,
    /// Seats, 1–1000.
    pub capacity: i64,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// Lower-case words (`display`, `video`, `whiteboard` …), at most 10.
    #[serde(default)]
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    /// The slug of the location it is in.
    pub location: Option<String>,
    /// The release policy (default: released 10 minutes after the start, meetings of 8 hours
    /// or more spared).
    pub release: Option<ReleaseView>,
}

/// A new room: its slug and settings (as `RoomRequest`; spelled out, because a flattened
/// body would accept unknown fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomRequest {
    /// Lower-case letters, digits and `-`.
    pub slug: String,
    pub name: String,
    /// Seats, 1–1000.
    pub capacity: i64,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// Lower-case words (`display`, `video`, `whiteboard` …), at most 10.
    #[serde(default)]
    pub equipment: Vec<String>,
    pub floor: Option<i64>,
    /// The slug of the location it is in.
    pub location: Option<String>,
    pub release: Option<ReleaseView>,
}

impl NewRoomRequest {
    /// Its slug and settings.
    fn split(self) -> (String, RoomRequest) {
        let settings = RoomRequest {
            name: self.name,
            capacity: self.capacity,
            time_zone: self.time_zone,
            equipment: self.equipment,
            floor: self.floor,
            location: self.location,
            release: self.release,
        };
        (self.slug, settings)
    }
}

impl RoomRequest {
    fn settings(self) -> RoomSettings {
        RoomSettings {
            name: self.name,
            capacity: self.capacity,
            time_zone: self.time_zone,
            equipment: self.equipment,
            floor: self.floor,
            location: self.location,
            release: self
                .release
                .map_or_else(ReleaseSettings::default, |r| ReleaseSettings {
                    enabled: r.enabled,
                    grace_minutes: r.grace_minutes,
                    long_meeting_hours: r.long_meeting_hours,
                    exempt: r.exempt,
                }),
        }
    }
}

/// The tenant's rooms.
#[utoipa::path(get, path = "/rooms", tag = "rooms", responses((status = 200, body = Vec<RoomView>)))]
async fn list_rooms(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<RoomView>>> {
    let rooms = state.engine.rooms(&actor).await?;
    Ok(Json(rooms.into_iter().map(RoomView::from).collect()))
}

/// Add a room (admins).
#[utoipa::path(post, path = "/rooms", tag = "rooms", request_body = NewRoomRequest,
    responses((status = 201, body = RoomView), (status = 422)))]
async fn create_room(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<NewRoomRequest>,
) -> ApiResult<(StatusCode, Json<RoomView>)> {
    let (slug, settings) = input.split();
    let room = state
        .engine
        .add_room(&actor, &slug, &settings.settings())
        .await?;
    Ok((StatusCode::CREATED, Json(room.into())))
}

/// Change a room's settings (admins).
#[utoipa::path(put, path = "/rooms/{room}", tag = "rooms", params(("room" = String, Path)),
    request_body = RoomRequest, responses((status = 200, body = RoomView), (status = 404), (status = 422)))]
async fn update_room(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(room): AppPath<String>,
    AppJson(input): AppJson<RoomRequest>,
) -> ApiResult<Json<RoomView>> {
    let room = state
        .engine
        .update_room(&actor, &room, &input.settings())
        .await?;
    Ok(Json(room.into()))
}

/// A new door display's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDoorDisplay {
    pub name: String,
}

/// A door display (paired, waiting for its code, or revoked).
#[derive(Debug, Serialize, ToSchema)]
pub struct DoorDisplayView {
    pub id: i64,
    pub room_id: Option<i64>,
    pub name: String,
    pub paired_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
}

fn ms(at: i64) -> String {
    rfc3339(at.div_euclid(1000))
}

impl From<DeviceRow> for DoorDisplayView {
    fn from(device: DeviceRow) -> Self {
        DoorDisplayView {
            id: device.id,
            room_id: device.room_id,
            name: device.name,
            paired_at: device.paired_at.map(ms),
            last_seen_at: device.last_seen_at.map(ms),
            revoked_at: device.revoked_at.map(ms),
        }
    }
}

/// A new door display and how to pair it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoorDisplayPairing {
    pub door_display: DoorDisplayView,
    /// Typed on the tablet, or carried by the URL.
    pub pairing_code: String,
    /// Open on the tablet: the room's door display, paired at once.
    pub pairing_url: String,
    /// The pairing URL as a QR code (SVG), to scan with the tablet.
    pub pairing_qr_svg: String,
    pub expires_at: String,
}

/// Add a door display for a room (admins): its pairing code, URL and QR code.
#[utoipa::path(post, path = "/rooms/{room}/door-displays", tag = "rooms", params(("room" = String, Path)),
    request_body = NewDoorDisplay, responses((status = 201, body = DoorDisplayPairing), (status = 404), (status = 422)))]
async fn add_door_display(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(room): AppPath<String>,
    AppJson(new): AppJson<NewDoorDisplay>,
) -> ApiResult<(StatusCode, Json<DoorDisplayPairing>)> {
    let (device, code) = state
        .engine
        .add_door_display(&actor, &room, &new.name)
        .await?;
    let base = state.engine.settings.public_url.trim_end_matches('/');
    let pairing_url = format!("{base}/r/{room}/door#pair={code}");
    let expires_at = device.pairing_expires_at.map(ms).unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(DoorDisplayPairing {
            door_display: device.into(),
            pairing_qr_svg: crate::qr::svg(&pairing_url),
            pairing_code: code,
            pairing_url,
            expires_at,
        }),
    ))
}

/// The tenant's door displays (paired, waiting for their code, or revoked).
#[utoipa::path(get, path = "/door-displays", tag = "rooms", responses((status = 200, body = Vec<DoorDisplayView>)))]
async fn list_door_displays(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<DoorDisplayView>>> {
    let displays = state.engine.door_displays(&actor).await?;
    Ok(Json(displays.into_iter().map(Into::into).collect()))
}

/// Revoke a door display (admins): the tablet stops showing the room at once.
#[utoipa::path(delete, path = "/door-displays/{door_display}", tag = "rooms",
    params(("door_display" = i64, Path)), responses((status = 204), (status = 404)))]
async fn revoke_door_display(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.revoke_door_display(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which days: `from..=to` in `tz`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UtilisationQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD` (at most 366 days after `from`).
    pub to: String,
    /// IANA zone the days are in (default UTC).
    pub tz: Option<String>,
}

impl UtilisationQuery {
    /// The span as epoch seconds.
    pub(crate) fn span(&self) -> ApiResult<(i64, i64)> {
        let zone: Tz = match self.tz.as_deref() {
            Some(name) => name
                .parse()
                .map_err(|_| Error::invalid("tz", Invalid::NotTimeZone))?,
            None => Tz::UTC,
        };
        let from = super::reception::day("from", &self.from)?;
        let to = super::reception::day("to", &self.to)?;
        if to < from || (to - from).num_days() > 366 {
            return Err(Error::invalid("to", Invalid::OutOfRange { min: 0, max: 366 }).into());
        }
        let midnight = |day: NaiveDate| -> i64 {
            day.and_hms_opt(0, 0, 0)
                .and_then(|t| zone.from_local_datetime(&t).earliest())
                .map_or(0, |t| t.timestamp())
        };
        Ok((midnight(from), midnight(to + chrono::Days::new(1))))
    }
}

/// One room's use.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomUseView {
    pub room: String,
    pub name: String,
    pub booked_hours: f64,
    /// Held by people who checked in.
    pub used_hours: f64,
    /// Given back by auto-release.
    pub released_hours: f64,
    /// Meetings over (whose check-in was tracked).
    pub meetings: u32,
    pub no_shows: u32,
    /// No-shows over tracked meetings; absent when none were tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_show_rate: Option<f64>,
}

fn hours(seconds: i64) -> f64 {
    (seconds as f64 / 3600.0 * 100.0).round() / 100.0
}

impl From<RoomUse> for RoomUseView {
    fn from(used: RoomUse) -> Self {
        RoomUseView {
            room: used.room.slug,
            name: used.room.name,
            booked_hours: hours(used.usage.booked),
            used_hours: hours(used.usage.used),
            released_hours: hours(used.usage.released),
            meetings: used.usage.tracked,
            no_shows: used.usage.no_shows,
            no_show_rate: used.usage.no_show_rate(),
        }
    }
}

/// How each room was used by the meetings that began on these days: booked, used and
/// released hours, and the no-show rate.
#[utoipa::path(get, path = "/rooms/utilisation", tag = "rooms", params(UtilisationQuery),
    responses((status = 200, body = Vec<RoomUseView>), (status = 422)))]
async fn utilisation(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<UtilisationQuery>,
) -> ApiResult<Json<Vec<RoomUseView>>> {
    let (from, to) = query.span()?;
    let uses = state.engine.room_utilisation(&actor, from, to).await?;
    Ok(Json(uses.into_iter().map(Into::into).collect()))
}

/// The same as CSV.
#[utoipa::path(get, path = "/rooms/utilisation.csv", tag = "rooms", params(UtilisationQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422)))]
async fn utilisation_csv(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<UtilisationQuery>,
) -> ApiResult<Response> {
    let (from, to) = query.span()?;
    let uses = state.engine.room_utilisation(&actor, from, to).await?;
    let mut csv = String::from(
        "room,name,booked_hours,used_hours,released_hours,meetings,no_shows,no_show_rate\r\n",
    );
    for used in uses {
        let view = RoomUseView::from(used);
        let rate = view
            .no_show_rate
            .map(|r| format!("{:.3}", r))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            csv_field(&view.room),
            csv_field(&view.name),
            view.booked_hours,
            view.used_hours,
            view.released_hours,
            view.meetings,
            view.no_shows,
            rate
        ));
    }
    Ok(csv_download("room-utilisation.csv", csv))
}

/// A CSV field: neutralised (a name starting with `=` is not a formula), quoted.
fn csv_field(text: &str) -> String {
    let safe = frontdesk_core::domain::csv_cell::neutralize(text);
    format!("\"{}\"", safe.replace('"', "\"\""))
}
