//! `frontdesk-webhooks`: the HTTP edge. Every request from outside enters here — platform
//! webhooks, the pages, the admin JSON API — and becomes a call into `frontdesk-core`.
//! Handlers are thin: read the request, call the engine, shape the answer.
//!
//! Depends on `frontdesk-core`, `frontdesk-bots` and `frontdesk-connectors`; nothing depends
//! on it but the binary. It must not reach the database except through the engine.

pub mod api;
mod calendar_push;
mod chat_inbound;
pub mod discord;
pub mod extract;
mod guard;
pub mod metrics;
mod page;
pub mod problem;
mod qr;
mod server;
pub mod slack;
pub mod teams;
pub mod tls;

pub use server::{ServerLimits, serve_router, serve_router_over_tls, serve_with_limits};

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use frontdesk_core::engine::Engine;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Whether `/metrics` is served on its own address ([`metrics_app`]) instead of here.
    pub metrics_elsewhere: bool,
    /// The web chat's live streams, per employee (they are capped).
    pub(crate) chat_streams: Arc<page::LiveStreams>,
    /// The kiosks' live visit streams, per visit (they are capped).
    pub(crate) kiosk_streams: Arc<page::LiveStreams>,
    /// The rooms' live status streams (door displays, room pages), per room (capped).
    pub(crate) room_streams: Arc<page::LiveStreams>,
    /// The Slack app's inbound settings, when Slack is configured.
    pub slack: Option<Arc<slack::SlackInbound>>,
    /// The Teams bot's inbound settings, when Teams is configured.
    pub teams: Option<Arc<teams::TeamsInbound>>,
    /// The Discord application's inbound settings, when Discord is configured.
    pub discord: Option<Arc<discord::DiscordInbound>>,
}

impl AppState {
    /// State for `engine`, trusting `X-Forwarded-For` from `trusted_proxies`.
    pub fn new(engine: Engine, trusted_proxies: Vec<ipnet::IpNet>) -> AppState {
        let secure_cookies = engine.settings.public_url.starts_with("https://");
        AppState {
            engine,
            metrics: Arc::default(),
            trusted_proxies: Arc::new(trusted_proxies),
            secure_cookies,
            metrics_elsewhere: false,
            chat_streams: Arc::default(),
            kiosk_streams: Arc::default(),
            room_streams: Arc::default(),
            slack: None,
            teams: None,
            discord: None,
        }
    }
}

impl AppState {
    /// The session cookie's name: `__Host-` prefixed under https.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            extract::SECURE_SESSION_COOKIE
        } else {
            extract::SESSION_COOKIE
        }
    }
}

/// `/metrics` alone, for `[metrics] bind`: an address only the monitoring network reaches.
pub fn metrics_app(state: AppState) -> Router {
    api::health::metrics_router()
        .fallback(guard::not_found)
        .with_state(state)
}

/// The whole application: pages, APIs, health and metrics, with its middleware.
pub fn app(state: AppState) -> Router {
    // The document is generated with the routes and serialised once, not per request.
    let (api, doc) = api::router().split_for_parts();
    let document =
        serde_json::to_string(&api::with_server(doc)).expect("the OpenAPI document serialises");
    let document = axum::body::Bytes::from(document);
    let openapi_json = axum::routing::get(move || {
        let document = document.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                document,
            )
        }
    });
    let metrics = if state.metrics_elsewhere {
        Router::new()
    } else {
        api::health::metrics_router()
    };
    Router::new()
        .merge(api::health::router())
        .merge(metrics)
        .nest("/api/v1", api.route("/openapi.json", openapi_json))
        .merge(page::router())
        .merge(slack::router())
        .merge(teams::router())
        .merge(discord::router())
        .merge(calendar_push::router())
        .fallback(guard::not_found)
        .method_not_allowed_fallback(guard::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::csrf,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::log_refusals,
        ))
        .layer(axum::middleware::from_fn(guard::body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(
            extract::MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(guard::language))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::count,
        ))
        // The last layer added sees the request first: a client's id is dropped unless a
        // trusted proxy sent it, one is generated if missing, the span carries it, and the
        // response echoes it.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(guard::request_span)
                .on_request(())
                .on_response(guard::log_handled)
                // A server error is logged with its cause where it happens, not again here.
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::untrusted_request_id,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` with the default [`ServerLimits`] until `shutdown` resolves,
/// then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, state, ServerLimits::default(), shutdown).await
}
