//! Middleware: request ids (with tower-http's layers), the request's span and log line,
//! metrics; the request's language; CSRF refusal.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use frontdesk_core::i18n::Lang;
use tracing::Span;

use crate::AppState;
use crate::extract::{is_trusted_proxy, peer_ip};
use crate::problem::{ApiError, REQUEST_LANG};

/// The header carrying a request's id (accepted from a trusted proxy, else generated).
pub const REQUEST_ID: &str = "x-request-id";

/// Drops a request id the client sent unless the peer is a trusted proxy (and the id is a
/// short printable token), so that no client can forge ids into another's log lines; the
/// request-id layer then generates a fresh one.
pub async fn untrusted_request_id(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let trusted = is_trusted_proxy(peer_ip(req.extensions()), &state.trusted_proxies);
    let acceptable = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
        });
    if !(trusted && acceptable) {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// The span every request is handled in: its id, method and matched route.
pub fn request_span(req: &Request) -> Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("request", id = %id, method = %req.method(), route = %route)
}

/// The one log line per request, in its span: status and time taken.
pub fn log_handled(response: &Response, elapsed: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "handled"
    );
}

/// Counts each request in the metrics by method, matched route and status.
pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels come from a fixed set, so no client can make the series grow without bound.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    state
        .metrics
        .observe(method, route, response.status().as_u16(), started.elapsed());
    response
}

/// The cookie holding a language the visitor chose (`ja`, `en`), over `Accept-Language`.
pub const LANGUAGE_COOKIE: &str = "fd_lang";

/// Runs the request with its language: the `fd_lang` cookie, else `Accept-Language`.
pub async fn language(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let lang = CookieJar::from_headers(headers)
        .get(LANGUAGE_COOKIE)
        .and_then(|chosen| Lang::from_tag(chosen.value()))
        .unwrap_or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Lang::negotiate)
                .unwrap_or_default()
        });
    REQUEST_LANG.scope(lang, next.run(req)).await
}

/// Refuses state-changing requests that a browser sent from another site: by
/// `Sec-Fetch-Site`, or, where a browser does not send it, by `Origin`. Platform webhooks
/// are exempt (they are verified by signature instead).
pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || req.uri().path().starts_with("/webhooks/") {
        return next.run(req).await;
    }
    if is_cross_site(req.headers(), &state.engine.settings.public_url) {
        tracing::warn!(path = req.uri().path(), "cross-site request refused");
        return ApiError::CrossSite.into_response();
    }
    next.run(req).await
}

/// Whether a browser sent this request from another site. Without `Sec-Fetch-Site`, the
/// `Origin` must be this server's public URL or name the `Host` the request was sent to.
fn is_cross_site(headers: &axum::http::HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Neither header: not a browser, so no ambient cookies to abuse.
        return false;
    };
    if origin == public_url.trim_end_matches('/') {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    origin_host.is_none() || origin_host != host
}

/// The answer for a known path asked with a method it does not serve.
pub async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// The answer for a path no route knows.
pub async fn not_found() -> Response {
    ApiError::Engine(frontdesk_core::Error::NotFound("page")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let cross = |pairs: &[(&'static str, &'static str)]| {
            is_cross_site(&headers(pairs), "https://fd.example.com")
        };
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        assert!(!cross(&[("sec-fetch-site", "same-origin")]));
        assert!(cross(&[
            ("origin", "https://evil.example"),
            ("host", "fd.example")
        ]));
        assert!(cross(&[("origin", "null"), ("host", "fd.example")]));
        assert!(!cross(&[
            ("origin", "https://fd.example"),
            ("host", "fd.example")
        ]));
        assert!(
            !cross(&[
                ("origin", "https://fd.example.com"),
                ("host", "10.0.0.7:8080")
            ]),
            "behind a proxy that rewrites Host, the public URL is the origin"
        );
        assert!(!cross(&[]));
    }
}
