//! `/`: what this server is and where to go from here.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::{Texts, render};
use crate::AppState;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/", get(show))
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    t: Texts,
    title: String,
}

async fn show() -> Response {
    let t = Texts::of_request();
    let title = t.text("page.home.title");
    render(StatusCode::OK, &Home { t, title })
}
