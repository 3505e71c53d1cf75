//! `/password-reset`: the page the reset email links to.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use frontdesk_core::Error;
use frontdesk_core::i18n::text;
use serde::Deserialize;

use super::{escape, layout};
use crate::AppState;
use crate::extract::ClientIp;
use crate::problem::request_lang;

pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/password-reset", get(show).post(submit))
}

/// The page carries a live secret in its URL and form: no cache keeps it, and no link
/// followed from it sends it on as a referrer.
fn private(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
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

fn form(token: &str, problem: Option<&str>) -> String {
    let lang = request_lang();
    let problem = problem
        .map(|p| {
            format!(
                "<p class=\"error\" role=\"alert\">{} {}</p>",
                escape(&text(lang, "page.reset.failed")),
                escape(p)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "{problem}<form method=\"post\" action=\"/password-reset\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"new_password\">{label}</label>\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\" maxlength=\"128\">\
         <p>{rules}</p><button type=\"submit\">{submit}</button></form>",
        token = escape(token),
        label = escape(&text(lang, "page.reset.new_password")),
        rules = escape(&text(lang, "page.reset.rules")),
        submit = escape(&text(lang, "page.reset.submit")),
    );
    layout(lang, &text(lang, "page.reset.title"), &body)
}

async fn show(Query(query): Query<TokenQuery>) -> Response {
    let lang = request_lang();
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => private(StatusCode::OK, form(&token, None)),
        None => {
            let body = format!(
                "<p class=\"error\">{}</p>",
                escape(&text(lang, "page.reset.missing_token"))
            );
            private(
                StatusCode::BAD_REQUEST,
                layout(lang, &text(lang, "page.reset.title"), &body),
            )
        }
    }
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form_data: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let lang = request_lang();
    let Ok(Form(form_data)) = form_data else {
        let body = format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(&text(lang, "page.reset.missing_token"))
        );
        return private(
            StatusCode::BAD_REQUEST,
            layout(lang, &text(lang, "page.reset.title"), &body),
        );
    };
    match state
        .engine
        .reset_password(&form_data.token, &form_data.new_password, &ip.to_string())
        .await
    {
        Ok(()) => {
            let body = format!(
                "<p role=\"status\">{}</p>",
                escape(&text(lang, "page.reset.done"))
            );
            private(
                StatusCode::OK,
                layout(lang, &text(lang, "page.reset.title"), &body),
            )
        }
        Err(Error::WeakPassword(violations)) => {
            let messages: Vec<String> = violations
                .iter()
                .map(|v| text(lang, v.message_key()))
                .collect();
            private(
                StatusCode::UNPROCESSABLE_ENTITY,
                form(&form_data.token, Some(&messages.join(" "))),
            )
        }
        Err(Error::InvalidResetToken) => private(
            StatusCode::BAD_REQUEST,
            form(
                &form_data.token,
                Some(&text(lang, "error.invalid_reset_token")),
            ),
        ),
        Err(err) => {
            tracing::error!(error = %err, "password reset failed");
            private(
                StatusCode::INTERNAL_SERVER_ERROR,
                form(&form_data.token, Some(&text(lang, "error.internal"))),
            )
        }
    }
}
