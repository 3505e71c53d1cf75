//! The access log: every admin change is recorded in a hash chain that notices tampering,
//! the table refuses updates, and retention keeps the remaining chain verifiable.

mod common;

use chrono::Duration;
use common::{Fixture, execute};
use frontdesk_core::domain::access_log::{ChainBreak, ChainKey, PURGE_ACTION, Purge};
use frontdesk_core::engine::access_log::{Event, Verification};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::port::Clock;
use frontdesk_core::storage_tests;
use frontdesk_core::store::access_log::{self as store, Filter};
use frontdesk_core::store::{Db, StoreError, Tx};
use frontdesk_core::testing::TestDb;

fn person(email: &str, name: &str) -> EmployeeInput {
    EmployeeInput {
        email: email.into(),
        name: name.into(),
        name_kana: String::new(),
        department: "Sales".into(),
        time_zone: "Asia/Tokyo".into(),
        language: Default::default(),
        notification: frontdesk_core::domain::people::NotificationPreference::Chat,
        chat_identities: Default::default(),
    }
}

/// Creates, changes and removes an employee: three entries after the owner's creation.
async fn some_admin_changes(f: &Fixture) {
    let alice = f
        .engine
        .create_employee(&f.owner, person("alice@acme.example", "Alice"))
        .await
        .unwrap();
    f.engine
        .update_employee(
            &f.owner,
            alice.id,
            person("alice@acme.example", "Alice Sato"),
        )
        .await
        .unwrap();
    f.engine.delete_employee(&f.owner, alice.id).await.unwrap();
}

fn ok(count: i64) -> Vec<Verification> {
    vec![Verification {
        tenant: "acme".into(),
        result: Ok(count),
    }]
}

storage_tests! {
    async fn admin_changes_are_logged_in_order_and_the_chain_verifies(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let actions: Vec<_> = f
            .log()
            .await
            .into_iter()
            .rev()
            .map(|e| (e.seq, e.action, e.actor))
            .collect();
        assert_eq!(
            actions,
            [
                (1, "account.create".to_owned(), "system".to_owned()),
                (
                    2,
                    "employee.create".to_owned(),
                    "owner@acme.example".to_owned()
                ),
                (
                    3,
                    "employee.update".to_owned(),
                    "owner@acme.example".to_owned()
                ),
                (
                    4,
                    "employee.delete".to_owned(),
                    "owner@acme.example".to_owned()
                ),
            ]
        );
        let update = f.logged("employee.update").await.pop().unwrap();
        assert_eq!(update.detail, r#"{"changed":["name"]}"#);
        assert_eq!(update.ip, "192.0.2.1");
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(4));
    }

    async fn an_altered_entry_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(4));

        // Someone with database access removes the guard and rewrites entry 3.
        match &t.db {
            Db::Sqlite(_) => execute(&t.db, "DROP TRIGGER access_log_no_update").await,
            Db::Postgres(_) => {
                execute(&t.db, "DROP TRIGGER access_log_no_update ON access_log").await
            }
        }
        .expect("drop the trigger");
        let changed = execute(
            &t.db,
            "UPDATE access_log SET actor = 'mallory@x.jp' WHERE seq = 3",
        )
        .await
        .unwrap();
        assert_eq!(changed, 1);

        assert_eq!(
            f.engine.verify_access_log().await.unwrap(),
            vec![Verification {
                tenant: "acme".into(),
                result: Err(ChainBreak::Altered { seq: 3 }),
            }]
        );
    }

    async fn a_removed_entry_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let refused = execute(&t.db, "DELETE FROM access_log WHERE seq = 2").await;
        let err = refused.expect_err("the database refuses to delete entries");
        assert!(err.to_string().contains("only by retention"), "{err}");

        // Someone with the database's keys drops the guard and deletes anyway.
        drop_trigger(t, "access_log_no_delete").await;
        let removed = execute(&t.db, "DELETE FROM access_log WHERE seq = 2")
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            f.engine.verify_access_log().await.unwrap()[0].result,
            Err(ChainBreak::Gap {
                seq: 3,
                expected_seq: 2
            })
        );
    }

    async fn removing_the_newest_entries_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        drop_trigger(t, "access_log_no_delete").await;
        execute(&t.db, "DELETE FROM access_log WHERE seq >= 3").await.unwrap();
        let result = f.engine.verify_access_log().await.unwrap()[0].result.clone();
        assert_eq!(
            result,
            Err(ChainBreak::Truncated {
                last_seq: 2,
                appended_seq: 4
            })
        );
        assert!(result.unwrap_err().to_string().contains("entry 3 is missing"));
    }

    async fn the_access_log_refuses_updates(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let refused = execute(
            &t.db,
            "UPDATE access_log SET actor = 'mallory@x.jp' WHERE seq = 3",
        )
        .await;
        let err = refused.expect_err("the trigger refuses the update");
        assert!(err.to_string().contains("append-only"), "{err}");
        let entry = f.log().await.into_iter().find(|e| e.seq == 3).unwrap();
        assert_eq!(entry.actor, "owner@acme.example");
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(4));
    }

    async fn retention_removes_entries_older_than_a_year_and_the_rest_still_verifies(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;

        // Nothing is old enough yet.
        f.clock.advance(Duration::days(364));
        assert_eq!(f.engine.purge_access_log().await.unwrap(), 0);

        f.clock.advance(Duration::days(2));
        f.engine
            .create_employee(&f.owner, person("bob@acme.example", "Bob"))
            .await
            .unwrap();
        assert_eq!(f.engine.purge_access_log().await.unwrap(), 4);

        let left: Vec<_> = f
            .log()
            .await
            .into_iter()
            .map(|e| (e.seq, e.action))
            .collect();
        // Retention recorded where it cut, in the chain, before cutting.
        assert_eq!(
            left,
            [
                (6, "access_log.purge".to_owned()),
                (5, "employee.create".to_owned())
            ]
        );
        let purge = f.logged("access_log.purge").await.pop().unwrap();
        let recorded: serde_json::Value = serde_json::from_str(&purge.detail).unwrap();
        assert_eq!(recorded["through_seq"], 4);
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(2));

        // The chain goes on from where retention cut it.
        f.engine
            .create_employee(&f.owner, person("carol@acme.example", "Carol"))
            .await
            .unwrap();
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(3));
        assert_eq!(
            f.engine.purge_access_log().await.unwrap(),
            0,
            "purging again removes nothing"
        );
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(3));
    }

    async fn the_log_can_be_filtered_by_action_and_actor(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let filter = Filter {
            action: Some("employee.update".into()),
            ..Filter::default()
        };
        let updates = f.engine.access_log(&f.owner, &filter, 500).await.unwrap();
        assert_eq!(updates.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
        let filter = Filter {
            actor: Some("system".into()),
            ..Filter::default()
        };
        let by_system = f.engine.access_log(&f.owner, &filter, 500).await.unwrap();
        assert_eq!(by_system.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    }
}

/// Drops one of the access log's guard triggers, as someone with the database's keys could.
async fn drop_trigger(t: &TestDb, name: &str) {
    let sql: &'static str = match (&t.db, name) {
        (Db::Sqlite(_), "access_log_no_delete") => "DROP TRIGGER access_log_no_delete",
        (Db::Postgres(_), "access_log_no_delete") => {
            "DROP TRIGGER access_log_no_delete ON access_log"
        }
        (Db::Sqlite(_), _) => "DROP TRIGGER access_log_no_update",
        (Db::Postgres(_), _) => "DROP TRIGGER access_log_no_update ON access_log",
    };
    execute(&t.db, sql).await.expect("drop the trigger");
}

storage_tests! {
    async fn entries_never_go_back_in_time_along_the_chain(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Another instance whose clock runs a minute behind records an event.
        f.clock.advance(Duration::minutes(-1));
        f.engine
            .create_employee(&f.owner, person("late@acme.example", "Late"))
            .await
            .unwrap();
        let log = f.log().await;
        assert!(log.windows(2).all(|pair| pair[0].at >= pair[1].at), "newest first, never older than the one before");
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(5));
    }
}

/// Runs `sql` and returns the database's refusal, which must contain `because`.
async fn refused(t: &TestDb, sql: &'static str, because: &str) {
    let err = execute(&t.db, sql)
        .await
        .expect_err(&format!("the database refuses: {sql}"));
    assert!(err.to_string().contains(because), "{sql}: {err}");
}

/// Drops a trigger of the head row, as someone with the database's keys could.
async fn drop_head_trigger(t: &TestDb, name: &str) {
    let sql: &'static str = match (&t.db, name) {
        (Db::Sqlite(_), "access_log_head_guard") => "DROP TRIGGER access_log_head_guard",
        (Db::Postgres(_), "access_log_head_guard") => {
            "DROP TRIGGER access_log_head_guard ON access_log_head"
        }
        (Db::Sqlite(_), _) => "DROP TRIGGER access_log_head_no_delete",
        (Db::Postgres(_), _) => "DROP TRIGGER access_log_head_no_delete ON access_log_head",
    };
    execute(&t.db, sql).await.expect("drop the trigger");
}

/// Records, inside `tx`, a retention through `through_seq` as the engine would, then cuts.
async fn purge_through_by_hand(
    f: &Fixture,
    tx: &mut Tx,
    through_seq: i64,
) -> Result<u64, StoreError> {
    let entry = f
        .log()
        .await
        .into_iter()
        .find(|e| e.seq == through_seq)
        .unwrap();
    let purge = Purge {
        through_seq,
        through_hash: entry.hash.clone(),
        through_at: entry.at,
    };
    let event = Event {
        actor: "system",
        ip: "local",
        action: PURGE_ACTION,
        target: "access_log".into(),
        detail: serde_json::to_value(&purge).unwrap(),
    };
    f.engine
        .record(tx, f.tenant.id, f.clock.now_ms(), event)
        .await
        .map_err(|err| match err {
            frontdesk_core::Error::Store(err) => err,
            other => panic!("{other}"),
        })?;
    store::purge_through(tx, f.tenant.id, through_seq, &entry.hash).await
}

const HEAD_MOVES: &str = "moves only onto the next appended entry";
const RETENTION_MARK: &str = "retention mark moves only forward";

storage_tests! {
    async fn each_way_of_moving_the_head_outside_appends_and_retention_is_refused(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Moving the retention mark forward (onto a real entry, with its hash) would let the
        // delete trigger remove everything up to it.
        refused(
            t,
            "UPDATE access_log_head SET purged_through_seq = 4, \
             purged_hash = (SELECT hash FROM access_log WHERE seq = 4)",
            RETENTION_MARK,
        )
        .await;
        refused(
            t,
            "UPDATE access_log_head SET last_seq = 2, \
             last_hash = (SELECT hash FROM access_log WHERE seq = 2)",
            HEAD_MOVES,
        )
        .await;
        refused(t, "UPDATE access_log_head SET last_seq = last_seq - 1", HEAD_MOVES).await;
        refused(t, "UPDATE access_log_head SET last_seq = last_seq + 1", HEAD_MOVES).await;
        refused(
            t,
            "UPDATE access_log_head SET last_hash = (SELECT hash FROM access_log WHERE seq = 3)",
            HEAD_MOVES,
        )
        .await;
        refused(t, "UPDATE access_log_head SET last_at = last_at + 1", HEAD_MOVES).await;
        refused(
            t,
            "UPDATE access_log_head SET tenant_id = tenant_id + 1",
            "tenant_id never changes",
        )
        .await;
        refused(
            t,
            "DELETE FROM access_log_head",
            "stays while its tenant has entries",
        )
        .await;
        // Through all of that, the log kept every entry and still verifies.
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(4));
    }

    async fn the_retention_mark_never_moves_back_nor_onto_an_entry_younger_than_a_year(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Retention the engine's way (recorded, then cut), but a day early: refused.
        f.clock.advance(Duration::days(364));
        let mut tx = t.db.write().await.unwrap();
        let err = purge_through_by_hand(&f, &mut tx, 4).await.expect_err("too early");
        assert!(err.to_string().contains(RETENTION_MARK), "{err}");
        drop(tx);

        f.clock.advance(Duration::days(2));
        assert_eq!(f.engine.purge_access_log().await.unwrap(), 4);
        refused(
            t,
            "UPDATE access_log_head SET purged_through_seq = 0, \
             purged_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
            RETENTION_MARK,
        )
        .await;
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(1));
    }

    async fn deleting_a_tenant_that_has_log_entries_is_refused(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let err = execute(&t.db, "DELETE FROM tenants")
            .await
            .expect_err("the tenant's log holds it");
        // SQLite checks the RESTRICT key first; PostgreSQL first cascades to the head row,
        // whose trigger refuses.
        let err = err.to_string().to_lowercase();
        assert!(
            err.contains("foreign key") || err.contains("stays while its tenant has entries"),
            "{err}"
        );
        assert_eq!(f.engine.verify_access_log().await.unwrap(), ok(4));
    }

    async fn a_retention_cut_early_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Someone with the database's keys drops the guard and runs retention by hand early.
        drop_head_trigger(t, "access_log_head_guard").await;
        let mut tx = t.db.write().await.unwrap();
        assert_eq!(purge_through_by_hand(&f, &mut tx, 3).await.unwrap(), 3);
        tx.commit().await.unwrap();
        let result = f.engine.verify_access_log().await.unwrap()[0].result.clone();
        assert_eq!(
            result,
            Err(ChainBreak::EarlyPurge {
                through_seq: 3,
                through_at: f.clock.now_ms(),
                purged_at: f.clock.now_ms(),
            })
        );
        assert!(result.unwrap_err().to_string().contains("removed early"));
    }

    async fn a_retention_mark_moved_without_a_recorded_retention_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        drop_head_trigger(t, "access_log_head_guard").await;
        execute(
            &t.db,
            "UPDATE access_log_head SET purged_through_seq = 2, \
             purged_hash = (SELECT hash FROM access_log WHERE seq = 2)",
        )
        .await
        .unwrap();
        execute(&t.db, "DELETE FROM access_log WHERE seq <= 2").await.unwrap();
        assert_eq!(
            f.engine.verify_access_log().await.unwrap()[0].result,
            Err(ChainBreak::UnrecordedPurge {
                through_seq: 2,
                recorded_seq: 0
            })
        );
    }

    async fn a_tenant_whose_log_was_removed_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        drop_head_trigger(t, "access_log_head_no_delete").await;
        execute(&t.db, "DELETE FROM access_log_head").await.unwrap();
        // Without a head, access_log_no_delete (from 0001) has nothing to compare with.
        execute(&t.db, "DELETE FROM access_log").await.unwrap();
        let verification = f.engine.verify_access_log().await.unwrap();
        assert_eq!(
            verification,
            vec![Verification {
                tenant: "acme".into(),
                result: Err(ChainBreak::Missing),
            }]
        );
        assert!(verification[0].result.clone().unwrap_err().to_string().contains("missing"));
    }

    async fn a_log_whose_tenant_was_deleted_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Someone with the database's keys takes the foreign key out of the way.
        match &t.db {
            Db::Sqlite(_) => execute(
                &t.db,
                "PRAGMA foreign_keys = OFF; DELETE FROM tenants; PRAGMA foreign_keys = ON",
            )
            .await
            .unwrap(),
            Db::Postgres(_) => {
                execute(&t.db, "ALTER TABLE access_log DROP CONSTRAINT access_log_tenant_id_fkey")
                    .await
                    .unwrap();
                execute(&t.db, "ALTER TABLE access_log_keys DROP CONSTRAINT access_log_keys_tenant_id_fkey")
                    .await
                    .unwrap();
                drop_head_trigger(t, "access_log_head_no_delete").await;
                execute(&t.db, "DELETE FROM tenants").await.unwrap()
            }
        };
        assert_eq!(
            f.engine.verify_access_log().await.unwrap(),
            vec![Verification {
                tenant: format!("#{}", f.tenant.id),
                result: Err(ChainBreak::Orphaned),
            }]
        );
    }

    async fn a_chain_rebuilt_without_the_sealing_key_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        // Someone who can write the database rewrites entry 2 and rehashes the chain from
        // there the only way they can: without the chain key (plain SHA-256).
        let entries = {
            let mut log = f.log().await;
            log.reverse();
            log
        };
        let forger = ChainKey { key: [0; 32], from_seq: i64::MAX };
        let mut prev = entries[0].hash.clone();
        let mut forged = Vec::new();
        for entry in &entries[1..] {
            let mut entry = entry.clone();
            if entry.seq == 2 {
                entry.actor = "someone-else@acme.example".into();
            }
            entry.prev_hash = prev.clone();
            entry.hash = entry.computed_hash(&forger);
            prev = entry.hash.clone();
            forged.push(entry);
        }
        drop_head_trigger(t, "access_log_head_guard").await;
        let no_update = match &t.db {
            Db::Sqlite(_) => "DROP TRIGGER access_log_no_update",
            Db::Postgres(_) => "DROP TRIGGER access_log_no_update ON access_log",
        };
        execute(&t.db, no_update).await.unwrap();
        for entry in &forged {
            let sql = format!(
                "UPDATE access_log SET actor = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                entry.actor, entry.prev_hash, entry.hash, entry.seq
            );
            execute_built(&t.db, sql).await;
        }
        execute_built(&t.db, format!("UPDATE access_log_head SET last_hash = '{prev}'")).await;
        let verified = f.engine.verify_access_log().await.unwrap();
        assert_eq!(verified[0].result, Err(ChainBreak::Altered { seq: 2 }), "{verified:?}");
    }

    async fn a_chain_key_copied_from_another_tenant_or_removed_is_named_by_verification(t: &TestDb) {
        let f = Fixture::new(t).await;
        some_admin_changes(&f).await;
        let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
        common::owner_of(&f.engine, &globex, "owner@globex.example").await;
        execute_built(&t.db,
            format!(
                "UPDATE access_log_keys SET sealed_key = \
                 (SELECT sealed_key FROM access_log_keys WHERE tenant_id = {}) WHERE tenant_id = {}",
                globex.id, f.tenant.id
            ),
        )
        .await;
        let verified = f.engine.verify_access_log().await.unwrap();
        assert_eq!(verified[0].result, Err(ChainBreak::KeyUnusable), "{verified:?}");
        assert!(verified[1].result.is_ok(), "the other tenant is unaffected: {verified:?}");
        // Appending refuses rather than writing an entry it cannot key.
        assert!(f.engine.change_password(&f.owner, common::OWNER_PASSWORD, "Another-Pass-77").await.is_err());

        execute_built(&t.db, format!("DELETE FROM access_log_keys WHERE tenant_id = {}", f.tenant.id)).await;
        let verified = f.engine.verify_access_log().await.unwrap();
        assert_eq!(verified[0].result, Err(ChainBreak::KeyMissing), "{verified:?}");
    }
}

/// Runs one statement built at run time (the same SQL on both backends).
async fn execute_built(db: &Db, sql: String) {
    let sql = sqlx::AssertSqlSafe(sql);
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect("statement runs");
}
