//! `frontdesk-core`: Frontdesk's engine — domain rules, ports, storage, use cases and jobs.
//!
//! Layers, inner to outer:
//! - [`domain`] is pure: no I/O, no sqlx types. Password policy, access-log hashing, CSV cells.
//! - [`port`] holds the traits the outside world is reached through ([`port::Clock`],
//!   [`port::Mailer`]); implementations are chosen once, at start, and held as `Arc<dyn …>`.
//! - [`store`] is the database (sqlx; one repository source for SQLite and PostgreSQL).
//! - [`engine`] holds the use cases and the scheduled jobs; it is what the HTTP edge calls.
//!
//! This crate must not depend on an HTTP framework or a platform SDK (axum, hyper, reqwest,
//! slack-morphism, serenity, google-calendar3, graph-rs-sdk): `tests/dependency_direction.rs`
//! fails if it ever does.

pub mod domain;
pub mod engine;
pub mod error;
pub mod i18n;
pub mod port;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};
