//! Booking links: the public JSON the booking page calls (a link's offer, its free slots,
//! booking, and the guest's manage link), and the admin JSON that defines links (admins any,
//! each person their own).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_core::domain::booking::{LinkKind, LinkRules, Place};
use frontdesk_core::domain::calendar::Interval;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::engine::booking::{BookingLink, BookingRequest, BookingView, LinkInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{
    AppJson, AppPath, AppQuery, ClientIp, SignedIn, idempotency_key, language_field,
};
use crate::problem::{ApiError, ApiResult};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_link))
        .routes(routes!(slots))
        .routes(routes!(book))
        .routes(routes!(guest_booking))
        .routes(routes!(reschedule))
        .routes(routes!(cancel))
        .routes(routes!(list_links, create_link))
        .routes(routes!(get_link, update_link, delete_link))
}

fn rfc3339(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A link's offer as its public page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLink {
    pub slug: String,
    pub title: String,
    /// `one_on_one`, `collective` or `round_robin`.
    pub kind: String,
    /// The hosts' names (round robin: whoever is free).
    pub hosts: Vec<String>,
    pub durations_minutes: Vec<i64>,
    /// The hosts' zone (the guest's is theirs to pick).
    pub time_zone: String,
    /// `google_meet`, `teams`, `in_person` or `phone`.
    pub place: String,
    /// The location's name, for a meeting in person.
    pub location: Option<String>,
    pub questions: Vec<PublicQuestion>,
    /// How many days ahead a guest may book.
    pub window_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicQuestion {
    pub key: String,
    pub label_ja: String,
    pub label_en: String,
    pub required: bool,
}

fn place_name(place: &Place) -> (&'static str, Option<String>) {
    match place {
        Place::GoogleMeet => ("google_meet", None),
        Place::Teams => ("teams", None),
        Place::InPerson { location } => ("in_person", Some(location.clone())),
        Place::Phone => ("phone", None),
    }
}

/// A booking link's offer: title, hosts, durations, questions, where.
#[utoipa::path(get, path = "/public/links/{link}", tag = "booking", params(("link" = String, Path)),
    responses((status = 200, body = PublicLink), (status = 404), (status = 410, description = "a single-use link already used")))]
async fn public_link(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
) -> ApiResult<Json<PublicLink>> {
    Ok(Json(PublicLink::load(&state, &slug).await?))
}

impl PublicLink {
    /// The offer of the link `slug` (also what the booking page carries, saving it a request).
    pub(crate) async fn load(state: &AppState, slug: &str) -> ApiResult<PublicLink> {
        let link = state.engine.public_booking_link(slug).await?;
        let location = match &link.rules.place {
            Place::InPerson { location } => state
                .engine
                .location_name(link.tenant_id, location)
                .await?
                .or(Some(location.clone())),
            _ => None,
        };
        Ok(PublicLink {
            slug: link.slug,
            title: link.title,
            kind: link.kind.as_str().to_owned(),
            hosts: link.hosts.into_iter().map(|h| h.name).collect(),
            durations_minutes: link.rules.durations_minutes,
            time_zone: link.rules.time_zone,
            place: place_name(&link.rules.place).0.to_owned(),
            location,
            questions: link
                .rules
                .questions
                .into_iter()
                .map(|q| PublicQuestion {
                    key: q.key,
                    label_ja: q.label_ja,
                    label_en: q.label_en,
                    required: q.required,
                })
                .collect(),
            window_days: link.rules.window_days,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// First day, in `tz` (YYYY-MM-DD).
    pub from: NaiveDate,
    /// Last day, included, in `tz` (at most 62 days after `from`).
    pub to: NaiveDate,
    /// The guest's IANA zone (`Europe/Berlin`).
    pub tz: String,
    /// One of the link's durations; its first by default.
    pub duration: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Slots {
    pub slots: Vec<Slot>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
}

impl From<Interval> for Slot {
    fn from(slot: Interval) -> Self {
        Slot {
            start: rfc3339(slot.start),
            end: rfc3339(slot.end),
        }
    }
}

/// The free slots of a link between two days in the guest's zone, from cached busy time
/// (never waiting on a calendar provider).
#[utoipa::path(get, path = "/public/links/{link}/slots", tag = "booking",
    params(("link" = String, Path), SlotsQuery),
    responses((status = 200, body = Slots), (status = 404), (status = 410), (status = 422)))]
async fn slots(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
    AppQuery(query): AppQuery<SlotsQuery>,
) -> ApiResult<Json<Slots>> {
    let slots = state
        .engine
        .booking_slots(&slug, query.from, query.to, &query.tz, query.duration)
        .await?;
    Ok(Json(Slots {
        slots: slots.into_iter().map(Slot::from).collect(),
    }))
}

/// A guest's booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBooking {
    /// RFC 3339: one of the slots offered.
    pub start: String,
    pub duration_minutes: Option<i64>,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    /// Needed when the host calls (place `phone`).
    pub phone: Option<String>,
    /// The guest's IANA zone (the times in their mail).
    pub tz: String,
    /// Answers to the link's questions, by key.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// `ja` or `en`: the guest's mail comes in this language first.
    pub language: Option<String>,
    /// Left empty by people; a form filled in by a robot fills it.
    #[serde(default)]
    pub website: Option<String>,
}

/// A booking as its guest sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Booking {
    pub id: String,
    pub link: String,
    pub title: String,
    pub start: String,
    pub end: String,
    /// `confirmed` or `cancelled`.
    pub status: String,
    pub hosts: Vec<String>,
    pub guest_name: String,
    pub guest_time_zone: String,
    pub place: String,
    /// The code to enter at reception, for a meeting in person.
    pub reception_code: Option<String>,
    /// The video meeting's link, once the calendar provider made it.
    pub conference_url: Option<String>,
    /// Where the guest moves or cancels it; only in the answer that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_url: Option<String>,
}

impl Booking {
    /// The guest's view of a booking; `manage_url` only in the answer that made it.
    pub(crate) fn of(view: BookingView, manage_url: Option<String>) -> Booking {
        Booking {
            id: view.public_id,
            link: view.link_slug,
            title: view.title,
            start: rfc3339(view.start),
            end: rfc3339(view.end),
            status: view.status,
            hosts: view.hosts,
            guest_name: view.guest_name,
            guest_time_zone: view.guest_time_zone,
            place: place_name(&view.place).0.to_owned(),
            reception_code: view.reception_code,
            conference_url: view.conference_url,
            manage_url,
        }
    }
}

/// Books a slot. 409 when it was taken meanwhile (nothing written); 422 names a bad field;
/// a repeat of the `Idempotency-Key` answers the booking it made.
#[utoipa::path(post, path = "/public/links/{link}/bookings", tag = "booking",
    params(("link" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "the page's key for this booking")),
    request_body = NewBooking,
    responses((status = 201, body = Booking), (status = 200, body = Booking, description = "an earlier booking with this key"),
        (status = 404), (status = 409, description = "the slot was taken meanwhile"), (status = 410),
        (status = 422), (status = 429, description = "too many bookings from this address")))]
async fn book(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppPath(slug): AppPath<String>,
    AppJson(new): AppJson<NewBooking>,
) -> ApiResult<(StatusCode, Json<Booking>)> {
    if new.website.as_deref().is_some_and(|w| !w.is_empty()) {
        return Err(frontdesk_core::Error::invalid("website", Invalid::UnknownField).into());
    }
    let key = idempotency_key(&headers)?;
    let language = language_field(new.language.as_deref())?;
    let request = BookingRequest {
        start: new.start,
        duration_minutes: new.duration_minutes,
        name: new.name,
        email: new.email,
        company: new.company,
        phone: new.phone,
        time_zone: new.tz,
        answers: new.answers,
        language,
    };
    let booked = state
        .engine
        .book(&slug, request, &ip.to_string(), key.as_deref())
        .await?;
    let status = if booked.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Booking::of(booked.booking, booked.manage_url))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ManageQuery {
    /// The token from the manage link.
    pub t: String,
}

/// The booking behind a guest's manage link.
#[utoipa::path(get, path = "/public/bookings/{booking}", tag = "booking",
    params(("booking" = String, Path), ManageQuery),
    responses((status = 200, body = Booking), (status = 404)))]
async fn guest_booking(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    AppQuery(query): AppQuery<ManageQuery>,
) -> ApiResult<Json<Booking>> {
    let view = state.engine.guest_booking(&id, &query.t).await?;
    Ok(Json(Booking::of(view, None)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reschedule {
    /// The token from the manage link.
    pub t: String,
    /// RFC 3339: one of the slots offered.
    pub start: String,
}

/// Moves a booking (from the guest's manage link); 409 when the new slot is taken.
#[utoipa::path(post, path = "/public/bookings/{booking}/reschedule", tag = "booking",
    params(("booking" = String, Path)), request_body = Reschedule,
    responses((status = 200, body = Booking), (status = 404), (status = 409), (status = 422)))]
async fn reschedule(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<Reschedule>,
) -> ApiResult<Json<Booking>> {
    let view = state
        .engine
        .reschedule_booking(&id, &request.t, &request.start)
        .await?;
    Ok(Json(Booking::of(view, None)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The token from the manage link.
    pub t: String,
}

/// Cancels a booking (from the guest's manage link).
#[utoipa::path(post, path = "/public/bookings/{booking}/cancel", tag = "booking",
    params(("booking" = String, Path)), request_body = Cancel,
    responses((status = 200, body = Booking), (status = 404), (status = 409, description = "already cancelled")))]
async fn cancel(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<Cancel>,
) -> ApiResult<Json<Booking>> {
    let view = state.engine.cancel_booking(&id, &request.t).await?;
    Ok(Json(Booking::of(view, None)))
}

// ---- admin ----

/// A booking link as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub owner: String,
    pub hosts: Vec<LinkHostView>,
    /// The rules as written (see `NewLink.rules`).
    #[schema(value_type = Object)]
    pub rules: LinkRules,
    pub single_use: bool,
    pub active: bool,
    /// A single-use link that has been booked.
    pub used: bool,
    /// The public page.
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkHostView {
    pub email: String,
    pub name: String,
    pub weight: i64,
}

impl LinkView {
    fn of(link: BookingLink, public_url: &str) -> LinkView {
        LinkView {
            url: format!("{}/b/{}", public_url.trim_end_matches('/'), link.slug),
            slug: link.slug,
            title: link.title,
            kind: link.kind.as_str().to_owned(),
            owner: link.owner_email,
            hosts: link
                .hosts
                .into_iter()
                .map(|h| LinkHostView {
                    email: h.email,
                    name: h.name,
                    weight: h.weight,
                })
                .collect(),
            rules: link.rules,
            single_use: link.single_use,
            active: link.active,
            used: link.used,
        }
    }
}

/// A link to define: `rules` holds `time_zone`, `durations_minutes`, `interval_minutes`,
/// `weekly` (`{"mon": [["09:00","12:00"],["13:00","18:00"]], …}`), `overrides`
/// (`{"YYYY-MM-DD": [...]}`, `[]` a day off), `buffer_before_minutes`,
/// `buffer_after_minutes`, `minimum_notice_minutes`, `max_per_day`, `window_days`,
/// `questions` (`[{"key","label_ja","label_en","required"}]`) and `place`
/// (`{"kind": "google_meet" | "teams" | "phone"}` or `{"kind": "in_person", "location": "hq"}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Unique on this server: the page is `/b/{slug}`.
    pub slug: String,
    pub title: String,
    /// `one_on_one` (default), `collective` or `round_robin`.
    pub kind: Option<String>,
    /// Hosts by email with their round-robin weight (1–100); the owner alone when empty.
    #[serde(default)]
    pub hosts: Vec<NewHost>,
    /// The owner's email; yourself when absent.
    pub owner: Option<String>,
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    #[serde(default)]
    pub single_use: bool,
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHost {
    pub email: String,
    pub weight: Option<i64>,
}

impl NewLink {
    fn input(self, slug: Option<String>) -> ApiResult<LinkInput> {
        let rules: LinkRules = serde_json::from_value(self.rules)
            .map_err(|err| ApiError::Unprocessable(format!("rules: {err}")))?;
        Ok(LinkInput {
            slug: slug.unwrap_or(self.slug),
            title: self.title,
            kind: self
                .kind
                .unwrap_or_else(|| LinkKind::OneOnOne.as_str().to_owned()),
            hosts: self
                .hosts
                .into_iter()
                .map(|h| frontdesk_core::engine::booking::HostInput {
                    email: h.email,
                    weight: h.weight.unwrap_or(1),
                })
                .collect(),
            owner: self.owner,
            rules,
            single_use: self.single_use,
            active: self.active.unwrap_or(true),
        })
    }
}

/// The booking links you manage: all of the organisation's for admins, else your own.
#[utoipa::path(get, path = "/booking-links", tag = "booking",
    responses((status = 200, body = Vec<LinkView>)))]
async fn list_links(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<LinkView>>> {
    let links = state.engine.booking_links(&actor).await?;
    let public_url = &state.engine.settings.public_url;
    Ok(Json(
        links
            .into_iter()
            .map(|l| LinkView::of(l, public_url))
            .collect(),
    ))
}

/// Define a booking link (for yourself; admins for anyone). 409 when the slug is taken.
#[utoipa::path(post, path = "/booking-links", tag = "booking", request_body = NewLink,
    responses((status = 201, body = LinkView), (status = 403), (status = 409), (status = 422)))]
async fn create_link(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewLink>,
) -> ApiResult<(StatusCode, Json<LinkView>)> {
    let link = state
        .engine
        .create_booking_link(&actor, new.input(None)?)
        .await?;
    let view = LinkView::of(link, &state.engine.settings.public_url);
    Ok((StatusCode::CREATED, Json(view)))
}

/// One booking link you manage or host.
#[utoipa::path(get, path = "/booking-links/{link}", tag = "booking", params(("link" = String, Path)),
    responses((status = 200, body = LinkView), (status = 404)))]
async fn get_link(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
) -> ApiResult<Json<LinkView>> {
    let link = state.engine.booking_link(&actor, &slug).await?;
    Ok(Json(LinkView::of(link, &state.engine.settings.public_url)))
}

/// Replace a booking link's settings (its slug stays).
#[utoipa::path(put, path = "/booking-links/{link}", tag = "booking", params(("link" = String, Path)),
    request_body = NewLink,
    responses((status = 200, body = LinkView), (status = 403), (status = 404), (status = 422)))]
async fn update_link(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
    AppJson(new): AppJson<NewLink>,
) -> ApiResult<Json<LinkView>> {
    let input = new.input(Some(slug.clone()))?;
    let link = state
        .engine
        .update_booking_link(&actor, &slug, input)
        .await?;
    Ok(Json(LinkView::of(link, &state.engine.settings.public_url)))
}

/// Delete a booking link and its bookings' records.
#[utoipa::path(delete, path = "/booking-links/{link}", tag = "booking", params(("link" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn delete_link(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
) -> ApiResult<StatusCode> {
    state.engine.delete_booking_link(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
