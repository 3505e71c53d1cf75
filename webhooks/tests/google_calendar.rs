//! Google Calendar end to end, on SQLite and PostgreSQL: the server on a loopback socket,
//! the real Google connector pointed at the fake Google. An admin connects Alice's own
//! account through OAuth (PKCE); her busy time is synced; a change at Google is pushed,
//! verified and synced incrementally; an expired sync token leads to a full resync with
//! nothing duplicated; a 401 is followed by a token refresh; an event is created with a
//! Meet link through the outbox; an admin checks the cached busy time against Google's
//! free/busy.

mod calendar_support;

use std::sync::Arc;

use calendar_support::{Setup, iv};
use chrono::Duration;
use frontdesk_connectors::testing::google::{FakeEvent, FakeGoogle, Trouble};
use frontdesk_core::engine::calendar::RECONCILE_EVERY;
use frontdesk_core::port::EventDraft;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::TestDb;
use serde_json::json;

storage_tests! {
    async fn a_connected_google_calendar_is_synced_pushed_resynced_and_refreshed(t: &TestDb) {
        let google = FakeGoogle::start().await;
        let s = Setup::start(t, Arc::new(google.connector())).await;
        let now = s.now();
        let (alice_id, alice) = s.alice_connected("google", "alice@acme.example").await;
        google.put_event("alice@acme.example", FakeEvent::timed("standup", now + 3600, now + 5400));
        google.put_event("alice@acme.example", FakeEvent::timed("lunch", now + 10_800, now + 14_400).transparent());
        google.put_event("alice@acme.example", FakeEvent::timed("review", now + 86_400, now + 90_000));

        // The first sync reads everything (several pages); transparent time is not busy.
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 3600, now + 5400), iv(now + 86_400, now + 90_000)]);
        let status = s.status_of(alice_id).await;
        assert_eq!(status["provider"], "google");
        assert_eq!(status["stale"], false);

        // A push channel is opened to this server; a change at Google is pushed, verified,
        // and synced incrementally.
        s.engine.renew_calendar_watches().await.unwrap();
        let channel = google.channels().pop().expect("a channel");
        assert_eq!(channel.address, format!("{}/webhooks/google/push", s.url));
        google.put_event("alice@acme.example", FakeEvent::timed("review", now + 100_000, now + 103_600));
        google.cancel_event("alice@acme.example", "standup");
        assert_eq!(google.push(&channel.id).await.unwrap(), 200);
        let lists_before = google.count("calendar.events.list");
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 100_000, now + 103_600)]);
        let incremental = google.requests_of("calendar.events.list");
        assert!(incremental[lists_before..].iter().all(|r| r.param("syncToken").is_some()), "incremental only");
        // The same notice again (a retry) does not sync again.
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 0);

        // The sync token expires at Google: 410, then a full resync, nothing duplicated.
        google.expire_sync_tokens();
        google.put_event("alice@acme.example", FakeEvent::timed("late", now + 120_000, now + 121_800));
        s.clock.advance(RECONCILE_EVERY);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 100_000, now + 103_600), iv(now + 120_000, now + 121_800)]);
        let status = s.status_of(alice_id).await;
        assert_eq!(status["events"], 2, "nothing duplicated: {status}");
        assert!(status["last_error"].is_null());

        // Google refuses the access token: the connector refreshes it and the sync succeeds;
        // the refreshed token is stored (sealed) and used from then on.
        let refreshes = google.requests_of("oauth2.token").iter().filter(|r| r.body["grant_type"] == "refresh_token").count();
        google.trouble([Trouble::Unauthorized]);
        s.clock.advance(RECONCILE_EVERY);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        let after = google.requests_of("oauth2.token").iter().filter(|r| r.body["grant_type"] == "refresh_token").count();
        assert_eq!(after, refreshes + 1);
        let status = s.status_of(alice_id).await;
        assert!(status["last_error"].is_null(), "{status}");
        let last_two: Vec<Option<String>> = google.requests_of("calendar.events.list").iter().rev().take(2).map(|r| r.authorization.clone()).collect();
        assert_ne!(last_two[0], last_two[1], "the retry used the new token");
        let new_token = last_two[0].clone().unwrap().trim_start_matches("Bearer ").to_string();
        assert_eq!(t.tables_containing(&new_token).await, Vec::<String>::new(), "sealed at rest");

        // Rate limited: the wait Google asks for is honoured, the data kept.
        google.trouble([Trouble::RateLimited { retry_after: Some(900) }]);
        s.clock.advance(RECONCILE_EVERY);
        s.engine.sync_due_calendars().await.unwrap();
        s.clock.advance(Duration::minutes(10));
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 0, "not before the 15 minutes asked");
        assert_eq!(s.busy(alice).await.len(), 2);
    }

    async fn an_admin_checks_the_cached_busy_time_against_googles_free_busy(t: &TestDb) {
        let google = FakeGoogle::start().await;
        let s = Setup::start(t, Arc::new(google.connector())).await;
        let (alice_id, _) = s.alice_connected("google", "alice@acme.example").await;
        // The test clock starts 2026-11-25T00:00Z.
        let now = s.now();
        google.put_event("alice@acme.example", FakeEvent::timed("standup", now + 3600, now + 5400));
        google.put_event("alice@acme.example", FakeEvent::timed("lunch", now + 10_800, now + 14_400).transparent());
        s.engine.sync_due_calendars().await.unwrap();
        let id = s.status_of(alice_id).await["id"].as_i64().unwrap();
        let path = format!("/api/v1/calendars/{id}/free-busy?from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z");

        let check = s.get_json(&path).await;
        let standup = json!({"start": "2026-11-25T01:00:00Z", "end": "2026-11-25T01:30:00Z"});
        assert_eq!(check["provider"], "google");
        assert_eq!(check["provider_busy"], json!([standup]), "{check}");
        assert_eq!(check["cached_busy"], json!([standup]));
        assert_eq!(check["agrees"], true);
        let asked = google.requests_of("calendar.freebusy.query").pop().expect("Google was asked");
        assert_eq!(asked.body["items"], json!([{"id": "alice@acme.example"}]));
        assert_eq!(asked.body["timeMin"], "2026-11-25T00:00:00Z");
        assert_eq!(asked.body["timeMax"], "2026-11-26T00:00:00Z");

        // A change at Google the cache has not synced yet: the check shows it.
        google.put_event("alice@acme.example", FakeEvent::timed("review", now + 7200, now + 9000));
        let check = s.get_json(&path).await;
        assert_eq!(check["provider_busy"], json!([standup, {"start": "2026-11-25T02:00:00Z", "end": "2026-11-25T02:30:00Z"}]));
        assert_eq!(check["cached_busy"], json!([standup]));
        assert_eq!(check["agrees"], false);

        // Google rate-limits the check: 502, saying how long to wait; the sync state is untouched.
        google.trouble([Trouble::RateLimited { retry_after: Some(30) }]);
        let refused = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(refused.status(), reqwest::StatusCode::BAD_GATEWAY);
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("retry after 30 s"), "{problem}");
        assert!(s.status_of(alice_id).await["last_error"].is_null());
    }

    async fn an_event_is_created_with_a_meet_link_through_the_outbox(t: &TestDb) {
        let google = FakeGoogle::start().await;
        let s = Setup::start(t, Arc::new(google.connector())).await;
        let (_, alice) = s.alice_connected("google", "alice@acme.example").await;
        let now = s.now();
        let draft = EventDraft {
            title: "Taro Yamada / 山田 太郎".into(),
            description: "Booked through Frontdesk".into(),
            interval: iv(now + 86_400, now + 88_200),
            time_zone: "Asia/Tokyo".into(),
            attendees: vec!["taro@example.com".into()],
            location: None,
            online_meeting: true,
        };
        google.trouble([Trouble::ServerError]);
        s.engine.create_calendar_event(s.tenant_id, alice, "booking:7", &draft).await.unwrap();
        s.engine.dispatch_due().await.unwrap();
        assert!(s.engine.calendar_event_links(s.tenant_id, "booking:7").await.unwrap().is_empty(), "Google was down");
        s.clock.advance(Duration::minutes(10));
        s.engine.dispatch_due().await.unwrap();
        let links = s.engine.calendar_event_links(s.tenant_id, "booking:7").await.unwrap();
        assert_eq!(links.len(), 1);
        let join = links[0].join_url.as_deref().expect("a Meet link");
        assert!(join.starts_with("https://meet.google.com/"), "{join}");
        let event = google.event("alice@acme.example", &links[0].event_id).expect("the event at Google");
        assert_eq!(event["summary"], "Taro Yamada / 山田 太郎");
        assert_eq!(event["attendees"][0]["email"], "taro@example.com");
        let insert = google.requests_of("calendar.events.insert").pop().unwrap();
        assert_eq!(insert.param("conferenceDataVersion"), Some("1"));
        assert_eq!(s.busy(alice).await, vec![draft.interval]);
    }
}
