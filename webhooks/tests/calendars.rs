//! Calendars over HTTP (in-process, the whole middleware stack), on SQLite and PostgreSQL:
//! rooms and ICS feeds connected through the admin API and synced by the real ICS connector
//! from a feed server on loopback (ETag, Last-Modified, a malformed feed, an oversized one),
//! the sync state admins see, the free/busy check of the built-in calendar and of a feed,
//! Graph's validation handshake, refused Google pushes, the private ICS feed of the built-in
//! calendar, and the OAuth callback page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use frontdesk_connectors::ics_feed::IcsFeeds;
use frontdesk_core::domain::calendar::{Interval, Owner};
use frontdesk_core::engine::calendar::RECONCILE_EVERY;
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::port::{Calendars, Ports};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner, test_settings};
use frontdesk_webhooks::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// ICS feeds served on loopback by name, with ETags (or, for those given a date, with
/// `Last-Modified` only, as plain file servers do); counts requests and 304s and keeps the
/// conditional headers each request carried.
#[derive(Default)]
struct Feeds {
    bodies: Mutex<HashMap<String, String>>,
    /// Feed name → its `Last-Modified` (an HTTP date).
    dated: Mutex<HashMap<String, String>>,
    requests: Mutex<usize>,
    not_modified: Mutex<usize>,
    /// `(If-None-Match, If-Modified-Since)` of every request.
    conditions: Mutex<Vec<(Option<String>, Option<String>)>>,
}

struct FeedServer {
    url: String,
    feeds: Arc<Feeds>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FeedServer {
    async fn start() -> FeedServer {
        async fn serve(
            State(feeds): State<Arc<Feeds>>,
            Path(name): Path<String>,
            headers: HeaderMap,
        ) -> Response {
            *feeds.requests.lock().unwrap() += 1;
            let text = |name| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            feeds
                .conditions
                .lock()
                .unwrap()
                .push((text(header::IF_NONE_MATCH), text(header::IF_MODIFIED_SINCE)));
            let Some(body) = feeds.bodies.lock().unwrap().get(&name).cloned() else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let dated = feeds.dated.lock().unwrap().get(&name).cloned();
            if let Some(last_modified) = dated {
                let date = |text: &str| chrono::DateTime::parse_from_rfc2822(text).ok();
                let since = text(header::IF_MODIFIED_SINCE);
                if let (Some(since), Some(modified)) =
                    (since.as_deref().and_then(date), date(&last_modified))
                    && modified <= since
                {
                    *feeds.not_modified.lock().unwrap() += 1;
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                return (
                    [
                        (header::LAST_MODIFIED, last_modified),
                        (header::CONTENT_TYPE, "text/calendar".into()),
                    ],
                    body,
                )
                    .into_response();
            }
            let etag = format!(
                "\"{:x}\"",
                body.len() * 31 + body.bytes().map(usize::from).sum::<usize>()
            );
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str())
            {
                *feeds.not_modified.lock().unwrap() += 1;
                return StatusCode::NOT_MODIFIED.into_response();
            }
            (
                [
                    (header::ETAG, etag),
                    (header::CONTENT_TYPE, "text/calendar".into()),
                ],
                body,
            )
                .into_response()
        }
        let feeds = Arc::new(Feeds::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/feeds/{name}", axum::routing::get(serve))
            .with_state(feeds.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FeedServer { url, feeds, server }
    }

    fn set(&self, name: &str, body: &str) {
        self.feeds
            .bodies
            .lock()
            .unwrap()
            .insert(name.into(), body.into());
    }

    /// Serves `name` dated `last_modified` (an HTTP date), without an ETag.
    fn set_dated(&self, name: &str, body: &str, last_modified: &str) {
        self.set(name, body);
        self.feeds
            .dated
            .lock()
            .unwrap()
            .insert(name.into(), last_modified.into());
    }

    fn url_of(&self, name: &str) -> String {
        format!("{}/feeds/{name}", self.url)
    }
}

/// A feed with one event at `start`–`end` (UTC, `YYYYMMDDTHHMMSS`).
fn feed(start: &str, end: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:one@test\r\n\
         DTSTART:{start}Z\r\nDTEND:{end}Z\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

struct Api {
    router: Router,
    engine: Engine,
    clock: Arc<ManualClock>,
    cookie: String,
    tenant_id: i64,
}

impl Api {
    async fn new(t: &TestDb, max_feed_bytes: u64) -> Api {
        let TestEngine { engine, clock, .. } =
            TestEngine::with_settings(t, Settings { ..test_settings() });
        let ports = Ports {
            calendars: Calendars::default().with(Arc::new(IcsFeeds::new(max_feed_bytes).unwrap())),
            ..engine.ports.clone()
        };
        let engine = Engine::new(engine.db.clone(), ports, test_settings());
        let (tenant, owner) = acme_owner(&engine).await;
        let router = app(AppState::new(engine.clone(), vec![]));
        let mut api = Api {
            router,
            engine,
            clock,
            cookie: String::new(),
            tenant_id: tenant.id,
        };
        let login = api
            .call(Method::POST, "/api/v1/auth/login", Some(json!({"tenant": "acme", "email": owner.account.email, "password": "Blue-Kiosk-4821"})))
            .await;
        assert_eq!(login.0, StatusCode::OK, "{}", login.2);
        api.cookie = login.1[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        api
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookie.is_empty() {
            request = request.header(header::COOKIE, &self.cookie);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, body)
    }

    async fn employee(&self, email: &str) -> i64 {
        let body = json!({"email": email, "name": email, "name_kana": "", "department": "", "time_zone": "UTC",
                          "language": "en", "notification": "email", "chat_identities": {}});
        let (status, _, created) = self
            .call(Method::POST, "/api/v1/employees", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_i64().unwrap()
    }

    async fn calendar_of(&self, employee_id: i64) -> Value {
        let (status, _, list) = self
            .call(
                Method::GET,
                &format!("/api/v1/calendars?employee_id={employee_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list[0].clone()
    }
}

storage_tests! {
    async fn an_ics_feed_is_connected_synced_and_its_failures_shown_while_its_last_good_data_stays(t: &TestDb) {
        let feeds = FeedServer::start().await;
        let api = Api::new(t, 64 * 1024).await;
        let (alice, bob) = (api.employee("alice@acme.example").await, api.employee("bob@acme.example").await);
        // The test clock starts 2026-11-25T00:00Z.
        feeds.set("alice.ics", &feed("20261125T090000", "20261125T100000"));
        feeds.set("bob.ics", &feed("20261125T120000", "20261125T130000"));
        for (id, name) in [(alice, "alice.ics"), (bob, "bob.ics")] {
            let (status, _, connected) = api
                .call(Method::POST, "/api/v1/calendars", Some(json!({"employee_id": id, "provider": "ics", "url": feeds.url_of(name)})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{connected}");
            assert_eq!(connected["provider"], "ics");
        }
        assert_eq!(api.engine.sync_due_calendars().await.unwrap(), 2);
        let status = api.calendar_of(alice).await;
        assert_eq!(status["events"], 1, "{status}");
        assert_eq!(status["stale"], false);
        assert!(status["last_error"].is_null());
        let now = api.engine.ports.clock.now().timestamp();
        let day = |h: i64| now + h * 3600;
        let busy = api.engine.busy(api.tenant_id, Owner::Employee(alice), now, now + 86_400).await.unwrap();
        assert_eq!(busy.intervals, vec![Interval::new(day(9), day(10)).unwrap()]);

        // Unchanged: the conditional request gets a 304 and changes nothing.
        api.clock.advance(RECONCILE_EVERY);
        api.engine.sync_due_calendars().await.unwrap();
        assert_eq!(*feeds.feeds.not_modified.lock().unwrap(), 2);

        // Alice's feed breaks: the error is shown (with the line), her last good data stays,
        // and Bob's feed is unaffected.
        feeds.set("alice.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:yesterday\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        feeds.set("bob.ics", &feed("20261125T140000", "20261125T150000"));
        api.clock.advance(RECONCILE_EVERY);
        api.engine.sync_due_calendars().await.unwrap();
        let status = api.calendar_of(alice).await;
        let error = status["last_error"].as_str().unwrap();
        assert!(error.starts_with("the feed cannot be read: line 3:"), "{error}");
        assert_eq!(status["stale"], true);
        assert_eq!(status["events"], 1);
        let busy = api.engine.busy(api.tenant_id, Owner::Employee(alice), now, now + 86_400).await.unwrap();
        assert_eq!(busy.intervals, vec![Interval::new(day(9), day(10)).unwrap()]);
        assert!(busy.stale);
        let bob_busy = api.engine.busy(api.tenant_id, Owner::Employee(bob), now, now + 86_400).await.unwrap();
        assert_eq!(bob_busy.intervals, vec![Interval::new(day(14), day(15)).unwrap()]);
        assert!(!bob_busy.stale);
        // The tenant-wide list shows admins where sync fails.
        let (_, _, all) = api.call(Method::GET, "/api/v1/calendars", None).await;
        assert_eq!(all.as_array().unwrap().iter().filter(|c| c["stale"] == true).count(), 1, "{all}");

        // Too large: refused with the limit named.
        feeds.set("alice.ics", &"X".repeat(70 * 1024));
        api.clock.advance(Duration::hours(1));
        api.engine.sync_due_calendars().await.unwrap();
        let status = api.calendar_of(alice).await;
        assert_eq!(status["last_error"], "the feed is larger than the limit of 65536 bytes");

        // Fixed: synced again, no longer stale.
        feeds.set("alice.ics", &feed("20261125T160000", "20261125T170000"));
        api.clock.advance(Duration::hours(1));
        api.engine.sync_due_calendars().await.unwrap();
        let status = api.calendar_of(alice).await;
        assert!(status["last_error"].is_null(), "{status}");
        assert_eq!(status["stale"], false);
    }

    async fn a_feed_dated_by_last_modified_is_asked_if_modified_since_and_a_304_keeps_its_data(t: &TestDb) {
        let feeds = FeedServer::start().await;
        let api = Api::new(t, 64 * 1024).await;
        let alice = api.employee("alice@acme.example").await;
        // The test clock starts 2026-11-25T00:00Z.
        feeds.set_dated("alice.ics", &feed("20261125T090000", "20261125T100000"), "Tue, 24 Nov 2026 08:00:00 GMT");
        let (status, _, connected) = api
            .call(Method::POST, "/api/v1/calendars", Some(json!({"employee_id": alice, "provider": "ics", "url": feeds.url_of("alice.ics")})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{connected}");
        assert_eq!(api.engine.sync_due_calendars().await.unwrap(), 1);
        let now = api.engine.ports.clock.now().timestamp();
        let day = |h: i64| now + h * 3600;
        let busy = async || api.engine.busy(api.tenant_id, Owner::Employee(alice), now, now + 86_400).await.unwrap();
        assert_eq!(busy().await.intervals, vec![Interval::new(day(9), day(10)).unwrap()]);

        // The next fetch names the stored date; the feed answers 304 and the data stays, fresh.
        api.clock.advance(RECONCILE_EVERY);
        assert_eq!(api.engine.sync_due_calendars().await.unwrap(), 1);
        let conditions = feeds.feeds.conditions.lock().unwrap().clone();
        assert_eq!(conditions, vec![
            (None, None),
            (None, Some("Tue, 24 Nov 2026 08:00:00 GMT".to_string())),
        ]);
        assert_eq!(*feeds.feeds.not_modified.lock().unwrap(), 1);
        let status = api.calendar_of(alice).await;
        assert_eq!(status["events"], 1, "{status}");
        assert!(status["last_error"].is_null(), "{status}");
        assert_eq!(status["stale"], false);
        let seen = busy().await;
        assert_eq!(seen.intervals, vec![Interval::new(day(9), day(10)).unwrap()]);
        assert!(!seen.stale);
        // Checking it against the feed fetches the feed whole, whatever the cache holds.
        let (status, _, check) = api
            .call(Method::GET, &format!("/api/v1/calendars/{}/free-busy?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z", status["id"]), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert_eq!(check["provider"], "ics");
        assert_eq!(check["provider_busy"], json!([{"start": "2026-11-25T09:00:00Z", "end": "2026-11-25T10:00:00Z"}]));
        assert_eq!(check["agrees"], true, "{check}");
        assert_eq!(feeds.feeds.conditions.lock().unwrap().last(), Some(&(None, None)));

        // A newer version is fetched whole and replaces the old.
        feeds.set_dated("alice.ics", &feed("20261125T110000", "20261125T120000"), "Wed, 25 Nov 2026 06:00:00 GMT");
        api.clock.advance(RECONCILE_EVERY);
        assert_eq!(api.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(*feeds.feeds.not_modified.lock().unwrap(), 1);
        assert_eq!(busy().await.intervals, vec![Interval::new(day(11), day(12)).unwrap()]);
    }

    async fn connecting_refuses_bad_input_with_the_field_named(t: &TestDb) {
        let api = Api::new(t, 1024).await;
        let alice = api.employee("alice@acme.example").await;
        let cases = [
            (json!({"employee_id": alice, "provider": "ics", "url": "http://example.com/a.ics"}), StatusCode::UNPROCESSABLE_ENTITY, Some("url")),
            (json!({"employee_id": alice, "provider": "ics"}), StatusCode::UNPROCESSABLE_ENTITY, Some("url")),
            (json!({"employee_id": alice, "provider": "outlook"}), StatusCode::UNPROCESSABLE_ENTITY, Some("provider")),
            (json!({"employee_id": alice, "room": "room-a", "provider": "ics", "url": "https://x.example/a.ics"}), StatusCode::UNPROCESSABLE_ENTITY, Some("owner")),
            (json!({"employee_id": 99_999, "provider": "ics", "url": "https://x.example/a.ics"}), StatusCode::NOT_FOUND, None),
            (json!({"room": "nowhere", "provider": "ics", "url": "https://x.example/a.ics"}), StatusCode::NOT_FOUND, None),
            // Google is not configured on this server.
            (json!({"employee_id": alice, "provider": "google", "calendar_id": "alice@acme.example"}), StatusCode::CONFLICT, None),
        ];
        for (body, expected, field) in cases {
            let (status, headers, problem) = api.call(Method::POST, "/api/v1/calendars", Some(body.clone())).await;
            assert_eq!(status, expected, "{body} → {problem}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            if let Some(field) = field {
                assert_eq!(problem["field"], field, "{problem}");
            }
        }
        let (_, _, all) = api.call(Method::GET, "/api/v1/calendars", None).await;
        assert_eq!(all, json!([]), "nothing was written");

        let (status, _, room) = api
            .call(Method::POST, "/api/v1/rooms", Some(json!({"slug": "room-a", "name": "Room A", "capacity": 6, "time_zone": "Asia/Tokyo"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{room}");
        let (status, _, problem) = api
            .call(Method::POST, "/api/v1/rooms", Some(json!({"slug": "room-b", "name": "Room B", "capacity": 0, "time_zone": "Asia/Tokyo"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["field"], "capacity");
        let (status, _, connected) = api
            .call(Method::POST, "/api/v1/calendars", Some(json!({"room": "room-a", "provider": "ics", "url": "webcal://rooms.example/room-a.ics"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{connected}");
        assert_eq!(connected["room_id"], room["id"]);
    }

    async fn the_built_in_calendar_has_events_and_a_private_feed_that_can_be_revoked(t: &TestDb) {
        let api = Api::new(t, 1024).await;
        let alice = api.employee("alice@acme.example").await;
        let (status, _, event) = api
            .call(Method::POST, "/api/v1/calendar-events", Some(json!({"employee_id": alice, "start": "2026-11-25T09:00:00Z", "end": "2026-11-25T10:00:00Z", "title": "面談 / Interview"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{event}");
        let (_, _, listed) = api
            .call(Method::GET, &format!("/api/v1/calendar-events?employee_id={alice}&from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z"), None)
            .await;
        assert_eq!(listed[0]["title"], "面談 / Interview");

        // Its free/busy check is answered from the database: it agrees with itself.
        let built_in = api.calendar_of(alice).await;
        assert_eq!(built_in["provider"], "local");
        let free_busy = format!("/api/v1/calendars/{}/free-busy", built_in["id"]);
        let (status, _, check) = api
            .call(Method::GET, &format!("{free_busy}?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{check}");
        let busy = json!([{"start": "2026-11-25T09:00:00Z", "end": "2026-11-25T10:00:00Z"}]);
        assert_eq!(check["provider_busy"], busy, "{check}");
        assert_eq!(check["cached_busy"], busy);
        assert_eq!((check["agrees"].clone(), check["stale"].clone()), (json!(true), json!(false)));
        // More than 62 days, or backwards: 422 naming `to`; an unknown calendar: 404.
        for span in ["from=2026-11-25T00:00:00Z&to=2027-01-26T00:00:01Z", "from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z"] {
            let (status, _, problem) = api.call(Method::GET, &format!("{free_busy}?{span}"), None).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
            assert_eq!(problem["field"], "to", "{problem}");
        }
        let (status, _, _) = api
            .call(Method::GET, "/api/v1/calendars/99999/free-busy?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, _, issued) = api.call(Method::POST, "/api/v1/calendar-feeds", Some(json!({"employee_id": alice}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let url = issued["url"].as_str().unwrap();
        let path = url.strip_prefix("http://127.0.0.1:8080").unwrap();
        let (status, headers, ics) = api.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
        let ics = ics.as_str().unwrap();
        assert!(ics.contains("SUMMARY:面談 / Interview") && ics.contains("DTSTART:20261125T090000Z"), "{ics}");

        let (status, _, _) = api.call(Method::DELETE, &format!("/api/v1/calendar-feeds?employee_id={alice}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(api.call(Method::GET, path, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.call(Method::GET, "/ics/guessed.ics", None).await.0, StatusCode::NOT_FOUND);

        let uid = event["uid"].as_str().unwrap();
        let (status, _, _) = api.call(Method::DELETE, &format!("/api/v1/calendar-events/{uid}?employee_id={alice}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = api.call(Method::DELETE, &format!("/api/v1/calendar-events/{uid}?employee_id={alice}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn push_endpoints_answer_the_handshake_and_refuse_what_they_cannot_verify(t: &TestDb) {
        let mut api = Api::new(t, 1024).await;
        api.cookie.clear();
        let (status, headers, token) = api
            .call(Method::POST, "/webhooks/microsoft/notifications?validationToken=abc%20def", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
        assert_eq!(token, "abc def");
        // A notification for a subscription nobody has is acknowledged and ignored.
        let (status, _, _) = api
            .call(Method::POST, "/webhooks/microsoft/notifications", Some(json!({"value": [{"subscriptionId": "s1", "clientState": "x", "changeType": "updated"}]})))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, _, _) = api.call(Method::POST, "/webhooks/microsoft/notifications", Some(json!({"nope": 1}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let push = |channel: &'static str| {
            Request::builder()
                .method(Method::POST)
                .uri("/webhooks/google/push")
                .header("x-goog-channel-id", channel)
                .header("x-goog-channel-token", "guess")
                .header("x-goog-resource-state", "exists")
                .header("x-goog-message-number", "2")
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(api.router.clone().oneshot(push("unknown")).await.unwrap().status(), StatusCode::NOT_FOUND);
        let bare = Request::builder().method(Method::POST).uri("/webhooks/google/push").body(Body::empty()).unwrap();
        assert_eq!(api.router.clone().oneshot(bare).await.unwrap().status(), StatusCode::BAD_REQUEST);
    }

    async fn the_oauth_callback_page_says_why_a_connection_did_not_happen(t: &TestDb) {
        let mut api = Api::new(t, 1024).await;
        api.cookie.clear();
        let (status, headers, page) = api.call(Method::GET, "/oauth/google/callback?state=forged&code=x", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        // In the visitor's language (Japanese without an Accept-Language).
        assert!(page.as_str().unwrap().contains("もう一度連携を始めてください"), "{page}");
        let (status, _, page) = api.call(Method::GET, "/oauth/google/callback?error=access_denied&state=s", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.as_str().unwrap().contains("許可されなかった"), "{page}");
        assert_eq!(api.call(Method::GET, "/oauth/yahoo/callback?state=s&code=c", None).await.0, StatusCode::NOT_FOUND);
    }
}
