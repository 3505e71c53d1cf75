//! The accept loop: serves [`crate::app`] on a listener with limits that keep slow or idle
//! clients from holding the server's sockets (and so its file descriptors) forever.
//!
//! `axum::serve` has no such limits; this is hyper-util's auto (HTTP/1 and HTTP/2) builder
//! with a header deadline, an idle deadline per connection, a body-read timeout and a cap on
//! open connections. Over TLS ([`serve_router_over_tls`]) the handshake runs in the
//! connection's own task, within the same header deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::AppState;

/// How long and how many clients may hold the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// From accepting a connection (through its TLS handshake, if any) or finishing its last
    /// response until a request's headers are complete; also the longest an HTTP/1
    /// keep-alive connection waits idle.
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight is kept after its last response
    /// (HTTP/1 is closed earlier, by the header deadline; this bounds HTTP/2).
    pub idle_timeout: Duration,
    /// The longest wait for the next piece of a request body.
    pub body_read_timeout: Duration,
    /// Connections served at once; beyond it the server stops accepting until one closes.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// Serves `app(state)` on `listener` within `limits` until `shutdown` resolves, then stops
/// accepting and finishes in-flight requests.
pub async fn serve_with_limits(
    listener: TcpListener,
    state: AppState,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, crate::app(state), limits, shutdown).await
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then finishes
/// in-flight requests (the main app, or the metrics on their own address).
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, router, None, limits, shutdown).await
}

/// [`serve_router`] over TLS with `tls` (see [`crate::tls::server_config`]).
pub async fn serve_router_over_tls(
    listener: TcpListener,
    router: axum::Router,
    tls: Arc<rustls::ServerConfig>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(
        listener,
        router,
        Some(TlsAcceptor::from(tls)),
        limits,
        shutdown,
    )
    .await
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<TlsAcceptor>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_read_timeout,
    ));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    // Closed connections return their permit; at the cap, the loop waits for one instead of
    // accepting and dropping (which would spin and still use a descriptor per attempt).
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after_accept_error(err).await;
                    continue;
                }
            },
        };
        let connection = serve_connection(
            &builder,
            graceful.watcher(),
            &router,
            tls.clone(),
            stream,
            remote,
            limits,
        );
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }

    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One connection until it ends, its client is too slow, or it stays idle too long.
fn serve_connection(
    builder: &Arc<auto::Builder<TokioExecutor>>,
    graceful: Watcher,
    router: &Router,
    tls: Option<TlsAcceptor>,
    stream: TcpStream,
    remote: SocketAddr,
    limits: ServerLimits,
) -> impl Future<Output = ()> + Send + 'static {
    let activity = Arc::new(watch::Sender::new(Activity::new()));
    let service = hyper::service::service_fn({
        let router = router.clone();
        let activity = activity.clone();
        move |mut request: Request<Incoming>| {
            // What `into_make_service_with_connect_info` would insert: `ClientIp` reads it.
            request.extensions_mut().insert(ConnectInfo(remote));
            let in_flight = InFlight::begin(activity.clone());
            let response = router.clone().oneshot(request);
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        }
    });
    let builder = builder.clone();
    let served = async move {
        match tls {
            None => {
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                graceful.watch(connection.into_owned()).await
            }
            Some(acceptor) => {
                // A client that never finishes its handshake is closed by `idle_deadline`
                // like one that never sends its headers; the accept loop never waits on it.
                let stream = acceptor.accept(stream).await?;
                let connection =
                    builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                graceful.watch(connection.into_owned()).await
            }
        }
    };
    async move {
        tokio::select! {
            served = served => {
                if let Err(err) = served {
                    // Failed handshakes (old TLS versions, scanners) are routine: debug too.
                    tracing::debug!(%remote, error = %err, "connection ended with an error");
                }
            }
            () = idle_deadline(activity, limits) => {
                // Dropping the connection closes the socket; no request is in flight.
                tracing::debug!(%remote, "closing a connection that sent no request in time");
            }
        }
    }
}

/// Requests in flight on one connection and when it last became idle.
#[derive(Debug, Clone, Copy)]
struct Activity {
    in_flight: usize,
    idle_since: Instant,
    served: u64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: 0,
            idle_since: Instant::now(),
            served: 0,
        }
    }
}

/// Marks one request in flight until dropped (answered or cancelled).
struct InFlight(Arc<watch::Sender<Activity>>);

impl InFlight {
    fn begin(activity: Arc<watch::Sender<Activity>>) -> InFlight {
        activity.send_modify(|activity| activity.in_flight += 1);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|activity| {
            activity.in_flight -= 1;
            activity.served += 1;
            activity.idle_since = Instant::now();
        });
    }
}

/// Resolves when the connection has had no request in flight for too long: the header
/// deadline before its first request, the idle timeout after. hyper enforces the header
/// deadline only once it reads HTTP/1; before that the auto builder waits for enough bytes
/// to tell HTTP/1 from HTTP/2 without any deadline, and HTTP/2 has no idle limit at all.
async fn idle_deadline(activity: Arc<watch::Sender<Activity>>, limits: ServerLimits) {
    let mut changes = activity.subscribe();
    loop {
        let now = *changes.borrow_and_update();
        if now.in_flight > 0 {
            // The sender lives as long as this future's caller; `changed` cannot fail.
            let _ = changes.changed().await;
            continue;
        }
        let limit = if now.served == 0 {
            limits.header_read_timeout
        } else {
            limits.idle_timeout
        };
        tokio::select! {
            () = tokio::time::sleep_until(now.idle_since + limit) => return,
            _ = changes.changed() => {}
        }
    }
}

/// Connection errors concern one client; others (out of file descriptors) would fail again
/// at once, so the loop waits before accepting again instead of spinning.
async fn pause_after_accept_error(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
