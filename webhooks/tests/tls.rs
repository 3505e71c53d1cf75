//! HTTPS served by the edge itself, over real sockets: TLS 1.3 and 1.2 answer, TLS 1.1 is
//! refused, HTTP/2 is offered by ALPN, a renewed certificate is served without a restart (a
//! broken one is not), and a client that never finishes its handshake holds nothing.
//! Certificates come from a CA made in the test; every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use frontdesk_core::testing::{TestDb, TestEngine, test_settings};
use frontdesk_webhooks::tls::{ReloadingCertificate, server_config};
use frontdesk_webhooks::{AppState, ServerLimits, app, serve_router_over_tls};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, ProtocolVersion, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Longer than any wait here should take; a test that hits it has failed.
const PATIENCE: Duration = Duration::from_secs(10);

/// A certificate authority the test clients trust, and nothing else.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate for `localhost` and 127.0.0.1, as the PEM files an operator has.
struct Issued {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    fn issue(&self) -> Issued {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client that speaks only `version`, offers `alpn`, and trusts only this CA.
    fn client(&self, version: &'static SupportedProtocolVersion, alpn: &[&[u8]]) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }
}

/// The certificate and key files, in a directory of their own.
struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn holding(issued: &Issued) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        std::fs::write(&files.cert, &issued.cert_pem).unwrap();
        std::fs::write(&files.key, &issued.key_pem).unwrap();
        files
    }
}

/// Replaces `path` the way renewal tools do (write beside it, rename over it), dated
/// `minutes` ahead so the change is seen even on a file system with coarse timestamps.
fn renew(path: &Path, contents: &str, minutes: u64) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, contents).unwrap();
    let modified = SystemTime::now() + Duration::from_secs(60 * minutes);
    std::fs::File::options()
        .write(true)
        .open(&fresh)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    std::fs::rename(&fresh, path).unwrap();
}

struct Server {
    address: SocketAddr,
    certificate: Arc<ReloadingCertificate>,
    /// Dropping it stops the server and the watcher.
    _stop: watch::Sender<bool>,
    _db: TestDb,
}

/// Resolves when `stop` says so or is dropped.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The app over TLS with the certificate in `files`, watched for renewals every few ms.
async fn start(files: &Files, limits: ServerLimits) -> Server {
    let db = TestDb::sqlite().await;
    let TestEngine { engine, .. } = TestEngine::with_settings(&db, test_settings());
    let certificate = ReloadingCertificate::load(&files.cert, &files.key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(
        certificate
            .clone()
            .watch_files(Duration::from_millis(10), stopped(stop_rx.clone())),
    );
    tokio::spawn(serve_router_over_tls(
        listener,
        app(AppState::new(engine, vec![])),
        server_config(certificate.clone()),
        limits,
        stopped(stop_rx),
    ));
    Server {
        address,
        certificate,
        _stop: stop,
        _db: db,
    }
}

/// A TLS connection to `address` made with `client`, its handshake complete.
async fn connect(address: SocketAddr, client: &TlsConnector) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(address).await.unwrap();
    let localhost = ServerName::try_from("localhost").unwrap();
    timeout(PATIENCE, client.connect(localhost, tcp))
        .await
        .expect("the handshake finishes in time")
        .expect("the handshake succeeds")
}

/// The status line of `GET /healthz` sent over `stream` with HTTP/1.1.
async fn healthz(mut stream: TlsStream<TcpStream>) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    // What arrived is checked below; how the server ended the stream does not matter here.
    let _ = timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the answer arrives in time");
    let received = String::from_utf8_lossy(&received);
    received.lines().next().unwrap_or_default().to_owned()
}

/// The certificate the server presents to a new connection.
async fn served_certificate(address: SocketAddr, ca: &TestCa) -> CertificateDer<'static> {
    let stream = connect(address, &ca.client(&TLS13, &[b"http/1.1"])).await;
    let (_, connection) = stream.get_ref();
    connection.peer_certificates().expect("a certificate")[0].clone()
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    // A reset is a close too; the bytes before it are what matter.
    let _ = timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time");
    received
}

/// A ClientHello as a TLS 1.1 client sends it: record version 1.0, client_version 1.1, no
/// supported_versions extension, and only suites of those versions (rustls's own clients
/// cannot speak 1.1, so it is built by hand).
fn tls11_client_hello() -> Vec<u8> {
    // ECDHE-RSA-AES256-SHA, ECDHE-RSA-AES128-SHA, AES256-SHA, AES128-SHA, DES-CBC3-SHA
    let suites: [u16; 5] = [0xc014, 0xc013, 0x0035, 0x002f, 0x000a];
    let mut hello = vec![0x03, 0x02];
    hello.extend([0x42; 32]); // random
    hello.push(0); // no session id
    hello.extend((2 * suites.len() as u16).to_be_bytes());
    for suite in suites {
        hello.extend(suite.to_be_bytes());
    }
    hello.extend([1, 0]); // compression: null only
    let mut handshake = vec![0x01]; // client_hello
    handshake.extend(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend(hello);
    let mut record = vec![0x16, 0x03, 0x01]; // handshake, TLS 1.0 record layer
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[tokio::test]
async fn healthz_answers_over_tls_1_3_and_over_tls_1_2() {
    let ca = TestCa::new();
    let files = Files::holding(&ca.issue());
    let server = start(&files, ServerLimits::default()).await;

    for (version, expected) in [
        (&TLS13, ProtocolVersion::TLSv1_3),
        (&TLS12, ProtocolVersion::TLSv1_2),
    ] {
        let stream = connect(server.address, &ca.client(version, &[b"http/1.1"])).await;
        assert_eq!(stream.get_ref().1.protocol_version(), Some(expected));
        assert_eq!(healthz(stream).await, "HTTP/1.1 200 OK", "{expected:?}");
    }
}

#[tokio::test]
async fn a_client_offering_h2_gets_http2_by_alpn_and_is_answered() {
    let ca = TestCa::new();
    let files = Files::holding(&ca.issue());
    let server = start(&files, ServerLimits::default()).await;

    let stream = connect(server.address, &ca.client(&TLS13, &[b"h2", b"http/1.1"])).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("https://localhost/healthz")
        .body(Body::empty())
        .unwrap();
    let response = timeout(PATIENCE, sender.send_request(request))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), axum::http::Version::HTTP_2);
}

#[tokio::test]
async fn a_tls_1_1_client_hello_is_refused_with_an_alert_and_never_answered() {
    let ca = TestCa::new();
    let files = Files::holding(&ca.issue());
    let server = start(&files, ServerLimits::default()).await;

    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(&tls11_client_hello()).await.unwrap();
    let received = until_closed(&mut stream).await;
    assert!(
        received.is_empty() || received[0] == 21,
        "expected a TLS alert record (21) or a closed connection, got {received:02x?}"
    );
    assert!(!String::from_utf8_lossy(&received).contains("HTTP"));

    // The refusal concerned that client only.
    let stream = connect(server.address, &ca.client(&TLS12, &[b"http/1.1"])).await;
    assert_eq!(healthz(stream).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_renewed_certificate_reaches_new_connections_and_a_broken_renewal_keeps_the_old_one() {
    let ca = TestCa::new();
    let first = ca.issue();
    let files = Files::holding(&first);
    let server = start(&files, ServerLimits::default()).await;
    let mut reloads = server.certificate.reloads();
    assert_eq!(served_certificate(server.address, &ca).await, first.der);

    let second = ca.issue();
    renew(&files.cert, &second.cert_pem, 1);
    renew(&files.key, &second.key_pem, 1);
    timeout(PATIENCE, reloads.wait_for(|reloads| reloads.applied >= 1))
        .await
        .expect("the renewal is taken up in time")
        .unwrap();
    assert_eq!(served_certificate(server.address, &ca).await, second.der);

    // A renewal that wrote a broken certificate: refused, and the last good one stays.
    let refused = reloads.borrow().refused;
    renew(
        &files.cert,
        "-----BEGIN CERTIFICATE-----
truncated",
        2,
    );
    timeout(
        PATIENCE,
        reloads.wait_for(|reloads| reloads.refused > refused),
    )
    .await
    .expect("the broken renewal is looked at in time")
    .unwrap();
    assert_eq!(served_certificate(server.address, &ca).await, second.der);
    let stream = connect(server.address, &ca.client(&TLS12, &[b"http/1.1"])).await;
    assert_eq!(healthz(stream).await, "HTTP/1.1 200 OK");

    // So does a certificate whose key was not renewed with it.
    let third = ca.issue();
    let refused = reloads.borrow().refused;
    renew(&files.cert, &third.cert_pem, 3);
    timeout(
        PATIENCE,
        reloads.wait_for(|reloads| reloads.refused > refused),
    )
    .await
    .expect("the mismatched renewal is looked at in time")
    .unwrap();
    assert_eq!(served_certificate(server.address, &ca).await, second.der);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_closed_at_the_header_deadline() {
    let ca = TestCa::new();
    let files = Files::holding(&ca.issue());
    let server = start(
        &files,
        ServerLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ServerLimits::default()
        },
    )
    .await;

    let mut stalled = TcpStream::connect(server.address).await.unwrap();
    stalled.write_all(&tls11_client_hello()[..5]).await.unwrap();
    // Meanwhile the accept loop serves others.
    let stream = connect(server.address, &ca.client(&TLS13, &[b"http/1.1"])).await;
    assert_eq!(healthz(stream).await, "HTTP/1.1 200 OK");
    assert_eq!(until_closed(&mut stalled).await, b"");
}
