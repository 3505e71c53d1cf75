//! `frontdesk backup` and `frontdesk restore`. SQLite is copied with `VACUUM INTO`,
//! PostgreSQL with `pg_dump --format=custom`; either copy is sealed into the same container
//! (`frontdesk_core::engine::backup`), so a stolen backup reveals nothing without the key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::backup::{
    Scratch, backup_sqlite, open_file, restore_sqlite, seal_file,
};
use frontdesk_core::port::Secrets;
use frontdesk_core::store::Db;

use crate::config::Config;
use crate::sealing;

/// The database file of a `sqlite:` URL; `None` for PostgreSQL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Takes a sealed backup into `out`.
pub async fn backup(config: &Config, out: &Path) -> Result<()> {
    let url = config.database_url();
    if let Some(file) = sqlite_file(&url)
        && !file.exists()
    {
        bail!(
            "there is no database at {}: nothing to back up (is --data-dir right?)",
            file.display()
        );
    }
    // Connected without migrating: a running server of another version owns the schema.
    let db = Db::connect(&url).await.context("opening the database")?;
    let secrets: Arc<dyn Secrets> = Arc::new(sealing::load(
        config,
        Engine::holds_sealed_data(&db).await?,
    )?);
    let taken = match &db {
        Db::Sqlite(_) => backup_sqlite(&db, secrets.clone(), out)
            .await
            .with_context(|| format!("backing up into {}", out.display())),
        Db::Postgres(_) => pg_backup(&url, secrets.clone(), out).await,
    };
    db.close().await;
    taken?;
    println!("backup written to {}", out.display());
    println!(
        "it is sealed: keep the sealing key file and the tenant key directory ({}) backed up separately — without them this backup cannot be read",
        config.tenant_keys_dir().display()
    );
    Ok(())
}

/// Restores the backup `from` into the configured database, which must not hold data yet,
/// and migrates it to this version.
pub async fn restore(config: &Config, from: &Path) -> Result<()> {
    let url = config.database_url();
    let refused = || format!("cannot restore from {}", from.display());
    // The keys must be there already: a new key could not open the backup.
    if let Some(file) = sealing::key_file(config)
        && !file.exists()
    {
        bail!(
            "the sealing key file {} is missing: copy there the sealing key file that was in use \
             when the backup was taken (a backup cannot be read without it)",
            file.display()
        );
    }
    let secrets: Arc<dyn Secrets> = Arc::new(sealing::load(config, true)?);
    match sqlite_file(&url) {
        Some(file) => {
            crate::prepare_data_dir(&config.data_dir)?;
            restore_sqlite(secrets, from, &file)
                .await
                .with_context(refused)?;
        }
        None => pg_restore(&url, secrets, from)
            .await
            .with_context(refused)?,
    }
    let db = crate::open_database(config).await?;
    let engine = crate::build_engine(config, db).await?;
    let missing = crate::missing_data_keys(&engine, config).await;
    engine.db.close().await;
    println!(
        "restored {} and migrated it to this version",
        from.display()
    );
    if let Some(problem) = missing? {
        println!("{problem}");
    }
    Ok(())
}

/// The daily backup job into `[backup] dir`, keeping `[backup] keep_days` (SQLite only).
pub fn daily_job(config: &Config) -> frontdesk_core::engine::scheduler::Job {
    frontdesk_core::engine::backup::daily_job(config.backup_dir(), config.backup.keep_days)
}

/// What to install when a PostgreSQL client tool is missing, and what to run by hand.
fn missing_tool(tool: &str, by_hand: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{tool} is not installed (or not on PATH); it is needed for backups of a PostgreSQL database.\n\
         Install the PostgreSQL client tools of your server's major version \
         (Debian/Ubuntu: `apt install postgresql-client`; RHEL/Fedora: `dnf install postgresql`; \
         macOS: `brew install libpq`) and run this command again, or run it yourself:\n  {by_hand}"
    )
}

/// Finds `tool` on PATH.
fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// `url` without its password, and the password: the password goes to the tool through
/// `PGPASSWORD`, never on its command line (where `ps` shows it).
fn split_password(url: &str) -> Result<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).context("the PostgreSQL URL is not a URL")?;
    let password = parsed.password().map(percent_decode);
    // Cannot fail: a URL with a password has a host.
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

/// The percent-decoded text of a URL component.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `tool args…` against `url`'s database, the password in the environment.
async fn run_pg_tool(tool: &Path, url: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    let (url, password) = split_password(url)?;
    let mut command = tokio::process::Command::new(tool);
    command.args(args).arg("--dbname").arg(&url);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command
        .output()
        .await
        .with_context(|| format!("running {}", tool.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            tool.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `pg_dump --format=custom` into a scratch file, sealed into `out`.
async fn pg_backup(url: &str, secrets: Arc<dyn Secrets>, out: &Path) -> Result<()> {
    let Some(pg_dump) = on_path("pg_dump") else {
        return Err(missing_tool(
            "pg_dump",
            "PGPASSWORD=… pg_dump --format=custom --file FILE --dbname postgres://USER@HOST:5432/DB \
             (that file is not sealed: keep it as safe as the database)",
        ));
    };
    let dump = Scratch::beside(out, "pg_dump");
    run_pg_tool(
        &pg_dump,
        url,
        &[
            "--format=custom".as_ref(),
            "--file".as_ref(),
            dump.path().as_os_str(),
        ],
    )
    .await?;
    seal_file(&*secrets, dump.path(), out)
        .with_context(|| format!("sealing into {}", out.display()))
}

/// Opens the backup into a scratch file and `pg_restore`s it into an empty database.
async fn pg_restore(url: &str, secrets: Arc<dyn Secrets>, from: &Path) -> Result<()> {
    let Some(pg_restore) = on_path("pg_restore") else {
        return Err(missing_tool(
            "pg_restore",
            "PGPASSWORD=… pg_restore --no-owner --dbname postgres://USER@HOST:5432/DB FILE \
             (FILE made by pg_dump --format=custom; a sealed backup needs this command)",
        ));
    };
    let db = Db::connect(url).await.context("opening the database")?;
    let tables = db.table_count().await;
    db.close().await;
    if tables? > 0 {
        bail!(
            "the PostgreSQL database already holds tables; restore into an empty database \
             (create one, point [database] url at it, and run this command again)"
        );
    }
    let dump = Scratch::beside(&std::env::temp_dir().join("frontdesk-restore"), "pg_dump");
    open_file(&*secrets, from, dump.path())?;
    run_pg_tool(
        &pg_restore,
        url,
        &[
            "--no-owner".as_ref(),
            "--exit-on-error".as_ref(),
            dump.path().as_os_str(),
        ],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let (url, password) =
            split_password("postgres://fd:p%40ss@db.internal:5433/frontdesk?sslmode=require")
                .unwrap();
        assert_eq!(
            url,
            "postgres://fd@db.internal:5433/frontdesk?sslmode=require"
        );
        assert_eq!(password.as_deref(), Some("p@ss"));
        let (url, password) = split_password("postgres://postgres@127.0.0.1/postgres").unwrap();
        assert_eq!(url, "postgres://postgres@127.0.0.1/postgres");
        assert_eq!(password, None);
    }

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(
            sqlite_file("sqlite://data/frontdesk.db?mode=rwc"),
            Some(PathBuf::from("data/frontdesk.db"))
        );
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
    }
}
