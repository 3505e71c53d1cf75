//! Server-rendered pages, in the visitor's language.

mod home;
mod reset;

use axum::Router;

use crate::AppState;

/// Every page.
pub fn router() -> Router<AppState> {
    Router::new().merge(home::router()).merge(reset::router())
}

/// Text safe to place in HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
pub(crate) fn layout(lang: frontdesk_core::i18n::Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Frontdesk</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         label,input,button{{display:block;font-size:1rem;margin:.5rem 0}}input{{width:100%;padding:.5rem}}\
         .error{{color:#b00020}}</style></head><body><h1>{title}</h1>{body}</body></html>",
        lang = lang.as_str(),
        title = escape(title),
    )
}
