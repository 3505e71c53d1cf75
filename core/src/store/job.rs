//! Scheduled job runs: one row per (job, fire) decides which instance runs it.

use super::{StoreError, Tx, on_tx};

/// A run whose lease has lapsed: its instance died mid-way.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AbandonedRun {
    pub job: String,
    pub fire_at: i64,
    pub attempts: i64,
}

// The primary key (job, fire_at) lets exactly one instance insert a given fire.
const CLAIM_FIRE: &str = "INSERT INTO job_runs (job, fire_at, owner, state, lease_until, attempts) \
    VALUES ($1, $2, $3, 'running', $4, 1) ON CONFLICT (job, fire_at) DO NOTHING";
const ABANDONED: &str = "SELECT job, fire_at, attempts FROM job_runs \
    WHERE state = 'running' AND lease_until < $1 ORDER BY fire_at LIMIT 10";
// Taking over re-checks the lapsed lease in the same statement, so two instances cannot both.
const TAKE_OVER: &str = "UPDATE job_runs SET owner = $3, lease_until = $4, attempts = attempts + 1 \
    WHERE job = $1 AND fire_at = $2 AND state = 'running' AND lease_until < $5";
const RENEW: &str = "UPDATE job_runs SET lease_until = $4 \
    WHERE job = $1 AND fire_at = $2 AND owner = $3 AND state = 'running'";
const FINISH: &str = "UPDATE job_runs SET state = $4, finished_at = $5, error = $6 \
    WHERE job = $1 AND fire_at = $2 AND owner = $3";
const LAST_FIRE: &str = "SELECT MAX(fire_at) FROM job_runs WHERE job = $1";

/// Claims a fire for `owner`; `false` when another instance already has.
pub async fn claim_fire(
    tx: &mut Tx,
    job: &str,
    fire_at: i64,
    owner: &str,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let inserted = on_tx!(tx, |c| sqlx::query(CLAIM_FIRE)
        .bind(job)
        .bind(fire_at)
        .bind(owner)
        .bind(lease_until)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(inserted == 1)
}

/// Runs left `running` by an instance whose lease lapsed before `now`.
pub async fn abandoned(tx: &mut Tx, now: i64) -> Result<Vec<AbandonedRun>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(ABANDONED)
        .bind(now)
        .fetch_all(&mut *c)
        .await?))
}

/// Takes over an abandoned run; `false` when another instance was first.
pub async fn take_over(
    tx: &mut Tx,
    job: &str,
    fire_at: i64,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(TAKE_OVER)
        .bind(job)
        .bind(fire_at)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Extends the lease of a run this owner is working on; `false` if another took it over.
pub async fn renew(
    tx: &mut Tx,
    job: &str,
    fire_at: i64,
    owner: &str,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let renewed = on_tx!(tx, |c| sqlx::query(RENEW)
        .bind(job)
        .bind(fire_at)
        .bind(owner)
        .bind(lease_until)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(renewed == 1)
}

/// Records the end of a run: `done`, or `failed` with the error; `false` if this owner no
/// longer holds it.
pub async fn finish(
    tx: &mut Tx,
    job: &str,
    fire_at: i64,
    owner: &str,
    now: i64,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let state = if error.is_some() { "failed" } else { "done" };
    let finished = on_tx!(tx, |c| sqlx::query(FINISH)
        .bind(job)
        .bind(fire_at)
        .bind(owner)
        .bind(state)
        .bind(now)
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(finished == 1)
}

/// The latest fire of `job` any instance claimed.
pub async fn last_fire(tx: &mut Tx, job: &str) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(LAST_FIRE)
        .bind(job)
        .fetch_one(&mut *c)
        .await?))
}
