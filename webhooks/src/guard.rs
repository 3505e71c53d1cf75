//! Middleware: request ids (with tower-http's layers), the request's span and log line,
//! metrics; the request's language; CSRF refusal.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use frontdesk_core::i18n::Lang;
use tracing::Span;

use crate::AppState;
use crate::extract::{MAX_BODY_BYTES, is_trusted_proxy, peer_ip};
use crate::problem::{AddressRefused, ApiError, REQUEST_LANG};

/// The header carrying a request's id (accepted from a trusted proxy, else generated).
pub const REQUEST_ID: &str = "x-request-id";

/// What a page may load: only this server's own files, no inline script or style, never
/// framed by another site (clickjacking), forms only back to this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
    object-src 'none'";

/// Security headers on every answer. Anything an answer does not say about caching is
/// `no-store`: API JSON, CSV exports and pages may carry personal data (only the static
/// assets say otherwise). Under an https public URL, browsers are told to stay on https.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let mut set_default = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set_default(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set_default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(header::X_FRAME_OPTIONS, "DENY");
    set_default(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    set_default(header::CACHE_CONTROL, "no-store");
    if state.secure_cookies {
        set_default(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

/// Access-logs a refused (403) attempt by a signed-in account: who tried what, from where
/// (the engine keeps it to once a minute per account). The session is looked up only for
/// answers that are refusals, so other requests pay nothing.
pub async fn log_refusals(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Only what a refusal needs is kept, and only when a session cookie came with the
    // request: most requests pay for one cookie lookup, none for a copy of their headers.
    let attempt = CookieJar::from_headers(req.headers())
        .get(state.session_cookie_name())
        .map(|token| {
            let ip = crate::extract::client_ip(
                peer_ip(req.extensions()),
                req.headers(),
                &state.trusted_proxies,
            );
            let what = format!("{} {}", req.method(), req.uri().path());
            (token.value().to_owned(), ip, what)
        });
    let response = next.run(req).await;
    // An address refusal is recorded by the engine as such, not again as a role refusal.
    if response.status() != axum::http::StatusCode::FORBIDDEN
        || response.extensions().get::<AddressRefused>().is_some()
    {
        return response;
    }
    let Some((token, ip, what)) = attempt else {
        return response;
    };
    if let Ok(Some(account)) = state.engine.session(&token).await {
        let actor = frontdesk_core::engine::Actor {
            account,
            ip: ip.to_string(),
        };
        if let Err(err) = state.engine.log_refusal(&actor, &what).await {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "logging a refusal failed");
        }
    }
    response
}

/// Refuses a body announced larger than [`MAX_BODY_BYTES`] before any handler runs, on every
/// route, as problem+json (a body without a length is cut off at the same size by the
/// extractors, which answer the same way).
pub async fn body_limit(req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        }
        .into_response();
    }
    next.run(req).await
}

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
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") => return false,
        // `none` is a navigation the person started (a bookmark, a typed URL); a
        // state-changing request that claims it is still held to its Origin below.
        Some("none") | None => {}
        Some(_) => return true,
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Neither header: not a browser, so no ambient cookies to abuse.
        return false;
    };
    let (scheme, authority) = match public_url.split_once("://") {
        Some((scheme, rest)) => (scheme, rest.split('/').next().unwrap_or("")),
        None => ("http", ""),
    };
    if origin == format!("{scheme}://{authority}") {
        return false;
    }
    // Without a matching public URL, the Origin must be this server as the request named it:
    // the same host, and the scheme the public URL uses (http://host is not https://host).
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some((origin_scheme, origin_host)), Some(host)) => {
            origin_scheme != scheme || origin_host != host
        }
        _ => true,
    }
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
        assert!(
            cross(&[
                ("sec-fetch-site", "none"),
                ("origin", "https://evil.example"),
                ("host", "fd.example")
            ]),
            "`none` does not excuse a foreign Origin"
        );
        assert!(
            cross(&[("origin", "http://fd.example"), ("host", "fd.example")]),
            "the scheme is part of the origin"
        );
        assert!(!cross(&[
            ("origin", "https://fd.example.com"),
            ("sec-fetch-site", "none")
        ]));
    }
}
