//! The daily backup job on SQLite: today's backup lands in the folder under today's date,
//! restores to the same data, and backups older than the kept days are pruned.

use chrono::Days;
use frontdesk_core::engine::backup::{
    BackupError, backup_sqlite, daily_file_name, daily_job, restore_sqlite,
};
use frontdesk_core::store::Db;
use frontdesk_core::testing::{TestDb, TestEngine};

#[tokio::test]
async fn the_daily_job_writes_todays_backup_and_prunes_those_past_keep_days() {
    let test_db = TestDb::sqlite().await;
    let test = TestEngine::on(&test_db);
    let engine = &test.engine;
    engine.ensure_tenant("acme", "Acme").await.unwrap();
    let today = engine.ports.clock.now().date_naive();

    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let dated = |days: u64| dir.join(daily_file_name(today - Days::new(days)));
    for old in [dated(3), dated(31)] {
        std::fs::write(&old, b"an older backup").unwrap();
    }

    let job = daily_job(dir.clone(), 30);
    (job.run)(engine.clone()).await.unwrap();

    assert!(dated(0).exists(), "today's backup");
    assert!(dated(3).exists(), "kept: 3 days old");
    assert!(!dated(31).exists(), "pruned: 31 days old");

    let restored = folder.path().join("restored.db");
    restore_sqlite(engine.ports.secrets.clone(), &dated(0), &restored)
        .await
        .unwrap();
    let db = Db::connect(&format!("sqlite://{}", restored.display()))
        .await
        .unwrap();
    let copy = TestEngine::on_db(db);
    assert!(copy.engine.tenant("acme").await.unwrap().is_some());
}

#[tokio::test]
async fn a_postgres_database_is_not_backed_up_with_vacuum_into() {
    let Some(test_db) = TestDb::postgres().await else {
        eprintln!("PostgreSQL not configured: nothing to check");
        return;
    };
    let test = TestEngine::on(&test_db);
    let folder = tempfile::tempdir().unwrap();
    let err = backup_sqlite(
        &test.engine.db,
        test.engine.ports.secrets.clone(),
        &folder.path().join("x.backup"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BackupError::NotSqlite), "{err}");
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_backup_of_an_older_schema_restores_and_migrates_up_to_date() {
    let folder = tempfile::tempdir().unwrap();
    let older = folder.path().join("older.db");
    // A database as the first release left it: only the first migration applied.
    let db = Db::connect(&format!("sqlite://{}", older.display()))
        .await
        .unwrap();
    let mut first_release = sqlx::migrate!("../migrations/sqlite");
    first_release.migrations = first_release.migrations[..1].to_vec().into();
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite database")
    };
    first_release.run(pool).await.unwrap();
    let secrets = TestEngine::on_db(db.clone()).engine.ports.secrets.clone();
    let file = folder.path().join("older.backup");
    backup_sqlite(&db, secrets.clone(), &file).await.unwrap();
    db.close().await;

    let restored = folder.path().join("restored.db");
    restore_sqlite(secrets, &file, &restored).await.unwrap();
    let db = Db::connect(&format!("sqlite://{}", restored.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite database")
    };
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    let latest = sqlx::migrate!("../migrations/sqlite").migrations.len();
    assert_eq!(applied as usize, latest, "every migration applied");
}
