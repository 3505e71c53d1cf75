//! Notices to employees (a visitor is here, a room is released): one chat message on each
//! platform that reaches them, and mail when they asked for it or no chat reaches them. All
//! of it is queued in the caller's transaction, so a notice is never lost or sent for a
//! change that did not happen.

use super::Engine;
use super::outbox::{ChatNotice, ChatNoticeUpdate, ChatTarget, OutboxMessage};
use crate::Result;
use crate::domain::chat::Message;
use crate::domain::people::{NotificationPreference, Platform};
use crate::port::Mail;
use crate::store::Tx;
use crate::store::employee::Employee;

impl Engine {
    /// Queues `message` about `notice` (e.g. `visit:42`) to `employee`: on every configured
    /// chat platform they are linked on — on Slack and Teams also when not linked yet (they
    /// are found by email when it is sent) — and by mail when their preference says so, or
    /// when no chat platform reaches them (none configured, not on the one there is, or its
    /// delivery given up). Returns how many messages were queued.
    pub async fn notify_employee(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        employee: &Employee,
        notice: &str,
        message: &Message,
    ) -> Result<usize> {
        let mut queued = Vec::new();
        self.notify_employee_into(tx, tenant_id, employee, notice, message, &mut queued)
            .await?;
        self.queue_all(tx, tenant_id, &queued).await?;
        Ok(queued.len())
    }

    /// [`Engine::notify_employee`], with the outbox messages added to `queued` for the
    /// caller to queue: a sweep queues all its notices in one go.
    pub(crate) async fn notify_employee_into(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        employee: &Employee,
        notice: &str,
        message: &Message,
        queued: &mut Vec<OutboxMessage>,
    ) -> Result<()> {
        // The web chat is always there: an employee who has signed in to it gets the notice
        // in its history, written now (see `web_chat`). It does not count as a chat that
        // reaches them for the mail fallback below: nothing pushes it to them.
        if employee
            .profile
            .chat_identities
            .contains_key(&Platform::Web)
        {
            self.notify_web_chat(tx, tenant_id, employee, notice, message)
                .await?;
        }
        queued.extend(self.notice_messages(employee, notice, message));
        Ok(())
    }

    /// The outbox messages that carry `message` about `notice` to `employee`.
    fn notice_messages(
        &self,
        employee: &Employee,
        notice: &str,
        message: &Message,
    ) -> Vec<OutboxMessage> {
        let mut chats = Vec::new();
        for platform in Platform::ALL {
            if platform == Platform::Web || self.ports.chat.get(platform).is_none() {
                continue;
            }
            let to = match employee.profile.chat_identities.get(&platform) {
                Some(id) => ChatTarget::User { id: id.clone() },
                // Slack and Teams find people by email; Discord shares no emails.
                None if matches!(platform, Platform::Slack | Platform::Teams) => {
                    ChatTarget::Employee {
                        employee_id: employee.id,
                        email: employee.profile.email.clone(),
                    }
                }
                None => continue,
            };
            chats.push((platform, to));
        }
        let mail = Mail {
            to: employee.profile.email.clone(),
            subject: message.summary.clone(),
            body: message.plain_text(),
            attachments: Vec::new(),
        };
        let by_mail = match employee.profile.notification {
            NotificationPreference::Email | NotificationPreference::ChatAndEmail => true,
            NotificationPreference::Chat => chats.is_empty(),
        };
        let mut messages: Vec<OutboxMessage> = chats
            .into_iter()
            .map(|(platform, to)| {
                OutboxMessage::Chat(ChatNotice {
                    platform,
                    to,
                    notice: notice.to_owned(),
                    message: message.clone(),
                    fallback: (!by_mail).then(|| mail.clone()),
                })
            })
            .collect();
        if by_mail {
            messages.push(OutboxMessage::Mail(mail));
        }
        messages
    }

    /// Queues `message` as the answer to platform user `user_id` (a reply in the
    /// conversation), sent by the dispatcher with its retries; wakes the dispatcher.
    pub async fn queue_chat_reply(
        &self,
        tenant_id: i64,
        platform: Platform,
        user_id: &str,
        message: &Message,
    ) -> Result<()> {
        let chat = ChatNotice {
            platform,
            to: ChatTarget::User {
                id: user_id.to_owned(),
            },
            notice: "reply".into(),
            message: message.clone(),
            // They are there, writing to us: no mail in their inbox for a chat answer.
            fallback: None,
        };
        let mut tx = self.db.write().await?;
        self.queue(&mut tx, tenant_id, &OutboxMessage::Chat(chat))
            .await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(())
    }

    /// Queues `message` as the new version of `notice`'s chat messages (a visit answered)
    /// on every configured platform; each is updated in place once it has been delivered
    /// (the web chat's at once). Returns how many messages were queued or updated.
    pub async fn update_notice(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        notice: &str,
        message: &Message,
    ) -> Result<usize> {
        let mut queued = Vec::new();
        let updated = self
            .update_notices_into(tx, tenant_id, &[(notice, message)], &mut queued)
            .await?;
        self.queue_all(tx, tenant_id, &queued).await?;
        Ok(updated + queued.len())
    }

    /// [`Engine::update_notice`] for each `(notice, message)`, with the outbox messages added
    /// to `queued` for the caller to queue; returns how many web chat messages it updated.
    pub(crate) async fn update_notices_into(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        updates: &[(&str, &Message)],
        queued: &mut Vec<OutboxMessage>,
    ) -> Result<usize> {
        // The web chat's copies are updated now, in place (see `web_chat`).
        let updated = self.update_web_chat_notices(tx, tenant_id, updates).await?;
        for (notice, message) in updates {
            for platform in Platform::ALL {
                if platform == Platform::Web || self.ports.chat.get(platform).is_none() {
                    continue;
                }
                queued.push(OutboxMessage::ChatUpdate(ChatNoticeUpdate {
                    platform,
                    notice: (*notice).to_owned(),
                    message: (*message).clone(),
                }));
            }
        }
        Ok(updated)
    }
}
