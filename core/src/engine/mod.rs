//! Use cases and jobs: what the HTTP edge, the CLI and the scheduler call.
//!
//! An [`Engine`] holds the database and the ports. Each admin change is written in one
//! transaction together with its access-log entry (and any outbox message), so a change is
//! never recorded without its log entry or the other way round.

pub mod access_log;
pub mod auth;
pub mod backup;
pub mod badge;
pub mod booking;
pub mod booking_chat;
pub mod calendar;
pub mod contract_end;
pub mod conversation;
pub mod data_keys;
pub mod demo;
pub mod directory;
pub mod dispatcher;
pub mod expected_visit;
pub mod hashing;
pub mod invitation;
pub mod invited_visit;
pub mod ip_allow_list;
pub mod local_calendar;
pub mod notice;
pub mod outbox;
pub mod outgoing_webhook;
pub mod reception;
pub mod reception_jobs;
pub mod room;
pub mod scheduler;
pub mod secrets;
pub mod sso;
pub mod tenant;
pub mod visit_history;
pub mod visitor_label;
pub mod web_chat;

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::Notify;

use self::hashing::{Hashers, HashingLimits};
use crate::domain::people::Permission;
use crate::port::Ports;
use crate::store::Db;
use crate::store::account::Account;
use crate::{Error, Result};

/// How many items one page of a listing holds at most.
pub const MAX_PAGE: i64 = 500;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordHashing {
    /// OWASP's minimum for Argon2id (the argon2 crate's defaults): 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        PasswordHashing {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// When repeated failed logins lock an account or an address.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures are counted over this window.
    pub window: Duration,
    /// Failures for one account within the window that lock it.
    pub account_failures: i64,
    /// Failures from one address within the window that lock it.
    pub ip_failures: i64,
    /// How long a lock lasts.
    pub lock_for: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            window: Duration::minutes(15),
            account_failures: 10,
            ip_failures: 100,
            lock_for: Duration::minutes(15),
        }
    }
}

/// Settings of the engine, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach this server (links in mail and chat).
    pub public_url: String,
    pub password_hashing: PasswordHashing,
    /// How many hashes may run and wait at once.
    pub hashing_limits: HashingLimits,
    pub throttle: ThrottlePolicy,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// How long a password-reset link works (at most 60 minutes).
    pub reset_ttl: Duration,
    /// How long access-log entries are kept (at least 365 days).
    pub access_log_retention_days: i64,
    /// A demo server: the demo tenant's kiosks and room pages work without pairing.
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:8080".into(),
            password_hashing: PasswordHashing::default(),
            hashing_limits: HashingLimits::default(),
            throttle: ThrottlePolicy::default(),
            session_ttl: Duration::hours(12),
            reset_ttl: Duration::minutes(60),
            access_log_retention_days: 365,
            demo: false,
        }
    }
}

/// The engine: database, ports and settings, cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub db: Db,
    /// The outside world: clock, mailer, …
    pub ports: Ports,
    pub settings: Arc<Settings>,
    /// Wakes the outbox dispatcher when a message was queued by this instance.
    pub outbox_queued: Arc<Notify>,
    /// Wakes the calendar syncer when a push or a new connection made a calendar due.
    pub calendar_due: Arc<Notify>,
    /// Counts visit changes of this instance; live kiosk streams watch it.
    visits_changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// Counts room changes of this instance; live door displays watch it.
    rooms_changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// Counts web chat writes of this instance; live web chat streams watch it.
    web_chat_written: Arc<tokio::sync::watch::Sender<u64>>,
    /// A hash verified against for unknown accounts (made once, with these settings).
    decoy_hash: Arc<tokio::sync::OnceCell<String>>,
    /// The threads every password hash and verification runs on.
    hashers: Arc<Hashers>,
}

impl Engine {
    /// An engine over `db` with these ports and settings.
    pub fn new(db: Db, ports: Ports, settings: Settings) -> Engine {
        let hashers = Hashers::new(settings.password_hashing, settings.hashing_limits);
        Engine {
            db,
            ports,
            settings: Arc::new(settings),
            outbox_queued: Arc::new(Notify::new()),
            calendar_due: Arc::new(Notify::new()),
            web_chat_written: Arc::new(tokio::sync::watch::Sender::new(0)),
            visits_changed: Arc::new(tokio::sync::watch::Sender::new(0)),
            rooms_changed: Arc::new(tokio::sync::watch::Sender::new(0)),
            decoy_hash: Arc::default(),
            hashers: Arc::new(hashers),
        }
    }

    /// The most password hashes and verifications that ran at the same time so far (what
    /// the memory budget bounds).
    pub fn most_hashes_in_flight(&self) -> usize {
        self.hashers.most_in_flight()
    }

    /// Holds every password hash before it starts until the guard is dropped (for tests
    /// that fill the hashing queue without timing).
    #[cfg(any(test, feature = "testing"))]
    pub async fn hold_hashing(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        self.hashers.hold().await
    }
}

impl Engine {
    /// Whether this instance can serve: the database answers.
    pub async fn check_ready(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }
}

/// A signed-in account acting from an address: who is named in the access log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: Account,
    pub ip: String,
}

impl Actor {
    /// Refuses unless the account may do `permission` (the matrix of [`Role::allows`],
    /// and for downloads of personal data the account's own download permission).
    pub fn require(&self, permission: Permission) -> Result<()> {
        let allowed = self.account.role.allows(permission)
            && (permission != Permission::ExportPersonalData || self.account.can_export);
        if allowed {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}
