//! `frontdesk-bots`: chat — Slack, Microsoft Teams, Discord and the built-in web chat —
//! behind the `ChatBot` port of `frontdesk-core`. A bot only translates: platform events into
//! core `Command`s and `Action`s, and core `Message`s into the platform's format.
//!
//! Depends only on `frontdesk-core` and each platform's crate (Teams has no SDK: its bot
//! speaks the Bot Framework REST API over reqwest and checks its tokens with ring). It must
//! not depend on `frontdesk-connectors` or `frontdesk-webhooks`, nor touch the database
//! (`core/tests/dependency_direction.rs` checks the graph).

pub mod discord;
pub mod discord_interactions;
pub mod slack;
pub mod slack_events;
pub mod teams;
pub mod teams_events;
#[cfg(feature = "testing")]
pub mod testing;
