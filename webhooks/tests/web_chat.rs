//! The web chat over HTTP (in-process, through the whole middleware stack), on SQLite and
//! PostgreSQL: signing in by the mailed link, talking, CSRF refusal, and the live stream.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use frontdesk_core::domain::chat::Message;
use frontdesk_core::domain::people::{Lang, NotificationPreference, Role};
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::{RecordingMailer, TestDb, TestEngine};
use frontdesk_webhooks::{AppState, app};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

struct Chat {
    router: Router,
    engine: Engine,
    mailer: std::sync::Arc<RecordingMailer>,
    tenant_id: i64,
    alice: Employee,
}

impl Chat {
    /// The app, the tenant `acme` and its employee Alice (English).
    async fn new(t: &TestDb) -> Chat {
        let TestEngine { engine, mailer, .. } = TestEngine::on(t);
        let tenant = engine.ensure_tenant("acme", "Acme").await.unwrap();
        let new = NewAdmin {
            email: "owner@acme.example".into(),
            password: "Kq7#vLp2xW".into(),
            role: Role::Owner,
            can_export: true,
            language: Lang::En,
        };
        let account = engine.create_account(tenant.id, None, &new).await.unwrap();
        let owner = Actor {
            account,
            ip: "192.0.2.1".into(),
        };
        let input = EmployeeInput {
            email: "alice@acme.example".into(),
            name: "Alice Sato".into(),
            name_kana: String::new(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: NotificationPreference::Chat,
            chat_identities: Default::default(),
        };
        let alice = engine.create_employee(&owner, input).await.unwrap();
        let router = app(AppState::new(engine.clone(), vec![]));
        Chat {
            router,
            engine,
            mailer,
            tenant_id: tenant.id,
            alice,
        }
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Response<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap()
    }

    /// A same-origin form POST, as the browser sends it.
    async fn form(&self, uri: &str, form: &str, cookie: Option<&str>) -> Response<Body> {
        let mut headers = vec![
            ("content-type", "application/x-www-form-urlencoded"),
            ("sec-fetch-site", "same-origin"),
            ("accept-language", "en"),
        ];
        if let Some(cookie) = cookie {
            headers.push(("cookie", cookie));
        }
        self.request(Method::POST, uri, &headers, Body::from(form.to_owned()))
            .await
    }

    /// A JSON POST with `cookie`, from `site` (`Sec-Fetch-Site`).
    async fn json(
        &self,
        uri: &str,
        body: Value,
        cookie: Option<&str>,
        site: &str,
    ) -> Response<Body> {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("sec-fetch-site", site),
        ];
        if let Some(cookie) = cookie {
            headers.push(("cookie", cookie));
        }
        self.request(Method::POST, uri, &headers, Body::from(body.to_string()))
            .await
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> Response<Body> {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        self.request(Method::GET, uri, &headers, Body::empty())
            .await
    }

    /// Asks for a link for `email`; the page's text.
    async fn ask_link(&self, email: &str) -> String {
        let reply = self
            .form(
                "/chat/sign-in/request",
                &format!("tenant=acme&email={email}"),
                None,
            )
            .await;
        assert_eq!(reply.status(), StatusCode::OK);
        text(reply).await
    }

    /// The token of the latest link mailed to Alice.
    async fn mailed_token(&self) -> Option<String> {
        self.engine.dispatch_due().await.unwrap();
        let mail = self.mailer.sent().pop()?;
        let start = mail.body.find("token=")? + "token=".len();
        Some(mail.body[start..].split_whitespace().next()?.to_owned())
    }

    /// Signs Alice in through the pages; the cookie to send back.
    async fn sign_in(&self) -> String {
        self.ask_link("alice%40acme.example").await;
        let token = self.mailed_token().await.expect("a link is mailed");
        let reply = self
            .form("/chat/sign-in", &format!("token={token}"), None)
            .await;
        assert_eq!(reply.status(), StatusCode::SEE_OTHER);
        let set_cookie = reply.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    async fn notify(&self, notice: &str, message: &Message) {
        let alice = self
            .engine
            .chat_session_employee(self.tenant_id, self.alice.id)
            .await;
        let mut tx = self.engine.db.write().await.unwrap();
        self.engine
            .notify_employee(&mut tx, self.tenant_id, &alice, notice, message)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // What the outbox dispatcher does when the caller wakes it after the commit.
        self.engine.wake_web_chat();
    }
}

/// Looks the employee up again (their web identity is set at sign-in).
trait Lookup {
    async fn chat_session_employee(&self, tenant_id: i64, id: i64) -> Employee;
}

impl Lookup for Engine {
    async fn chat_session_employee(&self, tenant_id: i64, id: i64) -> Employee {
        let mut tx = self.db.read().await.unwrap();
        frontdesk_core::store::employee::find(&mut tx, tenant_id, id)
            .await
            .unwrap()
            .unwrap()
    }
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn json_of(response: Response<Body>) -> Value {
    serde_json::from_str(&text(response).await).unwrap()
}

/// Server-sent events as they arrive: `(id, data)` of each message event.
struct Events(axum::body::BodyDataStream, String);

impl Events {
    fn of(response: Response<Body>) -> Events {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events(response.into_body().into_data_stream(), String::new())
    }

    /// The next event with data, waiting at most [`PATIENCE`].
    async fn next(&mut self) -> (i64, Value) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.1.find("\n\n") {
                    let frame: String = self.1.drain(..end + 2).collect();
                    let mut id = None;
                    let mut data = None;
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().parse().unwrap());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data = Some(serde_json::from_str(v.trim()).unwrap());
                        }
                    }
                    if let (Some(id), Some(data)) = (id, data) {
                        return (id, data);
                    }
                    continue;
                }
                let chunk = self.0.next().await.expect("the stream stays open").unwrap();
                self.1.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event in time")
    }
}

fn first_text(message: &Value) -> String {
    message["blocks"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

storage_tests! {
    async fn an_employee_signs_in_by_the_mailed_link_once_and_gets_a_lax_http_only_cookie(t: &TestDb) {
        let chat = Chat::new(t).await;
        let page = text(chat.get("/chat", None).await).await;
        assert!(page.contains(r#"action="/chat/sign-in/request""#), "{page}");

        // The same answer whether or not the address is in the directory.
        let known = chat.ask_link("alice%40acme.example").await;
        let unknown = chat.ask_link("mallory%40acme.example").await;
        assert_eq!(known, unknown);
        assert!(known.contains("a sign-in link is on its way"), "{known}");
        let token = chat.mailed_token().await.expect("a link for Alice");
        assert_eq!(chat.mailer.sent().len(), 1, "none for the unknown address");

        // Opening the link (as a mail scanner would) does not use it up.
        for _ in 0..2 {
            let reply = chat.get(&format!("/chat/sign-in?token={token}"), None).await;
            assert_eq!(reply.status(), StatusCode::OK);
            assert_eq!(reply.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(reply.headers()[header::REFERRER_POLICY], "no-referrer");
            let page = text(reply).await;
            assert!(page.contains(r#"<form method="post" action="/chat/sign-in">"#), "{page}");
        }
        let reply = chat.form("/chat/sign-in", &format!("token={token}"), None).await;
        assert_eq!(reply.status(), StatusCode::SEE_OTHER);
        assert_eq!(reply.headers()[header::LOCATION], "/chat");
        let set_cookie = reply.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(set_cookie.starts_with("fd_chat="), "{set_cookie}");
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();

        let page = text(chat.get("/chat", Some(&cookie)).await).await;
        assert!(page.contains("Alice Sato") && page.contains(r#"src="/assets/chat.js""#), "{page}");
        assert!(page.contains(r#"aria-live="polite""#), "{page}");

        // Used once: the second press is refused.
        let again = chat.form("/chat/sign-in", &format!("token={token}"), None).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert!(text(again).await.contains("invalid, already used or has expired"));

        // Signing out ends the session.
        let out = chat.form("/chat/sign-out", "", Some(&cookie)).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        let reply = chat.json("/chat/messages", json!({"text": "help"}), Some(&cookie), "same-origin").await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    }

    async fn chat_messages_need_the_chat_session_and_are_refused_cross_site(t: &TestDb) {
        let chat = Chat::new(t).await;
        let reply = chat.json("/chat/messages", json!({"text": "help"}), None, "same-origin").await;
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(chat.get("/chat/events", None).await.status(), StatusCode::UNAUTHORIZED);
        let cookie = chat.sign_in().await;

        let reply = chat.json("/chat/messages", json!({"text": "help"}), Some(&cookie), "cross-site").await;
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        let reply = chat.json("/chat/actions", json!({"action": "fd1:help"}), Some(&cookie), "cross-site").await;
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);

        let reply = chat.json("/chat/messages", json!({"text": "help"}), Some(&cookie), "same-origin").await;
        assert_eq!(reply.status(), StatusCode::OK);
        let written = json_of(reply).await;
        let messages = written["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2, "only what this request wrote: {written}");
        assert_eq!(messages[0]["author"], "employee");
        assert_eq!(first_text(&messages[0]), "help");
        assert_eq!(messages[1]["author"], "frontdesk");

        let reply = chat.json("/chat/actions", json!({"action": "fd1:help"}), Some(&cookie), "same-origin").await;
        assert_eq!(reply.status(), StatusCode::OK);
        let long = "x".repeat(2_001);
        let reply = chat.json("/chat/messages", json!({"text": long}), Some(&cookie), "same-origin").await;
        assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let reply = chat.json("/chat/messages", json!({"text": "hi", "as": "bob"}), Some(&cookie), "same-origin").await;
        assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn the_stream_yields_a_notice_as_it_is_written_and_resumes_after_last_event_id(t: &TestDb) {
        let chat = Chat::new(t).await;
        let cookie = chat.sign_in().await;
        chat.json("/chat/messages", json!({"text": "help"}), Some(&cookie), "same-origin").await;

        let mut events = Events::of(chat.get("/chat/events", Some(&cookie)).await);
        let (first, said) = events.next().await;
        assert_eq!(first_text(&said), "help");
        let (second, _answer) = events.next().await;
        assert!(second > first);

        chat.notify("visit:7", &Message::text("Kenji Mori is at the front desk")).await;
        let (third, notice) = events.next().await;
        assert!(third > second);
        assert_eq!(first_text(&notice), "Kenji Mori is at the front desk");

        // Updated in place: the same message again, under a new event id.
        let mut tx = chat.engine.db.write().await.unwrap();
        chat.engine
            .update_notice(&mut tx, chat.tenant_id, "visit:7", &Message::text("Kenji Mori: answered"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        chat.engine.wake_web_chat();
        let (fourth, updated) = events.next().await;
        assert!(fourth > third);
        assert_eq!(updated["id"], notice["id"]);
        assert_eq!(first_text(&updated), "Kenji Mori: answered");
        drop(events);

        // A reconnect after the second event gets the rest, once each, in order.
        let reply = chat
            .request(
                Method::GET,
                "/chat/events",
                &[("cookie", &cookie), ("last-event-id", &second.to_string())],
                Body::empty(),
            )
            .await;
        let mut resumed = Events::of(reply);
        let (id, message) = resumed.next().await;
        assert_eq!(id, fourth, "the notice's latest version, not its first");
        assert_eq!(first_text(&message), "Kenji Mori: answered");
        chat.json("/chat/messages", json!({"text": "thanks"}), Some(&cookie), "same-origin").await;
        let (id, message) = resumed.next().await;
        assert_eq!(id, fourth + 1);
        assert_eq!(first_text(&message), "thanks");
    }

    async fn one_employee_may_hold_only_a_few_streams(t: &TestDb) {
        let chat = Chat::new(t).await;
        let cookie = chat.sign_in().await;
        let mut open = Vec::new();
        for _ in 0..4 {
            let reply = chat.get("/chat/events", Some(&cookie)).await;
            assert_eq!(reply.status(), StatusCode::OK);
            open.push(reply);
        }
        let refused = chat.get("/chat/events", Some(&cookie)).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        // A closed stream gives its place back.
        drop(open.pop());
        assert_eq!(chat.get("/chat/events", Some(&cookie)).await.status(), StatusCode::OK);
    }
}
