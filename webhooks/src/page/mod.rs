//! Server-rendered pages, in the visitor's language.
//!
//! Each page is an askama template under `webhooks/templates/` extending `base.html`, with
//! a struct here that holds `t` (the request's texts) and `title`; a handler builds the
//! struct and hands it to [`render`]. Texts come from the ja/en catalogues, never from Rust.

mod asset;
mod booking;
pub(crate) mod calendar_oauth;
mod chat;
mod home;
mod invitation;
mod kiosk;
mod reset;
mod rooms;
mod rooms_admin;
mod sso;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use frontdesk_core::i18n::{self, Lang};

pub(crate) use chat::{LiveStreams, StreamSlot, cookie_name as chat_cookie_name};

use crate::AppState;
use crate::problem::{ApiError, request_lang};

/// Every page, and the stylesheet they share.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(asset::router())
        .merge(booking::router())
        .merge(calendar_oauth::router())
        .merge(chat::router())
        .merge(home::router())
        .merge(invitation::router())
        .merge(kiosk::router())
        .merge(reset::router())
        .merge(rooms::router())
        .merge(rooms_admin::router())
        .merge(sso::router())
}

/// The request's language and its catalogue, for templates: `{{ t.text("page.home.title") }}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Texts(Lang);

impl Texts {
    /// The texts of the request being handled.
    pub(crate) fn of_request() -> Texts {
        Texts(request_lang())
    }

    /// The language tag, for `<html lang>`.
    pub(crate) fn lang(&self) -> &'static str {
        self.0.as_str()
    }

    /// The catalogue text for `key`.
    pub(crate) fn text(&self, key: &str) -> String {
        i18n::text(self.0, key)
    }

    /// The catalogue text for `key` with each `{name}` replaced by its value from `args`.
    pub(crate) fn format(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::format(self.0, key, args)
    }
}

/// `keys` of both catalogues as JSON, `{"ja":{key:text},"en":{…}}`: what a page's script
/// shows, handed to it in an attribute (so the page's escaping holds).
pub(crate) fn script_texts(keys: &[&str]) -> String {
    let of = |lang: Lang| -> std::collections::BTreeMap<&str, String> {
        keys.iter()
            .map(|key| (*key, i18n::text(lang, key)))
            .collect()
    };
    serde_json::json!({ "ja": of(Lang::Ja), "en": of(Lang::En) }).to_string()
}

/// Checks that every catalogue key in `section` (its dotted parts, so that the catalogue
/// test does not take the prefix for a key) that `sources` (a page's template and script,
/// by name) spell out is among the `carried` texts: a text the page would show but not
/// carry would appear as its key.
#[cfg(test)]
pub(crate) fn assert_texts_carried(section: &[&str], sources: &[(&str, &str)], carried: &[&str]) {
    let prefix = format!("{}.", section.join("."));
    for (name, source) in sources {
        let asked: Vec<&str> = source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|literal| literal.starts_with(&prefix))
            .collect();
        assert!(asked.len() > 10, "sanity: {name} was read");
        for key in asked {
            assert!(carried.contains(&key), "{name} shows {key}, not carried");
        }
    }
}

/// [`render`] for a page that carries a live secret in its URL and form (a reset or an
/// invitation link): no cache keeps it, and no link followed from it sends it on as a
/// referrer.
pub(crate) fn render_private(status: StatusCode, page: &impl Template) -> Response {
    let mut response = render(status, page);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `page` as an HTML response with `status`; a template that fails to render is a 500
/// problem (the cause is logged, not shown).
/// `at_ms` as `YYYY-MM-DD HH:MM` in `zone`, as pages show an instant.
pub(crate) fn local_minute(at_ms: i64, zone: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => ApiError::Render(err).into_response(),
    }
}
