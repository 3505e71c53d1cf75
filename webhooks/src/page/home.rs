//! `/`: what this server is and where to go from here.

use axum::response::Html;
use axum::routing::get;
use frontdesk_core::i18n::text;

use super::{escape, layout};
use crate::AppState;
use crate::problem::request_lang;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/", get(show))
}

async fn show() -> Html<String> {
    let lang = request_lang();
    let body = format!(
        "<p>{intro}</p><ul><li><a href=\"/api/v1/openapi.json\">{api}</a></li>\
         <li><a href=\"/healthz\">{health}</a></li></ul><p>{sign_in}</p>",
        intro = escape(&text(lang, "page.home.intro")),
        api = escape(&text(lang, "page.home.api")),
        health = escape(&text(lang, "page.home.health")),
        sign_in = escape(&text(lang, "page.home.sign_in")),
    );
    Html(layout(lang, &text(lang, "page.home.title"), &body))
}
