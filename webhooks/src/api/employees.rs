//! The employee directory.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use frontdesk_core::engine::directory::{EmployeeInput, EmployeePage, ImportSummary};
use frontdesk_core::store::employee::Employee;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::csv_download;
use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, SignedIn};
use crate::problem::{ApiError, ApiResult};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(export))
        .routes(routes!(import))
}

/// Paging and search of the directory.
#[derive(Debug, Deserialize, IntoParams)]
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
    responses((status = 200, body = EmployeePage)))]
async fn list(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Json<EmployeePage>> {
    let page = state
        .engine
        .employees(
            &actor,
            q.q.as_deref(),
            q.limit.unwrap_or(50),
            q.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(page))
}

/// Add an employee (admins).
#[utoipa::path(post, path = "/employees", tag = "employees", request_body = EmployeeInput,
    responses((status = 201, body = Employee), (status = 409, description = "email taken"), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(input): AppJson<EmployeeInput>,
) -> ApiResult<(StatusCode, Json<Employee>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.engine.create_employee(&actor, input).await?),
    ))
}

/// One employee.
#[utoipa::path(get, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)),
    responses((status = 200, body = Employee), (status = 404)))]
async fn get_one(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<Json<Employee>> {
    Ok(Json(state.engine.employee(&actor, id).await?))
}

/// Replace an employee's profile (admins).
#[utoipa::path(put, path = "/employees/{id}", tag = "employees", params(("id" = i64, Path)), request_body = EmployeeInput,
    responses((status = 200, body = Employee), (status = 404), (status = 409), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<EmployeeInput>,
) -> ApiResult<Json<Employee>> {
    Ok(Json(state.engine.update_employee(&actor, id, input).await?))
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
    responses((status = 200, body = ImportSummary), (status = 422, description = "names each bad line")))]
async fn import(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    body: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the CSV must be UTF-8".into()))?;
    Ok(Json(state.engine.import_employees(&actor, text).await?))
}
