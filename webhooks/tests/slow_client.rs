//! The server's limits over real sockets: clients that send half a request (or nothing) are
//! closed by the deadlines, the connection cap holds, and shutdown still finishes a request
//! in flight. Deadlines are short real durations (hyper's timer reads the wall clock, so
//! tokio's paused time would not move it); every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use frontdesk_core::testing::{TestDb, TestEngine, test_settings};
use frontdesk_webhooks::{AppState, ServerLimits, serve_with_limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Longer than any wait here should take; a test that hits it has failed.
const PATIENCE: Duration = Duration::from_secs(10);

const HALF_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nX-Slow: ";

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
    _db: TestDb,
}

async fn start(limits: ServerLimits) -> Server {
    let db = TestDb::sqlite().await;
    let TestEngine { engine, .. } = TestEngine::with_settings(&db, test_settings());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve_with_limits(
        listener,
        AppState::new(engine, vec![]),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    Server {
        address,
        stop,
        served,
        _db: db,
    }
}

/// Limits with a header deadline of `header`, the rest at their defaults.
fn with_header_deadline(header: Duration) -> ServerLimits {
    ServerLimits {
        header_read_timeout: header,
        ..ServerLimits::default()
    }
}

/// A connection that has sent `bytes` and then nothing.
async fn stalled(address: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

/// The status line of `GET /healthz` on a new connection.
async fn healthz(address: SocketAddr) -> String {
    let mut stream = stalled(
        address,
        b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nConnection: close\r\n\r\n",
    )
    .await;
    let response = until_closed(&mut stream).await;
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_deadline_while_healthz_still_answers() {
    let server = start(with_header_deadline(Duration::from_millis(500))).await;
    let mut slow = stalled(server.address, HALF_REQUEST).await;

    assert_eq!(healthz(server.address).await, "HTTP/1.1 200 OK");
    let answer = until_closed(&mut slow).await;
    assert!(
        !answer.contains("200 OK"),
        "the half-sent request was not served: {answer}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_deadline() {
    // Before any byte arrives hyper cannot tell HTTP/1 from HTTP/2, so its own header
    // deadline is not running yet; the server's idle deadline covers this.
    let server = start(with_header_deadline(Duration::from_millis(200))).await;
    let mut silent = stalled(server.address, b"").await;
    assert_eq!(until_closed(&mut silent).await, "");

    // So does a client that stops inside the HTTP/2 preface.
    let mut half_preface = stalled(server.address, b"PRI * HTTP/2.0\r\n").await;
    assert_eq!(until_closed(&mut half_preface).await, "");
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed_after_the_header_deadline() {
    let server = start(with_header_deadline(Duration::from_millis(200))).await;
    let mut kept = stalled(
        server.address,
        b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\n\r\n",
    )
    .await;
    let answer = until_closed(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_waits_until_a_held_connection_closes() {
    const CAP: usize = 3;
    let server = start(ServerLimits {
        max_connections: CAP,
        ..ServerLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(stalled(server.address, HALF_REQUEST).await);
    }

    let mut waiting = stalled(
        server.address,
        b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nConnection: close\r\n\r\n",
    )
    .await;
    let mut first_byte = [0u8; 1];
    // Only a broken cap answers here; a slow machine makes this pass, never fail.
    let early = timeout(Duration::from_millis(300), waiting.read(&mut first_byte)).await;
    assert!(
        early.is_err(),
        "the {}th connection was served past the cap of {CAP}",
        CAP + 1
    );

    drop(held.pop());
    let mut response = Vec::new();
    timeout(PATIENCE, waiting.read_to_end(&mut response))
        .await
        .expect("served once a slot frees")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
}

#[tokio::test]
async fn shutdown_finishes_a_request_whose_body_is_still_arriving() {
    let server = start(ServerLimits::default()).await;
    let body = br#"{"tenant":"none","email":"a@b.example","password":"wrong-password"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: frontdesk\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    let mut client = stalled(server.address, head.as_bytes()).await;
    // hyper sends `100 Continue` when the handler starts reading the body: from here on
    // the request is in flight.
    let mut continued = [0u8; 25];
    timeout(PATIENCE, client.read_exact(&mut continued))
        .await
        .expect("the handler reads the body")
        .unwrap();
    assert!(continued.starts_with(b"HTTP/1.1 100 Continue"));

    server.stop.send(()).unwrap();
    client.write_all(body).await.unwrap();
    let answer = until_closed(&mut client).await;
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the in-flight request was answered: {answer}"
    );
    timeout(PATIENCE, server.served)
        .await
        .expect("serve returns after shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_deadline() {
    let server = start(ServerLimits {
        body_read_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut client = stalled(
        server.address,
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: frontdesk\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nConnection: close\r\n\r\n{\"tenant\":",
    )
    .await;
    let answer = until_closed(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        answer.contains("urn:frontdesk:problem:body-timeout"),
        "{answer}"
    );
}
