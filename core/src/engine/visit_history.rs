//! The visit history for receptionists and admins: visits newest first, filtered by time,
//! location, host, status and label, and searched by visitor name or company; and the CSV
//! downloads of visits and of expected visits (appointments) for those with the download
//! permission.
//!
//! Names and companies are sealed, so no index can search them: a search opens the visits
//! that match the other filters, newest first, and stops after [`SEARCH_BOUND`] of them. A
//! page that stopped there says so (`truncated`), and its `next_before` goes on with older
//! visits; narrowing the time range is the other way to search further back.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::json;

use super::access_log::{Event, finish_csv, write_row};
use super::reception::{VisitView, visit_at};
use super::{Actor, Engine, MAX_PAGE};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::{Permission, fold_for_search};
use crate::domain::visit::VisitStatus;
use crate::store::reception::{self as store, HistoryFilter, VisitRow};
use crate::store::{Tx, employee, tenant};
use crate::{Error, Result};

/// How many visits one search opens at most (see the module documentation).
pub const SEARCH_BOUND: i64 = 5_000;
/// The longest range of days one download of expected visits covers.
pub const MAX_EXPORT_DAYS: i64 = 366;

/// What the history is filtered by; every part optional.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Checked in at or after this instant (epoch ms).
    pub from: Option<i64>,
    /// Checked in before this instant (epoch ms).
    pub to: Option<i64>,
    /// A location's slug.
    pub location: Option<String>,
    /// The host: an employee id, or their email.
    pub host: Option<String>,
    pub status: Option<VisitStatus>,
    /// A visitor label's id.
    pub label: Option<i64>,
    /// Part of the visitor's name or company (case, width and kana folded).
    pub q: Option<String>,
    /// Only visits older than this cursor (the `next_before` of the previous page).
    pub before: Option<i64>,
}

/// One page of the history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub visits: Vec<VisitView>,
    /// The cursor of the next (older) page; `None` when nothing older matches.
    pub next_before: Option<i64>,
    /// The search opened [`SEARCH_BOUND`] visits without filling the page: older visits
    /// were not searched yet (follow `next_before`, or narrow the range).
    pub truncated: bool,
}

/// A search term, folded as names are for matching.
struct Search(String);

impl Search {
    fn new(q: Option<&str>) -> Result<Option<Search>> {
        let Some(q) = q else { return Ok(None) };
        let q = checked_text(q, TextLimit::optional(200))
            .map_err(|reason| Error::invalid("q", reason))?;
        Ok((!q.is_empty()).then(|| Search(fold_for_search(&q))))
    }

    fn matches(&self, name: &str, company: &str) -> bool {
        fold_for_search(name).contains(&self.0) || fold_for_search(company).contains(&self.0)
    }
}

impl Engine {
    /// One page of the visit history (receptionists and admins): at most `limit` visits.
    pub async fn visit_history(
        &self,
        actor: &Actor,
        query: &HistoryQuery,
        limit: i64,
    ) -> Result<HistoryPage> {
        actor.require(Permission::ViewVisits)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let search = Search::new(query.q.as_deref())?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let filter = self.history_filter(&mut tx, tenant_id, query).await?;
        let Some(search) = search else {
            let mut rows = store::history(&mut tx, tenant_id, &filter, limit + 1).await?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let next_before = more.then(|| rows.last().map(|r| r.id)).flatten();
            let visits = self.views(&mut tx, &rows).await?;
            return Ok(HistoryPage {
                visits,
                next_before,
                truncated: false,
            });
        };
        let scanned = store::history(&mut tx, tenant_id, &filter, SEARCH_BOUND).await?;
        let mut found = Vec::new();
        for row in &scanned {
            let (name, company) = self.visitor_of(row)?;
            if search.matches(&name, &company) {
                found.push(row.clone());
                if found.len() as i64 > limit {
                    break;
                }
            }
        }
        let (next_before, truncated) = if found.len() as i64 > limit {
            found.truncate(limit as usize);
            (found.last().map(|r| r.id), false)
        } else if scanned.len() as i64 == SEARCH_BOUND {
            (scanned.last().map(|r| r.id), true)
        } else {
            (None, false)
        };
        let visits = self.views(&mut tx, &found).await?;
        Ok(HistoryPage {
            visits,
            next_before,
            truncated,
        })
    }

    /// Every visit `query` selects as CSV (needs the download permission), newest first,
    /// cells neutralised against spreadsheet formulas; the download is logged.
    pub async fn export_visits(&self, actor: &Actor, query: &HistoryQuery) -> Result<String> {
        actor.require(Permission::ExportPersonalData)?;
        let search = Search::new(query.q.as_deref())?;
        let tenant_id = actor.account.tenant_id;
        let (text, rows) = {
            let mut tx = self.db.read().await?;
            let mut filter = self.history_filter(&mut tx, tenant_id, query).await?;
            let locations = location_slugs(&mut tx, tenant_id).await?;
            let mut hosts = Hosts::default();
            let mut out = csv::Writer::from_writer(Vec::new());
            write_row(&mut out, VISITS_CSV_HEADER)?;
            let mut rows = 0usize;
            loop {
                let page = store::history(&mut tx, tenant_id, &filter, MAX_PAGE).await?;
                let Some(last) = page.last() else { break };
                filter.before_id = Some(last.id);
                for row in &page {
                    let (name, company) = self.visitor_of(row)?;
                    if search.as_ref().is_some_and(|s| !s.matches(&name, &company)) {
                        continue;
                    }
                    let at = |column| visit_at(row.tenant_id, column, &row.public_id);
                    let email = self
                        .open_optional(row.visitor_email_sealed.as_deref(), at("visitor_email"))?;
                    let answers = self.open_optional(row.fields_sealed.as_deref(), at("fields"))?;
                    let purpose =
                        self.open_optional(row.purpose_sealed.as_deref(), at("purpose"))?;
                    let (host, host_email) =
                        hosts.of(&mut tx, tenant_id, row.host_employee_id).await?;
                    let labels = store::labels_of_visit(&mut tx, tenant_id, row.id)
                        .await?
                        .into_iter()
                        .map(|l| l.name)
                        .collect::<Vec<_>>()
                        .join("; ");
                    let location = locations.get(&row.location_id).cloned().unwrap_or_default();
                    write_row(
                        &mut out,
                        [
                            row.public_id.as_str(),
                            &location,
                            &utc(Some(row.checked_in_at)),
                            &utc(row.checked_out_at),
                            row.checked_out_by.as_deref().unwrap_or(""),
                            &row.status,
                            &host,
                            &host_email,
                            row.category.as_deref().unwrap_or(""),
                            &name,
                            &company,
                            email.as_deref().unwrap_or(""),
                            answers.as_deref().unwrap_or(""),
                            purpose.as_deref().unwrap_or(""),
                            &labels,
                            &utc(row.purged_at),
                        ],
                    )?;
                    rows += 1;
                }
            }
            (finish_csv(out)?, rows)
        };
        let event = Event::by(actor, "visits.export", "visits", json!({ "rows": rows }));
        self.log(tenant_id, event).await?;
        Ok(text)
    }

    /// The expected visits (appointments) on days `from..=to` at their locations as CSV
    /// (needs the download permission), cells neutralised; the download is logged.
    pub async fn export_expected_visits(
        &self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<String> {
        actor.require(Permission::ExportPersonalData)?;
        if to < from || (to - from).num_days() > MAX_EXPORT_DAYS {
            return Err(Error::invalid(
                "to",
                Invalid::OutOfRange {
                    min: 0,
                    max: MAX_EXPORT_DAYS,
                },
            ));
        }
        let tenant_id = actor.account.tenant_id;
        let (from_day, to_day) = (from.to_string(), to.to_string());
        let (text, rows) = {
            let mut tx = self.db.read().await?;
            let locations = location_slugs(&mut tx, tenant_id).await?;
            let mut hosts = Hosts::default();
            let mut out = csv::Writer::from_writer(Vec::new());
            write_row(&mut out, EXPECTED_CSV_HEADER)?;
            let mut rows = 0usize;
            let mut after = 0;
            loop {
                let page =
                    store::expected_page(&mut tx, tenant_id, &from_day, &to_day, after, MAX_PAGE)
                        .await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for row in &page {
                    let visit = self.open_expected(row)?;
                    let (host, host_email) = hosts
                        .of(&mut tx, tenant_id, Some(row.host_employee_id))
                        .await?;
                    let location = locations.get(&row.location_id).cloned().unwrap_or_default();
                    write_row(
                        &mut out,
                        [
                            visit.public_id.as_str(),
                            &location,
                            &visit.day,
                            &utc(visit.starts_at),
                            &host,
                            &host_email,
                            &visit.visitor_name,
                            &visit.visitor_company,
                            visit.visitor_email.as_deref().unwrap_or(""),
                            visit.purpose.as_deref().unwrap_or(""),
                            &visit.code,
                            &visit.source,
                            &visit.status,
                        ],
                    )?;
                    rows += 1;
                }
            }
            (finish_csv(out)?, rows)
        };
        let event = Event::by(
            actor,
            "expected_visits.export",
            "expected_visits",
            json!({ "rows": rows, "from": from_day, "to": to_day }),
        );
        self.log(tenant_id, event).await?;
        Ok(text)
    }

    /// The store's filter for `query`: slugs, hosts and labels that name nothing are 404.
    async fn history_filter(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        query: &HistoryQuery,
    ) -> Result<HistoryFilter> {
        let location_id = match &query.location {
            Some(slug) => Some(
                tenant::find_location_by_slug(tx, tenant_id, slug)
                    .await?
                    .ok_or(Error::NotFound("location"))?
                    .id,
            ),
            None => None,
        };
        let host_employee_id = match &query.host {
            Some(host) => Some(
                self.find_host(tx, tenant_id, &serde_json::Value::String(host.clone()))
                    .await?
                    .id,
            ),
            None => None,
        };
        if let Some(label) = query.label
            && !store::labels(tx, tenant_id)
                .await?
                .iter()
                .any(|l| l.id == label)
        {
            return Err(Error::NotFound("label"));
        }
        Ok(HistoryFilter {
            from: query.from,
            to: query.to,
            location_id,
            host_employee_id,
            status: query.status.map(|s| s.as_str().to_owned()),
            label_id: query.label,
            before_id: query.before,
        })
    }

    /// The visitor's name and company (empty once the retention job deleted them).
    fn visitor_of(&self, row: &VisitRow) -> Result<(String, String)> {
        let at = |column| visit_at(row.tenant_id, column, &row.public_id);
        let name = self.open_optional(row.visitor_name_sealed.as_deref(), at("visitor_name"))?;
        let company =
            self.open_optional(row.visitor_company_sealed.as_deref(), at("visitor_company"))?;
        Ok((name.unwrap_or_default(), company.unwrap_or_default()))
    }

    async fn views(&self, tx: &mut Tx, rows: &[VisitRow]) -> Result<Vec<VisitView>> {
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            views.push(self.visit_view(tx, row).await?);
        }
        Ok(views)
    }
}

const VISITS_CSV_HEADER: [&str; 16] = [
    "visit_id",
    "location",
    "checked_in_at_utc",
    "checked_out_at_utc",
    "checked_out_by",
    "status",
    "host",
    "host_email",
    "category",
    "visitor_name",
    "visitor_company",
    "visitor_email",
    "answers",
    "appointment",
    "labels",
    "personal_data_deleted_at_utc",
];

const EXPECTED_CSV_HEADER: [&str; 13] = [
    "expected_visit_id",
    "location",
    "day",
    "starts_at_utc",
    "host",
    "host_email",
    "visitor_name",
    "visitor_company",
    "visitor_email",
    "appointment",
    "reception_code",
    "source",
    "status",
];

/// An instant as RFC 3339 UTC, or empty.
fn utc(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

async fn location_slugs(tx: &mut Tx, tenant_id: i64) -> Result<HashMap<i64, String>> {
    Ok(tenant::list_locations(tx, tenant_id)
        .await?
        .into_iter()
        .map(|l| (l.id, l.slug))
        .collect())
}

/// Hosts' names and emails, each looked up once per download.
#[derive(Default)]
struct Hosts(HashMap<i64, (String, String)>);

impl Hosts {
    async fn of(
        &mut self,
        tx: &mut Tx,
        tenant_id: i64,
        id: Option<i64>,
    ) -> Result<(String, String)> {
        let Some(id) = id else {
            return Ok(Default::default());
        };
        if let Some(known) = self.0.get(&id) {
            return Ok(known.clone());
        }
        let found = employee::find(tx, tenant_id, id)
            .await?
            .map(|e| (e.profile.name, e.profile.email))
            .unwrap_or_default();
        self.0.insert(id, found.clone());
        Ok(found)
    }
}
