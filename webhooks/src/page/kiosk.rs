//! `/kiosk/{location}`: the visitor kiosk of a location, a tablet page. Its script
//! (`/assets/kiosk.js`) runs the screens — welcome, reception code, host search, visitor
//! details, entrance terms, waiting for the host's answer, check-out, and pairing for a
//! browser that is not paired yet — against the kiosk JSON API (`/api/v1/kiosk/{location}/…`).
//!
//! The page is the same for every visitor and location: what differs (the location's name,
//! terms, questions) comes from the API. So the page and the kiosk's configuration can be
//! kept by the service worker (`/kiosk/service-worker.js`, see `asset.rs`) and the kiosk goes
//! on taking check-ins while the server cannot be reached; the web app manifest
//! (`/kiosk/{location}/manifest.webmanifest`) makes it installable full screen.
//!
//! The visitor switches between Japanese and English without a reload: the page carries the
//! kiosk's texts of both catalogues ([`TEXTS`]).
//!
//! `/kiosk/{location}/badge/{visit}?t=TOKEN` is the visitor's badge to print (the check-in's
//! `badge_url`), in both languages, with the QR code the kiosk's check-out screen scans;
//! printed, it is one 62 mm × 100 mm label (`@page badge` in the stylesheet). The token is
//! the badge's secret, checked against the visit's stored hash: a wrong one, another visit
//! or location, or a visitor who has left is 404.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use frontdesk_core::Error;
use frontdesk_core::domain::visit::Category;
use frontdesk_core::engine::tenant::validate_slug;
use frontdesk_core::i18n::Lang;
use serde::Deserialize;
use serde_json::json;

use super::{Texts, render, render_private};
use crate::AppState;
use crate::api::kiosk::kiosk_of;
use crate::problem::ApiError;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/kiosk/{location}", get(show))
        .route("/kiosk/{location}/manifest.webmanifest", get(manifest))
        .route("/kiosk/{location}/badge/{visit}", get(badge))
}

/// Every catalogue text the kiosk's page and script show. The page carries them in both
/// languages, so that the visitor's language switch needs no request (and works offline).
const TEXTS: &[&str] = &[
    "page.kiosk.title",
    "page.kiosk.app_name",
    "page.kiosk.languages",
    "page.kiosk.language.ja",
    "page.kiosk.language.en",
    "page.kiosk.loading",
    "page.kiosk.needs_script",
    "page.kiosk.unreachable",
    "page.kiosk.unknown_location",
    "page.kiosk.pairing.title",
    "page.kiosk.pairing.intro",
    "page.kiosk.pairing.code",
    "page.kiosk.pairing.submit",
    "page.kiosk.welcome.title",
    "page.kiosk.welcome.intro",
    "page.kiosk.welcome.code",
    "page.kiosk.welcome.code_hint",
    "page.kiosk.welcome.host",
    "page.kiosk.welcome.host_hint",
    "page.kiosk.welcome.category",
    "page.kiosk.welcome.category_hint",
    "page.kiosk.welcome.checkout",
    "page.kiosk.back",
    "page.kiosk.check_in",
    "page.kiosk.next",
    "page.kiosk.busy",
    "page.kiosk.done",
    "page.kiosk.code.title",
    "page.kiosk.code.label",
    "page.kiosk.code.keypad",
    "page.kiosk.code.delete",
    "page.kiosk.code.clear",
    "page.kiosk.code.incomplete",
    "page.kiosk.host.title",
    "page.kiosk.host.label",
    "page.kiosk.host.results",
    "page.kiosk.host.found",
    "page.kiosk.host.none",
    "page.kiosk.host.offline",
    "page.kiosk.category.title",
    "page.kiosk.category.delivery",
    "page.kiosk.category.interview",
    "page.kiosk.category.other",
    "page.kiosk.visitor.title",
    "page.kiosk.visitor.visiting",
    "page.kiosk.visitor.reason",
    "page.kiosk.visitor.name",
    "page.kiosk.visitor.company",
    "page.kiosk.visitor.optional",
    "page.kiosk.visitor.required",
    "page.kiosk.terms.title",
    "page.kiosk.terms.intro",
    "page.kiosk.terms.changed",
    "page.kiosk.terms.accept",
    "page.kiosk.waiting.title",
    "page.kiosk.waiting.told",
    "page.kiosk.waiting.coming",
    "page.kiosk.waiting.delayed",
    "page.kiosk.waiting.unavailable",
    "page.kiosk.waiting.checked_out",
    "page.kiosk.waiting.told_staff",
    "page.kiosk.waiting.coming_staff",
    "page.kiosk.waiting.delayed_staff",
    "page.kiosk.waiting.unavailable_staff",
    "page.kiosk.waiting.badge",
    "page.kiosk.offline.title",
    "page.kiosk.offline.intro",
    "page.kiosk.offline.banner",
    "page.kiosk.offline.pending",
    "page.kiosk.checkout.title",
    "page.kiosk.checkout.intro",
    "page.kiosk.checkout.label",
    "page.kiosk.checkout.submit",
    "page.kiosk.checkout.done",
    "page.kiosk.error.unreachable",
    "page.kiosk.error.failed",
];

/// [`TEXTS`] of both catalogues as JSON, `{"ja":{key:text},"en":{…}}`, made once.
static TEXTS_JSON: LazyLock<String> = LazyLock::new(|| super::script_texts(TEXTS));

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    t: Texts,
    title: String,
    /// The location's slug, as the API's paths name it.
    location: String,
    /// [`TEXTS_JSON`], for the script (in an attribute, so the page's escaping holds).
    texts: &'static str,
}

async fn show(Path(location): Path<String>) -> Response {
    if validate_slug(&location).is_err() {
        return ApiError::Engine(Error::NotFound("location")).into_response();
    }
    let t = Texts::of_request();
    let page = KioskPage {
        t,
        title: t.text("page.kiosk.title"),
        location,
        texts: &TEXTS_JSON,
    };
    render(StatusCode::OK, &page)
}

/// The web app manifest: the kiosk opens full screen from the tablet's home screen, at its
/// location's page.
async fn manifest(Path(location): Path<String>) -> Response {
    if validate_slug(&location).is_err() {
        return ApiError::Engine(Error::NotFound("location")).into_response();
    }
    let t = Texts::of_request();
    let body = json!({
        "name": t.text("page.kiosk.app_name"),
        "short_name": t.text("page.kiosk.title"),
        "lang": t.lang(),
        "id": format!("/kiosk/{location}"),
        "start_url": format!("/kiosk/{location}"),
        "scope": "/kiosk/",
        "display": "fullscreen",
        "orientation": "any",
        "background_color": "#f2f4f7",
        "theme_color": "#1d5fbf",
        "icons": [
            { "src": "/assets/kiosk-icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any" }
        ],
    });
    (
        [(header::CONTENT_TYPE, "application/manifest+json")],
        body.to_string(),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "kiosk_badge.html")]
struct BadgePage {
    t: Texts,
    title: String,
    /// The badge is in both languages, whichever the visitor chose.
    ja: Texts,
    en: Texts,
    visitor_name: String,
    visitor_company: String,
    /// The host's name, or the category's (both languages) for a visit without a host.
    visiting: String,
    /// When the visitor checked in, in the location's time.
    checked_in: String,
    location: String,
    /// The QR code of the badge's URL, as SVG drawn by this server.
    qr_svg: String,
}

#[derive(Deserialize)]
struct BadgeQuery {
    t: Option<String>,
}

/// The badge of a visit checked in at this kiosk's location (its device cookie, or the demo's
/// kiosk), for the holder of its token. Its QR code holds the badge's URL with the token,
/// which check-out takes.
async fn badge(
    State(state): State<AppState>,
    jar: CookieJar,
    Path((location, visit)): Path<(String, String)>,
    Query(query): Query<BadgeQuery>,
) -> Response {
    // The token is what checks the visitor out; one of its shape, or no badge.
    let token = query.t.filter(|t| {
        !t.is_empty()
            && t.len() <= 200
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let (Some(token), Ok(())) = (token, validate_slug(&location)) else {
        return ApiError::Engine(Error::NotFound("badge")).into_response();
    };
    let kiosk = match kiosk_of(&state, &jar, &location).await {
        Ok(kiosk) => kiosk,
        Err(refused) => return refused.into_response(),
    };
    let view = match state.engine.kiosk_badge(&kiosk, &visit, &token).await {
        Ok(view) => view,
        Err(err) => return ApiError::Engine(err).into_response(),
    };
    let (ja, en) = (Texts(Lang::Ja), Texts(Lang::En));
    let visiting = match (&view.host_name, view.category) {
        (Some(host), _) => host.clone(),
        (None, Some(category)) => {
            let key = match category {
                Category::Delivery => "page.kiosk.category.delivery",
                Category::Interview => "page.kiosk.category.interview",
                Category::Other => "page.kiosk.category.other",
            };
            format!("{} / {}", ja.text(key), en.text(key))
        }
        (None, None) => String::new(),
    };
    let zone: chrono_tz::Tz = kiosk.location.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let checked_in = super::local_minute(view.checked_in_at, zone);
    let url = format!(
        "{}/kiosk/{}/badge/{}?t={token}",
        state.engine.settings.public_url.trim_end_matches('/'),
        kiosk.location.slug,
        view.public_id
    );
    let svg = crate::qr::svg(&url);
    // The SVG goes inline into the page: without its XML declaration.
    let qr_svg = svg
        .find("<svg")
        .map_or(svg.as_str(), |at| &svg[at..])
        .to_owned();
    let t = Texts::of_request();
    let page = BadgePage {
        t,
        title: format!(
            "{} / {}",
            ja.text("page.kiosk.badge.title"),
            en.text("page.kiosk.badge.title")
        ),
        ja,
        en,
        visitor_name: view.visitor_name,
        visitor_company: view.visitor_company,
        visiting,
        checked_in,
        location: kiosk.location.name,
        qr_svg,
    };
    // The page carries the badge's token in its URL.
    render_private(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page and its script may only show texts the page carries for both languages
    /// (the catalogue test checks that the keys exist; this one that the page has them).
    #[test]
    fn every_text_the_page_and_script_show_is_carried_by_the_page() {
        let sources = [
            ("kiosk.js", include_str!("../../assets/kiosk.js")),
            ("kiosk.html", include_str!("../../templates/kiosk.html")),
        ];
        super::super::assert_texts_carried(&["page", "kiosk"], &sources, TEXTS);
    }

    #[test]
    fn the_texts_are_in_both_languages() {
        let texts: serde_json::Value = serde_json::from_str(&TEXTS_JSON).unwrap();
        assert_eq!(texts["ja"]["page.kiosk.title"], "受付");
        assert_eq!(texts["en"]["page.kiosk.title"], "Reception");
        assert_eq!(texts["en"].as_object().unwrap().len(), TEXTS.len());
    }
}
