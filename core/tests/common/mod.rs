//! What the integration tests share: an engine on a test database with a manual clock,
//! a mailer that records what it is asked to send, and a tenant with an owner.
//!
//! Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use frontdesk_core::domain::access_log::Entry;
use frontdesk_core::domain::people::{Lang, NotificationPreference, Role};
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine, Settings};
use frontdesk_core::store::Db;
use frontdesk_core::store::access_log::Filter;
use frontdesk_core::store::tenant::Tenant;
pub use frontdesk_core::testing::{ManualClock, RecordingMailer, TempKeyStore};
use frontdesk_core::testing::{TestDb, TestEngine, test_settings, test_start};

/// The owner's password in every fixture.
pub const OWNER_PASSWORD: &str = "Blue-Kiosk-4821";

/// Where every test's clock starts.
pub fn start() -> DateTime<Utc> {
    test_start()
}

/// Settings with cheap password hashing, so tests are fast.
pub fn settings() -> Settings {
    test_settings()
}

/// An engine, its clock and mailer, the tenant `acme` and its owner (who may export).
#[derive(Debug)]
pub struct Fixture {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<RecordingMailer>,
    pub tenant_keys: Arc<TempKeyStore>,
    pub tenant: Tenant,
    pub owner: Actor,
}

impl Fixture {
    /// The fixture on the test database `t`.
    pub async fn new(t: &TestDb) -> Fixture {
        let TestEngine {
            engine,
            clock,
            mailer,
            tenant_keys,
        } = TestEngine::on(t);
        let tenant = engine.ensure_tenant("acme", "Acme").await.expect("tenant");
        let owner = owner_of(&engine, &tenant, "owner@acme.example").await;
        Fixture {
            engine,
            clock,
            mailer,
            tenant_keys,
            tenant,
            owner,
        }
    }

    /// Another account of the fixture's tenant, created by its owner.
    pub async fn account(&self, email: &str, role: Role, can_export: bool) -> Actor {
        let new = NewAdmin {
            email: email.into(),
            password: OWNER_PASSWORD.into(),
            role,
            can_export,
            language: Lang::En,
        };
        let account = self
            .engine
            .create_account(self.tenant.id, Some(&self.owner), &new)
            .await
            .expect("account");
        Actor {
            account,
            ip: "192.0.2.10".into(),
        }
    }

    /// The owner's tenant's log, newest first.
    pub async fn log(&self) -> Vec<Entry> {
        self.engine
            .access_log(&self.owner, &Filter::default(), 500)
            .await
            .expect("access log")
    }

    /// The actions in the owner's tenant's log that are named `action`.
    pub async fn logged(&self, action: &str) -> Vec<Entry> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e.action == action)
            .collect()
    }
}

/// Creates an owner (who may export) of `tenant` from the command line, acting from 192.0.2.1.
pub async fn owner_of(engine: &Engine, tenant: &Tenant, email: &str) -> Actor {
    let new = NewAdmin {
        email: email.into(),
        password: OWNER_PASSWORD.into(),
        role: Role::Owner,
        can_export: true,
        language: Lang::Ja,
    };
    let account = engine
        .create_account(tenant.id, None, &new)
        .await
        .expect("owner");
    Actor {
        account,
        ip: "192.0.2.1".into(),
    }
}

/// Runs one statement directly on the database (the same SQL on both backends).
pub async fn execute(db: &Db, sql: &'static str) -> Result<u64, sqlx::Error> {
    Ok(match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
    })
}

/// A plain employee profile: `email`, `name`, no department, Tokyo, Japanese, chat.
pub fn person(email: &str, name: &str) -> EmployeeInput {
    EmployeeInput {
        email: email.into(),
        name: name.into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: Lang::Ja,
        notification: NotificationPreference::Chat,
        chat_identities: Default::default(),
    }
}
