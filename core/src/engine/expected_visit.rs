//! Expected visits: a visitor announced beforehand (by an admin or receptionist, the bot, a
//! booking, or a calendar invite) gets a six-digit reception code, valid on the visit's day
//! at the location, that checks them in at the kiosk in one step.

use chrono::NaiveDate;
use serde_json::json;

use super::access_log::Event;
use super::conversation::ChatUser;
use super::reception::{day_span, expected_at, local_time, zone_of};
use super::{Actor, Engine};
use crate::domain::chat::Message;
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::{Permission, normalize_email};
use crate::domain::visit::{
    MAX_VISITOR_COMPANY, MAX_VISITOR_NAME, VisitorRequest, VisitorRequestError, generate_code,
};
use crate::i18n::{self, Lang};
use crate::port::{Attachment, Mail};
use crate::store::Tx;
use crate::store::employee;
use crate::store::employee::Employee;
use crate::store::reception::{self as store, ExpectedVisitRow};
use crate::store::tenant;
use crate::{Error, Result};

/// The name of the code's QR image attached to the code mail.
pub const CODE_QR_FILENAME: &str = "reception-code.png";

/// How many random codes are tried before giving up (a tenant with a million visitors on
/// one day).
const CODE_TRIES: usize = 50;

/// A code no other visit of the tenant (but `except`, a visit being moved) holds at any
/// instant of `span`: `wanted` when it is free, else a random one.
pub(crate) async fn free_code(
    tx: &mut Tx,
    tenant_id: i64,
    wanted: Option<&str>,
    (valid_from, valid_until): (i64, i64),
    except: Option<i64>,
) -> Result<String> {
    let wanted = wanted.map(str::to_owned);
    for candidate in wanted
        .into_iter()
        .chain(std::iter::repeat_with(generate_code).take(CODE_TRIES))
    {
        if !store::code_in_use(tx, tenant_id, &candidate, valid_from, valid_until, except).await? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict(
        "no reception code is free on that day; try again".into(),
    ))
}

/// Where an expected visit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Admin,
    Chat,
    Booking,
    Invite,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Admin => "admin",
            Source::Chat => "chat",
            Source::Booking => "booking",
            Source::Invite => "invite",
        }
    }
}

/// A visitor to expect.
#[derive(Debug, Clone)]
pub struct NewExpectedVisit {
    pub location_id: i64,
    pub host_employee_id: i64,
    pub visitor_name: String,
    pub visitor_company: String,
    pub visitor_email: Option<String>,
    /// The visit's day at the location.
    pub day: NaiveDate,
    /// When the appointment starts (epoch ms), if known.
    pub starts_at: Option<i64>,
    /// The appointment's title.
    pub purpose: Option<String>,
    pub source: Source,
    /// What announced it, for updates (unique per tenant).
    pub source_ref: Option<String>,
    /// The code to give, when free that day (the demo's fixed one); else a random one.
    pub code: Option<String>,
}

/// An expected visit, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedVisit {
    pub id: i64,
    pub public_id: String,
    pub location_id: i64,
    pub host_employee_id: i64,
    pub code: String,
    pub day: String,
    pub starts_at: Option<i64>,
    pub visitor_name: String,
    pub visitor_company: String,
    pub visitor_email: Option<String>,
    pub purpose: Option<String>,
    pub source: String,
    pub status: String,
}

/// What an admin or receptionist gives to expect a visitor.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedVisitInput {
    /// The location's slug.
    pub location: String,
    /// The host's email.
    pub host: String,
    pub visitor_name: String,
    #[serde(default)]
    pub visitor_company: String,
    pub visitor_email: Option<String>,
    /// YYYY-MM-DD at the location.
    pub day: String,
    /// HH:MM at the location, if the appointment has a time.
    pub time: Option<String>,
    pub purpose: Option<String>,
}

impl Engine {
    /// Registers an expected visit in `tx` with a fresh code unused by the tenant on any
    /// instant of that day, and queues the code to the visitor when their email is known.
    pub async fn register_expected_visit(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        new: &NewExpectedVisit,
    ) -> Result<ExpectedVisit> {
        let location = tenant::find_location(tx, tenant_id, new.location_id)
            .await?
            .ok_or(Error::NotFound("location"))?;
        let zone = zone_of(&location.time_zone);
        let (valid_from, valid_until) = day_span(zone, new.day);
        let code = free_code(
            tx,
            tenant_id,
            new.code.as_deref(),
            (valid_from, valid_until),
            None,
        )
        .await?;
        let now = self.ports.clock.now_ms();
        let public_id = uuid::Uuid::new_v4().simple().to_string();
        let seal = |column: &str, value: &str| {
            self.seal_for_tenant(value.as_bytes(), expected_at(tenant_id, column, &public_id))
        };
        let row = ExpectedVisitRow {
            id: 0,
            tenant_id,
            location_id: new.location_id,
            host_employee_id: new.host_employee_id,
            public_id: public_id.clone(),
            code: code.clone(),
            day: new.day.to_string(),
            valid_from,
            valid_until,
            starts_at: new.starts_at,
            visitor_name_sealed: Some(seal("visitor_name", &new.visitor_name)?),
            visitor_company_sealed: Some(seal("visitor_company", &new.visitor_company)?),
            visitor_email_sealed: new
                .visitor_email
                .as_deref()
                .map(|e| seal("visitor_email", e))
                .transpose()?,
            purpose_sealed: new
                .purpose
                .as_deref()
                .map(|p| seal("purpose", p))
                .transpose()?,
            source: new.source.as_str().to_owned(),
            source_ref: new.source_ref.clone(),
            status: "expected".into(),
            created_at: now,
            updated_at: now,
        };
        if employee::find(tx, tenant_id, new.host_employee_id)
            .await?
            .is_none()
        {
            return Err(Error::NotFound("host"));
        }
        let id = store::insert_expected(tx, &row).await?;
        let visit = ExpectedVisit {
            id,
            public_id,
            location_id: new.location_id,
            host_employee_id: new.host_employee_id,
            code,
            day: row.day.clone(),
            starts_at: new.starts_at,
            visitor_name: new.visitor_name.clone(),
            visitor_company: new.visitor_company.clone(),
            visitor_email: new.visitor_email.clone(),
            purpose: new.purpose.clone(),
            source: row.source.clone(),
            status: row.status.clone(),
        };
        self.queue_code_mail(tx, tenant_id, &visit, &location)
            .await?;
        Ok(visit)
    }

    /// Queues the mail giving the visitor `visit`'s code (with its QR), when their email is
    /// known: on registering, and again when the code had to change.
    pub(crate) async fn queue_code_mail(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        visit: &ExpectedVisit,
        location: &tenant::Location,
    ) -> Result<()> {
        let Some(email) = &visit.visitor_email else {
            return Ok(());
        };
        let host = employee::find(tx, tenant_id, visit.host_employee_id)
            .await?
            .ok_or(Error::NotFound("host"))?;
        let mail = self.code_mail(
            email,
            visit,
            &host.profile.name,
            location,
            host.profile.language,
        )?;
        self.queue(tx, tenant_id, &super::outbox::OutboxMessage::Mail(mail))
            .await?;
        Ok(())
    }

    /// The mail that gives a visitor their reception code, in both languages (the visitor's
    /// language is not known; the host's comes first), with the code's QR attached as
    /// [`CODE_QR_FILENAME`].
    fn code_mail(
        &self,
        to: &str,
        visit: &ExpectedVisit,
        host: &str,
        location: &tenant::Location,
        first: Lang,
    ) -> Result<Mail> {
        let time = visit
            .starts_at
            .map(|at| {
                super::reception::local_time(zone_of(&location.time_zone), at)
                    .format("%H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        let body_in = |lang| {
            i18n::format(
                lang,
                "reception.code_mail.body",
                &[
                    ("visitor", &visit.visitor_name),
                    ("host", host),
                    ("location", &location.name),
                    ("day", &visit.day),
                    ("time", &time),
                    ("code", &visit.code),
                ],
            )
        };
        let second = match first {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        };
        // A few hundred bytes made in well under a millisecond: no need to leave this thread.
        let qr = crate::domain::qr::png(&visit.code)
            .map_err(|err| Error::internal("drawing a reception code's QR", err))?;
        Ok(Mail {
            to: to.to_owned(),
            subject: format!(
                "{} / {}",
                i18n::format(
                    first,
                    "reception.code_mail.subject",
                    &[("code", &visit.code)]
                ),
                i18n::format(
                    second,
                    "reception.code_mail.subject",
                    &[("code", &visit.code)]
                )
            ),
            body: format!("{}\n\n----\n\n{}", body_in(first), body_in(second)),
            attachments: vec![Attachment {
                filename: CODE_QR_FILENAME.into(),
                content_type: "image/png".into(),
                bytes: qr,
            }],
        })
    }

    /// Expects a visitor (admins and receptionists), logged; the code is mailed to the
    /// visitor when an email is given.
    pub async fn add_expected_visit(
        &self,
        actor: &Actor,
        input: &ExpectedVisitInput,
    ) -> Result<ExpectedVisit> {
        actor.require(Permission::HandleVisitors)?;
        let tenant_id = actor.account.tenant_id;
        let visitor_name = checked_text(&input.visitor_name, TextLimit::name(MAX_VISITOR_NAME))
            .map_err(|reason| Error::invalid("visitor_name", reason))?;
        let visitor_company = checked_text(
            &input.visitor_company,
            TextLimit::optional(MAX_VISITOR_COMPANY),
        )
        .map_err(|reason| Error::invalid("visitor_company", reason))?;
        let visitor_email = match input.visitor_email.as_deref().map(str::trim) {
            Some(email) if !email.is_empty() => Some(
                normalize_email(email)
                    .map_err(|_| Error::invalid("visitor_email", Invalid::NotEmail))?,
            ),
            _ => None,
        };
        let purpose = match input.purpose.as_deref() {
            Some(p) => Some(
                checked_text(p, TextLimit::optional(200))
                    .map_err(|reason| Error::invalid("purpose", reason))?,
            )
            .filter(|p| !p.is_empty()),
            None => None,
        };
        let day: NaiveDate = input.day.trim().parse().map_err(|_| {
            Error::invalid(
                "day",
                Invalid::NotOneOf {
                    allowed: &["YYYY-MM-DD"],
                },
            )
        })?;
        let mut tx = self.db.write().await?;
        let location = tenant::find_location_by_slug(&mut tx, tenant_id, input.location.trim())
            .await?
            .ok_or(Error::NotFound("location"))?;
        let host_email =
            normalize_email(&input.host).map_err(|_| Error::invalid("host", Invalid::NotEmail))?;
        let host = employee::find_by_email(&mut tx, tenant_id, &host_email)
            .await?
            .ok_or(Error::NotFound("host"))?;
        let starts_at = match input.time.as_deref() {
            Some(time) => {
                let minutes = crate::domain::visit::parse_local_time(time).ok_or_else(|| {
                    Error::invalid(
                        "time",
                        Invalid::NotOneOf {
                            allowed: &["HH:MM"],
                        },
                    )
                })?;
                let (start, _) = day_span(zone_of(&location.time_zone), day);
                Some(start + i64::from(minutes) * 60_000)
            }
            None => None,
        };
        let new = NewExpectedVisit {
            location_id: location.id,
            host_employee_id: host.id,
            visitor_name,
            visitor_company,
            visitor_email,
            day,
            starts_at,
            purpose,
            source: Source::Admin,
            source_ref: None,
            code: None,
        };
        let visit = self
            .register_expected_visit(&mut tx, tenant_id, &new)
            .await?;
        let event = Event::by(
            actor,
            "expected_visit.create",
            format!("expected_visit:{}", visit.id),
            json!({ "location": location.slug, "host": host.id, "day": visit.day }),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(visit)
    }

    /// Expected visits on days `from..=to` (YYYY-MM-DD), opened.
    pub async fn expected_visits(
        &self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ExpectedVisit>> {
        actor.require(Permission::ViewVisits)?;
        let mut tx = self.db.read().await?;
        let rows = store::list_expected(
            &mut tx,
            actor.account.tenant_id,
            &from.to_string(),
            &to.to_string(),
            super::MAX_PAGE,
        )
        .await?;
        rows.iter().map(|row| self.open_expected(row)).collect()
    }

    /// Withdraws an expected visit (its code stops working), logged.
    pub async fn withdraw_expected_visit(&self, actor: &Actor, public_id: &str) -> Result<()> {
        actor.require(Permission::HandleVisitors)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let row = store::expected_by_public_id(&mut tx, tenant_id, public_id)
            .await?
            .ok_or(Error::NotFound("expected visit"))?;
        if store::set_expected_status(&mut tx, tenant_id, row.id, "withdrawn", now).await? {
            let event = Event::by(
                actor,
                "expected_visit.withdraw",
                format!("expected_visit:{}", row.id),
                json!({}),
            );
            self.record(&mut tx, tenant_id, now, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An expected visit's row, opened.
    pub(crate) fn open_expected(&self, row: &ExpectedVisitRow) -> Result<ExpectedVisit> {
        let at = |column| expected_at(row.tenant_id, column, &row.public_id);
        Ok(ExpectedVisit {
            id: row.id,
            public_id: row.public_id.clone(),
            location_id: row.location_id,
            host_employee_id: row.host_employee_id,
            code: row.code.clone(),
            day: row.day.clone(),
            starts_at: row.starts_at,
            visitor_name: self
                .open_optional(row.visitor_name_sealed.as_deref(), at("visitor_name"))?
                .unwrap_or_default(),
            visitor_company: self
                .open_optional(row.visitor_company_sealed.as_deref(), at("visitor_company"))?
                .unwrap_or_default(),
            visitor_email: self
                .open_optional(row.visitor_email_sealed.as_deref(), at("visitor_email"))?,
            purpose: self.open_optional(row.purpose_sealed.as_deref(), at("purpose"))?,
            source: row.source.clone(),
            status: row.status.clone(),
        })
    }

    /// A visitor announced by their host in chat (`visitor Kenji Mori, Globex tomorrow
    /// 14:00`): registered for the host at the named location (or the tenant's first), the
    /// code answered to the host (and mailed to the visitor when an email was given).
    pub async fn expect_visitor_from_chat(
        &self,
        who: &ChatUser,
        host: &Employee,
        text: &str,
    ) -> Result<Message> {
        let lang = host.profile.language;
        let mut tx = self.db.write().await?;
        let locations = tenant::list_locations(&mut tx, who.tenant_id).await?;
        let Some(first) = locations.first() else {
            return Ok(Message::text(i18n::text(
                lang,
                "reception.chat.no_location",
            )));
        };
        let today = local_time(zone_of(&first.time_zone), self.ports.clock.now_ms()).date_naive();
        let request = match VisitorRequest::parse(text, today) {
            Ok(request) => request,
            Err(VisitorRequestError::NoName) => {
                return Ok(Message::text(i18n::text(lang, "reception.chat.usage")));
            }
            Err(VisitorRequestError::DayOutOfRange) => {
                return Ok(Message::text(i18n::text(
                    lang,
                    "reception.chat.day_out_of_range",
                )));
            }
        };
        let location = match &request.location {
            Some(slug) => match locations.iter().find(|l| &l.slug == slug) {
                Some(location) => location,
                None => {
                    let known: Vec<&str> = locations.iter().map(|l| l.slug.as_str()).collect();
                    return Ok(Message::text(i18n::format(
                        lang,
                        "reception.chat.unknown_location",
                        &[("slug", slug), ("known", &known.join(", "))],
                    )));
                }
            },
            None => first,
        };
        let name = checked_text(&request.name, TextLimit::name(MAX_VISITOR_NAME));
        let company = checked_text(&request.company, TextLimit::optional(MAX_VISITOR_COMPANY));
        let email = request.email.as_deref().map(normalize_email).transpose();
        let (Ok(name), Ok(company), Ok(email)) = (name, company, email) else {
            return Ok(Message::text(i18n::text(lang, "reception.chat.usage")));
        };
        let starts_at = request.time.map(|minutes| {
            day_span(zone_of(&location.time_zone), request.day).0 + i64::from(minutes) * 60_000
        });
        let new = NewExpectedVisit {
            location_id: location.id,
            host_employee_id: host.id,
            visitor_name: name,
            visitor_company: company,
            visitor_email: email,
            day: request.day,
            starts_at,
            purpose: None,
            source: Source::Chat,
            source_ref: None,
            code: None,
        };
        let visit = self
            .register_expected_visit(&mut tx, who.tenant_id, &new)
            .await?;
        let actor = format!("{}:{}", who.platform, who.user_id);
        let event = Event {
            actor: &actor,
            ip: "",
            action: "expected_visit.create",
            target: format!("expected_visit:{}", visit.id),
            detail: json!({ "location": location.slug, "host": host.id, "day": visit.day, "by": "chat" }),
        };
        self.record(&mut tx, who.tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        let time = request
            .time
            .map(|m| format!(" {:02}:{:02}", m / 60, m % 60))
            .unwrap_or_default();
        let key = if visit.visitor_email.is_some() {
            "reception.chat.expected_mailed"
        } else {
            "reception.chat.expected"
        };
        Ok(Message::text(i18n::format(
            lang,
            key,
            &[
                ("visitor", &visit.visitor_name),
                ("day", &format!("{}{time}", visit.day)),
                ("location", &location.name),
                ("code", &visit.code),
            ],
        )))
    }
}
