//! Storage: one repository source for SQLite and PostgreSQL.
//!
//! A repository function is written once, as SQL in a `const` with `$1..$n` placeholders
//! (SQLite binds those too) and a body inside [`on_tx!`], which expands it for each backend.
//! Every tenant-owned query filters by `tenant_id`. Instants are UTC epoch milliseconds.

pub mod access_log;
pub mod account;
pub mod booking;
pub mod booking_proposal;
pub mod calendar;
pub mod chat;
pub mod employee;
pub mod inbox;
pub mod invitation;
pub mod ip_allow_list;
pub mod job;
pub mod link_code;
pub mod outbox;
pub mod purge;
pub mod reception;
pub mod room;
pub mod sso;
pub mod tenant;
pub mod web_chat;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (e.g. a taken email).
    #[error("already exists")]
    Duplicate,
    /// The database URL is not one Frontdesk can use.
    #[error("unsupported database URL (expected sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    /// Anything the database reported.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (a bug or a manual edit).
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Duplicate,
            _ => StoreError::Database(err),
        }
    }
}

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction; repository functions take `&mut Tx`. The `*Statements` variants
/// are a connection outside any transaction (see [`Db::statements`]).
#[derive(Debug)]
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    SqliteStatements(PoolConnection<Sqlite>),
    PostgresStatements(PoolConnection<Postgres>),
}

impl Tx {
    /// `postgres` or `sqlite`, whichever this runs on: for the few statements spelled once
    /// per dialect (those reading a list of rows from one JSON parameter, see [`json_rows`]).
    pub fn dialect(&self, postgres: &'static str, sqlite: &'static str) -> &'static str {
        match self {
            Tx::Postgres(_) | Tx::PostgresStatements(_) => postgres,
            Tx::Sqlite(_) | Tx::SqliteStatements(_) => sqlite,
        }
    }
}

/// Rows passed as one parameter, a JSON array of objects: a statement over many rows (a
/// sweep's releases, a batch of outbox messages) is one round trip instead of one per row.
/// PostgreSQL reads it with `jsonb_to_recordset`, SQLite with `json_each`.
pub fn json_rows(rows: Vec<serde_json::Value>) -> String {
    serde_json::Value::Array(rows).to_string()
}

/// Runs `$body` with `$conn` bound to the transaction's connection, once per backend.
///
/// The body is written once; the macro expands it for SQLite and for PostgreSQL, so the
/// same SQL and the same row types serve both.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::SqliteStatements(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::PostgresStatements(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub use on_tx;

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`); SQLite files are created.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // Pages are read through a memory map, shared by every connection in the
                // operating system's cache, instead of copied into each connection's own
                // 2 MiB cache: a search over every room reads more pages than that holds
                // (with copies: 33 ms over 10,000 rooms; mapped: 12 ms). It reserves
                // address space, not memory.
                .pragma("mmap_size", "1073741824")
                // Writers queue for the lock instead of failing at once.
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The SQLite database URL for a file under `data_dir`.
    pub fn sqlite_url_in(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("frontdesk.db").display())
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so check-then-insert cannot race another writer.
    pub async fn write(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Begins a transaction that only reads, from one consistent snapshot (SQLite's deferred
    /// transactions are; PostgreSQL needs REPEATABLE READ for it).
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        })
    }

    /// A connection for reads that need no snapshot: each statement runs on its own and
    /// sees what was committed before it. For hot public reads (a booking link's slots),
    /// where BEGIN and ROLLBACK would be two more round trips to the connection for
    /// nothing: whatever they show is checked again when someone acts on it.
    pub async fn statements(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::SqliteStatements(pool.acquire().await?),
            Db::Postgres(pool) => Tx::PostgresStatements(pool.acquire().await?),
        })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
            Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
        };
        Ok(())
    }

    /// Writes a consistent copy of the SQLite database to `file` (which must not exist) while
    /// others keep reading and writing: one read transaction, so the copy is one instant.
    /// `None` on PostgreSQL, which is copied with `pg_dump` instead.
    pub async fn vacuum_into(&self, file: &Path) -> Result<Option<()>, StoreError> {
        match self {
            Db::Sqlite(pool) => {
                let file = file.to_str().ok_or_else(|| {
                    StoreError::Corrupt(format!("{} is not a UTF-8 path", file.display()))
                })?;
                sqlx::query(VACUUM_INTO).bind(file).execute(pool).await?;
                Ok(Some(()))
            }
            Db::Postgres(_) => Ok(None),
        }
    }

    /// How many tables the database holds (zero: nothing to overwrite).
    pub async fn table_count(&self) -> Result<i64, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(SQLITE_TABLE_COUNT)
                    .fetch_one(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(POSTGRES_TABLE_COUNT)
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Copies the database into a new file, compacted, in one read transaction.
const VACUUM_INTO: &str = "VACUUM INTO $1";
const SQLITE_TABLE_COUNT: &str = "SELECT count(*) FROM sqlite_master WHERE type = 'table'";
const POSTGRES_TABLE_COUNT: &str =
    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()";
/// Every problem SQLite finds in the file, or the single row `ok`.
const INTEGRITY_CHECK: &str = "PRAGMA integrity_check";

/// The problems `PRAGMA integrity_check` finds in the SQLite database `file` (empty when
/// there are none); the file is not created when missing.
pub async fn sqlite_integrity_problems(file: &Path) -> Result<Vec<String>, StoreError> {
    use sqlx::Connection;
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let rows: Vec<String> = sqlx::query_scalar(INTEGRITY_CHECK)
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    Ok(rows.into_iter().filter(|row| row != "ok").collect())
}

impl Tx {
    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
            // Each statement was its own transaction.
            Tx::SqliteStatements(_) | Tx::PostgresStatements(_) => {}
        }
        Ok(())
    }
}
