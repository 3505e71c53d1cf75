//! Reception for admins and receptionists: each location's reception settings, kiosk
//! pairing, expected visitors with their reception codes, who is on site, check-out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use frontdesk_core::domain::visit::ReceptionSettings;
use frontdesk_core::engine::expected_visit::{ExpectedVisit, ExpectedVisitInput};
use frontdesk_core::engine::reception::VisitView;
use frontdesk_core::store::reception::DeviceRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::visitor_labels::LabelView;
use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, SignedIn};
use crate::problem::{ApiError, ApiResult};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_kiosks))
        .routes(routes!(add_kiosk))
        .routes(routes!(revoke_kiosk))
        .routes(routes!(list_expected, add_expected))
        .routes(routes!(withdraw_expected))
        .routes(routes!(on_site))
        .routes(routes!(check_out))
}

/// A location's reception settings (see the README): `extra_fields`, `terms`, `fallback`,
/// `answer_timeout_seconds`, `categories`, `arrivals_channel`, `badge_printing`,
/// `reception_address`, `offline_message`, `checkout_reminder_at`, `auto_checkout_at`,
/// `retention_days`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(value_type = Object)]
pub struct SettingsBody(serde_json::Value);

/// A location's reception settings.
#[utoipa::path(get, path = "/locations/{slug}/reception", tag = "reception", params(("slug" = String, Path)),
    responses((status = 200, body = SettingsBody), (status = 404)))]
async fn get_settings(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
) -> ApiResult<Json<SettingsBody>> {
    let settings = state.engine.reception_settings(&actor, &slug).await?;
    Ok(Json(SettingsBody(to_value(&settings)?)))
}

/// Replace a location's reception settings (admins); fields left out take their defaults.
#[utoipa::path(put, path = "/locations/{slug}/reception", tag = "reception", params(("slug" = String, Path)),
    request_body = SettingsBody,
    responses((status = 200, body = SettingsBody), (status = 404), (status = 422)))]
async fn put_settings(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
    AppJson(body): AppJson<SettingsBody>,
) -> ApiResult<Json<SettingsBody>> {
    let settings: ReceptionSettings =
        serde_json::from_value(body.0).map_err(|err| ApiError::Unprocessable(err.to_string()))?;
    let saved = state
        .engine
        .set_reception_settings(&actor, &slug, settings)
        .await?;
    Ok(Json(SettingsBody(to_value(&saved)?)))
}

fn to_value(settings: &ReceptionSettings) -> ApiResult<serde_json::Value> {
    serde_json::to_value(settings)
        .map_err(|err| frontdesk_core::Error::internal("writing reception settings", err).into())
}

/// A kiosk tablet: paired, waiting for its pairing code, or revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct KioskView {
    pub id: i64,
    pub name: String,
    /// `pairing`, `paired` or `revoked`.
    pub state: String,
    pub created_at: String,
    pub paired_at: Option<String>,
    pub last_seen_at: Option<String>,
}

impl From<DeviceRow> for KioskView {
    fn from(row: DeviceRow) -> Self {
        let state = if row.revoked_at.is_some() {
            "revoked"
        } else if row.paired_at.is_some() {
            "paired"
        } else {
            "pairing"
        };
        KioskView {
            id: row.id,
            name: row.name,
            state: state.into(),
            created_at: rfc3339(row.created_at),
            paired_at: row.paired_at.map(rfc3339),
            last_seen_at: row.last_seen_at.map(rfc3339),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new kiosk's name (e.g. "Lobby, left").
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKiosk {
    pub name: String,
}

/// A new kiosk and how to pair it: type the code on the tablet, or open the URL (the QR
/// code) on it. The code works once, for 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct KioskPairing {
    pub kiosk: KioskView,
    pub pairing_code: String,
    pub pairing_url: String,
    /// The pairing URL as a QR code (SVG), to scan with the tablet.
    pub pairing_qr_svg: String,
    pub expires_at: String,
}

/// The tenant's kiosks.
#[utoipa::path(get, path = "/kiosks", tag = "reception", responses((status = 200, body = Vec<KioskView>)))]
async fn list_kiosks(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<Vec<KioskView>>> {
    let kiosks = state.engine.kiosks(&actor).await?;
    Ok(Json(kiosks.into_iter().map(KioskView::from).collect()))
}

/// Add a kiosk at a location (admins): its pairing code, URL and QR code.
#[utoipa::path(post, path = "/locations/{slug}/kiosks", tag = "reception", params(("slug" = String, Path)),
    request_body = NewKiosk, responses((status = 201, body = KioskPairing), (status = 404), (status = 422)))]
async fn add_kiosk(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(slug): AppPath<String>,
    AppJson(new): AppJson<NewKiosk>,
) -> ApiResult<(StatusCode, Json<KioskPairing>)> {
    let (device, code) = state.engine.add_kiosk(&actor, &slug, &new.name).await?;
    let base = state.engine.settings.public_url.trim_end_matches('/');
    let pairing_url = format!("{base}/kiosk/{slug}#pair={code}");
    let expires_at = device.pairing_expires_at.map(rfc3339).unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(KioskPairing {
            kiosk: device.into(),
            pairing_qr_svg: crate::qr::svg(&pairing_url),
            pairing_code: code,
            pairing_url,
            expires_at,
        }),
    ))
}

/// Revoke a kiosk (admins): its device token stops working at once.
#[utoipa::path(delete, path = "/kiosks/{kiosk}", tag = "reception", params(("kiosk" = i64, Path)),
    responses((status = 204), (status = 404)))]
async fn revoke_kiosk(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<i64>,
) -> ApiResult<StatusCode> {
    state.engine.revoke_kiosk(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A visitor expected, with the reception code they type at the kiosk.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectedVisitView {
    pub id: String,
    pub location_id: i64,
    pub host_employee_id: i64,
    pub reception_code: String,
    /// YYYY-MM-DD at the location: the code is valid on this day only.
    pub day: String,
    pub starts_at: Option<String>,
    pub visitor_name: String,
    pub visitor_company: String,
    pub visitor_email: Option<String>,
    pub purpose: Option<String>,
    /// `admin`, `chat`, `booking` or `invite`.
    pub source: String,
    /// `expected`, `arrived` or `withdrawn`.
    pub status: String,
}

impl From<ExpectedVisit> for ExpectedVisitView {
    fn from(v: ExpectedVisit) -> Self {
        ExpectedVisitView {
            id: v.public_id,
            location_id: v.location_id,
            host_employee_id: v.host_employee_id,
            reception_code: v.code,
            day: v.day,
            starts_at: v.starts_at.map(rfc3339),
            visitor_name: v.visitor_name,
            visitor_company: v.visitor_company,
            visitor_email: v.visitor_email,
            purpose: v.purpose,
            source: v.source,
            status: v.status,
        }
    }
}

/// A visitor to expect.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExpectedVisit {
    /// The location's slug.
    pub location: String,
    /// The host's email.
    pub host: String,
    pub visitor_name: String,
    pub visitor_company: Option<String>,
    /// Where the reception code is mailed.
    pub visitor_email: Option<String>,
    /// YYYY-MM-DD at the location.
    pub day: String,
    /// HH:MM at the location.
    pub time: Option<String>,
    pub purpose: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayRange {
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD (at most 93 days after `from`).
    pub to: String,
}

pub(crate) fn day(field: &'static str, text: &str) -> ApiResult<NaiveDate> {
    text.trim().parse().map_err(|_| {
        frontdesk_core::Error::invalid(
            field,
            frontdesk_core::domain::field::Invalid::NotOneOf {
                allowed: &["YYYY-MM-DD"],
            },
        )
        .into()
    })
}

/// Visitors expected on days `from..=to`.
#[utoipa::path(get, path = "/expected-visits", tag = "reception", params(DayRange),
    responses((status = 200, body = Vec<ExpectedVisitView>), (status = 422)))]
async fn list_expected(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(range): AppQuery<DayRange>,
) -> ApiResult<Json<Vec<ExpectedVisitView>>> {
    let (from, to) = (day("from", &range.from)?, day("to", &range.to)?);
    if to < from || (to - from).num_days() > 93 {
        return Err(frontdesk_core::Error::invalid(
            "to",
            frontdesk_core::domain::field::Invalid::OutOfRange { min: 0, max: 93 },
        )
        .into());
    }
    let visits = state.engine.expected_visits(&actor, from, to).await?;
    Ok(Json(visits.into_iter().map(Into::into).collect()))
}

/// Expect a visitor (receptionists and admins): a reception code valid on that day, mailed
/// to the visitor when an email is given.
#[utoipa::path(post, path = "/expected-visits", tag = "reception", request_body = NewExpectedVisit,
    responses((status = 201, body = ExpectedVisitView), (status = 404, description = "no such location or host"), (status = 422)))]
async fn add_expected(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppJson(new): AppJson<NewExpectedVisit>,
) -> ApiResult<(StatusCode, Json<ExpectedVisitView>)> {
    let input = ExpectedVisitInput {
        location: new.location,
        host: new.host,
        visitor_name: new.visitor_name,
        visitor_company: new.visitor_company.unwrap_or_default(),
        visitor_email: new.visitor_email,
        day: new.day,
        time: new.time,
        purpose: new.purpose,
    };
    let visit = state.engine.add_expected_visit(&actor, &input).await?;
    Ok((StatusCode::CREATED, Json(visit.into())))
}

/// Withdraw an expected visit: its reception code stops working.
#[utoipa::path(delete, path = "/expected-visits/{expected_visit}", tag = "reception", params(("expected_visit" = String, Path)),
    responses((status = 204), (status = 404)))]
async fn withdraw_expected(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<String>,
) -> ApiResult<StatusCode> {
    state.engine.withdraw_expected_visit(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A visit, for admins and receptionists.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitSummary {
    pub id: String,
    pub location_id: i64,
    pub status: String,
    pub delay_minutes: Option<i64>,
    pub host: Option<String>,
    pub category: Option<String>,
    pub visitor_name: String,
    pub visitor_company: String,
    pub checked_in_at: String,
    pub checked_out_at: Option<String>,
    /// The visitor labels on the visit.
    pub labels: Vec<LabelView>,
}

impl From<VisitView> for VisitSummary {
    fn from(v: VisitView) -> Self {
        VisitSummary {
            id: v.public_id,
            location_id: v.location_id,
            status: v.status.as_str().to_owned(),
            delay_minutes: v.delay_minutes,
            host: v.host_name,
            category: v.category.map(|c| c.as_str().to_owned()),
            visitor_name: v.visitor_name,
            visitor_company: v.visitor_company,
            checked_in_at: rfc3339(v.checked_in_at),
            checked_out_at: v.checked_out_at.map(rfc3339),
            labels: v.labels.into_iter().map(LabelView::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OnSiteQuery {
    /// A location's slug (all locations when left out).
    pub location: Option<String>,
}

/// Who is on site now (the evacuation list), by arrival.
#[utoipa::path(get, path = "/visits/on-site", tag = "reception", params(OnSiteQuery),
    responses((status = 200, body = Vec<VisitSummary>), (status = 404)))]
async fn on_site(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppQuery(query): AppQuery<OnSiteQuery>,
) -> ApiResult<Json<Vec<VisitSummary>>> {
    let visits = state
        .engine
        .on_site(&actor, query.location.as_deref())
        .await?;
    Ok(Json(visits.into_iter().map(Into::into).collect()))
}

/// Check a visitor out (receptionists and admins).
#[utoipa::path(post, path = "/visits/{visit}/check-out", tag = "reception", params(("visit" = String, Path)),
    responses((status = 200, body = VisitSummary), (status = 404)))]
async fn check_out(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    AppPath(id): AppPath<String>,
) -> ApiResult<Json<VisitSummary>> {
    let visit = state.engine.check_out_visit(&actor, &id).await?;
    Ok(Json(visit.into()))
}
