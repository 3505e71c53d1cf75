//! Google Calendar end to end, on SQLite and PostgreSQL: the server on a loopback socket,
//! the real Google connector pointed at the fake Google. An admin connects Alice's own
//! account through OAuth (PKCE); her busy time is synced; a change at Google is pushed,
//! verified and synced incrementally; an expired sync token leads to a full resync with
//! nothing duplicated; a 401 is followed by a token refresh; an event is created with a
//! Meet link through the outbox.

use std::sync::Arc;

use chrono::Duration;
use frontdesk_connectors::testing::google::{FakeEvent, FakeGoogle, Trouble};
use frontdesk_core::domain::calendar::{Interval, Owner};
use frontdesk_core::engine::calendar::RECONCILE_EVERY;
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::port::{Calendars, EventDraft, Ports};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner, test_settings};
use frontdesk_webhooks::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Setup {
    google: FakeGoogle,
    engine: Engine,
    clock: Arc<ManualClock>,
    url: String,
    http: reqwest::Client,
    tenant_id: i64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.abort();
    }
}

impl Setup {
    async fn start(t: &TestDb) -> Setup {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let google = FakeGoogle::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings { public_url: url.clone(), ..test_settings() };
        let TestEngine { engine, clock, .. } = TestEngine::with_settings(t, settings.clone());
        let ports = Ports {
            calendars: Calendars::default().with(Arc::new(google.connector())),
            ..engine.ports.clone()
        };
        let engine = Engine::new(engine.db.clone(), ports, settings);
        let (tenant, owner) = acme_owner(&engine).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(frontdesk_webhooks::serve(listener, AppState::new(engine.clone(), vec![]), async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let setup = Setup { google, engine, clock, url, http, tenant_id: tenant.id, stop: Some(stop), server };
        let login = setup
            .post("/api/v1/auth/login", json!({"tenant": "acme", "email": owner.account.email, "password": "Blue-Kiosk-4821"}))
            .await;
        assert_eq!(login.0, StatusCode::OK, "{}", login.1);
        setup
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Alice, her calendar connected through OAuth with her Google account.
    async fn alice_connected(&self) -> (i64, Owner) {
        let (status, alice) = self
            .post("/api/v1/employees", json!({"email": "alice@acme.example", "name": "Alice", "name_kana": "", "department": "",
                "time_zone": "Asia/Tokyo", "language": "en", "notification": "email", "chat_identities": {}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{alice}");
        let alice_id = alice["id"].as_i64().unwrap();
        let (status, started) = self
            .post("/api/v1/calendars/authorizations", json!({"employee_id": alice_id, "provider": "google", "login_hint": "alice@acme.example"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{started}");
        // Google's consent screen (approved at once by the fake) sends her back to us.
        let consent = self.http.get(started["authorization_url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(consent.status(), StatusCode::FOUND);
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with(&format!("{}/oauth/google/callback?", self.url)), "{back}");
        let page = self.http.get(&back).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("カレンダーを連携しました"));
        // The code works once.
        assert_eq!(self.http.get(&back).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
        (alice_id, Owner::Employee(alice_id))
    }

    fn now(&self) -> i64 {
        self.engine.ports.clock.now().timestamp()
    }

    async fn busy(&self, owner: Owner) -> Vec<Interval> {
        let now = self.now();
        self.engine.busy(self.tenant_id, owner, now, now + 7 * 86_400).await.unwrap().intervals
    }
}

fn iv(start: i64, end: i64) -> Interval {
    Interval::new(start, end).unwrap()
}

storage_tests! {
    async fn a_connected_google_calendar_is_synced_pushed_resynced_and_refreshed(t: &TestDb) {
        let s = Setup::start(t).await;
        let now = s.now();
        let (alice_id, alice) = s.alice_connected().await;
        s.google.put_event("alice@acme.example", FakeEvent::timed("standup", now + 3600, now + 5400));
        s.google.put_event("alice@acme.example", FakeEvent::timed("lunch", now + 10_800, now + 14_400).transparent());
        s.google.put_event("alice@acme.example", FakeEvent::timed("review", now + 86_400, now + 90_000));

        // The first sync reads everything (several pages); transparent time is not busy.
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 3600, now + 5400), iv(now + 86_400, now + 90_000)]);
        let (_, listed) = s.get(&format!("/api/v1/calendars?employee_id={alice_id}")).await;
        let listed: Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed[0]["provider"], "google");
        assert_eq!(listed[0]["stale"], false);

        // A push channel is opened to this server; a change at Google is pushed, verified,
        // and synced incrementally.
        s.engine.renew_calendar_watches().await.unwrap();
        let channel = s.google.channels().pop().expect("a channel");
        assert_eq!(channel.address, format!("{}/webhooks/google/push", s.url));
        s.google.put_event("alice@acme.example", FakeEvent::timed("review", now + 100_000, now + 103_600));
        s.google.cancel_event("alice@acme.example", "standup");
        assert_eq!(s.google.push(&channel.id).await.unwrap(), 200);
        let lists_before = s.google.count("calendar.events.list");
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 100_000, now + 103_600)]);
        let incremental = s.google.requests_of("calendar.events.list");
        assert!(incremental[lists_before..].iter().all(|r| r.param("syncToken").is_some()), "incremental only");
        // The same notice again (a retry) does not sync again.
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 0);

        // The sync token expires at Google: 410, then a full resync, nothing duplicated.
        s.google.expire_sync_tokens();
        s.google.put_event("alice@acme.example", FakeEvent::timed("late", now + 120_000, now + 121_800));
        s.clock.advance(RECONCILE_EVERY);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(s.busy(alice).await, vec![iv(now + 100_000, now + 103_600), iv(now + 120_000, now + 121_800)]);
        let (_, listed) = s.get(&format!("/api/v1/calendars?employee_id={alice_id}")).await;
        let listed: Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed[0]["events"], 2, "nothing duplicated: {listed}");
        assert!(listed[0]["last_error"].is_null());

        // Google refuses the access token: the connector refreshes it and the sync succeeds;
        // the refreshed token is stored (sealed) and used from then on.
        let refreshes = s.google.requests_of("oauth2.token").iter().filter(|r| r.body["grant_type"] == "refresh_token").count();
        s.google.trouble([Trouble::Unauthorized]);
        s.clock.advance(RECONCILE_EVERY);
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 1);
        let after = s.google.requests_of("oauth2.token").iter().filter(|r| r.body["grant_type"] == "refresh_token").count();
        assert_eq!(after, refreshes + 1);
        let (_, listed) = s.get(&format!("/api/v1/calendars?employee_id={alice_id}")).await;
        assert!(serde_json::from_str::<Value>(&listed).unwrap()[0]["last_error"].is_null(), "{listed}");
        let last_two: Vec<Option<String>> = s.google.requests_of("calendar.events.list").iter().rev().take(2).map(|r| r.authorization.clone()).collect();
        assert_ne!(last_two[0], last_two[1], "the retry used the new token");
        let new_token = last_two[0].clone().unwrap().trim_start_matches("Bearer ").to_string();
        assert_eq!(t.tables_containing(&new_token).await, Vec::<String>::new(), "sealed at rest");

        // Rate limited: the wait Google asks for is honoured, the data kept.
        s.google.trouble([Trouble::RateLimited { retry_after: Some(900) }]);
        s.clock.advance(RECONCILE_EVERY);
        s.engine.sync_due_calendars().await.unwrap();
        s.clock.advance(Duration::minutes(10));
        assert_eq!(s.engine.sync_due_calendars().await.unwrap(), 0, "not before the 15 minutes asked");
        assert_eq!(s.busy(alice).await.len(), 2);
    }

    async fn an_event_is_created_with_a_meet_link_through_the_outbox(t: &TestDb) {
        let s = Setup::start(t).await;
        let (_, alice) = s.alice_connected().await;
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
        s.google.trouble([Trouble::ServerError]);
        s.engine.create_calendar_event(s.tenant_id, alice, "booking:7", &draft).await.unwrap();
        s.engine.dispatch_due().await.unwrap();
        assert!(s.engine.calendar_event_links(s.tenant_id, "booking:7").await.unwrap().is_empty(), "Google was down");
        s.clock.advance(Duration::minutes(10));
        s.engine.dispatch_due().await.unwrap();
        let links = s.engine.calendar_event_links(s.tenant_id, "booking:7").await.unwrap();
        assert_eq!(links.len(), 1);
        let join = links[0].join_url.as_deref().expect("a Meet link");
        assert!(join.starts_with("https://meet.google.com/"), "{join}");
        let event = s.google.event("alice@acme.example", &links[0].event_id).expect("the event at Google");
        assert_eq!(event["summary"], "Taro Yamada / 山田 太郎");
        assert_eq!(event["attendees"][0]["email"], "taro@example.com");
        let insert = s.google.requests_of("calendar.events.insert").pop().unwrap();
        assert_eq!(insert.param("conferenceDataVersion"), Some("1"));
        assert_eq!(s.busy(alice).await, vec![draft.interval]);
    }
}
