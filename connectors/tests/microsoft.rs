//! The Microsoft 365 connector against the fake Graph: delta sync, events with Teams,
//! tokens (refresh, client credentials, sign-in with PKCE), throttling, and subscriptions
//! validated by and delivered to a receiver the test runs.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use frontdesk_connectors::microsoft::{MicrosoftCalendar, MicrosoftRoom};
use frontdesk_connectors::testing::microsoft::{
    ALICE_ID, ALICE_MAIL, FakeGraph, TOKEN_LIFETIME_SECS, Trouble,
};
use frontdesk_core::domain::calendar::{Interval, Provider, merge};
use frontdesk_core::port::{
    AuthorizationRequest, BusyEvent, Calendar, CalendarError, CalendarRef, EventDraft, OAuthTokens,
    SyncWindow, TokenStore, WatchRequest,
};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::mpsc;

const HOUR: i64 = 3600;
/// 2027-01-15 08:00 UTC: events live around here, independent of today.
const T0: i64 = 1_800_000_000 - 1_800_000_000 % HOUR;
const WINDOW: SyncWindow = SyncWindow {
    from: T0 - 24 * HOUR,
    to: T0 + 30 * 24 * HOUR,
};

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A connection's tokens in memory, remembering what was saved.
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
        let current = self.current.lock().unwrap();
        current.access_token.expose_secret().to_owned()
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

/// Tokens no one has: for application access, where the store is never asked.
fn no_tokens() -> MemoryTokens {
    MemoryTokens::new(OAuthTokens {
        access_token: SecretString::from("unused"),
        refresh_token: None,
        expires_at: None,
    })
}

struct Setup {
    fake: FakeGraph,
    graph: MicrosoftCalendar,
    tokens: MemoryTokens,
}

async fn setup() -> Setup {
    install_crypto();
    let fake = FakeGraph::start().await;
    let graph = MicrosoftCalendar::new(fake.settings()).expect("the connector");
    let tokens = MemoryTokens::new(fake.sign_in(ALICE_MAIL));
    Setup {
        fake,
        graph,
        tokens,
    }
}

/// Alice's own calendar, reached with her tokens.
fn alice() -> CalendarRef {
    CalendarRef {
        external_id: ALICE_MAIL.into(),
        app_credentials: false,
        time_zone: "Europe/Berlin".into(),
    }
}

/// A mailbox reached with the application's credentials.
fn mailbox(address: &str) -> CalendarRef {
    CalendarRef {
        external_id: address.into(),
        app_credentials: true,
        time_zone: "Europe/Berlin".into(),
    }
}

/// A busy event as these tests compare it: its id and time (what it is called and who is
/// invited is the invite tests' business).
fn busy(uid: &str, start: i64, end: i64) -> (String, Interval) {
    (uid.into(), Interval::new(start, end).unwrap())
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

fn sorted_busy(events: Vec<BusyEvent>) -> Vec<(String, Interval)> {
    sorted(events.into_iter().map(|e| (e.uid, e.interval)).collect())
}

#[tokio::test]
async fn a_full_sync_pages_through_the_window_and_the_next_sees_an_added_a_moved_and_a_cancelled_event()
 {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let standup = fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR / 4);
    let review = fake.seed_event(ALICE_MAIL, "Review", T0 + 2 * HOUR, T0 + 3 * HOUR);
    let lunch = fake.seed_event(ALICE_MAIL, "Lunch", T0 + 4 * HOUR, T0 + 5 * HOUR);
    let focus = fake.seed_event(ALICE_MAIL, "Focus", T0 + 26 * HOUR, T0 + 28 * HOUR);
    let offsite = fake.seed_event(ALICE_MAIL, "Offsite", T0 + 50 * HOUR, T0 + 58 * HOUR);
    fake.seed_event(
        ALICE_MAIL,
        "Last year",
        T0 - 400 * 24 * HOUR,
        T0 - 399 * 24 * HOUR,
    );

    let full = graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .expect("a full sync");
    assert!(full.full);
    assert_eq!(
        sorted_busy(full.busy),
        sorted(vec![
            busy(&standup, T0, T0 + HOUR / 4),
            busy(&review, T0 + 2 * HOUR, T0 + 3 * HOUR),
            busy(&lunch, T0 + 4 * HOUR, T0 + 5 * HOUR),
            busy(&focus, T0 + 26 * HOUR, T0 + 28 * HOUR),
            busy(&offsite, T0 + 50 * HOUR, T0 + 58 * HOUR),
        ])
    );
    // Five events in pages of two: three requests, each asking for UTC times.
    let pages = fake.requests_to("GET", "/v1.0/me/calendarView/delta");
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages[0].query.contains("startDateTime=2027-01-14T08"));
    assert!(pages[1].query.contains("skiptoken"));
    assert!(
        pages
            .iter()
            .all(|p| p.prefer.contains("outlook.timezone=\"UTC\""))
    );
    let cursor = full.cursor.expect("a delta link to continue from");

    let planning = fake.seed_event(ALICE_MAIL, "Planning", T0 + 6 * HOUR, T0 + 7 * HOUR);
    fake.move_event(&review, T0 + 9 * HOUR, T0 + 10 * HOUR);
    fake.cancel_event(&lunch);
    fake.delete_event(&focus);
    fake.set_show_as(&offsite, "free");

    let since = graph
        .changes(&alice(), &tokens, Some(&cursor), WINDOW)
        .await
        .expect("an incremental sync");
    assert!(!since.full);
    assert_eq!(
        sorted_busy(since.busy),
        sorted(vec![
            busy(&planning, T0 + 6 * HOUR, T0 + 7 * HOUR),
            busy(&review, T0 + 9 * HOUR, T0 + 10 * HOUR),
        ])
    );
    assert_eq!(sorted(since.removed), sorted(vec![lunch, focus, offsite]));
    let cursor = since.cursor.expect("a new delta link");

    let quiet = graph
        .changes(&alice(), &tokens, Some(&cursor), WINDOW)
        .await
        .expect("a sync with nothing new");
    assert!(quiet.busy.is_empty() && quiet.removed.is_empty());
}

#[tokio::test]
async fn an_expired_delta_link_means_a_full_resync() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    let full = graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .unwrap();
    let cursor = full.cursor.unwrap();

    fake.expire_delta_tokens();
    let expired = graph
        .changes(&alice(), &tokens, Some(&cursor), WINDOW)
        .await;
    assert_eq!(expired.unwrap_err(), CalendarError::Gone);

    fake.trouble([Trouble::Gone]);
    let gone = graph.changes(&alice(), &tokens, None, WINDOW).await;
    assert_eq!(gone.unwrap_err(), CalendarError::Gone);

    // A cursor that is not a link into Graph (another endpoint since) resyncs too.
    let foreign = graph
        .changes(
            &alice(),
            &tokens,
            Some("https://elsewhere.example/v1.0/me/calendarView/delta?$deltatoken=x"),
            WINDOW,
        )
        .await;
    assert_eq!(foreign.unwrap_err(), CalendarError::Gone);
    assert_eq!(
        fake.count("GET", "elsewhere"),
        0,
        "no request left for the foreign link"
    );
}

fn meeting(online_meeting: bool) -> EventDraft {
    EventDraft {
        title: "Visit: Dana from Initech".into(),
        description: "Meet at the front desk.".into(),
        // 09:00–10:00 in Berlin (UTC+1 in January).
        interval: Interval::new(T0, T0 + HOUR).unwrap(),
        time_zone: "Europe/Berlin".into(),
        attendees: vec!["dana@initech.test".into(), ALICE_MAIL.into()],
        location: Some("Room Aurora".into()),
        online_meeting,
    }
}

#[tokio::test]
async fn an_event_with_a_teams_meeting_comes_back_with_its_join_link_and_can_be_moved_and_cancelled()
 {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let created = graph
        .create_event(&alice(), &tokens, &meeting(true))
        .await
        .expect("the event");
    let join_url = created.join_url.expect("a Teams link");
    assert!(join_url.starts_with("https://teams.microsoft.com/l/meetup-join/"));

    let posted = fake.requests_to("POST", "/v1.0/me/events");
    assert_eq!(posted.len(), 1);
    let body = &posted[0].body;
    assert_eq!(body["isOnlineMeeting"], Value::Bool(true));
    assert_eq!(body["onlineMeetingProvider"], "teamsForBusiness");
    assert_eq!(body["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(body["start"]["dateTime"], "2027-01-15T09:00:00");
    assert_eq!(
        body["attendees"][0]["emailAddress"]["address"],
        "dana@initech.test"
    );
    assert_eq!(body["location"]["displayName"], "Room Aurora");

    // What Outlook shows: the same instant, in UTC.
    let event = fake.event(&created.id).expect("the event at Graph");
    assert_eq!(event["start"]["dateTime"], "2027-01-15T08:00:00.0000000");
    assert_eq!(event["subject"], "Visit: Dana from Initech");

    let mut moved = meeting(true);
    moved.interval = Interval::new(T0 + 2 * HOUR, T0 + 3 * HOUR).unwrap();
    let updated = graph
        .update_event(&alice(), &tokens, &created.id, &moved)
        .await
        .expect("the move");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.join_url.as_deref(), Some(join_url.as_str()));
    let event = fake.event(&created.id).unwrap();
    assert_eq!(event["start"]["dateTime"], "2027-01-15T10:00:00.0000000");

    let plain = graph
        .create_event(&alice(), &tokens, &meeting(false))
        .await
        .unwrap();
    assert_eq!(plain.join_url, None);

    graph
        .cancel_event(&alice(), &tokens, &created.id)
        .await
        .expect("the cancellation");
    assert_eq!(fake.event(&created.id).unwrap()["isCancelled"], true);
    assert_eq!(fake.count("POST", "/cancel"), 1);
    // Cancelling what is gone already is done.
    graph
        .cancel_event(&alice(), &tokens, "AAMkAGEv-missing")
        .await
        .expect("nothing to cancel is fine");

    let missing = graph
        .update_event(&alice(), &tokens, "AAMkAGEv-missing", &moved)
        .await;
    assert!(
        matches!(missing, Err(CalendarError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_saved_and_the_call_retried_once() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    let before = tokens.access_token();
    fake.expire_access_tokens();

    let full = graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .expect("the sync after a refresh");
    assert_eq!(full.busy.len(), 1);
    assert_eq!(fake.grants("refresh_token"), 1);
    let saved = tokens.saved();
    assert_eq!(saved.len(), 1, "the refreshed tokens were saved");
    let after = saved[0].access_token.expose_secret().to_owned();
    assert_ne!(after, before);
    assert!(saved[0].refresh_token.is_some());
    let delta = fake.requests_to("GET", "calendarView/delta");
    assert_eq!(
        delta.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 200]
    );
    assert_eq!(delta[1].authorization, format!("Bearer {after}"));

    // A 401 of Graph's own (a queued one) is retried the same way.
    fake.trouble([Trouble::Unauthorized]);
    graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .expect("the sync after a second refresh");
    assert_eq!(fake.grants("refresh_token"), 2);

    // Refused again with the new token: retried once only, and the person must reconnect.
    let before = fake.count("GET", "calendarView/delta");
    fake.trouble([Trouble::Unauthorized, Trouble::Unauthorized]);
    let refused = graph.changes(&alice(), &tokens, None, WINDOW).await;
    assert!(
        matches!(&refused, Err(CalendarError::Unauthorized(m)) if m.contains("InvalidAuthenticationToken")),
        "{refused:?}"
    );
    assert_eq!(fake.grants("refresh_token"), 3);
    assert_eq!(fake.count("GET", "calendarView/delta"), before + 2);
}

#[tokio::test]
async fn tokens_known_to_have_expired_are_refreshed_before_the_call() {
    let Setup { fake, graph, .. } = setup().await;
    let mut stale = fake.sign_in(ALICE_ID);
    stale.expires_at = Some(1_600_000_000);
    let tokens = MemoryTokens::new(stale);

    graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .unwrap();
    assert_eq!(fake.grants("refresh_token"), 1);
    assert_eq!(tokens.saved().len(), 1);
    let expires_at = tokens.saved()[0].expires_at.expect("a new expiry");
    assert!(expires_at > 1_600_000_000 + TOKEN_LIFETIME_SECS);
    let delta = fake.requests_to("GET", "calendarView/delta");
    assert_eq!(delta.len(), 1, "no request went out with the old token");
}

#[tokio::test]
async fn a_refresh_that_is_refused_means_connecting_again() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    fake.expire_access_tokens();
    fake.revoke_refresh_tokens();

    let refused = graph.changes(&alice(), &tokens, None, WINDOW).await;
    match refused {
        Err(CalendarError::Unauthorized(message)) => {
            assert!(message.contains("invalid_grant"), "{message}")
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(tokens.saved().is_empty());
    assert_eq!(fake.count("GET", "calendarView/delta"), 1, "no retry");
}

#[tokio::test]
async fn throttling_and_outages_are_told_apart() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let calendar = alice();
    let sync = || graph.changes(&calendar, &tokens, None, WINDOW);

    fake.trouble([Trouble::RateLimited {
        retry_after: Some(7),
    }]);
    assert_eq!(
        sync().await.unwrap_err(),
        CalendarError::RateLimited {
            retry_after_secs: 7
        }
    );
    fake.trouble([Trouble::RateLimited { retry_after: None }]);
    assert_eq!(
        sync().await.unwrap_err(),
        CalendarError::RateLimited {
            retry_after_secs: 60
        }
    );
    // Graph throttles with 503 and Retry-After too; a bare 503 is an outage.
    fake.trouble([Trouble::Unavailable {
        retry_after: Some(5),
    }]);
    assert_eq!(
        sync().await.unwrap_err(),
        CalendarError::RateLimited {
            retry_after_secs: 5
        }
    );
    fake.trouble([Trouble::Unavailable { retry_after: None }]);
    assert!(matches!(sync().await, Err(CalendarError::Provider(m)) if m.contains("503")));
    fake.trouble([Trouble::ServerError]);
    assert!(
        matches!(sync().await, Err(CalendarError::Provider(m)) if m.contains("generalException"))
    );

    assert!(sync().await.is_ok(), "the calendar works once Graph does");
}

fn iv(start: i64, end: i64) -> Interval {
    Interval::new(start, end).unwrap()
}

#[tokio::test]
async fn free_busy_asks_get_schedule_and_counts_every_status_but_free_as_busy() {
    let Setup {
        fake,
        graph,
        tokens,
    } = setup().await;
    fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    fake.seed_event(ALICE_MAIL, "Overlapping", T0 + HOUR / 2, T0 + 3 * HOUR / 2);
    for (n, show_as) in [
        (2, "tentative"),
        (4, "oof"),
        (6, "workingElsewhere"),
        (8, "free"),
    ] {
        let id = fake.seed_event(ALICE_MAIL, show_as, T0 + n * HOUR, T0 + (n + 1) * HOUR);
        fake.set_show_as(&id, show_as);
    }
    let cancelled = fake.seed_event(ALICE_MAIL, "Cancelled", T0 + 10 * HOUR, T0 + 11 * HOUR);
    fake.cancel_event(&cancelled);
    let deleted = fake.seed_event(ALICE_MAIL, "Deleted", T0 + 12 * HOUR, T0 + 13 * HOUR);
    fake.delete_event(&deleted);
    fake.seed_event(ALICE_MAIL, "Late", T0 + 23 * HOUR, T0 + 25 * HOUR);
    let (from, to) = (T0 - HOUR, T0 + 24 * HOUR);

    let busy = graph.free_busy(&alice(), &tokens, from, to).await.unwrap();

    // Tentative, out of office and working elsewhere are busy (as the cache counts them);
    // free, cancelled and deleted are not; overlaps merged; the last cut at the span's end.
    assert_eq!(
        busy,
        vec![
            iv(T0, T0 + 3 * HOUR / 2),
            iv(T0 + 2 * HOUR, T0 + 3 * HOUR),
            iv(T0 + 4 * HOUR, T0 + 5 * HOUR),
            iv(T0 + 6 * HOUR, T0 + 7 * HOUR),
            iv(T0 + 23 * HOUR, T0 + 24 * HOUR),
        ]
    );
    let asked = fake.requests_to("POST", "getSchedule");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/v1.0/me/calendar/getSchedule");
    assert_eq!(asked[0].status, 200);
    let body = &asked[0].body;
    assert_eq!(body["schedules"], serde_json::json!([ALICE_MAIL]));
    assert_eq!(body["startTime"]["dateTime"], "2027-01-15T07:00:00");
    assert_eq!(body["startTime"]["timeZone"], "UTC");
    assert_eq!(body["endTime"]["dateTime"], "2027-01-16T08:00:00");
    assert!(body["availabilityViewInterval"].is_u64());
    assert!(
        asked[0].prefer.contains("outlook.timezone=\"UTC\""),
        "{}",
        asked[0].prefer
    );

    // A full sync of the same span caches the same busy time.
    let span = SyncWindow { from, to };
    let synced = graph.changes(&alice(), &tokens, None, span).await.unwrap();
    let cached = synced
        .busy
        .iter()
        .filter_map(|event| event.interval.clip(from, to))
        .collect();
    assert_eq!(merge(cached), busy);

    // With the application's credentials, the mailbox is addressed by its id.
    fake.add_room("aurora@contoso.test", "Aurora", 8, 3);
    fake.seed_event("aurora@contoso.test", "Board", T0, T0 + 2 * HOUR);
    let room = graph
        .free_busy(&mailbox("aurora@contoso.test"), &no_tokens(), from, to)
        .await
        .unwrap();
    assert_eq!(room, vec![iv(T0, T0 + 2 * HOUR)]);
    assert_eq!(
        fake.requests_to("POST", "getSchedule")[1].path,
        "/v1.0/users/aurora@contoso.test/calendar/getSchedule"
    );
    // A mailbox Graph cannot answer for is said in the answer's body.
    let unknown = CalendarRef {
        external_id: "nobody@contoso.test".into(),
        ..alice()
    };
    let missing = graph.free_busy(&unknown, &tokens, from, to).await;
    assert!(
        matches!(&missing, Err(CalendarError::NotFound(m)) if m.contains("ErrorMailRecipientNotFound")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn free_busy_refreshes_a_rejected_token_once_and_says_how_long_to_wait_when_throttled() {
    let Setup {
        fake,
        graph,
        tokens,
    } = setup().await;
    fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    let (from, to) = (T0, T0 + 24 * HOUR);
    let calendar = alice();
    let ask = || graph.free_busy(&calendar, &tokens, from, to);

    fake.trouble([Trouble::Unauthorized]);
    assert_eq!(ask().await.unwrap(), vec![iv(T0, T0 + HOUR)]);
    assert_eq!(fake.grants("refresh_token"), 1);
    let saved = tokens.saved();
    assert_eq!(saved.len(), 1, "the refreshed tokens were saved");
    let asked = fake.requests_to("POST", "getSchedule");
    assert_eq!(
        asked.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 200]
    );
    assert_eq!(
        asked[1].authorization,
        format!("Bearer {}", saved[0].access_token.expose_secret())
    );

    fake.trouble([Trouble::RateLimited {
        retry_after: Some(7),
    }]);
    assert_eq!(
        ask().await,
        Err(CalendarError::RateLimited {
            retry_after_secs: 7
        })
    );
    fake.trouble([Trouble::Unavailable { retry_after: None }]);
    assert!(matches!(ask().await, Err(CalendarError::Provider(m)) if m.contains("503")));
    fake.trouble([Trouble::ServerError]);
    assert!(
        matches!(ask().await, Err(CalendarError::Provider(m)) if m.contains("generalException"))
    );
    assert_eq!(
        fake.count("POST", "getSchedule"),
        5,
        "only the 401 was retried"
    );
}

#[tokio::test]
async fn graph_that_cannot_be_reached_is_a_provider_failure() {
    install_crypto();
    let fake = FakeGraph::start().await;
    let settings = fake.settings();
    let tokens = MemoryTokens::new(fake.sign_in(ALICE_MAIL));
    drop(fake);
    let graph = MicrosoftCalendar::new(settings).unwrap();
    let unreachable = graph.changes(&alice(), &tokens, None, WINDOW).await;
    assert!(
        matches!(&unreachable, Err(CalendarError::Provider(m)) if m.contains("could not be reached")),
        "{unreachable:?}"
    );
}

/// What the test's notification receiver does with Graph's validation request.
#[derive(Clone, Copy)]
enum Validation {
    Echo,
    WrongAnswer,
}

#[derive(Clone)]
struct Receiver {
    validation: Validation,
    delivered: mpsc::UnboundedSender<Value>,
}

/// A notification endpoint on a loopback port; returns its URL and what it receives.
async fn receiver(validation: Validation) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (delivered, received) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/graph/notifications", post(receive))
        .with_state(Receiver {
            validation,
            delivered,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/graph/notifications",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn receive(
    State(receiver): State<Receiver>,
    Query(query): Query<std::collections::BTreeMap<String, String>>,
    body: String,
) -> Response {
    if let Some(token) = query.get("validationToken") {
        return match receiver.validation {
            Validation::Echo => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain")],
                token.clone(),
            )
                .into_response(),
            Validation::WrongAnswer => (StatusCode::OK, "ok").into_response(),
        };
    }
    let _ = receiver
        .delivered
        .send(serde_json::from_str(&body).unwrap_or(Value::Null));
    StatusCode::ACCEPTED.into_response()
}

async fn next(received: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a delivery within 10 s")
        .expect("the receiver is running")
}

fn watch_request(callback_url: &str, expires_at: i64) -> WatchRequest {
    WatchRequest {
        callback_url: callback_url.into(),
        channel_id: "ignored-by-graph".into(),
        secret: SecretString::from("s3cr3t-client-state"),
        expires_at,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_subscription_is_validated_notifies_with_the_client_state_and_is_renewed_and_deleted() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let event = fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    let (url, mut received) = receiver(Validation::Echo).await;

    // Asked for a month: Graph allows 4230 minutes, so that is what is asked for.
    let watch = graph
        .watch(
            &alice(),
            &tokens,
            &watch_request(&url, now() + 30 * 24 * HOUR),
        )
        .await
        .expect("a subscription")
        .expect("Graph has push");
    assert_eq!(watch.resource_id, None);
    assert!(watch.expires_at <= now() + 4230 * 60);
    assert!(watch.expires_at > now() + 4200 * 60);
    let live = fake.subscriptions();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, watch.id);
    assert_eq!(live[0].resource, "me/events");
    assert_eq!(live[0].change_type, "created,updated,deleted");
    assert_eq!(live[0].client_state.as_deref(), Some("s3cr3t-client-state"));
    assert_eq!(
        live[0].lifecycle_notification_url.as_deref(),
        Some(url.as_str())
    );

    let status = fake.notify(&watch.id).await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    let notification = next(&mut received).await;
    let change = &notification["value"][0];
    assert_eq!(change["subscriptionId"], watch.id.as_str());
    assert_eq!(change["clientState"], "s3cr3t-client-state");
    assert_eq!(change["changeType"], "updated");
    assert_eq!(change["resourceData"]["id"], event.as_str());

    fake.lifecycle(&watch.id, "reauthorizationRequired")
        .await
        .unwrap();
    let notice = next(&mut received).await;
    assert_eq!(
        notice["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    assert_eq!(notice["value"][0]["clientState"], "s3cr3t-client-state");
    assert_eq!(notice["value"][0]["subscriptionId"], watch.id.as_str());

    let sooner = now() + 2 * 24 * HOUR;
    let renewed = graph
        .renew_watch(&alice(), &tokens, &watch, &watch_request(&url, sooner))
        .await
        .expect("the renewal");
    assert_eq!(renewed.id, watch.id);
    assert_eq!(renewed.expires_at, sooner);
    assert_eq!(fake.subscriptions()[0].expires_at, sooner);
    assert_eq!(fake.count("PATCH", "/subscriptions/"), 1);

    graph
        .stop_watch(&alice(), &tokens, &watch)
        .await
        .expect("the deletion");
    assert!(fake.subscriptions().is_empty());
    // Stopping it twice is fine: it is gone either way.
    graph.stop_watch(&alice(), &tokens, &watch).await.unwrap();
}

#[tokio::test]
async fn a_subscription_graph_removed_is_opened_again_on_renewal() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let (url, mut received) = receiver(Validation::Echo).await;
    let request = watch_request(&url, now() + 2 * 24 * HOUR);
    let watch = graph
        .watch(&alice(), &tokens, &request)
        .await
        .unwrap()
        .unwrap();

    fake.lifecycle(&watch.id, "subscriptionRemoved")
        .await
        .unwrap();
    let notice = next(&mut received).await;
    assert_eq!(notice["value"][0]["lifecycleEvent"], "subscriptionRemoved");
    assert!(fake.subscriptions().is_empty());

    let reopened = graph
        .renew_watch(&alice(), &tokens, &watch, &request)
        .await
        .expect("a new subscription");
    assert_ne!(reopened.id, watch.id);
    assert_eq!(fake.subscriptions().len(), 1);
    assert_eq!(fake.subscriptions()[0].id, reopened.id);
}

#[tokio::test]
async fn a_receiver_that_does_not_echo_the_validation_token_gets_no_subscription() {
    let Setup {
        fake,
        graph,
        tokens,
        ..
    } = setup().await;
    let (url, _received) = receiver(Validation::WrongAnswer).await;
    let refused = graph
        .watch(&alice(), &tokens, &watch_request(&url, now() + 24 * HOUR))
        .await;
    match refused {
        Err(CalendarError::Invalid(message)) => {
            assert!(message.contains("validation"), "{message}")
        }
        other => panic!("expected a validation failure, got {other:?}"),
    }
    assert!(fake.subscriptions().is_empty());
}

#[tokio::test]
async fn application_access_reads_a_room_mailbox_with_one_cached_client_credentials_token() {
    let Setup { fake, graph, .. } = setup().await;
    fake.add_room("aurora@contoso.test", "Aurora", 8, 3);
    fake.add_room("borealis@contoso.test", "Borealis", 4, -1);
    let booked = fake.seed_event("aurora@contoso.test", "Board", T0, T0 + 2 * HOUR);
    let store = no_tokens();
    let aurora = mailbox("aurora@contoso.test");

    let full = graph.changes(&aurora, &store, None, WINDOW).await.unwrap();
    assert_eq!(
        sorted_busy(full.busy),
        vec![busy(&booked, T0, T0 + 2 * HOUR)]
    );
    let rooms = graph.room_mailboxes().await.expect("the rooms");
    assert_eq!(
        rooms,
        vec![
            MicrosoftRoom {
                email: "aurora@contoso.test".into(),
                display_name: "Aurora".into(),
                capacity: Some(8),
                floor_number: Some(3),
            },
            MicrosoftRoom {
                email: "borealis@contoso.test".into(),
                display_name: "Borealis".into(),
                capacity: Some(4),
                floor_number: Some(-1),
            },
        ]
    );
    assert_eq!(fake.grants("client_credentials"), 1, "the token was cached");
    let token = fake.requests_to("POST", "/oauth2/v2.0/token");
    assert_eq!(
        token[0].body["scope"],
        "https://graph.microsoft.com/.default"
    );
    let delta = fake.requests_to("GET", "calendarView/delta");
    assert_eq!(
        delta[0].path,
        "/v1.0/users/aurora@contoso.test/calendarView/delta()"
    );
    assert!(delta[0].authorization.starts_with("Bearer app-"));
    assert_eq!(fake.count("GET", "/v1.0/places/microsoft.graph.room"), 1);

    // A 401 renews the application token, once.
    fake.trouble([Trouble::Unauthorized]);
    graph.changes(&aurora, &store, None, WINDOW).await.unwrap();
    assert_eq!(fake.grants("client_credentials"), 2);
    assert!(store.saved().is_empty(), "no person's tokens involved");

    let (url, _received) = receiver(Validation::Echo).await;
    graph
        .watch(&aurora, &store, &watch_request(&url, now() + 24 * HOUR))
        .await
        .unwrap();
    assert_eq!(
        fake.subscriptions()[0].resource,
        "/users/aurora@contoso.test/events"
    );

    // A wrong client secret is the operator's to fix: not authorized, and said why.
    let mut settings = fake.settings();
    settings.client_secret = SecretString::from("not-the-secret");
    let misconfigured = MicrosoftCalendar::new(settings).unwrap();
    let refused = misconfigured.room_mailboxes().await;
    assert!(
        matches!(&refused, Err(CalendarError::Unauthorized(m)) if m.contains("invalid_client")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn signing_in_goes_through_pkce_and_connects_the_persons_mailbox() {
    let Setup { fake, graph, .. } = setup().await;
    assert_eq!(graph.provider(), Provider::Microsoft);
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
    let redirect_uri = "https://frontdesk.example/oauth/microsoft/callback";
    let url = graph
        .authorization_url(&AuthorizationRequest {
            redirect_uri: redirect_uri.into(),
            state: "state-123".into(),
            code_challenge: challenge.as_str().into(),
            login_hint: Some(ALICE_MAIL.into()),
        })
        .expect("Microsoft signs in with OAuth");
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(
        parsed.as_str().split('?').next(),
        Some(fake.authorize_url().as_str())
    );
    let query: std::collections::BTreeMap<String, String> =
        parsed.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"], challenge.as_str());
    assert_eq!(query["state"], "state-123");
    assert_eq!(query["login_hint"], ALICE_MAIL);
    assert_eq!(query["redirect_uri"], redirect_uri);
    assert!(query["scope"].contains("offline_access"));
    assert!(query["scope"].contains("Calendars.ReadWrite"));

    // The person signs in; the identity platform sends the browser back with a code.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    let back = reqwest::Url::parse(
        answer.headers()[header::LOCATION.as_str()]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let back: std::collections::BTreeMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(back["state"], "state-123");

    // A verifier that is not the challenge's is refused.
    let forged = graph
        .exchange_code(
            &back["code"],
            "some-other-verifier-of-enough-length-0123456",
            redirect_uri,
        )
        .await;
    assert!(matches!(forged, Err(CalendarError::Unauthorized(m)) if m.contains("invalid_grant")));

    // A fresh code (the forged attempt used up the first) with the right verifier.
    let answer = browser.get(&url).send().await.unwrap();
    let back = reqwest::Url::parse(
        answer.headers()[header::LOCATION.as_str()]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let authorized = graph
        .exchange_code(&code, verifier, redirect_uri)
        .await
        .expect("the tokens");
    assert_eq!(authorized.external_id, ALICE_MAIL);
    assert!(authorized.tokens.refresh_token.is_some());
    assert!(authorized.tokens.expires_at.is_some());
    let exchange = fake.requests_to("POST", "/oauth2/v2.0/token");
    assert_eq!(exchange.last().unwrap().body["code_verifier"], verifier);

    let tokens = MemoryTokens::new(authorized.tokens);
    fake.seed_event(ALICE_MAIL, "Stand-up", T0, T0 + HOUR);
    let full = graph
        .changes(&alice(), &tokens, None, WINDOW)
        .await
        .unwrap();
    assert_eq!(full.busy.len(), 1, "the new tokens reach the calendar");
}
