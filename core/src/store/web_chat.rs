//! The built-in web chat: employees' sign-in links and sessions, and each employee's
//! conversation, numbered by events so a live stream can resume where it stopped.

use super::{StoreError, Tx, on_tx};

/// Who wrote a web chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The signed-in employee (what they typed or pressed).
    Employee,
    /// Frontdesk (an answer or a notice).
    Frontdesk,
}

impl Author {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Employee => "employee",
            Author::Frontdesk => "frontdesk",
        }
    }

    fn parse(stored: &str) -> Result<Author, StoreError> {
        match stored {
            "employee" => Ok(Author::Employee),
            "frontdesk" => Ok(Author::Frontdesk),
            other => Err(StoreError::Corrupt(format!("web chat author {other:?}"))),
        }
    }
}

/// A stored web chat message; `body` is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub author: Author,
    pub body: String,
    /// The number of the message's latest event.
    pub seq: i64,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    author: String,
    body: String,
    seq: i64,
    created_at: i64,
}

impl TryFrom<MessageRow> for StoredMessage {
    type Error = StoreError;
    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        Ok(StoredMessage {
            id: row.id,
            author: Author::parse(&row.author)?,
            body: row.body,
            seq: row.seq,
            created_at: row.created_at,
        })
    }
}

const INSERT_LINK: &str = "INSERT INTO employee_sign_in_links \
    (token_hash, tenant_id, employee_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const LATEST_LINK_AT: &str = "SELECT MAX(created_at) FROM employee_sign_in_links \
    WHERE tenant_id = $1 AND employee_id = $2";
// Used up in the statement that checks it, so of two concurrent uses one wins.
const CONSUME_LINK: &str = "UPDATE employee_sign_in_links SET used_at = $2 \
    WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING tenant_id, employee_id";
const DELETE_OLD_LINKS: &str = "DELETE FROM employee_sign_in_links WHERE expires_at <= $1";
const INSERT_SESSION: &str = "INSERT INTO employee_sessions \
    (token_hash, tenant_id, employee_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const FIND_SESSION: &str = "SELECT tenant_id, employee_id FROM employee_sessions \
    WHERE token_hash = $1 AND expires_at > $2";
const DELETE_SESSION: &str = "DELETE FROM employee_sessions WHERE token_hash = $1";
const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM employee_sessions WHERE expires_at <= $1";
// Takes (and locks until commit) the employee's next event number.
const NEXT_SEQ: &str = "INSERT INTO web_chat_heads (employee_id, tenant_id, last_seq) \
    VALUES ($1, $2, 1) ON CONFLICT (employee_id) DO UPDATE SET last_seq = web_chat_heads.last_seq + 1 \
    RETURNING last_seq";
const INSERT_MESSAGE: &str = "INSERT INTO web_chat_messages \
    (tenant_id, employee_id, author, notice, body, seq, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, '', $5, $6, $6) RETURNING id";
const SET_BODY: &str = "UPDATE web_chat_messages SET body = $3 WHERE tenant_id = $1 AND id = $2";
// `$2` is a JSON array of notices.
const OF_NOTICES_POSTGRES: &str = "SELECT id, employee_id, notice FROM web_chat_messages \
    WHERE tenant_id = $1 AND notice IN (SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY id";
const OF_NOTICES_SQLITE: &str = "SELECT id, employee_id, notice FROM web_chat_messages \
    WHERE tenant_id = $1 AND notice IN (SELECT value FROM json_each($2)) ORDER BY id";
const RENUMBER: &str = "UPDATE web_chat_messages SET body = $3, seq = $4, updated_at = $5 \
    WHERE tenant_id = $1 AND id = $2";
const AFTER: &str = "SELECT id, author, body, seq, created_at FROM web_chat_messages \
    WHERE tenant_id = $1 AND employee_id = $2 AND seq > $3 ORDER BY seq LIMIT $4";
const LATEST: &str = "SELECT id, author, body, seq, created_at FROM ( \
    SELECT id, author, body, seq, created_at FROM web_chat_messages \
    WHERE tenant_id = $1 AND employee_id = $2 ORDER BY seq DESC LIMIT $3) latest ORDER BY seq";

// Everything of a tenant, for its export: whose conversation, oldest first.
const OF_TENANT: &str = "SELECT e.email, m.id, m.author, m.body, m.seq, m.created_at \
    FROM web_chat_messages m JOIN employees e ON e.id = m.employee_id \
    WHERE m.tenant_id = $1 ORDER BY e.email, m.id";

/// Records a sign-in link for the employee (by the hash of its token).
pub async fn insert_link(
    tx: &mut Tx,
    token_hash: &str,
    tenant_id: i64,
    employee_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_LINK)
        .bind(token_hash)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// When the employee's latest sign-in link was made, if any.
pub async fn latest_link_at(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(LATEST_LINK_AT)
        .bind(tenant_id)
        .bind(employee_id)
        .fetch_one(&mut *c)
        .await?))
}

/// Uses up a live link: its tenant and employee, or `None` when unknown, used or expired.
pub async fn consume_link(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(CONSUME_LINK)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records an employee session (by the hash of its token).
pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    tenant_id: i64,
    employee_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(INSERT_SESSION)
        .bind(token_hash)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The tenant and employee of a live session.
pub async fn find_session(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_as(FIND_SESSION)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?))
}

/// Ends a session.
pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(DELETE_SESSION)
        .bind(token_hash)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Deletes expired sessions and links; returns how many rows went.
pub async fn delete_expired(tx: &mut Tx, now: i64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for sql in [DELETE_EXPIRED_SESSIONS, DELETE_OLD_LINKS] {
        deleted += on_tx!(tx, |c| sqlx::query(sql)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(deleted)
}

/// Takes the employee's next event number (the head row stays locked until commit).
pub async fn next_seq(tx: &mut Tx, tenant_id: i64, employee_id: i64) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(NEXT_SEQ)
        .bind(employee_id)
        .bind(tenant_id)
        .fetch_one(&mut *c)
        .await?))
}

/// Adds a message with an empty body (sealed for its id with [`set_body`]); returns its id.
pub async fn insert_message(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    author: Author,
    notice: Option<&str>,
    seq: i64,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(INSERT_MESSAGE)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(author.as_str())
        .bind(notice)
        .bind(seq)
        .bind(now)
        .fetch_one(&mut *c)
        .await?))
}

/// Sets a message's (sealed) body.
pub async fn set_body(tx: &mut Tx, tenant_id: i64, id: i64, body: &str) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(SET_BODY)
        .bind(tenant_id)
        .bind(id)
        .bind(body)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The messages of the `notices`: each one's id, employee and notice, in one statement.
pub async fn of_notices(
    tx: &mut Tx,
    tenant_id: i64,
    notices: &[&str],
) -> Result<Vec<(i64, i64, String)>, StoreError> {
    if notices.is_empty() {
        return Ok(Vec::new());
    }
    let notices = serde_json::json!(notices).to_string();
    let sql = tx.dialect(OF_NOTICES_POSTGRES, OF_NOTICES_SQLITE);
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(tenant_id)
        .bind(&notices)
        .fetch_all(&mut *c)
        .await?))
}

/// Replaces a message's body and gives it the event number `seq`.
pub async fn replace(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    body: &str,
    seq: i64,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(RENUMBER)
        .bind(tenant_id)
        .bind(id)
        .bind(body)
        .bind(seq)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The employee's messages whose latest event comes after `after`, in event order, at most
/// `limit`.
pub async fn after(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredMessage>, StoreError> {
    let rows: Vec<MessageRow> = on_tx!(tx, |c| sqlx::query_as(AFTER)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter().map(StoredMessage::try_from).collect()
}

/// The employee's `limit` most recently written messages, in event order.
pub async fn latest(
    tx: &mut Tx,
    tenant_id: i64,
    employee_id: i64,
    limit: i64,
) -> Result<Vec<StoredMessage>, StoreError> {
    let rows: Vec<MessageRow> = on_tx!(tx, |c| sqlx::query_as(LATEST)
        .bind(tenant_id)
        .bind(employee_id)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter().map(StoredMessage::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    email: String,
    #[sqlx(flatten)]
    message: MessageRow,
}

/// Every web chat message of the tenant with its employee's email, by employee and then
/// oldest first.
pub async fn of_tenant(
    tx: &mut Tx,
    tenant_id: i64,
) -> Result<Vec<(String, StoredMessage)>, StoreError> {
    let rows: Vec<ExportRow> = on_tx!(tx, |c| sqlx::query_as(OF_TENANT)
        .bind(tenant_id)
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter()
        .map(|row| Ok((row.email, StoredMessage::try_from(row.message)?)))
        .collect()
}
