//! What the outbox carries: one typed, versioned message per row.
//!
//! A message is written in the same transaction as the change that causes it
//! ([`Engine::queue`]) and sent later by the dispatcher, which routes it by variant. The
//! stored form is JSON `{"v": 1, "kind": "mail", …}`: the version lets a newer build read
//! rows an older one wrote, and a row of an unknown version is dead-lettered with that
//! reason instead of being misread.

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::domain::chat::Message;
use crate::domain::people::Platform;
use crate::port::{Attachment, EventDraft, Mail, SealError, SealedAt};
use crate::store::{Tx, outbox};
use crate::{Error, Result};

/// The version of the stored form this build writes (and the newest it reads).
pub const PAYLOAD_VERSION: u32 = 1;

/// A message waiting in the outbox; the dispatcher's `match` names what each needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxMessage {
    /// A mail through the [`crate::port::Mailer`].
    Mail(Mail),
    /// A chat message of a notice, through the platform's [`crate::port::ChatBot`].
    Chat(ChatNotice),
    /// A new version of a notice's chat messages on one platform (updated in place).
    ChatUpdate(ChatNoticeUpdate),
    /// An event to create at a connected calendar's provider.
    CalendarEvent(CalendarEventWrite),
    /// A signed POST to an outgoing webhook endpoint (a gate controller).
    Webhook(WebhookCall),
    /// A change to a room's event at its calendar's provider (a release, an early end, an
    /// extension, leaving a series).
    RoomEvent(RoomEventChange),
}

/// A change Frontdesk makes to an event of a room's calendar that someone else booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RoomEventChange {
    /// Move the event's end to `end` (epoch seconds). `event_id` is the provider's id, or
    /// the reference of an event Frontdesk asked the provider to make.
    End {
        calendar_id: i64,
        event_id: String,
        end: i64,
    },
    /// The room declines the recurring series.
    LeaveSeries { calendar_id: i64, series: String },
}

impl RoomEventChange {
    /// What a newer change makes moot: the same event's end, the same series.
    pub fn write_key(&self) -> String {
        match self {
            RoomEventChange::End {
                calendar_id,
                event_id,
                ..
            } => format!("room-end:{calendar_id}:{event_id}"),
            RoomEventChange::LeaveSeries {
                calendar_id,
                series,
            } => format!("room-series:{calendar_id}:{series}"),
        }
    }
}

/// One event for one outgoing webhook endpoint. The body is written with the change that
/// caused it; the signature is made when it is sent (so a retry carries a fresh timestamp),
/// with the endpoint's secret as it is then. An endpoint deleted meanwhile gets nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCall {
    pub endpoint_id: i64,
    /// `visit.checked_in`, `visit.checked_out`.
    pub event: String,
    /// The JSON body, exactly as it is signed and sent.
    pub body: String,
}

/// An event to create at the provider of a connected calendar (a booking's): through the
/// outbox, so what caused it stands while the provider is down, and the event (with its
/// video link) comes when the provider is back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEventWrite {
    pub calendar_id: i64,
    /// What the event is for (`booking:42`): its provider id and video link are kept under it.
    /// An event already made for it is updated instead of made again.
    pub reference: String,
    pub draft: EventDraft,
    /// Cancel the event made for the reference (messages from before this field create).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel: bool,
}

/// One chat message of a notice, to one person on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatNotice {
    pub platform: Platform,
    pub to: ChatTarget,
    /// What the notice is about (`visit:42`): its messages are updated by it.
    pub notice: String,
    pub message: Message,
    /// The mail that goes instead when this message cannot be delivered (the person is not
    /// on the platform, or it keeps failing) and no other platform has delivered the
    /// notice. `None` when the mail goes anyway, or for answers to someone who just wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Mail>,
}

/// Who a chat notice goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatTarget {
    /// A platform user, by id.
    User { id: String },
    /// An employee not linked on the platform yet: looked up by email when the message is
    /// sent, and linked if found.
    Employee { employee_id: i64, email: String },
    /// A channel (a reception desk's, an area's), by the platform's id.
    Channel { id: String },
}

/// A notice's messages on one platform, replaced by `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatNoticeUpdate {
    pub platform: Platform,
    pub notice: String,
    pub message: Message,
}

/// The stored form: the version beside the message.
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    #[serde(flatten)]
    message: OutboxMessage,
}

/// Only the version, read first so an unknown version is named as such.
#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Why a stored payload cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("payload version {0} is newer than this build reads ({PAYLOAD_VERSION})")]
    UnknownVersion(u32),
    #[error("unreadable payload: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("the payload cannot be opened: {0}")]
    Sealed(#[from] SealError),
    #[error("the payload is not text")]
    NotText,
}

impl OutboxMessage {
    /// The channel it goes out on, as stored beside it (admins filter by it).
    pub fn channel(&self) -> &'static str {
        match self {
            OutboxMessage::Mail(_) => "mail",
            OutboxMessage::Chat(_) | OutboxMessage::ChatUpdate(_) => "chat",
            OutboxMessage::CalendarEvent(_) | OutboxMessage::RoomEvent(_) => "calendar",
            OutboxMessage::Webhook(_) => "webhook",
        }
    }

    /// The stored form.
    pub fn encode(&self) -> Result<String> {
        serde_json::to_string(&Stored {
            v: PAYLOAD_VERSION,
            message: self.clone(),
        })
        .map_err(|err| Error::internal("encoding an outbox message", err))
    }

    /// A message from its stored form.
    pub fn decode(payload: &str) -> Result<OutboxMessage, PayloadError> {
        let VersionOnly { v } = serde_json::from_str(payload)?;
        if v > PAYLOAD_VERSION {
            return Err(PayloadError::UnknownVersion(v));
        }
        Ok(serde_json::from_str::<Stored>(payload)?.message)
    }

    /// What admins may see of a message given up: who it was for and what about, never the
    /// body (a reset mail's body is a live secret).
    pub fn without_secrets(&self) -> OutboxMessage {
        match self {
            OutboxMessage::Mail(mail) => OutboxMessage::Mail(Mail {
                body: String::new(),
                // Which files went stays visible; their bytes may be a secret too (a QR
                // of a reception code).
                attachments: mail
                    .attachments
                    .iter()
                    .map(|attachment| Attachment {
                        bytes: Vec::new(),
                        ..attachment.clone()
                    })
                    .collect(),
                ..mail.clone()
            }),
            OutboxMessage::Chat(chat) => OutboxMessage::Chat(ChatNotice {
                message: Message::text(chat.message.summary.clone()),
                fallback: None,
                ..chat.clone()
            }),
            OutboxMessage::ChatUpdate(update) => OutboxMessage::ChatUpdate(ChatNoticeUpdate {
                message: Message::text(update.message.summary.clone()),
                ..update.clone()
            }),
            OutboxMessage::CalendarEvent(write) => {
                OutboxMessage::CalendarEvent(CalendarEventWrite {
                    draft: EventDraft {
                        description: String::new(),
                        attendees: Vec::new(),
                        ..write.draft.clone()
                    },
                    ..write.clone()
                })
            }
            // The body holds no secret (the signature is made when sending).
            OutboxMessage::Webhook(call) => OutboxMessage::Webhook(call.clone()),
            OutboxMessage::RoomEvent(change) => OutboxMessage::RoomEvent(change.clone()),
        }
    }

    /// The recipient and the subject, as admins see an undeliverable message.
    pub fn summary(&self) -> (String, String) {
        match self {
            OutboxMessage::Mail(mail) => (mail.to.clone(), mail.subject.clone()),
            OutboxMessage::Chat(chat) => {
                let to = match &chat.to {
                    ChatTarget::User { id } | ChatTarget::Channel { id } => id.as_str(),
                    ChatTarget::Employee { email, .. } => email.as_str(),
                };
                (
                    format!("{}: {to}", chat.platform),
                    chat.message.summary.clone(),
                )
            }
            OutboxMessage::ChatUpdate(update) => (
                format!("{}: {}", update.platform, update.notice),
                update.message.summary.clone(),
            ),
            OutboxMessage::CalendarEvent(write) => (
                format!("calendar {}: {}", write.calendar_id, write.reference),
                write.draft.title.clone(),
            ),
            OutboxMessage::Webhook(call) => (
                format!("webhook endpoint {}", call.endpoint_id),
                call.event.clone(),
            ),
            OutboxMessage::RoomEvent(change) => match change {
                RoomEventChange::End {
                    calendar_id,
                    event_id,
                    ..
                } => (
                    format!("calendar {calendar_id}: {event_id}"),
                    "room event end".into(),
                ),
                RoomEventChange::LeaveSeries {
                    calendar_id,
                    series,
                } => (
                    format!("calendar {calendar_id}: {series}"),
                    "room leaves series".into(),
                ),
            },
        }
    }
}

impl Engine {
    /// Queues `message` for `tenant_id` inside the caller's transaction; the dispatcher is
    /// woken once the caller commits ([`Engine::outbox_queued`]). The payload is sealed for
    /// its row: a reset link waiting to be sent is not readable from the database or a backup.
    pub(crate) async fn queue(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        message: &OutboxMessage,
    ) -> Result<i64> {
        let ids = self
            .queue_all(tx, tenant_id, std::slice::from_ref(message))
            .await?;
        ids.first()
            .copied()
            .ok_or_else(|| Error::internal("queueing a message", "no outbox row was made"))
    }

    /// Queues `messages` as [`Engine::queue`] does one, in two statements however many
    /// there are (a sweep's notices); returns their row ids, in order.
    pub(crate) async fn queue_all(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        messages: &[OutboxMessage],
    ) -> Result<Vec<i64>> {
        let now = self.ports.clock.now_ms();
        // A row's payload is sealed for its id, so the ids are taken first; ascending, so
        // messages go out in the order given.
        let ids = outbox::reserve_ids(tx, messages.len()).await?;
        if ids.len() != messages.len() {
            return Err(Error::internal(
                "queueing messages",
                "fewer outbox ids than messages",
            ));
        }
        let row_names: Vec<String> = ids.iter().map(i64::to_string).collect();
        let plains = messages
            .iter()
            .map(OutboxMessage::encode)
            .collect::<Result<Vec<String>>>()?;
        let values: Vec<(&[u8], SealedAt<'_>)> = plains
            .iter()
            .zip(&row_names)
            .map(|(plain, row)| (plain.as_bytes(), payload_at(tenant_id, row)))
            .collect();
        let sealed = self.seal_all_for_tenant(tenant_id, &values)?;
        let rows: Vec<(i64, &str, String)> = ids
            .iter()
            .zip(messages)
            .zip(sealed)
            .map(|((&id, message), payload)| (id, message.channel(), payload))
            .collect();
        outbox::insert_many(tx, tenant_id, &rows, now).await?;
        Ok(ids)
    }

    /// Queues `message` as the newest write of `key` (see [`Engine::queue`]): waiting
    /// messages with the same key are retired, as this one carries the whole of what
    /// should be written.
    pub(crate) async fn queue_write(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        message: &OutboxMessage,
        key: &str,
    ) -> Result<i64> {
        let now = self.ports.clock.now_ms();
        outbox::retire_writes(tx, tenant_id, key, now).await?;
        let id = self.queue(tx, tenant_id, message).await?;
        outbox::set_write_key(tx, id, key).await?;
        Ok(id)
    }

    /// `message` in its stored form, sealed for outbox row `id`.
    pub(crate) fn seal_payload(
        &self,
        tenant_id: i64,
        id: i64,
        message: &OutboxMessage,
    ) -> Result<String> {
        let row = id.to_string();
        self.seal_for_tenant(message.encode()?.as_bytes(), payload_at(tenant_id, &row))
    }

    /// The message a stored (sealed) payload of row `id` holds.
    pub(crate) fn open_payload(
        &self,
        tenant_id: i64,
        id: i64,
        sealed: &str,
    ) -> Result<OutboxMessage, PayloadError> {
        let row = id.to_string();
        let bytes = self.open_for_tenant(sealed, payload_at(tenant_id, &row))?;
        let text = String::from_utf8(bytes).map_err(|_| PayloadError::NotText)?;
        OutboxMessage::decode(&text)
    }
}

/// Where an outbox payload is sealed.
pub(crate) fn payload_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "outbox",
        column: "payload",
        row,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> OutboxMessage {
        OutboxMessage::Mail(Mail {
            to: "a@example.com".into(),
            subject: "Hello".into(),
            body: "secret link".into(),
            attachments: vec![Attachment {
                filename: "reception-code.png".into(),
                content_type: "image/png".into(),
                bytes: b"\x89PNG secret QR".to_vec(),
            }],
        })
    }

    #[test]
    fn a_message_round_trips_through_its_stored_form_with_its_version() {
        let stored = mail().encode().unwrap();
        assert!(stored.starts_with(r#"{"v":1,"kind":"mail""#), "{stored}");
        assert_eq!(OutboxMessage::decode(&stored).unwrap(), mail());
    }

    #[test]
    fn a_newer_version_is_named_not_misread() {
        let stored = r#"{"v":2,"kind":"mail","to":"a@example.com","subject":"s","body":"b"}"#;
        let err = OutboxMessage::decode(stored).unwrap_err();
        assert!(matches!(err, PayloadError::UnknownVersion(2)), "{err}");
        assert!(OutboxMessage::decode(r#"{"v":1,"kind":"fax"}"#).is_err());
    }

    #[test]
    fn what_admins_see_has_no_body() {
        let OutboxMessage::Mail(kept) = mail().without_secrets() else {
            panic!("a mail stays a mail");
        };
        assert_eq!(kept.body, "");
        assert_eq!(kept.attachments[0].filename, "reception-code.png");
        assert!(kept.attachments[0].bytes.is_empty());
        assert_eq!(mail().summary(), ("a@example.com".into(), "Hello".into()));
    }
}
