//! Scheduling from chat: my booking links (`links`), and meetings booked by asking
//! (`book @bob kenji@globex.example 30m next week`, `来週 30分 @bob`).
//!
//! A request is answered with the colleagues' common free slots (weekdays 09:00–18:00 in the
//! requester's zone, from the busy time in the database: cached calendar events and booking
//! holds; no provider is asked) as buttons. What was asked is kept as a proposal (a button
//! carries only its public id and a slot's start). Pressing a button books a meeting without
//! a link: one hold per colleague, so the database refuses a double booking as it does for
//! any booking; each colleague's calendar gets the event, outside guests an invitation by
//! mail, the other colleagues a chat notice.

use chrono::{Datelike, Duration};
use chrono_tz::Tz;
use serde_json::json;

use super::Engine;
use super::access_log::Event;
use super::booking::{booking_at, booking_reference, format_when, meeting_ics};
use super::conversation::ChatUser;
use super::reception::{day_span, local_time, zone_of};
use crate::domain::calendar::{Interval, Owner};
use crate::domain::chat::{Action, Block, Button, ButtonStyle, Field, Message};
use crate::domain::meeting_request::{
    MAX_DAYS_AHEAD, MAX_MINUTES, MIN_MINUTES, MeetingRequest, MeetingRequestError, Person,
};
use crate::domain::people::normalize_email;
use crate::domain::slots::{DayRange, SlotRules, WorkingHours, free_slots};
use crate::i18n::{self, Lang};
use crate::port::{Attachment, Mail, SealedAt};
use crate::store::Tx;
use crate::store::booking::{self as booking_store, BookingRow};
use crate::store::booking_proposal::{self as store, ProposalRow};
use crate::store::employee::{self, Employee};
use crate::{Error, Result};

/// How many slots an answer offers.
pub const OFFERED_SLOTS: usize = 5;
/// Office hours the bot books in, in the requester's zone: 09:00–18:00, Monday to Friday.
const OFFICE_START_MINUTE: u32 = 9 * 60;
const OFFICE_END_MINUTE: u32 = 18 * 60;
/// The most often a slot starts: every half hour (a shorter meeting, as often as it lasts).
const SLOT_STEP_SECONDS: i64 = 30 * 60;

fn proposal_at<'a>(tenant_id: i64, column: &'a str, public_id: &'a str) -> SealedAt<'a> {
    SealedAt {
        tenant_id,
        table: "booking_proposals",
        column,
        row: public_id,
    }
}

/// Weekdays 09:00–18:00 in `zone`.
fn office_hours(zone: Tz) -> WorkingHours {
    let day = DayRange::new(OFFICE_START_MINUTE, OFFICE_END_MINUTE)
        .into_iter()
        .collect::<Vec<_>>();
    WorkingHours {
        zone,
        weekly: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            Vec::new(),
            Vec::new(),
        ],
        overrides: Default::default(),
    }
}

fn slot_rules(duration: i64) -> SlotRules {
    SlotRules {
        duration,
        interval: duration.min(SLOT_STEP_SECONDS),
        buffer_before: 0,
        buffer_after: 0,
        minimum_notice: 0,
    }
}

/// Colleagues and outside guests a request names, or the answer saying who is not known.
struct People {
    /// The requester first.
    colleagues: Vec<Employee>,
    guests: Vec<String>,
}

impl People {
    /// Everyone but `me`, as the answer names them.
    fn names_but(&self, me: i64) -> String {
        self.colleagues
            .iter()
            .filter(|c| c.id != me)
            .map(|c| c.profile.name.clone())
            .chain(self.guests.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The colleagues but `me` (whose free time was looked at), as the answer names them;
    /// `None` when there are none (a meeting with outside guests only).
    fn colleagues_but(&self, me: i64) -> Option<String> {
        let names: Vec<&str> = self
            .colleagues
            .iter()
            .filter(|c| c.id != me)
            .map(|c| c.profile.name.as_str())
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    }

    fn ids(&self) -> Vec<i64> {
        self.colleagues.iter().map(|c| c.id).collect()
    }
}

/// Whether `name` (lower-cased, as typed after `@`) is how `employee` is called: their
/// email's name, one of the words of their name or reading, or their name without spaces.
fn answers_to(employee: &Employee, name: &str) -> bool {
    let profile = &employee.profile;
    let local = profile.email.split('@').next().unwrap_or_default();
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    local.eq_ignore_ascii_case(name)
        || words(&profile.name).iter().any(|w| w == name)
        || words(&profile.name_kana).iter().any(|w| w == name)
        || words(&profile.name).concat() == name
        || words(&profile.name_kana).concat() == name
}

/// `Mon 11/30 10:00` (English) or `11/30(月) 10:00` (Japanese) in `zone`: a button's label.
fn slot_label(zone: Tz, start: i64, lang: Lang) -> String {
    let at = local_time(zone, start * 1000);
    let index = at.weekday().num_days_from_monday() as usize;
    match lang {
        Lang::Ja => format!(
            "{}({}) {}",
            at.format("%m/%d"),
            ["月", "火", "水", "木", "金", "土", "日"][index],
            at.format("%H:%M")
        ),
        Lang::En => format!(
            "{} {}",
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][index],
            at.format("%m/%d %H:%M")
        ),
    }
}

fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Ja => Lang::En,
        Lang::En => Lang::Ja,
    }
}

impl Engine {
    /// The answer to `links`: `employee`'s booking links with their public URLs, durations
    /// and whether they take bookings; or how to get one.
    pub async fn links_from_chat(&self, tenant_id: i64, employee: &Employee) -> Result<Message> {
        let lang = employee.profile.language;
        let links = self.links_of_employee(tenant_id, employee.id).await?;
        if links.is_empty() {
            return Ok(Message::text(i18n::text(lang, "bot_links.none")));
        }
        let base = self.settings.public_url.trim_end_matches('/');
        let lines: Vec<String> = links
            .iter()
            .map(|link| {
                let state = if !link.active {
                    "bot_links.inactive"
                } else if link.single_use && link.used {
                    "bot_links.used"
                } else {
                    "bot_links.active"
                };
                let durations: Vec<String> = link
                    .rules
                    .durations_minutes
                    .iter()
                    .map(i64::to_string)
                    .collect();
                format!(
                    "• {}",
                    i18n::format(
                        lang,
                        "bot_links.item",
                        &[
                            ("title", &link.title),
                            ("url", &format!("{base}/b/{}", link.slug)),
                            ("durations", &durations.join(" / ")),
                            ("state", &i18n::text(lang, state)),
                        ],
                    )
                )
            })
            .collect();
        Ok(Message::text(i18n::text(lang, "bot_links.title")).paragraph(lines.join("\n")))
    }

    /// The answer to a meeting request from `requester`: the common free slots as buttons,
    /// or what was not understood.
    pub async fn propose_meeting(
        &self,
        who: &ChatUser,
        requester: &Employee,
        text: &str,
    ) -> Result<Message> {
        let lang = requester.profile.language;
        let zone = zone_of(&requester.profile.time_zone);
        let now_ms = self.ports.clock.now_ms();
        let today = local_time(zone, now_ms).date_naive();
        let request = match MeetingRequest::parse(text, today) {
            Ok(request) => request,
            Err(err) => return Ok(request_error(lang, &err)),
        };
        let people = {
            let mut tx = self.db.read().await?;
            match self
                .resolve_people(&mut tx, who, requester, &request)
                .await?
            {
                Ok(people) => people,
                Err(answer) => return Ok(answer),
            }
        };
        if people.colleagues.len() == 1 && people.guests.is_empty() {
            return Ok(request_error(lang, &MeetingRequestError::NoOne));
        }
        let search_from = day_span(zone, request.first_day).0.max(now_ms);
        let search_until = day_span(zone, request.last_day).1;
        if search_from >= search_until {
            return Ok(request_error(lang, &MeetingRequestError::DayOutOfRange));
        }
        let duration = request.minutes * 60;
        let mut tx = self.db.write().await?;
        let slots = self
            .common_slots(
                &mut tx,
                who.tenant_id,
                &people.ids(),
                zone,
                duration,
                (search_from / 1000, search_until / 1000),
            )
            .await?;
        let minutes = request.minutes.to_string();
        // Only colleagues' time is looked at: outside guests are invited, not asked.
        let colleagues = people.colleagues_but(requester.id);
        let say = |with_others: &str, alone: &str| match &colleagues {
            Some(names) => i18n::format(
                lang,
                with_others,
                &[("people", names), ("minutes", &minutes)],
            ),
            None => i18n::format(lang, alone, &[("minutes", &minutes)]),
        };
        if slots.is_empty() {
            return Ok(Message::text(say(
                "bot_book.none_free",
                "bot_book.none_free_alone",
            )));
        }
        let proposal = uuid::Uuid::new_v4().as_u128();
        let public_id = format!("{proposal:032x}");
        let guests_sealed = if people.guests.is_empty() {
            None
        } else {
            let json = serde_json::to_string(&people.guests)
                .map_err(|err| Error::internal("writing a proposal's guests", err))?;
            Some(self.seal_for_tenant(
                json.as_bytes(),
                proposal_at(who.tenant_id, "guests", &public_id),
            )?)
        };
        let row = ProposalRow {
            id: 0,
            tenant_id: who.tenant_id,
            public_id,
            requester_id: requester.id,
            colleagues: serde_json::to_string(&people.ids())
                .map_err(|err| Error::internal("writing a proposal's colleagues", err))?,
            guests_sealed,
            duration_minutes: request.minutes,
            search_from,
            search_until,
            booking_id: None,
            created_at: now_ms,
            expires_at: search_until,
        };
        store::insert(&mut tx, &row).await?;
        tx.commit().await?;
        let mut message = Message::text(say("bot_book.offer", "bot_book.offer_alone"))
            .buttons(slot_buttons(zone, lang, proposal, &slots));
        if !people.guests.is_empty() {
            message = message.paragraph(i18n::format(
                lang,
                "bot_book.guests",
                &[("emails", &people.guests.join(", "))],
            ));
        }
        Ok(message)
    }

    /// The colleagues (the requester first) and outside guests `request` names, or the
    /// answer naming the first word that is nobody known.
    async fn resolve_people(
        &self,
        tx: &mut Tx,
        who: &ChatUser,
        requester: &Employee,
        request: &MeetingRequest,
    ) -> Result<std::result::Result<People, Message>> {
        let lang = requester.profile.language;
        let mut people = People {
            colleagues: vec![requester.clone()],
            guests: Vec::new(),
        };
        let mut directory: Option<Vec<Employee>> = None;
        for person in &request.people {
            let found = match person {
                Person::Mention(id) => {
                    match employee::find_by_identity(tx, who.tenant_id, who.platform, id).await? {
                        Some(colleague) => colleague,
                        None => {
                            return Ok(Err(Message::text(i18n::text(
                                lang,
                                "bot_book.unknown_mention",
                            ))
                            .paragraph(i18n::text(lang, "bot_book.usage"))));
                        }
                    }
                }
                Person::Email(text) => {
                    let Ok(email) = normalize_email(text) else {
                        return Ok(Err(unknown_word(lang, text)));
                    };
                    match employee::find_by_email(tx, who.tenant_id, &email).await? {
                        Some(colleague) => colleague,
                        None => {
                            if !people.guests.contains(&email) {
                                people.guests.push(email);
                            }
                            continue;
                        }
                    }
                }
                Person::Name(name) => {
                    if directory.is_none() {
                        directory = Some(employee::list_all(tx, who.tenant_id).await?);
                    }
                    let lower = name.to_lowercase();
                    let matches: Vec<&Employee> = directory
                        .iter()
                        .flatten()
                        .filter(|e| answers_to(e, &lower))
                        .collect();
                    match matches.as_slice() {
                        [one] => (*one).clone(),
                        [] => return Ok(Err(unknown_word(lang, name))),
                        several => {
                            let names: Vec<String> = several
                                .iter()
                                .map(|e| format!("{} <{}>", e.profile.name, e.profile.email))
                                .collect();
                            return Ok(Err(Message::text(i18n::format(
                                lang,
                                "bot_book.ambiguous",
                                &[("word", name), ("names", &names.join(", "))],
                            ))
                            .paragraph(i18n::text(lang, "bot_book.usage"))));
                        }
                    }
                }
            };
            if !people.colleagues.iter().any(|c| c.id == found.id) {
                people.colleagues.push(found);
            }
        }
        Ok(Ok(people))
    }

    /// The slots of `duration` seconds in `[from, to)` (epoch seconds) within office hours
    /// in `zone`, not in the past, when every one of `colleagues` is free (by their cached
    /// calendar events and booking holds), in order.
    async fn common_slots(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        colleagues: &[i64],
        zone: Tz,
        duration: i64,
        (from, to): (i64, i64),
    ) -> Result<Vec<Interval>> {
        let now = self.ports.clock.now_ms() / 1000;
        let (from_ms, to_ms) = (from * 1000, to * 1000);
        let mut busy = Vec::new();
        for id in colleagues {
            let rows = booking_store::busy_of_host(tx, tenant_id, *id, (from_ms, to_ms), 0).await?;
            busy.extend(rows.into_iter().filter_map(|(_, start, end)| {
                Interval::new(start.div_euclid(1000), (end + 999).div_euclid(1000))
            }));
        }
        Ok(free_slots(
            &office_hours(zone),
            slot_rules(duration),
            now,
            from,
            to,
            busy,
        ))
    }

    /// Books the slot at `start` of proposal `proposal`, pressed by `presser` (only its
    /// requester may). A slot taken meanwhile is answered with fresh ones; a proposal
    /// already booked, with what was booked.
    pub async fn book_proposed_meeting(
        &self,
        who: &ChatUser,
        presser: &Employee,
        proposal: u128,
        start: i64,
    ) -> Result<Message> {
        let lang = presser.profile.language;
        let zone = zone_of(&presser.profile.time_zone);
        let now_ms = self.ports.clock.now_ms();
        let public_id = format!("{proposal:032x}");
        let tenant_id = who.tenant_id;
        let mut tx = self.db.write().await?;
        let Some(row) = store::lock_by_public_id(&mut tx, tenant_id, &public_id).await? else {
            return Ok(Message::text(i18n::text(lang, "bot_book.unknown")));
        };
        if row.requester_id != presser.id {
            let name = employee::find(&mut tx, tenant_id, row.requester_id)
                .await?
                .map(|e| e.profile.name)
                .unwrap_or_default();
            return Ok(Message::text(i18n::format(
                lang,
                "bot_book.not_yours",
                &[("name", &name)],
            )));
        }
        if let Some(booking_id) = row.booking_id {
            let when = booking_store::booking(&mut tx, tenant_id, booking_id)
                .await?
                .map(|b| format_when(zone, b.starts_at / 1000, b.ends_at / 1000, lang))
                .unwrap_or_default();
            return Ok(Message::text(i18n::format(
                lang,
                "bot_book.already",
                &[("when", &when)],
            )));
        }
        if now_ms >= row.expires_at {
            return Ok(Message::text(i18n::text(lang, "bot_book.expired")));
        }
        let ids: Vec<i64> = serde_json::from_str(&row.colleagues)
            .map_err(|err| Error::internal("reading a proposal's colleagues", err))?;
        let mut colleagues = Vec::with_capacity(ids.len());
        for id in &ids {
            // Someone who left the directory meanwhile is not booked.
            if let Some(colleague) = employee::find(&mut tx, tenant_id, *id).await? {
                colleagues.push(colleague);
            }
        }
        let guests = self.proposal_guests(&row)?;
        let people = People { colleagues, guests };
        let duration = row.duration_minutes * 60;
        let slot = Interval {
            start,
            end: start + duration,
        };
        let span = (row.search_from / 1000, row.search_until / 1000);
        // An altered or stale start: not a slot this proposal offers at all.
        let offered = slot.start >= span.0
            && slot.end <= span.1
            && free_slots(
                &office_hours(zone),
                slot_rules(duration),
                now_ms / 1000,
                slot.start,
                slot.end,
                Vec::new(),
            )
            .contains(&slot);
        let free = offered
            && self
                .common_slots(
                    &mut tx,
                    tenant_id,
                    &people.ids(),
                    zone,
                    duration,
                    (slot.start, slot.end),
                )
                .await?
                .contains(&slot);
        if !free {
            drop(tx);
            return self
                .fresh_offer(tenant_id, lang, zone, proposal, &row, &people)
                .await;
        }
        let booking_public_id = uuid::Uuid::new_v4().simple().to_string();
        let seal = |column: &str, value: &str| {
            self.seal_for_tenant(
                value.as_bytes(),
                booking_at(tenant_id, column, &booking_public_id),
            )
        };
        let fingerprint = self.fingerprint_for_tenant(
            tenant_id,
            "booking_client",
            format!("chat:{}:{}", who.platform, who.user_id).as_bytes(),
        )?;
        // The one who booked is the requester (the "guest" of a booking without a link).
        let booking = BookingRow {
            id: 0,
            tenant_id,
            public_id: booking_public_id.clone(),
            link_id: None,
            starts_at: slot.start * 1000,
            ends_at: slot.end * 1000,
            guest_name_sealed: seal("guest_name", &presser.profile.name)?,
            guest_email_sealed: seal("guest_email", &presser.profile.email)?,
            guest_company_sealed: None,
            guest_phone_sealed: None,
            answers_sealed: None,
            guest_time_zone: zone.name().to_owned(),
            guest_language: presser.profile.language.as_str().to_owned(),
            status: "confirmed".into(),
            sequence: 0,
            manage_token_hash: None,
            idempotency_key: None,
            client_fingerprint: fingerprint,
            created_at: now_ms,
        };
        let booking_id = booking_store::insert_booking(&mut tx, &booking).await?;
        for colleague in &people.colleagues {
            let held = booking_store::insert_hold(
                &mut tx,
                tenant_id,
                booking_id,
                colleague.id,
                (booking.starts_at, booking.ends_at),
            )
            .await?;
            if !held {
                // Booked by someone else between the check and the hold (another instance).
                drop(tx);
                return self
                    .fresh_offer(tenant_id, lang, zone, proposal, &row, &people)
                    .await;
            }
        }
        if !store::set_booked(&mut tx, row.id, booking_id).await? {
            drop(tx);
            return Ok(Message::text(i18n::format(
                lang,
                "bot_book.already",
                &[("when", "")],
            )));
        }
        let title = i18n::format(
            lang,
            "bot_book.event_title",
            &[("name", &presser.profile.name)],
        );
        self.write_meeting(
            &mut tx,
            tenant_id,
            presser,
            &people,
            &booking_public_id,
            &title,
            slot,
        )
        .await?;
        let actor = format!("{}:{}", who.platform, who.user_id);
        let event = Event {
            actor: &actor,
            ip: "",
            action: "booking.create",
            target: booking_reference(&booking_public_id),
            detail: json!({
                "by": "chat",
                "colleagues": people.colleagues.len(),
                "guests": people.guests.len(),
            }),
        };
        self.record(&mut tx, tenant_id, now_ms, event).await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        self.wake_web_chat();
        let mut answer = Message::text(i18n::format(
            lang,
            "bot_book.booked",
            &[
                ("title", &title),
                ("when", &format_when(zone, slot.start, slot.end, lang)),
                ("people", &people.names_but(presser.id)),
            ],
        ));
        if !people.guests.is_empty() {
            answer = answer.paragraph(i18n::format(
                lang,
                "bot_book.booked_mailed",
                &[("emails", &people.guests.join(", "))],
            ));
        }
        Ok(answer.buttons(vec![Button {
            action: Action::CancelMeeting { proposal },
            label: i18n::text(lang, "bot_book.cancel_button"),
            style: ButtonStyle::Danger,
        }]))
    }

    /// The outside guests of a proposal, opened.
    fn proposal_guests(&self, row: &ProposalRow) -> Result<Vec<String>> {
        let at = proposal_at(row.tenant_id, "guests", &row.public_id);
        match self.open_optional(row.guests_sealed.as_deref(), at)? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|err| Error::internal("reading a proposal's guests", err)),
            None => Ok(Vec::new()),
        }
    }

    /// Cancels the meeting booked from proposal `proposal`, pressed by `presser` (only its
    /// requester may): every colleague's time is free at once, their events are cancelled,
    /// outside guests get a cancellation (`METHOD:CANCEL`), colleagues a notice.
    pub async fn cancel_proposed_meeting(
        &self,
        who: &ChatUser,
        presser: &Employee,
        proposal: u128,
    ) -> Result<Message> {
        let lang = presser.profile.language;
        let zone = zone_of(&presser.profile.time_zone);
        let now_ms = self.ports.clock.now_ms();
        let public_id = format!("{proposal:032x}");
        let tenant_id = who.tenant_id;
        let mut tx = self.db.write().await?;
        let Some(row) = store::lock_by_public_id(&mut tx, tenant_id, &public_id).await? else {
            return Ok(Message::text(i18n::text(lang, "bot_book.unknown")));
        };
        if row.requester_id != presser.id {
            return Ok(Message::text(i18n::text(
                lang,
                "bot_book.not_yours_to_cancel",
            )));
        }
        let booking = match row.booking_id {
            Some(id) => booking_store::booking(&mut tx, tenant_id, id).await?,
            None => None,
        };
        let Some(booking) = booking.filter(|b| b.status == "confirmed") else {
            return Ok(Message::text(i18n::text(
                lang,
                "bot_book.nothing_to_cancel",
            )));
        };
        let hosts = booking_store::booking_hosts(&mut tx, booking.id).await?;
        booking_store::cancel_booking(&mut tx, booking.id, now_ms).await?;
        let reference = booking_reference(&booking.public_id);
        let mut colleagues = Vec::with_capacity(hosts.len());
        for id in hosts {
            self.cancel_calendar_event(&mut tx, tenant_id, Owner::Employee(id), &reference)
                .await?;
            if let Some(colleague) = employee::find(&mut tx, tenant_id, id).await? {
                colleagues.push(colleague);
            }
        }
        let slot = Interval {
            start: booking.starts_at / 1000,
            end: booking.ends_at / 1000,
        };
        let title = i18n::format(
            presser.profile.language,
            "bot_book.event_title",
            &[("name", &presser.profile.name)],
        );
        let guests = self.proposal_guests(&row)?;
        let ics = meeting_ics(
            &booking.public_id,
            &title,
            (slot.start, slot.end),
            booking.sequence + 1,
            None,
            "CANCEL",
            self.ports.clock.now(),
        );
        for guest in &guests {
            let in_lang = |lang: Lang, key: &str| {
                i18n::format(
                    lang,
                    key,
                    &[
                        ("organizer", &presser.profile.name),
                        ("title", &title),
                        ("when", &format_when(zone, slot.start, slot.end, lang)),
                    ],
                )
            };
            let mail = Mail {
                to: guest.clone(),
                subject: format!(
                    "{} / {}",
                    in_lang(lang, "bot_book.cancel_mail_subject"),
                    in_lang(other(lang), "bot_book.cancel_mail_subject")
                ),
                body: format!(
                    "{}\n\n----\n\n{}",
                    in_lang(lang, "bot_book.cancel_mail_body"),
                    in_lang(other(lang), "bot_book.cancel_mail_body")
                ),
                attachments: vec![Attachment {
                    filename: super::booking::INVITATION_FILENAME.into(),
                    content_type: "text/calendar; method=CANCEL".into(),
                    bytes: ics.clone().into_bytes(),
                }],
            };
            self.queue(
                &mut tx,
                tenant_id,
                &super::outbox::OutboxMessage::Mail(mail),
            )
            .await?;
        }
        for colleague in colleagues.iter().filter(|c| c.id != presser.id) {
            let text = i18n::format(
                colleague.profile.language,
                "bot_book.cancelled_notice",
                &[
                    ("name", &presser.profile.name),
                    (
                        "when",
                        &format_when(
                            zone_of(&colleague.profile.time_zone),
                            slot.start,
                            slot.end,
                            colleague.profile.language,
                        ),
                    ),
                ],
            );
            self.notify_employee(
                &mut tx,
                tenant_id,
                colleague,
                &reference,
                &Message::text(text),
            )
            .await?;
        }
        tx.commit().await?;
        self.outbox_queued.notify_one();
        self.wake_web_chat();
        Ok(Message::text(i18n::format(
            lang,
            "bot_book.cancelled",
            &[("when", &format_when(zone, slot.start, slot.end, lang))],
        )))
    }

    /// The event in each colleague's calendar, the invitation to each outside guest, the
    /// notice to each colleague but the requester; all in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn write_meeting(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        requester: &Employee,
        people: &People,
        public_id: &str,
        title: &str,
        slot: Interval,
    ) -> Result<()> {
        let reference = booking_reference(public_id);
        let everyone: Vec<String> = people
            .colleagues
            .iter()
            .map(|c| format!("{} <{}>", c.profile.name, c.profile.email))
            .chain(people.guests.iter().cloned())
            .collect();
        let draft = crate::port::EventDraft {
            title: title.to_owned(),
            description: everyone.join("\n"),
            interval: slot,
            time_zone: requester.profile.time_zone.clone(),
            attendees: people
                .colleagues
                .iter()
                .map(|c| c.profile.email.clone())
                .chain(people.guests.iter().cloned())
                .collect(),
            location: None,
            online_meeting: false,
        };
        for colleague in &people.colleagues {
            self.queue_calendar_event(
                tx,
                tenant_id,
                Owner::Employee(colleague.id),
                &reference,
                &draft,
            )
            .await?;
        }
        let zone = zone_of(&requester.profile.time_zone);
        let first = requester.profile.language;
        let ics = meeting_ics(
            public_id,
            title,
            (slot.start, slot.end),
            0,
            None,
            "REQUEST",
            self.ports.clock.now(),
        );
        for guest in &people.guests {
            let in_lang = |lang: Lang, key: &str| {
                i18n::format(
                    lang,
                    key,
                    &[
                        ("organizer", &requester.profile.name),
                        ("title", title),
                        ("when", &format_when(zone, slot.start, slot.end, lang)),
                        ("people", &everyone.join(", ")),
                    ],
                )
            };
            let mail = Mail {
                to: guest.clone(),
                subject: format!(
                    "{} / {}",
                    in_lang(first, "bot_book.mail_subject"),
                    in_lang(other(first), "bot_book.mail_subject")
                ),
                body: format!(
                    "{}\n\n----\n\n{}",
                    in_lang(first, "bot_book.mail_body"),
                    in_lang(other(first), "bot_book.mail_body")
                ),
                attachments: vec![Attachment {
                    filename: super::booking::INVITATION_FILENAME.into(),
                    content_type: "text/calendar; method=REQUEST".into(),
                    bytes: ics.clone().into_bytes(),
                }],
            };
            self.queue(tx, tenant_id, &super::outbox::OutboxMessage::Mail(mail))
                .await?;
        }
        for colleague in people.colleagues.iter().filter(|c| c.id != requester.id) {
            let lang = colleague.profile.language;
            let summary = i18n::format(
                lang,
                "bot_book.notice",
                &[("name", &requester.profile.name), ("title", title)],
            );
            let fields = vec![
                Field {
                    label: i18n::text(lang, "bot_book.when"),
                    value: format_when(
                        zone_of(&colleague.profile.time_zone),
                        slot.start,
                        slot.end,
                        lang,
                    ),
                },
                Field {
                    label: i18n::text(lang, "bot_book.with"),
                    value: people.names_but(colleague.id),
                },
            ];
            let message = Message {
                summary: summary.clone(),
                blocks: vec![Block::Text { text: summary }, Block::Fields { fields }],
            };
            self.notify_employee(tx, tenant_id, colleague, &reference, &message)
                .await?;
        }
        Ok(())
    }

    /// "That time was just taken": the proposal's common free slots now, as buttons.
    async fn fresh_offer(
        &self,
        tenant_id: i64,
        lang: Lang,
        zone: Tz,
        proposal: u128,
        row: &ProposalRow,
        people: &People,
    ) -> Result<Message> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.read().await?;
        let from = row.search_from.max(now) / 1000;
        let slots = if from < row.search_until / 1000 {
            self.common_slots(
                &mut tx,
                tenant_id,
                &people.ids(),
                zone,
                row.duration_minutes * 60,
                (from, row.search_until / 1000),
            )
            .await?
        } else {
            Vec::new()
        };
        if slots.is_empty() {
            return Ok(Message::text(i18n::text(lang, "bot_book.taken_none")));
        }
        Ok(Message::text(i18n::text(lang, "bot_book.taken"))
            .buttons(slot_buttons(zone, lang, proposal, &slots)))
    }
}

/// Buttons for the first [`OFFERED_SLOTS`] of `slots`, labelled in `zone` and `lang`.
fn slot_buttons(zone: Tz, lang: Lang, proposal: u128, slots: &[Interval]) -> Vec<Button> {
    slots
        .iter()
        .take(OFFERED_SLOTS)
        .enumerate()
        .map(|(index, slot)| Button {
            action: Action::Book {
                proposal,
                start: slot.start,
            },
            label: slot_label(zone, slot.start, lang),
            style: if index == 0 {
                ButtonStyle::Primary
            } else {
                ButtonStyle::Default
            },
        })
        .collect()
}

/// "I did not understand `word`", with how to ask.
fn unknown_word(lang: Lang, word: &str) -> Message {
    Message::text(i18n::format(
        lang,
        "bot_book.unknown_word",
        &[("word", word)],
    ))
    .paragraph(i18n::text(lang, "bot_book.usage"))
}

/// What is wrong with a request, and how to ask.
fn request_error(lang: Lang, err: &MeetingRequestError) -> Message {
    let text = match err {
        MeetingRequestError::NoOne => i18n::text(lang, "bot_book.no_one"),
        MeetingRequestError::TooMany => i18n::format(
            lang,
            "bot_book.too_many",
            &[(
                "max",
                &crate::domain::meeting_request::MAX_PEOPLE.to_string(),
            )],
        ),
        MeetingRequestError::BadLength(minutes) => i18n::format(
            lang,
            "bot_book.bad_length",
            &[
                ("minutes", minutes),
                ("min", &MIN_MINUTES.to_string()),
                ("max", &(MAX_MINUTES / 60).to_string()),
            ],
        ),
        MeetingRequestError::DayOutOfRange => i18n::format(
            lang,
            "bot_book.day_out_of_range",
            &[("days", &MAX_DAYS_AHEAD.to_string())],
        ),
    };
    Message::text(text).paragraph(i18n::text(lang, "bot_book.usage"))
}

/// How long an expired proposal is kept (its buttons answer "expired" meanwhile) before
/// housekeeping deletes it.
pub const PROPOSAL_RETENTION: Duration = Duration::days(7);
