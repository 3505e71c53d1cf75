//! Calendar connections (ICS feeds, Google, Microsoft 365) of employees and rooms with
//! their sync state, and the built-in calendar's events and private feeds.
//!
//! An owner is named by `employee_id` or `room` (a room's slug), in the query or the body.
//!
//! `GET /calendars/{calendar}/free-busy` asks the calendar's provider for its busy time
//! while the admin waits (the one route that does: free slots never do), to check the
//! cache against it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use frontdesk_core::Error;
use frontdesk_core::domain::calendar::{Interval, Owner, Provider};
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::calendar::{CalendarStatus, FreeBusyCheck};
use frontdesk_core::engine::local_calendar::LocalEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calendars, connect))
        .routes(routes!(disconnect))
        .routes(routes!(free_busy))
        .routes(routes!(authorize))
        .routes(routes!(provider_rooms))
        .routes(routes!(issue_feed, revoke_feed))
        .routes(routes!(list_events, create_event))
        .routes(routes!(delete_event))
}

/// Whose calendar: an employee or a room (exactly one; for `GET /calendars`, neither lists
/// every connected calendar of the tenant).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OwnerQuery {
    pub employee_id: Option<i64>,
    /// A room's slug.
    pub room: Option<String>,
}

/// A calendar connection and how its sync goes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    pub id: i64,
    pub employee_id: Option<i64>,
    pub room_id: Option<i64>,
    /// `local`, `ics`, `google` or `microsoft`.
    pub provider: String,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last sync failed; absent after a success.
    pub last_error: Option<String>,
    /// The busy time shown may be out of date (the last sync failed, or none succeeded
    /// recently).
    pub stale: bool,
    /// The credentials stopped working: connect it again.
    pub needs_reconnect: bool,
    /// Changes arrive by push (otherwise only by reconciliation every 15 minutes).
    pub push: bool,
    pub next_sync_at: Option<DateTime<Utc>>,
    /// Busy events cached (or, for the built-in calendar, held).
    pub events: i64,
}

fn instant(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

impl From<CalendarStatus> for CalendarView {
    fn from(status: CalendarStatus) -> Self {
        let (employee_id, room_id) = status.owner.columns();
        CalendarView {
            id: status.id,
            employee_id,
            room_id,
            provider: status.provider.as_str().into(),
            last_sync_at: status.last_sync_at.and_then(instant),
            last_success_at: status.last_success_at.and_then(instant),
            last_error: status.last_error,
            stale: status.stale,
            needs_reconnect: status.needs_reconnect,
            push: status.push,
            next_sync_at: instant(status.next_sync_at),
            events: status.events,
        }
    }
}

/// A calendar to connect: an ICS feed by URL, or a Google / Microsoft 365 calendar reached
/// with the application's own credentials (service account with domain-wide delegation,
/// client credentials). A person's own account is connected with
/// `POST /calendars/authorizations` instead.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    pub employee_id: Option<i64>,
    pub room: Option<String>,
    /// `ics`, `google` or `microsoft`.
    pub provider: String,
    /// For `ics`: the feed's `https://` or `webcal://` URL.
    pub url: Option<String>,
    /// For `google` and `microsoft`: the calendar or mailbox (an email address).
    pub calendar_id: Option<String>,
}

/// The span to check a calendar's busy time over.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FreeBusyQuery {
    /// From (RFC 3339).
    pub from: DateTime<Utc>,
    /// Until (RFC 3339), after `from` and at most 62 days after it.
    pub to: DateTime<Utc>,
}

/// A span of busy time.
#[derive(Debug, Serialize, ToSchema)]
pub struct BusyView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl From<Interval> for BusyView {
    fn from(busy: Interval) -> Self {
        BusyView {
            start: DateTime::from_timestamp(busy.start, 0).unwrap_or_default(),
            end: DateTime::from_timestamp(busy.end, 0).unwrap_or_default(),
        }
    }
}

/// A calendar's busy time over a span as its provider says it now, beside what Frontdesk
/// holds for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeBusyView {
    pub calendar_id: i64,
    /// `local`, `ics`, `google` or `microsoft`.
    pub provider: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// What the provider answered just now (for the built-in calendar, the database);
    /// sorted, overlaps merged.
    pub provider_busy: Vec<BusyView>,
    /// What the cache holds for the span, which free slots are computed from.
    pub cached_busy: Vec<BusyView>,
    /// The two are the same. When not, a change may not be synced yet (see `stale` and the
    /// calendar's `last_error`); the next sync brings it.
    pub agrees: bool,
    /// The cache's last sync failed, or none succeeded recently.
    pub stale: bool,
}

impl FreeBusyView {
    fn new(check: FreeBusyCheck, query: &FreeBusyQuery) -> FreeBusyView {
        FreeBusyView {
            calendar_id: check.calendar_id,
            provider: check.provider.as_str().into(),
            from: query.from,
            to: query.to,
            agrees: check.agrees(),
            stale: check.stale,
            provider_busy: check
                .provider_busy
                .into_iter()
                .map(BusyView::from)
                .collect(),
            cached_busy: check.cached_busy.into_iter().map(BusyView::from).collect(),
        }
    }
}

/// Start connecting a person's own Google or Microsoft 365 account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub employee_id: Option<i64>,
    pub room: Option<String>,
    /// `google` or `microsoft`.
    pub provider: String,
    /// The account to suggest at the provider's sign-in.
    pub login_hint: Option<String>,
}

/// Where to send the person to allow access; the provider sends them back to
/// `/oauth/{provider}/callback`, which finishes the connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationView {
    pub authorization_url: String,
}

/// Which provider's room directory to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProviderQuery {
    /// `microsoft` (Google has no room directory Frontdesk reads).
    pub provider: String,
}

/// A meeting room the provider lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderRoomView {
    /// Its calendar: the `calendar_id` to connect a Frontdesk room with.
    pub calendar_id: String,
    pub name: String,
    pub capacity: Option<u32>,
    pub floor: Option<i32>,
}

/// A private ICS feed URL of a built-in calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    /// Subscribe to it from any calendar app; whoever has it can read the calendar.
    pub url: String,
}

/// The owner of a built-in calendar.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    pub employee_id: Option<i64>,
    pub room: Option<String>,
}

/// An event of the built-in calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub title: String,
}

impl From<LocalEvent> for EventView {
    fn from(event: LocalEvent) -> Self {
        EventView {
            uid: event.uid,
            start: DateTime::from_timestamp(event.interval.start, 0).unwrap_or_default(),
            end: DateTime::from_timestamp(event.interval.end, 0).unwrap_or_default(),
            title: event.title,
        }
    }
}

/// A new event of an employee's or room's built-in calendar.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEventRequest {
    pub employee_id: Option<i64>,
    pub room: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub title: String,
}

/// A span of the built-in calendar, and whose.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub employee_id: Option<i64>,
    pub room: Option<String>,
    /// From (RFC 3339).
    pub from: DateTime<Utc>,
    /// Until (RFC 3339), at most 400 days after `from`.
    pub to: DateTime<Utc>,
}

async fn owner(
    state: &AppState,
    actor: &Actor,
    employee_id: Option<i64>,
    room: Option<&str>,
) -> ApiResult<Owner> {
    Ok(state
        .engine
        .calendar_owner(actor, employee_id, room)
        .await?)
}

fn provider(name: &str, allowed: &'static [&'static str]) -> ApiResult<Provider> {
    Provider::parse(name)
        .filter(|p| allowed.contains(&p.as_str()))
        .ok_or_else(|| Error::invalid("provider", Invalid::NotOneOf { allowed }).into())
}

/// Calendar connections and their sync state: one owner's, or every connected calendar of
/// the tenant (where sync fails, and why).
#[utoipa::path(get, path = "/calendars", tag = "calendars", params(OwnerQuery),
    responses((status = 200, body = Vec<CalendarView>), (status = 404)))]
async fn list_calendars(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<OwnerQuery>,
) -> ApiResult<Json<Vec<CalendarView>>> {
    let statuses = if query.employee_id.is_none() && query.room.is_none() {
        state.engine.tenant_calendar_statuses(&actor).await?
    } else {
        let owner = owner(&state, &actor, query.employee_id, query.room.as_deref()).await?;
        state.engine.calendar_statuses(&actor, owner).await?
    };
    Ok(Json(statuses.into_iter().map(CalendarView::from).collect()))
}

/// Connect an ICS feed, or a Google / Microsoft 365 calendar with the application's
/// credentials (admins). It replaces the owner's earlier calendar at that provider; the
/// first sync starts at once.
#[utoipa::path(post, path = "/calendars", tag = "calendars", request_body = ConnectRequest,
    responses((status = 201, body = CalendarView), (status = 404), (status = 409), (status = 422)))]
async fn connect(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<ConnectRequest>,
) -> ApiResult<(StatusCode, Json<CalendarView>)> {
    let provider = provider(&input.provider, &["ics", "google", "microsoft"])?;
    let owner = owner(&state, &actor, input.employee_id, input.room.as_deref()).await?;
    let status = match provider {
        Provider::Ics => {
            let url = input.url.as_deref().unwrap_or_default();
            state.engine.connect_ics(&actor, owner, url).await?
        }
        _ => {
            let id = input.calendar_id.as_deref().unwrap_or_default();
            state
                .engine
                .connect_with_app_credentials(&actor, owner, provider, id)
                .await?
        }
    };
    Ok((StatusCode::CREATED, Json(status.into())))
}

/// Disconnect a calendar (admins): its push channel is closed and its cached busy time
/// removed.
#[utoipa::path(delete, path = "/calendars/{calendar}", tag = "calendars", params(("calendar" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn disconnect(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.disconnect_calendar(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A calendar's busy time asked live from its provider (Google's `freeBusy`, Graph's
/// `getSchedule`, the ICS feed fetched anew), beside the cached busy time of the same span:
/// whether the cache agrees with the provider (admins). The built-in calendar is answered
/// from the database. The span is at most 62 days; a provider that refuses or fails is a
/// 502 saying why.
#[utoipa::path(get, path = "/calendars/{calendar}/free-busy", tag = "calendars",
    params(("calendar" = i64, Path), FreeBusyQuery),
    responses((status = 200, body = FreeBusyView), (status = 404), (status = 409), (status = 422), (status = 502)))]
async fn free_busy(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppQuery(query): AppQuery<FreeBusyQuery>,
) -> ApiResult<Json<FreeBusyView>> {
    let check = state
        .engine
        .provider_free_busy(&actor, id, query.from.timestamp(), query.to.timestamp())
        .await?;
    Ok(Json(FreeBusyView::new(check, &query)))
}

/// Start connecting a person's own Google or Microsoft 365 account (admins): OAuth with
/// PKCE; the link works once, for ten minutes.
#[utoipa::path(post, path = "/calendars/authorizations", tag = "calendars", request_body = AuthorizeRequest,
    responses((status = 200, body = AuthorizationView), (status = 404), (status = 409), (status = 422)))]
async fn authorize(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<AuthorizeRequest>,
) -> ApiResult<Json<AuthorizationView>> {
    let provider = provider(&input.provider, &["google", "microsoft"])?;
    let owner = owner(&state, &actor, input.employee_id, input.room.as_deref()).await?;
    let redirect_uri = crate::page::calendar_oauth::redirect_uri(&state, provider);
    let authorization_url = state
        .engine
        .start_calendar_oauth(
            &actor,
            owner,
            provider,
            &redirect_uri,
            input.login_hint.as_deref(),
        )
        .await?;
    Ok(Json(AuthorizationView { authorization_url }))
}

/// The meeting rooms a provider lists (Microsoft 365's room mailboxes, through Graph's
/// places), to connect Frontdesk's rooms to (admins).
#[utoipa::path(get, path = "/calendars/provider-rooms", tag = "calendars", params(ProviderQuery),
    responses((status = 200, body = Vec<ProviderRoomView>), (status = 409), (status = 422), (status = 502)))]
async fn provider_rooms(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<ProviderQuery>,
) -> ApiResult<Json<Vec<ProviderRoomView>>> {
    let provider = provider(&query.provider, &["microsoft"])?;
    let rooms = state.engine.provider_rooms(&actor, provider).await?;
    Ok(Json(
        rooms
            .into_iter()
            .map(|room| ProviderRoomView {
                calendar_id: room.external_id,
                name: room.name,
                capacity: room.capacity,
                floor: room.floor,
            })
            .collect(),
    ))
}

/// A new private ICS feed URL of the owner's built-in calendar (admins); the previous URL
/// stops working.
#[utoipa::path(post, path = "/calendar-feeds", tag = "calendars", request_body = FeedRequest,
    responses((status = 201, body = FeedView), (status = 404), (status = 422)))]
async fn issue_feed(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<FeedRequest>,
) -> ApiResult<(StatusCode, Json<FeedView>)> {
    let owner = owner(&state, &actor, input.employee_id, input.room.as_deref()).await?;
    let url = state.engine.issue_calendar_feed(&actor, owner).await?;
    Ok((StatusCode::CREATED, Json(FeedView { url })))
}

/// Revoke the owner's private ICS feed URL (admins).
#[utoipa::path(delete, path = "/calendar-feeds", tag = "calendars", params(OwnerQuery),
    responses((status = 204), (status = 404), (status = 422)))]
async fn revoke_feed(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<OwnerQuery>,
) -> ApiResult<StatusCode> {
    let owner = owner(&state, &actor, query.employee_id, query.room.as_deref()).await?;
    state.engine.revoke_calendar_feed(&actor, owner).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The owner's built-in calendar events in a span (at most 500).
#[utoipa::path(get, path = "/calendar-events", tag = "calendars", params(EventsQuery),
    responses((status = 200, body = Vec<EventView>), (status = 404), (status = 422)))]
async fn list_events(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<EventsQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    let owner = owner(&state, &actor, query.employee_id, query.room.as_deref()).await?;
    let (from, to) = (query.from.timestamp(), query.to.timestamp());
    if to <= from || to - from > 400 * 86_400 {
        return Err(Error::invalid(
            "to",
            Invalid::OutOfRange {
                min: from + 1,
                max: from + 400 * 86_400,
            },
        )
        .into());
    }
    let events = state
        .engine
        .calendar_events(&actor, owner, from, to)
        .await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

/// Add an event to an employee's or room's built-in calendar (admins).
#[utoipa::path(post, path = "/calendar-events", tag = "calendars", request_body = NewEventRequest,
    responses((status = 201, body = EventView), (status = 404), (status = 422)))]
async fn create_event(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<NewEventRequest>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    let owner = owner(&state, &actor, input.employee_id, input.room.as_deref()).await?;
    let event = state
        .engine
        .add_calendar_event(
            &actor,
            owner,
            input.start.timestamp(),
            input.end.timestamp(),
            &input.title,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(event.into())))
}

/// Remove an event from the owner's built-in calendar (admins).
#[utoipa::path(delete, path = "/calendar-events/{event}", tag = "calendars",
    params(("event" = String, Path, description = "The event's uid"), OwnerQuery), responses((status = 204), (status = 404), (status = 422)))]
async fn delete_event(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(uid): AppPath<String>,
    AppQuery(query): AppQuery<OwnerQuery>,
) -> ApiResult<StatusCode> {
    let owner = owner(&state, &actor, query.employee_id, query.room.as_deref()).await?;
    state
        .engine
        .remove_calendar_event(&actor, owner, &uid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
