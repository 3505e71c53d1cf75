//! Booking links and bookings: hosts (or admins) define links; guests see the free slots
//! and book one; a booking holds each host's time in the database, which refuses two
//! overlapping holds of one host (PostgreSQL's exclusion constraint, SQLite's trigger
//! under `BEGIN IMMEDIATE`), so nothing is ever double-booked, whichever instance wrote.
//!
//! Slots are computed from the busy time cached in the database (calendar events and
//! holds), never by asking a provider. A booking writes, in its own transaction, the
//! hosts' calendar events (through the outbox for Google and Microsoft), the guest's
//! confirmation with an ICS invitation, the hosts' chat notices and, for a meeting in
//! person, the expected visit with its reception code.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::{Component, EventLike};
use serde_json::json;

use super::access_log::Event;
use super::expected_visit::{NewExpectedVisit, Source};
use super::reception::{day_span, zone_of};
use super::{Actor, Engine};
use crate::domain::booking::{
    CheckedRules, HostAvailability, HostLoad, LinkKind, LinkRules, MAX_HOSTS, MAX_WINDOW_DAYS,
    Place, bookable_span, checked_answers, day_in, fairest_host, hosts_free_at, link_slots,
};
use crate::domain::calendar::{Interval, Owner, merge};
use crate::domain::chat::{Block, Field, Message};
use crate::domain::field::{Invalid, TextLimit, checked_text, validate_slug};
use crate::domain::people::{Permission, normalize_email};
use crate::domain::slots::free_slots;
use crate::domain::token;
use crate::i18n::{self, Lang};
use crate::port::EventDraft;
use crate::port::{Attachment, Mail, SealedAt};
use crate::store::booking::{self as store, BookingRow, LinkRow};
use crate::store::calendar as calendar_store;
use crate::store::employee::{self, Employee};
use crate::store::reception as reception_store;
use crate::store::{StoreError, Tx, tenant};
use crate::{Error, Result};

/// The longest span of days one slots request covers.
pub const MAX_SLOT_DAYS: i64 = 62;
/// Bookings one client address may make per hour (guessing and spamming do not pay).
pub const BOOKINGS_PER_ADDRESS_PER_HOUR: i64 = 20;
const MAX_TITLE: usize = 100;
const MAX_GUEST_NAME: usize = 100;
const MAX_GUEST_COMPANY: usize = 100;
const MAX_PHONE: usize = 30;
/// The name of the invitation attached to the guest's mails.
pub const INVITATION_FILENAME: &str = "invite.ics";

/// A host as a link shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkHost {
    pub employee_id: i64,
    pub email: String,
    pub name: String,
    pub weight: i64,
}

/// A booking link with its hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingLink {
    pub id: i64,
    pub tenant_id: i64,
    pub slug: String,
    pub owner_id: i64,
    pub owner_email: String,
    pub title: String,
    pub kind: LinkKind,
    pub hosts: Vec<LinkHost>,
    pub rules: LinkRules,
    pub checked: CheckedRules,
    pub active: bool,
    pub single_use: bool,
    pub used: bool,
}

/// What an admin or a host gives to define a link.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub slug: String,
    pub title: String,
    #[serde(default = "one_on_one")]
    pub kind: String,
    /// Hosts by email; the owner alone when empty.
    #[serde(default)]
    pub hosts: Vec<HostInput>,
    /// The owner's email; the signed-in person's employee when absent.
    #[serde(default)]
    pub owner: Option<String>,
    pub rules: LinkRules,
    #[serde(default)]
    pub single_use: bool,
    #[serde(default = "active")]
    pub active: bool,
}

fn one_on_one() -> String {
    "one_on_one".into()
}

fn active() -> bool {
    true
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostInput {
    pub email: String,
    #[serde(default = "weight")]
    pub weight: i64,
}

fn weight() -> i64 {
    1
}

/// What a guest sends to book.
#[derive(Debug, Clone, Default)]
pub struct BookingRequest {
    /// RFC 3339.
    pub start: String,
    /// One of the link's durations; its first when absent.
    pub duration_minutes: Option<i64>,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    /// The guest's IANA zone (the times in their mail).
    pub time_zone: String,
    pub answers: BTreeMap<String, String>,
    pub language: Lang,
}

/// A booking as its guest (and the hosts) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingView {
    pub public_id: String,
    pub link_slug: String,
    pub title: String,
    pub start: i64,
    pub end: i64,
    pub status: String,
    pub guest_name: String,
    pub guest_email: String,
    pub guest_company: Option<String>,
    pub guest_time_zone: String,
    pub hosts: Vec<String>,
    pub place: Place,
    /// The reception code of a meeting in person.
    pub reception_code: Option<String>,
    /// The video meeting's link, once a provider made one.
    pub conference_url: Option<String>,
    pub sequence: i64,
}

/// A booking just made: the view, the manage link (with its token; shown only now) and
/// whether it was new (`false`: an earlier request with the same idempotency key).
#[derive(Debug, Clone)]
pub struct Booked {
    pub booking: BookingView,
    pub manage_url: Option<String>,
    pub created: bool,
}

pub(crate) fn booking_at<'a>(tenant_id: i64, column: &'a str, public_id: &'a str) -> SealedAt<'a> {
    SealedAt {
        tenant_id,
        table: "bookings",
        column,
        row: public_id,
    }
}

/// The reference a booking's calendar events and notices are kept under.
pub fn booking_reference(public_id: &str) -> String {
    format!("booking:{public_id}")
}

/// An RFC 3339 instant as epoch seconds.
fn instant(field: &'static str, text: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp())
        .map_err(|_| Error::invalid(field, Invalid::NotInstant))
}

/// Whether `actor` may change a link owned by `owner_email`: admins any, others their own
/// (an account whose email is the owner's).
fn may_manage(actor: &Actor, owner_email: &str) -> Result<()> {
    if actor.require(Permission::ManageBookingLinks).is_ok() || actor.account.email == owner_email {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

fn parse_zone(field: &'static str, name: &str) -> Result<Tz> {
    name.parse()
        .map_err(|_| Error::invalid(field, Invalid::NotTimeZone))
}

impl Engine {
    // ---- links ----

    /// The link row for `input` checked: slug, title, kind, rules, owner and hosts.
    async fn checked_link(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        input: &LinkInput,
    ) -> Result<(LinkRow, Vec<(i64, i64)>, String)> {
        let tenant_id = actor.account.tenant_id;
        validate_slug(&input.slug).map_err(|reason| Error::invalid("slug", reason))?;
        let title = checked_text(&input.title, TextLimit::name(MAX_TITLE))
            .map_err(|reason| Error::invalid("title", reason))?;
        let kind = LinkKind::parse(&input.kind).ok_or_else(|| {
            Error::invalid(
                "kind",
                Invalid::NotOneOf {
                    allowed: LinkKind::NAMES,
                },
            )
        })?;
        input.rules.check()?;
        if let Place::InPerson { location } = &input.rules.place
            && tenant::find_location_by_slug(tx, tenant_id, location)
                .await?
                .is_none()
        {
            return Err(Error::invalid("rules.place.location", Invalid::NotSlug));
        }
        let find = async |tx: &mut Tx, field: &'static str, email: &str| -> Result<Employee> {
            let email = normalize_email(email).map_err(|r| Error::invalid(field, r))?;
            employee::find_by_email(tx, tenant_id, &email)
                .await?
                .ok_or(Error::NotFound("employee"))
        };
        let owner = match &input.owner {
            Some(email) => find(tx, "owner", email).await?,
            None => find(tx, "owner", &actor.account.email).await?,
        };
        if input.hosts.len() > MAX_HOSTS {
            return Err(Error::invalid("hosts", Invalid::TooMany { max: MAX_HOSTS }));
        }
        let mut hosts = Vec::new();
        for host in &input.hosts {
            if !(1..=100).contains(&host.weight) {
                return Err(Error::invalid(
                    "hosts.weight",
                    Invalid::OutOfRange { min: 1, max: 100 },
                ));
            }
            let employee = find(tx, "hosts.email", &host.email).await?;
            if hosts.iter().any(|(id, _)| *id == employee.id) {
                return Err(Error::invalid("hosts.email", Invalid::Taken));
            }
            hosts.push((employee.id, host.weight));
        }
        if hosts.is_empty() {
            hosts.push((owner.id, 1));
        }
        if kind == LinkKind::OneOnOne && hosts.len() != 1 {
            return Err(Error::invalid("hosts", Invalid::TooMany { max: 1 }));
        }
        let rules = serde_json::to_string(&input.rules)
            .map_err(|err| Error::internal("writing link rules", err))?;
        let row = LinkRow {
            id: 0,
            tenant_id,
            slug: input.slug.clone(),
            owner_id: owner.id,
            title,
            kind: kind.as_str().to_owned(),
            rules,
            active: input.active,
            single_use: input.single_use,
            used_at: None,
        };
        Ok((row, hosts, owner.profile.email))
    }

    /// Creates a booking link: admins for anyone, others for themselves. 409 when the slug
    /// is taken on this server. Logged.
    pub async fn create_booking_link(
        &self,
        actor: &Actor,
        input: LinkInput,
    ) -> Result<BookingLink> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let (row, hosts, owner_email) = self.checked_link(&mut tx, actor, &input).await?;
        may_manage(actor, &owner_email)?;
        let id = match store::insert_link(&mut tx, &row, now).await {
            Ok(id) => id,
            Err(StoreError::Duplicate) => {
                return Err(Error::Conflict(format!(
                    "the booking link {} is taken",
                    row.slug
                )));
            }
            Err(err) => return Err(err.into()),
        };
        store::set_hosts(&mut tx, row.tenant_id, id, &hosts).await?;
        let event = Event::by(
            actor,
            "booking_link.create",
            format!("booking_link:{}", row.slug),
            json!({ "kind": row.kind, "hosts": hosts.len() }),
        );
        self.record(&mut tx, row.tenant_id, now, event).await?;
        let link = self.load_link(&mut tx, LinkRow { id, ..row }).await?;
        tx.commit().await?;
        Ok(link)
    }

    /// Replaces a link's settings (not its slug); its owner or an admin. Logged.
    pub async fn update_booking_link(
        &self,
        actor: &Actor,
        slug: &str,
        input: LinkInput,
    ) -> Result<BookingLink> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let existing = self.tenant_link(&mut tx, actor, slug).await?;
        may_manage(actor, &self.owner_email(&mut tx, &existing).await?)?;
        let input = LinkInput {
            slug: existing.slug.clone(),
            ..input
        };
        let (row, hosts, owner_email) = self.checked_link(&mut tx, actor, &input).await?;
        may_manage(actor, &owner_email)?;
        let row = LinkRow {
            id: existing.id,
            used_at: existing.used_at,
            ..row
        };
        store::update_link(&mut tx, &row, now).await?;
        store::set_hosts(&mut tx, row.tenant_id, row.id, &hosts).await?;
        let event = Event::by(
            actor,
            "booking_link.update",
            format!("booking_link:{slug}"),
            json!({ "kind": row.kind, "active": row.active }),
        );
        self.record(&mut tx, row.tenant_id, now, event).await?;
        let link = self.load_link(&mut tx, row).await?;
        tx.commit().await?;
        Ok(link)
    }

    /// Deletes a link and its bookings' records; its owner or an admin. Logged.
    pub async fn delete_booking_link(&self, actor: &Actor, slug: &str) -> Result<()> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let existing = self.tenant_link(&mut tx, actor, slug).await?;
        may_manage(actor, &self.owner_email(&mut tx, &existing).await?)?;
        store::delete_link(&mut tx, existing.tenant_id, existing.id).await?;
        let event = Event::by(
            actor,
            "booking_link.delete",
            format!("booking_link:{slug}"),
            json!({}),
        );
        self.record(&mut tx, existing.tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The links `actor` manages: all of the tenant's for admins, else their own.
    pub async fn booking_links(&self, actor: &Actor) -> Result<Vec<BookingLink>> {
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let rows = if actor.require(Permission::ManageBookingLinks).is_ok() {
            store::links(&mut tx, tenant_id).await?
        } else {
            match employee::find_by_email(&mut tx, tenant_id, &actor.account.email).await? {
                Some(me) => store::links_of_employee(&mut tx, tenant_id, me.id).await?,
                None => Vec::new(),
            }
        };
        self.load_links(&mut tx, rows).await
    }

    /// One link `actor` may see.
    pub async fn booking_link(&self, actor: &Actor, slug: &str) -> Result<BookingLink> {
        let mut tx = self.db.read().await?;
        let row = self.tenant_link(&mut tx, actor, slug).await?;
        let link = self.load_link(&mut tx, row).await?;
        if actor.require(Permission::ManageBookingLinks).is_err()
            && !link.hosts.iter().any(|h| h.email == actor.account.email)
        {
            may_manage(actor, &link.owner_email)?;
        }
        Ok(link)
    }

    /// The links an employee hosts or owns (the bot's `link`).
    pub async fn links_of_employee(
        &self,
        tenant_id: i64,
        employee_id: i64,
    ) -> Result<Vec<BookingLink>> {
        let mut tx = self.db.read().await?;
        let rows = store::links_of_employee(&mut tx, tenant_id, employee_id).await?;
        self.load_links(&mut tx, rows).await
    }

    async fn load_links(&self, tx: &mut Tx, rows: Vec<LinkRow>) -> Result<Vec<BookingLink>> {
        let mut links = Vec::with_capacity(rows.len());
        for row in rows {
            links.push(self.load_link(tx, row).await?);
        }
        Ok(links)
    }

    /// The email of the link's owner (empty when they left the directory).
    async fn owner_email(&self, tx: &mut Tx, row: &LinkRow) -> Result<String> {
        Ok(employee::find(tx, row.tenant_id, row.owner_id)
            .await?
            .map(|owner| owner.profile.email)
            .unwrap_or_default())
    }

    async fn tenant_link(&self, tx: &mut Tx, actor: &Actor, slug: &str) -> Result<LinkRow> {
        store::link_by_slug(tx, slug)
            .await?
            .filter(|row| row.tenant_id == actor.account.tenant_id)
            .ok_or(Error::NotFound("booking link"))
    }

    async fn load_link(&self, tx: &mut Tx, row: LinkRow) -> Result<BookingLink> {
        let rules: LinkRules = serde_json::from_str(&row.rules)
            .map_err(|err| Error::internal("reading link rules", err))?;
        let checked = rules
            .check()
            .map_err(|err| Error::internal("reading link rules", err.field.to_string()))?;
        let kind = LinkKind::parse(&row.kind)
            .ok_or_else(|| Error::internal("reading a link", "unknown kind"))?;
        let hosts: Vec<LinkHost> = store::hosts(tx, row.id)
            .await?
            .into_iter()
            .map(|host| LinkHost {
                employee_id: host.employee_id,
                email: host.email,
                name: host.name,
                weight: host.weight,
            })
            .collect();
        let owner_email = match hosts.iter().find(|h| h.employee_id == row.owner_id) {
            Some(owner) => owner.email.clone(),
            None => self.owner_email(tx, &row).await?,
        };
        Ok(BookingLink {
            id: row.id,
            tenant_id: row.tenant_id,
            slug: row.slug,
            owner_id: row.owner_id,
            owner_email,
            title: row.title,
            kind,
            hosts,
            rules,
            checked,
            active: row.active,
            single_use: row.single_use,
            used: row.used_at.is_some(),
        })
    }

    /// The name of the tenant's location `slug`, if there is one.
    pub async fn location_name(&self, tenant_id: i64, slug: &str) -> Result<Option<String>> {
        let mut tx = self.db.read().await?;
        Ok(tenant::find_location_by_slug(&mut tx, tenant_id, slug)
            .await?
            .map(|l| l.name))
    }

    /// A link as its public page sees it: active, not used up.
    pub async fn public_booking_link(&self, slug: &str) -> Result<BookingLink> {
        let mut tx = self.db.read().await?;
        self.open_public_link(&mut tx, slug).await
    }

    async fn open_public_link(&self, tx: &mut Tx, slug: &str) -> Result<BookingLink> {
        let row = store::link_by_slug(tx, slug)
            .await?
            .filter(|row| row.active)
            .ok_or(Error::NotFound("booking link"))?;
        if row.used_at.is_some() {
            return Err(Error::LinkUsed);
        }
        self.load_link(tx, row).await
    }

    // ---- slots ----

    /// Each host's busy time (calendar events and booking holds) and full days in
    /// `[from, to)` (epoch seconds), leaving out the booking `except` (one being moved).
    async fn availability(
        &self,
        tx: &mut Tx,
        link: &BookingLink,
        (from, to): (i64, i64),
        except: Option<&BookingRow>,
    ) -> Result<Vec<HostAvailability>> {
        let rules = &link.checked;
        let (from_ms, to_ms) = (
            (from - rules.buffer_before - rules.buffer_after) * 1000,
            (to + rules.buffer_before + rules.buffer_after) * 1000,
        );
        let mut except_uids = Vec::new();
        if let Some(booking) = except {
            let reference = booking_reference(&booking.public_id);
            for link in calendar_store::links(tx, link.tenant_id, &reference).await? {
                except_uids.push(link.event_id);
            }
            except_uids.push(reference);
        }
        // Bookings per host and day, when the link limits them (in the link's zone; a
        // day's bookings may start before `from`).
        let mut per_day: BTreeMap<(i64, NaiveDate), i64> = BTreeMap::new();
        if rules.max_per_day.is_some() {
            for (host, start) in
                store::booked_starts(tx, link.id, from_ms - 86_400_000, to_ms + 86_400_000).await?
            {
                if except.is_some_and(|b| b.starts_at == start) {
                    continue;
                }
                *per_day
                    .entry((host, day_in(rules.hours.zone, start / 1000)))
                    .or_default() += 1;
            }
        }
        let mut hosts = Vec::with_capacity(link.hosts.len());
        for host in &link.hosts {
            let rows = store::busy_of_host(
                tx,
                link.tenant_id,
                host.employee_id,
                (from_ms, to_ms),
                except.map_or(0, |b| b.id),
            )
            .await?;
            let busy = rows
                .into_iter()
                .filter(|(uid, _, _)| uid.as_ref().is_none_or(|uid| !except_uids.contains(uid)))
                .filter_map(|(_, start, end)| {
                    Interval::new(start.div_euclid(1000), (end + 999).div_euclid(1000))
                })
                .collect();
            let full_days = match rules.max_per_day {
                Some(max) => per_day
                    .iter()
                    .filter(|((id, _), count)| *id == host.employee_id && **count >= max)
                    .map(|((_, day), _)| *day)
                    .collect(),
                None => Vec::new(),
            };
            hosts.push(HostAvailability {
                employee_id: host.employee_id,
                busy: merge(busy),
                full_days,
            });
        }
        Ok(hosts)
    }

    /// The slots a link offers from day `from` to day `to` (both included) in the guest's
    /// zone, for a meeting of `duration_minutes` (the link's first duration when `None`).
    pub async fn booking_slots(
        &self,
        slug: &str,
        from: NaiveDate,
        to: NaiveDate,
        guest_zone: &str,
        duration_minutes: Option<i64>,
    ) -> Result<Vec<Interval>> {
        let zone = parse_zone("tz", guest_zone)?;
        if to < from {
            return Err(Error::invalid("to", Invalid::NotDate));
        }
        if (to - from).num_days() >= MAX_SLOT_DAYS {
            return Err(Error::invalid(
                "to",
                Invalid::OutOfRange {
                    min: 1,
                    max: MAX_SLOT_DAYS,
                },
            ));
        }
        // Days far from today offer nothing (the window is at most a year): refuse them
        // before any date arithmetic.
        let today = day_in(zone, self.ports.clock.now_ms() / 1000);
        if (from - today).num_days().abs() > 2 * MAX_WINDOW_DAYS {
            return Err(Error::invalid(
                "from",
                Invalid::OutOfRange {
                    min: -2 * MAX_WINDOW_DAYS,
                    max: 2 * MAX_WINDOW_DAYS,
                },
            ));
        }
        let (start, _) = day_span(zone, from);
        let (_, end) = day_span(zone, to);
        let (start, end) = (start / 1000, end / 1000);
        let mut tx = self.db.statements().await?;
        let link = self.open_public_link(&mut tx, slug).await?;
        let duration = link_duration(&link.checked, duration_minutes)?;
        let now = self.ports.clock.now_ms() / 1000;
        let Some(span) = bookable_span(&link.checked, now, start, end) else {
            return Ok(Vec::new());
        };
        let hosts = self.availability(&mut tx, &link, span, None).await?;
        Ok(link_slots(
            link.kind,
            &link.checked,
            duration,
            now,
            span,
            &hosts,
        ))
    }

    /// Whether `slot` is one the link's rules offer at all (hours, notice, window),
    /// whatever is busy: otherwise the request is wrong (422), not late (409).
    fn check_offered(link: &BookingLink, now: i64, slot: Interval) -> Result<()> {
        let rules = &link.checked;
        let offered = bookable_span(rules, now, slot.start, slot.end).is_some_and(|span| {
            free_slots(
                &rules.hours,
                rules.slot_rules(slot.end - slot.start),
                now,
                span.0,
                span.1,
                Vec::new(),
            )
            .contains(&slot)
        });
        if offered {
            Ok(())
        } else {
            Err(Error::invalid("start", Invalid::NotOffered))
        }
    }

    /// The hosts a booking of `slot` goes to, or [`Error::SlotTaken`].
    async fn hosts_for(
        &self,
        tx: &mut Tx,
        link: &BookingLink,
        now: i64,
        slot: Interval,
        except: Option<&BookingRow>,
    ) -> Result<Vec<i64>> {
        let hosts = self
            .availability(tx, link, (slot.start, slot.end), except)
            .await?;
        let free = hosts_free_at(&link.checked, now, slot, &hosts);
        match link.kind {
            LinkKind::OneOnOne | LinkKind::Collective => {
                if free.len() == link.hosts.len() && !free.is_empty() {
                    Ok(free)
                } else {
                    Err(Error::SlotTaken)
                }
            }
            LinkKind::RoundRobin => {
                if let Some(booking) = except {
                    // A moved booking stays with its host.
                    let mine = store::booking_hosts(tx, booking.id).await?;
                    return if mine.iter().all(|id| free.contains(id)) {
                        Ok(mine)
                    } else {
                        Err(Error::SlotTaken)
                    };
                }
                let loads: Vec<HostLoad> = store::hosts(tx, link.id)
                    .await?
                    .into_iter()
                    .filter(|h| free.contains(&h.employee_id))
                    .map(|h| HostLoad {
                        employee_id: h.employee_id,
                        weight: h.weight,
                        bookings: h.bookings,
                        last_booked_at: h.last_booked_at,
                    })
                    .collect();
                fairest_host(&loads)
                    .map(|id| vec![id])
                    .ok_or(Error::SlotTaken)
            }
        }
    }

    // ---- booking ----

    /// Books `request` through link `slug`. 422 names a bad field (or a start the link does
    /// not offer); [`Error::SlotTaken`] when the slot was taken meanwhile, nothing written.
    /// A repeat of `idempotency_key` answers the booking it made.
    pub async fn book(
        &self,
        slug: &str,
        request: BookingRequest,
        client_ip: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Booked> {
        let guest = checked_guest(&request)?;
        let idempotency_key = idempotency_key
            .map(|key| {
                checked_text(key, TextLimit::name(100))
                    .map_err(|reason| Error::invalid("Idempotency-Key", reason))
            })
            .transpose()?;
        let start = instant("start", &request.start)?;
        let now_ms = self.ports.clock.now_ms();
        let now = now_ms / 1000;
        let link = self.public_booking_link(slug).await?;
        if let Some(key) = &idempotency_key {
            let mut tx = self.db.read().await?;
            if let Some(row) = store::booking_by_idempotency_key(&mut tx, link.id, key).await? {
                let booking = self.booking_view(&mut tx, &row).await?;
                return Ok(Booked {
                    booking,
                    manage_url: None,
                    created: false,
                });
            }
        }
        let duration = link_duration(&link.checked, request.duration_minutes)?;
        let answers = checked_answers(&link.rules.questions, &request.answers)?;
        if matches!(link.rules.place, Place::Phone) && guest.phone.is_none() {
            return Err(Error::invalid("phone", Invalid::Required));
        }
        let slot = Interval {
            start,
            end: start + duration,
        };
        Self::check_offered(&link, now, slot)?;
        let fingerprint =
            self.fingerprint_for_tenant(link.tenant_id, "booking_client", client_ip.as_bytes())?;

        let mut tx = self.db.write().await?;
        let recent =
            store::bookings_from_client_since(&mut tx, &fingerprint, now_ms - 3_600_000).await?;
        if recent >= BOOKINGS_PER_ADDRESS_PER_HOUR {
            return Err(Error::Throttled {
                retry_after_secs: 3600,
            });
        }
        if !store::lock_link(&mut tx, link.id).await? {
            return Err(Error::NotFound("booking link"));
        }
        // Another booking may have used a single-use link or changed it meanwhile.
        let link = self.open_public_link(&mut tx, slug).await?;
        let hosts = self.hosts_for(&mut tx, &link, now, slot, None).await?;

        let public_id = uuid::Uuid::new_v4().simple().to_string();
        let manage_token = token::generate();
        let seal = |column: &str, value: &str| {
            self.seal_for_tenant(
                value.as_bytes(),
                booking_at(link.tenant_id, column, &public_id),
            )
        };
        let answers_json = (!answers.is_empty())
            .then(|| serde_json::to_string(&answers))
            .transpose()
            .map_err(|err| Error::internal("writing answers", err))?;
        let row = BookingRow {
            id: 0,
            tenant_id: link.tenant_id,
            public_id: public_id.clone(),
            link_id: Some(link.id),
            starts_at: slot.start * 1000,
            ends_at: slot.end * 1000,
            guest_name_sealed: seal("guest_name", &guest.name)?,
            guest_email_sealed: seal("guest_email", &guest.email)?,
            guest_company_sealed: guest
                .company
                .as_deref()
                .map(|c| seal("guest_company", c))
                .transpose()?,
            guest_phone_sealed: guest
                .phone
                .as_deref()
                .map(|p| seal("guest_phone", p))
                .transpose()?,
            answers_sealed: answers_json
                .as_deref()
                .map(|a| seal("answers", a))
                .transpose()?,
            guest_time_zone: guest.zone.name().to_owned(),
            guest_language: guest.language.as_str().to_owned(),
            status: "confirmed".into(),
            sequence: 0,
            manage_token_hash: Some(token::hash(&manage_token)),
            idempotency_key: idempotency_key.clone(),
            client_fingerprint: fingerprint,
            created_at: now_ms,
        };
        let id = match store::insert_booking(&mut tx, &row).await {
            Ok(id) => id,
            Err(StoreError::Duplicate) if idempotency_key.is_some() => {
                // The same request, sent twice at once: answer the one that landed.
                drop(tx);
                return Box::pin(self.book(slug, request, client_ip, idempotency_key.as_deref()))
                    .await;
            }
            Err(err) => return Err(err.into()),
        };
        let row = BookingRow { id, ..row };
        let held = link.checked.held(slot);
        for host in &hosts {
            let ok = store::insert_hold(
                &mut tx,
                link.tenant_id,
                id,
                *host,
                (held.start * 1000, held.end * 1000),
            )
            .await?;
            if !ok {
                return Err(Error::SlotTaken);
            }
            store::host_booked(&mut tx, link.id, *host, now_ms).await?;
        }
        if link.single_use {
            store::mark_used(&mut tx, link.id, now_ms).await?;
        }
        let hosts: Vec<Employee> = self.hosts_by_id(&mut tx, link.tenant_id, &hosts).await?;
        let code = self
            .expect_booked_guest(&mut tx, &link, &row, &guest, &hosts)
            .await?;
        self.write_booking_events(&mut tx, &link, &row, &guest, &hosts)
            .await?;
        let view = self.booking_view(&mut tx, &row).await?;
        let manage_url = self.manage_url(&link.slug, &public_id, &manage_token);
        let news = News {
            change: Change::Booked,
            view: &view,
            guest: &guest,
            code: code.as_deref(),
            manage_url: Some(&manage_url),
        };
        self.tell_guest_and_hosts(&mut tx, link.tenant_id, &hosts, news)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(Booked {
            booking: view,
            manage_url: Some(manage_url),
            created: true,
        })
    }

    fn manage_url(&self, slug: &str, public_id: &str, manage_token: &str) -> String {
        format!(
            "{}/b/{slug}/bookings/{public_id}?t={manage_token}",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    async fn hosts_by_id(&self, tx: &mut Tx, tenant_id: i64, ids: &[i64]) -> Result<Vec<Employee>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.push(
                employee::find(tx, tenant_id, *id)
                    .await?
                    .ok_or(Error::NotFound("host"))?,
            );
        }
        Ok(found)
    }

    /// For a meeting in person: registers the guest as an expected visitor of the first
    /// host (or moves the registration with the booking). The reception code, if any.
    async fn expect_booked_guest(
        &self,
        tx: &mut Tx,
        link: &BookingLink,
        row: &BookingRow,
        guest: &Guest,
        hosts: &[Employee],
    ) -> Result<Option<String>> {
        let Place::InPerson { location } = &link.rules.place else {
            return Ok(None);
        };
        let location = tenant::find_location_by_slug(tx, link.tenant_id, location)
            .await?
            .ok_or(Error::NotFound("location"))?;
        let host = hosts.first().ok_or(Error::NotFound("host"))?;
        let reference = booking_reference(&row.public_id);
        let day =
            super::reception::local_time(zone_of(&location.time_zone), row.starts_at).date_naive();
        let existing = reception_store::expected_by_source_prefix(tx, link.tenant_id, &reference)
            .await?
            .into_iter()
            .find(|e| e.source_ref.as_deref() == Some(reference.as_str()));
        if let Some(existing) = existing {
            let span = day_span(zone_of(&location.time_zone), day);
            let code = super::expected_visit::free_code(
                tx,
                link.tenant_id,
                Some(&existing.code),
                span,
                Some(existing.id),
            )
            .await?;
            let moved = reception_store::ExpectedVisitRow {
                code: code.clone(),
                day: day.to_string(),
                valid_from: span.0,
                valid_until: span.1,
                starts_at: Some(row.starts_at),
                status: "expected".into(),
                updated_at: self.ports.clock.now_ms(),
                ..existing
            };
            reception_store::reschedule_expected(tx, &moved).await?;
            return Ok(Some(code));
        }
        let new = NewExpectedVisit {
            location_id: location.id,
            host_employee_id: host.id,
            visitor_name: guest.name.clone(),
            visitor_company: guest.company.clone().unwrap_or_default(),
            // The booking's own mail carries the code: no second mail.
            visitor_email: None,
            day,
            starts_at: Some(row.starts_at),
            purpose: Some(link.title.clone()),
            source: Source::Booking,
            source_ref: Some(reference),
            code: None,
        };
        let visit = self
            .register_expected_visit(tx, link.tenant_id, &new)
            .await?;
        Ok(Some(visit.code))
    }

    /// Puts (or moves) the meeting in each host's calendar: at their Google or Microsoft
    /// calendar through the outbox (with the video meeting when the link asks), else in
    /// their built-in calendar at once.
    async fn write_booking_events(
        &self,
        tx: &mut Tx,
        link: &BookingLink,
        row: &BookingRow,
        guest: &Guest,
        hosts: &[Employee],
    ) -> Result<()> {
        let mut attendees = vec![guest.email.clone()];
        attendees.extend(hosts.iter().map(|h| h.profile.email.clone()));
        let location = match &link.rules.place {
            Place::InPerson { location } => {
                tenant::find_location_by_slug(tx, link.tenant_id, location)
                    .await?
                    .map(|l| l.name)
            }
            Place::Phone => guest.phone.clone(),
            Place::GoogleMeet | Place::Teams => None,
        };
        let draft = EventDraft {
            title: format!("{} — {}", link.title, guest.name),
            description: event_description(guest),
            interval: Interval {
                start: row.starts_at / 1000,
                end: row.ends_at / 1000,
            },
            time_zone: link.rules.time_zone.clone(),
            attendees,
            location,
            online_meeting: link.rules.place.online(),
        };
        let reference = booking_reference(&row.public_id);
        for host in hosts {
            self.queue_calendar_event(
                tx,
                link.tenant_id,
                Owner::Employee(host.id),
                &reference,
                &draft,
            )
            .await?;
        }
        Ok(())
    }

    /// The booking as its guest sees it.
    async fn booking_view(&self, tx: &mut Tx, row: &BookingRow) -> Result<BookingView> {
        let link_id = row.link_id.ok_or(Error::NotFound("booking link"))?;
        let link = store::link(tx, row.tenant_id, link_id)
            .await?
            .ok_or(Error::NotFound("booking link"))?;
        let rules: LinkRules = serde_json::from_str(&link.rules)
            .map_err(|err| Error::internal("reading link rules", err))?;
        let guest = self.stored_guest(row)?;
        let mut hosts = Vec::new();
        for id in store::booking_hosts(tx, row.id).await? {
            if let Some(host) = employee::find(tx, row.tenant_id, id).await? {
                hosts.push(host.profile.name);
            }
        }
        if hosts.is_empty() {
            // A cancelled booking holds nobody any more: name the link's hosts.
            hosts.extend(store::hosts(tx, link.id).await?.into_iter().map(|h| h.name));
        }
        let reference = booking_reference(&row.public_id);
        let reception_code =
            reception_store::expected_by_source_prefix(tx, row.tenant_id, &reference)
                .await?
                .into_iter()
                .find(|e| {
                    e.source_ref.as_deref() == Some(reference.as_str()) && e.status != "withdrawn"
                })
                .map(|e| e.code);
        let conference_url = calendar_store::links(tx, row.tenant_id, &reference)
            .await?
            .into_iter()
            .find_map(|l| l.join_url);
        Ok(BookingView {
            public_id: row.public_id.clone(),
            link_slug: link.slug,
            title: link.title,
            start: row.starts_at / 1000,
            end: row.ends_at / 1000,
            status: row.status.clone(),
            guest_name: guest.name,
            guest_email: guest.email,
            guest_company: guest.company,
            guest_time_zone: row.guest_time_zone.clone(),
            hosts,
            place: rules.place,
            reception_code,
            conference_url,
            sequence: row.sequence,
        })
    }

    /// The booking behind a manage link, if its token is right.
    async fn managed_booking(
        &self,
        tx: &mut Tx,
        public_id: &str,
        manage_token: &str,
    ) -> Result<BookingRow> {
        store::booking_by_public_id(tx, public_id)
            .await?
            .filter(|row| {
                // Hashes of 256-bit tokens: comparing them reveals nothing usable.
                row.manage_token_hash.as_deref() == Some(token::hash(manage_token).as_str())
            })
            .ok_or(Error::InvalidManageLink)
    }

    /// The booking behind a manage link.
    pub async fn guest_booking(&self, public_id: &str, manage_token: &str) -> Result<BookingView> {
        let mut tx = self.db.read().await?;
        let row = self
            .managed_booking(&mut tx, public_id, manage_token)
            .await?;
        self.booking_view(&mut tx, &row).await
    }

    /// Moves a booking to `start` (the guest, from the manage link): the same checks as
    /// booking, the same hosts; the calendar events, the expected visit and the guest's
    /// invitation (SEQUENCE + 1) follow.
    pub async fn reschedule_booking(
        &self,
        public_id: &str,
        manage_token: &str,
        start: &str,
    ) -> Result<BookingView> {
        let start = instant("start", start)?;
        let now_ms = self.ports.clock.now_ms();
        let now = now_ms / 1000;
        let mut tx = self.db.write().await?;
        let row = self
            .managed_booking(&mut tx, public_id, manage_token)
            .await?;
        if row.status != "confirmed" {
            return Err(Error::Conflict("this booking was cancelled".into()));
        }
        let link_id = row.link_id.ok_or(Error::NotFound("booking link"))?;
        let link_row = store::link(&mut tx, row.tenant_id, link_id)
            .await?
            .ok_or(Error::NotFound("booking link"))?;
        store::lock_link(&mut tx, link_row.id).await?;
        let link = self.load_link(&mut tx, link_row).await?;
        let slot = Interval {
            start,
            end: start + (row.ends_at - row.starts_at) / 1000,
        };
        Self::check_offered(&link, now, slot)?;
        let hosts = self
            .hosts_for(&mut tx, &link, now, slot, Some(&row))
            .await?;
        let held = link.checked.held(slot);
        if !store::move_holds(&mut tx, row.id, (held.start * 1000, held.end * 1000)).await? {
            return Err(Error::SlotTaken);
        }
        store::move_booking(
            &mut tx,
            row.id,
            (slot.start * 1000, slot.end * 1000),
            now_ms,
        )
        .await?;
        let row = BookingRow {
            starts_at: slot.start * 1000,
            ends_at: slot.end * 1000,
            sequence: row.sequence + 1,
            ..row
        };
        let hosts = self.hosts_by_id(&mut tx, link.tenant_id, &hosts).await?;
        let guest = self.stored_guest(&row)?;
        let code = self
            .expect_booked_guest(&mut tx, &link, &row, &guest, &hosts)
            .await?;
        self.write_booking_events(&mut tx, &link, &row, &guest, &hosts)
            .await?;
        let view = self.booking_view(&mut tx, &row).await?;
        let manage_url = self.manage_url(&link.slug, public_id, manage_token);
        let news = News {
            change: Change::Moved,
            view: &view,
            guest: &guest,
            code: code.as_deref(),
            manage_url: Some(&manage_url),
        };
        self.tell_guest_and_hosts(&mut tx, link.tenant_id, &hosts, news)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(view)
    }

    /// Cancels a booking (the guest, from the manage link): the hosts' time is free at
    /// once, their events are cancelled, the expected visit withdrawn, everyone told.
    pub async fn cancel_booking(&self, public_id: &str, manage_token: &str) -> Result<BookingView> {
        let now_ms = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let row = self
            .managed_booking(&mut tx, public_id, manage_token)
            .await?;
        let hosts = store::booking_hosts(&mut tx, row.id).await?;
        if !store::cancel_booking(&mut tx, row.id, now_ms).await? {
            return Err(Error::Conflict("this booking was already cancelled".into()));
        }
        let row = BookingRow {
            status: "cancelled".into(),
            sequence: row.sequence + 1,
            ..row
        };
        let hosts = self.hosts_by_id(&mut tx, row.tenant_id, &hosts).await?;
        let reference = booking_reference(public_id);
        for host in &hosts {
            self.cancel_calendar_event(
                &mut tx,
                row.tenant_id,
                Owner::Employee(host.id),
                &reference,
            )
            .await?;
        }
        for expected in
            reception_store::expected_by_source_prefix(&mut tx, row.tenant_id, &reference).await?
        {
            if expected.source_ref.as_deref() == Some(reference.as_str())
                && expected.status == "expected"
            {
                reception_store::set_expected_status(
                    &mut tx,
                    row.tenant_id,
                    expected.id,
                    "withdrawn",
                    now_ms,
                )
                .await?;
            }
        }
        let guest = self.stored_guest(&row)?;
        let view = self.booking_view(&mut tx, &row).await?;
        let news = News {
            change: Change::Cancelled,
            view: &view,
            guest: &guest,
            code: None,
            manage_url: None,
        };
        self.tell_guest_and_hosts(&mut tx, row.tenant_id, &hosts, news)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(view)
    }

    fn stored_guest(&self, row: &BookingRow) -> Result<Guest> {
        let at = |column| booking_at(row.tenant_id, column, &row.public_id);
        Ok(Guest {
            name: self
                .open_optional(Some(&row.guest_name_sealed), at("guest_name"))?
                .unwrap_or_default(),
            email: self
                .open_optional(Some(&row.guest_email_sealed), at("guest_email"))?
                .unwrap_or_default(),
            company: self
                .open_optional(row.guest_company_sealed.as_deref(), at("guest_company"))?,
            phone: self.open_optional(row.guest_phone_sealed.as_deref(), at("guest_phone"))?,
            zone: zone_of(&row.guest_time_zone),
            language: row.guest_language.parse().unwrap_or_default(),
        })
    }

    /// Queues the guest's mail and each host's chat notice about a change to a booking.
    async fn tell_guest_and_hosts(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        hosts: &[Employee],
        news: News<'_>,
    ) -> Result<()> {
        self.queue_guest_mail(
            tx,
            tenant_id,
            news.view,
            news.guest,
            news.change,
            news.manage_url,
        )
        .await?;
        let reference = booking_reference(&news.view.public_id);
        for host in hosts {
            let message = host_notice(host, news.change, news.view, news.code);
            self.notify_employee(tx, tenant_id, host, &reference, &message)
                .await?;
        }
        Ok(())
    }

    /// Queues the guest's mail about `view`, with the invitation (`METHOD:REQUEST`, or
    /// `METHOD:CANCEL`) under the booking's stable UID and its SEQUENCE.
    async fn queue_guest_mail(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        view: &BookingView,
        guest: &Guest,
        kind: Change,
        manage_url: Option<&str>,
    ) -> Result<()> {
        let when = |lang: Lang| format_when(guest.zone, view.start, view.end, lang);
        let mut body = String::new();
        for lang in [guest.language, other(guest.language)] {
            let key = match kind {
                Change::Booked => "mail.booking.confirmed",
                Change::Moved => "mail.booking.moved",
                Change::Cancelled => "mail.booking.cancelled",
            };
            body.push_str(&i18n::format(
                lang,
                key,
                &[
                    ("name", &view.guest_name),
                    ("title", &view.title),
                    ("hosts", &view.hosts.join(", ")),
                    ("when", &when(lang)),
                ],
            ));
            body.push('\n');
            if let Some(code) = &view.reception_code {
                body.push_str(&i18n::format(lang, "mail.booking.code", &[("code", code)]));
                body.push('\n');
            }
            if let Some(url) = &view.conference_url {
                body.push_str(&i18n::format(lang, "mail.booking.video", &[("url", url)]));
                body.push('\n');
            }
            if let Some(url) = manage_url {
                body.push_str(&i18n::format(lang, "mail.booking.manage", &[("url", url)]));
                body.push('\n');
            }
            body.push('\n');
        }
        let subject_key = match kind {
            Change::Booked => "mail.booking.confirmed_subject",
            Change::Moved => "mail.booking.moved_subject",
            Change::Cancelled => "mail.booking.cancelled_subject",
        };
        let subject = format!(
            "{} / {}",
            i18n::format(guest.language, subject_key, &[("title", &view.title)]),
            i18n::format(
                other(guest.language),
                subject_key,
                &[("title", &view.title)]
            )
        );
        let method = if kind == Change::Cancelled {
            "CANCEL"
        } else {
            "REQUEST"
        };
        let ics = booking_ics(view, method, self.ports.clock.now());
        let mail = Mail {
            to: guest.email.clone(),
            subject,
            body,
            attachments: vec![Attachment {
                filename: INVITATION_FILENAME.into(),
                content_type: format!("text/calendar; method={method}"),
                bytes: ics.into_bytes(),
            }],
        };
        self.queue(tx, tenant_id, &super::outbox::OutboxMessage::Mail(mail))
            .await?;
        Ok(())
    }
}

/// A guest's details, checked.
#[derive(Debug, Clone)]
struct Guest {
    name: String,
    email: String,
    company: Option<String>,
    phone: Option<String>,
    zone: Tz,
    language: Lang,
}

fn checked_guest(request: &BookingRequest) -> Result<Guest> {
    let name = checked_text(&request.name, TextLimit::name(MAX_GUEST_NAME))
        .map_err(|reason| Error::invalid("name", reason))?;
    let email =
        normalize_email(&request.email).map_err(|reason| Error::invalid("email", reason))?;
    let optional =
        |field: &'static str, value: Option<&str>, max: usize| -> Result<Option<String>> {
            let limit = TextLimit {
                max,
                multiline: false,
                required: false,
            };
            let value = checked_text(value.unwrap_or(""), limit)
                .map_err(|reason| Error::invalid(field, reason))?;
            Ok((!value.is_empty()).then_some(value))
        };
    let company = optional("company", request.company.as_deref(), MAX_GUEST_COMPANY)?;
    let phone = optional("phone", request.phone.as_deref(), MAX_PHONE)?;
    if let Some(phone) = &phone
        && !phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
    {
        return Err(Error::invalid(
            "phone",
            Invalid::NotOneOf {
                allowed: &["digits", "+", "-", " ", "(", ")"],
            },
        ));
    }
    Ok(Guest {
        name,
        email,
        company,
        phone,
        zone: parse_zone("tz", &request.time_zone)?,
        language: request.language,
    })
}

/// The meeting's length in seconds: one of the link's durations, its first by default.
fn link_duration(rules: &CheckedRules, minutes: Option<i64>) -> Result<i64> {
    match minutes {
        None => Ok(rules.durations[0]),
        Some(m) if rules.durations.contains(&(m * 60)) => Ok(m * 60),
        Some(_) => Err(Error::invalid(
            "duration_minutes",
            Invalid::NotOneOf {
                allowed: &["one of the link's durations"],
            },
        )),
    }
}

fn event_description(guest: &Guest) -> String {
    let mut lines = vec![format!("{} <{}>", guest.name, guest.email)];
    lines.extend(guest.company.clone());
    lines.extend(guest.phone.clone());
    lines.join("\n")
}

fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Ja => Lang::En,
        Lang::En => Lang::Ja,
    }
}

/// `2026-12-01 (Tue) 10:00–10:30 Asia/Tokyo` in `lang`.
pub fn format_when(zone: Tz, start: i64, end: i64, lang: Lang) -> String {
    let at = |t: i64| {
        zone.from_utc_datetime(
            &DateTime::<Utc>::from_timestamp(t, 0)
                .unwrap_or_default()
                .naive_utc(),
        )
    };
    let (start, end) = (at(start), at(end));
    let weekday = match lang {
        Lang::Ja => ["月", "火", "水", "木", "金", "土", "日"],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }[chrono::Datelike::weekday(&start).num_days_from_monday() as usize];
    format!(
        "{} ({weekday}) {}–{} {}",
        start.format("%Y-%m-%d"),
        start.format("%H:%M"),
        end.format("%H:%M"),
        zone.name()
    )
}

/// A change to a booking, as its guest and hosts are told of it.
struct News<'a> {
    change: Change,
    view: &'a BookingView,
    guest: &'a Guest,
    /// The reception code, for the hosts.
    code: Option<&'a str>,
    /// The guest's manage link (not after a cancellation).
    manage_url: Option<&'a str>,
}

/// What happened to a booking: what its guest's mail and its hosts' notices say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Booked,
    Moved,
    Cancelled,
}

/// The chat notice telling a host of a booking, in their language and zone.
fn host_notice(host: &Employee, kind: Change, view: &BookingView, code: Option<&str>) -> Message {
    let lang = host.profile.language;
    let key = match kind {
        Change::Booked => "booking_notice.booked",
        Change::Moved => "booking_notice.moved",
        Change::Cancelled => "booking_notice.cancelled",
    };
    let summary = i18n::format(
        lang,
        key,
        &[("name", &view.guest_name), ("title", &view.title)],
    );
    let mut fields = vec![
        Field {
            label: i18n::text(lang, "booking_notice.when"),
            value: format_when(zone_of(&host.profile.time_zone), view.start, view.end, lang),
        },
        Field {
            label: i18n::text(lang, "booking_notice.guest"),
            value: match &view.guest_company {
                Some(company) => format!("{} ({company})", view.guest_name),
                None => view.guest_name.clone(),
            },
        },
    ];
    if let Some(code) = code {
        fields.push(Field {
            label: i18n::text(lang, "booking_notice.code"),
            value: code.to_owned(),
        });
    }
    Message {
        summary: summary.clone(),
        blocks: vec![Block::Text { text: summary }, Block::Fields { fields }],
    }
}

/// The guest's invitation: one event under the booking's stable UID, its SEQUENCE, and
/// `METHOD:REQUEST` (new or moved) or `METHOD:CANCEL`.
pub fn booking_ics(view: &BookingView, method: &str, now: DateTime<Utc>) -> String {
    meeting_ics(
        &view.public_id,
        &view.title,
        (view.start, view.end),
        view.sequence,
        view.conference_url.as_deref(),
        method,
        now,
    )
}

/// An invitation to one meeting (`public_id` makes its stable UID) from `start` to `end`
/// (epoch seconds), with `METHOD:REQUEST` or `METHOD:CANCEL`.
pub fn meeting_ics(
    public_id: &str,
    title: &str,
    (start, end): (i64, i64),
    sequence: i64,
    location: Option<&str>,
    method: &str,
    now: DateTime<Utc>,
) -> String {
    let (Some(start), Some(end)) = (
        DateTime::from_timestamp(start, 0),
        DateTime::from_timestamp(end, 0),
    ) else {
        return String::new();
    };
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{public_id}@frontdesk"))
        .summary(title)
        .starts(start)
        .ends(end)
        .sequence(u32::try_from(sequence).unwrap_or(u32::MAX))
        .timestamp(now);
    if method == "CANCEL" {
        event.status(icalendar::EventStatus::Cancelled);
    }
    if let Some(location) = location {
        event.location(location);
    }
    let mut calendar = icalendar::Calendar::new();
    calendar.append_property(icalendar::Property::new("METHOD", method));
    calendar.push(event.done());
    calendar.done().to_string()
}
