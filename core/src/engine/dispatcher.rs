//! The outbox dispatcher: sends queued messages, retries with jittered backoff, and
//! dead-letters what cannot be sent, where admins can see why.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::Duration;
use rand::Rng;

use serde_json::json;

use super::Engine;
use super::access_log::Event;
use super::outbox::{ChatNotice, ChatNoticeUpdate, ChatTarget, OutboxMessage, PayloadError};
use crate::Result;
use crate::domain::people::Platform;
use crate::port::{CalendarError, ChatBot, ChatError, MailError, Recipient, Sent, WebhookError};
use crate::store::chat::{self, Delivery};
use crate::store::outbox::{self, Pending};
use crate::store::{StoreError, Tx, employee};

/// Why a send failed, whatever it went through.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Worth retrying after the backoff.
    #[error("{0}")]
    Temporary(String),
    /// Worth retrying after the wait the platform asked for.
    #[error("rate limited; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Retrying will not help.
    #[error("{0}")]
    Permanent(String),
}

impl From<MailError> for Failure {
    fn from(err: MailError) -> Failure {
        match err {
            MailError::Temporary(reason) => Failure::Temporary(reason),
            MailError::Permanent(reason) => Failure::Permanent(reason),
        }
    }
}

impl From<ChatError> for Failure {
    fn from(err: ChatError) -> Failure {
        match err {
            ChatError::Temporary(reason) => Failure::Temporary(reason),
            ChatError::RateLimited { retry_after_secs } => {
                Failure::RateLimited { retry_after_secs }
            }
            ChatError::Permanent(reason) => Failure::Permanent(reason),
        }
    }
}

impl From<WebhookError> for Failure {
    fn from(err: WebhookError) -> Failure {
        match err {
            WebhookError::Temporary(reason) => Failure::Temporary(reason),
            WebhookError::RateLimited { retry_after_secs } => {
                Failure::RateLimited { retry_after_secs }
            }
            WebhookError::Permanent(reason) => Failure::Permanent(reason),
        }
    }
}

/// Storage failing mid-send is worth retrying (the message stays leased until then).
impl From<crate::Error> for Failure {
    fn from(err: crate::Error) -> Failure {
        Failure::Temporary(crate::error::with_causes(&err))
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        Failure::Temporary(err.to_string())
    }
}

/// A leased message and what its payload opened to.
type Decoded = std::result::Result<OutboxMessage, PayloadError>;

/// A message tried, and how it went.
struct Attempt {
    message: Pending,
    decoded: Decoded,
    outcome: std::result::Result<Delivered, Failure>,
}

/// What a send leaves to record with it.
enum Delivered {
    Done,
    /// The person is not on the platform: nothing was sent.
    NotThere,
    /// A chat message the platform accepted: where it is, to update it later.
    Chat {
        notice: String,
        platform: Platform,
        delivery: Delivery,
    },
    /// An event the calendar's provider created.
    /// An event the calendar's provider created, updated (`Some`) or cancelled (`None`).
    CalendarEvent {
        tenant_id: i64,
        write: super::outbox::CalendarEventWrite,
        event: Option<crate::port::ProviderEvent>,
    },
}

/// Attempts before a temporarily failing message is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// How long a dispatcher may hold a message before another may try it: well above a mail
/// server's timeout (20 s) times the commands of one send.
const LEASE: Duration = Duration::minutes(5);

/// The wait before attempt `attempts + 1`: exponential from 2 s, capped at 30 min, with
/// jitter so many failed messages do not retry in lockstep.
fn backoff(attempts: i64) -> Duration {
    let base = 2i64.saturating_pow(attempts.clamp(1, 20) as u32).min(1800);
    let jitter = rand::rng().random_range(0..=base * 250);
    Duration::milliseconds(base * 1000 + jitter)
}

/// How many messages a dispatcher leases and sends at once: enough to hide the platforms'
/// round trips, few enough to stay inside their burst limits.
const BATCH: i64 = 32;

impl Engine {
    /// Sends every message due now; returns how many were handled.
    pub async fn dispatch_due(&self) -> Result<usize> {
        let mut handled = 0;
        loop {
            let now = self.ports.clock.now();
            let leased = {
                let mut tx = self.db.write().await?;
                let leased = outbox::lease_due(
                    &mut tx,
                    now.timestamp_millis(),
                    (now + LEASE).timestamp_millis(),
                    BATCH,
                )
                .await?;
                tx.commit().await?;
                leased
            };
            if leased.is_empty() {
                return Ok(handled);
            }
            handled += leased.len();
            self.deliver_batch(leased).await?;
        }
    }

    /// Sends a batch at once, except that the updates of one notice go after every new
    /// message of the batch (the one they update may be among them) and one after another,
    /// in the order they were queued, so the last word stays last. The outcomes are recorded
    /// in one transaction per step: a database takes one commit for many sends.
    async fn deliver_batch(&self, leased: Vec<Pending>) -> Result<()> {
        let mut sends = Vec::new();
        let mut updates: BTreeMap<(i64, Platform, String), Vec<(Pending, Decoded)>> =
            BTreeMap::new();
        for message in leased {
            let decoded = self.open_payload(message.tenant_id, message.id, &message.payload);
            match &decoded {
                Ok(OutboxMessage::ChatUpdate(update)) => {
                    let key = (message.tenant_id, update.platform, update.notice.clone());
                    updates.entry(key).or_default().push((message, decoded));
                }
                _ => sends.push(vec![(message, decoded)]),
            }
        }
        let attempts = self.attempt_in_parallel(sends).await;
        self.record_attempts(attempts).await?;
        let attempts = self
            .attempt_in_parallel(updates.into_values().collect())
            .await;
        self.record_attempts(attempts).await
    }

    /// Tries each sequence on its own task, the messages of a sequence in order, and
    /// returns every attempt once all are done.
    async fn attempt_in_parallel(&self, sequences: Vec<Vec<(Pending, Decoded)>>) -> Vec<Attempt> {
        let mut tasks = tokio::task::JoinSet::new();
        for sequence in sequences {
            let engine = self.clone();
            tasks.spawn(async move {
                let mut attempts = Vec::with_capacity(sequence.len());
                for (message, decoded) in sequence {
                    let outcome = engine.attempt(&message, &decoded).await;
                    attempts.push(Attempt {
                        message,
                        decoded,
                        outcome,
                    });
                }
                attempts
            });
        }
        let mut attempts = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let done =
                joined.unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
            attempts.extend(done);
        }
        attempts
    }

    /// Sends one message through its channel.
    async fn attempt(&self, message: &Pending, decoded: &Decoded) -> Result<Delivered, Failure> {
        let tenant_id = message.tenant_id;
        match decoded {
            Ok(OutboxMessage::Mail(mail)) => self
                .ports
                .mailer
                .send(mail)
                .await
                .map(|()| Delivered::Done)
                .map_err(Failure::from),
            Ok(OutboxMessage::Chat(chat)) => self.send_chat(tenant_id, chat).await,
            Ok(OutboxMessage::ChatUpdate(update)) => self.update_chat(tenant_id, update).await,
            Ok(OutboxMessage::CalendarEvent(write)) => self
                .write_provider_event(tenant_id, write)
                .await
                .map(|event| Delivered::CalendarEvent {
                    tenant_id,
                    write: write.clone(),
                    event,
                })
                .map_err(calendar_failure),
            Ok(OutboxMessage::RoomEvent(change)) => self
                .write_room_event(tenant_id, change)
                .await
                .map(|()| Delivered::Done)
                .map_err(calendar_failure),
            Ok(OutboxMessage::Webhook(call)) => self
                .send_webhook(tenant_id, message.id, call)
                .await
                .map(|()| Delivered::Done)
                .map_err(Failure::from),
            Err(err) => Err(Failure::Permanent(err.to_string())),
        }
    }

    /// Records what became of each attempt, in one transaction.
    async fn record_attempts(&self, attempts: Vec<Attempt>) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let now = self.ports.clock.now();
        let mut tx = self.db.write().await?;
        for attempt in attempts {
            self.record_attempt(&mut tx, attempt, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_attempt(
        &self,
        tx: &mut Tx,
        attempt: Attempt,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let Attempt {
            message,
            decoded,
            outcome,
        } = attempt;
        let recorded = match outcome {
            Ok(delivered) => {
                if let Delivered::Chat {
                    notice,
                    platform,
                    delivery,
                } = &delivered
                {
                    let at = now.timestamp_millis();
                    chat::record(tx, message.tenant_id, notice, *platform, delivery, at).await?;
                }
                if let Delivered::CalendarEvent {
                    tenant_id,
                    write,
                    event,
                } = &delivered
                {
                    self.record_provider_event(tx, *tenant_id, write, event.as_ref())
                        .await?;
                }
                if let (Delivered::NotThere, Ok(OutboxMessage::Chat(chat))) = (&delivered, &decoded)
                {
                    self.queue_fallback(tx, message.tenant_id, chat).await?;
                }
                outbox::mark_sent(tx, &message, now.timestamp_millis()).await?
            }
            Err(Failure::Temporary(reason)) if message.attempts < MAX_ATTEMPTS => {
                tracing::warn!(id = message.id, attempts = message.attempts, %reason, "send failed; will retry");
                let due = (now + backoff(message.attempts)).timestamp_millis();
                outbox::retry_at(tx, &message, due, &reason).await?
            }
            Err(Failure::RateLimited { retry_after_secs }) if message.attempts < MAX_ATTEMPTS => {
                // The platform said when: no sooner, and no later than the backoff would.
                let wait = Duration::seconds(retry_after_secs.clamp(1, 3600) as i64);
                let due = (now + wait).timestamp_millis();
                let reason = format!("rate limited; retry after {retry_after_secs} s");
                outbox::retry_at(tx, &message, due, &reason).await?
            }
            Err(failure) => {
                let reason = failure.to_string();
                tracing::error!(id = message.id, %reason, "message dead-lettered");
                // What stays of a message given up: who it was for and what about, never a
                // secret.
                let kept = match &decoded {
                    Ok(decoded) => self.seal_payload(
                        message.tenant_id,
                        message.id,
                        &decoded.without_secrets(),
                    )?,
                    Err(_) => String::new(),
                };
                if let Ok(OutboxMessage::Chat(chat)) = &decoded {
                    self.queue_fallback(tx, message.tenant_id, chat).await?;
                }
                outbox::mark_dead(tx, &message, &reason, &kept).await?
            }
        };
        if !recorded {
            tracing::warn!(
                id = message.id,
                "the lease lapsed while sending; another dispatcher owns the message now"
            );
        }
        Ok(())
    }

    /// Queues the mail that replaces `chat`, given up, unless another platform has
    /// delivered the notice meanwhile.
    async fn queue_fallback(&self, tx: &mut Tx, tenant_id: i64, chat: &ChatNotice) -> Result<()> {
        let Some(mail) = &chat.fallback else {
            return Ok(());
        };
        if chat::delivered_anywhere(tx, tenant_id, &chat.notice).await? {
            return Ok(());
        }
        self.queue(tx, tenant_id, &OutboxMessage::Mail(mail.clone()))
            .await?;
        Ok(())
    }

    fn bot(&self, platform: Platform) -> Result<&std::sync::Arc<dyn ChatBot>, Failure> {
        self.ports
            .chat
            .get(platform)
            .ok_or_else(|| Failure::Permanent(format!("{platform} is not configured")))
    }

    async fn send_chat(&self, tenant_id: i64, chat: &ChatNotice) -> Result<Delivered, Failure> {
        let bot = self.bot(chat.platform)?;
        let recipient = match &chat.to {
            ChatTarget::User { id } => Recipient::User(id.clone()),
            ChatTarget::Channel { id } => Recipient::Channel(id.clone()),
            ChatTarget::Employee { employee_id, email } => {
                let Some(user) = bot.find_user_by_email(email).await? else {
                    // Not everyone is on every platform: they hear on the others, or by mail.
                    tracing::info!(platform = %chat.platform, employee_id, "no user with the employee's email; skipped");
                    return Ok(Delivered::NotThere);
                };
                self.link_found_user(tenant_id, *employee_id, chat.platform, &user)
                    .await?;
                Recipient::User(user)
            }
        };
        let sent = bot.send(&recipient, &chat.message).await?;
        Ok(Delivered::Chat {
            notice: chat.notice.clone(),
            platform: chat.platform,
            delivery: Delivery {
                conversation: sent.conversation,
                message_id: sent.message_id,
            },
        })
    }

    /// Links the platform user found by the employee's email, so later notices go straight
    /// to them (and they are known when they talk to the bot).
    async fn link_found_user(
        &self,
        tenant_id: i64,
        employee_id: i64,
        platform: Platform,
        user: &str,
    ) -> Result<(), Failure> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        match employee::link_identity(&mut tx, tenant_id, employee_id, platform, user).await {
            Err(StoreError::Duplicate) => {
                return Err(Failure::Permanent(format!(
                    "the {platform} user with this email is linked to another employee"
                )));
            }
            other => other?,
        }
        let event = Event {
            actor: "system",
            ip: "",
            action: "chat.link",
            target: format!("employee:{employee_id}"),
            detail: json!({ "platform": platform.as_str(), "user": user, "by": "email" }),
        };
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_chat(
        &self,
        tenant_id: i64,
        update: &ChatNoticeUpdate,
    ) -> Result<Delivered, Failure> {
        let bot = self.bot(update.platform)?;
        let deliveries = {
            let mut tx = self.db.read().await?;
            chat::deliveries(&mut tx, tenant_id, &update.notice, update.platform).await?
        };
        if deliveries.is_empty() {
            // The first message may still be on its way (retrying): wait for it.
            return Err(Failure::Temporary(
                "no message of this notice has been delivered yet".into(),
            ));
        }
        for delivery in deliveries {
            let sent = Sent {
                conversation: delivery.conversation,
                message_id: delivery.message_id,
            };
            bot.update(&sent, &update.message).await?;
        }
        Ok(Delivered::Done)
    }

    /// Dispatches until `shutdown`: when this instance queues a message, when one falls
    /// due, and at least every 10 s (messages queued by other instances).
    pub async fn run_dispatcher(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Woken after a commit that queued messages: notices written to the web chat in
            // that commit are there to see now.
            self.wake_web_chat();
            if let Err(err) = self.dispatch_due().await {
                tracing::error!(error = %crate::error::with_causes(&err), "outbox dispatch failed");
            }
            let wait =
                match self.next_due().await {
                    Ok(Some(due)) => std::time::Duration::from_millis(
                        (due - self.ports.clock.now_ms()).max(0) as u64,
                    ),
                    _ => std::time::Duration::from_secs(10),
                }
                .min(std::time::Duration::from_secs(10));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.outbox_queued.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn next_due(&self) -> Result<Option<i64>> {
        let mut tx = self.db.read().await?;
        Ok(outbox::next_due(&mut tx).await?)
    }
}

/// A message that will not be sent, as admins see it (the body stays private: a reset mail
/// carries a secret link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeliverable {
    pub id: i64,
    pub channel: String,
    /// The recipient.
    pub to: String,
    pub subject: String,
    pub attempts: i64,
    /// Why it was given up.
    pub reason: String,
}

/// How long sent messages are kept (their payload is already cleared when sent).
pub const SENT_RETENTION: Duration = Duration::days(30);

impl Engine {
    /// Hourly clean-up: expired sessions, stale sign-in failure counts, old sent messages,
    /// platform event ids past their retry window, meeting proposals a week after they
    /// expired.
    pub async fn housekeeping(&self) -> Result<()> {
        let now = self.ports.clock.now();
        let window_start = now - self.settings.throttle.window;
        let mut tx = self.db.write().await?;
        let sessions =
            crate::store::account::delete_expired_sessions(&mut tx, now.timestamp_millis()).await?;
        let throttles = crate::store::account::delete_stale_throttles(
            &mut tx,
            window_start.timestamp_millis(),
            now.timestamp_millis(),
        )
        .await?;
        let sent = outbox::purge_sent(&mut tx, (now - SENT_RETENTION).timestamp_millis()).await?;
        let events = crate::store::inbox::purge(
            &mut tx,
            (now - super::conversation::INBOX_RETENTION).timestamp_millis(),
        )
        .await?;
        let web_chat =
            crate::store::web_chat::delete_expired(&mut tx, now.timestamp_millis()).await?;
        let link_codes = crate::store::link_code::delete_old(
            &mut tx,
            now.timestamp_millis(),
            (now - chrono::Duration::days(1)).timestamp_millis(),
        )
        .await?;
        let proposals = crate::store::booking_proposal::delete_expired(
            &mut tx,
            (now - super::booking_chat::PROPOSAL_RETENTION).timestamp_millis(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            sessions,
            throttles,
            sent,
            events,
            web_chat,
            link_codes,
            proposals,
            "housekeeping"
        );
        Ok(())
    }

    /// The actor's tenant's messages that were given up, newest first (admins).
    pub async fn undeliverable(&self, actor: &super::Actor) -> Result<Vec<Undeliverable>> {
        actor.require(crate::domain::people::Permission::ViewUndeliverable)?;
        let mut tx = self.db.read().await?;
        let dead = outbox::dead_letters(&mut tx, actor.account.tenant_id).await?;
        Ok(dead
            .into_iter()
            .map(|letter| {
                let kept = self
                    .open_payload(actor.account.tenant_id, letter.id, &letter.payload)
                    .ok();
                let (to, subject) = kept.as_ref().map(|m| m.summary()).unwrap_or_default();
                Undeliverable {
                    id: letter.id,
                    to,
                    subject,
                    channel: letter.channel,
                    attempts: letter.attempts,
                    reason: letter.last_error.unwrap_or_default(),
                }
            })
            .collect())
    }
}

/// How a calendar provider's refusal is retried: a rate limit when it says, an outage with
/// backoff, anything else (gone, refused) not at all.
fn calendar_failure(err: CalendarError) -> Failure {
    match err {
        CalendarError::RateLimited { retry_after_secs } => {
            Failure::RateLimited { retry_after_secs }
        }
        CalendarError::Provider(reason) => Failure::Temporary(reason),
        other => Failure::Permanent(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= Duration::seconds(2) && backoff(1) <= Duration::milliseconds(2500));
        assert!(backoff(5) >= Duration::seconds(32));
        assert!(backoff(30) <= Duration::seconds(1800 + 450));
    }
}
