//! `/b/{link}`: a booking link's public page, where a guest picks a day and a time in their
//! own time zone, gives their details and gets the confirmation (the reception code and its
//! QR for a meeting in person, the invitation as `.ics`, links to add it to Google Calendar
//! or Outlook). `/b/{link}/bookings/{id}?t=TOKEN` is the guest's manage page (the link in
//! their mail): the booking, moving it to another slot, cancelling it.
//!
//! The page is rendered with the link's offer and the server's "now" (so the calendar opens
//! on the server's day); its script (`/assets/booking.js`) calls the public booking JSON
//! (`/api/v1/public/…`, see `api/booking.rs`). Like the kiosk, the page carries its texts in
//! both languages ([`TEXTS`]), so the guest switches language in place.
//!
//! `…/invite.ics?t=TOKEN` and `…/code.svg?t=TOKEN` give the booking's invitation and its
//! reception code's QR. Everything under `/b/{link}/bookings/` carries the manage token:
//! no cache keeps it and no link followed from it sends it on as a referrer. A wrong token,
//! another link's booking or an unknown one is the same clear 404 page.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use frontdesk_core::Error;
use frontdesk_core::domain::booking::Place;
use frontdesk_core::engine::booking::{BookingView, INVITATION_FILENAME, booking_ics};
use frontdesk_core::engine::tenant::validate_slug;
use serde::Deserialize;

use super::{Texts, render, render_private};
use crate::AppState;
use crate::api::booking::{Booking, PublicLink};
use crate::problem::ApiError;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/b/{link}", get(show))
        .route("/b/{link}/bookings/{booking}", get(manage))
        .route("/b/{link}/bookings/{booking}/invite.ics", get(invitation))
        .route("/b/{link}/bookings/{booking}/code.svg", get(code_qr))
}

/// Every catalogue text the booking page and its script show, carried in both languages.
const TEXTS: &[&str] = &[
    "booking_page.title",
    "booking_page.languages",
    "booking_page.language.ja",
    "booking_page.language.en",
    "booking_page.time_zone",
    "booking_page.time_zone.detected",
    "booking_page.needs_script",
    "booking_page.loading",
    "booking_page.with",
    "booking_page.duration",
    "booking_page.minutes",
    "booking_page.place.google_meet",
    "booking_page.place.teams",
    "booking_page.place.in_person",
    "booking_page.place.in_person_plain",
    "booking_page.place.phone",
    "booking_page.calendar.title",
    "booking_page.calendar.previous",
    "booking_page.calendar.next",
    "booking_page.calendar.free",
    "booking_page.calendar.none",
    "booking_page.calendar.month",
    "booking_page.calendar.empty_month",
    "booking_page.calendar.empty_window",
    "booking_page.slots.title",
    "booking_page.slots.hint",
    "booking_page.slots.count",
    "booking_page.details.title",
    "booking_page.details.chosen",
    "booking_page.details.change",
    "booking_page.details.name",
    "booking_page.details.email",
    "booking_page.details.company",
    "booking_page.details.phone",
    "booking_page.details.optional",
    "booking_page.details.required",
    "booking_page.details.trap",
    "booking_page.details.submit",
    "booking_page.busy",
    "booking_page.taken",
    "booking_page.failed",
    "booking_page.unreachable",
    "booking_page.done.title",
    "booking_page.done.mail",
    "booking_page.when",
    "booking_page.hosts",
    "booking_page.place",
    "booking_page.code",
    "booking_page.code.hint",
    "booking_page.code.qr",
    "booking_page.video",
    "booking_page.video.join",
    "booking_page.video.pending",
    "booking_page.add.title",
    "booking_page.add.ics",
    "booking_page.add.google",
    "booking_page.add.outlook",
    "booking_page.add.details",
    "booking_page.manage_link",
    "booking_page.manage.title",
    "booking_page.manage.cancelled",
    "booking_page.manage.reschedule",
    "booking_page.manage.pick_new",
    "booking_page.manage.confirm_move",
    "booking_page.manage.move",
    "booking_page.manage.now",
    "booking_page.manage.moved",
    "booking_page.manage.cancel",
    "booking_page.manage.confirm_cancel",
    "booking_page.manage.cancel_yes",
    "booking_page.manage.keep",
    "booking_page.manage.done_cancel",
    "booking_page.back",
    "booking_page.not_found.title",
    "booking_page.not_found.text",
    "booking_page.used.title",
    "booking_page.used.text",
    "booking_page.invalid_manage.title",
    "booking_page.invalid_manage.text",
];

/// [`TEXTS`] of both catalogues as JSON, `{"ja":{key:text},"en":{…}}`, made once.
static TEXTS_JSON: LazyLock<String> = LazyLock::new(|| super::script_texts(TEXTS));

#[derive(Template)]
#[template(path = "booking.html")]
struct BookingPage {
    t: Texts,
    title: String,
    view: PageView,
}

/// What a booking page shows.
enum PageView {
    /// The calendar of a link (`mode` `book`), or a guest's booking (`manage`); the script
    /// takes it from there.
    Live {
        mode: &'static str,
        link: String,
        /// [`TEXTS_JSON`].
        texts: &'static str,
        /// The link's offer ([`PublicLink`]) as JSON; `null` when a booking's link no
        /// longer takes bookings (it can still be cancelled).
        offer: String,
        /// The booking ([`Booking`]) as JSON, on the manage page; else `null`.
        booking: String,
        /// The manage token, on the manage page.
        token: String,
        /// The server's now, RFC 3339: the calendar's today.
        now: String,
    },
    /// No such link (or not active): 404.
    Missing,
    /// A single-use link already booked: 410.
    Used,
    /// A manage link that is wrong, or whose booking is gone: 404.
    InvalidManage,
}

fn now_of(state: &AppState) -> String {
    state
        .engine
        .ports
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A page that is not the calendar: why, with its status.
fn problem_page(status: StatusCode, view: PageView, private: bool) -> Response {
    let t = Texts::of_request();
    let key = match view {
        PageView::Used => "booking_page.used.title",
        PageView::InvalidManage => "booking_page.invalid_manage.title",
        _ => "booking_page.not_found.title",
    };
    let page = BookingPage {
        t,
        title: t.text(key),
        view,
    };
    if private {
        render_private(status, &page)
    } else {
        render(status, &page)
    }
}

/// `/b/{link}`: the calendar of the link's free slots.
async fn show(State(state): State<AppState>, Path(link): Path<String>) -> Response {
    if validate_slug(&link).is_err() {
        return problem_page(StatusCode::NOT_FOUND, PageView::Missing, false);
    }
    let offer = match PublicLink::load(&state, &link).await {
        Ok(offer) => offer,
        Err(ApiError::Engine(Error::NotFound(_))) => {
            return problem_page(StatusCode::NOT_FOUND, PageView::Missing, false);
        }
        Err(ApiError::Engine(Error::LinkUsed)) => {
            return problem_page(StatusCode::GONE, PageView::Used, false);
        }
        Err(err) => return err.into_response(),
    };
    let t = Texts::of_request();
    let page = BookingPage {
        t,
        title: offer.title.clone(),
        view: PageView::Live {
            mode: "book",
            link,
            texts: &TEXTS_JSON,
            offer: serde_json::to_string(&offer).unwrap_or_else(|_| "null".into()),
            booking: "null".into(),
            token: String::new(),
            now: now_of(&state),
        },
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct TokenQuery {
    t: Option<String>,
}

/// The booking of the manage link `/b/{link}/bookings/{id}?t=TOKEN`, or `None` (the page
/// says so) when the token is missing or wrong, or the booking is another link's. Other
/// failures are the problem they are.
async fn managed(
    state: &AppState,
    link: &str,
    id: &str,
    token: Option<&str>,
) -> Result<Option<BookingView>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Ok(None);
    };
    if validate_slug(link).is_err() || id.is_empty() || id.len() > 100 {
        return Ok(None);
    }
    match state.engine.guest_booking(id, token).await {
        Ok(view) if view.link_slug == link => Ok(Some(view)),
        Ok(_) | Err(Error::InvalidManageLink | Error::NotFound(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The guest's manage page.
async fn manage(
    State(state): State<AppState>,
    Path((link, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let view = match managed(&state, &link, &id, query.t.as_deref()).await {
        Ok(Some(view)) => view,
        Ok(None) => return problem_page(StatusCode::NOT_FOUND, PageView::InvalidManage, true),
        Err(err) => return err.into_response(),
    };
    // The offer, for its durations and place; a link that takes no new bookings still lets
    // its guests see and cancel theirs.
    let offer = match PublicLink::load(&state, &link).await {
        Ok(offer) => serde_json::to_string(&offer).unwrap_or_else(|_| "null".into()),
        Err(ApiError::Engine(Error::NotFound(_) | Error::LinkUsed)) => "null".into(),
        Err(err) => return err.into_response(),
    };
    let t = Texts::of_request();
    let booking = Booking::of(view, None);
    let page = BookingPage {
        t,
        title: t.text("booking_page.manage.title"),
        view: PageView::Live {
            mode: "manage",
            link,
            texts: &TEXTS_JSON,
            offer,
            booking: serde_json::to_string(&booking).unwrap_or_else(|_| "null".into()),
            token: query.t.unwrap_or_default(),
            now: now_of(&state),
        },
    };
    render_private(StatusCode::OK, &page)
}

/// A response carrying the manage token in its URL: no referrer sent on from it.
fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The booking's invitation to add to a calendar (`PUBLISH`: nobody is asked to answer
/// it; a cancelled booking's cancels the event).
async fn invitation(
    State(state): State<AppState>,
    Path((link, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let view = match managed(&state, &link, &id, query.t.as_deref()).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return private(ApiError::Engine(Error::InvalidManageLink).into_response());
        }
        Err(err) => return private(err.into_response()),
    };
    let method = if view.status == "cancelled" {
        "CANCEL"
    } else {
        "PUBLISH"
    };
    let ics = booking_ics(&view, method, state.engine.ports.clock.now());
    private(
        (
            [
                (
                    header::CONTENT_TYPE,
                    "text/calendar; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{INVITATION_FILENAME}\""),
                ),
            ],
            ics,
        )
            .into_response(),
    )
}

/// The QR code of the booking's reception code (what the kiosk takes), for a meeting in
/// person; 404 for a booking without one.
async fn code_qr(
    State(state): State<AppState>,
    Path((link, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let view = match managed(&state, &link, &id, query.t.as_deref()).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return private(ApiError::Engine(Error::InvalidManageLink).into_response());
        }
        Err(err) => return private(err.into_response()),
    };
    let code = match (&view.place, &view.reception_code) {
        (Place::InPerson { .. }, Some(code)) if view.status != "cancelled" => code,
        _ => {
            return private(ApiError::Engine(Error::NotFound("reception code")).into_response());
        }
    };
    private(
        (
            [(header::CONTENT_TYPE, "image/svg+xml")],
            crate::qr::svg(code),
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page and its script may only show texts the page carries for both languages
    /// (the catalogue test checks that the keys exist; this one that the page has them).
    #[test]
    fn every_text_the_page_and_script_show_is_carried_by_the_page() {
        let sources = [
            ("booking.js", include_str!("../../assets/booking.js")),
            ("booking.html", include_str!("../../templates/booking.html")),
        ];
        super::super::assert_texts_carried(&["booking_page"], &sources, TEXTS);
    }

    #[test]
    fn the_texts_are_in_both_languages() {
        let texts: serde_json::Value = serde_json::from_str(&TEXTS_JSON).unwrap();
        assert_eq!(texts["ja"]["booking_page.code"], "受付コード");
        assert_eq!(texts["en"]["booking_page.code"], "Reception code");
        assert_eq!(texts["en"].as_object().unwrap().len(), TEXTS.len());
    }
}
