//! The JSON API under `/api/v1`, with its OpenAPI document generated from these handlers.

pub mod access_log;
pub mod accounts;
pub mod auth;
pub mod booking;
pub mod calendars;
pub mod employees;
pub mod health;
pub mod kiosk;
pub mod locations;
pub mod outbox;
pub mod reception;
pub mod rooms;
pub mod security;
pub mod visit_history;
pub mod visitor_labels;
pub mod webhook_endpoints;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdesk API",
        description = "Reception, scheduling and meeting rooms. Admin endpoints need a session \
            cookie from `POST /api/v1/auth/login`. Errors are `application/problem+json`."
    ),
    tags(
        (name = "auth", description = "Signing in, sessions and passwords"),
        (name = "employees", description = "The employee directory"),
        (name = "locations", description = "Sites with a reception"),
        (name = "accounts", description = "Admin accounts (owners only)"),
        (name = "access-log", description = "Who did what, when, from where"),
        (name = "outbox", description = "Messages that could not be delivered"),
        (name = "security", description = "The IP allow-list and single sign-on (owners only)"),
        (name = "calendars", description = "Calendar connections of employees and rooms and their sync state, the built-in calendar"),
        (name = "rooms", description = "Meeting rooms: their status, check-in and booking at the door (a paired door display, or an employee signed in to the web chat), finding a free room, door displays and utilisation"),
        (name = "booking", description = "Booking links: the public offer, slots and bookings the booking page calls, the guest's manage link, and defining links"),
        (name = "kiosk", description = "What a location's kiosk calls (public: a paired device)"),
        (name = "reception", description = "Reception settings, kiosk pairing, expected visitors, who is on site, the visit history and its downloads, visitor labels, outgoing webhooks")
    )
)]
struct ApiDoc;

/// Every API route, documented.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(employees::router())
        .merge(locations::router())
        .merge(accounts::router())
        .merge(access_log::router())
        .merge(outbox::router())
        .merge(security::router())
        .merge(calendars::router())
        .merge(booking::router())
        .merge(kiosk::router())
        .merge(reception::router())
        .merge(rooms::router())
        .merge(visit_history::router())
        .merge(visitor_labels::router())
        .merge(webhook_endpoints::router())
}

/// The OpenAPI document of [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    with_server(router().into_openapi())
}

/// `doc` with `/api/v1` as its server URL (the routes are nested there), and on every
/// operation the answer any request may get besides its documented ones: a problem+json
/// error (401 without a session, 400/413/422 for a bad body, 429, 503 when busy, …).
pub fn with_server(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    let problem = ResponseBuilder::new()
        .description(
            "An error, as application/problem+json (RFC 9457), titled in the caller's language",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("default".into())
                .or_insert_with(|| problem.clone().into());
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        "Problem".into(),
        <crate::problem::ProblemBody as utoipa::PartialSchema>::schema(),
    );
    doc
}

/// A CSV download named `filename`.
pub fn csv_download(filename: &str, body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
