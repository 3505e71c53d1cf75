//! Shared helpers for the end-to-end tests: a tiny SMTP server that records what it is sent,
//! the real `frontdesk` binary started as a server or run as a command, and decoding of the
//! mails it writes; and (in `browser`) the app with a headless Chromium for page tests.
//! Every wait is on a condition, bounded by a timeout; nothing sleeps.

#![allow(dead_code)]

pub mod browser;

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

/// How long a server may take to print `listening on` (it migrates and hashes a password).
pub const STARTUP: Duration = Duration::from_secs(60);
/// How long a server may take to exit after a signal.
pub const SHUTDOWN: Duration = Duration::from_secs(20);
/// How long a mail may take to arrive (or a command to finish).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The path of the binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_frontdesk");

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// A command running the binary under test, with no `FRONTDESK_*` settings inherited from
/// the environment (so a developer's or CI's own configuration cannot leak into a test), and
/// with its standard streams piped.
pub fn frontdesk() -> Command {
    let mut command = Command::new(BINARY);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("FRONTDESK_") && key != "FRONTDESK_LOG" {
            command.env_remove(key);
        }
    }
    command
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `frontdesk <args>` to completion with `stdin` as its standard input.
pub async fn run_cli(args: &[&str], stdin: &str) -> Output {
    run_cli_with_env(args, &[], stdin).await
}

/// [`run_cli`] with the extra environment `env`.
pub async fn run_cli_with_env(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = frontdesk();
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped());
    let mut child = command.spawn().expect("start frontdesk");
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    timeout(PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`frontdesk {}` did not finish in {PATIENCE:?}",
                args.join(" ")
            )
        })
        .expect("wait for frontdesk")
}

/// A signal to stop a server with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Int,
    /// No chance to clean up: a crash, the OOM killer, a pulled plug.
    Kill,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Int => "INT",
            Signal::Kill => "KILL",
        }
    }
}

/// Output a child printed, collected in the background.
type Captured = Arc<Mutex<String>>;

fn drain(stream: impl AsyncRead + Unpin + Send + 'static, into: Captured) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut captured = into.lock().expect("capture lock");
            captured.push_str(&line);
            captured.push('\n');
        }
    })
}

/// `frontdesk serve` running on a free port of 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://…` when it serves TLS.
    base_url: String,
    /// The demo admin's password, when this run printed one.
    pub admin_password: Option<String>,
    data_dir: PathBuf,
    stdout: Captured,
    stderr: Captured,
}

impl Server {
    /// `frontdesk serve --demo` with `data_dir` and the extra environment `env`.
    pub async fn start_demo(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start(data_dir, true, env).await
    }

    /// `frontdesk serve [--demo]` with `data_dir` and the extra environment `env`; returns
    /// once the server printed `listening on http://…` (or `https://…`).
    pub async fn start(data_dir: &Path, demo: bool, env: &[(&str, &str)]) -> Server {
        Server::start_with_args(data_dir, demo, &[], env).await
    }

    /// [`Server::start`] with more arguments to `serve` (`--tls-cert FILE`).
    pub async fn start_with_args(
        data_dir: &Path,
        demo: bool,
        args: &[&OsStr],
        env: &[(&str, &str)],
    ) -> Server {
        let mut command = frontdesk();
        command.arg("serve");
        if demo {
            command.arg("--demo");
        }
        command
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .envs(env.iter().copied());
        let mut child = command.spawn().expect("start frontdesk serve");
        let stdout = Captured::default();
        let stderr = Captured::default();
        drain(child.stderr.take().expect("piped stderr"), stderr.clone());
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();

        let ready = timeout(STARTUP, async {
            let mut password = None;
            while let Ok(Some(line)) = lines.next_line().await {
                {
                    let mut captured = stdout.lock().expect("capture lock");
                    captured.push_str(&line);
                    captured.push('\n');
                }
                if let Some(rest) = line.strip_prefix("  password: ") {
                    // "(set on the first run …)" when no new password was made.
                    password = rest
                        .split_whitespace()
                        .next()
                        .filter(|word| !word.starts_with('('))
                        .map(str::to_owned);
                }
                if let Some(url) = line.strip_prefix("listening on ")
                    && (url.starts_with("http://") || url.starts_with("https://"))
                {
                    return Some((url.trim().to_owned(), password));
                }
            }
            None
        })
        .await;

        let (base_url, admin_password) = match ready {
            Ok(Some(ready)) => ready,
            outcome => {
                let _ = child.start_kill();
                let status = timeout(SHUTDOWN, child.wait()).await;
                panic!(
                    "frontdesk serve did not become ready ({}; exit: {status:?})\n\
                     --- stdout ---\n{}\n--- stderr ---\n{}",
                    if outcome.is_err() {
                        "timed out"
                    } else {
                        "stdout closed"
                    },
                    stdout.lock().expect("capture lock"),
                    stderr.lock().expect("capture lock"),
                );
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        drain(lines.into_inner(), stdout.clone());
        Server {
            child,
            base_url,
            admin_password,
            data_dir: data_dir.to_owned(),
            stdout,
            stderr,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// `http://127.0.0.1:PORT`, or `https://…` when it serves TLS.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `base_url()` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The data dir the server was started with.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server printed on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("capture lock").clone()
    }

    /// Everything the server logged on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("capture lock").clone()
    }

    /// The demo admin's password; panics when this run printed none.
    pub fn password(&self) -> &str {
        self.admin_password
            .as_deref()
            .unwrap_or_else(|| panic!("no password was printed:\n{}", self.stdout()))
    }

    /// Sends `signal` (with `kill -SIG <pid>`) and waits for the server to exit.
    pub async fn stop_with(&mut self, signal: Signal) -> ExitStatus {
        let pid = self.child.id().expect("the server is still running");
        let sent = std::process::Command::new("kill")
            .arg(format!("-{}", signal.name()))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{} {pid} failed", signal.name());
        match timeout(SHUTDOWN, self.child.wait()).await {
            Ok(status) => status.expect("wait for the server"),
            Err(_) => panic!(
                "the server did not exit within {SHUTDOWN:?} of SIG{}\n--- stderr ---\n{}",
                signal.name(),
                self.stderr()
            ),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- frontdesk at {} stdout ---\n{}--- stderr ---\n{}",
                self.base_url,
                self.stdout(),
                self.stderr()
            );
        }
    }
}

/// An HTTP client that keeps cookies (the session) and never uses a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("HTTP client")
}

/// A certificate authority made for one test, and a server certificate it issued for
/// 127.0.0.1 and localhost, written as the PEM files `serve --tls-cert/--tls-key` reads.
pub struct TestCa {
    ca_pem: String,
    /// The server's certificate chain (PEM).
    pub cert_file: PathBuf,
    /// The server's private key (PEM).
    pub key_file: PathBuf,
}

impl TestCa {
    /// A CA and a server certificate, their files in `dir`.
    pub fn issue_into(dir: &Path) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key"))
            .expect("a CA certificate");
        let key = KeyPair::generate().expect("a server key");
        let cert = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server certificate parameters")
            .signed_by(&key, &ca)
            .expect("a server certificate");
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, cert.pem()).expect("write the certificate");
        std::fs::write(&key_file, key.serialize_pem()).expect("write the key");
        TestCa {
            ca_pem: ca.pem(),
            cert_file,
            key_file,
        }
    }

    /// `client()` trusting this CA, and no other.
    pub fn client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("the CA in PEM");
        reqwest::Client::builder()
            .cookie_store(true)
            .no_proxy()
            .timeout(PATIENCE)
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .expect("HTTPS client")
    }
}

/// Waits, ticking every few milliseconds, until `check` returns something; panics with
/// `what` after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let waited = timeout(within, async {
        let mut ticks = tokio::time::interval(Duration::from_millis(20));
        loop {
            ticks.tick().await;
            if let Some(found) = check().await {
                return found;
            }
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("timed out after {within:?} waiting for {what}"))
}

// ---------------------------------------------------------------------------------------------
// The SMTP sink
// ---------------------------------------------------------------------------------------------

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// `MAIL FROM`
    pub sender: String,
    /// Every `RCPT TO`, in order.
    pub recipients: Vec<String>,
    /// The message as sent after `DATA` (headers and body, dot-stuffing undone).
    pub data: String,
}

impl ReceivedMail {
    /// The body as text, its transfer encoding undone.
    pub fn body_text(&self) -> String {
        decoded_body(&self.data)
    }
}

/// An SMTP server on 127.0.0.1 that accepts every message (no TLS, no AUTH) and records it.
#[derive(Debug)]
pub struct SmtpSink {
    address: SocketAddr,
    received: mpsc::UnboundedReceiver<ReceivedMail>,
    accepting: JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on a free port.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let address = listener.local_addr().expect("the sink's address");
        let (sent, received) = mpsc::unbounded_channel();
        let accepting = tokio::spawn(async move {
            // Sessions live in the set, so they end when the sink is dropped.
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { return };
                        let sent = sent.clone();
                        sessions.spawn(async move {
                            if let Err(err) = smtp_session(stream, sent).await {
                                eprintln!("SMTP sink: session failed: {err}");
                            }
                        });
                    }
                    Some(_) = sessions.join_next() => {}
                }
            }
        });
        SmtpSink {
            address,
            received,
            accepting,
        }
    }

    /// The sink's port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// The next message, waiting at most `within`.
    pub async fn next_mail(&mut self, within: Duration) -> ReceivedMail {
        timeout(within, self.received.recv())
            .await
            .unwrap_or_else(|_| panic!("no mail arrived within {within:?}"))
            .expect("the SMTP sink stopped")
    }

    /// A message already received and not yet taken, if any.
    pub fn try_next_mail(&mut self) -> Option<ReceivedMail> {
        self.received.try_recv().ok()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// The address inside `<…>` of a `MAIL FROM:`/`RCPT TO:` argument.
fn angle_address(argument: &str) -> String {
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument
            .split_once(':')
            .map_or(argument, |(_, rest)| rest)
            .trim()
            .to_owned(),
    }
}

async fn smtp_session(
    stream: TcpStream,
    sent: mpsc::UnboundedSender<ReceivedMail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut sender = String::new();
    let mut recipients = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end();
        let (verb, argument) = command.split_once(' ').unwrap_or((command, ""));
        let reply: &[u8] = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => b"250-sink.test greets you\r\n250-8BITMIME\r\n250 HELP\r\n",
            "HELO" => b"250 sink.test\r\n",
            "MAIL" => {
                sender = angle_address(argument);
                recipients.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                recipients.push(angle_address(argument));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut reader).await?;
                let mail = ReceivedMail {
                    sender: std::mem::take(&mut sender),
                    recipients: std::mem::take(&mut recipients),
                    data,
                };
                // The test may be gone already; the mail is then of no interest.
                let _ = sent.send(mail);
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                sender.clear();
                recipients.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads a message up to the line with a single `.` (that is, up to `\r\n.\r\n`).
async fn read_data(reader: &mut (impl AsyncBufReadExt + Unpin)) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(String::from_utf8_lossy(&data).into_owned());
        }
        // Dot-stuffing: a line starting with "." was sent with another "." before it.
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

// ---------------------------------------------------------------------------------------------
// Mail decoding
// ---------------------------------------------------------------------------------------------

/// The value of header `name` in an RFC 5322 message (folded lines joined).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message
        .split_once("\r\n\r\n")
        .or_else(|| message.split_once("\n\n"))
        .map_or(message, |(head, _)| head);
    let mut found: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = found.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_owned());
        }
    }
    found
}

/// The body of a single-part message as text, its `Content-Transfer-Encoding` undone
/// (lettre picks 7bit, quoted-printable or base64 depending on the text).
pub fn decoded_body(message: &str) -> String {
    let body = message
        .split_once("\r\n\r\n")
        .or_else(|| message.split_once("\n\n"))
        .map_or("", |(_, body)| body);
    let encoding = header(message, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for sextet in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | sextet;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3; // soft line break
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = rest
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// The password-reset link in a mail body and its token, when the body holds a complete one
/// (the token must be followed by something, so a half-written file does not count).
pub fn reset_link(body: &str) -> Option<(String, String)> {
    const MARKER: &str = "/password-reset?token=";
    let at = body.find(MARKER)?;
    let start = body[..at].rfind("http")?;
    let token_start = at + MARKER.len();
    let token_len =
        body[token_start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    if token_len == 0 {
        return None;
    }
    let end = token_start + token_len;
    Some((
        body[start..end].to_owned(),
        body[token_start..end].to_owned(),
    ))
}

/// Reads `path` whole (async) as text.
pub async fn read_text(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn mail_bodies_are_decoded_from_base64_and_quoted_printable() {
    let b64 = "Content-Transfer-Encoding: base64\r\n\r\n44GC44GEaHR0cDovL3gvcGFzc3dvcmQtcmVzZXQ/\r\ndG9rZW49YWJjLV8xCg==\r\n";
    assert_eq!(
        decoded_body(b64),
        "あいhttp://x/password-reset?token=abc-_1\n"
    );
    let qp = "Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhttp://x/pass=\r\nword-reset?token=3D=E3=81=82\r\n";
    assert_eq!(decoded_body(qp), "http://x/password-reset?token=あ\r\n");
    assert_eq!(
        reset_link("go to http://h:1/password-reset?token=Ab_-9\n now"),
        Some((
            "http://h:1/password-reset?token=Ab_-9".into(),
            "Ab_-9".into()
        ))
    );
    assert_eq!(reset_link("http://h:1/password-reset?token=Ab_-9"), None);
}
