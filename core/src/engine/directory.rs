//! The employee directory: adding, changing, removing, listing, CSV import and export.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access_log::{Event, record, write_row};
use super::{Actor, Engine, MAX_PAGE};
use crate::domain::csv_cell::restore;
use crate::domain::people::{
    Lang, NotificationPreference, Platform, Role, normalize_email, validate_kana,
    validate_time_zone,
};
use crate::store::StoreError;
use crate::store::employee::{self, Employee, EmployeeProfile};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
}

/// One page of the directory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmployeePage {
    pub employees: Vec<Employee>,
    /// How many employees match in all.
    pub total: i64,
}

/// An employee profile as submitted, before it is checked.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeInput {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub name_kana: String,
    #[serde(default)]
    pub department: String,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default)]
    #[schema(value_type = String, example = "ja")]
    pub language: Lang,
    #[serde(default = "default_notification")]
    #[schema(value_type = String, example = "chat")]
    pub notification: NotificationPreference,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub chat_identities: BTreeMap<Platform, String>,
}

fn default_time_zone() -> String {
    "Asia/Tokyo".into()
}

fn default_notification() -> NotificationPreference {
    NotificationPreference::Chat
}

impl EmployeeInput {
    /// The checked, normalised profile, or the first field that is wrong.
    pub fn validate(self) -> Result<EmployeeProfile> {
        let email = normalize_email(&self.email).map_err(|m| Error::invalid("email", m))?;
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1 to 200 characters"));
        }
        let name_kana = self.name_kana.trim().to_owned();
        validate_kana(&name_kana).map_err(|m| Error::invalid("name_kana", m))?;
        validate_time_zone(&self.time_zone).map_err(|m| Error::invalid("time_zone", m))?;
        let department = self.department.trim().to_owned();
        if department.chars().count() > 200 {
            return Err(Error::invalid(
                "department",
                "must be at most 200 characters",
            ));
        }
        let mut chat_identities = BTreeMap::new();
        for (platform, id) in self.chat_identities {
            let id = id.trim().to_owned();
            if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
                return Err(Error::invalid(
                    format!("chat_identities.{platform}"),
                    "must be a platform user id",
                ));
            }
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
        actor.require(Role::Admin)?;
        let profile = input.validate()?;
        let tenant_id = actor.account.tenant_id;
        let now = self.clock.now_ms();
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
        record(&mut tx, tenant_id, now, event).await?;
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
        actor.require(Role::Admin)?;
        let profile = input.validate()?;
        let tenant_id = actor.account.tenant_id;
        let now = self.clock.now_ms();
        let mut tx = self.db.write().await?;
        let before = employee::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("employee"))?;
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
        record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(Employee { id, profile })
    }

    /// Removes an employee (admins); not found for another tenant's employee.
    pub async fn delete_employee(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Role::Admin)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.clock.now_ms();
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
        record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One employee of the actor's tenant.
    pub async fn employee(&self, actor: &Actor, id: i64) -> Result<Employee> {
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
        actor.require_export()?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.read().await?;
        let employees = employee::list_all(&mut tx, tenant_id).await?;
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
        let event = Event::by(
            actor,
            "employees.export",
            "employees",
            json!({ "rows": employees.len() }),
        );
        drop(tx);
        self.log(tenant_id, event).await?;
        let bytes = out
            .into_inner()
            .map_err(|err| Error::Internal(err.to_string()))?;
        String::from_utf8(bytes).map_err(|err| Error::Internal(err.to_string()))
    }

    /// Creates or updates (by email) the employees of a CSV in the export's format (admins).
    /// Every row is checked first; one bad row rejects the whole file, naming each problem.
    pub async fn import_employees(&self, actor: &Actor, csv_text: &str) -> Result<ImportSummary> {
        actor.require(Role::Admin)?;
        let profiles = parse_csv(csv_text)?;
        let tenant_id = actor.account.tenant_id;
        let now = self.clock.now_ms();
        let mut tx = self.db.write().await?;
        let mut summary = ImportSummary {
            created: 0,
            updated: 0,
        };
        for (line, profile) in &profiles {
            let existing = employee::find_by_email(&mut tx, tenant_id, &profile.email).await?;
            let written = match existing {
                Some(e) => employee::update(&mut tx, tenant_id, e.id, profile, now)
                    .await
                    .map(|_| summary.updated += 1),
                None => employee::insert(&mut tx, tenant_id, profile, now)
                    .await
                    .map(|_| summary.created += 1),
            };
            written.map_err(|err| match err {
                StoreError::Duplicate => Error::invalid(
                    "csv",
                    format!("line {line}: a chat id is already used by another employee"),
                ),
                other => other.into(),
            })?;
        }
        let event = Event::by(
            actor,
            "employees.import",
            "employees",
            json!({ "created": summary.created, "updated": summary.updated }),
        );
        record(&mut tx, tenant_id, now, event).await?;
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

/// Parses and checks every row; the line numbers are those a spreadsheet shows.
fn parse_csv(text: &str) -> Result<Vec<(usize, EmployeeProfile)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|err| Error::invalid("csv", format!("cannot read the header: {err}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    for required in ["email", "name"] {
        if column(required).is_none() {
            return Err(Error::invalid(
                "csv",
                format!("the header has no {required:?} column"),
            ));
        }
    }
    if let Some(unknown) = header.iter().find(|h| !CSV_HEADER.contains(&h.as_str())) {
        return Err(Error::invalid(
            "csv",
            format!(
                "unknown column {unknown:?} (expected: {})",
                CSV_HEADER.join(", ")
            ),
        ));
    }
    let mut problems = Vec::new();
    let mut profiles: Vec<(usize, EmployeeProfile)> = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let line = index + 2;
        let row = match row {
            Ok(row) => row,
            Err(err) => {
                problems.push(format!("line {line}: {err}"));
                continue;
            }
        };
        let cell = |name: &str| {
            column(name)
                .and_then(|i| row.get(i))
                .map(restore)
                .unwrap_or("")
                .to_owned()
        };
        let parsed = (|| -> Result<EmployeeProfile> {
            let language = match cell("language").as_str() {
                "" => Lang::default(),
                other => other.parse().map_err(|m| Error::invalid("language", m))?,
            };
            let notification = match cell("notification").as_str() {
                "" => NotificationPreference::Chat,
                other => other
                    .parse()
                    .map_err(|m| Error::invalid("notification", m))?,
            };
            let chat_identities = Platform::ALL
                .into_iter()
                .map(|p| (p, cell(p.as_str())))
                .filter(|(_, id)| !id.is_empty())
                .collect();
            let time_zone = cell("time_zone");
            EmployeeInput {
                email: cell("email"),
                name: cell("name"),
                name_kana: cell("name_kana"),
                department: cell("department"),
                time_zone: if time_zone.is_empty() {
                    default_time_zone()
                } else {
                    time_zone
                },
                language,
                notification,
                chat_identities,
            }
            .validate()
        })();
        match parsed {
            Ok(profile) => {
                if let Some((first, _)) = profiles.iter().find(|(_, p)| p.email == profile.email) {
                    problems.push(format!(
                        "line {line}: email {} repeats line {first}",
                        profile.email
                    ));
                } else {
                    profiles.push((line, profile));
                }
            }
            Err(err) => problems.push(format!("line {line}: {err}")),
        }
    }
    if problems.is_empty() {
        Ok(profiles)
    } else {
        Err(Error::invalid("csv", problems.join("; ")))
    }
}
