//! Jobs on a schedule, run by the server itself (no outside cron to forget).
//!
//! Each job has a `cron` schedule. Every instance ticks; for each fire that is due, the
//! instance that inserts the `(job, fire_at)` row runs it, so with several instances on one
//! database each fire runs once. A running fire holds a lease that its instance renews; when
//! an instance dies mid-run the lease lapses and another instance takes the run over.
//! Fires missed while every instance was down are caught up once (the latest), not replayed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Mutex;

use super::Engine;
use crate::store::job;
use crate::{Error, Result};

/// What a job does when it fires.
pub type JobFn =
    Arc<dyn Fn(Engine) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// A job and its schedule.
#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub schedule: cron::Schedule,
    pub run: JobFn,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("schedule", &self.schedule.to_string())
            .finish()
    }
}

impl Job {
    /// A job named `name` firing on `cron` (seconds first: `"0 15 3 * * *"`).
    pub fn new<F, Fut>(name: &'static str, cron: &str, run: F) -> Result<Job>
    where
        F: Fn(Engine) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let schedule = cron::Schedule::from_str(cron)
            // The schedules are constants of this build, so a bad one is a defect.
            .map_err(|err| Error::internal("parsing a job's schedule", err))?;
        Ok(Job {
            name,
            schedule,
            run: Arc::new(move |engine| Box::pin(run(engine))),
        })
    }
}

/// The jobs every server runs.
pub fn standard_jobs() -> Vec<Job> {
    let jobs = [
        // Daily, at a quiet hour: access-log entries past their retention period.
        Job::new(
            "access_log_retention",
            "0 15 3 * * *",
            |engine: Engine| async move {
                let removed = engine.purge_access_log().await?;
                tracing::info!(removed, "access log retention");
                Ok(())
            },
        ),
        // Daily: each tenant's chain head to the server log, so a copy kept outside the
        // database (a log collector) can witness that the chain was not rebuilt later.
        Job::new(
            "access_log_witness",
            "0 45 3 * * *",
            |engine: Engine| async move { engine.witness_access_log().await },
        ),
        // Every minute: connected calendars due for reconciliation or retrying after a
        // failure (each is synced every 15 minutes even when push works).
        Job::new(
            "calendar_sync",
            "0 * * * * *",
            |engine: Engine| async move {
                let synced = engine.sync_due_calendars().await?;
                if synced > 0 {
                    tracing::info!(synced, "calendars synced");
                }
                Ok(())
            },
        ),
        // Every ten minutes: push channels opened where missing, renewed before they end.
        Job::new(
            "calendar_watch_renewal",
            "0 */10 * * * *",
            |engine: Engine| async move {
                let renewed = engine.renew_calendar_watches().await?;
                if renewed > 0 {
                    tracing::info!(renewed, "calendar push channels opened or renewed");
                }
                Ok(())
            },
        ),
        // Every ten seconds: a host who has not answered a visitor in time; the location's
        // fallback contact is told (each visit once, whichever instance takes it).
        Job::new(
            "reception_fallback",
            "*/10 * * * * *",
            |engine: Engine| async move {
                let sent = engine.send_due_fallbacks().await?;
                if sent > 0 {
                    tracing::info!(sent, "unanswered visits escalated");
                }
                Ok(())
            },
        ),
        // Every five minutes: hosts reminded of visitors still on site after the
        // location's reminder time; visitors checked out after its check-out time.
        Job::new(
            "reception_day",
            "0 */5 * * * *",
            |engine: Engine| async move {
                let pass = engine.run_reception_day().await?;
                if pass.reminded + pass.checked_out > 0 {
                    tracing::info!(pass.reminded, pass.checked_out, "reception day pass");
                }
                Ok(())
            },
        ),
        // Every fifteen seconds: meetings that began are recorded and their organizers
        // reminded; no-shows released at the end of their grace period (their events end
        // then, whenever the sweep runs); occupants nudged before the end.
        Job::new(
            "room_sweep",
            "*/15 * * * * *",
            |engine: Engine| async move {
                let sweep = engine.sweep_rooms().await?;
                if sweep.released + sweep.reminded + sweep.nudged > 0 {
                    tracing::info!(
                        sweep.reminded,
                        sweep.released,
                        sweep.series_left,
                        sweep.nudged,
                        "room sweep"
                    );
                }
                Ok(())
            },
        ),
        // Daily: visitors' personal data past each location's retention period.
        Job::new(
            "visitor_data_retention",
            "0 35 3 * * *",
            |engine: Engine| async move {
                let purged = engine.purge_visitor_data().await?;
                tracing::info!(purged, "visitor data retention");
                Ok(())
            },
        ),
        // Hourly: expired sessions, stale sign-in failure counts, old sent messages.
        Job::new("housekeeping", "0 7 * * * *", |engine: Engine| async move {
            engine.housekeeping().await
        }),
    ];
    jobs.into_iter()
        .map(|job| job.expect("standard job schedules are valid"))
        .collect()
}

/// Runs due jobs; one per server instance.
#[derive(Debug)]
pub struct Scheduler {
    engine: Engine,
    jobs: Vec<Job>,
    /// This instance's name in `job_runs.owner`.
    owner: String,
    /// How long a claimed run may go without renewal before others take it over.
    lease: Duration,
    /// The last instant each job's fires were considered up to.
    checked_until: Mutex<HashMap<&'static str, DateTime<Utc>>>,
}

impl Scheduler {
    /// A scheduler for `jobs` on `engine`.
    pub fn new(engine: Engine, jobs: Vec<Job>) -> Scheduler {
        Scheduler {
            engine,
            jobs,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            lease: Duration::seconds(60),
            checked_until: Mutex::default(),
        }
    }

    /// This instance's owner name.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claims and runs every fire due at `now`, and takes over abandoned runs.
    /// Returns how many runs this instance performed.
    pub async fn tick(&self) -> Result<usize> {
        let now = self.engine.ports.clock.now();
        let mut ran = 0;
        for job in &self.jobs {
            let fire = self.due_fire(job, now).await?;
            if let Some(fire) = fire {
                let lease_until = (now + self.lease).timestamp_millis();
                let claimed = {
                    let mut tx = self.engine.db.write().await?;
                    let claimed = job::claim_fire(
                        &mut tx,
                        job.name,
                        fire.timestamp_millis(),
                        &self.owner,
                        lease_until,
                    )
                    .await?;
                    tx.commit().await?;
                    claimed
                };
                // Only now is the fire settled (claimed here or by another instance): a
                // database error above leaves it due, to be claimed at the next tick.
                self.checked_until.lock().await.insert(job.name, now);
                if claimed {
                    self.run(job, fire.timestamp_millis()).await?;
                    ran += 1;
                }
            } else {
                self.checked_until.lock().await.insert(job.name, now);
            }
        }
        ran += self.take_over_abandoned(now).await?;
        Ok(ran)
    }

    /// The latest fire of `job` in (last checked, now], if any.
    async fn due_fire(&self, job: &Job, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let known = self.checked_until.lock().await.get(job.name).copied();
        let since = match known {
            Some(since) => since,
            None => {
                // First tick: continue after the last fire any instance claimed, else from now.
                let mut tx = self.engine.db.read().await?;
                let last = job::last_fire(&mut tx, job.name).await?;
                let since = last
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(now);
                self.checked_until.lock().await.insert(job.name, since);
                since
            }
        };
        Ok(job
            .schedule
            .after(&since)
            .take_while(|fire| *fire <= now)
            .last())
    }

    async fn take_over_abandoned(&self, now: DateTime<Utc>) -> Result<usize> {
        let abandoned = {
            let mut tx = self.engine.db.read().await?;
            job::abandoned(&mut tx, now.timestamp_millis()).await?
        };
        let mut ran = 0;
        for run in abandoned {
            let Some(job) = self.jobs.iter().find(|j| j.name == run.job) else {
                continue;
            };
            let lease_until = (now + self.lease).timestamp_millis();
            let taken = {
                let mut tx = self.engine.db.write().await?;
                let taken = job::take_over(
                    &mut tx,
                    job.name,
                    run.fire_at,
                    &self.owner,
                    lease_until,
                    now.timestamp_millis(),
                )
                .await?;
                tx.commit().await?;
                taken
            };
            if taken {
                tracing::warn!(
                    job = job.name,
                    fire_at = run.fire_at,
                    attempts = run.attempts + 1,
                    "taking over an abandoned run"
                );
                self.run(job, run.fire_at).await?;
                ran += 1;
            }
        }
        Ok(ran)
    }

    /// Runs one claimed fire, renewing its lease while it works, and records the outcome.
    /// If a renewal finds the run taken over (this instance stalled past its lease), the
    /// work stops: the run belongs to the other instance now.
    async fn run(&self, job: &Job, fire_at: i64) -> Result<()> {
        let work = (job.run)(self.engine.clone());
        tokio::pin!(work);
        let renew_every = (self.lease / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(20));
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = tokio::time::sleep(renew_every) => {
                    let lease_until = (self.engine.ports.clock.now() + self.lease).timestamp_millis();
                    let mut tx = self.engine.db.write().await?;
                    let still_ours = job::renew(&mut tx, job.name, fire_at, &self.owner, lease_until).await?;
                    tx.commit().await?;
                    if !still_ours {
                        tracing::warn!(job = job.name, fire_at, "lost the run to another instance; stopping");
                        return Ok(());
                    }
                }
            }
        };
        let error = outcome
            .as_ref()
            .err()
            .map(|err| crate::error::with_causes(err));
        if let Some(error) = &error {
            tracing::error!(job = job.name, fire_at, %error, "job failed");
        }
        let mut tx = self.engine.db.write().await?;
        let recorded = job::finish(
            &mut tx,
            job.name,
            fire_at,
            &self.owner,
            self.engine.ports.clock.now_ms(),
            error.as_deref(),
        )
        .await?;
        tx.commit().await?;
        if !recorded {
            tracing::warn!(
                job = job.name,
                fire_at,
                "finished a run another instance had taken over"
            );
        }
        Ok(())
    }

    /// The earliest upcoming fire of any job after `now`.
    pub fn next_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.jobs
            .iter()
            .filter_map(|job| job.schedule.after(&now).next())
            .min()
    }

    /// Ticks until `shutdown` resolves: at each fire, and at least every 30 s to notice
    /// abandoned runs.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(err) = self.tick().await {
                tracing::error!(error = %crate::error::with_causes(&err), "scheduler tick failed");
            }
            let now = self.engine.ports.clock.now();
            let wait = self
                .next_fire(now)
                .map(|next| (next - now).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(30))
                .min(std::time::Duration::from_secs(30));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
