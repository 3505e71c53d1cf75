//! Expected visits from calendar invitations: an event on an employee's connected calendar
//! that invites a location's reception address (its `reception_address` setting) expects
//! each outside attendee at that location, and mails them a reception code with its QR.
//! Moving the event moves the visits; cancelling it, uninviting the reception, or removing
//! an attendee withdraws them.
//!
//! This runs inside a calendar sync's transaction ([`Engine::expect_invited_visitors`]),
//! so the busy time and the visits it announces are stored together or not at all. Each
//! visit is keyed by `invite:{calendar id}:{event id}:{attendee}` (its `source_ref`), where
//! the attendee's address is a keyed fingerprint: the key is not sealed, and an address is
//! personal data. Syncing an unchanged event again finds its visits as they are and writes
//! (and mails) nothing.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::Engine;
use super::expected_visit::{ExpectedVisit, NewExpectedVisit, Source, free_code};
use super::reception::{day_span, expected_at, local_time, zone_of};
use crate::domain::calendar::{Owner, Provider};
use crate::domain::people::normalize_email;
use crate::domain::visit::{MAX_VISITOR_NAME, ReceptionSettings};
use crate::port::{BusyEvent, Changes, SyncWindow};
use crate::store::calendar::StoredCalendar;
use crate::store::reception::{self as store, ExpectedVisitRow};
use crate::store::{Tx, calendar as calendars, employee, tenant};
use crate::{Error, Result};

/// The longest purpose kept from an event's title (as an admin may type one).
const MAX_PURPOSE: usize = 200;

/// A location whose reception can be invited.
#[derive(Debug, Clone)]
struct Reception {
    /// Its reception address, normalized.
    address: String,
    location_id: i64,
    zone: chrono_tz::Tz,
}

/// A visitor an event invites.
#[derive(Debug, Clone)]
struct InvitedVisitor {
    email: String,
    name: String,
}

/// What an event asks reception to expect: where, with whom as host, and whom.
#[derive(Debug)]
struct Invitation<'a> {
    reception: &'a Reception,
    host_employee_id: i64,
    visitors: Vec<InvitedVisitor>,
}

/// Where an event's visits are keyed: every attendee's key starts with this.
fn event_prefix(calendar_id: i64, uid: &str) -> String {
    format!("invite:{calendar_id}:{uid}:")
}

/// The event id inside a `source_ref` of calendar `calendar_id`: what lies between the
/// calendar's prefix and the attendee's fingerprint (hex, so the last `:` ends the id even
/// when a provider's ids hold colons).
fn event_uid_of(calendar_id: i64, source_ref: &str) -> Option<&str> {
    let rest = source_ref.strip_prefix(&format!("invite:{calendar_id}:"))?;
    rest.rsplit_once(':').map(|(uid, _)| uid)
}

/// `raw` on one line, at most `max` characters; `None` when nothing is left.
fn one_line(raw: &str, max: usize) -> Option<String> {
    let text: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text: String = text.trim().chars().take(max).collect();
    let text = text.trim_end().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The name to greet a visitor by: the invitation's display name, else their address's local
/// part (Graph often repeats the address as the name).
fn visitor_name(email: &str, display_name: Option<&str>) -> String {
    display_name
        .filter(|name| !name.contains('@'))
        .and_then(|name| one_line(name, MAX_VISITOR_NAME))
        .or_else(|| {
            let local = email.split('@').next().unwrap_or(email);
            one_line(local, MAX_VISITOR_NAME)
        })
        .unwrap_or_else(|| email.to_owned())
}

impl Engine {
    /// Expects (or moves, or withdraws) the visitors that the events of a sync of
    /// `calendar` invite, in the sync's transaction. Only employees' calendars speak for
    /// visitors, and only in tenants whose locations have a reception address. Whether a
    /// code mail was queued (the caller wakes the dispatcher after committing).
    pub(crate) async fn expect_invited_visitors(
        &self,
        tx: &mut Tx,
        calendar: &StoredCalendar,
        changes: &Changes,
        window: SyncWindow,
        now: i64,
    ) -> Result<bool> {
        let Owner::Employee(owner_id) = calendar.owner else {
            return Ok(false);
        };
        // Feeds give merged busy time without attendees: they never invite anyone.
        if !matches!(calendar.provider, Provider::Google | Provider::Microsoft) {
            return Ok(false);
        }
        let tenant_id = calendar.tenant_id;
        let receptions = self.receptions(tx, tenant_id).await?;
        if receptions.is_empty() {
            return Ok(false);
        }
        let mut known: BTreeMap<String, Vec<ExpectedVisitRow>> = BTreeMap::new();
        for row in
            store::expected_by_source_prefix(tx, tenant_id, &format!("invite:{}:", calendar.id))
                .await?
        {
            let uid = row
                .source_ref
                .as_deref()
                .and_then(|r| event_uid_of(calendar.id, r));
            if let Some(uid) = uid {
                known.entry(uid.to_owned()).or_default().push(row);
            }
        }
        let mut mailed = false;
        for event in &changes.busy {
            let rows = known.remove(&event.uid).unwrap_or_default();
            let invitation = self
                .invitation(tx, tenant_id, owner_id, event, &receptions)
                .await?;
            mailed |= self
                .settle_event(tx, calendar, event, invitation, rows, now)
                .await?;
        }
        for uid in &changes.removed {
            for row in known.remove(uid).unwrap_or_default() {
                withdraw(tx, &row, now).await?;
            }
        }
        if changes.full {
            // What a full sync no longer lists is gone — within the span it read: a visit
            // whose event lies outside it (long past) is not for this sync to judge.
            let (from, to) = (window.from * 1000, window.to * 1000);
            for row in known.values().flatten() {
                if row.starts_at.is_some_and(|at| (from..to).contains(&at)) {
                    withdraw(tx, row, now).await?;
                }
            }
        }
        Ok(mailed)
    }

    /// The tenant's locations that have a reception address.
    async fn receptions(&self, tx: &mut Tx, tenant_id: i64) -> Result<Vec<Reception>> {
        let mut receptions = Vec::new();
        for location in store::tenant_locations(tx, tenant_id).await? {
            let settings: ReceptionSettings = match serde_json::from_str(&location.reception) {
                Ok(settings) => settings,
                Err(err) => {
                    // One unreadable location must not stop every calendar of the tenant
                    // from syncing; its invitations wait until it is fixed.
                    tracing::warn!(location = location.id, error = %err, "a location's reception settings do not read; its invitations are skipped");
                    continue;
                }
            };
            let address = settings
                .reception_address
                .as_deref()
                .and_then(|a| normalize_email(a).ok());
            if let Some(address) = address {
                receptions.push(Reception {
                    address,
                    location_id: location.id,
                    zone: zone_of(&location.time_zone),
                });
            }
        }
        Ok(receptions)
    }

    /// What `event` on employee `owner_id`'s calendar asks reception to expect; `None` when
    /// it invites no reception, or when another calendar speaks for it.
    async fn invitation<'r>(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        owner_id: i64,
        event: &BusyEvent,
        receptions: &'r [Reception],
    ) -> Result<Option<Invitation<'r>>> {
        let details = &event.details;
        let invited: Vec<String> = details
            .attendees
            .iter()
            .filter_map(|a| normalize_email(&a.email).ok())
            .collect();
        // The first reception invited (a meeting is in one place); a reception that
        // declined (a resource calendar that was busy) was still asked.
        let Some(reception) = invited
            .iter()
            .find_map(|email| receptions.iter().find(|r| &r.address == email))
        else {
            return Ok(None);
        };
        let Some(owner) = employee::find(tx, tenant_id, owner_id).await? else {
            return Ok(None);
        };
        let organizer = details
            .organizer
            .as_deref()
            .and_then(|o| normalize_email(o).ok());
        // The same meeting sits in every invited employee's calendar. When its organizer is
        // an employee whose calendar is connected, that calendar speaks for it (with the
        // organizer as host), so the visitor is expected once, not once per colleague.
        if let Some(organizer) = &organizer
            && *organizer != owner.profile.email
            && let Some(organizing) = employee::find_by_email(tx, tenant_id, organizer).await?
            && calendars::of_owner(tx, tenant_id, Owner::Employee(organizing.id))
                .await?
                .iter()
                .any(|c| matches!(c.provider, Provider::Google | Provider::Microsoft))
        {
            return Ok(None);
        }
        let mut people: Vec<(String, Option<&str>)> = details
            .attendees
            .iter()
            .filter(|a| !a.resource && !a.declined)
            .filter_map(|a| Some((normalize_email(&a.email).ok()?, a.name.as_deref())))
            .collect();
        // An outside organizer (a visitor who sent the invitation) is coming too; Graph
        // does not list the organizer among the attendees.
        if let Some(organizer) = organizer {
            people.push((organizer, None));
        }
        let mut visitors: Vec<InvitedVisitor> = Vec::new();
        for (email, name) in people {
            if email == owner.profile.email
                || receptions.iter().any(|r| r.address == email)
                || visitors.iter().any(|v| v.email == email)
                || employee::find_by_email(tx, tenant_id, &email)
                    .await?
                    .is_some()
            {
                continue;
            }
            visitors.push(InvitedVisitor {
                name: visitor_name(&email, name),
                email,
            });
        }
        Ok(Some(Invitation {
            reception,
            host_employee_id: owner.id,
            visitors,
        }))
    }

    /// Brings the visits of one event (`rows`, as stored) in line with its `invitation`;
    /// whether a code mail was queued.
    async fn settle_event(
        &self,
        tx: &mut Tx,
        calendar: &StoredCalendar,
        event: &BusyEvent,
        invitation: Option<Invitation<'_>>,
        rows: Vec<ExpectedVisitRow>,
        now: i64,
    ) -> Result<bool> {
        let Some(invitation) = invitation else {
            for row in &rows {
                withdraw(tx, row, now).await?;
            }
            return Ok(false);
        };
        let tenant_id = calendar.tenant_id;
        let reception = invitation.reception;
        let starts_at = event.interval.start * 1000;
        let day: NaiveDate = local_time(reception.zone, starts_at).date_naive();
        let span = day_span(reception.zone, day);
        let purpose = event
            .details
            .title
            .as_deref()
            .and_then(|t| one_line(t, MAX_PURPOSE));
        let mut wanted: BTreeMap<String, InvitedVisitor> = BTreeMap::new();
        for visitor in invitation.visitors {
            let fingerprint = self.fingerprint_for_tenant(
                tenant_id,
                "invite_attendee",
                visitor.email.as_bytes(),
            )?;
            let key = format!("{}{fingerprint}", event_prefix(calendar.id, &event.uid));
            wanted.insert(key, visitor);
        }
        for row in &rows {
            if !row
                .source_ref
                .as_ref()
                .is_some_and(|r| wanted.contains_key(r))
            {
                withdraw(tx, row, now).await?;
            }
        }
        // A day already over is history: nobody is expected on it any more.
        if span.1 <= now {
            return Ok(false);
        }
        let target = Target {
            location_id: reception.location_id,
            host_employee_id: invitation.host_employee_id,
            day,
            span,
            starts_at,
            purpose,
        };
        let mut mailed = false;
        for (key, visitor) in wanted {
            match rows.iter().find(|r| r.source_ref.as_deref() == Some(&key)) {
                Some(row) => mailed |= self.move_visit(tx, row, &target, now).await?,
                None => {
                    let new = NewExpectedVisit {
                        location_id: target.location_id,
                        host_employee_id: target.host_employee_id,
                        visitor_name: visitor.name,
                        visitor_company: String::new(),
                        visitor_email: Some(visitor.email),
                        day,
                        starts_at: Some(starts_at),
                        purpose: target.purpose.clone(),
                        source: Source::Invite,
                        source_ref: Some(key),
                        code: None,
                    };
                    self.register_expected_visit(tx, tenant_id, &new).await?;
                    mailed = true;
                }
            }
        }
        Ok(mailed)
    }

    /// Moves a visit to where and when its event now is (or brings a withdrawn one back).
    /// Its code stays unless another visit holds it on the new day; a new code is mailed.
    /// An unchanged visit, or one whose visitor has arrived, is left as it is. Whether a
    /// code mail was queued.
    async fn move_visit(
        &self,
        tx: &mut Tx,
        row: &ExpectedVisitRow,
        target: &Target,
        now: i64,
    ) -> Result<bool> {
        if row.status == "arrived" {
            return Ok(false);
        }
        let purpose_at = expected_at(row.tenant_id, "purpose", &row.public_id);
        let purpose = self.open_optional(row.purpose_sealed.as_deref(), purpose_at)?;
        let day = target.day.to_string();
        let unchanged = row.status == "expected"
            && row.location_id == target.location_id
            && row.host_employee_id == target.host_employee_id
            && row.day == day
            && row.starts_at == Some(target.starts_at)
            && purpose == target.purpose;
        if unchanged {
            return Ok(false);
        }
        let code = free_code(
            tx,
            row.tenant_id,
            Some(&row.code),
            target.span,
            Some(row.id),
        )
        .await?;
        let purpose_sealed = target
            .purpose
            .as_deref()
            .map(|p| self.seal_for_tenant(p.as_bytes(), purpose_at))
            .transpose()?;
        let moved = ExpectedVisitRow {
            location_id: target.location_id,
            host_employee_id: target.host_employee_id,
            code,
            day,
            valid_from: target.span.0,
            valid_until: target.span.1,
            starts_at: Some(target.starts_at),
            purpose_sealed,
            status: "expected".into(),
            updated_at: now,
            ..row.clone()
        };
        store::reschedule_expected(tx, &moved).await?;
        if moved.code != row.code {
            let visit: ExpectedVisit = self.open_expected(&moved)?;
            let location = tenant::find_location(tx, row.tenant_id, target.location_id)
                .await?
                .ok_or(Error::NotFound("location"))?;
            self.queue_code_mail(tx, row.tenant_id, &visit, &location)
                .await?;
        }
        Ok(moved.code != row.code)
    }
}

/// Where and when an event's visits belong.
#[derive(Debug)]
struct Target {
    location_id: i64,
    host_employee_id: i64,
    day: NaiveDate,
    /// The day's instants at the location (the codes' validity).
    span: (i64, i64),
    starts_at: i64,
    purpose: Option<String>,
}

/// Withdraws a visit still expected on a day not over yet: its code stops opening it. A
/// visitor who arrived, or a day gone by, is history and stays as it was.
async fn withdraw(tx: &mut Tx, row: &ExpectedVisitRow, now: i64) -> Result<()> {
    if row.status == "expected" && row.valid_until > now {
        store::set_expected_status(tx, row.tenant_id, row.id, "withdrawn", now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_is_read_back_even_when_it_holds_colons() {
        let key = format!("{}{}", event_prefix(7, "a:b_2026"), "0f".repeat(32));
        assert_eq!(event_uid_of(7, &key), Some("a:b_2026"));
        assert_eq!(event_uid_of(70, &key), None);
        assert_eq!(event_uid_of(7, "admin"), None);
    }

    #[test]
    fn a_visitor_is_greeted_by_their_display_name_else_their_addresses_local_part() {
        assert_eq!(
            visitor_name("taro@example.com", Some(" Taro Yamada ")),
            "Taro Yamada"
        );
        assert_eq!(
            visitor_name("taro@example.com", Some("taro@example.com")),
            "taro"
        );
        assert_eq!(visitor_name("taro@example.com", None), "taro");
        assert_eq!(visitor_name("t@example.com", Some("a\u{7}b")), "a b");
        assert_eq!(
            visitor_name("t@example.com", Some(&"x".repeat(500)))
                .chars()
                .count(),
            MAX_VISITOR_NAME
        );
    }
}
