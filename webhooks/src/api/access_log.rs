//! The access log: listing with filters and paging, and CSV export.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use frontdesk_core::domain::access_log::Entry;
use frontdesk_core::store::access_log::Filter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv_download;
use crate::AppState;
use crate::extract::{AppQuery, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
}

/// Filters; all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// e.g. `login.failed`
    pub action: Option<String>,
    /// An account's email
    pub actor: Option<String>,
    /// From this instant (RFC 3339, inclusive)
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (RFC 3339, exclusive)
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this sequence number (the `next_before` of the previous page)
    pub before: Option<i64>,
    /// Page size, 1–500 (default 100)
    pub limit: Option<i64>,
}

impl LogQuery {
    fn filter(&self) -> Filter {
        Filter {
            action: self.action.clone(),
            actor: self.actor.as_deref().map(str::to_lowercase),
            from: self.from.map(|t| t.timestamp_millis()),
            until: self.to.map(|t| t.timestamp_millis()),
            before_seq: self.before,
        }
    }
}

/// One entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    /// This entry's link in the tenant's hash chain.
    pub hash: String,
}

impl From<Entry> for LogEntry {
    fn from(e: Entry) -> Self {
        LogEntry {
            seq: e.seq,
            at: DateTime::from_timestamp_millis(e.at).unwrap_or_default(),
            actor: e.actor,
            ip: e.ip,
            action: e.action,
            target: e.target,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::String(e.detail)),
            hash: e.hash,
        }
    }
}

/// A page of entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// Entries newest first (admins).
#[utoipa::path(get, path = "/access-log", tag = "access-log", params(LogQuery),
    responses((status = 200, body = LogPage), (status = 403)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(q): AppQuery<LogQuery>,
) -> ApiResult<Json<LogPage>> {
    let limit = q
        .limit
        .unwrap_or(100)
        .clamp(1, frontdesk_core::engine::MAX_PAGE);
    let entries = state.engine.access_log(&actor, &q.filter(), limit).await?;
    let next_before = if entries.len() as i64 == limit {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(LogPage {
        entries: entries.into_iter().map(LogEntry::from).collect(),
        next_before,
    }))
}

/// The matching entries as CSV (needs the export permission; the export is logged too).
#[utoipa::path(get, path = "/access-log/export", tag = "access-log", params(LogQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403)))]
async fn export(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(q): AppQuery<LogQuery>,
) -> ApiResult<Response> {
    Ok(csv_download(
        "access-log.csv",
        state.engine.export_access_log(&actor, &q.filter()).await?,
    ))
}
