//! The employee directory.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

use frontdesk_core::domain::people::{Lang, NotificationPreference, Platform};
use frontdesk_core::engine::directory::{
    EmployeeInput, EmployeePage, EmployeePatch, ImportSummary, default_notification,
    default_time_zone,
};
use frontdesk_core::store::employee::Employee;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv_download;
use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, SignedIn, body_rejection};
use crate::problem::{ApiError, ApiResult};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, patch, delete))
        .routes(routes!(export))
        .routes(routes!(import))
}

/// An employee as the API shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeView {
    pub id: i64,
    pub email: String,
    /// The name as written (e.g. 佐藤 ありす).
    pub name: String,
    /// The reading in kana (e.g. さとう ありす), for kiosk search.
    pub name_kana: String,
    pub department: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// `ja` or `en`.
    #[schema(example = "ja")]
    pub language: String,
    /// `chat`, `email` or `chat_and_email`.
    #[schema(example = "chat")]
    pub notification: String,
    /// The employee's user id on each chat platform they use (`slack`, `teams`, …).
    pub chat_identities: BTreeMap<String, String>,
}

impl From<Employee> for EmployeeView {
    fn from(employee: Employee) -> Self {
        let profile = employee.profile;
        EmployeeView {
            id: employee.id,
            email: profile.email,
            name: profile.name,
            name_kana: profile.name_kana,
            department: profile.department,
            time_zone: profile.time_zone,
            language: profile.language.as_str().to_owned(),
            notification: profile.notification.as_str().to_owned(),
            chat_identities: profile
                .chat_identities
                .into_iter()
                .map(|(platform, id)| (platform.as_str().to_owned(), id))
                .collect(),
        }
    }
}

/// One page of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeePageView {
    pub employees: Vec<EmployeeView>,
    /// How many employees match in all.
    pub total: i64,
}

impl From<EmployeePage> for EmployeePageView {
    fn from(page: EmployeePage) -> Self {
        EmployeePageView {
            employees: page.employees.into_iter().map(EmployeeView::from).collect(),
            total: page.total,
        }
    }
}

/// An employee's profile as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeRequest {
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

impl From<EmployeeRequest> for EmployeeInput {
    fn from(request: EmployeeRequest) -> Self {
        EmployeeInput {
            email: request.email,
            name: request.name,
            name_kana: request.name_kana,
            department: request.department,
            time_zone: request.time_zone,
            language: request.language,
            notification: request.notification,
            chat_identities: request.chat_identities,
        }
    }
}

/// An employee's whole profile, replacing the stored one: every field must be given, so a
/// field left out is an error, never a silent reset (PATCH changes only what it names).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeReplaceRequest {
    pub email: String,
    pub name: String,
    pub name_kana: String,
    pub department: String,
    pub time_zone: String,
    #[schema(value_type = String, example = "ja")]
    pub language: Lang,
    #[schema(value_type = String, example = "chat")]
    pub notification: NotificationPreference,
    #[schema(value_type = BTreeMap<String, String>)]
    pub chat_identities: BTreeMap<Platform, String>,
}

impl From<EmployeeReplaceRequest> for EmployeeInput {
    fn from(request: EmployeeReplaceRequest) -> Self {
        EmployeeInput {
            email: request.email,
            name: request.name,
            name_kana: request.name_kana,
            department: request.department,
            time_zone: request.time_zone,
            language: request.language,
            notification: request.notification,
            chat_identities: request.chat_identities,
        }
    }
}

/// The fields to change; those left out keep their stored value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeePatchRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub department: Option<String>,
    pub time_zone: Option<String>,
    #[schema(value_type = Option<String>, example = "ja")]
    pub language: Option<Lang>,
    #[schema(value_type = Option<String>, example = "chat")]
    pub notification: Option<NotificationPreference>,
    /// Replaces every chat id when given.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub chat_identities: Option<BTreeMap<Platform, String>>,
}

impl From<EmployeePatchRequest> for EmployeePatch {
    fn from(request: EmployeePatchRequest) -> Self {
        EmployeePatch {
            email: request.email,
            name: request.name,
            name_kana: request.name_kana,
            department: request.department,
            time_zone: request.time_zone,
            language: request.language,
            notification: request.notification,
            chat_identities: request.chat_identities,
        }
    }
}

/// What an import changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummaryView {
    pub created: usize,
    pub updated: usize,
}

impl From<ImportSummary> for ImportSummaryView {
    fn from(summary: ImportSummary) -> Self {
        ImportSummaryView {
            created: summary.created,
            updated: summary.updated,
        }
    }
}

/// Paging and search of the directory.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Part of a name, kana reading or email.
    pub q: Option<String>,
    /// Page size (1–500, default 50).
    pub limit: Option<i64>,
    /// Employees to skip.
    pub offset: Option<i64>,
}

/// Employees by kana reading, optionally searched.
#[utoipa::path(get, path = "/employees", tag = "employees", params(ListQuery),
    responses((status = 200, body = EmployeePageView)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Json<EmployeePageView>> {
    let page = state
        .engine
        .employees(
            &actor,
            q.q.as_deref(),
            q.limit.unwrap_or(50),
            q.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(page.into()))
}

/// Add an employee (admins).
#[utoipa::path(post, path = "/employees", tag = "employees", request_body = EmployeeRequest,
    responses((status = 201, body = EmployeeView), (status = 409, description = "email taken"), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<EmployeeRequest>,
) -> ApiResult<(StatusCode, Json<EmployeeView>)> {
    let employee = state.engine.create_employee(&actor, input.into()).await?;
    Ok((StatusCode::CREATED, Json(employee.into())))
}

/// One employee.
#[utoipa::path(get, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)),
    responses((status = 200, body = EmployeeView), (status = 404)))]
async fn get_one(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<Json<EmployeeView>> {
    Ok(Json(state.engine.employee(&actor, id).await?.into()))
}

/// Replace an employee's profile (admins).
#[utoipa::path(put, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)), request_body = EmployeeReplaceRequest,
    responses((status = 200, body = EmployeeView), (status = 404), (status = 409), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<EmployeeReplaceRequest>,
) -> ApiResult<Json<EmployeeView>> {
    let employee = state
        .engine
        .update_employee(&actor, id, input.into())
        .await?;
    Ok(Json(employee.into()))
}

/// Change some fields of an employee (admins); the others stay as they are.
#[utoipa::path(patch, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)), request_body = EmployeePatchRequest,
    responses((status = 200, body = EmployeeView), (status = 404), (status = 409), (status = 422)))]
async fn patch(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppJson(patch): AppJson<EmployeePatchRequest>,
) -> ApiResult<Json<EmployeeView>> {
    let employee = state
        .engine
        .patch_employee(&actor, id, patch.into())
        .await?;
    Ok(Json(employee.into()))
}

/// Remove an employee (admins).
#[utoipa::path(delete, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn delete(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.delete_employee(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download every employee as CSV (needs the export permission; logged).
#[utoipa::path(get, path = "/employees/export", tag = "employees",
    responses((status = 200, content_type = "text/csv", body = String), (status = 403)))]
async fn export(State(state): State<AppState>, SignedIn(actor): SignedIn) -> ApiResult<Response> {
    Ok(csv_download(
        "employees.csv",
        state.engine.export_employees(&actor).await?,
    ))
}

/// Create or update employees from a CSV in the export's format; all rows or none.
#[utoipa::path(post, path = "/employees/import", tag = "employees",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportSummaryView), (status = 422, description = "names each bad line")))]
async fn import(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportSummaryView>> {
    let body = body.map_err(body_rejection)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the CSV must be UTF-8".into()))?;
    Ok(Json(
        state.engine.import_employees(&actor, text).await?.into(),
    ))
}
