//! The one conversation every chat surface shares: text becomes a [`Command`], a pressed
//! button an [`Action`], and the answer is a [`Message`] in the person's language. A bot
//! only translates between its platform and these.

use serde_json::json;

use super::Engine;
use super::access_log::Event;
use crate::domain::chat::{Action, Button, ButtonStyle, Command, Message, language_of};
use crate::domain::people::{Platform, normalize_email};
use crate::domain::token;
use crate::domain::visit::HostAnswer;
use crate::i18n::{self, Lang};
use crate::store::employee::{self, Employee};
use crate::store::{StoreError, Tx};
use crate::{Error, Result};

/// Who is talking: a platform user in the tenant whose workspace the message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUser {
    pub tenant_id: i64,
    pub platform: Platform,
    /// The platform's id of the user (Slack `U…`, Teams AAD object id, Discord snowflake).
    pub user_id: String,
    /// The language the platform reports for the user, if any.
    pub locale: Option<Lang>,
}

/// What the person did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Typed a message (or a slash command's text).
    Text(String),
    /// Pressed a button or picked a menu choice: the action id the platform sent back.
    Pressed(String),
}

/// What a person asks for, whether typed or pressed.
enum Request {
    Help,
    Link,
    LinkCode(String),
    /// Expect a visitor (the words after the command).
    ExpectVisitor(String),
    /// Today's visitors, expected and on site.
    Visitors,
    /// My booking links.
    Links,
    /// Propose a meeting (the words of the request).
    Book(String),
    /// Book a proposed meeting at `start` (epoch seconds).
    BookProposed {
        proposal: u128,
        start: i64,
    },
    CancelMeeting {
        proposal: u128,
    },
    /// Find a free room (the words of the search).
    Rooms(String),
    BookRoom {
        room: i64,
        start: i64,
        minutes: i64,
    },
    CheckInRoom {
        meeting: i64,
    },
    ReleaseRoom {
        meeting: i64,
    },
    NotUnderstood(String),
    /// A button from an older version, or an id that was altered.
    UnknownButton,
    /// A host's answer to a visitor at reception.
    AnswerVisit {
        visit: i64,
        answer: HostAnswer,
    },
    /// Check a visitor out.
    CheckOutVisit {
        visit: i64,
    },
}

/// How long a platform event id is remembered (Slack retries within minutes).
pub const INBOX_RETENTION: chrono::Duration = chrono::Duration::days(1);

/// How long a link code from the web chat works.
pub const LINK_CODE_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// How many wrong link codes one platform user may type per [`LINK_ATTEMPT_WINDOW`]: with
/// 32^8 codes, guessing a live one is hopeless.
pub const MAX_LINK_ATTEMPTS: i64 = 5;
pub const LINK_ATTEMPT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The letters of link codes: no 0/O or 1/I to misread.
const LINK_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const LINK_CODE_LENGTH: usize = 8;

impl Engine {
    /// Whether this is the first delivery of the platform event `event_id` (a retry of one
    /// already taken answers `false`, so each event is acted on once).
    pub async fn first_delivery(&self, platform: Platform, event_id: &str) -> Result<bool> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let first = crate::store::inbox::take(&mut tx, platform, event_id, now).await?;
        tx.commit().await?;
        Ok(first)
    }

    /// What `who` sees on the app's home page: what Frontdesk can do, and whom they are
    /// linked to (or the button to link). It is the `help` answer, always current.
    pub async fn home(&self, who: &ChatUser) -> Result<Message> {
        self.converse(who, &Input::Pressed(Action::Help.id())).await
    }

    /// The answer to `input` from `who`.
    pub async fn converse(&self, who: &ChatUser, input: &Input) -> Result<Message> {
        let linked = {
            let mut tx = self.db.read().await?;
            employee::find_by_identity(&mut tx, who.tenant_id, who.platform, &who.user_id).await?
        };
        let fallback = who.locale.unwrap_or_default();
        let (request, lang) = match input {
            Input::Text(text) => {
                let request = match Command::parse(text) {
                    Command::Help => Request::Help,
                    Command::Link => Request::Link,
                    Command::LinkCode(code) => Request::LinkCode(code),
                    Command::ExpectVisitor(rest) => Request::ExpectVisitor(rest),
                    Command::Visitors => Request::Visitors,
                    Command::Links => Request::Links,
                    Command::Book(rest) => Request::Book(rest),
                    Command::Rooms(rest) => Request::Rooms(rest),
                    Command::Unknown(word) => Request::NotUnderstood(word),
                };
                (request, language_of(text, fallback))
            }
            Input::Pressed(id) => {
                let request = match Action::from_id(id) {
                    Some(Action::Help) => Request::Help,
                    Some(Action::Link) => Request::Link,
                    Some(Action::AnswerVisit { visit, answer }) => {
                        Request::AnswerVisit { visit, answer }
                    }
                    Some(Action::CheckOutVisit { visit }) => Request::CheckOutVisit { visit },
                    Some(Action::Book { proposal, start }) => {
                        Request::BookProposed { proposal, start }
                    }
                    Some(Action::CancelMeeting { proposal }) => Request::CancelMeeting { proposal },
                    Some(Action::BookRoom {
                        room,
                        start,
                        minutes,
                    }) => Request::BookRoom {
                        room,
                        start,
                        minutes,
                    },
                    Some(Action::CheckInRoom { meeting }) => Request::CheckInRoom { meeting },
                    Some(Action::ReleaseRoom { meeting }) => Request::ReleaseRoom { meeting },
                    None => Request::UnknownButton,
                };
                (request, fallback)
            }
        };
        // A linked employee is answered in the language they chose in the directory.
        let lang = linked.as_ref().map_or(lang, |e| e.profile.language);
        match request {
            Request::Help => {
                let discord = self.ports.chat.get(Platform::Discord).is_some();
                Ok(help(lang, who.platform, discord, linked.as_ref()))
            }
            Request::Link => self.link(who, linked, lang).await,
            Request::LinkCode(code) => self.link_by_code(who, linked, &code, lang).await,
            Request::NotUnderstood(word) => Ok(Message::text(i18n::format(
                lang,
                "conversation.not_understood",
                &[("word", &word)],
            ))
            .buttons(vec![help_button(lang)])),
            Request::UnknownButton => Ok(Message::text(i18n::text(
                lang,
                "conversation.unknown_button",
            ))
            .buttons(vec![help_button(lang)])),
            // Visits are answered by the employees they were sent to: an unlinked chat
            // account is asked to link first.
            Request::AnswerVisit { visit, answer } => match &linked {
                Some(employee) => self.answer_visit(who, employee, visit, answer).await,
                None => Ok(not_linked(lang)),
            },
            Request::CheckOutVisit { visit } => match &linked {
                Some(employee) => self.check_out_from_chat(who, employee, visit).await,
                None => Ok(not_linked(lang)),
            },
            Request::ExpectVisitor(rest) => match &linked {
                Some(employee) => self.expect_visitor_from_chat(who, employee, &rest).await,
                None => Ok(not_linked(lang)),
            },
            Request::Visitors => match &linked {
                Some(employee) => self.visitors_from_chat(who, employee).await,
                None => Ok(not_linked(lang)),
            },
            Request::Links => match &linked {
                Some(employee) => self.links_from_chat(who.tenant_id, employee).await,
                None => Ok(not_linked(lang)),
            },
            Request::Book(rest) => match &linked {
                Some(employee) => self.propose_meeting(who, employee, &rest).await,
                None => Ok(not_linked(lang)),
            },
            Request::BookProposed { proposal, start } => match &linked {
                Some(employee) => {
                    self.book_proposed_meeting(who, employee, proposal, start)
                        .await
                }
                None => Ok(not_linked(lang)),
            },
            Request::CancelMeeting { proposal } => match &linked {
                Some(employee) => self.cancel_proposed_meeting(who, employee, proposal).await,
                None => Ok(not_linked(lang)),
            },
            Request::Rooms(rest) => match &linked {
                Some(employee) => self.rooms_from_chat(who, employee, &rest).await,
                None => Ok(not_linked(lang)),
            },
            Request::BookRoom {
                room,
                start,
                minutes,
            } => match &linked {
                Some(employee) => {
                    self.book_room_from_chat(who, employee, room, start, minutes)
                        .await
                }
                None => Ok(not_linked(lang)),
            },
            Request::CheckInRoom { meeting } => match &linked {
                Some(employee) => self.check_in_from_chat(who, employee, meeting).await,
                None => Ok(not_linked(lang)),
            },
            Request::ReleaseRoom { meeting } => match &linked {
                Some(employee) => self.release_from_chat(who, employee, meeting).await,
                None => Ok(not_linked(lang)),
            },
        }
    }

    /// Links `who` to employee `employee_id` in `tx` and records it in the access log (`by`
    /// says how the person was shown to be the employee); `false` when another employee
    /// holds this platform user (set by an admin: not ours to move).
    async fn link_chat_user(
        &self,
        tx: &mut Tx,
        who: &ChatUser,
        employee_id: i64,
        by: &str,
        now: i64,
    ) -> Result<bool> {
        match employee::link_identity(tx, who.tenant_id, employee_id, who.platform, &who.user_id)
            .await
        {
            Err(StoreError::Duplicate) => return Ok(false),
            other => other?,
        }
        let actor = format!("{}:{}", who.platform, who.user_id);
        let event = Event {
            actor: &actor,
            ip: "",
            action: "chat.link",
            target: format!("employee:{employee_id}"),
            detail: json!({ "platform": who.platform.as_str(), "user": who.user_id, "by": by }),
        };
        self.record(tx, who.tenant_id, now, event).await?;
        Ok(true)
    }

    /// Links `who` to the employee whose email the platform has verified for them. In the
    /// web chat (where the employee is known by their email) it gives a code to link a
    /// platform that shares no email; on such a platform it says how to get one.
    async fn link(&self, who: &ChatUser, linked: Option<Employee>, lang: Lang) -> Result<Message> {
        if who.platform == Platform::Web
            && self.ports.chat.get(Platform::Discord).is_some()
            && let Some(employee) = &linked
        {
            return self.issue_link_code(who.tenant_id, employee, lang).await;
        }
        // Already linked: what is left to link is booking links; show mine.
        if let Some(employee) = linked {
            let links = self.links_from_chat(who.tenant_id, &employee).await?;
            let mut message = Message::text(i18n::format(
                lang,
                "conversation.linking.already",
                &[
                    ("name", &employee.profile.name),
                    ("email", &employee.profile.email),
                ],
            ));
            message.blocks.extend(links.blocks);
            return Ok(message);
        }
        let Some(bot) = self.ports.chat.get(who.platform) else {
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.no_email",
            )));
        };
        let email = bot
            .user_email(&who.user_id)
            .await
            .map_err(|err| Error::internal("asking the chat platform for the user's email", err))?;
        // A platform that shares no email, or one that is not an address: no link by email.
        let Some(email) = email.and_then(|e| normalize_email(&e).ok()) else {
            if who.platform == Platform::Discord {
                let url = format!("{}/chat", self.settings.public_url.trim_end_matches('/'));
                return Ok(Message::text(i18n::format(
                    lang,
                    "conversation.linking.by_code",
                    &[("url", &url)],
                )));
            }
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.no_email",
            )));
        };
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some(employee) = employee::find_by_email(&mut tx, who.tenant_id, &email).await? else {
            return Ok(Message::text(i18n::format(
                lang,
                "conversation.linking.not_found",
                &[("email", &email)],
            )));
        };
        if !self
            .link_chat_user(&mut tx, who, employee.id, "email", now)
            .await?
        {
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.taken",
            )));
        }
        tx.commit().await?;
        let lang = employee.profile.language;
        Ok(Message::text(i18n::format(
            lang,
            "conversation.linking.done",
            &[
                ("name", &employee.profile.name),
                ("email", &employee.profile.email),
            ],
        )))
    }
}

impl Engine {
    /// A new link code for `employee` (their unused ones stop working), shown in the web chat.
    async fn issue_link_code(
        &self,
        tenant_id: i64,
        employee: &Employee,
        lang: Lang,
    ) -> Result<Message> {
        let code = new_link_code();
        let now = self.ports.clock.now();
        let mut tx = self.db.write().await?;
        crate::store::link_code::replace(
            &mut tx,
            &token::hash(&code),
            tenant_id,
            employee.id,
            now.timestamp_millis(),
            (now + LINK_CODE_TTL).timestamp_millis(),
        )
        .await?;
        tx.commit().await?;
        let shown = format!("{}-{}", &code[..4], &code[4..]);
        Ok(Message::text(i18n::format(
            lang,
            "conversation.linking.code",
            &[("code", &shown)],
        )))
    }

    /// Links `who` to the employee who asked for `code` in the web chat: once, within
    /// [`LINK_CODE_TTL`], and after at most [`MAX_LINK_ATTEMPTS`] wrong codes a quarter hour.
    async fn link_by_code(
        &self,
        who: &ChatUser,
        linked: Option<Employee>,
        code: &str,
        lang: Lang,
    ) -> Result<Message> {
        // A code typed in the web chat itself: it is for the other platform; give one.
        if who.platform == Platform::Web {
            return self.link(who, linked, lang).await;
        }
        if let Some(employee) = linked {
            return Ok(Message::text(i18n::format(
                lang,
                "conversation.linking.already",
                &[
                    ("name", &employee.profile.name),
                    ("email", &employee.profile.email),
                ],
            )));
        }
        let now = self.ports.clock.now();
        let now_ms = now.timestamp_millis();
        let mut tx = self.db.write().await?;
        let wrong = crate::store::link_code::attempts_since(
            &mut tx,
            who.tenant_id,
            who.platform,
            &who.user_id,
            (now - LINK_ATTEMPT_WINDOW).timestamp_millis(),
        )
        .await?;
        if wrong >= MAX_LINK_ATTEMPTS {
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.too_many_attempts",
            )));
        }
        let employee_id = match normalize_link_code(code) {
            Some(code) => {
                crate::store::link_code::consume(
                    &mut tx,
                    &token::hash(&code),
                    who.tenant_id,
                    now_ms,
                )
                .await?
            }
            None => None,
        };
        let employee = match employee_id {
            Some(id) => employee::find(&mut tx, who.tenant_id, id).await?,
            None => None,
        };
        let Some(employee) = employee else {
            crate::store::link_code::record_attempt(
                &mut tx,
                who.tenant_id,
                who.platform,
                &who.user_id,
                now_ms,
            )
            .await?;
            tx.commit().await?;
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.bad_code",
            )));
        };
        // Taken: the code is not used up (the transaction is dropped).
        if !self
            .link_chat_user(&mut tx, who, employee.id, "code", now_ms)
            .await?
        {
            return Ok(Message::text(i18n::text(
                lang,
                "conversation.linking.taken",
            )));
        }
        tx.commit().await?;
        Ok(Message::text(i18n::format(
            employee.profile.language,
            "conversation.linking.done",
            &[
                ("name", &employee.profile.name),
                ("email", &employee.profile.email),
            ],
        )))
    }
}

/// A fresh link code: [`LINK_CODE_LENGTH`] letters of [`LINK_CODE_ALPHABET`] from the OS's
/// CSPRNG (40 bits).
fn new_link_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..LINK_CODE_LENGTH)
        .map(|_| LINK_CODE_ALPHABET[rng.random_range(0..LINK_CODE_ALPHABET.len())] as char)
        .collect()
}

/// A typed code as issued (upper case, without the dash and spaces), if it can be one.
fn normalize_link_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LINK_CODE_LENGTH && code.bytes().all(|b| LINK_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

fn help_button(lang: Lang) -> Button {
    Button {
        action: Action::Help,
        label: i18n::text(lang, "conversation.help.button"),
        style: ButtonStyle::Default,
    }
}

/// What Frontdesk can do here; an unlinked person is offered to link first.
fn help(lang: Lang, platform: Platform, discord: bool, linked: Option<&Employee>) -> Message {
    // How linking works differs by surface: by verified email on Slack and Teams, by a code
    // on Discord (which shares no email), and the web chat (signed in as the employee) only
    // hands out codes, when Discord is there to use them.
    let commands = match platform {
        Platform::Web if discord => "conversation.help.commands_web_discord",
        Platform::Web => "conversation.help.commands_web",
        Platform::Discord => "conversation.help.commands_discord",
        Platform::Slack | Platform::Teams => "conversation.help.commands",
    };
    let message = Message::text(i18n::text(lang, "conversation.help.title"))
        .paragraph(i18n::text(lang, commands));
    match linked {
        Some(employee) => message.paragraph(i18n::format(
            lang,
            "conversation.help.linked_as",
            &[("name", &employee.profile.name)],
        )),
        None => message
            .paragraph(i18n::text(lang, "conversation.help.not_linked"))
            .buttons(vec![Button {
                action: Action::Link,
                label: i18n::text(lang, "conversation.help.link_button"),
                style: ButtonStyle::Primary,
            }]),
    }
}

/// The answer to someone who pressed a visit's button before linking their chat account.
fn not_linked(lang: Lang) -> Message {
    Message::text(i18n::text(lang, "reception.reply.not_linked")).buttons(vec![Button {
        action: Action::Link,
        label: i18n::text(lang, "conversation.help.link_button"),
        style: ButtonStyle::Primary,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_codes_are_eight_unambiguous_letters_read_however_they_are_typed() {
        let code = new_link_code();
        assert_eq!(normalize_link_code(&code).as_deref(), Some(code.as_str()));
        assert_ne!(code, new_link_code());
        let shown = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
        assert_eq!(normalize_link_code(&shown).as_deref(), Some(code.as_str()));
        for wrong in ["", "abcd-efg", "abcd-efgh1", "abcd-efg0", "abcd-efgi"] {
            assert_eq!(normalize_link_code(wrong), None, "{wrong:?}");
        }
    }
}
