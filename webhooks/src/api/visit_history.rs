//! The visit history (receptionists and admins) and the CSV downloads of visits and
//! expected visits (with the download permission).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use frontdesk_core::Error;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::domain::visit::VisitStatus;
use frontdesk_core::engine::visit_history::HistoryQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv_download;
use super::reception::{VisitSummary, day};
use crate::AppState;
use crate::extract::{AppQuery, SignedIn};
use crate::problem::ApiResult;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
        .routes(routes!(export_expected))
}

/// Filters; all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// Checked in from this instant (RFC 3339, inclusive)
    pub from: Option<DateTime<Utc>>,
    /// Checked in before this instant (RFC 3339, exclusive)
    pub to: Option<DateTime<Utc>>,
    /// A location's slug
    pub location: Option<String>,
    /// The host: an employee id or email
    pub host: Option<String>,
    /// `waiting`, `host_coming`, `host_delayed`, `host_unavailable` or `checked_out`
    pub status: Option<String>,
    /// A visitor label's id
    pub label: Option<i64>,
    /// Part of the visitor's name or company (each page searches at most the 5,000 newest
    /// visits the other filters select; see `truncated`)
    pub q: Option<String>,
    /// Visits older than this (the `next_before` of the previous page)
    pub before: Option<i64>,
    /// Page size, 1–500 (default 50; not for the download)
    pub limit: Option<i64>,
}

impl VisitQuery {
    fn history(&self) -> ApiResult<HistoryQuery> {
        let status = match self.status.as_deref() {
            Some(text) => Some(VisitStatus::parse(text.trim()).ok_or_else(|| {
                Error::invalid(
                    "status",
                    Invalid::NotOneOf {
                        allowed: &[
                            "waiting",
                            "host_coming",
                            "host_delayed",
                            "host_unavailable",
                            "checked_out",
                        ],
                    },
                )
            })?),
            None => None,
        };
        Ok(HistoryQuery {
            from: self.from.map(|t| t.timestamp_millis()),
            to: self.to.map(|t| t.timestamp_millis()),
            location: self.location.clone(),
            host: self.host.clone(),
            status,
            label: self.label,
            q: self.q.clone(),
            before: self.before,
        })
    }
}

/// The days of a download of expected visits.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportDays {
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD (at most 366 days after `from`).
    pub to: String,
}

/// A page of the history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitPage {
    pub visits: Vec<VisitSummary>,
    /// Pass as `before` for the next (older) page; absent when nothing older matches.
    pub next_before: Option<i64>,
    /// The search (`q`) stopped after the 5,000 newest visits the other filters select
    /// without filling the page: older ones were not searched. `next_before` goes on from
    /// there; a narrower `from`/`to` range searches further back in one page.
    pub truncated: bool,
}

/// Visits newest first, filtered and searched (receptionists and admins).
#[utoipa::path(get, path = "/visits", tag = "reception", params(VisitQuery),
    responses((status = 200, body = VisitPage), (status = 404, description = "no such location, host or label"),
        (status = 422)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<VisitQuery>,
) -> ApiResult<Json<VisitPage>> {
    let limit = query.limit.unwrap_or(50);
    let page = state
        .engine
        .visit_history(&actor, &query.history()?, limit)
        .await?;
    Ok(Json(VisitPage {
        visits: page.visits.into_iter().map(Into::into).collect(),
        next_before: page.next_before,
        truncated: page.truncated,
    }))
}

/// Download the visits the filters select as CSV, newest first (needs the download
/// permission; logged). `limit` and `before` page nothing here: every match is in the file.
#[utoipa::path(get, path = "/visits/export", tag = "reception", params(VisitQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403)))]
async fn export(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<VisitQuery>,
) -> ApiResult<Response> {
    let mut history = query.history()?;
    history.before = None;
    Ok(csv_download(
        "visits.csv",
        state.engine.export_visits(&actor, &history).await?,
    ))
}

/// Download the expected visits (appointments) on days `from..=to` (at most 366 days) as
/// CSV (needs the download permission; logged).
#[utoipa::path(get, path = "/expected-visits/export", tag = "reception", params(ExportDays),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403), (status = 422)))]
async fn export_expected(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(range): AppQuery<ExportDays>,
) -> ApiResult<Response> {
    let (from, to) = (day("from", &range.from)?, day("to", &range.to)?);
    Ok(csv_download(
        "expected-visits.csv",
        state
            .engine
            .export_expected_visits(&actor, from, to)
            .await?,
    ))
}
