//! The restore drill, end to end with the real binary: data written through the API, a
//! backup taken while the server runs, restored into a fresh data dir with the sealing key,
//! and served again unchanged; damaged backups refused, naming what is wrong.

mod support;

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::json;
use support::{Server, Signal, client, run_cli};

const ADMIN: &str = "admin@demo.example";
const STRONG: &str = "Kq7#vLp2xW-reset";
/// The employee written before the backup; it must not show in the backup file.
const NEW_EMPLOYEE: &str = "Dave Ito";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Signs in to the demo tenant as its admin.
async fn sign_in(server: &Server, password: &str) -> reqwest::Client {
    let http = client();
    let response = http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": "demo", "email": ADMIN, "password": password }))
        .send()
        .await
        .expect("POST /api/v1/auth/login");
    assert_eq!(response.status(), StatusCode::OK);
    http
}

/// The employees CSV export.
async fn employees_csv(http: &reqwest::Client, server: &Server) -> String {
    let response = http
        .get(server.url("/api/v1/employees/export"))
        .send()
        .await
        .expect("GET /api/v1/employees/export");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("the CSV")
}

async fn backup(data_dir: &Path, out: &Path) -> std::process::Output {
    run_cli(
        &["backup", "--out", arg(out), "--data-dir", arg(data_dir)],
        "",
    )
    .await
}

async fn restore(from: &Path, data_dir: &Path) -> std::process::Output {
    run_cli(
        &["restore", "--from", arg(from), "--data-dir", arg(data_dir)],
        "",
    )
    .await
}

/// A new data dir holding only `key_from`'s sealing key and tenant key directory, as an
/// operator prepares it.
fn data_dir_with_keys_of(key_from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(key_from.join("sealing.key"), dir.path().join("sealing.key"))
        .expect("copy the sealing key");
    let tenant_keys = dir.path().join("tenant-keys");
    std::fs::create_dir(&tenant_keys).unwrap();
    for entry in std::fs::read_dir(key_from.join("tenant-keys")).expect("a tenant key directory") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tenant_keys.join(entry.file_name())).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_purged_after_a_backup_cannot_be_read_from_that_backup() {
    let original = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(original.path(), &[]).await;
    server.stop_with(Signal::Term).await;
    let file = files.path().join("before-the-purge.backup");
    assert!(backup(original.path(), &file).await.status.success());
    assert!(
        original.path().join("tenant-keys/1.key").exists(),
        "the demo tenant has its data key"
    );

    let purged = run_cli(
        &[
            "tenant",
            "purge",
            "--tenant",
            "demo",
            "--confirm",
            "demo",
            "--data-dir",
            arg(original.path()),
        ],
        "",
    )
    .await;
    assert!(purged.status.success(), "{purged:?}");
    assert!(text(&purged.stdout).contains("its data key"), "{purged:?}");
    assert!(!original.path().join("tenant-keys/1.key").exists());

    // The old backup, restored with the keys as they are now: the purged tenant is back as
    // rows, but nothing sealed for it opens.
    let restored = data_dir_with_keys_of(original.path());
    let done = restore(&file, restored.path()).await;
    assert!(done.status.success(), "{done:?}");
    assert!(
        text(&done.stdout).contains("tenant demo: its data key is not in"),
        "the operator is told at once: {done:?}"
    );
    let verified = run_cli(
        &["access-log", "verify", "--data-dir", arg(restored.path())],
        "",
    )
    .await;
    assert!(!verified.status.success(), "{verified:?}");
    assert!(
        text(&verified.stdout).contains("tenant demo: BROKEN"),
        "{verified:?}"
    );
    let refused = run_cli(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            arg(restored.path()),
        ],
        "",
    )
    .await;
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("tenant demo") && stderr.contains("frontdesk tenant purge --tenant demo"),
        "the server does not start until the operator decides: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_server_runs_restores_into_a_new_data_dir_unchanged() {
    let original = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(original.path(), &[]).await;
    let password = server.password().to_owned();
    let http = sign_in(&server, &password).await;
    let created = http
        .post(server.url("/api/v1/employees"))
        .json(&json!({ "email": "dave@demo.example", "name": NEW_EMPLOYEE, "name_kana": "いとう でいぶ" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let before = employees_csv(&http, &server).await;
    assert!(before.contains(NEW_EMPLOYEE), "{before}");

    let file = files.path().join("frontdesk.backup");
    let taken = backup(original.path(), &file).await;
    assert!(taken.status.success(), "{taken:?}");
    assert!(
        text(&taken.stdout).contains("sealing key"),
        "the operator is told to keep the key: {taken:?}"
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"FRONTDESK-BACKUP 1\n"));
    assert!(
        !text(&bytes).contains(NEW_EMPLOYEE) && !text(&bytes).contains(ADMIN),
        "a stolen backup reveals nothing"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup is private");
    }
    assert_eq!(
        std::fs::read_dir(files.path()).unwrap().count(),
        1,
        "no scratch file is left beside the backup"
    );
    server.stop_with(Signal::Term).await;

    let restored = data_dir_with_keys_of(original.path());
    let done = restore(&file, restored.path()).await;
    assert!(done.status.success(), "{done:?}");
    let verified = run_cli(
        &["access-log", "verify", "--data-dir", arg(restored.path())],
        "",
    )
    .await;
    assert!(verified.status.success(), "{verified:?}");
    assert!(
        text(&verified.stdout).contains("tenant demo: ok"),
        "{verified:?}"
    );

    let again = restore(&file, restored.path()).await;
    assert!(!again.status.success(), "{again:?}");
    let stderr = text(&again.stderr);
    let database = restored.path().join("frontdesk.db");
    assert!(
        stderr.contains(arg(&database)) && stderr.contains("exists already"),
        "{stderr}"
    );

    let server = Server::start(restored.path(), false, &[]).await;
    let http = sign_in(&server, &password).await;
    assert_eq!(employees_csv(&http, &server).await, before);
}

/// The key id in a backup's first chunk (`1/N fd1.<key id>.…`).
fn key_id_of(backup: &[u8]) -> String {
    let text = text(backup);
    let chunk = text.lines().nth(1).expect("a chunk");
    chunk.split('.').nth(1).expect("a key id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_truncated_or_foreign_backup_is_refused_naming_what_is_wrong() {
    let original = tempfile::tempdir().unwrap();
    let created = run_cli(
        &[
            "admin",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@acme.example",
            "--password-stdin",
            "--data-dir",
            arg(original.path()),
        ],
        &format!("{STRONG}\n"),
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("frontdesk.backup");
    let taken = backup(original.path(), &file).await;
    assert!(taken.status.success(), "{taken:?}");
    let bytes = std::fs::read(&file).unwrap();

    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut flipped = bytes.clone();
    // A byte well inside the first chunk's sealed value, swapped for another base64 digit.
    let at = bytes.len() / 2;
    flipped[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let truncated = &bytes[..bytes.len() - 100];
    let cases = [
        (
            write("flipped.backup", &flipped),
            "chunk 1 of the backup is altered",
        ),
        (write("truncated.backup", truncated), "truncated"),
        (
            original.path().join("frontdesk.db"),
            "not a Frontdesk backup",
        ),
    ];
    for (damaged, named) in cases {
        let into = data_dir_with_keys_of(original.path());
        let refused = restore(&damaged, into.path()).await;
        assert!(!refused.status.success(), "{refused:?}");
        let stderr = text(&refused.stderr);
        assert!(
            stderr.contains(named) && stderr.contains(arg(&damaged)),
            "{named}: {stderr}"
        );
        assert!(
            !into.path().join("frontdesk.db").exists(),
            "a refused restore leaves no database"
        );
    }

    // A data dir with another key cannot read it, and says which key is needed.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("sealing.key"),
        "c2hhcmVkLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHM=\n",
    )
    .unwrap();
    let refused = restore(&file, elsewhere.path()).await;
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(&format!("sealed with key {}", key_id_of(&bytes))),
        "{stderr}"
    );

    // Without the key file at all, restore says to put it in place first.
    let keyless = tempfile::tempdir().unwrap();
    let refused = restore(&file, keyless.path()).await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        text(&refused.stderr).contains("sealing key file"),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_backup_is_pg_dump_sealed_and_restores_into_an_empty_database() {
    let (Some(source), Some(target)) = (
        frontdesk_core::testing::TestDb::postgres().await,
        frontdesk_core::testing::TestDb::postgres().await,
    ) else {
        eprintln!(
            "PostgreSQL not configured ({}): ran on SQLite only",
            frontdesk_core::testing::POSTGRES_URL_VAR
        );
        return;
    };
    // The target starts empty, as a database made for a restore does.
    let frontdesk_core::store::Db::Postgres(pool) = &target.db else {
        unreachable!("a PostgreSQL test database")
    };
    for statement in ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    const KEY: &str = "c2hhcmVkLXNlYWxpbmcta2V5LWZvci10aGUtdGVzdHM=";
    let on = |url: &str| {
        [
            ("FRONTDESK_DATABASE__URL", url.to_owned()),
            ("FRONTDESK_SECURITY__SEALING_KEY", KEY.to_owned()),
        ]
    };
    let (source_env, target_env) = (on(source.url()), on(target.url()));
    let source_env: Vec<(&str, &str)> = source_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let target_env: Vec<(&str, &str)> = target_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("frontdesk.backup");

    let created = support::run_cli_with_env(
        &[
            "admin",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@acme.example",
            "--password-stdin",
        ],
        &source_env,
        &format!("{STRONG}\n"),
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let taken = support::run_cli_with_env(&["backup", "--out", arg(&file)], &source_env, "").await;
    assert!(taken.status.success(), "{taken:?}");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"FRONTDESK-BACKUP 1\n"));
    assert!(!text(&bytes).contains("a@acme.example"), "sealed");

    let restored =
        support::run_cli_with_env(&["restore", "--from", arg(&file)], &target_env, "").await;
    assert!(restored.status.success(), "{restored:?}");
    let verified = support::run_cli_with_env(&["access-log", "verify"], &target_env, "").await;
    assert!(
        text(&verified.stdout).contains("tenant acme: ok (2 entries)"),
        "{verified:?}"
    );
    let again =
        support::run_cli_with_env(&["restore", "--from", arg(&file)], &target_env, "").await;
    assert!(!again.status.success(), "{again:?}");
    assert!(
        text(&again.stderr).contains("already holds tables"),
        "{again:?}"
    );
}
