//! The kiosk JSON API, what the kiosk page itself calls (public: a kiosk holds a device token
//! from pairing in a cookie; the demo's kiosk needs none). Wrong reception codes are
//! counted per kiosk; a visit is found only by the unguessable id its check-in returned.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use frontdesk_core::domain::visit::{Category, VisitStatus};
use frontdesk_core::engine::reception::{CheckIn, Kiosk, VisitView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{AppJson, AppPath, AppQuery, ClientIp, idempotency_key, language_field};
use crate::problem::ApiResult;

/// The kiosk's device cookie (HttpOnly; the page never reads it).
pub const KIOSK_COOKIE: &str = "fd_kiosk";
pub const SECURE_KIOSK_COOKIE: &str = "__Host-fd_kiosk";
/// A paired kiosk keeps its token this long (until revoked); pairing again renews it.
const KIOSK_COOKIE_DAYS: i64 = 400;
/// How often a visit stream looks for changes other instances made.
const POLL: Duration = Duration::from_millis(500);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A stream ends itself before the server's idle limit; the browser reconnects at once.
const STREAM_LIFETIME: Duration = Duration::from_secs(50);

pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies {
        SECURE_KIOSK_COOKIE
    } else {
        KIOSK_COOKIE
    }
}

/// The kiosk this request comes from: its device cookie, or the demo's open kiosk.
pub(crate) async fn kiosk_of(state: &AppState, jar: &CookieJar, slug: &str) -> ApiResult<Kiosk> {
    let token = jar.get(cookie_name(state)).map(|c| c.value().to_owned());
    Ok(state.engine.kiosk(slug, token.as_deref()).await?)
}

/// What the kiosk shows: the location, its entrance terms, the questions it asks.
#[derive(Debug, Serialize, ToSchema)]
pub struct KioskConfig {
    pub location: KioskLocation,
    pub terms: Option<KioskTerms>,
    pub extra_fields: Vec<KioskField>,
    /// The reasons a visitor without a host may pick (each notifies its contact).
    pub categories: Vec<String>,
    pub badge_printing: bool,
    pub offline_message: Bilingual,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskLocation {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskTerms {
    pub version: i64,
    pub text_ja: String,
    pub text_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskField {
    pub key: String,
    pub label_ja: String,
    pub label_en: String,
    pub required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bilingual {
    pub ja: String,
    pub en: String,
}

impl From<&Kiosk> for KioskConfig {
    fn from(kiosk: &Kiosk) -> Self {
        let settings = &kiosk.settings;
        KioskConfig {
            location: KioskLocation {
                slug: kiosk.location.slug.clone(),
                name: kiosk.location.name.clone(),
            },
            terms: settings.terms.as_ref().map(|t| KioskTerms {
                version: t.version,
                text_ja: t.text_ja.clone(),
                text_en: t.text_en.clone(),
            }),
            extra_fields: settings
                .extra_fields
                .iter()
                .map(|f| KioskField {
                    key: f.key.clone(),
                    label_ja: f.label_ja.clone(),
                    label_en: f.label_en.clone(),
                    required: f.required,
                })
                .collect(),
            categories: settings
                .categories
                .keys()
                .map(|c| c.as_str().to_owned())
                .collect(),
            badge_printing: settings.badge_printing,
            offline_message: Bilingual {
                ja: settings.offline_message.ja.clone(),
                en: settings.offline_message.en.clone(),
            },
        }
    }
}

/// A pairing code from an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingRequest {
    pub code: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HostQuery {
    /// Part of a name (kanji, kana, romaji) or an email.
    pub q: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskHost {
    pub id: i64,
    pub name: String,
    pub name_kana: String,
    pub department: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskHosts {
    pub hosts: Vec<KioskHost>,
}

/// A check-in: `reception_code`, or `host` (an employee id or email), or `category`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    pub reception_code: Option<String>,
    /// An employee id (number) or email.
    #[schema(value_type = Option<String>)]
    pub host: Option<serde_json::Value>,
    /// `delivery`, `interview` or `other`.
    pub category: Option<String>,
    pub visitor_name: Option<String>,
    pub visitor_company: Option<String>,
    pub visitor_email: Option<String>,
    /// Answers to the location's extra questions, by key.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// The version of the entrance terms the visitor accepted.
    pub accept_terms: Option<i64>,
    /// `ja` or `en`: the kiosk's language.
    pub language: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostName {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorView {
    pub name: String,
    pub company: String,
}

/// A visit as the kiosk sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KioskVisit {
    pub visit_id: String,
    /// `waiting`, `host_coming`, `host_delayed`, `host_unavailable` or `checked_out`.
    pub status: String,
    pub delay_minutes: Option<i64>,
    pub host: Option<HostName>,
    pub category: Option<String>,
    pub visitor: VisitorView,
    /// The badge to print (only in the check-in's answer, when the location prints badges).
    pub badge_url: Option<String>,
}

impl KioskVisit {
    fn of(visit: VisitView, badge_url: Option<String>) -> KioskVisit {
        KioskVisit {
            visit_id: visit.public_id,
            status: visit.status.as_str().to_owned(),
            delay_minutes: visit.delay_minutes,
            host: visit.host_name.map(|name| HostName { name }),
            category: visit.category.map(|c| c.as_str().to_owned()),
            visitor: VisitorView {
                name: visit.visitor_name,
                company: visit.visitor_company,
            },
            badge_url,
        }
    }
}

/// A badge scanned (the token, or the badge QR's URL as a scanner types it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckOutRequest {
    pub badge: String,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(pair))
        .routes(routes!(hosts))
        .routes(routes!(check_in))
        .routes(routes!(visit))
        .routes(routes!(visit_events))
        .routes(routes!(check_out))
}

/// The kiosk's configuration (public; a paired device, or the demo's kiosk).
#[utoipa::path(get, path = "/kiosk/{location}", tag = "kiosk", params(("location" = String, Path)),
    responses((status = 200, body = KioskConfig), (status = 401, description = "this browser is not a paired kiosk"),
        (status = 404)))]
async fn config(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(location): AppPath<String>,
) -> ApiResult<Json<KioskConfig>> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    Ok(Json(KioskConfig::from(&kiosk)))
}

/// Pairs this browser as the location's kiosk with a code from an admin; sets the device
/// cookie.
#[utoipa::path(post, path = "/kiosk/{location}/pairing", tag = "kiosk", params(("location" = String, Path)),
    request_body = PairingRequest,
    responses((status = 204, description = "paired"), (status = 404, description = "wrong, used or expired code")))]
async fn pair(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(location): AppPath<String>,
    AppJson(request): AppJson<PairingRequest>,
) -> ApiResult<(CookieJar, StatusCode)> {
    let (_, token) = state.engine.pair_kiosk(&location, &request.code).await?;
    let cookie = Cookie::build((cookie_name(&state), token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::days(KIOSK_COOKIE_DAYS))
        .secure(state.secure_cookies)
        .build();
    Ok((jar.add(cookie), StatusCode::NO_CONTENT))
}

/// Employees a visitor may pick as their host (name in kanji, kana or romaji, or email).
#[utoipa::path(get, path = "/kiosk/{location}/hosts", tag = "kiosk", params(("location" = String, Path), HostQuery),
    responses((status = 200, body = KioskHosts), (status = 401)))]
async fn hosts(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(location): AppPath<String>,
    AppQuery(query): AppQuery<HostQuery>,
) -> ApiResult<Json<KioskHosts>> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    let found = state.engine.kiosk_hosts(&kiosk, &query.q).await?;
    Ok(Json(KioskHosts {
        hosts: found
            .into_iter()
            .map(|e| KioskHost {
                id: e.id,
                name: e.profile.name,
                name_kana: e.profile.name_kana,
                department: e.profile.department,
            })
            .collect(),
    }))
}

/// Checks a visitor in; the host is notified at once. A repeat of the `Idempotency-Key`
/// header answers the visit it made (a check-in queued offline and sent twice is one visit).
#[utoipa::path(post, path = "/kiosk/{location}/checkins", tag = "kiosk", params(("location" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "the kiosk's key for this check-in")),
    request_body = CheckInRequest,
    responses((status = 201, body = KioskVisit), (status = 200, body = KioskVisit, description = "an earlier check-in with this key"),
        (status = 404, description = "the reception code is not valid today, or no such host"),
        (status = 422, description = "a bad field (`accept_terms` when the entrance terms must be accepted)"),
        (status = 429, description = "too many wrong codes from this kiosk")))]
async fn check_in(
    State(state): State<AppState>,
    jar: CookieJar,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppPath(location): AppPath<String>,
    AppJson(request): AppJson<CheckInRequest>,
) -> ApiResult<(StatusCode, Json<KioskVisit>)> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    let idempotency_key = idempotency_key(&headers)?;
    let category = match request.category.as_deref() {
        Some(text) => Some(Category::parse(text).ok_or_else(|| {
            frontdesk_core::Error::invalid(
                "category",
                frontdesk_core::domain::field::Invalid::NotOneOf {
                    allowed: &["delivery", "interview", "other"],
                },
            )
        })?),
        None => None,
    };
    let language = language_field(request.language.as_deref())?;
    let input = CheckIn {
        reception_code: request.reception_code,
        host: request.host,
        category,
        visitor_name: request.visitor_name,
        visitor_company: request.visitor_company,
        visitor_email: request.visitor_email,
        fields: request.fields.unwrap_or_default(),
        accept_terms: request.accept_terms,
        language,
    };
    let checked_in = state
        .engine
        .check_in(&kiosk, &ip.to_string(), input, idempotency_key.as_deref())
        .await?;
    let badge_url = checked_in.badge_token.as_ref().map(|token| {
        format!(
            "/kiosk/{}/badge/{}?t={token}",
            kiosk.location.slug, checked_in.visit.public_id
        )
    });
    let status = if checked_in.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(KioskVisit::of(checked_in.visit, badge_url))))
}

/// A visit checked in at this kiosk's location.
#[utoipa::path(get, path = "/kiosk/{location}/visits/{visit}", tag = "kiosk",
    params(("location" = String, Path), ("visit" = String, Path)),
    responses((status = 200, body = KioskVisit), (status = 404)))]
async fn visit(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath((location, visit)): AppPath<(String, String)>,
) -> ApiResult<Json<KioskVisit>> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    let visit = state.engine.kiosk_visit(&kiosk, &visit).await?;
    Ok(Json(KioskVisit::of(visit, None)))
}

/// The visit's changes as server-sent events (`event: visit`, the visit as JSON): first at
/// once, then whenever the host answers or the visitor leaves.
#[utoipa::path(get, path = "/kiosk/{location}/visits/{visit}/events", tag = "kiosk",
    params(("location" = String, Path), ("visit" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "the visit's changes"),
        (status = 404), (status = 429, description = "too many streams for this visit")))]
async fn visit_events(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath((location, visit)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    let first = state.engine.kiosk_visit(&kiosk, &visit).await?;
    let Some(slot) = state.kiosk_streams.open(first.id) else {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "10")],
            "too many open streams for this visit",
        )
            .into_response());
    };
    let stream = VisitStream {
        state: state.clone(),
        kiosk,
        public_id: visit,
        last: None,
        changes: state.engine.visit_changes(),
        until: tokio::time::Instant::now() + STREAM_LIFETIME,
        _slot: slot,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        stream
            .next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), stream))
    });
    let retry = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().retry(Duration::from_millis(500)))
    });
    use futures_util::StreamExt;
    let sse = Sse::new(retry.chain(events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

/// A kiosk's stream of one visit.
struct VisitStream {
    state: AppState,
    kiosk: Kiosk,
    public_id: String,
    last: Option<(VisitStatus, Option<i64>)>,
    changes: tokio::sync::watch::Receiver<u64>,
    until: tokio::time::Instant,
    _slot: crate::page::StreamSlot,
}

impl VisitStream {
    /// The next change of the visit, waiting for one; `None` when the stream should end
    /// (its lifetime is over, the visit is gone, or it ended with check-out).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if matches!(self.last, Some((VisitStatus::CheckedOut, _))) {
                return None;
            }
            let visit = match self
                .state
                .engine
                .kiosk_visit(&self.kiosk, &self.public_id)
                .await
            {
                Ok(visit) => visit,
                Err(err) => {
                    tracing::warn!(error = %frontdesk_core::error::with_causes(&err), "kiosk visit stream ended");
                    return None;
                }
            };
            let now = (visit.status, visit.delay_minutes);
            if self.last != Some(now) {
                self.last = Some(now);
                return Event::default()
                    .event("visit")
                    .json_data(KioskVisit::of(visit, None))
                    .ok();
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.until) => return None,
                changed = self.changes.changed() => { changed.ok()?; }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Checks out the visit whose badge was scanned at this kiosk.
#[utoipa::path(post, path = "/kiosk/{location}/checkouts", tag = "kiosk", params(("location" = String, Path)),
    request_body = CheckOutRequest,
    responses((status = 200, body = KioskVisit), (status = 404, description = "no visit has this badge here")))]
async fn check_out(
    State(state): State<AppState>,
    jar: CookieJar,
    AppPath(location): AppPath<String>,
    AppJson(request): AppJson<CheckOutRequest>,
) -> ApiResult<Json<KioskVisit>> {
    let kiosk = kiosk_of(&state, &jar, &location).await?;
    let visit = state.engine.kiosk_check_out(&kiosk, &request.badge).await?;
    Ok(Json(KioskVisit::of(visit, None)))
}
