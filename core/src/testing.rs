//! Test support: every storage test runs on SQLite and on PostgreSQL.
//!
//! [`storage_tests!`] turns each `async fn name(t: &TestDb)` into a module `name` with two
//! tests, `sqlite` and `postgres`. The PostgreSQL one runs when `FRONTDESK_TEST_DATABASE_URL`
//! is set (CI sets it) and otherwise says so and passes — unless `FRONTDESK_REQUIRE_POSTGRES=1`
//! (CI sets that too), when a missing database fails the test: a skip there would hide that
//! PostgreSQL was never tested. Each test gets a fresh database:
//! a new SQLite file in a temporary directory, or a new PostgreSQL database that is dropped
//! when the [`TestDb`] is dropped.

mod harness;

use std::str::FromStr;
use std::sync::Arc;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

pub use harness::{
    DiscoverableOpenIdProvider, ManualClock, RecordingBot, RecordingMailer, RecordingWebhooks,
    TempKeyStore, TestEngine, acme_owner, test_settings, test_start,
};

use crate::store::Db;

/// The `p`-th percentile (nearest rank) of `sorted` samples, for the load benches' reports.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The environment variable naming a PostgreSQL server for tests (any database on it).
pub const POSTGRES_URL_VAR: &str = "FRONTDESK_TEST_DATABASE_URL";

/// The environment variable that, set to `1`, makes a missing PostgreSQL a test failure.
pub const REQUIRE_POSTGRES_VAR: &str = "FRONTDESK_REQUIRE_POSTGRES";

/// A fresh, migrated database for one test.
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    url: String,
    /// Tenants' data keys of this database's "deployment" (shared by every engine on it).
    pub tenant_keys: Arc<TempKeyStore>,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A migrated SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = Db::sqlite_url_in(dir.path());
        let db = Db::connect(&url).await.expect("open SQLite");
        db.migrate().await.expect("migrate SQLite");
        TestDb {
            db,
            url,
            tenant_keys: Arc::default(),
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A migrated, new PostgreSQL database, or `None` when no server is configured.
    ///
    /// Panics instead of returning `None` when [`REQUIRE_POSTGRES_VAR`] is `1`: this is the one
    /// place that decides, so every caller fails rather than skips where PostgreSQL is required.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            if std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_POSTGRES_VAR}=1 but {POSTGRES_URL_VAR} is not set: set it to a \
                     PostgreSQL server, e.g. {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres"
                );
            }
            return None;
        };
        let name = format!("frontdesk_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnectOptions::from_str(&admin_url)
            .expect("FRONTDESK_TEST_DATABASE_URL is a postgres:// URL")
            .connect()
            .await
            .expect("connect to FRONTDESK_TEST_DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        let db = Db::connect(&url).await.expect("connect to test database");
        db.migrate().await.expect("migrate PostgreSQL");
        Some(TestDb {
            db,
            url,
            tenant_keys: Arc::default(),
            _dir: None,
            postgres: Some((admin_url, name)),
        })
    }

    /// The database URL (for starting a server on the same database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The one number a `SELECT COUNT(*) …` statement answers, read raw.
    pub async fn count(&self, sql: &'static str) -> i64 {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("count rows")
    }

    /// The tables in which some row holds `needle` in any column, read raw (what someone
    /// with a copy of the database would see): how tests show that secrets are sealed.
    pub async fn tables_containing(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        match &self.db {
            Db::Sqlite(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
                )
                .fetch_all(pool)
                .await
                .expect("list tables");
                for table in tables {
                    let columns: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                            .bind(&table)
                            .fetch_all(pool)
                            .await
                            .expect("list columns");
                    let row_text = columns
                        .iter()
                        .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '')"))
                        .collect::<Vec<_>>()
                        .join(" || '|' || ");
                    let sql =
                        format!("SELECT COUNT(*) FROM \"{table}\" WHERE instr({row_text}, $1) > 0");
                    let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(needle)
                        .fetch_one(pool)
                        .await
                        .expect("scan table");
                    if hits > 0 {
                        found.push(table);
                    }
                }
            }
            Db::Postgres(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await
                .expect("list tables");
                for table in tables {
                    let sql =
                        format!("SELECT COUNT(*) FROM \"{table}\" t WHERE strpos(t::text, $1) > 0");
                    let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(needle)
                        .fetch_one(pool)
                        .await
                        .expect("scan table");
                    if hits > 0 {
                        found.push(table);
                    }
                }
            }
        }
        found.sort();
        found
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = PgConnectOptions::from_str(&admin_url)?.connect().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("could not drop test database: {err}");
        }
    }
}

/// Declares storage tests that run on both backends; see the module documentation.
#[macro_export]
macro_rules! storage_tests {
    ($($(#[$meta:meta])* async fn $name:ident($t:ident: &$db:ty) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($t: &$db) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let t = $crate::testing::TestDb::sqlite().await;
                    run(&t).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(t) = $crate::testing::TestDb::postgres().await else {
                        eprintln!("PostgreSQL not configured ({}): ran on SQLite only",
                            $crate::testing::POSTGRES_URL_VAR);
                        return;
                    };
                    run(&t).await;
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
