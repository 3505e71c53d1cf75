//! The outbox: messages written with the change that causes them are delivered once,
//! retried when the mail server fails for now, and dead-lettered with the reason when it
//! refuses for good.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use common::Fixture;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::dispatcher::MAX_ATTEMPTS;
use frontdesk_core::port::{Mail, MailError, Mailer, Ports, SealedAt};
use frontdesk_core::storage_tests;
use frontdesk_core::store::{Db, outbox};
use frontdesk_core::testing::TestDb;

/// A mail server that answers from a script, then accepts everything; records deliveries.
#[derive(Debug, Default)]
struct ScriptedMailer {
    script: Mutex<VecDeque<MailError>>,
    delivered: Mutex<Vec<Mail>>,
}

impl ScriptedMailer {
    fn failing_with(errors: impl IntoIterator<Item = MailError>) -> Arc<Self> {
        Arc::new(ScriptedMailer {
            script: Mutex::new(errors.into_iter().collect()),
            delivered: Mutex::default(),
        })
    }

    fn delivered(&self) -> Vec<Mail> {
        self.delivered.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Mailer for ScriptedMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if let Some(error) = self.script.lock().unwrap().pop_front() {
            return Err(error);
        }
        self.delivered.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// The fixture's engine, but sending through `mailer`.
fn sending_through(f: &Fixture, mailer: Arc<ScriptedMailer>) -> Engine {
    let ports = Ports {
        mailer,
        ..f.engine.ports.clone()
    };
    Engine::new(f.engine.db.clone(), ports, common::settings())
}

async fn dead_letters(db: &Db, tenant_id: i64) -> Vec<outbox::DeadLetter> {
    let mut tx = db.read().await.unwrap();
    outbox::dead_letters(&mut tx, tenant_id).await.unwrap()
}

storage_tests! {
    async fn a_temporary_failure_is_retried_after_a_backoff_and_delivered_once(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mailer = ScriptedMailer::failing_with([MailError::Temporary("421 try later".into())]);
        let engine = sending_through(&f, mailer.clone());
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();

        assert_eq!(engine.dispatch_due().await.unwrap(), 1, "tried once");
        assert!(mailer.delivered().is_empty());
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "not due again before the backoff");

        f.clock.advance(Duration::seconds(3));
        assert_eq!(engine.dispatch_due().await.unwrap(), 1);
        assert_eq!(mailer.delivered().len(), 1);
        f.clock.advance(Duration::hours(1));
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "a sent message is not sent again");
        assert_eq!(mailer.delivered().len(), 1);
    }

    async fn a_permanent_refusal_is_dead_lettered_with_its_reason(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mailer = ScriptedMailer::failing_with([MailError::Permanent("550 no such user".into())]);
        let engine = sending_through(&f, mailer.clone());
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        engine.dispatch_due().await.unwrap();

        let dead = engine.undeliverable(&f.owner).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].to, "owner@acme.example");
        assert!(dead[0].reason.contains("550 no such user"), "{dead:?}");
        let desk = f.account("desk@acme.example", frontdesk_core::domain::people::Role::Receptionist, false).await;
        assert!(engine.undeliverable(&desk).await.is_err(), "receptionists do not see them");
        f.clock.advance(Duration::days(1));
        assert_eq!(engine.dispatch_due().await.unwrap(), 0, "a dead letter is not retried");
        assert_eq!(f.logged("password_reset.request").await.len(), 1, "the request itself was recorded");
    }

    async fn a_message_that_keeps_failing_is_given_up_after_the_last_attempt(t: &TestDb) {
        let f = Fixture::new(t).await;
        let failures = (0..MAX_ATTEMPTS).map(|i| MailError::Temporary(format!("attempt {}", i + 1)));
        let mailer = ScriptedMailer::failing_with(failures);
        let engine = sending_through(&f, mailer.clone());
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert_eq!(engine.dispatch_due().await.unwrap(), 1);
            f.clock.advance(Duration::hours(1));
        }
        let dead = dead_letters(&engine.db, f.tenant.id).await;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
        assert!(mailer.delivered().is_empty());
    }

    async fn two_dispatchers_on_one_database_deliver_each_message_once(t: &TestDb) {
        let f = Fixture::new(t).await;
        for i in 0..10 {
            let email = format!("admin{i}@acme.example");
            f.account(&email, frontdesk_core::domain::people::Role::Admin, false).await;
            f.engine.request_password_reset("acme", &email, "192.0.2.1").await.unwrap();
        }
        let first = ScriptedMailer::failing_with([]);
        let second = ScriptedMailer::failing_with([]);
        let other_pool = Db::connect(t.url()).await.unwrap();
        let a = sending_through(&f, first.clone());
        let ports = Ports { mailer: second.clone(), ..f.engine.ports.clone() };
        let b = Engine::new(other_pool, ports, common::settings());
        let (sent_a, sent_b) = tokio::join!(a.dispatch_due(), b.dispatch_due());
        assert_eq!(sent_a.unwrap() + sent_b.unwrap(), 10);
        let mut recipients: Vec<String> =
            first.delivered().into_iter().chain(second.delivered()).map(|m| m.to).collect();
        recipients.sort();
        recipients.dedup();
        assert_eq!(recipients.len(), 10, "every message once, none twice");
    }
}

/// Every payload stored in the outbox, as stored (sealed).
async fn payloads(db: &Db) -> Vec<String> {
    rows(db)
        .await
        .into_iter()
        .map(|(_, _, payload)| payload)
        .collect()
}

/// Every outbox row: id, tenant, payload as stored.
async fn rows(db: &Db) -> Vec<(i64, i64, String)> {
    const SQL: &str = "SELECT id, tenant_id, payload FROM outbox ORDER BY id";
    match db {
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await.unwrap(),
    }
}

/// A stored payload opened with the engine's keys, as text.
fn opened(engine: &Engine, (id, tenant_id, payload): &(i64, i64, String)) -> String {
    let row = id.to_string();
    let at = SealedAt {
        tenant_id: *tenant_id,
        table: "outbox",
        column: "payload",
        row: &row,
    };
    String::from_utf8(engine.open_for_tenant(payload, at).expect("opens")).unwrap()
}

storage_tests! {
    async fn a_delivered_reset_mail_leaves_no_live_link_in_the_database(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mailer = ScriptedMailer::failing_with([]);
        let engine = sending_through(&f, mailer.clone());
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        let queued = &rows(&engine.db).await[0];
        assert!(!queued.2.contains("token=") && !queued.2.contains("owner@"), "sealed at rest: {queued:?}");
        assert!(opened(&engine, queued).contains("token="), "queued with its link");
        engine.dispatch_due().await.unwrap();
        assert!(mailer.delivered()[0].body.contains("token="));
        assert_eq!(payloads(&engine.db).await, [String::new()], "cleared once delivered");
    }

    async fn a_dead_letter_keeps_recipient_and_subject_but_not_the_link(t: &TestDb) {
        let f = Fixture::new(t).await;
        let mailer = ScriptedMailer::failing_with([MailError::Permanent("550 no such user".into())]);
        let engine = sending_through(&f, mailer);
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        engine.dispatch_due().await.unwrap();
        let stored = opened(&engine, &rows(&engine.db).await[0]);
        assert!(stored.contains("owner@acme.example"), "{stored:?}");
        assert!(!stored.contains("token="), "{stored:?}");
        assert!(!engine.undeliverable(&f.owner).await.unwrap()[0].subject.is_empty());
    }

    async fn a_payload_copied_into_another_tenants_row_does_not_open_and_is_given_up(t: &TestDb) {
        let f = Fixture::new(t).await;
        let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
        let globex_owner = common::owner_of(&f.engine, &globex, "owner@globex.example").await;
        let mailer = ScriptedMailer::failing_with([]);
        let engine = sending_through(&f, mailer.clone());
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        engine.request_password_reset("globex", "owner@globex.example", "192.0.2.1").await.unwrap();
        let stored = rows(&engine.db).await;
        let copy = format!("UPDATE outbox SET payload = '{}' WHERE id = {}", stored[0].2, stored[1].0);
        match &engine.db {
            Db::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(copy)).execute(pool).await.map(|_| ()),
            Db::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(copy)).execute(pool).await.map(|_| ()),
        }
        .unwrap();
        engine.dispatch_due().await.unwrap();
        let delivered: Vec<String> = mailer.delivered().into_iter().map(|m| m.to).collect();
        assert_eq!(delivered, ["owner@acme.example"], "the copy was not sent to acme's owner twice");
        let dead = engine.undeliverable(&globex_owner).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].reason.contains("cannot be opened"), "{dead:?}");
    }

    async fn housekeeping_forgets_sent_messages_after_thirty_days(t: &TestDb) {
        let f = Fixture::new(t).await;
        let engine = sending_through(&f, ScriptedMailer::failing_with([]));
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        engine.dispatch_due().await.unwrap();
        f.clock.advance(Duration::days(29));
        engine.housekeeping().await.unwrap();
        assert_eq!(payloads(&engine.db).await.len(), 1, "kept for 30 days");
        f.clock.advance(Duration::days(2));
        engine.housekeeping().await.unwrap();
        assert!(payloads(&engine.db).await.is_empty());
    }

    async fn a_purged_messages_id_is_not_given_again_so_its_old_payload_opens_nowhere(t: &TestDb) {
        let f = Fixture::new(t).await;
        let engine = sending_through(&f, ScriptedMailer::failing_with([]));
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        // What a backup taken before delivery holds.
        let (old_id, tenant_id, old_payload) = rows(&engine.db).await.remove(0);
        engine.dispatch_due().await.unwrap();
        f.clock.advance(Duration::days(31));
        engine.housekeeping().await.unwrap();
        assert!(rows(&engine.db).await.is_empty(), "purged");
        engine.request_password_reset("acme", "owner@acme.example", "192.0.2.1").await.unwrap();
        let new = rows(&engine.db).await.remove(0);
        assert!(new.0 > old_id, "a new id: {} after {old_id}", new.0);
        assert!(opened(&engine, &new).contains("token="));
        let row = new.0.to_string();
        let at = SealedAt { tenant_id, table: "outbox", column: "payload", row: &row };
        assert!(engine.open_for_tenant(&old_payload, at).is_err(), "the old link stays sealed");
    }
}
