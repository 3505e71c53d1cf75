//! Contract end: a tenant's data exported as CSV, then purged — every row, its access log
//! included — with the purge recorded in a system log that outlives the tenant; other
//! tenants untouched.

mod common;

use common::{Fixture, execute, owner_of, person};
use frontdesk_core::Error;
use frontdesk_core::domain::chat::Message;
use frontdesk_core::domain::people::{Lang, Platform, Role};
use frontdesk_core::engine::invitation::NewInvitation;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::TestDb;

storage_tests! {
    async fn the_export_holds_every_kind_of_data_with_formulas_neutralised(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mut alice = person("alice@acme.example", "=HYPERLINK(\"http://x\",\"y\")");
        // Alice has signed in to the web chat, where a notice reached her.
        alice.chat_identities = [(Platform::Web, "alice@acme.example".to_owned())].into();
        let alice = f.engine.create_employee(&f.owner, alice).await.unwrap();
        let mut tx = f.engine.db.write().await.unwrap();
        let notice = Message::text("Your visitor Kenji Mori has arrived");
        f.engine.notify_employee(&mut tx, f.tenant.id, &alice, "visit:1", &notice).await.unwrap();
        tx.commit().await.unwrap();
        let invitation = NewInvitation {
            email: "new@acme.example".into(),
            role: Role::Receptionist,
            can_export: false,
            language: Lang::Ja,
        };
        f.engine.invite(&f.owner, &invitation).await.unwrap();
        let files = f.engine.export_tenant("acme").await.unwrap();
        let names: Vec<&str> = files.iter().map(|file| file.name).collect();
        assert_eq!(
            names,
            ["employees.csv", "accounts.csv", "invitations.csv", "locations.csv", "web_chat.csv", "access_log.csv"]
        );
        let employees = &files[0].csv;
        assert!(employees.contains("alice@acme.example"), "{employees}");
        assert!(employees.contains("'=HYPERLINK"), "neutralised: {employees}");
        assert!(files[1].csv.contains("owner@acme.example,owner,true"), "{}", files[1].csv);
        assert!(
            files[2].csv.contains("new@acme.example,receptionist,false,ja,2026-11-28T00:00:00Z"),
            "pending invitations, with when they lapse: {}",
            files[2].csv
        );
        assert!(
            files[4].csv.contains("alice@acme.example,2026-11-25T00:00:00Z,frontdesk,Your visitor Kenji Mori has arrived"),
            "the web chat history, opened: {}",
            files[4].csv
        );
        assert!(files[5].csv.contains("employee.create"), "{}", files[5].csv);
        assert!(matches!(f.engine.export_tenant("nobody").await, Err(Error::NotFound("tenant"))));
    }

    async fn a_purge_deletes_every_row_of_the_tenant_and_is_recorded_beyond_it(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine.create_employee(&f.owner, person("alice@acme.example", "Alice")).await.unwrap();
        f.engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        let invitation = NewInvitation {
            email: "new@acme.example".into(),
            role: Role::Receptionist,
            can_export: false,
            language: Lang::En,
        };
        f.engine.invite(&f.owner, &invitation).await.unwrap();
        // A viewer is not invited (the table takes admins and receptionists): refused, not a 500.
        let viewer = NewInvitation { role: Role::Viewer, ..invitation };
        assert!(matches!(f.engine.invite(&f.owner, &viewer).await, Err(Error::Invalid { .. })));
        // A second tenant, which must not be touched.
        let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
        let globex_owner = owner_of(&f.engine, &globex, "owner@globex.example").await;
        f.engine.create_employee(&globex_owner, person("bob@globex.example", "Bob")).await.unwrap();

        let (_, before) = f.engine.tenant_rows("acme").await.unwrap();
        assert_eq!(
            (before.accounts, before.employees, before.outbox_messages, before.invitations),
            (1, 1, 2, 1),
            "the reset and the invitation mails are queued"
        );
        assert!(before.access_log_entries >= 3, "{before:?}");

        let purged = f.engine.purge_tenant("acme", "operator@host").await.unwrap();
        assert_eq!(purged.rows, before);
        assert!(f.engine.tenant("acme").await.unwrap().is_none());
        for table in ["accounts", "employees", "access_log", "access_log_head", "access_log_keys", "outbox", "sessions", "password_resets", "invitations"] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = {}", purged.tenant_id);
            assert_eq!(count(&t.db, sql).await, 0, "{table}");
        }

        let purges = f.engine.purges().await.unwrap();
        assert_eq!(purges.len(), 1);
        assert_eq!(purges[0].actor, "operator@host");
        assert!(purges[0].detail.contains("\"slug\":\"acme\""), "{purges:?}");
        assert!(purges[0].detail.contains("\"employees\":1"), "{purges:?}");

        // The other tenant is whole, and its log still verifies and still refuses deletes.
        let verified = f.engine.verify_access_log().await.unwrap();
        assert_eq!(verified.len(), 1, "{verified:?}");
        assert_eq!(verified[0].tenant, "globex");
        assert!(verified[0].result.is_ok(), "{verified:?}");
        assert_eq!(f.engine.employees(&globex_owner, None, 10, 0).await.unwrap().total, 1);
        let refused = execute(&t.db, "DELETE FROM access_log").await;
        assert!(refused.is_err(), "a tenant that was not purged keeps its log");
    }

    async fn the_system_log_cannot_be_changed_or_emptied(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine.purge_tenant("acme", "operator@host").await.unwrap();
        assert!(execute(&t.db, "UPDATE system_log SET actor = 'nobody'").await.is_err());
        assert!(execute(&t.db, "DELETE FROM system_log").await.is_err());
        assert_eq!(f.engine.purges().await.unwrap().len(), 1);
        assert!(matches!(
            f.engine.purge_tenant("acme", "operator@host").await,
            Err(Error::NotFound("tenant"))
        ));
    }
}

/// `SELECT COUNT(*) …` built at run time.
async fn count(db: &frontdesk_core::store::Db, sql: String) -> i64 {
    use frontdesk_core::store::Db;
    let sql = sqlx::AssertSqlSafe(sql);
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}
