//! `frontdesk-connectors`: calendars — Google Calendar, Microsoft 365, ICS feeds and the
//! built-in calendar — behind the `Calendar` port of `frontdesk-core`.
//!
//! Depends only on `frontdesk-core` and each platform's crate. It must not depend on
//! `frontdesk-bots` or `frontdesk-webhooks`, nor touch the database: tokens come through a
//! core port. (The connectors arrive with the scheduling issues; this crate holds their place
//! in the dependency graph, which `core/tests/dependency_direction.rs` checks.)
