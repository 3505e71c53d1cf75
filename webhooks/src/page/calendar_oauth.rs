//! `/oauth/{provider}/callback`: where Google and Microsoft send an admin back after they
//! allowed access to a calendar. The state must be one this server issued (single use, ten
//! minutes); the code is traded for tokens, stored sealed. The answer is a page in the
//! admin's language saying whether the calendar is connected.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use frontdesk_core::Error;
use frontdesk_core::domain::calendar::Provider;
use serde::Deserialize;

use super::{Texts, render_private};
use crate::AppState;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/oauth/{provider}/callback", get(callback))
}

/// The redirect URI registered at `provider` for this server.
pub(crate) fn redirect_uri(state: &AppState, provider: Provider) -> String {
    format!(
        "{}/oauth/{}/callback",
        state.engine.settings.public_url.trim_end_matches('/'),
        provider.as_str()
    )
}

#[derive(Template)]
#[template(path = "calendar_oauth.html")]
struct CallbackPage {
    t: Texts,
    title: String,
    connected: bool,
    message: String,
}

/// What the provider sends back (every field optional, so a malformed callback gets this
/// page, not a JSON error). The longest accepted value bounds what is hashed and sent on.
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set instead of `code` when the person did not allow access.
    error: Option<String>,
}

/// Longer codes or states than this are not the provider's.
const MAX_PARAMETER: usize = 4096;

fn page(status: StatusCode, connected: bool, key: &str) -> Response {
    let t = Texts::of_request();
    let page = CallbackPage {
        title: t.text("page.calendar_oauth.title"),
        connected,
        message: t.text(key),
        t,
    };
    // Private: the URL carries a code.
    render_private(status, &page)
}

async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Some(provider) =
        Provider::parse(&provider).filter(|p| matches!(p, Provider::Google | Provider::Microsoft))
    else {
        return page(StatusCode::NOT_FOUND, false, "error.not_found");
    };
    let Ok(Query(query)) = query else {
        return page(StatusCode::BAD_REQUEST, false, "error.invalid_oauth_state");
    };
    if query.error.is_some() {
        return page(StatusCode::FORBIDDEN, false, "page.calendar_oauth.declined");
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return page(StatusCode::BAD_REQUEST, false, "error.invalid_oauth_state");
    };
    if code.len() > MAX_PARAMETER || oauth_state.len() > MAX_PARAMETER {
        return page(StatusCode::BAD_REQUEST, false, "error.invalid_oauth_state");
    }
    let redirect = redirect_uri(&state, provider);
    match state
        .engine
        .finish_calendar_oauth(&oauth_state, &code, &redirect)
        .await
    {
        Ok(_) => page(StatusCode::OK, true, "page.calendar_oauth.connected"),
        Err(Error::InvalidOAuthState) => {
            page(StatusCode::BAD_REQUEST, false, "error.invalid_oauth_state")
        }
        Err(Error::CalendarRefused(reason)) => {
            tracing::warn!(
                provider = provider.as_str(),
                reason,
                "a calendar connection was refused"
            );
            page(StatusCode::BAD_GATEWAY, false, "error.calendar_refused")
        }
        Err(other) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&other), "finishing a calendar connection failed");
            page(StatusCode::INTERNAL_SERVER_ERROR, false, "error.internal")
        }
    }
}
