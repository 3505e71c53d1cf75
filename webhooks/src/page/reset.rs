//! `/password-reset`: the page the reset email links to.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
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

async fn show(Query(query): Query<TokenQuery>) -> (StatusCode, Html<String>) {
    let lang = request_lang();
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => (StatusCode::OK, Html(form(&token, None))),
        None => {
            let body = format!(
                "<p class=\"error\">{}</p>",
                escape(&text(lang, "page.reset.missing_token"))
            );
            (
                StatusCode::BAD_REQUEST,
                Html(layout(lang, &text(lang, "page.reset.title"), &body)),
            )
        }
    }
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form(form_data): Form<ResetForm>,
) -> (StatusCode, Html<String>) {
    let lang = request_lang();
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
            (
                StatusCode::OK,
                Html(layout(lang, &text(lang, "page.reset.title"), &body)),
            )
        }
        Err(Error::WeakPassword(violations)) => {
            let messages: Vec<String> = violations
                .iter()
                .map(|v| text(lang, v.message_key()))
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(form(&form_data.token, Some(&messages.join(" ")))),
            )
        }
        Err(Error::InvalidResetToken) => (
            StatusCode::BAD_REQUEST,
            Html(form(
                &form_data.token,
                Some(&text(lang, "error.invalid_reset_token")),
            )),
        ),
        Err(err) => {
            tracing::error!(error = %err, "password reset failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(form(&form_data.token, Some(&text(lang, "error.internal")))),
            )
        }
    }
}
