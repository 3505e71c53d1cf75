//! `/sso/{tenant}/start` and `/sso/{tenant}/callback`: single sign-on through the tenant's
//! OpenID Connect identity provider. The start URL is what admins bookmark; the callback is
//! the redirect URI registered at the provider. A refused sign-in is a page in the
//! visitor's language saying why.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use frontdesk_core::Error;
use frontdesk_core::engine::sso::ATTEMPT_TTL;
use frontdesk_core::error::SsoRefusal;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{Texts, render_private};
use crate::AppState;
use crate::api::auth::session_cookie;
use crate::extract::ClientIp;

/// The cookie that binds an attempt to the browser that started it, so a callback link
/// made by someone else (login CSRF: signing a victim in as the attacker) is refused.
const STATE_COOKIE: &str = "fd_sso_state";
/// [`STATE_COOKIE`] under https (`__Host-`: Secure, this host only, whole site).
const SECURE_STATE_COOKIE: &str = "__Host-fd_sso_state";

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/sso/{tenant}/start", get(start))
        .route("/sso/{tenant}/callback", get(callback))
}

#[derive(Template)]
#[template(path = "sso.html")]
struct SsoPage {
    t: Texts,
    title: String,
    /// Why the sign-in did not happen, in the visitor's language.
    problem: String,
    /// Where to try again, when trying again can help.
    retry: Option<String>,
}

/// What the identity provider sends back (every field optional, so a malformed callback
/// gets this page, not a JSON error).
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set instead of `code` when the identity provider did not sign the person in.
    error: Option<String>,
}

fn state_cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        SECURE_STATE_COOKIE
    } else {
        STATE_COOKIE
    }
}

/// The state cookie carrying `value` for `max_age_secs` (0 clears it). Lax, not Strict:
/// it must come back on the identity provider's redirect, a navigation from another site.
fn state_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((state_cookie_name(state), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_secs))
        .secure(state.secure_cookies)
        .build()
}

/// The page for a sign-in that did not happen (private: a callback URL carries a code).
fn refused(tenant: &str, err: &Error) -> Response {
    let t = Texts::of_request();
    let retry_url = Some(format!("/sso/{tenant}/start"));
    let (status, key, retry) = match err {
        Error::SsoNotConfigured => (StatusCode::NOT_FOUND, "error.sso_not_configured", None),
        Error::InvalidSsoAttempt => (
            StatusCode::BAD_REQUEST,
            "error.invalid_sso_attempt",
            retry_url,
        ),
        Error::SsoRefused(refusal) => {
            let retry = (*refusal == SsoRefusal::IdentityProvider)
                .then_some(retry_url)
                .flatten();
            (StatusCode::FORBIDDEN, refusal.message_key(), retry)
        }
        Error::AddressNotAllowed { .. } => {
            (StatusCode::FORBIDDEN, "error.address_not_allowed", None)
        }
        other => {
            tracing::error!(error = %frontdesk_core::error::with_causes(other), "single sign-on failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "error.internal", None)
        }
    };
    let page = SsoPage {
        title: t.text("page.sso.title"),
        problem: t.text(key),
        retry,
        t,
    };
    render_private(status, &page)
}

/// Starts a sign-in: 303 to the identity provider, with the state cookie set.
async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(tenant): Path<String>,
    jar: CookieJar,
) -> Response {
    match state.engine.start_sso(&tenant, ip).await {
        Ok(started) => {
            let cookie = state_cookie(
                &state,
                started.state.expose_secret().to_owned(),
                ATTEMPT_TTL.num_seconds(),
            );
            (jar.add(cookie), Redirect::to(&started.authorization_url)).into_response()
        }
        Err(err) => refused(&tenant, &err),
    }
}

/// Finishes a sign-in: the session cookie is set and the browser goes to `/`.
async fn callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(tenant): Path<String>,
    jar: CookieJar,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return refused(&tenant, &Error::InvalidSsoAttempt);
    };
    // The state cookie is used once, whatever the outcome.
    let bound = jar
        .get(state_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let jar = jar.add(state_cookie(&state, String::new(), 0));
    if query.error.is_some() {
        return (
            jar,
            refused(&tenant, &Error::SsoRefused(SsoRefusal::IdentityProvider)),
        )
            .into_response();
    }
    let (Some(code), Some(returned)) = (query.code, query.state) else {
        return (jar, refused(&tenant, &Error::InvalidSsoAttempt)).into_response();
    };
    if bound.as_deref() != Some(returned.as_str()) {
        return (jar, refused(&tenant, &Error::InvalidSsoAttempt)).into_response();
    }
    match state.engine.finish_sso(&tenant, &returned, &code, ip).await {
        Ok(sign_in) => {
            let max_age = state.engine.settings.session_ttl.num_seconds();
            let jar = jar.add(session_cookie(&state, sign_in.session_token, max_age));
            (jar, Redirect::to("/")).into_response()
        }
        Err(err) => (jar, refused(&tenant, &err)).into_response(),
    }
}
