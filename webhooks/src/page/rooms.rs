//! `/r/{room}`: a meeting room's page — what the room is doing now (free, booked but nobody
//! checked in yet, in use), the meetings to come, and the buttons to check in, end, extend
//! or book it now, with the other rooms free now. `/r/{room}/door` is the same for the
//! tablet at the room's door: full screen, huge state colour, and pairing for a tablet that
//! is not paired yet (`#pair=CODE` from the admin's QR link). Both pages are one template
//! and one script (`/assets/room.js`, with a mode) that call the rooms JSON API
//! (`/api/v1/rooms/{room}/…`, see `api/rooms.rs`) and follow its live stream. Like the
//! kiosk, the page carries its texts in both languages ([`TEXTS`]).
//!
//! `/r/{room}/qr` is the room's QR code to print and post by the door: it holds the room
//! page's URL (the server's public URL), for check-in and booking from a phone.
//!
//! Which room a slug names depends on the tenant: the API finds it from the browser (its
//! door display cookie, its web chat session, or the demo), and the QR sheet also from an
//! admin's session. The room and door pages themselves are the same for every room, so a
//! slug that is not a room is only found out by the script.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use frontdesk_core::Error;
use frontdesk_core::engine::room::RoomSummary;
use frontdesk_core::engine::tenant::validate_slug;
use frontdesk_core::i18n::Lang;

use super::{Texts, render};
use crate::AppState;
use crate::api::rooms::room_of;
use crate::extract::{AppPath, SignedIn};
use crate::problem::ApiError;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/r/{room}", get(room_page))
        .route("/r/{room}/door", get(door_page))
        .route("/r/{room}/qr", get(qr_sheet))
}

/// Every catalogue text the room page, the door display and their script show, carried in
/// both languages; and the titles of the problems the rooms API answers with, so that an
/// error is shown in the page's language whatever the server took the request's to be.
const TEXTS: &[&str] = &[
    "room_page.title",
    "room_page.languages",
    "room_page.language.ja",
    "room_page.language.en",
    "room_page.loading",
    "room_page.needs_script",
    "room_page.not_found",
    "room_page.seats",
    "room_page.floor",
    "room_page.equipment.display",
    "room_page.equipment.video",
    "room_page.equipment.whiteboard",
    "room_page.state.free",
    "room_page.state.booked",
    "room_page.state.in_use",
    "room_page.until",
    "room_page.free_until",
    "room_page.free_on",
    "room_page.release_at",
    "room_page.private",
    "room_page.untitled",
    "room_page.next.title",
    "room_page.next.none",
    "room_page.action.check_in",
    "room_page.action.end",
    "room_page.action.extend",
    "room_page.action.book",
    "room_page.action.minutes",
    "room_page.action.extend_by",
    "room_page.action.book_for",
    "room_page.error.failed",
    "room_page.error.unreachable",
    "room_page.sign_in.title",
    "room_page.sign_in.text",
    "room_page.sign_in.link",
    "room_page.others.title",
    "room_page.others.none",
    "room_page.pairing.title",
    "room_page.pairing.intro",
    "room_page.pairing.code",
    "room_page.pairing.submit",
    "room_page.pairing.required",
    "error.room_not_free",
    "error.no_meeting_now",
    "error.meeting_released",
    "error.room_sign_in_needed",
    "error.device_not_paired",
    "error.wrong_pairing_code",
    "error.not_found",
    "error.invalid",
    "error.throttled",
];

/// [`TEXTS`] of both catalogues as JSON, `{"ja":{key:text},"en":{…}}`, made once.
static TEXTS_JSON: LazyLock<String> = LazyLock::new(|| super::script_texts(TEXTS));

/// Whose page it is: a person's (a phone or a laptop) or the door display's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Page,
    Door,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Page => "page",
            Mode::Door => "door",
        }
    }
}

#[derive(Template)]
#[template(path = "room_live.html")]
struct RoomPage {
    t: Texts,
    title: String,
    /// The sign-in screen is in both languages at once, whichever the page is in.
    ja: Texts,
    en: Texts,
    /// The room's slug, as the API's paths name it.
    room: String,
    mode: Mode,
    /// [`TEXTS_JSON`], for the script (in an attribute, so the page's escaping holds).
    texts: &'static str,
}

fn live_page(room: String, mode: Mode) -> Response {
    if validate_slug(&room).is_err() {
        return ApiError::Engine(Error::NotFound("room")).into_response();
    }
    let t = Texts::of_request();
    let page = RoomPage {
        t,
        title: t.text("room_page.title"),
        ja: Texts(Lang::Ja),
        en: Texts(Lang::En),
        room,
        mode,
        texts: &TEXTS_JSON,
    };
    render(StatusCode::OK, &page)
}

async fn room_page(AppPath(room): AppPath<String>) -> Response {
    live_page(room, Mode::Page)
}

async fn door_page(AppPath(room): AppPath<String>) -> Response {
    live_page(room, Mode::Door)
}

#[derive(Template)]
#[template(path = "room_qr.html")]
struct QrSheet {
    t: Texts,
    title: String,
    ja: Texts,
    en: Texts,
    /// What is printed: the room, its seats in both languages, its page's URL and QR code.
    sheet: Option<PrintedRoom>,
}

struct PrintedRoom {
    name: String,
    seats_ja: String,
    seats_en: String,
    url: String,
    /// The QR code of `url`, as SVG drawn by this server.
    qr_svg: String,
}

/// The room `slug` as an admin (their session) or as the room's page reaches it (a door
/// display, the web chat, the demo).
async fn printed_room(
    state: &AppState,
    jar: &CookieJar,
    admin: Result<SignedIn, ApiError>,
    slug: &str,
) -> Result<RoomSummary, ApiError> {
    if let Ok(SignedIn(actor)) = admin {
        return state
            .engine
            .rooms(&actor)
            .await?
            .into_iter()
            .map(|room| room.summary)
            .find(|room| room.slug == slug)
            .ok_or(ApiError::Engine(Error::NotFound("room")));
    }
    let access = room_of(state, jar, slug).await?;
    Ok(RoomSummary::from(&access.room))
}

/// `/r/{room}/qr`: the sheet to print and post by the room's door. Without a way to know
/// the room (no admin session, web chat session or door display here, outside the demo)
/// it says where to sign in.
async fn qr_sheet(
    State(state): State<AppState>,
    jar: CookieJar,
    admin: Result<SignedIn, ApiError>,
    AppPath(slug): AppPath<String>,
) -> Response {
    if validate_slug(&slug).is_err() {
        return ApiError::Engine(Error::NotFound("room")).into_response();
    }
    let (ja, en) = (Texts(Lang::Ja), Texts(Lang::En));
    let title = format!(
        "{} / {}",
        ja.text("room_page.qr.title"),
        en.text("room_page.qr.title")
    );
    let t = Texts::of_request();
    let room = match printed_room(&state, &jar, admin, &slug).await {
        Ok(room) => room,
        Err(ApiError::Engine(Error::RoomSignInNeeded | Error::DeviceNotPaired)) => {
            let page = QrSheet {
                t,
                title,
                ja,
                en,
                sheet: None,
            };
            return render(StatusCode::UNAUTHORIZED, &page);
        }
        Err(refused) => return refused.into_response(),
    };
    let url = format!(
        "{}/r/{}",
        state.engine.settings.public_url.trim_end_matches('/'),
        room.slug
    );
    let svg = crate::qr::svg(&url);
    // The SVG goes inline into the page: without its XML declaration.
    let qr_svg = svg
        .find("<svg")
        .map_or(svg.as_str(), |at| &svg[at..])
        .to_owned();
    let count = room.capacity.to_string();
    let seats = |texts: Texts| texts.format("room_page.seats", &[("count", &count)]);
    let page = QrSheet {
        t,
        title,
        ja,
        en,
        sheet: Some(PrintedRoom {
            seats_ja: seats(ja),
            seats_en: seats(en),
            name: room.name,
            url,
            qr_svg,
        }),
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages and their script may only show texts the page carries for both languages
    /// (the catalogue test checks that the keys exist; this one that the page has them).
    #[test]
    fn every_text_the_page_and_script_show_is_carried_by_the_page() {
        let sources = [
            ("assets/room.js", include_str!("../../assets/room.js")),
            (
                "templates/room_live.html",
                include_str!("../../templates/room_live.html"),
            ),
        ];
        super::super::assert_texts_carried(&["room_page"], &sources, TEXTS);
    }

    #[test]
    fn the_texts_are_in_both_languages() {
        let texts: serde_json::Value = serde_json::from_str(&TEXTS_JSON).unwrap();
        assert_eq!(texts["ja"]["room_page.state.in_use"], "使用中");
        assert_eq!(texts["en"]["room_page.private"], "Private meeting");
        assert_eq!(texts["en"].as_object().unwrap().len(), TEXTS.len());
    }
}
