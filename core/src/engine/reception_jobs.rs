//! Reception's jobs, run inside the server: the fallback contact told when a host does not
//! answer in time; hosts reminded of visitors still on site; visitors checked out at the end
//! of the day; visitors' personal data deleted after the location's retention period. Each
//! step takes its row with a conditional update, so with several instances on one database
//! every notice goes out once.

use chrono::Duration;

use super::Engine;
use super::reception::{NoticeState, local_day, local_time, notice_key, zone_of};
use crate::Result;
use crate::domain::visit::{CheckOutBy, ReceptionSettings, parse_local_time};
use crate::store::employee;
use crate::store::reception as store;

/// How many visits one fallback pass handles (the rest wait for the next pass).
const FALLBACK_BATCH: i64 = 200;

/// What one pass of the day's jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayPass {
    pub reminded: usize,
    pub checked_out: usize,
}

impl Engine {
    /// Tells each unanswered visit's fallback contact (the location's) that the host has not
    /// answered; returns how many visits were escalated.
    pub async fn send_due_fallbacks(&self) -> Result<usize> {
        let now = self.ports.clock.now_ms();
        let due = {
            let mut tx = self.db.read().await?;
            store::due_fallbacks(&mut tx, now, FALLBACK_BATCH).await?
        };
        let mut sent = 0;
        for row in due {
            let mut tx = self.db.write().await?;
            if !store::take_fallback(&mut tx, row.id, now).await? {
                // Answered meanwhile, or another instance took it.
                continue;
            }
            let settings = self
                .load_settings(&mut tx, row.tenant_id, row.location_id)
                .await?;
            if let Some(contact) = &settings.fallback {
                let details = self.notice_details(&mut tx, &row).await?;
                let state = NoticeState::NoAnswer;
                self.notify_contact(&mut tx, row.tenant_id, contact, &details, &state)
                    .await?;
                sent += 1;
            }
            tx.commit().await?;
        }
        if sent > 0 {
            self.outbox_queued.notify_one();
            self.wake_web_chat();
        }
        Ok(sent)
    }

    /// Reminds hosts of visitors still on site after the location's reminder time, and
    /// checks out visitors still on site after its check-out time (and any left from an
    /// earlier day).
    pub async fn run_reception_day(&self) -> Result<DayPass> {
        let now = self.ports.clock.now_ms();
        let locations = {
            let mut tx = self.db.read().await?;
            store::all_locations(&mut tx).await?
        };
        let mut pass = DayPass::default();
        for location in locations {
            let Ok(settings) = serde_json::from_str::<ReceptionSettings>(&location.reception)
            else {
                tracing::warn!(location = location.id, "unreadable reception settings");
                continue;
            };
            let zone = zone_of(&location.time_zone);
            let today = local_day(zone, now);
            let local = local_time(zone, now);
            let minute = local.format("%H:%M").to_string();
            let minute = parse_local_time(&minute).unwrap_or(0);
            let remind_at = parse_local_time(&settings.checkout_reminder_at).unwrap_or(u32::MAX);
            let leave_at = parse_local_time(&settings.auto_checkout_at).unwrap_or(u32::MAX);
            let on_site = {
                let mut tx = self.db.read().await?;
                store::on_site(&mut tx, location.tenant_id, Some(location.id)).await?
            };
            for row in on_site {
                let past_day = row.day < today;
                if past_day || minute >= leave_at {
                    let mut tx = self.db.write().await?;
                    if self
                        .check_out_in(&mut tx, &row, CheckOutBy::Auto)
                        .await?
                        .is_some()
                    {
                        pass.checked_out += 1;
                    }
                    tx.commit().await?;
                } else if minute >= remind_at && row.reminder_sent_at.is_none() {
                    let mut tx = self.db.write().await?;
                    if store::take_reminder(&mut tx, row.id, now).await?
                        && let Some(host_id) = row.host_employee_id
                        && let Some(host) = employee::find(&mut tx, row.tenant_id, host_id).await?
                    {
                        let details = self.notice_details(&mut tx, &row).await?;
                        let message =
                            details.message(host.profile.language, &NoticeState::StillOnSite);
                        self.notify_employee(
                            &mut tx,
                            row.tenant_id,
                            &host,
                            &format!("{}:reminder", notice_key(row.id)),
                            &message,
                        )
                        .await?;
                        pass.reminded += 1;
                    }
                    tx.commit().await?;
                }
            }
        }
        if pass != DayPass::default() {
            self.outbox_queued.notify_one();
            self.wake_web_chat();
            self.wake_visits();
        }
        Ok(pass)
    }

    /// Deletes visitors' personal data (names, companies, emails, answers, appointment
    /// titles) older than each location's retention period; the visit itself stays as
    /// anonymous history. Returns how many visits were purged.
    pub async fn purge_visitor_data(&self) -> Result<u64> {
        let now = self.ports.clock.now_ms();
        let locations = {
            let mut tx = self.db.read().await?;
            store::all_locations(&mut tx).await?
        };
        let mut purged = 0;
        for location in locations {
            let retention_days = serde_json::from_str::<ReceptionSettings>(&location.reception)
                .map(|s| s.retention_days)
                .unwrap_or(ReceptionSettings::default().retention_days);
            let cutoff = now - Duration::days(retention_days).num_milliseconds();
            let mut tx = self.db.write().await?;
            purged +=
                store::purge_personal_data(&mut tx, location.tenant_id, location.id, cutoff, now)
                    .await?;
            tx.commit().await?;
        }
        let mut tx = self.db.write().await?;
        let window = super::reception::CODE_ATTEMPT_WINDOW.num_milliseconds();
        store::delete_code_attempts_before(&mut tx, now - window).await?;
        tx.commit().await?;
        Ok(purged)
    }
}
