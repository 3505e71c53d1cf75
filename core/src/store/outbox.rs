//! The outbox: messages written in the same transaction as the change that causes them,
//! sent later by the dispatcher.

use super::{StoreError, Tx, json_rows, on_tx};

/// A message leased for sending.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pending {
    pub id: i64,
    pub tenant_id: i64,
    pub channel: String,
    /// What to send; may carry a secret (a reset link), so `Debug` leaves it out.
    pub payload: String,
    pub attempts: i64,
    /// Proves this dispatcher holds the lease when it records the outcome.
    pub lease_token: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A message that will not be sent, and why (for admins).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub channel: String,
    pub payload: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const SET_WRITE_KEY: &str = "UPDATE outbox SET write_key = $2 WHERE id = $1";
// Only messages no dispatcher holds: one being sent finishes, and its result stands.
const RETIRE: &str = "UPDATE outbox SET state = 'sent', sent_at = $3, payload = '', \
    last_error = 'replaced by a newer write' \
    WHERE tenant_id = $1 AND write_key = $2 AND state = 'pending' \
    AND (lease_until IS NULL OR lease_until <= $3)";
const SEALED_PAYLOADS: &str =
    "SELECT id, tenant_id, payload FROM outbox WHERE payload <> '' ORDER BY id";
// Only if unchanged meanwhile: a message sent while it was re-sealed keeps its cleared payload.
const RESEAL_PAYLOAD: &str = "UPDATE outbox SET payload = $3 WHERE id = $1 AND payload = $2";
const DUE: &str = "SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $1 \
    AND (lease_until IS NULL OR lease_until < $1) ORDER BY due_at, id LIMIT $2";
// The lease is taken by a conditional update, so of several dispatchers (instances) only one
// gets each row, on SQLite and PostgreSQL alike; its token must match to record the outcome,
// so a dispatcher whose lease lapsed cannot overwrite what the next one did.
const LEASE: &str = "UPDATE outbox SET lease_until = $2, lease_token = $4, attempts = attempts + 1 \
    WHERE id = $1 AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
    RETURNING id, tenant_id, channel, payload, attempts, lease_token";
// A sent message's payload is cleared: it may hold a secret (a reset link) that must not
// outlive its delivery in the database or its backups.
const SENT: &str = "UPDATE outbox SET state = 'sent', sent_at = $3, payload = '', lease_until = NULL \
    WHERE id = $1 AND lease_token = $2";
const RETRY: &str = "UPDATE outbox SET due_at = $3, last_error = $4, lease_until = NULL \
    WHERE id = $1 AND lease_token = $2";
const DEAD: &str = "UPDATE outbox SET state = 'dead', last_error = $3, payload = $4, lease_until = NULL \
    WHERE id = $1 AND lease_token = $2";
const DEAD_LETTERS: &str = "SELECT id, channel, payload, attempts, last_error FROM outbox \
    WHERE tenant_id = $1 AND state = 'dead' ORDER BY id DESC LIMIT 100";
// A leased message is not due again before its lease lapses.
const NEXT_DUE: &str = "SELECT MIN(CASE WHEN lease_until > due_at THEN lease_until ELSE due_at END) \
    FROM outbox WHERE state = 'pending'";
const PURGE_SENT: &str = "DELETE FROM outbox WHERE state = 'sent' AND sent_at < $1";

// The next `$1` ids of the outbox, taken for rows about to be inserted (a row's payload is
// sealed for its id, so the id comes first). PostgreSQL takes them from the identity's
// sequence, as a plain insert would, so no other transaction gets them; SQLite's writer
// holds the database's write lock from `BEGIN IMMEDIATE` to commit, so nobody else inserts
// before its rows are in (and if one did, the primary key would refuse the second row).
// SQLite counts on from the highest id ever used (`sqlite_sequence`, which an insert with
// its own id advances too), as AUTOINCREMENT does: a purged row's id is not used again.
const RESERVE_IDS_POSTGRES: &str =
    "SELECT nextval(pg_get_serial_sequence('outbox', 'id')) FROM generate_series(1, $1)";
const RESERVE_IDS_SQLITE: &str = "WITH RECURSIVE ids(id, last) AS (\
    SELECT seq + 1, seq + $1 FROM (SELECT COALESCE(\
    (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0) AS seq) \
    UNION ALL SELECT id + 1, last FROM ids WHERE id < last) SELECT id FROM ids";
// Many at once: `$1` is a JSON array of `{"id", "channel", "payload"}`.
const INSERT_MANY_POSTGRES: &str = "INSERT INTO outbox \
    (id, tenant_id, channel, payload, state, due_at, attempts, created_at) OVERRIDING SYSTEM VALUE \
    SELECT j.id, $2, j.channel, j.payload, 'pending', $3, 0, $3 \
    FROM jsonb_to_recordset($1::jsonb) AS j(id BIGINT, channel TEXT, payload TEXT)";
const INSERT_MANY_SQLITE: &str = "INSERT INTO outbox \
    (id, tenant_id, channel, payload, state, due_at, attempts, created_at) \
    SELECT json_extract(value, '$.id'), $2, json_extract(value, '$.channel'), \
    json_extract(value, '$.payload'), 'pending', $3, 0, $3 FROM json_each($1)";

/// `count` outbox ids no other row has or will have, smallest first, for rows this
/// transaction inserts next ([`insert_many`]).
pub async fn reserve_ids(tx: &mut Tx, count: usize) -> Result<Vec<i64>, StoreError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let sql = tx.dialect(RESERVE_IDS_POSTGRES, RESERVE_IDS_SQLITE);
    let mut ids: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(sql)
        .bind(count)
        .fetch_all(&mut *c)
        .await?);
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts one message of tenant `tenant_id` for each `(id, channel, sealed payload)`, in
/// one statement; the ids come from [`reserve_ids`].
pub async fn insert_many(
    tx: &mut Tx,
    tenant_id: i64,
    rows: &[(i64, &str, String)],
    now: i64,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = json_rows(
        rows.iter()
            .map(|(id, channel, payload)| {
                serde_json::json!({"id": id, "channel": channel, "payload": payload})
            })
            .collect(),
    );
    let sql = tx.dialect(INSERT_MANY_POSTGRES, INSERT_MANY_SQLITE);
    on_tx!(tx, |c| sqlx::query(sql)
        .bind(&rows)
        .bind(tenant_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Marks queued message `id` as writing `key` (see [`retire_writes`]).
pub async fn set_write_key(tx: &mut Tx, id: i64, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_WRITE_KEY)
        .bind(id)
        .bind(key)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Retires the tenant's waiting messages that write `key` (a newer one replaces them);
/// how many.
pub async fn retire_writes(
    tx: &mut Tx,
    tenant_id: i64,
    key: &str,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(RETIRE)
        .bind(tenant_id)
        .bind(key)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// Every stored payload: `(id, tenant_id, sealed payload)`.
pub async fn sealed_payloads(tx: &mut Tx) -> Result<Vec<(i64, i64, String)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(SEALED_PAYLOADS)
        .fetch_all(&mut *c)
        .await?))
}

/// Replaces payload `old` of message `id` with `new`; `false` if it changed meanwhile.
pub async fn reseal_payload(
    tx: &mut Tx,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(RESEAL_PAYLOAD)
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Leases up to `limit` due messages until `lease_until`, oldest first; empty when nothing
/// is due (or another dispatcher took them all first).
pub async fn lease_due(
    tx: &mut Tx,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Pending>, StoreError> {
    // A lease only keeps other dispatchers off a message while this one sends it: other
    // sessions see it as soon as it commits, and one lost with the machine is harmless (the
    // message is leased again). So the send need not wait for PostgreSQL's disk flush; the
    // outcome, recorded afterwards, is flushed as usual (and the lease with it).
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut **tx)
            .await?;
    }
    let candidates: Vec<i64> = on_tx!(tx, |c| sqlx::query_scalar(DUE)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    let mut leased = Vec::with_capacity(candidates.len());
    for id in candidates {
        let row: Option<Pending> = on_tx!(tx, |c| sqlx::query_as(LEASE)
            .bind(id)
            .bind(lease_until)
            .bind(now)
            .bind(uuid::Uuid::new_v4().to_string())
            .fetch_optional(&mut *c)
            .await?);
        leased.extend(row);
    }
    Ok(leased)
}

/// Marks a leased message sent (and forgets its payload); `false` if the lease was lost.
pub async fn mark_sent(tx: &mut Tx, leased: &Pending, now: i64) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(SENT)
        .bind(leased.id)
        .bind(&leased.lease_token)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Puts a leased message back to be tried again at `due_at`; `false` if the lease was lost.
pub async fn retry_at(
    tx: &mut Tx,
    leased: &Pending,
    due_at: i64,
    error: &str,
) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(RETRY)
        .bind(leased.id)
        .bind(&leased.lease_token)
        .bind(due_at)
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Gives up on a leased message, keeping `kept_payload` (what admins may see of it);
/// `false` if the lease was lost.
pub async fn mark_dead(
    tx: &mut Tx,
    leased: &Pending,
    error: &str,
    kept_payload: &str,
) -> Result<bool, StoreError> {
    let updated = on_tx!(tx, |c| sqlx::query(DEAD)
        .bind(leased.id)
        .bind(&leased.lease_token)
        .bind(error)
        .bind(kept_payload)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

/// Forgets messages sent before `before` (epoch ms); returns how many.
pub async fn purge_sent(tx: &mut Tx, before: i64) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query(PURGE_SENT)
        .bind(before)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// A tenant's dead letters, newest first.
pub async fn dead_letters(tx: &mut Tx, tenant_id: i64) -> Result<Vec<DeadLetter>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(DEAD_LETTERS)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?))
}

/// When the earliest pending message is due.
pub async fn next_due(tx: &mut Tx) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(NEXT_DUE)
        .fetch_one(&mut *c)
        .await?))
}
