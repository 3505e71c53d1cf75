//! End to end: the real `frontdesk` binary, started with `serve --demo` on a free port and
//! driven over HTTP (and SMTP), and its command line.

mod support;

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value, json};
use support::{
    PATIENCE, Server, Signal, SmtpSink, TestCa, client, decoded_body, read_text, reset_link,
    run_cli, wait_for,
};

const ADMIN: &str = "admin@demo.example";
const STRONG: &str = "Kq7#vLp2xW-reset";

/// Signs in to the demo tenant as its admin.
async fn login(http: &reqwest::Client, server: &Server, password: &str) -> reqwest::Response {
    http.post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": "demo", "email": ADMIN, "password": password }))
        .send()
        .await
        .expect("POST /api/v1/auth/login")
}

/// `GET path` as JSON, expecting 200.
async fn get_json(http: &reqwest::Client, server: &Server, path: &str) -> Value {
    let response = http.get(server.url(path)).send().await.expect(path);
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("a JSON body")
}

/// The directory as `(name, kana)` pairs, in the order the API lists them.
async fn directory(http: &reqwest::Client, server: &Server) -> (i64, Vec<(String, String)>) {
    let page = get_json(http, server, "/api/v1/employees").await;
    let people = page["employees"]
        .as_array()
        .expect("an employees array")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("a name").to_owned(),
                e["name_kana"].as_str().expect("a kana reading").to_owned(),
            )
        })
        .collect();
    (page["total"].as_i64().expect("a total"), people)
}

fn the_demo_directory() -> Vec<(String, String)> {
    // Listed by kana reading: さとう, すずき, たなか.
    [
        ("Alice Sato", "さとう ありす"),
        ("Carol Suzuki", "すずき きゃろる"),
        ("Bob Tanaka", "たなか ぼぶ"),
    ]
    .iter()
    .map(|(name, kana)| (name.to_string(), kana.to_string()))
    .collect()
}

/// Signs in with the printed password, checks the cookie, and lists the seeded directory.
async fn sign_in_and_see_the_directory(server: &Server, password: &str) -> reqwest::Client {
    let http = client();
    let response = login(&http, server, password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("fd_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    let account: Value = response.json().await.expect("the account");
    assert_eq!(account["email"], ADMIN);
    assert_eq!(account["role"], "owner");

    assert_eq!(
        directory(&http, server).await,
        (3, the_demo_directory()),
        "the demo directory"
    );
    http
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_admin_signs_in_with_the_printed_password_and_sees_the_seeded_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let password = server.password().to_owned();
    assert_eq!(
        server.stdout().matches(&password).count(),
        1,
        "the password is printed once"
    );
    assert!(
        !server.stderr().contains(&password),
        "the password must not reach the log"
    );

    let http = sign_in_and_see_the_directory(&server, &password).await;

    let anonymous = client();
    let refused = anonymous
        .get(server.url("/api/v1/employees"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = login(&anonymous, &server, "Not-the-password-1").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The signed-in client is unaffected.
    assert_eq!(directory(&http, &server).await.0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_the_openapi_document_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let http = client();

    for _ in 0..3 {
        let health = get_json(&http, &server, "/healthz").await;
        assert_eq!(health["status"], "ok");
    }
    let ready = get_json(&http, &server, "/readyz").await;
    assert_eq!(ready["status"], "ready");
    let missing = http.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let content_type = metrics.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("# TYPE frontdesk_http_requests counter"),
        "{text}"
    );
    assert!(
        text.contains(
            "frontdesk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n"
        ),
        "three /healthz requests are counted:\n{text}"
    );
    assert!(
        text.contains(
            "frontdesk_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("status=\"404\"} 1\n"),
        "the 404 is counted:\n{text}"
    );
    assert!(
        text.contains("# TYPE frontdesk_http_request_duration_seconds histogram"),
        "{text}"
    );
    // Every sample line is `name{labels} value` or `name value` with a numeric value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit_once(' ').map(|(_, v)| v).unwrap_or("");
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line:?}");
    }

    let doc = get_json(&http, &server, "/api/v1/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "OpenAPI 3: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in ["/auth/login", "/employees/{id}"] {
        assert!(
            paths.contains_key(path),
            "{path} in {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_on_the_same_data_dir_seeds_nothing_twice_and_keeps_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Server::start_demo(dir.path(), &[]).await;
    let password = first.password().to_owned();
    sign_in_and_see_the_directory(&first, &password).await;
    let status = first.stop_with(Signal::Term).await;
    assert!(status.success(), "{status}");

    let second = Server::start_demo(dir.path(), &[]).await;
    assert_eq!(
        second.admin_password,
        None,
        "no new password is made:\n{}",
        second.stdout()
    );
    assert!(
        !second.stdout().contains(&password),
        "the old password is not shown again"
    );
    assert!(
        second
            .stdout()
            .contains("  password: (set on the first run"),
        "{}",
        second.stdout()
    );
    // The old password still works, and the directory still has three people.
    sign_in_and_see_the_directory(&second, &password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_with_the_session_cookie_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let http = sign_in_and_see_the_directory(&server, server.password()).await;
    let newcomer =
        json!({ "email": "dave@demo.example", "name": "Dave Ito", "name_kana": "いとう でいぶ" });

    let refused = http
        .post(server.url("/api/v1/employees"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&newcomer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()[CONTENT_TYPE],
        "application/problem+json",
        "RFC 9457 problem"
    );
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:frontdesk:problem:cross-site");
    assert_eq!(problem["status"], 403);
    assert_eq!(directory(&http, &server).await.0, 3, "nothing was added");

    // A cross-site form post is refused by its Origin alone, too.
    let refused = http
        .post(server.url("/api/v1/employees"))
        .header("Origin", "http://evil.example")
        .json(&newcomer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(directory(&http, &server).await.0, 3, "nothing was added");

    // The same request from the same origin is accepted: the refusal was the header's doing.
    let accepted = http
        .post(server.url("/api/v1/employees"))
        .header("Sec-Fetch-Site", "same-origin")
        .json(&newcomer)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    assert_eq!(directory(&http, &server).await.0, 4);
}

/// Requests a reset link for `email` in the demo tenant; the answer is always 202.
async fn request_reset(http: &reqwest::Client, server: &Server, email: &str) {
    let response = http
        .post(server.url("/api/v1/auth/password-reset"))
        .json(&json!({ "tenant": "demo", "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED, "reset for {email}");
}

/// Confirms a reset over the API, in English.
async fn confirm_reset(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    new_password: &str,
) -> reqwest::Response {
    http.post(server.url("/api/v1/auth/password-reset/confirm"))
        .header("Accept-Language", "en")
        .json(&json!({ "token": token, "new_password": new_password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_mailed_over_smtp_sets_a_new_password_once() {
    password_reset_over_smtp(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_mailed_over_smtp_works_on_postgres_too() {
    let Some(db) = frontdesk_core::testing::TestDb::postgres().await else {
        eprintln!(
            "PostgreSQL not configured ({}): ran on SQLite only",
            frontdesk_core::testing::POSTGRES_URL_VAR
        );
        return;
    };
    password_reset_over_smtp(&[("FRONTDESK_DATABASE__URL", db.url())]).await;
}

/// The whole reset: request, mail, page, weak and strong passwords, reuse of the token.
async fn password_reset_over_smtp(env: &[(&str, &str)]) {
    let mut sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_url = format!("smtp://127.0.0.1:{}", sink.port());
    let mut env = env.to_vec();
    env.push(("FRONTDESK_MAIL__SMTP_URL", &smtp_url));
    let server = Server::start_demo(dir.path(), &env).await;
    let old_password = server.password().to_owned();
    let http = client();

    request_reset(&http, &server, ADMIN).await;
    let mail = sink.next_mail(PATIENCE).await;
    assert_eq!(mail.recipients, vec![ADMIN.to_owned()]);
    let body = mail.body_text();
    let (link, token) = reset_link(&body).unwrap_or_else(|| panic!("no reset link in:\n{body}"));
    assert!(
        link.starts_with(&format!("{}/password-reset?token=", server.base_url())),
        "the link points at this server: {link}"
    );
    assert!(
        !dir.path().join("mail").exists(),
        "with SMTP configured no .eml file is written"
    );

    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "an HTML page"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/password-reset\">"),
        "{html}"
    );
    assert!(
        html.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{html}"
    );

    let weak = confirm_reset(&http, &server, &token, "Password1!").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = weak.json().await.unwrap();
    assert_eq!(problem["violations"], json!(["common"]), "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("too common"),
        "the rule is named: {problem}"
    );

    // The weak attempt did not use up the token.
    let done = confirm_reset(&http, &server, &token, STRONG).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        login(&http, &server, &old_password).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old password no longer signs in"
    );
    assert_eq!(
        login(&http, &server, STRONG).await.status(),
        StatusCode::OK,
        "the new one does"
    );

    let again = confirm_reset(&http, &server, &token, "Another#Strong9").await;
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "a token works once"
    );
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["type"], "urn:frontdesk:problem:invalid-reset-token");
    assert_eq!(login(&http, &server, STRONG).await.status(), StatusCode::OK);
    assert!(sink.try_next_mail().is_none(), "one mail in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_request_for_an_unknown_email_is_accepted_and_mails_nothing() {
    let mut sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[("FRONTDESK_MAIL__SMTP_URL", &sink.url())]).await;
    let http = client();

    // Same answer for an unknown account, an unknown tenant's account, and a known one.
    request_reset(&http, &server, "nobody@demo.example").await;
    let response = http
        .post(server.url("/api/v1/auth/password-reset"))
        .json(&json!({ "tenant": "no-such-tenant", "email": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    request_reset(&http, &server, ADMIN).await;

    // The outbox sends in the order messages were queued, so had either unknown request
    // queued a mail, it would arrive before the known one's.
    let mail = sink.next_mail(PATIENCE).await;
    assert_eq!(mail.recipients, vec![ADMIN.to_owned()], "the first mail");
    assert!(reset_link(&mail.body_text()).is_some());
    assert!(
        sink.try_next_mail().is_none(),
        "only the known account was mailed"
    );
}

/// The `.eml` files in `dir`, if it exists.
async fn eml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return found;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.path().extension().is_some_and(|ext| ext == "eml") {
            found.push(entry.path());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_a_reset_mail_is_written_as_an_eml_file_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let http = client();
    request_reset(&http, &server, ADMIN).await;

    let mail_dir = dir.path().join("mail");
    // The file is written in place, so wait until it holds a whole link, not just until it
    // exists.
    let (message, token) = wait_for("a reset mail under <data-dir>/mail", PATIENCE, || {
        let mail_dir = mail_dir.clone();
        async move {
            for path in eml_files(&mail_dir).await {
                let Ok(message) = read_text(&path).await else {
                    continue;
                };
                if let Some((_, token)) = reset_link(&decoded_body(&message)) {
                    return Some((message, token));
                }
            }
            None
        }
    })
    .await;
    assert_eq!(eml_files(&mail_dir).await.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700, "the data dir is private");
        assert_eq!(mode(&dir.path().join("frontdesk.db")), 0o600);
        assert_eq!(mode(&dir.path().join("frontdesk.db-wal")), 0o600);
        assert_eq!(mode(&mail_dir), 0o700);
        assert_eq!(
            mode(&eml_files(&mail_dir).await[0]),
            0o600,
            "a mail file is private"
        );
    }
    assert_eq!(
        support::header(&message, "To").as_deref(),
        Some(ADMIN),
        "{message}"
    );
    assert!(support::header(&message, "Subject").is_some(), "{message}");

    // Finish the reset with the page's own form this time.
    let page = http
        .post(server.url("/password-reset"))
        .header("Accept-Language", "en")
        .form(&[("token", token.as_str()), ("new_password", STRONG)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("role=\"status\""));
    assert_eq!(login(&http, &server, STRONG).await.status(), StatusCode::OK);
}

async fn a_signal_stops_the_server_with_exit_code_zero(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(dir.path(), &[]).await;
    let http = client();
    assert_eq!(get_json(&http, &server, "/healthz").await["status"], "ok");
    let base = server.base_url();

    let status = server.stop_with(signal).await;
    assert_eq!(status.code(), Some(0), "{signal:?}: {status}");
    assert!(
        server.stderr().contains("shutting down"),
        "the shutdown path ran:\n{}",
        server.stderr()
    );
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_gracefully_with_exit_code_zero() {
    a_signal_stops_the_server_with_exit_code_zero(Signal::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_server_gracefully_with_exit_code_zero() {
    a_signal_stops_the_server_with_exit_code_zero(Signal::Int).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_right_after_startup_still_stops_the_server_gracefully() {
    // The signal handlers must be in place by the time the server says it is listening.
    for _ in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start(dir.path(), false, &[]).await;
        let status = server.stop_with(Signal::Term).await;
        assert_eq!(status.code(), Some(0), "{status}");
    }
}

/// `frontdesk admin create` for a@acme.example in `dir` with `password` on stdin.
async fn create_admin(dir: &Path, password: &str) -> std::process::Output {
    let dir = dir.to_str().expect("a UTF-8 path");
    run_cli(
        &[
            "admin",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@acme.example",
            "--password-stdin",
            "--data-dir",
            dir,
        ],
        &format!("{password}\n"),
    )
    .await
}

async fn verify_access_log(dir: &Path) -> std::process::Output {
    let dir = dir.to_str().expect("a UTF-8 path");
    run_cli(&["access-log", "verify", "--data-dir", dir], "").await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_refuses_weak_passwords_naming_the_rule_and_accepts_a_strong_one() {
    let dir = tempfile::tempdir().unwrap();

    let common = create_admin(dir.path(), "Password1!").await;
    assert_eq!(common.status.code(), Some(2), "{common:?}");
    let stderr = text(&common.stderr);
    assert!(stderr.contains("too common"), "{stderr}");

    let two_classes = create_admin(dir.path(), "abcdefgh1").await;
    assert_eq!(two_classes.status.code(), Some(2), "{two_classes:?}");
    let stderr = text(&two_classes.stderr);
    assert!(
        stderr
            .contains("at least three of: upper-case letters, lower-case letters, digits, symbols"),
        "{stderr}"
    );
    assert!(!stderr.contains("too common"), "{stderr}");
    let nothing = verify_access_log(dir.path()).await;
    assert!(
        !text(&nothing.stdout).contains("acme"),
        "a refused password creates no tenant: {nothing:?}"
    );

    let created = create_admin(dir.path(), STRONG).await;
    assert!(created.status.success(), "{created:?}");
    let stdout = text(&created.stdout);
    assert!(
        stdout.contains("a@acme.example") && stdout.contains("acme"),
        "{stdout}"
    );
    assert!(!stdout.contains(STRONG) && !text(&created.stderr).contains(STRONG));

    let again = create_admin(dir.path(), STRONG).await;
    assert!(!again.status.success(), "the account exists already");
    assert!(text(&again.stderr).contains("already exists"), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_verify_passes_on_an_intact_log_and_names_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let created = create_admin(dir.path(), STRONG).await;
    assert!(created.status.success(), "{created:?}");

    let intact = verify_access_log(dir.path()).await;
    assert_eq!(intact.status.code(), Some(0), "{intact:?}");
    let stdout = text(&intact.stdout);
    assert!(
        stdout.contains("tenant acme: ok (2 entries)"),
        "tenant.create and account.create: {stdout}"
    );

    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("frontdesk.db").display());
        let mut db = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("open frontdesk.db");
        let refused = sqlx::query("UPDATE access_log SET actor = 'mallory@x.jp' WHERE seq = 1")
            .execute(&mut db)
            .await;
        assert!(refused.is_err(), "the trigger keeps the log append-only");
        sqlx::query("DROP TRIGGER access_log_no_update")
            .execute(&mut db)
            .await
            .expect("drop the trigger");
        let changed = sqlx::query("UPDATE access_log SET actor = 'mallory@x.jp' WHERE seq = 1")
            .execute(&mut db)
            .await
            .expect("tamper with entry 1");
        assert_eq!(changed.rows_affected(), 1);
        db.close().await.expect("close frontdesk.db");
    }

    let broken = verify_access_log(dir.path()).await;
    assert!(!broken.status.success(), "{broken:?}");
    let stdout = text(&broken.stdout);
    assert!(
        stdout.contains("tenant acme: BROKEN") && stdout.contains("entry 1 "),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_one_postgres_database_seed_once_and_see_the_same_directory() {
    let Some(db) = frontdesk_core::testing::TestDb::postgres().await else {
        eprintln!(
            "PostgreSQL not configured ({}): ran on SQLite only",
            frontdesk_core::testing::POSTGRES_URL_VAR
        );
        return;
    };
    // Instances sharing a database share its sealing key and tenant key directory, as the
    // README says.
    let tenant_keys = tempfile::tempdir().unwrap();
    let env = [
        ("FRONTDESK_DATABASE__URL", db.url()),
        (
            "FRONTDESK_SECURITY__SEALING_KEY",
            "c2hhcmVkLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHM=",
        ),
        (
            "FRONTDESK_SECURITY__TENANT_KEYS_DIR",
            tenant_keys.path().to_str().unwrap(),
        ),
    ];
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());

    // Two instances started together with --demo race to seed; exactly one of them seeds
    // the admin and prints its password, and both come up.
    let (a, b) = tokio::join!(
        Server::start_demo(dirs[0].path(), &env),
        Server::start_demo(dirs[1].path(), &env)
    );
    let passwords: Vec<&str> = [&a, &b]
        .iter()
        .filter_map(|s| s.admin_password.as_deref())
        .collect();
    assert_eq!(
        passwords.len(),
        1,
        "one password in all:\n{}\n{}",
        a.stdout(),
        b.stdout()
    );
    let password = passwords[0].to_owned();
    // A third instance, without --demo, joins later.
    let c = Server::start(dirs[2].path(), false, &env).await;
    assert!(!c.stdout().contains("password"), "{}", c.stdout());
    assert!(
        !dirs[0].path().join("frontdesk.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );

    let mut clients = Vec::new();
    for server in [&a, &b, &c] {
        assert_eq!(
            get_json(&client(), server, "/readyz").await["status"],
            "ready"
        );
        clients.push(sign_in_and_see_the_directory(server, &password).await);
    }

    // What one instance writes, the others see.
    let created = clients[0]
        .post(a.url("/api/v1/employees"))
        .json(&json!({ "email": "dave@demo.example", "name": "Dave Ito", "name_kana": "いとう でいぶ" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (total, people) = directory(&clients[1], &b).await;
    assert_eq!(total, 4);
    assert_eq!(people[0].0, "Dave Ito", "いとう comes first");
    assert_eq!(directory(&clients[2], &c).await, (total, people));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sealing_key_is_made_private_rotated_and_never_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let created = create_admin(&data, STRONG).await;
    assert!(created.status.success(), "{created:?}");
    let key_file = data.join("sealing.key");
    let keys = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(keys(&std::fs::read_to_string(&key_file).unwrap()), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
    }

    let data_arg = data.to_str().unwrap();
    let rotated = run_cli(&["secrets", "rotate", "--data-dir", data_arg], "").await;
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(
        text(&rotated.stdout).contains("wrapped 1 tenant data keys"),
        "{rotated:?}"
    );
    assert_eq!(keys(&std::fs::read_to_string(&key_file).unwrap()), 2);
    let verified = verify_access_log(&data).await;
    assert!(verified.status.success(), "{verified:?}");
    assert!(text(&verified.stdout).contains("acme: ok"), "{verified:?}");

    // Losing the key must not go unnoticed behind a fresh one.
    let kept = data.join("sealing.key.kept");
    std::fs::rename(&key_file, &kept).unwrap();
    let refused = verify_access_log(&data).await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        text(&refused.stderr).contains("sealing key file"),
        "{refused:?}"
    );
    assert!(!key_file.exists(), "no new key was made");

    // A wrong key is named by verification, per tenant.
    std::fs::write(&key_file, format!("{}\n", "A".repeat(43) + "=")).unwrap();
    let wrong = verify_access_log(&data).await;
    assert!(!wrong.status.success(), "{wrong:?}");
    assert!(text(&wrong.stdout).contains("does not open"), "{wrong:?}");
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_with_the_malloc_setting_that_returns_hash_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ
            .split('\0')
            .any(|var| var == "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304"),
        "{environ}"
    );
    let http = client();
    assert_eq!(get_json(&http, &server, "/healthz").await["status"], "ok");

    // Its soft open-file limit was raised to the hard one at start.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(open_files[3], open_files[4], "soft = hard: {limits}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_served_on_their_own_address_are_not_on_the_public_one() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        Server::start_demo(dir.path(), &[("FRONTDESK_METRICS__BIND", "127.0.0.1:0")]).await;
    let stdout = server.stdout();
    let metrics_url = stdout
        .lines()
        .find_map(|line| line.strip_prefix("metrics on "))
        .unwrap_or_else(|| panic!("the metrics address is printed: {stdout}"))
        .to_owned();
    let http = client();
    let public = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let private = http.get(&metrics_url).send().await.unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    assert!(
        private
            .text()
            .await
            .unwrap()
            .contains("frontdesk_uptime_seconds")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_contract_end_a_tenant_is_exported_then_purged_after_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(create_admin(&data, STRONG).await.status.success());
    let data_arg = data.to_str().unwrap();

    let out = dir.path().join("acme-export");
    let exported = run_cli(
        &[
            "tenant",
            "export",
            "--tenant",
            "acme",
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            data_arg,
        ],
        "",
    )
    .await;
    assert!(exported.status.success(), "{exported:?}");
    let accounts = std::fs::read_to_string(out.join("accounts.csv")).unwrap();
    assert!(accounts.contains("a@acme.example"), "{accounts}");
    assert!(out.join("access_log.csv").exists());

    // Without the slug repeated, nothing happens: it says what would go and how to confirm.
    let unconfirmed = run_cli(
        &[
            "tenant",
            "purge",
            "--tenant",
            "acme",
            "--data-dir",
            data_arg,
        ],
        "",
    )
    .await;
    assert_eq!(unconfirmed.status.code(), Some(2), "{unconfirmed:?}");
    assert!(
        text(&unconfirmed.stderr).contains("--confirm acme"),
        "{unconfirmed:?}"
    );
    assert!(text(&verify_access_log(&data).await.stdout).contains("tenant acme: ok"));

    let purged = run_cli(
        &[
            "tenant",
            "purge",
            "--tenant",
            "acme",
            "--confirm",
            "acme",
            "--data-dir",
            data_arg,
        ],
        "",
    )
    .await;
    assert!(purged.status.success(), "{purged:?}");
    assert!(text(&purged.stdout).contains("1 accounts"), "{purged:?}");
    let verified = verify_access_log(&data).await;
    assert!(verified.status.success(), "{verified:?}");
    let said = text(&verified.stdout);
    assert!(
        said.contains("purged at") && !said.contains("tenant acme: ok"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_tls_certificate_answers_over_https_with_hsts_and_secure_cookies() {
    let data = tempfile::tempdir().unwrap();
    let certificates = tempfile::tempdir().unwrap();
    let tls = TestCa::issue_into(certificates.path());
    let args = [
        "--tls-cert".as_ref(),
        tls.cert_file.as_os_str(),
        "--tls-key".as_ref(),
        tls.key_file.as_os_str(),
    ];
    let server = Server::start_with_args(data.path(), true, &args, &[]).await;
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    assert!(
        server
            .stdout()
            .contains(&format!("open:     {}/", server.base_url())),
        "the public URL defaults to https: {}",
        server.stdout()
    );

    let https = tls.client();
    let health = https.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let hsts = health.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");

    let response = login(&https, &server, server.password()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-fd_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {:?}", response.headers()))
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP on the same port gets no answer.
    let plain_url = server.base_url().replacen("https://", "http://", 1) + "/healthz";
    let plain = client().get(&plain_url).send().await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_with_a_certificate_but_no_key_or_with_an_unreadable_one() {
    let data = tempfile::tempdir().unwrap();
    let certificates = tempfile::tempdir().unwrap();
    let tls = TestCa::issue_into(certificates.path());
    let cert = tls.cert_file.to_str().unwrap();

    let data_dir = data.path().to_str().unwrap();
    let output = run_cli(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
            "--tls-cert",
            cert,
        ],
        "",
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("--tls-key"), "{stderr}");

    // The certificate file given as the key: the error names the file and what it needs.
    let output = run_cli(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
            "--tls-cert",
            cert,
            "--tls-key",
            cert,
        ],
        "",
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cert.pem") && stderr.contains("private key"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_rooms_and_busy_blocks_in_alices_calendar_this_week_and_next() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), &[]).await;
    let http = sign_in_and_see_the_directory(&server, server.password()).await;

    let rooms = get_json(&http, &server, "/api/v1/rooms").await;
    let slugs: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["room-a", "room-b"]);
    assert_eq!(rooms[0]["capacity"], 6);
    assert_eq!(
        rooms[1]["equipment"],
        serde_json::json!(["display", "video"])
    );
    // Today's bookings: Bob is in room B, a private interview follows (masked); room A is
    // free until Alice's review. The demo's room pages need no pairing.
    let b = get_json(&http, &server, "/api/v1/rooms/room-b/status").await;
    assert_eq!(b["state"], "in_use", "{b}");
    assert_eq!(b["current"]["organizer"], "Bob Tanaka", "{b}");
    assert_eq!(b["next"][0]["private"], true, "{b}");
    assert!(b["next"][0].get("title").is_none(), "{b}");
    let a = get_json(&http, &server, "/api/v1/rooms/room-a/status").await;
    assert_eq!(a["state"], "free", "{a}");
    assert_eq!(a["next"][0]["organizer"], "Alice Sato", "{a}");

    let page = get_json(&http, &server, "/api/v1/employees").await;
    let alice = page["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["email"] == "alice@demo.example")
        .expect("Alice")["id"]
        .as_i64()
        .unwrap();
    let now = chrono::Utc::now();
    let (from, to) = (
        now - chrono::Duration::days(7),
        now + chrono::Duration::days(14),
    );
    let path = format!(
        "/api/v1/calendar-events?employee_id={alice}&from={}&to={}",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let events = get_json(&http, &server, &path).await;
    let events = events.as_array().unwrap();
    // Two weeks of weekdays: three stand-ups, two calls and a one-on-one a week.
    assert_eq!(events.len(), 12, "{events:?}");
    let ahead = events
        .iter()
        .filter(|e| {
            e["start"].as_str().unwrap() > now.format("%Y-%m-%dT%H:%M:%SZ").to_string().as_str()
        })
        .count();
    assert!(ahead >= 6, "next week's blocks are ahead: {events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["title"] == "Customer call / 顧客との打ち合わせ")
    );
}
