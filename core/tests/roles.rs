//! The four roles: the viewer sees and changes nothing; the table rebuild that added it keeps
//! every account and every session signed in.

mod common;

use common::{Fixture, OWNER_PASSWORD};
use frontdesk_core::Error;
use frontdesk_core::domain::people::{Lang, Role};
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::{TestDb, TestEngine};

storage_tests! {
    async fn a_viewer_sees_the_directory_and_changes_nothing(t: &TestDb) {
        let f = Fixture::new(t).await;
        let viewer = f.account("viewer@acme.example", Role::Viewer, true).await;
        assert_eq!(viewer.account.role, Role::Viewer);
        assert_eq!(f.engine.employees(&viewer, None, 10, 0).await.unwrap().total, 0);
        assert!(f.engine.locations(&viewer).await.is_ok());
        assert!(matches!(f.engine.access_log(&viewer, &Default::default(), 10).await, Err(Error::Forbidden)));
        assert!(matches!(f.engine.export_employees(&viewer).await, Err(Error::Forbidden)),
            "the download permission alone does not lift the role's limits");
        assert!(matches!(f.engine.accounts(&viewer).await, Err(Error::Forbidden)));
    }
}

#[tokio::test]
async fn adding_the_viewer_role_keeps_every_account_and_session() {
    let folder = tempfile::tempdir().unwrap();
    let db = Db::connect(&Db::sqlite_url_in(folder.path()))
        .await
        .unwrap();
    let Db::Sqlite(pool) = &db else {
        unreachable!("a SQLite database")
    };
    // The schema as it was before the viewer role.
    let mut before = sqlx::migrate!("../migrations/sqlite");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 7)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(pool).await.unwrap();
    let engine = TestEngine::on_db(db.clone()).engine;
    let tenant = engine.ensure_tenant("acme", "Acme").await.unwrap();
    let new = NewAdmin {
        email: "owner@acme.example".into(),
        password: OWNER_PASSWORD.into(),
        role: Role::Owner,
        can_export: true,
        language: Lang::Ja,
    };
    engine.create_account(tenant.id, None, &new).await.unwrap();
    let signed_in = engine
        .login("acme", "owner@acme.example", OWNER_PASSWORD, "192.0.2.1")
        .await
        .unwrap();

    db.migrate().await.unwrap();

    let account = engine.session(&signed_in.session_token).await.unwrap();
    assert_eq!(
        account.map(|a| a.email).as_deref(),
        Some("owner@acme.example"),
        "still signed in"
    );
    let fk_problems: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(fk_problems.is_empty(), "{fk_problems:?}");
    let viewer = NewAdmin {
        email: "viewer@acme.example".into(),
        role: Role::Viewer,
        ..new
    };
    engine
        .create_account(tenant.id, None, &viewer)
        .await
        .expect("the new role is stored");
}
