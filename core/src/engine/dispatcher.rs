//! The outbox dispatcher: sends queued messages, retries with jittered backoff, and
//! dead-letters what cannot be sent, where admins can see why.

use std::future::Future;

use chrono::Duration;
use rand::Rng;

use super::Engine;
use super::outbox::OutboxMessage;
use crate::Result;
use crate::port::MailError;
use crate::store::outbox::{self, Pending};

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

impl Engine {
    /// Sends every message due now; returns how many were handled.
    pub async fn dispatch_due(&self) -> Result<usize> {
        let mut handled = 0;
        loop {
            let now = self.ports.clock.now();
            let leased = {
                let mut tx = self.db.write().await?;
                let leased = outbox::lease_next(
                    &mut tx,
                    now.timestamp_millis(),
                    (now + LEASE).timestamp_millis(),
                )
                .await?;
                tx.commit().await?;
                leased
            };
            let Some(message) = leased else {
                return Ok(handled);
            };
            self.deliver(message).await?;
            handled += 1;
        }
    }

    async fn deliver(&self, message: Pending) -> Result<()> {
        let decoded = self.open_payload(message.tenant_id, message.id, &message.payload);
        let outcome = match &decoded {
            Ok(OutboxMessage::Mail(mail)) => self.ports.mailer.send(mail).await,
            Err(err) => Err(MailError::Permanent(err.to_string())),
        };
        // What stays of a message given up: who it was for and what about, never a secret.
        let kept = match &decoded {
            Ok(decoded) => {
                self.seal_payload(message.tenant_id, message.id, &decoded.without_secrets())?
            }
            Err(_) => String::new(),
        };
        let now = self.ports.clock.now();
        let mut tx = self.db.write().await?;
        let recorded = match outcome {
            Ok(()) => outbox::mark_sent(&mut tx, &message, now.timestamp_millis()).await?,
            Err(MailError::Temporary(reason)) if message.attempts < MAX_ATTEMPTS => {
                tracing::warn!(id = message.id, attempts = message.attempts, %reason, "send failed; will retry");
                let due = (now + backoff(message.attempts)).timestamp_millis();
                outbox::retry_at(&mut tx, &message, due, &reason).await?
            }
            Err(err) => {
                tracing::error!(id = message.id, error = %err, "message dead-lettered");
                outbox::mark_dead(&mut tx, &message, &err.to_string(), &kept).await?
            }
        };
        if !recorded {
            tracing::warn!(
                id = message.id,
                "the lease lapsed while sending; another dispatcher owns the message now"
            );
        }
        tx.commit().await?;
        Ok(())
    }

    /// Dispatches until `shutdown`: when this instance queues a message, when one falls
    /// due, and at least every 10 s (messages queued by other instances).
    pub async fn run_dispatcher(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
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
    /// Hourly clean-up: expired sessions, stale sign-in failure counts, old sent messages.
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
        tx.commit().await?;
        tracing::info!(sessions, throttles, sent, "housekeeping");
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
                    to: to.to_owned(),
                    subject: subject.to_owned(),
                    channel: letter.channel,
                    attempts: letter.attempts,
                    reason: letter.last_error.unwrap_or_default(),
                }
            })
            .collect())
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
