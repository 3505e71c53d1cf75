//! Reception: a visitor checks in at a location's kiosk (with a reception code, by picking
//! the host, or by a category such as a delivery); the visit and the notice to the host are
//! written in one transaction; the host answers with a button on any chat surface, which
//! updates the notice in place and reaches the kiosk's live stream.
//!
//! Kiosks are public pages. Outside the demo a kiosk holds a device token from pairing
//! (see [`Engine::pair_device`]), which names its tenant and location; wrong reception codes
//! are counted per kiosk so that guessing one of the million codes does not pay.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access_log::Event;
use super::conversation::ChatUser;
use super::outbox::{ChatNotice, ChatTarget, OutboxMessage};
use super::visitor_label::VisitorLabel;
use super::{Actor, Engine};
use crate::domain::chat::{Action, Button, ButtonStyle, Field, Message};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::{Permission, normalize_email};
use crate::domain::token;
use crate::domain::visit::{
    Category, CheckOutBy, Contact, DEFAULT_DELAY_MINUTES, HostAnswer, MAX_VISITOR_COMPANY,
    MAX_VISITOR_NAME, ReceptionSettings, VisitStatus, normalize_code, visitor_fields,
};
use crate::domain::webhook::WebhookEvent;
use crate::i18n::{self, Lang};
use crate::port::SealedAt;
use crate::store::Tx;
use crate::store::employee::{self, Employee};
use crate::store::reception::{self as store, DeviceRow, VisitRow};
use crate::store::tenant::{self, Location};
use crate::{Error, Result};

/// Wrong reception codes one kiosk may type per [`CODE_ATTEMPT_WINDOW`]: a kiosk that
/// guesses gets at most 10 of a million codes per quarter hour.
pub const MAX_CODE_ATTEMPTS: i64 = 10;
pub const CODE_ATTEMPT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// How long an admin's pairing code works.
pub const PAIRING_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Pairing codes: typeable on a tablet, no 0/O or 1/I to misread; 32^10 of them.
const PAIRING_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PAIRING_CODE_LENGTH: usize = 10;

/// How many hosts a kiosk search shows.
pub const MAX_HOST_RESULTS: usize = 10;

/// A kiosk, resolved from its device token (or, in the demo, from its location alone).
#[derive(Debug, Clone)]
pub struct Kiosk {
    pub tenant_id: i64,
    pub location: Location,
    pub settings: ReceptionSettings,
    /// The paired device; `None` for the demo's open kiosk.
    pub device_id: Option<i64>,
}

impl Kiosk {
    /// Who wrong codes are counted against: the device, or (unpaired demo) the address.
    fn attempt_subject(&self, ip: &str) -> String {
        match self.device_id {
            Some(id) => format!("device:{id}"),
            None => format!("ip:{ip}"),
        }
    }
}

/// What a visitor sends to check in: a reception code, or a host (id or email), or a
/// category; with their name and company unless a code gives them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub reception_code: Option<String>,
    /// The employee visited: their id, or their email.
    pub host: Option<serde_json::Value>,
    pub category: Option<Category>,
    pub visitor_name: Option<String>,
    pub visitor_company: Option<String>,
    pub visitor_email: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The version of the location's entrance terms the visitor accepted.
    pub accept_terms: Option<i64>,
    /// The kiosk's language (the visitor's choice).
    #[serde(default)]
    pub language: Lang,
}

/// A visit as the kiosk (and the admin API) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitView {
    pub id: i64,
    pub public_id: String,
    pub location_id: i64,
    pub status: VisitStatus,
    pub delay_minutes: Option<i64>,
    pub host_name: Option<String>,
    pub category: Option<Category>,
    pub visitor_name: String,
    pub visitor_company: String,
    pub checked_in_at: i64,
    pub checked_out_at: Option<i64>,
    /// The admin-defined labels on the visit (not shown at the kiosk).
    pub labels: Vec<VisitorLabel>,
}

/// The outcome of a check-in.
#[derive(Debug, Clone)]
pub struct CheckedIn {
    pub visit: VisitView,
    /// The badge's check-out token, when the location prints badges (shown once).
    pub badge_token: Option<String>,
    /// `false` when the idempotency key named an earlier check-in (nothing new written).
    pub created: bool,
}

/// Where a visit's sealed values live.
pub(crate) fn visit_at<'a>(tenant_id: i64, column: &'a str, public_id: &'a str) -> SealedAt<'a> {
    SealedAt {
        tenant_id,
        table: "visits",
        column,
        row: public_id,
    }
}

/// Where an expected visit's sealed values live.
pub(crate) fn expected_at<'a>(tenant_id: i64, column: &'a str, public_id: &'a str) -> SealedAt<'a> {
    SealedAt {
        tenant_id,
        table: "expected_visits",
        column,
        row: public_id,
    }
}

/// The visitor's details and the appointment, opened, for notices and views.
#[derive(Debug, Clone, Default)]
struct Visitor {
    name: String,
    company: String,
    purpose: Option<String>,
}

impl Engine {
    // ---- kiosks ----

    /// The kiosk of location `slug`: the paired device holding `device_token`, or — in the
    /// demo only — the demo tenant's location without pairing.
    pub async fn kiosk(&self, slug: &str, device_token: Option<&str>) -> Result<Kiosk> {
        let mut tx = self.db.read().await?;
        let (tenant_id, device_id) = match device_token {
            Some(token_text) => {
                let device = store::device_by_token(&mut tx, &token::hash(token_text))
                    .await?
                    .filter(|d| d.kind == "kiosk")
                    .ok_or(Error::DeviceNotPaired)?;
                (device.tenant_id, Some(device))
            }
            None => match self.demo_tenant().await? {
                Some(tenant_id) => (tenant_id, None),
                None => return Err(Error::DeviceNotPaired),
            },
        };
        let location = tenant::find_location_by_slug(&mut tx, tenant_id, slug)
            .await?
            .ok_or(Error::NotFound("location"))?;
        if let Some(device) = &device_id
            && device.location_id != Some(location.id)
        {
            // Paired to another location of the tenant: not this kiosk.
            return Err(Error::DeviceNotPaired);
        }
        let settings = self.load_settings(&mut tx, tenant_id, location.id).await?;
        drop(tx);
        // When the kiosk was last seen, for admins: to the minute, so a busy kiosk does not
        // cost a write per request.
        let now = self.ports.clock.now_ms();
        if let Some(device) = &device_id
            && device.last_seen_at.is_none_or(|seen| now - seen >= 60_000)
        {
            let mut tx = self.db.write().await?;
            store::touch_device(&mut tx, device.id, now).await?;
            tx.commit().await?;
        }
        Ok(Kiosk {
            tenant_id,
            location,
            settings,
            device_id: device_id.map(|d| d.id),
        })
    }

    pub(crate) async fn load_settings(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        location_id: i64,
    ) -> Result<ReceptionSettings> {
        let json = store::settings(tx, tenant_id, location_id)
            .await?
            .ok_or(Error::NotFound("location"))?;
        serde_json::from_str(&json)
            .map_err(|err| Error::internal("reading a location's reception settings", err))
    }

    /// Hosts a visitor may pick: employees whose name, kana reading, romaji reading or
    /// email contains `query`, at most [`MAX_HOST_RESULTS`].
    pub async fn kiosk_hosts(&self, kiosk: &Kiosk, query: &str) -> Result<Vec<Employee>> {
        let query = checked_text(query, TextLimit::optional(100))
            .map_err(|reason| Error::invalid("q", reason))?;
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let limit = MAX_HOST_RESULTS as i64;
        let mut tx = self.db.read().await?;
        let (mut found, _) =
            employee::list(&mut tx, kiosk.tenant_id, Some(&query), limit, 0).await?;
        if let Some(kana) = crate::domain::romaji::to_hiragana(&query) {
            let (by_reading, _) =
                employee::list(&mut tx, kiosk.tenant_id, Some(&kana), limit, 0).await?;
            for employee in by_reading {
                if !found.iter().any(|e| e.id == employee.id) {
                    found.push(employee);
                }
            }
            found.truncate(MAX_HOST_RESULTS);
        }
        Ok(found)
    }

    // ---- check-in ----

    /// Checks a visitor in at `kiosk` (see [`CheckIn`]); `ip` is the kiosk's address. The
    /// visit, the notices and the terms acceptance are written in one transaction. A repeat
    /// of `idempotency_key` answers the visit it made, writing nothing.
    pub async fn check_in(
        &self,
        kiosk: &Kiosk,
        ip: &str,
        input: CheckIn,
        idempotency_key: Option<&str>,
    ) -> Result<CheckedIn> {
        let idempotency_key = match idempotency_key {
            Some(key) => Some(
                checked_text(key, TextLimit::name(100))
                    .map_err(|reason| Error::invalid("Idempotency-Key", reason))?,
            ),
            None => None,
        };
        if let Some(key) = &idempotency_key {
            let mut tx = self.db.read().await?;
            if let Some(row) =
                store::visit_by_idempotency_key(&mut tx, kiosk.tenant_id, kiosk.location.id, key)
                    .await?
            {
                let visit = self.visit_view(&mut tx, &row).await?;
                return Ok(CheckedIn {
                    visit,
                    badge_token: None,
                    created: false,
                });
            }
        }
        let now = self.ports.clock.now_ms();
        let settings = &kiosk.settings;
        let fields = visitor_fields(settings, &input.fields)?;
        let typed_name = optional_text(
            "visitor_name",
            input.visitor_name.as_deref(),
            MAX_VISITOR_NAME,
        )?;
        let typed_company = optional_text(
            "visitor_company",
            input.visitor_company.as_deref(),
            MAX_VISITOR_COMPANY,
        )?;
        let typed_email = match input.visitor_email.as_deref().map(str::trim) {
            Some(email) if !email.is_empty() => Some(
                normalize_email(email)
                    .map_err(|_| Error::invalid("visitor_email", Invalid::NotEmail))?,
            ),
            _ => None,
        };

        // Whom the visit is for.
        let mut tx = self.db.write().await?;
        let (host, expected, category) = match (&input.reception_code, &input.host, input.category)
        {
            (Some(code), None, None) => {
                drop(tx);
                let expected = self.expected_for_code(kiosk, ip, code).await?;
                tx = self.db.write().await?;
                let host = employee::find(&mut tx, kiosk.tenant_id, expected.host_employee_id)
                    .await?
                    .ok_or(Error::WrongReceptionCode)?;
                (Some(host), Some(expected), None)
            }
            (None, Some(host), None) => {
                let host = self.find_host(&mut tx, kiosk.tenant_id, host).await?;
                (Some(host), None, None)
            }
            (None, None, Some(category)) => {
                if !settings.categories.contains_key(&category) {
                    return Err(Error::invalid(
                        "category",
                        Invalid::NotOneOf {
                            allowed: &["delivery", "interview", "other"],
                        },
                    ));
                }
                (None, None, Some(category))
            }
            _ => {
                return Err(Error::invalid(
                    "reception_code",
                    Invalid::NotOneOf {
                        allowed: &["reception_code", "host", "category"],
                    },
                ));
            }
        };
        let announced = match &expected {
            Some(expected) => self.open_expected_visitor(expected)?,
            None => Visitor::default(),
        };
        let visitor = Visitor {
            name: typed_name.clone().unwrap_or(announced.name),
            company: typed_company.clone().unwrap_or(announced.company),
            purpose: announced.purpose,
        };
        if visitor.name.is_empty() {
            return Err(Error::invalid("visitor_name", Invalid::Required));
        }
        let email = match (&typed_email, &expected) {
            (Some(email), _) => Some(email.clone()),
            (None, Some(expected)) => self.open_optional(
                expected.visitor_email_sealed.as_deref(),
                expected_at(kiosk.tenant_id, "visitor_email", &expected.public_id),
            )?,
            (None, None) => None,
        };

        // Entrance terms: accepted now, or still valid from an earlier visit.
        let visitor_key = self.visitor_key(
            kiosk.tenant_id,
            email.as_deref(),
            &visitor.name,
            &visitor.company,
        )?;
        let terms_version = match &settings.terms {
            Some(terms) => {
                let accepted_before = store::has_accepted(
                    &mut tx,
                    kiosk.tenant_id,
                    kiosk.location.id,
                    &visitor_key,
                    terms.version,
                    now,
                )
                .await?;
                if !accepted_before && input.accept_terms != Some(terms.version) {
                    return Err(Error::invalid("accept_terms", Invalid::Required));
                }
                Some(terms.version)
            }
            None => None,
        };

        let zone = zone_of(&kiosk.location.time_zone);
        let day = local_day(zone, now);
        let public_id = uuid::Uuid::new_v4().simple().to_string();
        let badge_token = settings.badge_printing.then(token::generate);
        let seal = |column: &str, value: &str| {
            self.seal_for_tenant(
                value.as_bytes(),
                visit_at(kiosk.tenant_id, column, &public_id),
            )
        };
        let fields_json = serde_json::to_string(&fields)
            .map_err(|err| Error::internal("writing a visit's fields", err))?;
        let row = VisitRow {
            id: 0,
            tenant_id: kiosk.tenant_id,
            location_id: kiosk.location.id,
            public_id: public_id.clone(),
            expected_visit_id: expected.as_ref().map(|e| e.id),
            host_employee_id: host.as_ref().map(|h| h.id),
            category: category.map(|c| c.as_str().to_owned()),
            visitor_name_sealed: Some(seal("visitor_name", &visitor.name)?),
            visitor_company_sealed: Some(seal("visitor_company", &visitor.company)?),
            visitor_email_sealed: email
                .as_deref()
                .map(|e| seal("visitor_email", e))
                .transpose()?,
            fields_sealed: (!fields.is_empty())
                .then(|| seal("fields", &fields_json))
                .transpose()?,
            purpose_sealed: visitor
                .purpose
                .as_deref()
                .map(|p| seal("purpose", p))
                .transpose()?,
            status: VisitStatus::Waiting.as_str().to_owned(),
            delay_minutes: None,
            answered_by: None,
            answered_at: None,
            fallback_due_at: Some(now + settings.answer_timeout_seconds * 1000),
            fallback_sent_at: None,
            day,
            checked_in_at: now,
            checked_out_at: None,
            checked_out_by: None,
            reminder_sent_at: None,
            terms_version,
            badge_token_hash: badge_token.as_deref().map(token::hash),
            idempotency_key: idempotency_key.clone(),
            purged_at: None,
        };
        let id = match store::insert_visit(&mut tx, &row).await {
            Ok(id) => id,
            // The same key sent twice at once: the other request made the visit.
            Err(crate::store::StoreError::Duplicate) if idempotency_key.is_some() => {
                drop(tx);
                return Box::pin(self.check_in(kiosk, ip, input, idempotency_key.as_deref())).await;
            }
            Err(err) => return Err(err.into()),
        };
        if let Some(expected) = &expected {
            store::set_expected_status(&mut tx, kiosk.tenant_id, expected.id, "arrived", now)
                .await?;
        }
        self.queue_visit_event(&mut tx, kiosk.tenant_id, id, WebhookEvent::VisitCheckedIn)
            .await?;
        if let (Some(terms), Some(accepted)) = (&settings.terms, input.accept_terms)
            && accepted == terms.version
        {
            let valid_until = now + terms.validity_days * 86_400_000;
            store::record_acceptance(
                &mut tx,
                &store::Acceptance {
                    tenant_id: kiosk.tenant_id,
                    location_id: kiosk.location.id,
                    visitor_key: &visitor_key,
                    terms_version: terms.version,
                    visit_id: id,
                    accepted_at: now,
                    valid_until,
                },
            )
            .await?;
        }

        let details = NoticeDetails {
            visit_id: id,
            location: kiosk.location.name.clone(),
            zone,
            visitor: visitor.clone(),
            host_name: host.as_ref().map(|h| h.profile.name.clone()),
            category,
            checked_in_at: now,
        };
        match (&host, category) {
            (Some(host), _) => {
                let message = details.message(host.profile.language, &NoticeState::Waiting);
                self.notify_employee(&mut tx, kiosk.tenant_id, host, &notice_key(id), &message)
                    .await?;
                // The host's next meeting room may still be occupied: its occupants hear
                // that the visitor is here.
                self.tell_occupants_visitor_arrived(&mut tx, kiosk.tenant_id, host, now)
                    .await?;
            }
            (None, Some(category)) => {
                if let Some(contact) = settings.categories.get(&category) {
                    let state = NoticeState::Waiting;
                    self.notify_contact(&mut tx, kiosk.tenant_id, contact, &details, &state)
                        .await?;
                }
            }
            (None, None) => {}
        }
        if let Some(channel) = &settings.arrivals_channel {
            let state = NoticeState::Announced;
            self.notify_contact(&mut tx, kiosk.tenant_id, channel, &details, &state)
                .await?;
        }
        let visit = VisitView {
            id,
            public_id,
            location_id: kiosk.location.id,
            status: VisitStatus::Waiting,
            delay_minutes: None,
            host_name: host.map(|h| h.profile.name),
            category,
            visitor_name: visitor.name,
            visitor_company: visitor.company,
            checked_in_at: now,
            checked_out_at: None,
            labels: Vec::new(),
        };
        tx.commit().await?;
        self.outbox_queued.notify_one();
        self.wake_web_chat();
        self.wake_visits();
        Ok(CheckedIn {
            visit,
            badge_token,
            created: true,
        })
    }

    /// The expected visit `typed` opens today, counting a wrong code against the kiosk and
    /// refusing while it has typed too many.
    async fn expected_for_code(
        &self,
        kiosk: &Kiosk,
        ip: &str,
        typed: &str,
    ) -> Result<store::ExpectedVisitRow> {
        let now = self.ports.clock.now_ms();
        let subject = kiosk.attempt_subject(ip);
        let since = now - CODE_ATTEMPT_WINDOW.num_milliseconds();
        let mut tx = self.db.write().await?;
        let (attempts, earliest) =
            store::code_attempts_since(&mut tx, kiosk.tenant_id, &subject, since).await?;
        if attempts >= MAX_CODE_ATTEMPTS {
            let free_at = earliest.unwrap_or(now) + CODE_ATTEMPT_WINDOW.num_milliseconds();
            let retry_after_secs = u64::try_from((free_at - now).max(1000) / 1000).unwrap_or(1);
            return Err(Error::Throttled { retry_after_secs });
        }
        let found = match normalize_code(typed) {
            Some(code) => store::expected_by_code(&mut tx, kiosk.tenant_id, &code, now).await?,
            None => None,
        };
        match found {
            // A code of another location's visit is still this tenant's visitor: the kiosk
            // checks them in where they are.
            Some(expected) => Ok(expected),
            None => {
                store::record_code_attempt(&mut tx, kiosk.tenant_id, &subject, now).await?;
                tx.commit().await?;
                Err(Error::WrongReceptionCode)
            }
        }
    }

    /// The host a kiosk named: an employee id (number) or email.
    pub(crate) async fn find_host(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        host: &serde_json::Value,
    ) -> Result<Employee> {
        let found = match host {
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(id) => employee::find(tx, tenant_id, id).await?,
                None => None,
            },
            serde_json::Value::String(text) => match text.trim().parse::<i64>() {
                Ok(id) => employee::find(tx, tenant_id, id).await?,
                Err(_) => match normalize_email(text) {
                    Ok(email) => employee::find_by_email(tx, tenant_id, &email).await?,
                    Err(_) => None,
                },
            },
            _ => None,
        };
        found.ok_or(Error::NotFound("host"))
    }

    /// Who a visitor is across visits, for their terms acceptance: a keyed fingerprint of
    /// their email, or of name and company when they gave none. Keyed with the tenant's
    /// data key, so the table reveals no email to someone who guesses addresses.
    fn visitor_key(
        &self,
        tenant_id: i64,
        email: Option<&str>,
        name: &str,
        company: &str,
    ) -> Result<String> {
        let text = match email {
            Some(email) => format!("email:{email}"),
            None => format!(
                "name:{}|{}",
                crate::domain::people::fold_for_search(name),
                crate::domain::people::fold_for_search(company)
            ),
        };
        self.fingerprint_for_tenant(tenant_id, "visitor", text.as_bytes())
    }

    fn open_expected_visitor(&self, expected: &store::ExpectedVisitRow) -> Result<Visitor> {
        let opened = self.open_expected(expected)?;
        Ok(Visitor {
            name: opened.visitor_name,
            company: opened.visitor_company,
            purpose: opened.purpose,
        })
    }

    /// The text of an optional sealed value.
    pub(crate) fn open_optional(
        &self,
        sealed: Option<&str>,
        at: SealedAt<'_>,
    ) -> Result<Option<String>> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self
            .open_for_tenant(sealed, at)
            .map_err(|err| Error::internal("opening visitor data", err))?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|err| Error::internal("opening visitor data", err))
    }

    /// The visit as a kiosk or an admin sees it.
    pub(crate) async fn visit_view(&self, tx: &mut Tx, row: &VisitRow) -> Result<VisitView> {
        let host_name = match row.host_employee_id {
            Some(id) => employee::find(tx, row.tenant_id, id)
                .await?
                .map(|e| e.profile.name),
            None => None,
        };
        let at = |column| visit_at(row.tenant_id, column, &row.public_id);
        Ok(VisitView {
            id: row.id,
            public_id: row.public_id.clone(),
            location_id: row.location_id,
            status: VisitStatus::parse(&row.status)
                .ok_or_else(|| Error::internal("reading a visit", "unknown status"))?,
            delay_minutes: row.delay_minutes,
            host_name,
            category: row.category.as_deref().and_then(Category::parse),
            visitor_name: self
                .open_optional(row.visitor_name_sealed.as_deref(), at("visitor_name"))?
                .unwrap_or_default(),
            visitor_company: self
                .open_optional(row.visitor_company_sealed.as_deref(), at("visitor_company"))?
                .unwrap_or_default(),
            checked_in_at: row.checked_in_at,
            checked_out_at: row.checked_out_at,
            labels: store::labels_of_visit(tx, row.tenant_id, row.id)
                .await?
                .into_iter()
                .map(VisitorLabel::from)
                .collect(),
        })
    }

    /// A visit of the kiosk's location, by the id the kiosk was given.
    pub async fn kiosk_visit(&self, kiosk: &Kiosk, public_id: &str) -> Result<VisitView> {
        let mut tx = self.db.read().await?;
        let row = store::visit_by_public_id(&mut tx, kiosk.tenant_id, public_id)
            .await?
            .filter(|row| row.location_id == kiosk.location.id)
            .ok_or(Error::NotFound("visit"))?;
        self.visit_view(&mut tx, &row).await
    }

    /// Told whenever this instance changed a visit (a counter; kiosk streams wait for it to
    /// change, and poll for other instances' changes).
    pub fn visit_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.visits_changed.subscribe()
    }

    /// Wakes every live kiosk stream of this instance to look at its visit again.
    pub fn wake_visits(&self) {
        self.visits_changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    // ---- answers and check-out ----

    /// The host's answer from chat: `who` pressed `answer` on visit `visit_id`. Only the
    /// host, or the location's fallback or category contact, may answer. The answer is the
    /// reply shown to the person who pressed.
    pub async fn answer_visit(
        &self,
        who: &ChatUser,
        employee: &Employee,
        visit_id: i64,
        answer: HostAnswer,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some(row) = store::visit(&mut tx, who.tenant_id, visit_id).await? else {
            return Ok(Message::text(i18n::text(lang, "reception.reply.unknown")));
        };
        if !self.may_answer(&mut tx, &row, employee).await? {
            return Ok(Message::text(i18n::text(lang, "reception.reply.not_yours")));
        }
        if row.checked_out_at.is_some() {
            return Ok(Message::text(i18n::text(
                lang,
                "reception.reply.already_out",
            )));
        }
        let answered_by = format!("{}:{}", who.platform, who.user_id);
        let delay = answer.delay_minutes().map(i64::from);
        store::set_answer(
            &mut tx,
            who.tenant_id,
            visit_id,
            answer.status().as_str(),
            delay,
            &answered_by,
            now,
        )
        .await?;
        let details = self.notice_details(&mut tx, &row).await?;
        let state = NoticeState::Answered {
            by: employee.profile.name.clone(),
            answer,
        };
        self.update_visit_notice(&mut tx, &row, &details, &state)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        self.wake_web_chat();
        self.wake_visits();
        let key = match answer {
            HostAnswer::Coming => "reception.reply.coming",
            HostAnswer::Delayed(_) => "reception.reply.delayed",
            HostAnswer::Unavailable => "reception.reply.unavailable",
        };
        Ok(Message::text(i18n::format(
            lang,
            key,
            &[
                ("visitor", &details.visitor.name),
                ("minutes", &delay.unwrap_or_default().to_string()),
            ],
        )))
    }

    /// Checks a visitor out from chat (the host, or a reception contact, pressed the
    /// button).
    pub async fn check_out_from_chat(
        &self,
        who: &ChatUser,
        employee: &Employee,
        visit_id: i64,
    ) -> Result<Message> {
        let lang = employee.profile.language;
        let mut tx = self.db.write().await?;
        let Some(row) = store::visit(&mut tx, who.tenant_id, visit_id).await? else {
            return Ok(Message::text(i18n::text(lang, "reception.reply.unknown")));
        };
        if !self.may_answer(&mut tx, &row, employee).await? {
            return Ok(Message::text(i18n::text(lang, "reception.reply.not_yours")));
        }
        let name = self
            .check_out_in(&mut tx, &row, CheckOutBy::Host)
            .await?
            .map(|d| d.visitor.name);
        tx.commit().await?;
        self.after_check_out();
        Ok(match name {
            Some(visitor) => Message::text(i18n::format(
                lang,
                "reception.reply.checked_out",
                &[("visitor", &visitor)],
            )),
            None => Message::text(i18n::text(lang, "reception.reply.already_out")),
        })
    }

    /// The answer to `visitors` / `来客` from `host`: their visitors expected today (at each
    /// visit's location) and those on site now, times in the host's zone, with a check-out
    /// button for each on site.
    pub async fn visitors_from_chat(&self, who: &ChatUser, host: &Employee) -> Result<Message> {
        /// The most visits one answer lists (buttons come five to a row).
        const MAX_LISTED: usize = 25;
        let lang = host.profile.language;
        let zone = zone_of(&host.profile.time_zone);
        let now = self.ports.clock.now_ms();
        let today = local_time(zone, now).date_naive();
        let mut tx = self.db.read().await?;
        let locations = tenant::list_locations(&mut tx, who.tenant_id).await?;
        let location_name = |id: i64| {
            locations
                .iter()
                .find(|l| l.id == id)
                .map(|l| l.name.clone())
                .unwrap_or_default()
        };
        let who_is = |name: &str, company: &str| {
            if company.is_empty() {
                name.to_owned()
            } else {
                format!("{name} ({company})")
            }
        };
        // Days at a location are local: one day either side of the host's today covers
        // every zone; the visit's own validity says whether it is today there.
        let around = |days: i64| (today + chrono::Duration::days(days)).to_string();
        let expected = store::list_expected(
            &mut tx,
            who.tenant_id,
            &around(-1),
            &around(1),
            super::MAX_PAGE,
        )
        .await?
        .into_iter()
        .filter(|e| {
            e.host_employee_id == host.id
                && e.status == "expected"
                && e.valid_from <= now
                && now < e.valid_until
        })
        .take(MAX_LISTED);
        let mut expected_lines = Vec::new();
        for row in expected {
            let visit = self.open_expected(&row)?;
            let time = match visit.starts_at {
                Some(at) => local_time(zone, at).format("%H:%M").to_string(),
                None => i18n::text(lang, "bot_visitors.any_time"),
            };
            expected_lines.push(format!(
                "• {}",
                i18n::format(
                    lang,
                    "bot_visitors.expected_item",
                    &[
                        ("time", &time),
                        (
                            "visitor",
                            &who_is(&visit.visitor_name, &visit.visitor_company)
                        ),
                        ("location", &location_name(visit.location_id)),
                        ("code", &visit.code),
                    ],
                )
            ));
        }
        let on_site: Vec<VisitRow> = store::on_site(&mut tx, who.tenant_id, None)
            .await?
            .into_iter()
            .filter(|v| v.host_employee_id == Some(host.id))
            .take(MAX_LISTED)
            .collect();
        let mut on_site_lines = Vec::new();
        let mut buttons = Vec::new();
        for row in &on_site {
            let view = self.visit_view(&mut tx, row).await?;
            on_site_lines.push(format!(
                "• {}",
                i18n::format(
                    lang,
                    "bot_visitors.on_site_item",
                    &[
                        (
                            "visitor",
                            &who_is(&view.visitor_name, &view.visitor_company)
                        ),
                        ("location", &location_name(row.location_id)),
                        (
                            "time",
                            &local_time(zone, row.checked_in_at)
                                .format("%H:%M")
                                .to_string()
                        ),
                    ],
                )
            ));
            buttons.push(Button {
                action: Action::CheckOutVisit { visit: row.id },
                label: i18n::format(
                    lang,
                    "bot_visitors.check_out",
                    &[("visitor", &view.visitor_name)],
                ),
                style: ButtonStyle::Default,
            });
        }
        if expected_lines.is_empty() && on_site_lines.is_empty() {
            return Ok(Message::text(i18n::text(lang, "bot_visitors.none")));
        }
        let mut message = Message::text(i18n::format(
            lang,
            "bot_visitors.title",
            &[("day", &today.to_string())],
        ));
        if !expected_lines.is_empty() {
            message = message.paragraph(format!(
                "{}\n{}",
                i18n::text(lang, "bot_visitors.expected"),
                expected_lines.join("\n")
            ));
        }
        if !on_site_lines.is_empty() {
            message = message.paragraph(format!(
                "{}\n{}",
                i18n::text(lang, "bot_visitors.on_site"),
                on_site_lines.join("\n")
            ));
        }
        for row in buttons.chunks(5) {
            message = message.buttons(row.to_vec());
        }
        Ok(message)
    }

    /// Checks out the visit whose badge carries `badge` (the token, or the badge's URL as a
    /// scanner types it), at the kiosk of its location.
    pub async fn kiosk_check_out(&self, kiosk: &Kiosk, badge: &str) -> Result<VisitView> {
        let badge = badge.trim();
        if badge.is_empty() || badge.len() > 500 {
            return Err(Error::invalid("badge", Invalid::Required));
        }
        // A scanner types the QR's URL: the token is its `t` parameter.
        let token_text = badge
            .split(['?', '&'])
            .find_map(|part| part.strip_prefix("t="))
            .unwrap_or(badge);
        let mut tx = self.db.write().await?;
        let row = store::visit_by_badge(&mut tx, kiosk.tenant_id, &token::hash(token_text))
            .await?
            .filter(|row| row.location_id == kiosk.location.id)
            .ok_or(Error::NotFound("badge"))?;
        self.check_out_in(&mut tx, &row, CheckOutBy::Badge).await?;
        let row = store::visit(&mut tx, kiosk.tenant_id, row.id)
            .await?
            .ok_or(Error::NotFound("visit"))?;
        let view = self.visit_view(&mut tx, &row).await?;
        tx.commit().await?;
        self.after_check_out();
        Ok(view)
    }

    /// Checks a visit out by an admin or receptionist, logged.
    pub async fn check_out_visit(&self, actor: &Actor, public_id: &str) -> Result<VisitView> {
        actor.require(Permission::HandleVisitors)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        let row = store::visit_by_public_id(&mut tx, tenant_id, public_id)
            .await?
            .ok_or(Error::NotFound("visit"))?;
        if self
            .check_out_in(&mut tx, &row, CheckOutBy::Admin)
            .await?
            .is_some()
        {
            let event = Event::by(
                actor,
                "visit.check_out",
                format!("visit:{}", row.id),
                json!({}),
            );
            self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
                .await?;
        }
        let row = store::visit(&mut tx, tenant_id, row.id)
            .await?
            .ok_or(Error::NotFound("visit"))?;
        let view = self.visit_view(&mut tx, &row).await?;
        tx.commit().await?;
        self.after_check_out();
        Ok(view)
    }

    /// Checks `row` out in `tx`: the notice updated, the webhook queued. The visit's details
    /// when it was still on site, `None` when it had already left.
    pub(crate) async fn check_out_in(
        &self,
        tx: &mut Tx,
        row: &VisitRow,
        by: CheckOutBy,
    ) -> Result<Option<NoticeDetails>> {
        let now = self.ports.clock.now_ms();
        if !store::check_out(tx, row.tenant_id, row.id, by.as_str(), now).await? {
            return Ok(None);
        }
        let details = self.notice_details(tx, row).await?;
        self.update_visit_notice(tx, row, &details, &NoticeState::CheckedOut { at: now })
            .await?;
        self.queue_visit_event(tx, row.tenant_id, row.id, WebhookEvent::VisitCheckedOut)
            .await?;
        Ok(Some(details))
    }

    fn after_check_out(&self) {
        self.outbox_queued.notify_one();
        self.wake_web_chat();
        self.wake_visits();
    }

    /// Whether `employee` may answer the visit: its host, or a contact of its location.
    async fn may_answer(&self, tx: &mut Tx, row: &VisitRow, employee: &Employee) -> Result<bool> {
        if row.host_employee_id == Some(employee.id) {
            return Ok(true);
        }
        let settings = self
            .load_settings(tx, row.tenant_id, row.location_id)
            .await?;
        let email = &employee.profile.email;
        let is_contact = |contact: &Contact| matches!(contact, Contact::Employee(e) if e.eq_ignore_ascii_case(email));
        Ok(settings.fallback.as_ref().is_some_and(is_contact)
            || settings.categories.values().any(is_contact))
    }

    /// What a visit's notices show.
    pub(crate) async fn notice_details(
        &self,
        tx: &mut Tx,
        row: &VisitRow,
    ) -> Result<NoticeDetails> {
        let view = self.visit_view(tx, row).await?;
        let location = tenant::find_location(tx, row.tenant_id, row.location_id)
            .await?
            .ok_or(Error::NotFound("location"))?;
        let purpose = self.open_optional(
            row.purpose_sealed.as_deref(),
            visit_at(row.tenant_id, "purpose", &row.public_id),
        )?;
        Ok(NoticeDetails {
            visit_id: row.id,
            location: location.name,
            zone: zone_of(&location.time_zone),
            visitor: Visitor {
                name: view.visitor_name,
                company: view.visitor_company,
                purpose,
            },
            host_name: view.host_name,
            category: view.category,
            checked_in_at: row.checked_in_at,
        })
    }

    /// Replaces the visit's notices (host, fallback and category contacts) with `state`, in
    /// the host's language (or the contact's, when there is no host).
    async fn update_visit_notice(
        &self,
        tx: &mut Tx,
        row: &VisitRow,
        details: &NoticeDetails,
        state: &NoticeState,
    ) -> Result<()> {
        let lang = match row.host_employee_id {
            Some(id) => employee::find(tx, row.tenant_id, id)
                .await?
                .map(|e| e.profile.language)
                .unwrap_or_default(),
            None => Lang::default(),
        };
        let message = details.message(lang, state);
        self.update_notice(tx, row.tenant_id, &notice_key(row.id), &message)
            .await?;
        Ok(())
    }

    /// Notifies a contact (an employee, or a chat channel) about a visit, with the answer
    /// buttons.
    pub(crate) async fn notify_contact(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        contact: &Contact,
        details: &NoticeDetails,
        state: &NoticeState,
    ) -> Result<()> {
        match contact {
            Contact::Employee(email) => {
                let Ok(email) = normalize_email(email) else {
                    return Ok(());
                };
                match employee::find_by_email(tx, tenant_id, &email).await? {
                    Some(person) => {
                        let message = details.message(person.profile.language, state);
                        self.notify_employee(
                            tx,
                            tenant_id,
                            &person,
                            &notice_key(details.visit_id),
                            &message,
                        )
                        .await?;
                    }
                    None => tracing::warn!(
                        tenant_id,
                        "a reception contact names no employee of the directory"
                    ),
                }
            }
            Contact::Channel { platform, id } => {
                if self.ports.chat.get(*platform).is_none() {
                    tracing::warn!(%platform, "a reception channel is on a platform not configured");
                    return Ok(());
                }
                let chat = ChatNotice {
                    platform: *platform,
                    to: ChatTarget::Channel { id: id.clone() },
                    notice: notice_key(details.visit_id),
                    message: details.message(Lang::default(), state),
                    fallback: None,
                };
                self.queue(tx, tenant_id, &OutboxMessage::Chat(chat))
                    .await?;
            }
        }
        Ok(())
    }

    // ---- pairing ----

    /// A new kiosk for location `slug`, waiting to be paired with the returned code (valid
    /// for [`PAIRING_TTL`]); logged.
    pub async fn add_kiosk(
        &self,
        actor: &Actor,
        slug: &str,
        name: &str,
    ) -> Result<(DeviceRow, String)> {
        actor.require(Permission::ManageReception)?;
        let location = {
            let mut tx = self.db.read().await?;
            tenant::find_location_by_slug(&mut tx, actor.account.tenant_id, slug)
                .await?
                .ok_or(Error::NotFound("location"))?
        };
        self.add_device(actor, "kiosk", Some(location.id), None, name, slug)
            .await
    }

    /// A new device of `kind` (a kiosk at a location, a door display at a room; `place` is
    /// that slug, for the log), waiting to be paired with the returned code (valid for
    /// [`PAIRING_TTL`]); logged. The caller checked the actor's permission.
    pub(crate) async fn add_device(
        &self,
        actor: &Actor,
        kind: &str,
        location_id: Option<i64>,
        room_id: Option<i64>,
        name: &str,
        place: &str,
    ) -> Result<(DeviceRow, String)> {
        let name = checked_text(name, TextLimit::name(100))
            .map_err(|reason| Error::invalid("name", reason))?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let code = pairing_code();
        let device = store::NewDevice {
            tenant_id,
            kind,
            location_id,
            room_id,
            name: &name,
            pairing_hash: &token::hash(&code),
            pairing_expires_at: now + PAIRING_TTL.num_milliseconds(),
            now,
        };
        let id = store::insert_device(&mut tx, &device).await?;
        let event = Event::by(
            actor,
            "device.create",
            format!("device:{id}"),
            json!({ "kind": kind, "place": place, "name": name }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        let row = store::list_devices(&mut tx, tenant_id, kind)
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(Error::NotFound("device"))?;
        tx.commit().await?;
        Ok((row, code))
    }

    /// Pairs the tablet that typed (or scanned) `code` as the kiosk of location `slug`: the
    /// device token it keeps from now on.
    pub async fn pair_kiosk(&self, slug: &str, code: &str) -> Result<(Kiosk, String)> {
        let code = typed_pairing_code(code).ok_or(Error::WrongPairingCode)?;
        let now = self.ports.clock.now_ms();
        let device_token = token::generate();
        let mut tx = self.db.write().await?;
        // The code names its tenant: pairing codes are unique across the server.
        let Some(pending) = store::pending_device(&mut tx, &token::hash(&code), now).await? else {
            return Err(Error::WrongPairingCode);
        };
        let location = tenant::find_location_by_slug(&mut tx, pending.tenant_id, slug)
            .await?
            .filter(|l| Some(l.id) == pending.location_id)
            .ok_or(Error::WrongPairingCode)?;
        let device = store::pair_device(
            &mut tx,
            pending.tenant_id,
            &token::hash(&code),
            &token::hash(&device_token),
            now,
        )
        .await?
        .ok_or(Error::WrongPairingCode)?;
        let settings = self
            .load_settings(&mut tx, device.tenant_id, location.id)
            .await?;
        tx.commit().await?;
        Ok((
            Kiosk {
                tenant_id: device.tenant_id,
                location,
                settings,
                device_id: Some(device.id),
            },
            device_token,
        ))
    }

    /// The tenant's kiosks (paired, waiting, revoked).
    pub async fn kiosks(&self, actor: &Actor) -> Result<Vec<DeviceRow>> {
        actor.require(Permission::ManageReception)?;
        let mut tx = self.db.read().await?;
        Ok(store::list_devices(&mut tx, actor.account.tenant_id, "kiosk").await?)
    }

    /// Revokes a kiosk: its token stops working at once; logged.
    pub async fn revoke_kiosk(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::ManageReception)?;
        self.revoke_device(actor, "kiosk", id).await
    }

    /// Revokes device `id` of `kind`; logged. The caller checked the actor's permission.
    pub(crate) async fn revoke_device(&self, actor: &Actor, kind: &str, id: i64) -> Result<()> {
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        if !store::revoke_device(&mut tx, tenant_id, kind, id, now).await? {
            return Err(Error::NotFound("device"));
        }
        let event = Event::by(actor, "device.revoke", format!("device:{id}"), json!({}));
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- settings ----

    /// A location's reception settings.
    pub async fn reception_settings(&self, actor: &Actor, slug: &str) -> Result<ReceptionSettings> {
        actor.require(Permission::ViewVisits)?;
        let mut tx = self.db.read().await?;
        let location = tenant::find_location_by_slug(&mut tx, actor.account.tenant_id, slug)
            .await?
            .ok_or(Error::NotFound("location"))?;
        self.load_settings(&mut tx, actor.account.tenant_id, location.id)
            .await
    }

    /// Replaces a location's reception settings, logged with what changed.
    pub async fn set_reception_settings(
        &self,
        actor: &Actor,
        slug: &str,
        settings: ReceptionSettings,
    ) -> Result<ReceptionSettings> {
        actor.require(Permission::ManageReception)?;
        let settings = settings.validate()?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let json = serde_json::to_string(&settings)
            .map_err(|err| Error::internal("writing reception settings", err))?;
        let mut tx = self.db.write().await?;
        let location = tenant::find_location_by_slug(&mut tx, tenant_id, slug)
            .await?
            .ok_or(Error::NotFound("location"))?;
        store::set_settings(&mut tx, tenant_id, location.id, &json).await?;
        let event = Event::by(
            actor,
            "location.reception",
            format!("location:{}", location.id),
            serde_json::to_value(&settings).unwrap_or_default(),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(settings)
    }
}

/// The key of a visit's notices (its chat messages are updated by it).
pub fn notice_key(visit_id: i64) -> String {
    format!("visit:{visit_id}")
}

fn pairing_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..PAIRING_CODE_LENGTH)
        .map(|_| PAIRING_ALPHABET[rng.random_range(0..PAIRING_ALPHABET.len())] as char)
        .collect()
}

/// `value` trimmed and bounded; `None` when absent or empty.
fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = checked_text(value, TextLimit::optional(max))
        .map_err(|reason| Error::invalid(field, reason))?;
    Ok((!value.is_empty()).then_some(value))
}

/// The location's zone (a location's zone was checked when it was saved).
pub(crate) fn zone_of(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The day (YYYY-MM-DD) at `zone` of instant `at_ms`.
pub(crate) fn local_day(zone: Tz, at_ms: i64) -> String {
    local_time(zone, at_ms).date_naive().to_string()
}

pub(crate) fn local_time(zone: Tz, at_ms: i64) -> DateTime<Tz> {
    zone.from_utc_datetime(
        &DateTime::<Utc>::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .naive_utc(),
    )
}

/// The instants a local day spans at `zone`: from its first to its last moment.
pub(crate) fn day_span(zone: Tz, day: NaiveDate) -> (i64, i64) {
    let start = |date: NaiveDate| {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match zone.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                t.timestamp_millis()
            }
            // Midnight skipped by a DST change: the day starts an hour later.
            chrono::LocalResult::None => zone
                .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
                .map_or(0, |t| t.timestamp_millis()),
        }
    };
    let next = day.succ_opt().unwrap_or(day);
    (start(day), start(next))
}

/// Where a visit's notice stands.
#[derive(Debug, Clone)]
pub(crate) enum NoticeState {
    Waiting,
    /// For a channel that only watches arrivals: no buttons to answer with.
    Announced,
    Answered {
        by: String,
        answer: HostAnswer,
    },
    NoAnswer,
    StillOnSite,
    CheckedOut {
        at: i64,
    },
}

/// What a visit's notice says.
#[derive(Debug, Clone)]
pub(crate) struct NoticeDetails {
    visit_id: i64,
    location: String,
    zone: Tz,
    visitor: Visitor,
    host_name: Option<String>,
    category: Option<Category>,
    checked_in_at: i64,
}

impl NoticeDetails {
    /// The notice in `lang` in `state`: who, from which company, for which appointment,
    /// and the buttons that fit the state.
    pub(crate) fn message(&self, lang: Lang, state: &NoticeState) -> Message {
        let t = |key: &str| i18n::text(lang, key);
        let who = if self.visitor.company.is_empty() {
            self.visitor.name.clone()
        } else {
            i18n::format(
                lang,
                "reception.notice.visitor_of",
                &[
                    ("visitor", &self.visitor.name),
                    ("company", &self.visitor.company),
                ],
            )
        };
        let time = local_time(self.zone, self.checked_in_at)
            .format("%H:%M")
            .to_string();
        let summary_key = match state {
            NoticeState::NoAnswer => "reception.notice.no_answer",
            NoticeState::StillOnSite => "reception.notice.still_on_site",
            _ => "reception.notice.arrived",
        };
        let summary = i18n::format(
            lang,
            summary_key,
            &[
                ("who", &who),
                ("location", &self.location),
                ("host", self.host_name.as_deref().unwrap_or("-")),
            ],
        );
        let mut fields = vec![
            Field {
                label: t("reception.field.visitor"),
                value: self.visitor.name.clone(),
            },
            Field {
                label: t("reception.field.company"),
                value: if self.visitor.company.is_empty() {
                    "-".into()
                } else {
                    self.visitor.company.clone()
                },
            },
        ];
        if let Some(host) = &self.host_name {
            fields.push(Field {
                label: t("reception.field.host"),
                value: host.clone(),
            });
        }
        if let Some(purpose) = &self.visitor.purpose {
            fields.push(Field {
                label: t("reception.field.appointment"),
                value: purpose.clone(),
            });
        }
        if let Some(category) = self.category {
            fields.push(Field {
                label: t("reception.field.category"),
                value: t(&format!("reception.category.{}", category.as_str())),
            });
        }
        fields.push(Field {
            label: t("reception.field.checked_in"),
            value: format!("{time} · {}", self.location),
        });
        let mut message = Message {
            summary: summary.clone(),
            blocks: Vec::new(),
        }
        .paragraph(summary)
        .fields(fields);
        let answer = |answer: HostAnswer, label: String, style| Button {
            action: Action::AnswerVisit {
                visit: self.visit_id,
                answer,
            },
            label,
            style,
        };
        let check_out = Button {
            action: Action::CheckOutVisit {
                visit: self.visit_id,
            },
            label: t("reception.button.check_out"),
            style: ButtonStyle::Default,
        };
        match state {
            NoticeState::Waiting | NoticeState::NoAnswer => {
                message = message.buttons(vec![
                    answer(
                        HostAnswer::Coming,
                        t("reception.button.coming"),
                        ButtonStyle::Primary,
                    ),
                    answer(
                        HostAnswer::Delayed(DEFAULT_DELAY_MINUTES),
                        i18n::format(
                            lang,
                            "reception.button.wait",
                            &[("minutes", &DEFAULT_DELAY_MINUTES.to_string())],
                        ),
                        ButtonStyle::Default,
                    ),
                    answer(
                        HostAnswer::Unavailable,
                        t("reception.button.unavailable"),
                        ButtonStyle::Danger,
                    ),
                ]);
            }
            NoticeState::Answered { by, answer } => {
                let (key, minutes) = match answer {
                    HostAnswer::Coming => ("reception.notice.answered_coming", 0),
                    HostAnswer::Delayed(m) => ("reception.notice.answered_delayed", *m),
                    HostAnswer::Unavailable => ("reception.notice.answered_unavailable", 0),
                };
                message = message
                    .paragraph(i18n::format(
                        lang,
                        key,
                        &[("name", by), ("minutes", &minutes.to_string())],
                    ))
                    .buttons(vec![check_out]);
            }
            NoticeState::StillOnSite => {
                message = message.buttons(vec![check_out]);
            }
            NoticeState::Announced => {}
            NoticeState::CheckedOut { at } => {
                let time = local_time(self.zone, *at).format("%H:%M").to_string();
                message = message.paragraph(i18n::format(
                    lang,
                    "reception.notice.checked_out",
                    &[("time", &time)],
                ));
            }
        }
        message
    }
}

impl Engine {
    /// Visitors on site now (the evacuation list), at one location or all, by arrival.
    pub async fn on_site(&self, actor: &Actor, location: Option<&str>) -> Result<Vec<VisitView>> {
        actor.require(Permission::ViewVisits)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let location_id = match location {
            Some(slug) => Some(
                tenant::find_location_by_slug(&mut tx, tenant_id, slug)
                    .await?
                    .ok_or(Error::NotFound("location"))?
                    .id,
            ),
            None => None,
        };
        let rows = store::on_site(&mut tx, tenant_id, location_id).await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in &rows {
            views.push(self.visit_view(&mut tx, row).await?);
        }
        Ok(views)
    }
}

/// A pairing code as typed or scanned (spaces and dashes left out, letters upper-cased);
/// `None` when it cannot be one.
pub(crate) fn typed_pairing_code(typed: &str) -> Option<String> {
    let code: String = typed
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    (code.len() == PAIRING_CODE_LENGTH).then_some(code)
}
