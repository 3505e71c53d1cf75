//! Errors as `application/problem+json` (RFC 9457), titled in the caller's language.
//!
//! Internal causes go to the log with the request's span; the client sees only what it can
//! act on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontdesk_core::Error;
use frontdesk_core::i18n::{self, Lang};
use serde_json::json;

tokio::task_local! {
    /// The language of the request being handled (set by the language middleware).
    pub static REQUEST_LANG: Lang;
}

/// The current request's language.
pub fn request_lang() -> Lang {
    REQUEST_LANG.try_with(|lang| *lang).unwrap_or_default()
}

/// The shape of every error body (documented once, as the `default` answer of every API
/// operation); kinds add their own fields (`field`, `reason`, `violations`, …).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// `urn:frontdesk:problem:<kind>`, stable for code to match on.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, in the caller's language.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Details a person can act on, when there are any.
    pub detail: Option<String>,
}

/// Why a request failed, as the HTTP edge reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] Error),
    /// The body or query could not be read (malformed JSON, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// A field is missing, unknown or of the wrong type.
    #[error("{0}")]
    Unprocessable(String),
    /// The body is larger than any route accepts.
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    /// The body stopped arriving: the body-read deadline passed between two parts.
    #[error("the request body stopped arriving")]
    BodyTimeout,
    /// No valid session.
    #[error("sign in first")]
    Unauthorized,
    /// A state-changing request from another site.
    #[error("cross-site request refused")]
    CrossSite,
    /// The path exists, but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (the database) is not ready.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A page's template failed to render.
    #[error("page failed to render")]
    Render(#[source] askama::Error),
}

struct Problem {
    status: StatusCode,
    kind: &'static str,
    detail: Option<String>,
    extra: serde_json::Value,
}

impl ApiError {
    fn problem(&self) -> Problem {
        let plain = |status, kind, detail: Option<String>| Problem {
            status,
            kind,
            detail,
            extra: json!({}),
        };
        match self {
            ApiError::Engine(err) => match err {
                Error::NotFound(what) => plain(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    Some(format!("{what} not found")),
                ),
                Error::Conflict(detail) => {
                    plain(StatusCode::CONFLICT, "conflict", Some(detail.clone()))
                }
                Error::Invalid { field, reason } => Problem {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    kind: "invalid",
                    detail: Some(format!("{field}: {}", reason.message(request_lang()))),
                    extra: json!({ "field": field, "reason": reason.code() }),
                },
                Error::InvalidFile(problems) => {
                    let lang = request_lang();
                    let messages: Vec<String> = problems.iter().map(|p| p.message(lang)).collect();
                    Problem {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        kind: "invalid_file",
                        detail: Some(messages.join(" / ")),
                        extra: json!({
                            "problems": problems.iter().zip(&messages).map(|(p, message)| {
                                json!({ "line": p.line, "message": message })
                            }).collect::<Vec<_>>(),
                        }),
                    }
                }
                Error::WeakPassword(violations) => {
                    let lang = request_lang();
                    let messages: Vec<String> = violations
                        .iter()
                        .map(|v| i18n::text(lang, v.message_key()))
                        .collect();
                    Problem {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        kind: "weak_password",
                        detail: Some(messages.join(" ")),
                        extra: json!({
                            "field": "password",
                            "violations": violations.iter().map(|v| v.code()).collect::<Vec<_>>(),
                        }),
                    }
                }
                Error::BadCredentials => plain(StatusCode::UNAUTHORIZED, "bad_credentials", None),
                Error::Throttled { retry_after_secs } => Problem {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    kind: "throttled",
                    detail: None,
                    extra: json!({ "retry_after": retry_after_secs }),
                },
                // Refused before any work: the client may simply try again shortly.
                Error::Busy { retry_after_secs } => Problem {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    kind: "busy",
                    detail: None,
                    extra: json!({ "retry_after": retry_after_secs }),
                },
                Error::Forbidden => plain(StatusCode::FORBIDDEN, "forbidden", None),
                Error::AddressNotAllowed { ip } => Problem {
                    status: StatusCode::FORBIDDEN,
                    kind: "address_not_allowed",
                    detail: None,
                    extra: json!({ "address": ip.to_string() }),
                },
                Error::InvalidResetToken => {
                    plain(StatusCode::BAD_REQUEST, "invalid_reset_token", None)
                }
                Error::InvalidInvitation => {
                    plain(StatusCode::BAD_REQUEST, "invalid_invitation", None)
                }
                Error::InvalidSignInLink => {
                    plain(StatusCode::BAD_REQUEST, "invalid_sign_in_link", None)
                }
                Error::SsoNotConfigured => plain(StatusCode::NOT_FOUND, "sso_not_configured", None),
                Error::InvalidSsoAttempt => {
                    plain(StatusCode::BAD_REQUEST, "invalid_sso_attempt", None)
                }
                Error::SsoRefused(refusal) => Problem {
                    status: StatusCode::FORBIDDEN,
                    kind: "sso_refused",
                    detail: Some(i18n::text(request_lang(), refusal.message_key())),
                    extra: json!({ "reason": refusal.code() }),
                },
                Error::SsoRequired => plain(StatusCode::FORBIDDEN, "sso_required", None),
                Error::InvalidOAuthState => {
                    plain(StatusCode::BAD_REQUEST, "invalid_oauth_state", None)
                }
                Error::CalendarRefused(reason) => plain(
                    StatusCode::BAD_GATEWAY,
                    "calendar_refused",
                    Some(reason.clone()),
                ),
                Error::WrongReceptionCode => {
                    plain(StatusCode::NOT_FOUND, "wrong_reception_code", None)
                }
                Error::DeviceNotPaired => {
                    plain(StatusCode::UNAUTHORIZED, "device_not_paired", None)
                }
                Error::WrongPairingCode => plain(StatusCode::NOT_FOUND, "wrong_pairing_code", None),
                Error::SlotTaken => plain(StatusCode::CONFLICT, "slot_taken", None),
                Error::LinkUsed => plain(StatusCode::GONE, "link_used", None),
                Error::RoomNotFree => plain(StatusCode::CONFLICT, "room_not_free", None),
                Error::NoMeetingNow => plain(StatusCode::CONFLICT, "no_meeting_now", None),
                Error::MeetingReleased => plain(StatusCode::CONFLICT, "meeting_released", None),
                Error::RoomSignInNeeded => {
                    plain(StatusCode::UNAUTHORIZED, "room_sign_in_needed", None)
                }
                Error::InvalidManageLink => {
                    plain(StatusCode::NOT_FOUND, "invalid_manage_link", None)
                }
                Error::Store(_) | Error::Internal { .. } => {
                    tracing::error!(error = %frontdesk_core::error::with_causes(err), "request failed");
                    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
                }
            },
            ApiError::BadRequest(detail) => {
                plain(StatusCode::BAD_REQUEST, "bad_request", Some(detail.clone()))
            }
            ApiError::Unprocessable(detail) => plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                Some(detail.clone()),
            ),
            ApiError::PayloadTooLarge { limit_bytes } => Problem {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                kind: "payload_too_large",
                detail: None,
                extra: json!({ "limit_bytes": limit_bytes }),
            },
            ApiError::BodyTimeout => plain(StatusCode::REQUEST_TIMEOUT, "body_timeout", None),
            ApiError::Unauthorized => plain(StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::CrossSite => plain(StatusCode::FORBIDDEN, "cross_site", None),
            ApiError::MethodNotAllowed => {
                plain(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
            }
            ApiError::Render(cause) => {
                tracing::error!(%cause, "page failed to render");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::NotReady(cause) => {
                tracing::warn!(%cause, "not ready");
                plain(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
            }
        }
    }
}

/// The catalogue key of each kind's title (spelled out, so the catalogue test sees them).
fn title_key(kind: &str) -> &'static str {
    match kind {
        "not_found" => "error.not_found",
        "conflict" => "error.conflict",
        "invalid" => "error.invalid",
        "invalid_file" => "error.invalid_file",
        "weak_password" => "error.weak_password",
        "bad_credentials" => "error.bad_credentials",
        "throttled" => "error.throttled",
        "busy" => "error.busy",
        "forbidden" => "error.forbidden",
        "address_not_allowed" => "error.address_not_allowed",
        "invalid_reset_token" => "error.invalid_reset_token",
        "invalid_invitation" => "error.invalid_invitation",
        "invalid_sign_in_link" => "error.invalid_sign_in_link",
        "sso_not_configured" => "error.sso_not_configured",
        "invalid_sso_attempt" => "error.invalid_sso_attempt",
        "sso_refused" => "error.sso_refused",
        "sso_required" => "error.sso_required",
        "invalid_oauth_state" => "error.invalid_oauth_state",
        "calendar_refused" => "error.calendar_refused",
        "wrong_reception_code" => "error.wrong_reception_code",
        "device_not_paired" => "error.device_not_paired",
        "wrong_pairing_code" => "error.wrong_pairing_code",
        "slot_taken" => "error.slot_taken",
        "link_used" => "error.link_used",
        "invalid_manage_link" => "error.invalid_manage_link",
        "room_not_free" => "error.room_not_free",
        "no_meeting_now" => "error.no_meeting_now",
        "meeting_released" => "error.meeting_released",
        "room_sign_in_needed" => "error.room_sign_in_needed",
        "bad_request" => "error.bad_request",
        "unauthorized" => "error.unauthorized",
        "payload_too_large" => "error.payload_too_large",
        "body_timeout" => "error.body_timeout",
        "cross_site" => "error.cross_site",
        "method_not_allowed" => "error.method_not_allowed",
        "unavailable" => "error.unavailable",
        _ => "error.internal",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let lang = request_lang();
        let mut body = json!({
            "type": format!("urn:frontdesk:problem:{}", problem.kind.replace('_', "-")),
            "title": i18n::text(lang, title_key(problem.kind)),
            "status": problem.status.as_u16(),
        });
        if let Some(detail) = problem.detail {
            body["detail"] = json!(detail);
        }
        if let (Some(body), Some(extra)) = (body.as_object_mut(), problem.extra.as_object()) {
            body.extend(extra.clone());
        }
        let mut response = (problem.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Engine(Error::AddressNotAllowed { .. }) = self {
            response.extensions_mut().insert(AddressRefused);
        }
        if let ApiError::Engine(
            Error::Throttled { retry_after_secs } | Error::Busy { retry_after_secs },
        ) = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Marks an answer refused for the client's address: the engine has already recorded it
/// (rate-limited), so the refusal logger leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct AddressRefused;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
