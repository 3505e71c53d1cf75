//! `/assets/frontdesk.css` and `/assets/chat.js`: the one stylesheet and the web chat's
//! script, compiled into the binary.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const STYLESHEET: &str = include_str!("../../assets/frontdesk.css");
/// The web chat's script (plain JavaScript, no framework; the CSP allows no inline script).
const CHAT_SCRIPT: &str = include_str!("../../assets/chat.js");

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/assets/frontdesk.css", get(stylesheet))
        .route("/assets/chat.js", get(chat_script))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // A day: long enough to spare the kiosk reloading it, short enough that a new
            // release's style arrives without renaming the file.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
}

async fn chat_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CHAT_SCRIPT,
    )
}
