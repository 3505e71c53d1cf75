//! Test builders shared by every crate's tests: an engine on a test database with a clock
//! that moves only when told to and a mailer that records what it is asked to send.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::domain::chat::Message;
use crate::domain::people::Platform;
use crate::domain::people::Role;
use crate::engine::auth::NewAdmin;
use crate::engine::{Actor, Engine, PasswordHashing, Settings};
use crate::i18n::Lang;
use crate::port::{
    AttemptSecrets, Calendars, ChatBot, ChatBots, ChatError, Clock, DirKeyStore, Keyring, Mail,
    MailError, Mailer, OidcClient, OidcError, OpenIdProvider, Ports, Recipient, Sent,
    TenantKeyStore, VerifiedIdentity, WebhookError, WebhookPost, WebhookSender,
};
use crate::store::Db;
use crate::store::tenant::Tenant;
use crate::testing::TestDb;

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A mailer that keeps what it is asked to send.
#[derive(Debug, Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<Mail>>,
}

impl RecordingMailer {
    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(mail.clone());
        Ok(())
    }
}

/// An identity-provider port for tests that do not sign in through one: every issuer
/// answers discovery, and no sign-in completes. Single sign-on tests use the real client
/// (`frontdesk-connectors`) against a local fake identity provider instead.
#[derive(Debug, Default)]
pub struct DiscoverableOpenIdProvider;

#[async_trait::async_trait]
impl OpenIdProvider for DiscoverableOpenIdProvider {
    async fn discover(&self, _issuer: &str) -> Result<(), OidcError> {
        Ok(())
    }

    async fn authorization_url(
        &self,
        client: &OidcClient,
        _attempt: &AttemptSecrets,
    ) -> Result<String, OidcError> {
        Err(OidcError::Discovery(format!(
            "{} is not a real identity provider",
            client.issuer
        )))
    }

    async fn verify_code(
        &self,
        client: &OidcClient,
        _code: &str,
        _attempt: &AttemptSecrets,
        _now: DateTime<Utc>,
    ) -> Result<VerifiedIdentity, OidcError> {
        Err(OidcError::Discovery(format!(
            "{} is not a real identity provider",
            client.issuer
        )))
    }
}

/// A keyring with one fixed key (tests that need a second key make their own).
pub fn test_keyring() -> Keyring {
    Keyring::new(&[[7; 32]]).expect("one key")
}

/// Tenants' data keys in a temporary directory, removed with the last engine holding it.
#[derive(Debug)]
pub struct TempKeyStore {
    store: DirKeyStore,
    _dir: tempfile::TempDir,
}

impl TempKeyStore {
    /// An empty store.
    pub fn new() -> TempKeyStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        TempKeyStore {
            store: DirKeyStore::open(&dir.path().join("tenant-keys")).expect("a key directory"),
            _dir: dir,
        }
    }

    /// The directory store inside (to delete a key file behind the engine's back).
    pub fn dir_store(&self) -> &DirKeyStore {
        &self.store
    }
}

impl Default for TempKeyStore {
    fn default() -> Self {
        TempKeyStore::new()
    }
}

impl TenantKeyStore for TempKeyStore {
    fn get(&self, tenant_id: i64) -> std::io::Result<Option<String>> {
        self.store.get(tenant_id)
    }
    fn insert_new(&self, tenant_id: i64, wrapped: &str) -> std::io::Result<String> {
        self.store.insert_new(tenant_id, wrapped)
    }
    fn replace(&self, tenant_id: i64, wrapped: &str) -> std::io::Result<()> {
        self.store.replace(tenant_id, wrapped)
    }
    fn delete(&self, tenant_id: i64) -> std::io::Result<bool> {
        self.store.delete(tenant_id)
    }
    fn tenants(&self) -> std::io::Result<Vec<i64>> {
        self.store.tenants()
    }
    fn location(&self) -> String {
        self.store.location()
    }
}

/// Where every test's clock starts: 2026-11-25 00:00 UTC (09:00 in Tokyo).
pub fn test_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .expect("a valid instant")
}

/// Settings with cheap password hashing, so tests are fast.
pub fn test_settings() -> Settings {
    Settings {
        password_hashing: PasswordHashing {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..Settings::default()
    }
}

/// An engine for a test, with the clock and mailer it was built with.
#[derive(Debug, Clone)]
pub struct TestEngine {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<RecordingMailer>,
    /// Where the engine keeps tenants' data keys.
    pub tenant_keys: Arc<TempKeyStore>,
}

impl TestEngine {
    /// An engine on the test database `t` (and its key store) with [`test_settings`], the
    /// clock at [`test_start`]. Engines on one test database share tenants' data keys, as
    /// servers on one database do.
    pub fn on(t: &TestDb) -> TestEngine {
        TestEngine::with_settings(t, test_settings())
    }

    /// [`TestEngine::on`] with `settings`.
    pub fn with_settings(t: &TestDb, settings: Settings) -> TestEngine {
        TestEngine::assemble(t.db.clone(), t.tenant_keys.clone(), settings)
    }

    /// [`TestEngine::on`], with `bot` as its only chat platform.
    pub fn with_chat(t: &TestDb, bot: Arc<dyn ChatBot>) -> TestEngine {
        let test = TestEngine::on(t);
        let ports = Ports {
            chat: ChatBots::default().with(bot),
            ..test.engine.ports.clone()
        };
        TestEngine {
            engine: Engine::new(t.db.clone(), ports, test_settings()),
            ..test
        }
    }

    /// An engine on a database that is not a [`TestDb`] (a restored copy, an older
    /// schema), with a key store of its own.
    pub fn on_db(db: Db) -> TestEngine {
        TestEngine::assemble(db, Arc::new(TempKeyStore::new()), test_settings())
    }

    fn assemble(db: Db, tenant_keys: Arc<TempKeyStore>, settings: Settings) -> TestEngine {
        let clock = Arc::new(ManualClock::new(test_start()));
        let mailer = Arc::new(RecordingMailer::default());
        let ports = Ports {
            clock: clock.clone(),
            mailer: mailer.clone(),
            secrets: Arc::new(test_keyring()),
            tenant_keys: tenant_keys.clone(),
            chat: ChatBots::default(),
            calendars: Calendars::default(),
            openid: Arc::new(DiscoverableOpenIdProvider),
            webhooks: Arc::new(RecordingWebhooks::default()),
        };
        TestEngine {
            engine: Engine::new(db, ports, settings),
            clock,
            mailer,
            tenant_keys,
        }
    }

    /// This engine's ports with another identity-provider client (the real one, in the
    /// single sign-on tests).
    pub fn ports_with_openid(&self, openid: Arc<dyn OpenIdProvider>) -> Ports {
        Ports {
            openid,
            ..self.engine.ports.clone()
        }
    }

    /// This engine's ports with another mailer (e.g. one that fails on cue).
    pub fn ports_with_mailer(&self, mailer: Arc<dyn Mailer>) -> Ports {
        Ports {
            mailer,
            ..self.engine.ports.clone()
        }
    }

    /// This engine's ports with another webhook sender (a [`RecordingWebhooks`] to look at,
    /// or the real one against a local receiver).
    pub fn ports_with_webhooks(&self, webhooks: Arc<dyn WebhookSender>) -> Ports {
        Ports {
            webhooks,
            ..self.engine.ports.clone()
        }
    }
}

/// A webhook sender that keeps what it is asked to deliver and fails on cue.
#[derive(Debug, Default)]
pub struct RecordingWebhooks {
    posted: Mutex<Vec<WebhookPost>>,
    failures: Mutex<std::collections::VecDeque<WebhookError>>,
}

impl RecordingWebhooks {
    /// Every delivery that succeeded so far, oldest first.
    pub fn posted(&self) -> Vec<WebhookPost> {
        locked(&self.posted).clone()
    }

    /// Makes the next deliveries fail with `errors`, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = WebhookError>) {
        locked(&self.failures).extend(errors);
    }
}

#[async_trait::async_trait]
impl WebhookSender for RecordingWebhooks {
    async fn post(&self, post: &WebhookPost) -> Result<(), WebhookError> {
        if let Some(error) = locked(&self.failures).pop_front() {
            return Err(error);
        }
        locked(&self.posted).push(post.clone());
        Ok(())
    }
}

/// A chat platform that records what it is asked to send and update, knows the users'
/// emails it is told, and fails on cue.
#[derive(Debug)]
pub struct RecordingBot {
    platform: Platform,
    emails: Mutex<BTreeMap<String, String>>,
    sent: Mutex<Vec<(Recipient, Message)>>,
    updated: Mutex<Vec<(Sent, Message)>>,
    failures: Mutex<std::collections::VecDeque<ChatError>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RecordingBot {
    /// A bot of `platform` that knows no one.
    pub fn new(platform: Platform) -> RecordingBot {
        RecordingBot {
            platform,
            emails: Mutex::default(),
            sent: Mutex::default(),
            updated: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// This bot, knowing that platform user `user_id` has the verified email `email`.
    pub fn knowing(self, user_id: &str, email: &str) -> RecordingBot {
        locked(&self.emails).insert(user_id.into(), email.into());
        self
    }

    /// Makes the next sends and updates fail with `errors`, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ChatError>) {
        locked(&self.failures).extend(errors);
    }

    /// Every message sent so far.
    pub fn sent(&self) -> Vec<(Recipient, Message)> {
        locked(&self.sent).clone()
    }

    /// Every update so far: which message, and its new version.
    pub fn updated(&self) -> Vec<(Sent, Message)> {
        locked(&self.updated).clone()
    }

    fn scripted_failure(&self) -> Result<(), ChatError> {
        match locked(&self.failures).pop_front() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl ChatBot for RecordingBot {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn send(&self, to: &Recipient, message: &Message) -> Result<Sent, ChatError> {
        self.scripted_failure()?;
        let mut sent = locked(&self.sent);
        sent.push((to.clone(), message.clone()));
        let conversation = match to {
            Recipient::User(id) => format!("D-{id}"),
            Recipient::Channel(id) => id.clone(),
        };
        Ok(Sent {
            conversation,
            message_id: format!("m{}", sent.len()),
        })
    }

    async fn update(&self, sent: &Sent, message: &Message) -> Result<(), ChatError> {
        self.scripted_failure()?;
        locked(&self.updated).push((sent.clone(), message.clone()));
        Ok(())
    }

    async fn user_email(&self, user_id: &str) -> Result<Option<String>, ChatError> {
        Ok(locked(&self.emails).get(user_id).cloned())
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        Ok(locked(&self.emails)
            .iter()
            .find(|(_, known)| known.as_str() == email)
            .map(|(user, _)| user.clone()))
    }
}

/// The tenant `acme` (made if needed) and a new owner of it, `owner@acme.example`, acting
/// from 192.0.2.1: who sets up what a test needs.
pub async fn acme_owner(engine: &Engine) -> (Tenant, Actor) {
    let tenant = engine
        .ensure_tenant("acme", "Acme")
        .await
        .expect("tenant acme");
    let owner = NewAdmin {
        email: "owner@acme.example".into(),
        password: "Blue-Kiosk-4821".into(),
        role: Role::Owner,
        can_export: true,
        language: Lang::En,
    };
    let account = engine
        .create_account(tenant.id, None, &owner)
        .await
        .expect("acme's owner");
    let owner = Actor {
        account,
        ip: "192.0.2.1".into(),
    };
    (tenant, owner)
}
