//! What the calendar end-to-end tests share: the server on a loopback socket (so providers'
//! fakes can push to it) with one calendar connector, an admin signed in, and Alice's own
//! account connected through OAuth.
#![allow(dead_code)]

use std::sync::Arc;

use frontdesk_core::domain::calendar::{Interval, Owner};
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::port::{Calendar, Calendars, Ports};
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner, test_settings};
use frontdesk_webhooks::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub struct Setup {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    /// Where the server listens (its public URL).
    pub url: String,
    /// Signed in as the tenant's owner; follows no redirects.
    pub http: reqwest::Client,
    pub tenant_id: i64,
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
    /// The server on `t` with `connector` as its one calendar provider.
    pub async fn start(t: &TestDb, connector: Arc<dyn Calendar>) -> Setup {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings {
            public_url: url.clone(),
            ..test_settings()
        };
        let TestEngine { engine, clock, .. } = TestEngine::with_settings(t, settings.clone());
        let ports = Ports {
            calendars: Calendars::default().with(connector),
            ..engine.ports.clone()
        };
        let engine = Engine::new(engine.db.clone(), ports, settings);
        let (tenant, owner) = acme_owner(&engine).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(frontdesk_webhooks::serve(
            listener,
            AppState::new(engine.clone(), vec![]),
            async move {
                let _ = stopped.await;
            },
        ));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let setup = Setup {
            engine,
            clock,
            url,
            http,
            tenant_id: tenant.id,
            stop: Some(stop),
            server,
        };
        let login = setup
            .post("/api/v1/auth/login", json!({"tenant": "acme", "email": owner.account.email, "password": "Blue-Kiosk-4821"}))
            .await;
        assert_eq!(login.0, StatusCode::OK, "{}", login.1);
        setup
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Alice, her own `provider` account (signing in as `login_hint`) connected through
    /// OAuth: the provider's consent screen (a fake approving at once) sends her back to
    /// the callback page, which connects the calendar.
    pub async fn alice_connected(&self, provider: &str, login_hint: &str) -> (i64, Owner) {
        let (status, alice) = self
            .post("/api/v1/employees", json!({"email": "alice@acme.example", "name": "Alice", "name_kana": "", "department": "",
                "time_zone": "Asia/Tokyo", "language": "en", "notification": "email", "chat_identities": {}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{alice}");
        let alice_id = alice["id"].as_i64().unwrap();
        let (status, started) = self
            .post(
                "/api/v1/calendars/authorizations",
                json!({"employee_id": alice_id, "provider": provider, "login_hint": login_hint}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{started}");
        let consent = self
            .http
            .get(started["authorization_url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(consent.status(), StatusCode::FOUND);
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        assert!(
            back.starts_with(&format!("{}/oauth/{provider}/callback?", self.url)),
            "{back}"
        );
        let page = self.http.get(&back).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("カレンダーを連携しました")
        );
        // The code and state work once.
        assert_eq!(
            self.http.get(&back).send().await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
        (alice_id, Owner::Employee(alice_id))
    }

    /// Alice's one calendar as the admin API shows it.
    pub async fn status_of(&self, employee_id: i64) -> Value {
        self.get_json(&format!("/api/v1/calendars?employee_id={employee_id}"))
            .await[0]
            .clone()
    }

    pub fn now(&self) -> i64 {
        self.engine.ports.clock.now().timestamp()
    }

    /// The owner's busy time over the coming week.
    pub async fn busy(&self, owner: Owner) -> Vec<Interval> {
        let now = self.now();
        self.engine
            .busy(self.tenant_id, owner, now, now + 7 * 86_400)
            .await
            .unwrap()
            .intervals
    }
}

pub fn iv(start: i64, end: i64) -> Interval {
    Interval::new(start, end).unwrap()
}
