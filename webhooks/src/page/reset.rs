//! `/password-reset`: the page the reset email links to.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use frontdesk_core::Error;
use serde::Deserialize;

use super::{Texts, render_private};
use crate::AppState;
use crate::extract::ClientIp;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/password-reset", get(show).post(submit))
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    t: Texts,
    title: String,
    view: ResetView,
}

/// What the reset page shows.
enum ResetView {
    /// The new-password form for `token`, with why the last try failed.
    Form {
        token: String,
        problem: Option<String>,
    },
    /// Opened without the link's token.
    MissingToken,
    /// The password was changed.
    Done,
}

/// The page with `view` (private: it carries a live secret).
fn page(status: StatusCode, view: ResetView) -> Response {
    let t = Texts::of_request();
    let title = t.text("page.reset.title");
    render_private(status, &ResetPage { t, title, view })
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct ResetForm {
    token: String,
    new_password: String,
}

async fn show(Query(query): Query<TokenQuery>) -> Response {
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => page(
            StatusCode::OK,
            ResetView::Form {
                token,
                problem: None,
            },
        ),
        None => page(StatusCode::BAD_REQUEST, ResetView::MissingToken),
    }
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(StatusCode::BAD_REQUEST, ResetView::MissingToken);
    };
    let t = Texts::of_request();
    let (status, problem) = match state
        .engine
        .reset_password(&form.token, &form.new_password, &ip.to_string())
        .await
    {
        Ok(()) => return page(StatusCode::OK, ResetView::Done),
        Err(Error::WeakPassword(violations)) => {
            let messages: Vec<String> =
                violations.iter().map(|v| t.text(v.message_key())).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, messages.join(" "))
        }
        Err(Error::InvalidResetToken) => {
            (StatusCode::BAD_REQUEST, t.text("error.invalid_reset_token"))
        }
        Err(err) => {
            tracing::error!(error = %err, "password reset failed");
            (StatusCode::INTERNAL_SERVER_ERROR, t.text("error.internal"))
        }
    };
    page(
        status,
        ResetView::Form {
            token: form.token,
            problem: Some(problem),
        },
    )
}
