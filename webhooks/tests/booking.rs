//! Booking over HTTP: the public JSON the booking page calls. A guest sees a link's offer
//! and free slots, books one (201 with the reception code and the manage link), is refused
//! a slot taken meanwhile (409, nothing written) or a bad field (422 naming it), repeats a
//! request safely with `Idempotency-Key`, and moves or cancels from the manage link. Fifty
//! guests posting for one slot at once, on one server or spread over three servers on one
//! database, make exactly one booking.
//!
//! The clock starts on Wednesday 2026-11-25 at 09:00 in Tokyo (00:00 UTC).

use frontdesk_core::engine::Engine;
use frontdesk_core::engine::booking::{HostInput, LinkInput};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::{TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Servers on loopback, each with its own engine and connection pool on the test database;
/// stopped when dropped.
struct Servers {
    bases: Vec<String>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Servers {
    async fn start(t: &TestDb, engine: &Engine, count: usize) -> Servers {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (mut bases, mut tasks) = (Vec::new(), Vec::new());
        for n in 0..count {
            // The first shares the test's engine; the others connect on their own, as other
            // instances of `frontdesk serve` would.
            let engine = if n == 0 {
                engine.clone()
            } else {
                let db = Db::connect(t.url()).await.unwrap();
                Engine::new(db, engine.ports.clone(), (*engine.settings).clone())
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            bases.push(format!("http://{}", listener.local_addr().unwrap()));
            let mut stopped = stopped.clone();
            let state = AppState::new(engine, vec![]);
            tasks.push(tokio::spawn(async move {
                frontdesk_webhooks::serve(listener, state, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
            }));
        }
        Servers { bases, stop, tasks }
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}

/// The tenant `acme` with location `hq` and Alice, whose link `alice` offers 30 minutes on
/// weekdays 09:00–18:00 in Tokyo, in person at `hq`, with one required question.
async fn scheduling(t: &TestDb) -> Engine {
    let engine = TestEngine::on(t).engine;
    let (_, owner) = acme_owner(&engine).await;
    let location = LocationInput {
        slug: "hq".into(),
        name: "Head office".into(),
        time_zone: "Asia/Tokyo".into(),
    };
    engine.create_location(&owner, location).await.unwrap();
    let alice = EmployeeInput {
        email: "alice@acme.example".into(),
        name: "Alice Sato".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: frontdesk_core::i18n::Lang::En,
        notification: frontdesk_core::domain::people::NotificationPreference::Email,
        chat_identities: Default::default(),
    };
    engine.create_employee(&owner, alice).await.unwrap();
    let weekday = json!([["09:00", "18:00"]]);
    let rules = json!({
        "time_zone": "Asia/Tokyo",
        "durations_minutes": [30, 60],
        "weekly": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
        "questions": [{"key": "topic", "label_ja": "ご用件", "label_en": "Topic", "required": true}],
        "place": {"kind": "in_person", "location": "hq"}
    });
    let link = LinkInput {
        slug: "alice".into(),
        title: "Product demo".into(),
        kind: "one_on_one".into(),
        hosts: vec![HostInput {
            email: "alice@acme.example".into(),
            weight: 1,
        }],
        owner: Some("alice@acme.example".into()),
        rules: serde_json::from_value(rules).unwrap(),
        single_use: false,
        active: true,
    };
    engine.create_booking_link(&owner, link).await.unwrap();
    engine
}

fn guest(start: &str, n: usize) -> Value {
    json!({
        "start": start,
        "name": format!("Guest {n}"),
        "email": format!("guest{n}@globex.example"),
        "company": "Globex",
        "tz": "Europe/Berlin",
        "answers": {"topic": "Pricing"}
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = client.post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Fifty concurrent POSTs for one slot, spread over `bases`: the statuses, sorted.
async fn fifty_at_once(bases: &[String]) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..50 {
        let url = format!(
            "{}/api/v1/public/links/alice/bookings",
            bases[n % bases.len()]
        );
        let client = client.clone();
        posts.spawn(async move {
            let body = guest("2026-11-26T10:00:00+09:00", n);
            let (status, _) = post(&client, &url, &body, &[]).await;
            status.as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = posts.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses.sort_unstable();
    statuses
}

storage_tests! {
    async fn a_guest_books_moves_and_cancels_over_http(t: &TestDb) {
        let engine = scheduling(t).await;
        let servers = Servers::start(t, &engine, 1).await;
        let base = &servers.bases[0];
        let client = reqwest::Client::new();

        let (status, link) = get(&client, &format!("{base}/api/v1/public/links/alice")).await;
        assert_eq!(status, StatusCode::OK, "{link}");
        assert_eq!(link["hosts"], json!(["Alice Sato"]));
        assert_eq!(link["location"], "Head office");
        assert_eq!(link["durations_minutes"], json!([30, 60]));

        let slots_url = format!("{base}/api/v1/public/links/alice/slots?from=2026-11-25&to=2026-11-25&tz=Europe/Berlin");
        let (status, slots) = get(&client, &slots_url).await;
        assert_eq!(status, StatusCode::OK, "{slots}");
        // Wednesday 09:00–18:00 in Tokyo is 01:00–10:00 in Berlin, all on the 25th there.
        assert_eq!(slots["slots"].as_array().unwrap().len(), 18, "{slots}");
        assert_eq!(slots["slots"][0], json!({"start": "2026-11-25T00:00:00Z", "end": "2026-11-25T00:30:00Z"}));

        let bookings = format!("{base}/api/v1/public/links/alice/bookings");
        let (status, booked) = post(&client, &bookings, &guest("2026-11-25T10:00:00+09:00", 1), &[("idempotency-key", "k-1")]).await;
        assert_eq!(status, StatusCode::CREATED, "{booked}");
        assert_eq!(booked["start"], "2026-11-25T01:00:00Z");
        assert_eq!(booked["reception_code"].as_str().map(str::len), Some(6), "{booked}");
        let manage_url = booked["manage_url"].as_str().expect("the manage link").to_owned();
        let (id, token) = (booked["id"].as_str().unwrap().to_owned(), manage_url.split("?t=").nth(1).unwrap().to_owned());

        // The same request again answers the same booking; another guest is refused.
        let (status, again) = post(&client, &bookings, &guest("2026-11-25T10:00:00+09:00", 1), &[("idempotency-key", "k-1")]).await;
        assert_eq!((status, &again["id"]), (StatusCode::OK, &booked["id"]));
        let (status, taken) = post(&client, &bookings, &guest("2026-11-25T10:00:00+09:00", 2), &[("accept-language", "ja")]).await;
        assert_eq!(status, StatusCode::CONFLICT, "{taken}");
        assert_eq!(taken["type"], "urn:frontdesk:problem:slot-taken");
        assert!(taken["title"].as_str().unwrap().contains("別の時間"), "in the guest's language: {taken}");
        let (_, slots) = get(&client, &slots_url).await;
        assert_eq!(slots["slots"].as_array().unwrap().len(), 17, "10:00 is gone");

        // Bad fields are named.
        for (body, field) in [
            (json!({"start": "2026-11-25T10:15:00+09:00", "name": "A", "email": "a@b.example", "tz": "Asia/Tokyo", "answers": {"topic": "x"}}), "start"),
            (json!({"start": "2026-11-25T11:00:00+09:00", "name": "A", "email": "a@b.example", "tz": "Mars/Olympus", "answers": {"topic": "x"}}), "tz"),
            (json!({"start": "2026-11-25T11:00:00+09:00", "name": "A", "email": "a@b.example", "tz": "Asia/Tokyo"}), "answers.topic"),
            (json!({"start": "2026-11-25T11:00:00+09:00", "name": "A", "email": "a@b.example", "tz": "Asia/Tokyo", "answers": {"topic": "x"}, "duration_minutes": 45}), "duration_minutes"),
            (json!({"start": "2026-11-25T11:00:00+09:00", "name": "A", "email": "a@b.example", "tz": "Asia/Tokyo", "answers": {"topic": "x"}, "website": "http://spam.example"}), "website"),
        ] {
            let (status, problem) = post(&client, &bookings, &body, &[]).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
            assert!(problem["detail"].as_str().unwrap().starts_with(&format!("{field}:")), "{field}: {problem}");
        }
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1, "nothing written by refusals");

        let (status, view) = get(&client, &format!("{base}/api/v1/public/bookings/{id}?t={token}")).await;
        assert_eq!((status, view["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{view}");
        let (status, _) = get(&client, &format!("{base}/api/v1/public/bookings/{id}?t=wrong")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let reschedule = format!("{base}/api/v1/public/bookings/{id}/reschedule");
        let (status, moved) = post(&client, &reschedule, &json!({"t": token, "start": "2026-11-26T15:00:00+09:00"}), &[]).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["start"], "2026-11-26T06:00:00Z");
        let cancel = format!("{base}/api/v1/public/bookings/{id}/cancel");
        let (status, cancelled) = post(&client, &cancel, &json!({"t": token}), &[]).await;
        assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{cancelled}");
        let (status, _) = post(&client, &cancel, &json!({"t": token}), &[]).await;
        assert_eq!(status, StatusCode::CONFLICT);
        servers.stop().await;
    }

    async fn fifty_posts_for_one_slot_make_one_booking(t: &TestDb) {
        let engine = scheduling(t).await;
        let servers = Servers::start(t, &engine, 1).await;
        let statuses = fifty_at_once(&servers.bases).await;
        servers.stop().await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1);
    }

    async fn fifty_posts_over_three_servers_on_one_database_make_one_booking(t: &TestDb) {
        let engine = scheduling(t).await;
        let servers = Servers::start(t, &engine, 3).await;
        let statuses = fifty_at_once(&servers.bases).await;
        servers.stop().await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
        assert_eq!(t.count("SELECT COUNT(*) FROM bookings").await, 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM booking_holds").await, 1);
    }
}
