//! Per-tenant data keys: each tenant's values are sealed under its own key, kept outside the
//! database and wrapped by the master keys; a purge deletes the key, so the tenant's values
//! copied before (in any backup) no longer open.

mod common;

use std::sync::Arc;

use common::{Fixture, owner_of, settings};
use frontdesk_core::engine::Engine;
use frontdesk_core::port::{Keyring, Ports, SealError, SealedAt, TenantKeyStore, sealing_key_id};
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::TestDb;

/// Every outbox row: id, tenant, sealed payload.
async fn payloads(db: &Db) -> Vec<(i64, i64, String)> {
    const SQL: &str = "SELECT id, tenant_id, payload FROM outbox ORDER BY id";
    match db {
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
    }
}

/// Every tenant's sealed access-log chain key.
async fn chain_keys(db: &Db) -> Vec<(i64, String)> {
    const SQL: &str = "SELECT tenant_id, sealed_key FROM access_log_keys ORDER BY tenant_id";
    match db {
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
    }
}

async fn set_payload(db: &Db, id: i64, payload: &str) {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query("UPDATE outbox SET payload = $1 WHERE id = $2")
                .bind(payload)
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query("UPDATE outbox SET payload = $1 WHERE id = $2")
                .bind(payload)
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

fn payload_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "outbox",
        column: "payload",
        row,
    }
}

/// `(id, tenant, payload)` opened by `engine`.
fn open(
    engine: &Engine,
    (id, tenant_id, payload): &(i64, i64, String),
) -> Result<Vec<u8>, SealError> {
    engine.open_for_tenant(payload, payload_at(*tenant_id, &id.to_string()))
}

/// The fixture's engine with other master keys (the same database and key store).
fn with_master_keys(f: &Fixture, keys: &[[u8; 32]]) -> Engine {
    let ports = Ports {
        secrets: Arc::new(Keyring::new(keys).unwrap()),
        ..f.engine.ports.clone()
    };
    Engine::new(f.engine.db.clone(), ports, settings())
}

fn key_id(sealed: &str) -> &str {
    sealing_key_id(sealed).expect("a sealed value")
}

/// Acme (the fixture) and Globex, each with a reset mail queued (a sealed payload).
async fn two_tenants(t: &TestDb) -> (Fixture, i64) {
    let f = Fixture::new(t).await;
    let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
    owner_of(&f.engine, &globex, "owner@globex.example").await;
    f.engine
        .request_password_reset("acme", "owner@acme.example", "192.0.2.1")
        .await
        .unwrap();
    f.engine
        .request_password_reset("globex", "owner@globex.example", "192.0.2.1")
        .await
        .unwrap();
    (f, globex.id)
}

storage_tests! {
    async fn each_tenant_seals_under_its_own_key_which_the_database_does_not_hold(t: &TestDb) {
        let (f, globex) = two_tenants(t).await;
        let rows = payloads(&f.engine.db).await;
        let acme_row = rows.iter().find(|r| r.1 == f.tenant.id).unwrap();
        let globex_row = rows.iter().find(|r| r.1 == globex).unwrap();
        let (acme_key, globex_key) = (key_id(&acme_row.2), key_id(&globex_row.2));
        assert_ne!(acme_key, globex_key, "two tenants, two keys");
        for id in [acme_key, globex_key] {
            assert!(!f.engine.ports.secrets.holds_key(id), "not sealed under the master key");
        }
        assert!(String::from_utf8(open(&f.engine, acme_row).unwrap()).unwrap().contains("owner@acme.example"));
        // The tenant's other values use the same key: its access-log chain key too.
        let chains = chain_keys(&f.engine.db).await;
        let acme_chain = chains.iter().find(|(tenant, _)| *tenant == f.tenant.id).unwrap();
        assert_eq!(key_id(&acme_chain.1), acme_key);
        // The keys are in the key store, wrapped by the master key, and nowhere in the database.
        assert_eq!(f.tenant_keys.tenants().unwrap(), vec![f.tenant.id, globex]);
        let wrapped = f.tenant_keys.get(f.tenant.id).unwrap().unwrap();
        assert!(f.engine.ports.secrets.holds_key(key_id(&wrapped)));
        let row = acme_row.0.to_string();
        let a_value_sealed_elsewhere = SealedAt { tenant_id: globex, ..payload_at(f.tenant.id, &row) };
        assert!(f.engine.open_for_tenant(&acme_row.2, a_value_sealed_elsewhere).is_err(), "a value moved to another tenant does not open");
    }

    async fn a_purged_tenants_values_copied_before_the_purge_no_longer_open(t: &TestDb) {
        let (f, globex) = two_tenants(t).await;
        // What a backup taken now holds.
        let backed_up = payloads(&f.engine.db).await;
        let acme_row = backed_up.iter().find(|r| r.1 == f.tenant.id).unwrap();
        let globex_row = backed_up.iter().find(|r| r.1 == globex).unwrap();
        assert!(open(&f.engine, acme_row).is_ok());

        f.engine.purge_tenant("acme", "operator@host").await.unwrap();

        assert!(
            matches!(open(&f.engine, acme_row), Err(SealError::UnknownKey(id)) if id == key_id(&acme_row.2)),
            "the purged tenant's key is gone"
        );
        assert_eq!(f.tenant_keys.tenants().unwrap(), vec![globex]);
        assert!(open(&f.engine, globex_row).is_ok(), "the other tenant is untouched");
        let purges = f.engine.purges().await.unwrap();
        assert!(purges[0].detail.contains("\"data_key_deleted\":true"), "{}", purges[0].detail);
    }

    async fn values_sealed_before_tenant_keys_open_and_rotation_moves_them_under_the_tenant_key(t: &TestDb) {
        let (f, _) = two_tenants(t).await;
        let row = payloads(&f.engine.db).await.into_iter().find(|r| r.1 == f.tenant.id).unwrap();
        let plain = open(&f.engine, &row).unwrap();
        // As it was stored before tenants had their own keys: under the master key.
        let legacy = f.engine.ports.secrets.seal(&plain, payload_at(row.1, &row.0.to_string()));
        set_payload(&f.engine.db, row.0, &legacy).await;
        assert_eq!(open(&f.engine, &(row.0, row.1, legacy.clone())).unwrap(), plain);

        let resealed = f.engine.reseal_all().await.unwrap();
        assert_eq!(resealed.messages, 1, "{resealed:?}");
        let now = payloads(&f.engine.db).await.into_iter().find(|r| r.0 == row.0).unwrap();
        assert!(!f.engine.ports.secrets.holds_key(key_id(&now.2)), "under the tenant's key now");
        assert_eq!(open(&f.engine, &now).unwrap(), plain);
        assert_eq!(f.engine.reseal_all().await.unwrap().messages, 0, "nothing left to move");
    }

    async fn a_new_master_key_rewraps_the_data_keys_and_the_old_one_can_go(t: &TestDb) {
        let (f, _) = two_tenants(t).await;
        let rows = payloads(&f.engine.db).await;
        let rotated = with_master_keys(&f, &[[7; 32], [9; 32]]);
        let resealed = rotated.reseal_all().await.unwrap();
        assert_eq!((resealed.data_keys, resealed.messages, resealed.chain_keys), (2, 0, 0), "values keep their data keys");
        let only_new = with_master_keys(&f, &[[9; 32]]);
        for row in &rows {
            assert!(open(&only_new, row).is_ok(), "opens without the old master key");
            assert!(matches!(open(&with_master_keys(&f, &[[8; 32]]), row), Err(SealError::KeyUnavailable(_))),
                "a wrong master key cannot unwrap the data key");
        }
    }

    async fn tenants_whose_key_is_not_in_the_store_are_named(t: &TestDb) {
        let (f, _) = two_tenants(t).await;
        assert!(f.engine.tenants_missing_data_keys().await.unwrap().is_empty());
        // A restored database next to a key store that lost acme's key (purged since, or
        // the wrong directory).
        f.tenant_keys.dir_store().delete(f.tenant.id).unwrap();
        let missing = f.engine.tenants_missing_data_keys().await.unwrap();
        let slugs: Vec<&str> = missing.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["acme"]);
    }
}
