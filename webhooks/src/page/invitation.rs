//! `/invitation`: the page the invitation email links to, where the invitee chooses a
//! password and so creates the account.

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
    axum::Router::new().route("/invitation", get(show).post(submit))
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    t: Texts,
    title: String,
    view: InvitationView,
}

/// What the invitation page shows.
enum InvitationView {
    /// The password form for `token`, with why the last try failed.
    Form {
        token: String,
        problem: Option<String>,
    },
    /// Opened without the link's token.
    MissingToken,
    /// The link is unknown, used or expired: there is nothing left to try with it.
    Invalid,
    /// The account was created.
    Done,
}

/// The page with `view` (private: it carries a live secret).
fn page(status: StatusCode, view: InvitationView) -> Response {
    let t = Texts::of_request();
    let title = t.text("page.invitation.title");
    render_private(status, &InvitationPage { t, title, view })
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct AcceptForm {
    token: String,
    password: String,
}

async fn show(Query(query): Query<TokenQuery>) -> Response {
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => page(
            StatusCode::OK,
            InvitationView::Form {
                token,
                problem: None,
            },
        ),
        None => page(StatusCode::BAD_REQUEST, InvitationView::MissingToken),
    }
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Result<Form<AcceptForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(StatusCode::BAD_REQUEST, InvitationView::MissingToken);
    };
    let t = Texts::of_request();
    let (status, problem) = match state
        .engine
        .accept_invitation(&form.token, &form.password, &ip.to_string())
        .await
    {
        Ok(_) => return page(StatusCode::CREATED, InvitationView::Done),
        Err(Error::WeakPassword(violations)) => {
            let messages: Vec<String> =
                violations.iter().map(|v| t.text(v.message_key())).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, messages.join(" "))
        }
        Err(Error::InvalidInvitation) => {
            return page(StatusCode::BAD_REQUEST, InvitationView::Invalid);
        }
        Err(Error::Conflict(_)) => (StatusCode::CONFLICT, t.text("error.conflict")),
        Err(err) => {
            tracing::error!(error = %frontdesk_core::error::with_causes(&err), "accepting an invitation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, t.text("error.internal"))
        }
    };
    page(
        status,
        InvitationView::Form {
            token: form.token,
            problem: Some(problem),
        },
    )
}
