//! Rooms over HTTP, in-process: an admin adds a room and a door display; the tablet pairs
//! with the code (HttpOnly cookie); the door books the room now, its live stream sees it
//! in use, extends, checks out; conflicts are problem+json in the page's language; a browser
//! that is neither the door nor signed in is refused; rooms are found by seats and
//! equipment; utilisation comes as JSON and as CSV with names neutralised.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::TimeZone;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::port::Clock;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{ManualClock, TestDb, TestEngine, acme_owner};
use frontdesk_webhooks::{AppState, app};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Site {
    router: axum::Router,
    clock: Arc<ManualClock>,
    /// The admin's session cookie.
    admin: String,
    /// The paired door display's cookie.
    door: String,
}

impl Site {
    async fn new(t: &TestDb) -> Site {
        let test = TestEngine::on(t);
        let engine = test.engine.clone();
        let (_, owner) = acme_owner(&engine).await;
        engine
            .create_location(
                &owner,
                LocationInput {
                    slug: "hq".into(),
                    name: "Head office".into(),
                    time_zone: "Asia/Tokyo".into(),
                },
            )
            .await
            .unwrap();
        let router = app(AppState::new(engine.clone(), vec![]));
        let mut site = Site {
            router,
            clock: test.clock.clone(),
            admin: String::new(),
            door: String::new(),
        };
        site.admin = site.sign_in().await;
        for (slug, name, capacity, equipment) in [
            ("room-a", "Room A", 6, json!(["display"])),
            ("room-b", "=Room B", 12, json!(["video", "display"])),
        ] {
            let (status, body) = site
                .call(
                    "POST",
                    "/api/v1/rooms",
                    &site.admin.clone(),
                    json!({
                        "slug": slug, "name": name, "capacity": capacity, "time_zone": "Asia/Tokyo",
                        "equipment": equipment, "floor": 3, "location": "hq"
                    }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["release"]["grace_minutes"], 10, "{body}");
        }
        let (status, pairing) = site
            .call(
                "POST",
                "/api/v1/rooms/room-a/door-displays",
                &site.admin.clone(),
                json!({"name": "Door A"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{pairing}");
        assert!(pairing["pairing_url"].as_str().unwrap().ends_with(&format!(
            "/r/room-a/door#pair={}",
            pairing["pairing_code"].as_str().unwrap()
        )));
        assert!(pairing["pairing_qr_svg"].as_str().unwrap().contains("<svg"));
        let response = site
            .router
            .clone()
            .oneshot(request(
                "POST",
                "/api/v1/rooms/room-a/pairing",
                "",
                json!({"code": pairing["pairing_code"]}),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set_cookie.starts_with("fd_door=") && set_cookie.contains("HttpOnly"),
            "{set_cookie}"
        );
        site.door = set_cookie.split(';').next().unwrap().to_owned();
        site
    }

    async fn sign_in(&self) -> String {
        let response = self
            .router
            .clone()
            .oneshot(request(
                "POST",
                "/api/v1/auth/login",
                "",
                json!({"tenant": "acme", "email": "owner@acme.example", "password": "Blue-Kiosk-4821"}),
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request(method, path, cookie, body))
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    fn at(&self, hour: u32, minute: u32) {
        let target = chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2026, 11, 25, hour, minute, 0)
            .unwrap()
            .with_timezone(&chrono::Utc);
        self.clock.advance(target - self.clock.now());
    }
}

fn request(method: &str, path: &str, cookie: &str, body: Value) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_LANGUAGE, "ja");
    if !cookie.is_empty() {
        request = request.header(header::COOKIE, cookie);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    request.body(body).unwrap()
}

/// The `data` of the next `event: status` on an SSE body, waiting at most five seconds.
async fn next_status(
    stream: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("event: status")
                    && let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = stream.next().await.expect("the stream stays open").unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("a status event within five seconds")
}

storage_tests! {
    async fn a_paired_door_display_books_extends_and_ends_a_meeting_and_its_stream_follows(t: &TestDb) {
        let s = Site::new(t).await;
        s.at(9, 10);
        let (status, free) = s.call("GET", "/api/v1/rooms/room-a/status", &s.door, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{free}");
        assert_eq!(free["room"], "room-a");
        assert_eq!(free["state"], "free");
        assert_eq!(free["details"]["equipment"], json!(["display"]));

        let response = s.router.clone().oneshot(request("GET", "/api/v1/rooms/room-a/events", &s.door, Value::Null)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.into_body().into_data_stream();
        let mut buffer = String::new();
        assert_eq!(next_status(&mut stream, &mut buffer).await["state"], "free");

        let (status, booked) = s.call("POST", "/api/v1/rooms/room-a/book-now", &s.door, json!({"minutes": 30})).await;
        assert_eq!(status, StatusCode::CREATED, "{booked}");
        assert_eq!(booked["state"], "in_use");
        assert_eq!(booked["current"]["end"], "2026-11-25T00:40:00Z");
        let live = next_status(&mut stream, &mut buffer).await;
        assert_eq!(live["state"], "in_use", "{live}");

        let (status, problem) = s.call("POST", "/api/v1/rooms/room-a/book-now", &s.door, json!({"minutes": 15})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["type"], "urn:frontdesk:problem:room-not-free");
        assert!(problem["title"].as_str().unwrap().contains("空いていません"), "{problem}");
        let (status, problem) = s.call("POST", "/api/v1/rooms/room-a/extend", &s.door, json!({"minutes": 20})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["field"], "minutes");

        let (status, extended) = s.call("POST", "/api/v1/rooms/room-a/extend", &s.door, json!({"minutes": 60})).await;
        assert_eq!(status, StatusCode::OK, "{extended}");
        assert_eq!(extended["current"]["end"], "2026-11-25T01:40:00Z");
        assert_eq!(next_status(&mut stream, &mut buffer).await["current"]["end"], "2026-11-25T01:40:00Z");

        let (status, ended) = s.call("POST", "/api/v1/rooms/room-a/check-out", &s.door, Value::Null).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ended["state"], "free");
        assert_eq!(next_status(&mut stream, &mut buffer).await["state"], "free");
        let (status, problem) = s.call("POST", "/api/v1/rooms/room-a/check-in", &s.door, Value::Null).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["type"], "urn:frontdesk:problem:no-meeting-now");
    }

    async fn only_the_rooms_door_or_a_signed_in_employee_may_act_on_it(t: &TestDb) {
        let s = Site::new(t).await;
        for (method, path) in [
            ("GET", "/api/v1/rooms/room-a/status"),
            ("POST", "/api/v1/rooms/room-a/check-in"),
            ("GET", "/api/v1/rooms/free"),
        ] {
            let (status, problem) = s.call(method, path, "", Value::Null).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(problem["type"], "urn:frontdesk:problem:room-sign-in-needed");
        }
        // Room A's door is not room B's.
        let (status, _) = s.call("GET", "/api/v1/rooms/room-b/status", &s.door, Value::Null).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // A wrong or used pairing code pairs nothing.
        let (status, _) = s.call("POST", "/api/v1/rooms/room-a/pairing", "", json!({"code": "ABCD-EFGH-JK"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Reserved names and bad settings are refused by field.
        let (status, problem) = s.call("POST", "/api/v1/rooms", &s.admin, json!({"slug": "free", "name": "Free", "capacity": 4, "time_zone": "Asia/Tokyo"})).await;
        assert_eq!((status, problem["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("slug")));
        let (status, problem) = s.call("PUT", "/api/v1/rooms/room-a", &s.admin, json!({"name": "Room A", "capacity": 6, "time_zone": "Asia/Tokyo", "release": {"enabled": true, "grace_minutes": 500, "long_meeting_hours": null, "exempt": []}})).await;
        assert_eq!((status, problem["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("release.grace_minutes")));
        // Exempt organizers are employees (an admin account is not one).
        let (status, problem) = s.call("PUT", "/api/v1/rooms/room-a", &s.admin, json!({"name": "Room A", "capacity": 6, "time_zone": "Asia/Tokyo", "release": {"enabled": true, "grace_minutes": 5, "long_meeting_hours": null, "exempt": ["owner@acme.example"]}})).await;
        assert_eq!((status, problem["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("release.exempt")));
    }

    async fn rooms_are_found_by_seats_and_equipment_and_utilisation_is_reported(t: &TestDb) {
        let s = Site::new(t).await;
        s.at(9, 10);
        s.call("POST", "/api/v1/rooms/room-a/book-now", &s.door, json!({"minutes": 60})).await;
        let (status, found) = s.call("GET", "/api/v1/rooms/free?seats=4&minutes=30", &s.admin, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let slugs: Vec<&str> = found["rooms"].as_array().unwrap().iter().map(|r| r["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, vec!["room-b"], "room A is in use");
        let (_, later) = s.call("GET", "/api/v1/rooms/free?seats=4&minutes=30&at=2026-11-25T02:00:00Z&equipment=display", &s.admin, Value::Null).await;
        let slugs: Vec<&str> = later["rooms"].as_array().unwrap().iter().map(|r| r["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, vec!["room-a", "room-b"], "smallest first");
        let (_, video) = s.call("GET", "/api/v1/rooms/free?equipment=video,display&at=2026-11-25T02:00:00Z", &s.admin, Value::Null).await;
        assert_eq!(video["rooms"].as_array().unwrap().len(), 1, "{video}");
        let (status, problem) = s.call("GET", "/api/v1/rooms/free?minutes=9999", &s.admin, Value::Null).await;
        assert_eq!((status, problem["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("minutes")));

        s.at(9, 40);
        s.call("POST", "/api/v1/rooms/room-a/check-out", &s.door, Value::Null).await;
        s.at(12, 0);
        let (status, uses) = s.call("GET", "/api/v1/rooms/utilisation?from=2026-11-25&to=2026-11-25&tz=Asia/Tokyo", &s.admin, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{uses}");
        let a = uses.as_array().unwrap().iter().find(|u| u["room"] == "room-a").unwrap();
        assert_eq!((a["booked_hours"].as_f64(), a["used_hours"].as_f64(), a["meetings"].as_u64()), (Some(1.0), Some(0.5), Some(1)), "{a}");
        assert_eq!(a["no_show_rate"], 0.0);
        let response = s.router.clone().oneshot(request("GET", "/api/v1/rooms/utilisation.csv?from=2026-11-25&to=2026-11-25&tz=Asia/Tokyo", &s.admin, Value::Null)).await.unwrap();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        let csv = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        assert!(csv.starts_with("room,name,booked_hours"), "{csv}");
        assert!(csv.contains("\"room-a\",\"Room A\",1,0.5,0,1,0,0.000"), "{csv}");
        assert!(csv.contains("\"'=Room B\""), "a formula is neutralised: {csv}");
        let (status, problem) = s.call("GET", "/api/v1/rooms/utilisation?from=2026-11-25&to=2026-01-01", &s.admin, Value::Null).await;
        assert_eq!((status, problem["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to")));
    }
}
