//! Outgoing webhooks: admins register https endpoints (the loopback only for tests) and get
//! each one's secret once; a check-in and a check-out queue a signed delivery per subscribed
//! endpoint in the same transaction; the dispatcher signs `"{timestamp}.{body}"` when it
//! sends, retries what fails for now, gives up what is refused (where admins see it), and
//! drops deliveries for an endpoint deleted meanwhile. The body names no visitor.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::domain::people::Role;
use frontdesk_core::domain::webhook::WebhookEvent;
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::reception::{CheckIn, Kiosk, VisitView};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::port::{Clock, Ports, WebhookError, WebhookPost};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{RecordingWebhooks, TestDb};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Acme with the location `hq`, a paired kiosk, Alice, and an engine whose webhook
/// deliveries are recorded.
struct Gate {
    f: Fixture,
    engine: Engine,
    webhooks: Arc<RecordingWebhooks>,
    kiosk: Kiosk,
}

impl Gate {
    async fn new(t: &TestDb) -> Gate {
        let f = Fixture::new(t).await;
        let webhooks = Arc::new(RecordingWebhooks::default());
        let ports = Ports {
            webhooks: webhooks.clone(),
            ..f.engine.ports.clone()
        };
        let engine = Engine::new(f.engine.db.clone(), ports, common::settings());
        let hq = LocationInput {
            slug: "hq".into(),
            name: "Head office".into(),
            time_zone: "Asia/Tokyo".into(),
        };
        engine.create_location(&f.owner, hq).await.unwrap();
        engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice Sato"))
            .await
            .unwrap();
        let (_, code) = engine.add_kiosk(&f.owner, "hq", "Lobby").await.unwrap();
        let kiosk = engine.pair_kiosk("hq", &code).await.unwrap().0;
        Gate {
            f,
            engine,
            webhooks,
            kiosk,
        }
    }

    async fn endpoint(&self, url: &str, events: &[&str]) -> (i64, String) {
        let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
        let (endpoint, secret) = self
            .engine
            .add_webhook_endpoint(&self.f.owner, url, &events)
            .await
            .unwrap();
        (endpoint.id, secret)
    }

    async fn check_in(&self, key: Option<&str>) -> VisitView {
        let input = CheckIn {
            host: Some(serde_json::json!("alice@acme.example")),
            visitor_name: Some("Kenji Moriyama".into()),
            visitor_company: Some("Globex Gate Corp".into()),
            ..CheckIn::default()
        };
        self.engine
            .check_in(&self.kiosk, "192.0.2.50", input, key)
            .await
            .unwrap()
            .visit
    }

    /// The webhook deliveries that the next dispatch sends.
    async fn dispatched(&self) -> Vec<WebhookPost> {
        let before = self.webhooks.posted().len();
        self.engine.dispatch_due().await.unwrap();
        self.webhooks.posted()[before..].to_vec()
    }
}

fn header<'a>(post: &'a WebhookPost, name: &str) -> &'a str {
    post.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// What a receiver computes: `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"`.
fn expected_signature(secret: &str, post: &WebhookPost) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{}.{}", header(post, "X-Frontdesk-Timestamp"), post.body).as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn invalid_field(err: Error) -> (String, Invalid) {
    match err {
        Error::Invalid { field, reason } => (field.into_owned(), reason),
        other => panic!("expected a refused field, got {other:?}"),
    }
}

storage_tests! {
    async fn endpoints_are_https_or_the_loopback_and_their_secret_is_shown_once(t: &TestDb) {
        let gate = Gate::new(t).await;
        let f = &gate.f;
        let add = |url: &'static str, events: Vec<String>| {
            let engine = gate.engine.clone();
            let owner = f.owner.clone();
            async move { engine.add_webhook_endpoint(&owner, url, &events).await }
        };
        for url in ["http://gate.example.com/hook", "ftp://gate.example.com/", "https://u:p@gate.example.com/", "gate"] {
            let (field, reason) = invalid_field(add(url, vec![]).await.unwrap_err());
            assert_eq!((field.as_str(), reason), ("url", Invalid::NotWebhookUrl), "{url}");
        }
        let (field, _) = invalid_field(add("https://gate.example.com/", vec!["room.released".into()]).await.unwrap_err());
        assert_eq!(field, "events");
        let receptionist = f.account("desk@acme.example", Role::Receptionist, false).await;
        assert!(matches!(
            gate.engine.add_webhook_endpoint(&receptionist, "https://gate.example.com/", &[]).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(gate.engine.webhook_endpoints(&receptionist).await, Err(Error::Forbidden)));

        let (endpoint, secret) = add("https://gate.example.com/frontdesk?site=hq", vec![]).await.unwrap();
        assert_eq!(endpoint.events, WebhookEvent::ALL, "every event when none is named");
        assert_eq!(secret.len(), 43, "32 random bytes");
        let (local, other_secret) = add("http://127.0.0.1:9/hook", vec!["visit.checked_out".into()]).await.unwrap();
        assert_ne!(secret, other_secret);
        assert_eq!(local.events, [WebhookEvent::VisitCheckedOut]);
        let listed = gate.engine.webhook_endpoints(&f.owner).await.unwrap();
        assert_eq!(listed, [endpoint.clone(), local.clone()]);

        // The secret is sealed, and the access log names the endpoint, never the secret.
        assert_eq!(t.tables_containing(&secret).await, Vec::<String>::new());
        let logged = f.logged("webhook_endpoint.create").await;
        assert_eq!(logged.len(), 2);
        assert!(logged.iter().all(|e| !e.detail.contains(&secret) && !e.detail.contains(&other_secret)));
        assert!(logged[1].detail.contains("gate.example.com"), "{}", logged[1].detail);

        gate.engine.delete_webhook_endpoint(&f.owner, local.id).await.unwrap();
        assert!(matches!(gate.engine.delete_webhook_endpoint(&f.owner, local.id).await, Err(Error::NotFound(_))));
        assert_eq!(f.logged("webhook_endpoint.delete").await.len(), 1);

        for i in 1..20 {
            add_numbered(&gate, i).await;
        }
        let (field, reason) = invalid_field(add("https://gate.example.com/one-too-many", vec![]).await.unwrap_err());
        assert_eq!((field.as_str(), reason), ("url", Invalid::TooMany { max: 20 }));
    }

    async fn check_ins_and_check_outs_are_signed_and_sent_to_subscribed_endpoints(t: &TestDb) {
        let gate = Gate::new(t).await;
        let (_, both_secret) = gate.endpoint("https://gate.example.com/both", &[]).await;
        let (_, out_secret) = gate.endpoint("https://door.example.com/out", &["visit.checked_out"]).await;

        let visit = gate.check_in(Some("key-1")).await;
        let sent = gate.dispatched().await;
        assert_eq!(sent.len(), 1, "only the endpoint subscribed to check-ins: {sent:?}");
        let post = &sent[0];
        assert_eq!(post.url, "https://gate.example.com/both");
        assert_eq!(header(post, "X-Frontdesk-Event"), "visit.checked_in");
        assert_eq!(header(post, "X-Frontdesk-Timestamp"), gate.f.clock.now().timestamp().to_string());
        assert_eq!(header(post, "X-Frontdesk-Signature"), expected_signature(&both_secret, post));
        assert!(!header(post, "X-Frontdesk-Delivery").is_empty());
        let body: Value = serde_json::from_str(&post.body).unwrap();
        assert_eq!(body["event"], "visit.checked_in");
        assert_eq!(body["visit"]["id"], visit.public_id);
        assert_eq!(body["visit"]["location"], "hq");
        assert_eq!(body["visit"]["status"], "waiting");
        assert_eq!(body["visit"]["host"]["name"], "Alice Sato");
        assert_eq!(body["visit"]["host"]["email"], "alice@acme.example");
        assert_eq!(body["visit"]["checked_in_at"], "2026-11-25T00:00:00Z");
        assert_eq!(body["visit"]["checked_out_at"], Value::Null);
        assert!(!post.body.contains("Kenji") && !post.body.contains("Globex"), "no visitor data: {}", post.body);

        // The kiosk sending the same check-in again makes no second delivery.
        gate.check_in(Some("key-1")).await;
        assert!(gate.dispatched().await.is_empty());

        gate.f.clock.advance(Duration::minutes(90));
        gate.engine.check_out_visit(&gate.f.owner, &visit.public_id).await.unwrap();
        let mut sent = gate.dispatched().await;
        sent.sort_by(|a, b| a.url.cmp(&b.url));
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0].url, "https://door.example.com/out");
        assert_eq!(header(&sent[0], "X-Frontdesk-Signature"), expected_signature(&out_secret, &sent[0]));
        assert_eq!(header(&sent[1], "X-Frontdesk-Signature"), expected_signature(&both_secret, &sent[1]));
        let body: Value = serde_json::from_str(&sent[0].body).unwrap();
        assert_eq!(body["event"], "visit.checked_out");
        assert_eq!(body["visit"]["status"], "checked_out");
        assert_eq!(body["visit"]["checked_out_at"], "2026-11-25T01:30:00Z");
        assert_eq!(sent[0].body, sent[1].body, "one body for every endpoint");

        // Checking out twice tells nobody twice; the day's end checks out the rest, told too.
        gate.engine.check_out_visit(&gate.f.owner, &visit.public_id).await.unwrap();
        assert!(gate.dispatched().await.is_empty());
        gate.check_in(None).await;
        gate.dispatched().await;
        gate.f.clock.advance(Duration::days(1));
        assert_eq!(gate.engine.run_reception_day().await.unwrap().checked_out, 1);
        let sent = gate.dispatched().await;
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|p| p.body.contains("visit.checked_out")));
    }

    async fn a_failing_endpoint_is_retried_and_a_refusing_one_is_given_up(t: &TestDb) {
        let gate = Gate::new(t).await;
        let (endpoint, secret) = gate.endpoint("https://gate.example.com/hook", &["visit.checked_in"]).await;

        // Down for now: retried after the backoff, then delivered once, freshly signed.
        gate.webhooks.fail_next([WebhookError::Temporary("the endpoint answered 503".into())]);
        gate.check_in(None).await;
        assert!(gate.dispatched().await.is_empty());
        assert!(gate.dispatched().await.is_empty(), "not due again before the backoff");
        gate.f.clock.advance(Duration::minutes(1));
        let sent = gate.dispatched().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(header(&sent[0], "X-Frontdesk-Timestamp"), gate.f.clock.now().timestamp().to_string());
        assert_eq!(header(&sent[0], "X-Frontdesk-Signature"), expected_signature(&secret, &sent[0]));

        // Rate limited: not before the endpoint's Retry-After.
        gate.webhooks.fail_next([WebhookError::RateLimited { retry_after_secs: 120 }]);
        gate.check_in(None).await;
        assert!(gate.dispatched().await.is_empty());
        gate.f.clock.advance(Duration::seconds(119));
        assert!(gate.dispatched().await.is_empty());
        gate.f.clock.advance(Duration::seconds(2));
        assert_eq!(gate.dispatched().await.len(), 1);

        // Refused: given up at once, where admins see it; the check-in stands.
        gate.webhooks.fail_next([WebhookError::Permanent("the endpoint at gate.example.com refused the delivery (404 Not Found)".into())]);
        let visit = gate.check_in(None).await;
        assert!(gate.dispatched().await.is_empty());
        let dead = gate.engine.undeliverable(&gate.f.owner).await.unwrap();
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].channel, "webhook");
        assert_eq!(dead[0].to, format!("webhook endpoint {endpoint}"));
        assert_eq!(dead[0].subject, "visit.checked_in");
        assert!(dead[0].reason.contains("404"), "{}", dead[0].reason);
        assert_eq!(gate.engine.on_site(&gate.f.owner, None).await.unwrap().iter().filter(|v| v.id == visit.id).count(), 1);
    }

    async fn deliveries_for_a_deleted_endpoint_are_dropped(t: &TestDb) {
        let gate = Gate::new(t).await;
        let (endpoint, _) = gate.endpoint("https://gate.example.com/hook", &[]).await;
        gate.check_in(None).await;
        gate.engine.delete_webhook_endpoint(&gate.f.owner, endpoint).await.unwrap();
        assert!(gate.dispatched().await.is_empty());
        assert!(gate.engine.undeliverable(&gate.f.owner).await.unwrap().is_empty(), "dropped, not given up");
        gate.check_in(None).await;
        assert!(gate.dispatched().await.is_empty(), "nothing queued without an endpoint");
    }
}

async fn add_numbered(gate: &Gate, i: usize) {
    gate.endpoint(&format!("https://gate{i}.example.com/hook"), &[])
        .await;
}
