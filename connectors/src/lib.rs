//! `frontdesk-connectors`: the outbound adapters behind `frontdesk-core`'s ports — mail
//! (SMTP, or `.eml` files for the embedded default) and OpenID Connect identity providers
//! (single sign-on), signed outgoing webhooks ([`webhook`]), Google Calendar behind the
//! `Calendar` port ([`google`], with a fake of Google in `testing` under the `testing`
//! feature); Microsoft 365 and ICS feeds next.
//!
//! Depends only on `frontdesk-core` and each platform's crate. It must not depend on
//! `frontdesk-bots` or `frontdesk-webhooks`, nor touch the database: tokens come through a
//! core port (`core/tests/dependency_direction.rs` checks this).

pub mod google;
pub mod ics;
pub mod ics_feed;
pub mod mail;
pub mod microsoft;
pub mod openid;
pub mod webhook;

#[cfg(feature = "testing")]
pub mod testing;
