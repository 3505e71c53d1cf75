//! Extractors: JSON bodies with one error shape, the client's address, the signed-in actor.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::engine::Actor;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::problem::ApiError;

/// The largest request body any route reads (a CSV of some ten thousand employees fits).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fd_session";

/// The session cookie's name under https: the `__Host-` prefix makes browsers refuse it
/// unless it is `Secure`, for this host only and for the whole site (no subdomain or
/// plain-http page can plant or shadow it).
pub const SECURE_SESSION_COOKIE: &str = "__Host-fd_session";

/// The longest text any field of any body or query may hold. Each field's own limit (a
/// name's 200 characters, …) is the engine's; this one bounds what even a field the engine
/// never looks at can cost, and is checked before anything is deserialised.
pub const MAX_TEXT_FIELD: usize = 10_000;

/// Every text in `value` (object keys too) within [`MAX_TEXT_FIELD`] and free of control
/// characters other than line breaks and tabs (which free-text fields may keep; one-line
/// fields refuse them in the engine). The error names the field by its path.
fn check_texts(value: &serde_json::Value, path: &str) -> Result<(), ApiError> {
    let check = |text: &str, field: &str| {
        let refused = if text.chars().nth(MAX_TEXT_FIELD).is_some() {
            Some(Invalid::TooLong {
                max: MAX_TEXT_FIELD,
            })
        } else if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            Some(Invalid::ControlCharacter)
        } else {
            None
        };
        match refused {
            Some(reason) => Err(ApiError::Engine(frontdesk_core::Error::invalid(
                field.to_owned(),
                reason,
            ))),
            None => Ok(()),
        }
    };
    match value {
        serde_json::Value::String(text) => check(text, path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_texts(item, &format!("{path}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            check(key, &field)?;
            check_texts(item, &field)
        }),
        _ => Ok(()),
    }
}

/// Why a body could not be read: too large (413), too slow (408, the body-read deadline
/// passed between two parts), or broken (400).
pub fn body_rejection(err: BytesRejection) -> ApiError {
    if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(inner) = cause {
        if inner.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::BodyTimeout;
        }
        cause = inner.source();
    }
    ApiError::BadRequest(err.body_text())
}

/// A JSON body; malformed JSON is a 400, an overlong text or a control character in any
/// field, or a missing, unknown or mistyped field, a 422 that names the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if !is_json {
            return Err(ApiError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|err| ApiError::BadRequest(format!("the body is not JSON: {err}")))?;
        check_texts(&value, "")?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(AppJson(value)),
            Err(JsonRejection::JsonDataError(err)) => {
                Err(ApiError::Unprocessable(data_error_detail(&err.body_text())))
            }
            Err(err) if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge {
                    limit_bytes: MAX_BODY_BYTES,
                })
            }
            Err(err) => Err(ApiError::BadRequest(err.body_text())),
        }
    }
}

/// A path parameter; one that does not parse is a 404 (no such resource), not a 500.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| AppPath(value))
            .map_err(|_| ApiError::Engine(frontdesk_core::Error::NotFound("resource")))
    }
}

/// A query string; a parameter that does not parse is a 422 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Every parameter's text is bounded like a body's fields, before it is parsed.
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(pairs)| pairs)
            .unwrap_or_default();
        let as_json = serde_json::Value::Object(
            pairs
                .into_iter()
                .map(|(key, text)| (key, serde_json::Value::String(text)))
                .collect(),
        );
        check_texts(&as_json, "")?;
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| AppQuery(value))
            .map_err(|err| ApiError::Unprocessable(err.body_text()))
    }
}

/// axum says "Failed to deserialize the JSON body into the target type: <path>: <serde msg>";
/// keep the part that names the field.
fn data_error_detail(text: &str) -> String {
    text.split_once("target type: ")
        .map_or(text, |(_, rest)| rest)
        .to_owned()
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = AppState::from_ref(state);
        Ok(ClientIp(client_ip(
            peer_ip(&parts.extensions),
            &parts.headers,
            &app.trusted_proxies,
        )))
    }
}

/// The address the connection came from (127.0.0.1 when served without connect info, as
/// in tests that call the router directly).
pub fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Whether `ip` is one of the `trusted` proxies, whose forwarded headers are believed.
pub fn is_trusted_proxy(ip: IpAddr, trusted: &[ipnet::IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// See [`ClientIp`].
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(*ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|hop| !is_trusted(hop))
        .unwrap_or(peer)
}

/// The signed-in account acting from the client's address; 401 without a valid session,
/// 403 when the tenant's IP allow-list does not admit the address.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Actor);

impl<S> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let app = AppState::from_ref(state);
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(app.session_cookie_name())
            .ok_or(ApiError::Unauthorized)?;
        let account = app
            .engine
            .session(token.value())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // The tenant's IP allow-list is enforced here, once the session names the tenant,
        // so that no admin route can forget it.
        // The path as the client sent it (a nested router sees only its own part).
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(parts.uri.path(), |original| original.path());
        let what = format!("{} {path}", parts.method);
        app.engine
            .admit_address(account.tenant_id, ip, &account.email, &what)
            .await?;
        Ok(SignedIn(Actor {
            account,
            ip: ip.to_string(),
        }))
    }
}

/// The request's `Idempotency-Key` header, if it has one; 400 when it is not text.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|value| {
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::BadRequest("Idempotency-Key is not text".into()))
        })
        .transpose()
}

/// The language a body's `language` field names (`ja` or `en`), else the request's.
pub fn language_field(tag: Option<&str>) -> Result<frontdesk_core::i18n::Lang, ApiError> {
    match tag {
        None => Ok(crate::problem::request_lang()),
        Some(tag) => tag.parse().map_err(|_| {
            frontdesk_core::Error::invalid(
                "language",
                frontdesk_core::domain::field::Invalid::NotOneOf {
                    allowed: &["ja", "en"],
                },
            )
            .into()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, &headers("1.2.3.4"), &trusted), peer);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        // The client spoofed 1.2.3.4; the proxy appended the real address 198.51.100.7.
        let got = client_ip(peer, &headers("1.2.3.4, 198.51.100.7, 10.0.0.5"), &trusted);
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }
}
