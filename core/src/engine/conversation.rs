//! The one conversation every chat surface shares: text becomes a [`Command`], a pressed
//! button an [`Action`], and the answer is a [`Message`] in the person's language. A bot
//! only translates between its platform and these.

use serde_json::json;

use super::Engine;
use super::access_log::Event;
use crate::domain::chat::{Action, Button, ButtonStyle, Command, Message, language_of};
use crate::domain::people::{Platform, normalize_email};
use crate::i18n::{self, Lang};
use crate::store::StoreError;
use crate::store::employee::{self, Employee};
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
    NotUnderstood(String),
    /// A button from an older version, or an id that was altered.
    UnknownButton,
}

/// How long a platform event id is remembered (Slack retries within minutes).
pub const INBOX_RETENTION: chrono::Duration = chrono::Duration::days(1);

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
                    Command::Unknown(word) => Request::NotUnderstood(word),
                };
                (request, language_of(text, fallback))
            }
            Input::Pressed(id) => {
                let request = match Action::from_id(id) {
                    Some(Action::Help) => Request::Help,
                    Some(Action::Link) => Request::Link,
                    None => Request::UnknownButton,
                };
                (request, fallback)
            }
        };
        // A linked employee is answered in the language they chose in the directory.
        let lang = linked.as_ref().map_or(lang, |e| e.profile.language);
        match request {
            Request::Help => Ok(help(lang, who.platform, linked.as_ref())),
            Request::Link => self.link(who, linked, lang).await,
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
        }
    }

    /// Links `who` to the employee whose email the platform has verified for them.
    async fn link(&self, who: &ChatUser, linked: Option<Employee>, lang: Lang) -> Result<Message> {
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
        let external_id = &who.user_id;
        match employee::link_identity(
            &mut tx,
            who.tenant_id,
            employee.id,
            who.platform,
            external_id,
        )
        .await
        {
            Err(StoreError::Duplicate) => {
                // Another employee holds this platform user (set by an admin): not ours to move.
                return Ok(Message::text(i18n::text(
                    lang,
                    "conversation.linking.taken",
                )));
            }
            other => other?,
        }
        let actor = format!("{}:{external_id}", who.platform);
        let event = Event {
            actor: &actor,
            ip: "",
            action: "chat.link",
            target: format!("employee:{}", employee.id),
            detail: json!({ "platform": who.platform.as_str(), "user": external_id }),
        };
        self.record(&mut tx, who.tenant_id, now, event).await?;
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

fn help_button(lang: Lang) -> Button {
    Button {
        action: Action::Help,
        label: i18n::text(lang, "conversation.help.button"),
        style: ButtonStyle::Default,
    }
}

/// What Frontdesk can do here; an unlinked person is offered to link first.
fn help(lang: Lang, platform: Platform, linked: Option<&Employee>) -> Message {
    // In the web chat the person signed in as the employee: there is nothing to link.
    let commands = match platform {
        Platform::Web => "conversation.help.commands_web",
        _ => "conversation.help.commands",
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
