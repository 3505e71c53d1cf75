//! Microsoft 365 end to end, on SQLite and PostgreSQL: the server on a loopback socket, the
//! real Graph connector pointed at the fake Graph. Alice connects her own account through
//! OAuth (PKCE); her busy time is synced by delta; a subscription is opened (Graph's
//! validation handshake against this server), renewed, and lives through its lifecycle
//! events; a notification with the wrong clientState is ignored; a 401 is followed by a
//! token refresh; an event is created with a Teams link through the outbox.

mod calendar_support;

use std::sync::Arc;

use calendar_support::{Setup, iv};
use chrono::Duration;
use frontdesk_connectors::microsoft::MicrosoftCalendar;
use frontdesk_connectors::testing::microsoft::{ALICE_MAIL, FakeGraph};
use frontdesk_core::engine::calendar::{RECONCILE_EVERY, RENEW_BEFORE, WATCH_TTL};
use frontdesk_core::port::EventDraft;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

async fn start(t: &TestDb) -> (FakeGraph, Setup) {
    let graph = FakeGraph::start().await;
    let connector = MicrosoftCalendar::new(graph.settings()).unwrap();
    let setup = Setup::start(t, Arc::new(connector)).await;
    (graph, setup)
}

storage_tests! {
    async fn a_subscription_lives_through_its_whole_lifecycle_and_keeps_the_busy_time_fresh(t: &TestDb) {
        let (graph, s) = start(t).await;
        let now = s.now();
        let standup = graph.seed_event(ALICE_MAIL, "Stand-up", now + 3600, now + 5400);
        graph.seed_event(ALICE_MAIL, "Review", now + 86_400, now + 90_000);
        let (alice_id, alice) = s.alice_connected("microsoft", ALICE_MAIL).await;
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 3600, now + 5400), iv(now + 86_400, now + 90_000)]);

        // A subscription is opened: Graph validates this server's endpoint first.
        assert_eq!(s.engine.renew_calendar_watches().await.unwrap(), 1);
        let subscription = graph.subscriptions().pop().expect("a subscription");
        assert_eq!(subscription.notification_url, format!("{}/webhooks/microsoft/notifications", s.url));
        assert_eq!(s.status_of(alice_id).await["push"], true);

        // A change is notified and synced from the delta link.
        graph.move_event(&standup, now + 7200, now + 9000);
        assert_eq!(graph.notify(&subscription.id).await.unwrap(), StatusCode::ACCEPTED);
        let deltas = graph.requests_to("GET", "delta").len();
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 7200, now + 9000), iv(now + 86_400, now + 90_000)]);
        let incremental = &graph.requests_to("GET", "delta")[deltas..];
        assert!(incremental.iter().all(|r| r.query.contains("deltatoken")), "incremental: {incremental:?}");

        // A notification carrying another clientState is ignored: nothing is synced.
        let forged = s
            .http
            .post(format!("{}/webhooks/microsoft/notifications", s.url))
            .json(&json!({"value": [{"subscriptionId": subscription.id, "clientState": "forged", "changeType": "updated"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::ACCEPTED);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 0);

        // Missed notifications: a full resync, nothing duplicated.
        graph.cancel_event(&standup);
        assert_eq!(graph.lifecycle(&subscription.id, "missed").await.unwrap(), StatusCode::ACCEPTED);
        let deltas = graph.requests_to("GET", "delta").len();
        s.engine.sync_due_calendars().await.unwrap();
        assert!(!graph.requests_to("GET", "delta")[deltas].query.contains("deltatoken"), "a full sync");
        assert_eq!(s.busy(alice).await, vec![iv(now + 86_400, now + 90_000)]);
        assert_eq!(s.status_of(alice_id).await["events"], 1);

        // Reauthorization required: the subscription is renewed (PATCH) at once.
        let patches = graph.count("PATCH", "subscriptions");
        assert_eq!(graph.lifecycle(&subscription.id, "reauthorizationRequired").await.unwrap(), StatusCode::ACCEPTED);
        s.engine.renew_calendar_watches().await.unwrap();
        assert_eq!(graph.count("PATCH", "subscriptions"), patches + 1);

        // And before it ends, it is renewed again. (Graph grants at most 4230 minutes from
        // its own now, the wall clock, which the test clock does not move.)
        let ends = chrono::Utc::now() + WATCH_TTL.min(Duration::minutes(4230));
        s.clock.advance(ends - s.engine.ports.clock.now() - RENEW_BEFORE + Duration::minutes(1));
        s.engine.renew_calendar_watches().await.unwrap();
        assert_eq!(graph.count("PATCH", "subscriptions"), patches + 2);

        // Removed by Graph: a new subscription (validated again) and a full resync.
        assert_eq!(graph.lifecycle(&subscription.id, "subscriptionRemoved").await.unwrap(), StatusCode::ACCEPTED);
        assert!(graph.subscriptions().is_empty());
        s.engine.renew_calendar_watches().await.unwrap();
        let renewed = graph.subscriptions().pop().expect("a new subscription");
        assert_ne!(renewed.id, subscription.id);
        s.engine.sync_due_calendars().await.unwrap();
        // (Days have passed: the earlier events are behind the sync window now.)
        let later = s.now();
        graph.seed_event(ALICE_MAIL, "Late", later + 3600, later + 5400);
        assert_eq!(graph.notify(&renewed.id).await.unwrap(), StatusCode::ACCEPTED);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        // The full resync replaced the cache: the earlier events are gone from it too.
        let busy = s.engine.busy(s.tenant_id, alice, now, later + 86_400).await.unwrap();
        assert_eq!(busy.intervals, vec![iv(later + 3600, later + 5400)]);
    }

    async fn an_expired_token_is_refreshed_and_an_event_gets_a_teams_link(t: &TestDb) {
        let (graph, s) = start(t).await;
        let (alice_id, alice) = s.alice_connected("microsoft", ALICE_MAIL).await;
        s.engine.sync_due_calendars().await.unwrap();

        graph.expire_access_tokens();
        let refreshes = graph.grants("refresh_token");
        s.clock.advance(RECONCILE_EVERY);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(graph.grants("refresh_token"), refreshes + 1);
        assert!(s.status_of(alice_id).await["last_error"].is_null());

        // The refresh token revoked: the calendar asks to be connected again.
        graph.expire_access_tokens();
        graph.revoke_refresh_tokens();
        s.clock.advance(RECONCILE_EVERY);
        s.engine.sync_due_calendars().await.unwrap();
        let status = s.status_of(alice_id).await;
        assert_eq!(status["needs_reconnect"], true, "{status}");

        // Connected again, an event with a Teams meeting goes through the outbox.
        let (_, started) = s
            .post("/api/v1/calendars/authorizations", json!({"employee_id": alice_id, "provider": "microsoft", "login_hint": ALICE_MAIL}))
            .await;
        let consent = s.http.get(started["authorization_url"].as_str().unwrap()).send().await.unwrap();
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(s.http.get(&back).send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(s.status_of(alice_id).await["needs_reconnect"], false);
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
        s.engine.create_calendar_event(s.tenant_id, alice, "booking:9", &draft).await.unwrap();
        s.engine.dispatch_due().await.unwrap();
        let links = s.engine.calendar_event_links(s.tenant_id, "booking:9").await.unwrap();
        assert_eq!(links.len(), 1, "created");
        let join = links[0].join_url.as_deref().expect("a Teams link");
        assert!(join.starts_with("https://teams.microsoft.com/"), "{join}");
        let event = graph.event(&links[0].event_id).expect("the event at Graph");
        assert_eq!(event["isOnlineMeeting"], true);
        assert_eq!(event["onlineMeetingProvider"], "teamsForBusiness");
        assert_eq!(s.busy(alice).await, vec![draft.interval]);
    }

    async fn rooms_listed_by_graph_can_be_connected_to_frontdesk_rooms(t: &TestDb) {
        let (graph, s) = start(t).await;
        graph.add_room("aurora@contoso.test", "Aurora", 8, 3);
        let rooms = s.get_json("/api/v1/calendars/provider-rooms?provider=microsoft").await;
        assert_eq!(rooms, json!([{"calendar_id": "aurora@contoso.test", "name": "Aurora", "capacity": 8, "floor": 3}]));
        let (status, _) = s.post("/api/v1/rooms", json!({"slug": "aurora", "name": "Aurora", "capacity": 8, "time_zone": "Asia/Tokyo"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, connected) = s
            .post("/api/v1/calendars", json!({"room": "aurora", "provider": "microsoft", "calendar_id": "aurora@contoso.test"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{connected}");
        let now = s.now();
        graph.seed_event("aurora@contoso.test", "Board", now + 3600, now + 7200);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        let room = frontdesk_core::domain::calendar::Owner::Room(connected["room_id"].as_i64().unwrap());
        assert_eq!(s.busy(room).await, vec![iv(now + 3600, now + 7200)]);
        // Graph was called with the application's own token (client credentials).
        assert_eq!(graph.grants("client_credentials"), 1);
    }
}
