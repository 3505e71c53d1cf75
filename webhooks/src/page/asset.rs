//! `/assets/frontdesk.css`: the one stylesheet, compiled into the binary.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const STYLESHEET: &str = include_str!("../../assets/frontdesk.css");

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/assets/frontdesk.css", get(stylesheet))
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
