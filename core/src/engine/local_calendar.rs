//! The built-in calendar: events of employees and rooms kept in Frontdesk's own database
//! (the embedded default, and where bookings land when nobody connected a provider), and a
//! private ICS feed of each, to subscribe to from any calendar app.
//!
//! Its events share `calendar_events` with the busy time cached from providers, so free
//! slots read one table whatever holds an owner's time. Titles are sealed (they may name
//! visitors). A feed URL is a 256-bit token of which only the SHA-256 is stored; issuing a
//! new one revokes the old.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Component, EventLike};
use serde_json::json;

use super::access_log::Event;
use super::calendar::owner_text;
use super::{Actor, Engine};
use crate::domain::calendar::{Interval, Owner, Provider};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::Permission;
use crate::domain::token;
use crate::port::SealedAt;
use crate::store::calendar::{self as store, EventFacts};
use crate::store::{Tx, employee};
use crate::{Error, Result};

/// The longest event title.
pub const MAX_TITLE: usize = 200;
/// The longest event.
pub const MAX_EVENT: Duration = Duration::days(31);
/// What a feed shows: from this long ago …
const FEED_PAST: Duration = Duration::days(30);
/// … to this far ahead.
const FEED_AHEAD: Duration = Duration::days(365);
/// Where feeds are served, below the public URL.
pub const FEED_PATH: &str = "/ics/";

/// An event of the built-in calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEvent {
    pub uid: String,
    pub interval: Interval,
    pub title: String,
    /// Counted up on each change (ICS SEQUENCE).
    pub sequence: i64,
}

fn title_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "calendar_events",
        column: "title",
        row,
    }
}

/// The sealing place of an event's title: calendar and uid together name the row.
fn title_row(calendar_id: i64, uid: &str) -> String {
    format!("{calendar_id}/{uid}")
}

fn checked_interval(start: i64, end: i64) -> Result<Interval> {
    let interval = Interval::new(start, end).ok_or_else(|| {
        Error::invalid(
            "end",
            Invalid::OutOfRange {
                min: start + 1,
                max: start + MAX_EVENT.num_seconds(),
            },
        )
    })?;
    if end - start > MAX_EVENT.num_seconds() {
        return Err(Error::invalid(
            "end",
            Invalid::OutOfRange {
                min: start + 1,
                max: start + MAX_EVENT.num_seconds(),
            },
        ));
    }
    Ok(interval)
}

impl Engine {
    /// The owner's built-in calendar, made when first needed.
    pub(crate) async fn local_calendar(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        owner: Owner,
    ) -> Result<i64> {
        let existing = store::of_owner(tx, tenant_id, owner)
            .await?
            .into_iter()
            .find(|c| c.provider == Provider::Local);
        match existing {
            Some(calendar) => Ok(calendar.id),
            None => {
                let now = self.ports.clock.now_ms();
                Ok(store::insert(tx, tenant_id, owner, Provider::Local, false, now).await?)
            }
        }
    }

    /// Writes event `uid` to the owner's built-in calendar in the caller's transaction (a
    /// booking writes its event with itself). Writing an existing uid changes it.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_local_event(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        owner: Owner,
        uid: &str,
        interval: Interval,
        title: &str,
        facts: &EventFacts<'_>,
    ) -> Result<()> {
        let calendar_id = self.local_calendar(tx, tenant_id, owner).await?;
        let row = title_row(calendar_id, uid);
        let sealed = self.seal_for_tenant(title.as_bytes(), title_at(tenant_id, &row))?;
        store::upsert_event(
            tx,
            calendar_id,
            tenant_id,
            uid,
            interval.start * 1000,
            interval.end * 1000,
            Some(&sealed),
            facts,
        )
        .await?;
        Ok(())
    }

    /// Adds an event to the owner's built-in calendar (admins), logged.
    pub async fn add_calendar_event(
        &self,
        actor: &Actor,
        owner: Owner,
        start: i64,
        end: i64,
        title: &str,
    ) -> Result<LocalEvent> {
        actor.require(Permission::EditDirectory)?;
        let interval = checked_interval(start, end)?;
        let title = checked_text(title, TextLimit::name(MAX_TITLE))
            .map_err(|r| Error::invalid("title", r))?;
        let tenant_id = actor.account.tenant_id;
        let uid = format!("{}@frontdesk", uuid::Uuid::new_v4());
        let mut tx = self.db.write().await?;
        let facts = EventFacts::default();
        self.put_local_event(&mut tx, tenant_id, owner, &uid, interval, &title, &facts)
            .await?;
        let event = Event::by(
            actor,
            "calendar_event.create",
            format!("calendar_event:{uid}"),
            json!({"owner": owner_text(owner), "start": start, "end": end}),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(LocalEvent {
            uid,
            interval,
            title,
            sequence: 0,
        })
    }

    /// Removes event `uid` from the owner's built-in calendar (admins), logged.
    pub async fn remove_calendar_event(
        &self,
        actor: &Actor,
        owner: Owner,
        uid: &str,
    ) -> Result<()> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        let calendar_id = self.local_calendar(&mut tx, tenant_id, owner).await?;
        if !store::delete_event(&mut tx, calendar_id, uid).await? {
            return Err(Error::NotFound("calendar event"));
        }
        let event = Event::by(
            actor,
            "calendar_event.delete",
            format!("calendar_event:{uid}"),
            json!({"owner": owner_text(owner)}),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The owner's built-in events overlapping `[from, to)` (epoch seconds), at most
    /// [`super::MAX_PAGE`] (admins).
    pub async fn calendar_events(
        &self,
        actor: &Actor,
        owner: Owner,
        from: i64,
        to: i64,
    ) -> Result<Vec<LocalEvent>> {
        actor.require(Permission::ViewDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let Some(calendar) = store::of_owner(&mut tx, tenant_id, owner)
            .await?
            .into_iter()
            .find(|c| c.provider == Provider::Local)
        else {
            return Ok(Vec::new());
        };
        let mut events = self
            .local_events(&mut tx, tenant_id, calendar.id, from, to)
            .await?;
        events.truncate(super::MAX_PAGE as usize);
        Ok(events)
    }

    async fn local_events(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        calendar_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<LocalEvent>> {
        let stored = store::events_of(tx, calendar_id, from * 1000, to * 1000).await?;
        let mut events = Vec::with_capacity(stored.len());
        for event in stored {
            let title = match &event.title_sealed {
                Some(sealed) => {
                    let row = title_row(calendar_id, &event.uid);
                    let plain = self
                        .open_for_tenant(sealed, title_at(tenant_id, &row))
                        .map_err(|e| Error::internal("opening an event title", e))?;
                    String::from_utf8_lossy(&plain).into_owned()
                }
                None => String::new(),
            };
            let Some(interval) = Interval::new(event.starts_at / 1000, event.ends_at / 1000) else {
                continue;
            };
            events.push(LocalEvent {
                uid: event.uid,
                interval,
                title,
                sequence: event.sequence,
            });
        }
        Ok(events)
    }

    /// A new private feed URL of the owner's built-in calendar (admins); the previous one
    /// stops working.
    pub async fn issue_calendar_feed(&self, actor: &Actor, owner: Owner) -> Result<String> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let feed_token = token::generate();
        let mut tx = self.db.write().await?;
        let calendar_id = self.local_calendar(&mut tx, tenant_id, owner).await?;
        store::set_feed(&mut tx, calendar_id, Some(&token::hash(&feed_token))).await?;
        let event = Event::by(
            actor,
            "calendar.feed_issue",
            format!("calendar:{calendar_id}"),
            json!({"owner": owner_text(owner)}),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(format!(
            "{}{FEED_PATH}{feed_token}.ics",
            self.settings.public_url.trim_end_matches('/')
        ))
    }

    /// Revokes the owner's private feed URL (admins).
    pub async fn revoke_calendar_feed(&self, actor: &Actor, owner: Owner) -> Result<()> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        let calendar_id = self.local_calendar(&mut tx, tenant_id, owner).await?;
        store::set_feed(&mut tx, calendar_id, None).await?;
        let event = Event::by(
            actor,
            "calendar.feed_revoke",
            format!("calendar:{calendar_id}"),
            json!({"owner": owner_text(owner)}),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The ICS text of the feed whose token is `feed_token` (public, by token); `None` for
    /// an unknown or revoked token.
    pub async fn calendar_feed(&self, feed_token: &str) -> Result<Option<String>> {
        let now = self.ports.clock.now();
        let mut tx = self.db.read().await?;
        let Some(calendar) = store::by_feed(&mut tx, &token::hash(feed_token)).await? else {
            return Ok(None);
        };
        let name = match calendar.owner {
            Owner::Employee(id) => employee::find(&mut tx, calendar.tenant_id, id)
                .await?
                .map(|e| e.profile.name),
            Owner::Room(_) => None,
        };
        let events = self
            .local_events(
                &mut tx,
                calendar.tenant_id,
                calendar.id,
                (now - FEED_PAST).timestamp(),
                (now + FEED_AHEAD).timestamp(),
            )
            .await?;
        Ok(Some(render_feed(
            &format!("Frontdesk — {}", name.as_deref().unwrap_or("calendar")),
            &events,
            now,
        )))
    }
}

/// The ICS text of a feed named `name` holding `events`.
pub fn render_feed(name: &str, events: &[LocalEvent], now: DateTime<Utc>) -> String {
    let mut calendar = icalendar::Calendar::new();
    calendar.name(name);
    for event in events {
        let (Some(start), Some(end)) = (
            DateTime::from_timestamp(event.interval.start, 0),
            DateTime::from_timestamp(event.interval.end, 0),
        ) else {
            continue;
        };
        calendar.push(
            icalendar::Event::new()
                .uid(&event.uid)
                .summary(&event.title)
                .starts(start)
                .ends(end)
                .sequence(u32::try_from(event.sequence).unwrap_or(u32::MAX))
                .timestamp(now)
                .done(),
        );
    }
    calendar.done().to_string()
}
