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
    /// when no chat platform reaches them. Returns how many messages were queued.
    pub async fn notify_employee(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        employee: &Employee,
        notice: &str,
        message: &Message,
    ) -> Result<usize> {
        let mut queued = 0;
        for platform in Platform::ALL {
            if self.ports.chat.get(platform).is_none() {
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
            let chat = ChatNotice {
                platform,
                to,
                notice: notice.to_owned(),
                message: message.clone(),
            };
            self.queue(tx, tenant_id, &OutboxMessage::Chat(chat))
                .await?;
            queued += 1;
        }
        let by_mail = match employee.profile.notification {
            NotificationPreference::Email | NotificationPreference::ChatAndEmail => true,
            NotificationPreference::Chat => queued == 0,
        };
        if by_mail {
            let mail = Mail {
                to: employee.profile.email.clone(),
                subject: message.summary.clone(),
                body: message.plain_text(),
            };
            self.queue(tx, tenant_id, &OutboxMessage::Mail(mail))
                .await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Queues `message` as the new version of `notice`'s chat messages (a visit answered)
    /// on every configured platform; each is updated in place once it has been delivered.
    pub async fn update_notice(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        notice: &str,
        message: &Message,
    ) -> Result<usize> {
        let mut queued = 0;
        for platform in Platform::ALL {
            if self.ports.chat.get(platform).is_none() {
                continue;
            }
            let update = ChatNoticeUpdate {
                platform,
                notice: notice.to_owned(),
                message: message.clone(),
            };
            self.queue(tx, tenant_id, &OutboxMessage::ChatUpdate(update))
                .await?;
            queued += 1;
        }
        Ok(queued)
    }
}
