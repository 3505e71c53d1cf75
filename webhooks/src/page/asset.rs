//! The static files, compiled into the binary: `/assets/frontdesk.css` (the one stylesheet),
//! the scripts of the web chat, the booking page, the kiosk and the room pages, the kiosk's
//! app icon, and the kiosk's service worker at `/kiosk/service-worker.js` (a worker controls
//! pages under its own path, so it lives under `/kiosk/` to control every kiosk page).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const STYLESHEET: &str = include_str!("../../assets/frontdesk.css");
/// The web chat's script (plain JavaScript, no framework; the CSP allows no inline script).
const CHAT_SCRIPT: &str = include_str!("../../assets/chat.js");
/// The booking page's script.
const BOOKING_SCRIPT: &str = include_str!("../../assets/booking.js");
/// The visitor kiosk's script.
const KIOSK_SCRIPT: &str = include_str!("../../assets/kiosk.js");
/// The room pages' script: the room page, its door display, its QR code, the rooms admin page.
const ROOM_SCRIPT: &str = include_str!("../../assets/room.js");
/// What keeps the kiosk working while the server cannot be reached.
const KIOSK_SERVICE_WORKER: &str = include_str!("../../assets/kiosk-service-worker.js");
/// The kiosk's icon when installed on a tablet's home screen.
const KIOSK_ICON: &str = include_str!("../../assets/kiosk-icon.svg");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
/// A day: long enough to spare the kiosk reloading them, short enough that a new release's
/// files arrive without renaming them.
const A_DAY: &str = "public, max-age=86400";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/assets/frontdesk.css", get(stylesheet))
        .route("/assets/booking.js", get(booking_script))
        .route("/assets/chat.js", get(chat_script))
        .route("/assets/kiosk.js", get(kiosk_script))
        .route("/assets/kiosk-icon.svg", get(kiosk_icon))
        .route("/assets/room.js", get(room_script))
        .route("/kiosk/service-worker.js", get(kiosk_service_worker))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, A_DAY),
        ],
        STYLESHEET,
    )
}

async fn chat_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JAVASCRIPT),
            (header::CACHE_CONTROL, A_DAY),
        ],
        CHAT_SCRIPT,
    )
}

async fn booking_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JAVASCRIPT),
            (header::CACHE_CONTROL, A_DAY),
        ],
        BOOKING_SCRIPT,
    )
}

async fn kiosk_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JAVASCRIPT),
            (header::CACHE_CONTROL, A_DAY),
        ],
        KIOSK_SCRIPT,
    )
}

async fn room_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, JAVASCRIPT),
            (header::CACHE_CONTROL, A_DAY),
        ],
        ROOM_SCRIPT,
    )
}

async fn kiosk_icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, A_DAY),
        ],
        KIOSK_ICON,
    )
}

/// Not kept by HTTP caches (the default `no-store`): browsers look for a new worker at each
/// start and must get this server's.
async fn kiosk_service_worker() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, JAVASCRIPT)], KIOSK_SERVICE_WORKER)
}
