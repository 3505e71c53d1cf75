//! ICS feeds subscribed to by URL, behind the [`Calendar`] port: fetched with
//! `If-None-Match` / `If-Modified-Since`, bounded in size and time, parsed and expanded by
//! [`crate::ics`] off the async threads. ICS feeds are read-only and have no push: the
//! engine's reconciliation polls them.
//!
//! The cursor remembers the feed's validators and how far ahead its events were expanded.
//! An unchanged feed (304) changes nothing, unless the sync window has moved a day past
//! that horizon: then the feed is fetched whole again so the busy time reaches the window.

use std::time::Duration;

use async_trait::async_trait;
use chrono_tz::Tz;
use frontdesk_core::domain::calendar::{Interval, Provider};
use frontdesk_core::port::{
    AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef, Changes,
    EventDraft, ProviderEvent, SyncWindow, TokenStore, Watch, WatchRequest,
};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use serde::{Deserialize, Serialize};

/// How long fetching one feed may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many redirects a feed URL may go through.
const MAX_REDIRECTS: usize = 5;
/// A feed unchanged at the server is fetched whole again once the window has moved this far
/// past the horizon its events were expanded to.
const HORIZON_SLACK_SECS: i64 = 24 * 3600;

/// What is remembered of a feed between syncs.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The end of the window its events were expanded to (epoch seconds).
    expanded_to: i64,
}

/// ICS feeds over HTTP(S).
#[derive(Debug, Clone)]
pub struct IcsFeeds {
    http: reqwest::Client,
    max_bytes: u64,
}

impl IcsFeeds {
    /// A fetcher refusing feeds larger than `max_bytes`.
    pub fn new(max_bytes: u64) -> Result<IcsFeeds, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(concat!("Frontdesk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(IcsFeeds { http, max_bytes })
    }

    /// The feed's text, or `None` when it has not changed since `cursor`.
    async fn fetch(
        &self,
        url: &str,
        cursor: Option<&Cursor>,
    ) -> Result<Option<(String, Cursor)>, CalendarError> {
        let mut request = self.http.get(url);
        if let Some(cursor) = cursor {
            if let Some(etag) = &cursor.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &cursor.last_modified {
                request = request.header(IF_MODIFIED_SINCE, modified);
            }
        }
        // The URL may carry a credential: errors name the host only.
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let mut response = request.send().await.map_err(|err| {
            CalendarError::Provider(format!(
                "the feed at {host} could not be fetched: {}",
                describe(&err)
            ))
        })?;
        let status = response.status();
        match status {
            StatusCode::NOT_MODIFIED => return Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(CalendarError::Unauthorized(format!(
                    "the feed at {host} refused access ({status}); its URL may have been revoked"
                )));
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(CalendarError::NotFound(format!(
                    "the feed at {host} ({status})"
                )));
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let retry_after_secs = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(300);
                return Err(CalendarError::RateLimited { retry_after_secs });
            }
            status if !status.is_success() => {
                return Err(CalendarError::Provider(format!(
                    "the feed at {host} answered {status}"
                )));
            }
            _ => {}
        }
        let too_large = || {
            CalendarError::Invalid(format!(
                "the feed is larger than the limit of {} bytes",
                self.max_bytes
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Cursor {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
            expanded_to: 0,
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| {
            CalendarError::Provider(format!(
                "reading the feed at {host} failed: {}",
                describe(&err)
            ))
        })? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| CalendarError::Invalid("the feed is not UTF-8 text".into()))?;
        Ok(Some((text, validators)))
    }
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "it took too long".into()
    } else if err.is_connect() {
        "no connection".into()
    } else if err.is_redirect() {
        "too many redirects".into()
    } else {
        "the transfer failed".into()
    }
}

/// The feed's busy time in `[from, to)`. Parsing and expanding is bounded (size,
/// occurrences) but CPU-heavy: off the async threads. Floating and all-day events happen in
/// the owner's zone (a feed gives them none).
async fn busy_time(
    text: String,
    calendar: &CalendarRef,
    from: i64,
    to: i64,
) -> Result<Vec<Interval>, CalendarError> {
    let zone: Tz = calendar.time_zone.parse().unwrap_or(Tz::UTC);
    tokio::task::spawn_blocking(move || crate::ics::parse(&text)?.busy(from, to, zone))
        .await
        .map_err(|err| CalendarError::Provider(format!("expanding the feed failed: {err}")))?
        .map_err(|err| CalendarError::Invalid(format!("the feed cannot be read: {err}")))
}

fn read_only() -> CalendarError {
    CalendarError::Invalid("an ICS feed is read-only".into())
}

#[async_trait]
impl Calendar for IcsFeeds {
    fn provider(&self) -> Provider {
        Provider::Ics
    }

    async fn changes(
        &self,
        calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        cursor: Option<&str>,
        window: SyncWindow,
    ) -> Result<Changes, CalendarError> {
        // A cursor that does not read (another version's) only costs a whole fetch.
        let previous: Option<Cursor> = cursor.and_then(|c| serde_json::from_str(c).ok());
        let conditional = previous
            .as_ref()
            .filter(|p| window.to <= p.expanded_to + HORIZON_SLACK_SECS);
        let Some((text, mut next)) = self.fetch(&calendar.external_id, conditional).await? else {
            return Ok(Changes {
                full: false,
                cursor: cursor.map(str::to_string),
                ..Changes::default()
            });
        };
        let intervals = busy_time(text, calendar, window.from, window.to).await?;
        next.expanded_to = window.to;
        let busy = intervals
            .into_iter()
            .map(|interval| BusyEvent {
                uid: format!("{}-{}", interval.start, interval.end),
                interval,
                // Feeds give merged busy time, not events: no invitations are read from them.
                details: Default::default(),
            })
            .collect();
        Ok(Changes {
            full: true,
            busy,
            removed: Vec::new(),
            cursor: serde_json::to_string(&next).ok(),
        })
    }

    async fn free_busy(
        &self,
        calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError> {
        // Unconditional: a check wants the feed as it is now, whatever the cache holds.
        let Some((text, _)) = self.fetch(&calendar.external_id, None).await? else {
            return Err(CalendarError::Provider(
                "the feed answered 304 Not Modified to a request that named no version".into(),
            ));
        };
        busy_time(text, calendar, from, to).await
    }

    async fn create_event(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        Err(read_only())
    }

    async fn update_event(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _id: &str,
        _event: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        Err(read_only())
    }

    async fn cancel_event(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _id: &str,
    ) -> Result<(), CalendarError> {
        Err(read_only())
    }

    async fn set_event_end(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _id: &str,
        _end: i64,
    ) -> Result<(), CalendarError> {
        Err(read_only())
    }

    async fn leave_series(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _series: &str,
    ) -> Result<(), CalendarError> {
        Err(read_only())
    }

    async fn watch(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _request: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError> {
        Ok(None)
    }

    async fn renew_watch(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        watch: &Watch,
        _request: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        Ok(watch.clone())
    }

    async fn stop_watch(
        &self,
        _calendar: &CalendarRef,
        _tokens: &dyn TokenStore,
        _watch: &Watch,
    ) -> Result<(), CalendarError> {
        Ok(())
    }

    fn authorization_url(&self, _request: &AuthorizationRequest) -> Option<String> {
        None
    }

    async fn exchange_code(
        &self,
        _code: &str,
        _code_verifier: &str,
        _redirect_uri: &str,
    ) -> Result<Authorized, CalendarError> {
        Err(CalendarError::Invalid("an ICS feed has no sign-in".into()))
    }
}
