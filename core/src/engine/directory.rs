//! The employee directory: adding, changing, removing, listing, CSV import and export.

use std::collections::BTreeMap;

use serde_json::json;

use super::access_log::{Event, finish_csv, write_row};
use super::{Actor, Engine, MAX_PAGE};
use crate::domain::csv_cell::restore;
use crate::domain::field::{FileProblem, Invalid, LineProblem, TextLimit, checked_text};
use crate::domain::people::Permission;
use crate::domain::people::{
    Lang, NotificationPreference, Platform, normalize_email, validate_kana, validate_time_zone,
};
use crate::store::employee::{self, Employee, EmployeeProfile};
use crate::store::{StoreError, Tx};
use crate::{Error, Result};

/// The columns of the employee CSV, in order.
pub const CSV_HEADER: [&str; 11] = [
    "email",
    "name",
    "name_kana",
    "department",
    "time_zone",
    "language",
    "notification",
    "slack",
    "teams",
    "discord",
    "web",
];

/// What an import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
}

/// One page of the directory.
#[derive(Debug, Clone)]
pub struct EmployeePage {
    pub employees: Vec<Employee>,
    /// How many employees match in all.
    pub total: i64,
}

/// An employee profile as submitted, before it is checked.
#[derive(Debug, Clone)]
pub struct EmployeeInput {
    pub email: String,
    pub name: String,
    pub name_kana: String,
    pub department: String,
    pub time_zone: String,
    pub language: Lang,
    pub notification: NotificationPreference,
    pub chat_identities: BTreeMap<Platform, String>,
}

/// A partial change of an employee: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct EmployeePatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub department: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<Lang>,
    pub notification: Option<NotificationPreference>,
    pub chat_identities: Option<BTreeMap<Platform, String>>,
}

impl EmployeePatch {
    /// The whole profile this patch makes of `base`, still to be checked.
    fn over(self, base: &EmployeeProfile) -> EmployeeInput {
        let base = base.clone();
        EmployeeInput {
            email: self.email.unwrap_or(base.email),
            name: self.name.unwrap_or(base.name),
            name_kana: self.name_kana.unwrap_or(base.name_kana),
            department: self.department.unwrap_or(base.department),
            time_zone: self.time_zone.unwrap_or(base.time_zone),
            language: self.language.unwrap_or(base.language),
            notification: self.notification.unwrap_or(base.notification),
            chat_identities: self.chat_identities.unwrap_or(base.chat_identities),
        }
    }
}

/// The time zone of an employee when none is given.
pub fn default_time_zone() -> String {
    "Asia/Tokyo".into()
}

/// How an employee hears about visitors when nothing is said.
pub fn default_notification() -> NotificationPreference {
    NotificationPreference::Chat
}

/// An employee's name as written: one line, at most 200 characters.
pub const EMPLOYEE_NAME: TextLimit = TextLimit::name(200);
/// A kana reading or a department: one line, at most 200 characters, may be empty.
pub const EMPLOYEE_DETAIL: TextLimit = TextLimit::optional(200);
/// A chat platform's user id: one line, at most 200 characters.
pub const CHAT_ID: TextLimit = TextLimit::name(200);

impl EmployeeInput {
    /// The checked, normalised profile, or the first field that is wrong.
    pub fn validate(self) -> Result<EmployeeProfile> {
        let field = |name: &'static str| move |reason| Error::invalid(name, reason);
        let email = normalize_email(&self.email).map_err(field("email"))?;
        let name = checked_text(&self.name, EMPLOYEE_NAME).map_err(field("name"))?;
        let name_kana =
            checked_text(&self.name_kana, EMPLOYEE_DETAIL).map_err(field("name_kana"))?;
        validate_kana(&name_kana).map_err(field("name_kana"))?;
        validate_time_zone(&self.time_zone).map_err(field("time_zone"))?;
        let department =
            checked_text(&self.department, EMPLOYEE_DETAIL).map_err(field("department"))?;
        let mut chat_identities = BTreeMap::new();
        for (platform, id) in self.chat_identities {
            let id = checked_text(&id, CHAT_ID)
                .map_err(|reason| Error::invalid(format!("chat_identities.{platform}"), reason))?;
            chat_identities.insert(platform, id);
        }
        Ok(EmployeeProfile {
            email,
            name,
            name_kana,
            department,
            time_zone: self.time_zone,
            language: self.language,
            notification: self.notification,
            chat_identities,
        })
    }
}

fn email_taken(err: StoreError, email: &str) -> Error {
    match err {
        StoreError::Duplicate => Error::Conflict(format!(
            "an employee with {email} (or one of these chat ids) already exists"
        )),
        other => other.into(),
    }
}

impl Engine {
    /// Adds an employee (admins).
    pub async fn create_employee(&self, actor: &Actor, input: EmployeeInput) -> Result<Employee> {
        actor.require(Permission::EditDirectory)?;
        let profile = input.validate()?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let id = employee::insert(&mut tx, tenant_id, &profile, now)
            .await
            .map_err(|err| email_taken(err, &profile.email))?;
        let event = Event::by(
            actor,
            "employee.create",
            format!("employee:{id}"),
            json!({ "email": profile.email }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(Employee { id, profile })
    }

    /// Replaces an employee's profile (admins); not found for another tenant's employee.
    pub async fn update_employee(
        &self,
        actor: &Actor,
        id: i64,
        input: EmployeeInput,
    ) -> Result<Employee> {
        let profile = input.validate()?;
        self.change_employee(actor, id, |_| Ok(profile)).await
    }

    /// Changes only the fields `patch` names; the rest stay as stored (admins). The stored
    /// profile is read and written in one transaction, so a concurrent change is not undone.
    pub async fn patch_employee(
        &self,
        actor: &Actor,
        id: i64,
        patch: EmployeePatch,
    ) -> Result<Employee> {
        self.change_employee(actor, id, |before| patch.over(before).validate())
            .await
    }

    /// Writes the profile `change` makes of the stored one, with its access-log entry.
    async fn change_employee(
        &self,
        actor: &Actor,
        id: i64,
        change: impl FnOnce(&EmployeeProfile) -> Result<EmployeeProfile>,
    ) -> Result<Employee> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let before = employee::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("employee"))?;
        let profile = change(&before.profile)?;
        employee::update(&mut tx, tenant_id, id, &profile, now)
            .await
            .map_err(|err| email_taken(err, &profile.email))?;
        let changed = changed_fields(&before.profile, &profile);
        let event = Event::by(
            actor,
            "employee.update",
            format!("employee:{id}"),
            json!({ "changed": changed }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(Employee { id, profile })
    }

    /// Removes an employee (admins); not found for another tenant's employee.
    pub async fn delete_employee(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::EditDirectory)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let before = employee::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("employee"))?;
        employee::delete(&mut tx, tenant_id, id).await?;
        let event = Event::by(
            actor,
            "employee.delete",
            format!("employee:{id}"),
            json!({ "email": before.profile.email }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One employee of the actor's tenant.
    pub async fn employee(&self, actor: &Actor, id: i64) -> Result<Employee> {
        actor.require(Permission::ViewDirectory)?;
        let mut tx = self.db.read().await?;
        employee::find(&mut tx, actor.account.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("employee"))
    }

    /// A page of the actor's tenant's employees, optionally matching `search`
    /// (name, kana reading or email).
    pub async fn employees(
        &self,
        actor: &Actor,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<EmployeePage> {
        actor.require(Permission::ViewDirectory)?;
        let mut tx = self.db.read().await?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let (employees, total) = employee::list(
            &mut tx,
            actor.account.tenant_id,
            search,
            limit.clamp(1, MAX_PAGE),
            offset.max(0),
        )
        .await?;
        Ok(EmployeePage { employees, total })
    }

    /// Every employee as CSV (needs the export permission); the export is logged.
    pub async fn export_employees(&self, actor: &Actor) -> Result<String> {
        actor.require(Permission::ExportPersonalData)?;
        let tenant_id = actor.account.tenant_id;
        let (text, employees) = {
            let mut tx = self.db.read().await?;
            employees_csv(&mut tx, tenant_id).await?
        };
        let event = Event::by(
            actor,
            "employees.export",
            "employees",
            json!({ "rows": employees }),
        );
        self.log(tenant_id, event).await?;
        Ok(text)
    }

    /// Creates or updates (by email) the employees of a CSV in the export's format (admins).
    /// Every row is checked first; one bad row rejects the whole file, naming each problem.
    pub async fn import_employees(&self, actor: &Actor, csv_text: &str) -> Result<ImportSummary> {
        actor.require(Permission::EditDirectory)?;
        let rows = parse_csv(csv_text)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        // Rows that are only valid over the stored employee (a file without some columns)
        // are checked here; every such problem is named, and nothing is committed.
        let mut problems = Vec::new();
        for row in &rows {
            let (line, email) = (row.line, row.email.clone());
            let existing = employee::find_by_email(&mut tx, tenant_id, &email).await?;
            let profile = match row.over(existing.as_ref().map(|e| &e.profile)) {
                Ok(profile) => profile,
                Err(err) => {
                    match at_line(line, err) {
                        Error::InvalidFile(mut found) => problems.append(&mut found),
                        other => return Err(other),
                    }
                    continue;
                }
            };
            let written = match &existing {
                Some(e) => employee::update(&mut tx, tenant_id, e.id, &profile, now)
                    .await
                    .map(|_| updated.push(email)),
                None => employee::insert(&mut tx, tenant_id, &profile, now)
                    .await
                    .map(|_| created.push(email)),
            };
            written.map_err(|err| match err {
                StoreError::Duplicate => Error::InvalidFile(vec![LineProblem {
                    line,
                    problem: FileProblem::Field {
                        field: "chat id".into(),
                        reason: Invalid::Taken,
                    },
                }]),
                other => other.into(),
            })?;
        }
        if !problems.is_empty() {
            return Err(Error::InvalidFile(problems));
        }
        let summary = ImportSummary {
            created: created.len(),
            updated: updated.len(),
        };
        let event = Event::by(
            actor,
            "employees.import",
            "employees",
            // Who changed, not just how many (the first 200 of each, to bound the entry).
            json!({
                "created": summary.created,
                "updated": summary.updated,
                "created_emails": created.iter().take(200).collect::<Vec<_>>(),
                "updated_emails": updated.iter().take(200).collect::<Vec<_>>(),
            }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(summary)
    }
}

fn changed_fields(before: &EmployeeProfile, after: &EmployeeProfile) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |name, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("email", before.email != after.email);
    check("name", before.name != after.name);
    check("name_kana", before.name_kana != after.name_kana);
    check("department", before.department != after.department);
    check("time_zone", before.time_zone != after.time_zone);
    check("language", before.language != after.language);
    check("notification", before.notification != after.notification);
    check(
        "chat_identities",
        before.chat_identities != after.chat_identities,
    );
    changed
}

/// Every employee of the tenant as CSV in the import format, cells neutralised against
/// spreadsheet formulas; and how many rows it holds.
pub(crate) async fn employees_csv(tx: &mut Tx, tenant_id: i64) -> Result<(String, usize)> {
    let employees = employee::list_all(tx, tenant_id).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    write_row(&mut out, CSV_HEADER)?;
    for e in &employees {
        let p = &e.profile;
        let id = |platform| p.chat_identities.get(&platform).map_or("", String::as_str);
        write_row(
            &mut out,
            [
                p.email.as_str(),
                &p.name,
                &p.name_kana,
                &p.department,
                &p.time_zone,
                p.language.as_str(),
                p.notification.as_str(),
                id(Platform::Slack),
                id(Platform::Teams),
                id(Platform::Discord),
                id(Platform::Web),
            ],
        )?;
    }
    Ok((finish_csv(out)?, employees.len()))
}

/// One row of an imported CSV: the cells of the columns the file has, as written.
#[derive(Debug)]
struct CsvRow {
    /// The line a spreadsheet shows.
    line: u64,
    /// The row's email, normalised: the key that decides between create and update.
    email: String,
    cells: BTreeMap<&'static str, String>,
}

impl CsvRow {
    /// The profile this row describes. A column the file leaves out keeps the stored value
    /// (`base`, the employee as stored), so importing `email,department` changes only
    /// departments; an empty time zone, language or notification cell means "keep" too.
    fn over(&self, base: Option<&EmployeeProfile>) -> Result<EmployeeProfile> {
        // Only a name cannot be defaulted: a new employee needs the column.
        if base.is_none() && !self.cells.contains_key("name") {
            return Err(Error::InvalidFile(vec![LineProblem {
                line: self.line,
                problem: FileProblem::MissingColumn("name"),
            }]));
        }
        let cell = |name: &str| self.cells.get(name).map(String::as_str);
        let kept = |name: &str, stored: Option<&str>| -> Option<String> {
            match cell(name) {
                Some(value) if !value.is_empty() => Some(value.to_owned()),
                _ => stored.map(str::to_owned),
            }
        };
        let text_or_stored =
            |name: &str, stored: Option<&str>| cell(name).or(stored).unwrap_or("").to_owned();
        let language = match kept("language", base.map(|b| b.language.as_str())) {
            Some(value) => value.parse().map_err(|_| {
                Error::invalid(
                    "language",
                    Invalid::NotOneOf {
                        allowed: &["ja", "en"],
                    },
                )
            })?,
            None => Lang::default(),
        };
        let notification = match kept("notification", base.map(|b| b.notification.as_str())) {
            Some(value) => value.parse().map_err(|_| {
                Error::invalid(
                    "notification",
                    Invalid::NotOneOf {
                        allowed: NotificationPreference::NAMES,
                    },
                )
            })?,
            None => default_notification(),
        };
        let mut chat_identities = base.map(|b| b.chat_identities.clone()).unwrap_or_default();
        for platform in Platform::ALL {
            match cell(platform.as_str()) {
                Some("") => {
                    chat_identities.remove(&platform);
                }
                Some(id) => {
                    chat_identities.insert(platform, id.to_owned());
                }
                None => {}
            }
        }
        EmployeeInput {
            email: text_or_stored("email", None),
            name: text_or_stored("name", base.map(|b| b.name.as_str())),
            name_kana: text_or_stored("name_kana", base.map(|b| b.name_kana.as_str())),
            department: text_or_stored("department", base.map(|b| b.department.as_str())),
            time_zone: kept("time_zone", base.map(|b| b.time_zone.as_str()))
                .unwrap_or_else(default_time_zone),
            language,
            notification,
            chat_identities,
        }
        .validate()
    }
}

/// Parses and checks every row; the line numbers are those a spreadsheet shows.
fn parse_csv(text: &str) -> Result<Vec<CsvRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| {
            Error::InvalidFile(vec![LineProblem {
                line: 1,
                problem: FileProblem::Unreadable,
            }])
        })?
        .iter()
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = header.iter().find(|h| !CSV_HEADER.contains(&h.as_str())) {
        return Err(Error::InvalidFile(vec![LineProblem {
            line: 1,
            problem: FileProblem::UnknownColumn {
                column: unknown.clone(),
                expected: &CSV_HEADER,
            },
        }]));
    }
    // Each known column's position in this file, in the catalogue's own static names.
    let columns: Vec<(&'static str, usize)> = CSV_HEADER
        .iter()
        .filter_map(|name| header.iter().position(|h| h == name).map(|i| (*name, i)))
        .collect();
    // Only the email is needed in every file: it names the employee to create or update.
    if !columns.iter().any(|(name, _)| *name == "email") {
        return Err(Error::InvalidFile(vec![LineProblem {
            line: 1,
            problem: FileProblem::MissingColumn("email"),
        }]));
    }
    let has_name = columns.iter().any(|(name, _)| *name == "name");
    let mut problems = Vec::new();
    let mut rows: Vec<CsvRow> = Vec::new();
    for record in reader.records() {
        // The reader's position, not a count of records: a quoted cell may span lines.
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                problems.push(LineProblem {
                    line: err.position().map_or(0, |p| p.line()),
                    problem: FileProblem::Unreadable,
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let cells = columns
            .iter()
            .map(|(name, i)| (*name, record.get(*i).map(restore).unwrap_or("").to_owned()))
            .collect();
        let mut row = CsvRow {
            line,
            email: String::new(),
            cells,
        };
        // Checked on its own here (every row before anything is written), and again over
        // the stored employee when it is written. Without a name column a row can only
        // update, and whom it updates is known only then: here only its email is checked.
        let email = if has_name {
            row.over(None).map(|profile| profile.email)
        } else {
            normalize_email(row.cells.get("email").map_or("", String::as_str))
                .map_err(|reason| Error::invalid("email", reason))
        };
        match email {
            Ok(email) => {
                if let Some(first) = rows.iter().find(|r| r.email == email) {
                    problems.push(LineProblem {
                        line,
                        problem: FileProblem::Repeats {
                            first_line: first.line,
                        },
                    });
                } else {
                    row.email = email;
                    rows.push(row);
                }
            }
            Err(err) => match at_line(line, err) {
                Error::InvalidFile(mut found) => problems.append(&mut found),
                other => return Err(other),
            },
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(Error::InvalidFile(problems))
    }
}

/// A row's field error as a problem of the file at `line`; other errors pass through.
fn at_line(line: u64, err: Error) -> Error {
    match err {
        Error::Invalid { field, reason } => Error::InvalidFile(vec![LineProblem {
            line,
            problem: FileProblem::Field { field, reason },
        }]),
        other => other,
    }
}
