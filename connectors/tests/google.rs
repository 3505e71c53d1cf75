//! The Google Calendar connector against the fake Google (real `google-calendar3` client,
//! real HTTP on loopback): sync with paging and sync tokens, events with Meet links, token
//! refresh and the service account, errors as the engine sees them, push channels, OAuth.

use std::sync::Mutex;

use async_trait::async_trait;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use frontdesk_connectors::google::{GoogleCalendar, GoogleSettings};
use frontdesk_connectors::testing::FakeGoogle;
use frontdesk_connectors::testing::google::{
    CLIENT_ID, FakeAttendee, FakeEvent, SERVICE_ACCOUNT_EMAIL, Trouble,
};
use frontdesk_core::domain::calendar::{Interval, Provider, merge};
use frontdesk_core::port::{
    AuthorizationRequest, BusyEvent, Calendar, CalendarError, CalendarRef, EventDraft, OAuthTokens,
    SyncWindow, TokenStore, WatchRequest,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ALICE: &str = "alice@example.com";
/// 2026-03-02T00:00:00Z, a Monday.
const MONDAY: i64 = 1_772_409_600;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn setup() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A calendar reached with its owner's tokens, or with the service account.
fn calendar(id: &str, app_credentials: bool) -> CalendarRef {
    CalendarRef {
        external_id: id.into(),
        app_credentials,
        time_zone: "Asia/Tokyo".into(),
    }
}

fn window() -> SyncWindow {
    SyncWindow {
        from: MONDAY,
        to: MONDAY + 7 * DAY,
    }
}

/// A connection's tokens in memory, remembering what the connector saved.
struct MemoryTokens {
    current: Mutex<OAuthTokens>,
    saved: Mutex<Vec<OAuthTokens>>,
}

impl MemoryTokens {
    fn new(tokens: OAuthTokens) -> MemoryTokens {
        MemoryTokens {
            current: Mutex::new(tokens),
            saved: Mutex::new(Vec::new()),
        }
    }

    fn saved(&self) -> Vec<OAuthTokens> {
        self.saved.lock().unwrap().clone()
    }

    fn access_token(&self) -> String {
        self.current
            .lock()
            .unwrap()
            .access_token
            .expose_secret()
            .to_owned()
    }
}

#[async_trait]
impl TokenStore for MemoryTokens {
    async fn tokens(&self) -> Result<OAuthTokens, CalendarError> {
        Ok(self.current.lock().unwrap().clone())
    }

    async fn save(&self, tokens: &OAuthTokens) -> Result<(), CalendarError> {
        *self.current.lock().unwrap() = tokens.clone();
        self.saved.lock().unwrap().push(tokens.clone());
        Ok(())
    }
}

/// A token store for calendars reached with the service account: never asked.
struct NoTokens;

#[async_trait]
impl TokenStore for NoTokens {
    async fn tokens(&self) -> Result<OAuthTokens, CalendarError> {
        panic!("a service-account calendar must not read a person's tokens")
    }

    async fn save(&self, _: &OAuthTokens) -> Result<(), CalendarError> {
        panic!("a service-account calendar must not save a person's tokens")
    }
}

/// The fake with Alice's calendar (in Tokyo), the connector, and Alice's tokens.
async fn alice() -> (FakeGoogle, GoogleCalendar, MemoryTokens) {
    setup();
    let google = FakeGoogle::start().await;
    google.add_calendar(ALICE, "Asia/Tokyo");
    let tokens = MemoryTokens::new(google.issue_tokens(ALICE));
    let connector = google.connector();
    (google, connector, tokens)
}

/// An RFC 3339 query parameter in seconds since the epoch.
fn instant(param: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(param?)
        .ok()
        .map(|at| at.timestamp())
}

/// A busy event as these tests compare it: its id and time (what it is called and who is
/// invited is the invite tests' business).
fn busy(uid: &str, start: i64, end: i64) -> (String, Interval) {
    (uid.into(), Interval::new(start, end).unwrap())
}

fn sorted(events: Vec<BusyEvent>) -> Vec<(String, Interval)> {
    let mut times: Vec<_> = events.into_iter().map(|e| (e.uid, e.interval)).collect();
    times.sort();
    times
}

fn draft(online_meeting: bool) -> EventDraft {
    EventDraft {
        title: "Interview: Dana".into(),
        description: "Reception will bring Dana up.".into(),
        interval: Interval::new(MONDAY + 10 * HOUR, MONDAY + 11 * HOUR).unwrap(),
        time_zone: "Asia/Tokyo".into(),
        attendees: vec!["dana@example.org".into(), ALICE.into()],
        location: Some("Room Fuji".into()),
        online_meeting,
    }
}

#[tokio::test]
async fn a_full_sync_reads_every_page_and_sync_tokens_then_bring_only_the_changes() {
    let (google, connector, tokens) = alice().await;
    assert_eq!(connector.provider(), Provider::Google);
    google.set_page_size(2);
    for (n, id) in ["e1", "e2", "e3", "e4", "e5"].into_iter().enumerate() {
        let start = MONDAY + n as i64 * DAY + 9 * HOUR;
        google.put_event(ALICE, FakeEvent::timed(id, start, start + HOUR));
    }
    // Tuesday in Tokyo: 2026-03-02T15:00Z to 2026-03-03T15:00Z.
    google.put_event(
        ALICE,
        FakeEvent::all_day("holiday", "2026-03-03", "2026-03-04"),
    );
    google.put_event(
        ALICE,
        FakeEvent::timed("lunch", MONDAY + 12 * HOUR, MONDAY + 13 * HOUR).transparent(),
    );
    google.put_event(
        ALICE,
        FakeEvent::timed("next-month", MONDAY + 30 * DAY, MONDAY + 30 * DAY + HOUR),
    );
    let alice = calendar(ALICE, false);

    let full = connector
        .changes(&alice, &tokens, None, window())
        .await
        .unwrap();

    assert!(full.full);
    let day = |n: i64| MONDAY + n * DAY + 9 * HOUR;
    assert_eq!(
        sorted(full.busy),
        vec![
            busy("e1", day(0), day(0) + HOUR),
            busy("e2", day(1), day(1) + HOUR),
            busy("e3", day(2), day(2) + HOUR),
            busy("e4", day(3), day(3) + HOUR),
            busy("e5", day(4), day(4) + HOUR),
            busy("holiday", MONDAY + 15 * HOUR, MONDAY + DAY + 15 * HOUR),
        ]
    );
    // Seven events in the window, two per page.
    let pages = google.requests_of("calendar.events.list");
    assert_eq!(pages.len(), 4);
    for page in &pages {
        assert_eq!(page.param("singleEvents"), Some("true"));
        assert_eq!(page.param("showDeleted"), Some("false"));
        assert_eq!(instant(page.param("timeMin")), Some(MONDAY));
        assert_eq!(instant(page.param("timeMax")), Some(MONDAY + 7 * DAY));
    }
    let cursor = full.cursor.expect("a full sync ends with a sync token");

    google.put_event(ALICE, FakeEvent::timed("added", day(5), day(5) + 2 * HOUR));
    google.put_event(
        ALICE,
        FakeEvent::timed("e2", day(1) + HOUR, day(1) + 2 * HOUR),
    );
    google.cancel_event(ALICE, "e3");

    let changed = connector
        .changes(&alice, &tokens, Some(&cursor), window())
        .await
        .unwrap();

    assert!(!changed.full);
    assert_eq!(
        sorted(changed.busy),
        vec![
            busy("added", day(5), day(5) + 2 * HOUR),
            busy("e2", day(1) + HOUR, day(1) + 2 * HOUR),
        ]
    );
    assert_eq!(changed.removed, vec!["e3".to_owned()]);
    let incremental = google.requests_of("calendar.events.list").pop().unwrap();
    assert_eq!(incremental.param("syncToken"), Some(cursor.as_str()));
    assert_eq!(incremental.param("timeMin"), None);

    let cursor = changed
        .cursor
        .expect("an incremental sync ends with a sync token");
    let quiet = connector
        .changes(&alice, &tokens, Some(&cursor), window())
        .await
        .unwrap();
    assert!(quiet.busy.is_empty() && quiet.removed.is_empty());
}

#[tokio::test]
async fn an_expired_sync_token_asks_for_a_full_sync() {
    let (google, connector, tokens) = alice().await;
    google.put_event(ALICE, FakeEvent::timed("e1", MONDAY, MONDAY + HOUR));
    let alice = calendar(ALICE, false);
    let cursor = connector
        .changes(&alice, &tokens, None, window())
        .await
        .unwrap()
        .cursor
        .unwrap();

    google.expire_sync_tokens();
    assert_eq!(
        connector
            .changes(&alice, &tokens, Some(&cursor), window())
            .await,
        Err(CalendarError::Gone)
    );

    // A new full sync gives a cursor that works again; a 410 mid-way is Gone as well.
    let cursor = connector
        .changes(&alice, &tokens, None, window())
        .await
        .unwrap()
        .cursor
        .unwrap();
    assert!(
        connector
            .changes(&alice, &tokens, Some(&cursor), window())
            .await
            .is_ok()
    );
    google.trouble([Trouble::Gone]);
    assert_eq!(
        connector
            .changes(&alice, &tokens, Some(&cursor), window())
            .await,
        Err(CalendarError::Gone)
    );
}

#[tokio::test]
async fn an_event_made_with_a_video_meeting_has_a_meet_link_that_survives_an_update() {
    let (google, connector, tokens) = alice().await;
    let alice = calendar(ALICE, false);

    let created = connector
        .create_event(&alice, &tokens, &draft(true))
        .await
        .unwrap();

    let link = created.join_url.clone().expect("a Meet link");
    assert!(link.starts_with("https://meet.google.com/"), "{link}");
    let insert = google.requests_of("calendar.events.insert").pop().unwrap();
    assert_eq!(insert.param("conferenceDataVersion"), Some("1"));
    assert_eq!(insert.param("sendUpdates"), Some("all"));
    let request = &insert.body["conferenceData"]["createRequest"];
    assert_eq!(request["conferenceSolutionKey"]["type"], "hangoutsMeet");
    assert!(
        request["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let stored = google.event(ALICE, &created.id).unwrap();
    assert_eq!(stored["summary"], "Interview: Dana");
    assert_eq!(stored["location"], "Room Fuji");
    assert_eq!(stored["start"]["dateTime"], "2026-03-02T10:00:00Z");
    assert_eq!(stored["start"]["timeZone"], "Asia/Tokyo");
    assert_eq!(
        stored["attendees"],
        // Google marks the organizer's and the calendar owner's own entries.
        json!([{"email": "dana@example.org"}, {"email": ALICE, "organizer": true, "self": true}])
    );

    let mut later = draft(true);
    later.title = "Interview: Dana (moved)".into();
    later.interval = Interval::new(MONDAY + 14 * HOUR, MONDAY + 15 * HOUR).unwrap();
    let updated = connector
        .update_event(&alice, &tokens, &created.id, &later)
        .await
        .unwrap();

    assert_eq!(updated.id, created.id);
    assert_eq!(updated.join_url.as_deref(), Some(link.as_str()));
    let stored = google.event(ALICE, &created.id).unwrap();
    assert_eq!(stored["summary"], "Interview: Dana (moved)");
    assert_eq!(stored["end"]["dateTime"], "2026-03-02T15:00:00Z");
    assert_eq!(
        google.requests_of("calendar.events.update")[0].param("sendUpdates"),
        Some("all")
    );

    // Without a video meeting any more, the link goes.
    let offline = connector
        .update_event(&alice, &tokens, &created.id, &draft(false))
        .await
        .unwrap();
    assert_eq!(offline.join_url, None);
    assert_eq!(
        google.event(ALICE, &created.id).unwrap()["hangoutLink"],
        Value::Null
    );

    connector
        .cancel_event(&alice, &tokens, &created.id)
        .await
        .unwrap();
    assert_eq!(
        google.event(ALICE, &created.id).unwrap()["status"],
        "cancelled"
    );
    let delete = google.requests_of("calendar.events.delete").pop().unwrap();
    assert_eq!(delete.param("sendUpdates"), Some("all"));
    // Cancelling what is already gone (410) or never was (404) is done.
    connector
        .cancel_event(&alice, &tokens, &created.id)
        .await
        .unwrap();
    connector
        .cancel_event(&alice, &tokens, "no-such-event")
        .await
        .unwrap();
}

#[tokio::test]
async fn an_event_without_a_video_meeting_has_no_link() {
    let (google, connector, tokens) = alice().await;
    let created = connector
        .create_event(&calendar(ALICE, false), &tokens, &draft(false))
        .await
        .unwrap();
    assert_eq!(created.join_url, None);
    let insert = google.requests_of("calendar.events.insert").pop().unwrap();
    assert_eq!(insert.body["conferenceData"], Value::Null);
    assert_eq!(
        google.event(ALICE, &created.id).unwrap()["hangoutLink"],
        Value::Null
    );
}

#[tokio::test]
async fn a_refused_token_is_refreshed_saved_and_the_call_made_again() {
    let (google, connector, tokens) = alice().await;
    let old = tokens.access_token();
    google.trouble([Trouble::Unauthorized]);

    let changes = connector
        .changes(&calendar(ALICE, false), &tokens, None, window())
        .await;

    assert!(changes.is_ok(), "{changes:?}");
    let saved = tokens.saved();
    assert_eq!(saved.len(), 1);
    let new = saved[0].access_token.expose_secret().to_owned();
    assert_ne!(new, old);
    assert!(
        saved[0].refresh_token.is_some(),
        "the refresh token is kept"
    );
    assert!(saved[0].expires_at.is_some());
    let lists = google.requests_of("calendar.events.list");
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].authorization, Some(format!("Bearer {old}")));
    assert_eq!(lists[1].authorization, Some(format!("Bearer {new}")));
    let refresh = google.requests_of("oauth2.token").pop().unwrap();
    assert_eq!(refresh.body["grant_type"], "refresh_token");
    assert_eq!(refresh.body["client_id"], CLIENT_ID);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_call() {
    let (google, connector, tokens) = alice().await;
    tokens.current.lock().unwrap().expires_at = Some(0);

    connector
        .changes(&calendar(ALICE, false), &tokens, None, window())
        .await
        .unwrap();

    assert_eq!(tokens.saved().len(), 1);
    assert_eq!(
        google.count("calendar.events.list"),
        1,
        "no refused call first"
    );
    assert_eq!(google.count("oauth2.token"), 1);
}

#[tokio::test]
async fn a_revoked_grant_means_the_person_must_reconnect() {
    let (google, connector, tokens) = alice().await;
    google.revoke(ALICE);

    let changes = connector
        .changes(&calendar(ALICE, false), &tokens, None, window())
        .await;

    assert!(
        matches!(&changes, Err(CalendarError::Unauthorized(why)) if why.contains("invalid_grant")),
        "{changes:?}"
    );
    assert!(tokens.saved().is_empty());
    assert_eq!(
        google.count("calendar.events.list"),
        1,
        "no call after the refusal"
    );
}

#[tokio::test]
async fn rate_limits_say_how_long_to_wait_and_failures_are_worth_retrying() {
    let (google, connector, tokens) = alice().await;
    let alice = calendar(ALICE, false);
    let cases = [
        (
            Trouble::RateLimited {
                retry_after: Some(7),
            },
            CalendarError::RateLimited {
                retry_after_secs: 7,
            },
        ),
        (
            Trouble::QuotaExceeded {
                retry_after: Some(7),
            },
            CalendarError::RateLimited {
                retry_after_secs: 7,
            },
        ),
        (
            Trouble::RateLimited { retry_after: None },
            CalendarError::RateLimited {
                retry_after_secs: 60,
            },
        ),
    ];
    for (trouble, expected) in cases {
        google.trouble([trouble.clone()]);
        assert_eq!(
            connector.changes(&alice, &tokens, None, window()).await,
            Err(expected),
            "{trouble:?}"
        );
    }

    google.trouble([Trouble::ServerError]);
    let failed = connector.create_event(&alice, &tokens, &draft(false)).await;
    assert!(
        matches!(failed, Err(CalendarError::Provider(_))),
        "{failed:?}"
    );
    assert_eq!(
        google.count("calendar.events.insert"),
        1,
        "the engine retries, not us"
    );

    let missing = connector
        .changes(
            &calendar("nobody@example.com", false),
            &tokens,
            None,
            window(),
        )
        .await;
    assert!(
        matches!(missing, Err(CalendarError::NotFound(_))),
        "{missing:?}"
    );
}

/// `[start, end)` as an interval (seconds after `MONDAY`).
fn iv(start: i64, end: i64) -> Interval {
    Interval::new(MONDAY + start, MONDAY + end).unwrap()
}

/// Alice's calendar with busy, overlapping, free, cancelled, declined, all-day and
/// straddling events over Monday and Tuesday (Tokyo's).
fn put_a_mixed_week(google: &FakeGoogle) {
    let events = [
        FakeEvent::timed("standup", MONDAY + 9 * HOUR, MONDAY + 10 * HOUR),
        FakeEvent::timed("review", MONDAY + 9 * HOUR + 1800, MONDAY + 11 * HOUR),
        FakeEvent::timed("lunch", MONDAY + 12 * HOUR, MONDAY + 13 * HOUR).transparent(),
        FakeEvent::timed("dropped", MONDAY + 13 * HOUR, MONDAY + 14 * HOUR),
        FakeEvent::timed("declined", MONDAY + 14 * HOUR, MONDAY + 15 * HOUR)
            .attendees(&[FakeAttendee::person(ALICE, None).answered("declined")]),
        // Tuesday in Tokyo: 2026-03-02T15:00Z to 2026-03-03T15:00Z.
        FakeEvent::all_day("holiday", "2026-03-03", "2026-03-04"),
        FakeEvent::timed("late", MONDAY + 2 * DAY - HOUR, MONDAY + 2 * DAY + HOUR),
    ];
    for event in events {
        google.put_event(ALICE, event);
    }
    google.cancel_event(ALICE, "dropped");
}

#[tokio::test]
async fn free_busy_is_the_time_of_the_busy_events_as_a_sync_would_cache_it() {
    let (google, connector, tokens) = alice().await;
    put_a_mixed_week(&google);
    let alice = calendar(ALICE, false);

    let busy = connector
        .free_busy(&alice, &tokens, MONDAY, MONDAY + 2 * DAY)
        .await
        .unwrap();

    // Overlaps merged; not the lunch shown as available, the cancelled or the declined
    // meeting; the last one cut at the end of the span.
    assert_eq!(
        busy,
        vec![
            iv(9 * HOUR, 11 * HOUR),
            iv(15 * HOUR, DAY + 15 * HOUR),
            iv(2 * DAY - HOUR, 2 * DAY)
        ]
    );
    let asked = google.requests_of("calendar.freebusy.query");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method, "POST");
    assert_eq!(asked[0].path, "/calendar/v3/freeBusy");
    assert_eq!(asked[0].body["items"], json!([{"id": ALICE}]));
    assert_eq!(instant(asked[0].body["timeMin"].as_str()), Some(MONDAY));
    assert_eq!(
        instant(asked[0].body["timeMax"].as_str()),
        Some(MONDAY + 2 * DAY)
    );

    // What a full sync of the same span caches is the same busy time.
    let span = SyncWindow {
        from: MONDAY,
        to: MONDAY + 2 * DAY,
    };
    let synced = connector
        .changes(&alice, &tokens, None, span)
        .await
        .unwrap();
    let cached = synced
        .busy
        .iter()
        .filter_map(|event| event.interval.clip(span.from, span.to))
        .collect();
    assert_eq!(merge(cached), busy);

    // Through the service account too; a calendar Google does not know is not found.
    let with_app = connector
        .free_busy(&calendar(ALICE, true), &NoTokens, MONDAY, MONDAY + DAY)
        .await
        .unwrap();
    assert_eq!(with_app, vec![iv(9 * HOUR, 11 * HOUR), iv(15 * HOUR, DAY)]);
    let missing = connector
        .free_busy(
            &calendar("nobody@example.com", false),
            &tokens,
            MONDAY,
            MONDAY + DAY,
        )
        .await;
    assert!(
        matches!(&missing, Err(CalendarError::NotFound(m)) if m.contains("notFound")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_free_busy_query_refused_for_its_token_is_refreshed_and_asked_again() {
    let (google, connector, tokens) = alice().await;
    google.put_event(ALICE, FakeEvent::timed("standup", MONDAY, MONDAY + HOUR));
    let old = tokens.access_token();
    google.trouble([Trouble::Unauthorized]);

    let busy = connector
        .free_busy(&calendar(ALICE, false), &tokens, MONDAY, MONDAY + DAY)
        .await
        .unwrap();

    assert_eq!(busy, vec![iv(0, HOUR)]);
    let saved = tokens.saved();
    assert_eq!(saved.len(), 1, "the refreshed tokens were saved");
    let new = saved[0].access_token.expose_secret().to_owned();
    let asked = google.requests_of("calendar.freebusy.query");
    assert_eq!(
        asked
            .iter()
            .map(|r| r.authorization.clone())
            .collect::<Vec<_>>(),
        vec![Some(format!("Bearer {old}")), Some(format!("Bearer {new}"))]
    );
}

#[tokio::test]
async fn a_rate_limited_free_busy_query_says_how_long_to_wait_and_an_outage_is_the_providers() {
    let (google, connector, tokens) = alice().await;
    let alice = calendar(ALICE, false);
    let ask = || connector.free_busy(&alice, &tokens, MONDAY, MONDAY + DAY);

    google.trouble([Trouble::RateLimited {
        retry_after: Some(42),
    }]);
    assert_eq!(
        ask().await,
        Err(CalendarError::RateLimited {
            retry_after_secs: 42
        })
    );
    google.trouble([Trouble::QuotaExceeded { retry_after: None }]);
    assert_eq!(
        ask().await,
        Err(CalendarError::RateLimited {
            retry_after_secs: 60
        })
    );
    google.trouble([Trouble::ServerError]);
    assert!(matches!(ask().await, Err(CalendarError::Provider(m)) if m.contains("backendError")));
    assert_eq!(
        google.count("calendar.freebusy.query"),
        3,
        "none retried: the caller decides"
    );
    assert_eq!(ask().await, Ok(vec![]), "answered once Google is back");
}

#[tokio::test]
async fn an_unreachable_google_is_a_provider_failure() {
    setup();
    let address = {
        let google = FakeGoogle::start().await;
        google.settings()
    };
    // The fake is gone: nothing listens on its port any more.
    let connector = GoogleCalendar::new(GoogleSettings {
        service_account: None,
        ..address
    })
    .unwrap();
    let tokens = MemoryTokens::new(OAuthTokens {
        access_token: "ya29.anything".into(),
        refresh_token: None,
        expires_at: None,
    });
    let failed = connector
        .changes(&calendar(ALICE, false), &tokens, None, window())
        .await;
    assert!(
        matches!(failed, Err(CalendarError::Provider(_))),
        "{failed:?}"
    );
}

/// A receiver of push notifications: what arrived, in order.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<HeaderMap>) {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/google",
        axum::routing::post(move |headers: HeaderMap| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(headers);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/google", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_push_channel_opens_delivers_renews_and_stops() {
    let (google, connector, tokens) = alice().await;
    let alice = calendar(ALICE, false);
    let (callback_url, mut received) = receiver().await;
    let expires_at = chrono::Utc::now().timestamp() + 6 * DAY;
    let request = |channel_id: &str| WatchRequest {
        callback_url: callback_url.clone(),
        channel_id: channel_id.into(),
        secret: "channel-secret-1".into(),
        expires_at,
    };

    let watch = connector
        .watch(&alice, &tokens, &request("channel-1"))
        .await
        .unwrap()
        .expect("Google has push channels");

    assert_eq!(watch.id, "channel-1");
    assert_eq!(watch.expires_at, expires_at);
    let resource_id = watch.resource_id.clone().expect("a resource id");
    let opened = google.channels();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].address, callback_url);
    assert_eq!(opened[0].token.as_deref(), Some("channel-secret-1"));
    assert_eq!(opened[0].expiration_ms, expires_at * 1000);

    for number in ["1", "2"] {
        assert_eq!(google.push("channel-1").await, Ok(200));
        let headers = received.recv().await.unwrap();
        assert_eq!(header(&headers, "x-goog-channel-id"), "channel-1");
        assert_eq!(header(&headers, "x-goog-channel-token"), "channel-secret-1");
        assert_eq!(header(&headers, "x-goog-resource-id"), resource_id);
        assert_eq!(header(&headers, "x-goog-resource-state"), "exists");
        assert_eq!(header(&headers, "x-goog-message-number"), number);
        assert!(header(&headers, "x-goog-resource-uri").contains(ALICE));
        assert!(header(&headers, "x-goog-channel-expiration").ends_with("GMT"));
    }

    let renewed = connector
        .renew_watch(&alice, &tokens, &watch, &request("channel-2"))
        .await
        .unwrap();

    assert_eq!(renewed.id, "channel-2");
    let open: Vec<String> = google.channels().into_iter().map(|c| c.id).collect();
    assert_eq!(open, vec!["channel-2".to_owned()]);
    assert!(
        google.push("channel-1").await.is_err(),
        "the old channel is stopped"
    );
    assert_eq!(google.push("channel-2").await, Ok(200));
    assert_eq!(
        header(&received.recv().await.unwrap(), "x-goog-channel-id"),
        "channel-2"
    );
    assert_eq!(
        connector
            .renew_watch(&alice, &tokens, &renewed, &request("channel-2"))
            .await
            .map(|_| ()),
        Err(CalendarError::Invalid(
            "a renewed Google channel needs a new channel id".into()
        ))
    );

    connector
        .stop_watch(&alice, &tokens, &renewed)
        .await
        .unwrap();
    assert!(google.channels().is_empty());
    // Stopping a channel that is already closed is done.
    connector
        .stop_watch(&alice, &tokens, &renewed)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_service_account_acts_as_the_calendars_owner_with_one_cached_token() {
    setup();
    let google = FakeGoogle::start().await;
    let room = "room-fuji@example.com";
    google.add_calendar(room, "UTC");
    google.put_event(room, FakeEvent::timed("booked", MONDAY, MONDAY + HOUR));
    let connector = google.connector();
    let room_calendar = calendar(room, true);

    for _ in 0..2 {
        let changes = connector
            .changes(&room_calendar, &NoTokens, None, window())
            .await
            .unwrap();
        assert_eq!(
            sorted(changes.busy),
            vec![busy("booked", MONDAY, MONDAY + HOUR)]
        );
    }

    let grants = google.requests_of("oauth2.token");
    assert_eq!(
        grants.len(),
        1,
        "the token is reused until it nearly expires"
    );
    assert_eq!(
        grants[0].body["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let assertion = grants[0].body["assertion"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(assertion.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], room);
    assert_eq!(claims["iss"], SERVICE_ACCOUNT_EMAIL);
    assert_eq!(claims["aud"], google.token_url());
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/calendar");
    let lists = google.requests_of("calendar.events.list");
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].authorization, lists[1].authorization);

    // A token Google stops accepting is replaced by a new assertion, and the call made again.
    google.trouble([Trouble::Unauthorized]);
    connector
        .changes(&room_calendar, &NoTokens, None, window())
        .await
        .unwrap();
    assert_eq!(google.count("oauth2.token"), 2);
}

#[tokio::test]
async fn a_person_authorizes_with_pkce_and_the_code_brings_tokens_and_their_calendar() {
    setup();
    let google = FakeGoogle::start().await;
    let connector = google.connector();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let redirect_uri = "https://frontdesk.example.com/calendars/google/callback";

    let url = connector
        .authorization_url(&AuthorizationRequest {
            redirect_uri: redirect_uri.into(),
            state: "state-123".into(),
            code_challenge: challenge.clone(),
            login_hint: Some("bob@example.com".into()),
        })
        .expect("Google is an OAuth provider");

    let parsed = url::Url::parse(&url).unwrap();
    assert!(url.starts_with(&google.auth_url()), "{url}");
    let query: std::collections::HashMap<String, String> =
        parsed.query_pairs().into_owned().collect();
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri),
        ("state", "state-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("login_hint", "bob@example.com"),
    ] {
        assert_eq!(query.get(name).map(String::as_str), Some(value), "{name}");
    }
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    assert!(scopes.contains(&"https://www.googleapis.com/auth/calendar"));
    assert!(scopes.contains(&"openid") && scopes.contains(&"email"));

    // Bob approves: the consent screen sends the browser back with a code and the state.
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let back = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let back: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(back["state"], "state-123");
    let code = &back["code"];

    let wrong = connector
        .exchange_code(code, "not-the-verifier", redirect_uri)
        .await;
    assert!(
        matches!(wrong, Err(CalendarError::Unauthorized(_))),
        "{wrong:?}"
    );

    let code = google.authorize("bob@example.com", &challenge, redirect_uri);
    let authorized = connector
        .exchange_code(&code, verifier, redirect_uri)
        .await
        .unwrap();

    assert_eq!(authorized.external_id, "bob@example.com");
    assert!(authorized.tokens.refresh_token.is_some());
    assert!(authorized.tokens.expires_at.is_some());
    let exchange = google.requests_of("oauth2.token").pop().unwrap();
    assert_eq!(exchange.body["grant_type"], "authorization_code");
    assert_eq!(exchange.body["code_verifier"], verifier);
    // The tokens work for Bob's calendar.
    let bob = MemoryTokens::new(authorized.tokens);
    connector
        .changes(&calendar("bob@example.com", false), &bob, None, window())
        .await
        .unwrap();
    // A code is good once.
    let again = connector.exchange_code(&code, verifier, redirect_uri).await;
    assert!(
        matches!(again, Err(CalendarError::Unauthorized(_))),
        "{again:?}"
    );
}
