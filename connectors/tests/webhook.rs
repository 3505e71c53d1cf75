//! The webhook sender against a local endpoint: what arrives, and how each kind of answer
//! is taken — 2xx delivered, 5xx and silence retried, 429 with its wait, a redirect not
//! followed, another refusal given up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use frontdesk_connectors::webhook::HttpWebhooks;
use frontdesk_core::port::{WebhookError, WebhookPost, WebhookSender};

/// What the endpoint received at `/ok`: headers and body.
type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// An endpoint on the loopback answering each path its own way; its base URL.
async fn endpoint() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let keep = seen.clone();
    let router = axum::Router::new()
        .route(
            "/ok",
            post(move |headers: HeaderMap, body: String| async move {
                keep.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }),
        )
        .route("/down", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/busy",
            post(|| async {
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")]).into_response()
            }),
        )
        .route(
            "/moved",
            post(|| async { (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response() }),
        )
        .route("/gone", post(|| async { StatusCode::NOT_FOUND }))
        .route("/silent", post(std::future::pending::<StatusCode>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

fn post_to(url: String) -> WebhookPost {
    WebhookPost {
        url,
        headers: vec![
            ("X-Frontdesk-Timestamp".into(), "1764028800".into()),
            ("X-Frontdesk-Signature".into(), "v1=abc".into()),
        ],
        body: r#"{"event":"visit.checked_in"}"#.into(),
    }
}

#[tokio::test]
async fn each_answer_is_taken_as_what_it_means() {
    let (base, seen) = endpoint().await;
    let sender = HttpWebhooks::with_timeout(Duration::from_millis(500)).unwrap();

    sender.post(&post_to(format!("{base}/ok"))).await.unwrap();
    {
        let seen = seen.lock().unwrap();
        let (headers, body) = &seen[0];
        assert_eq!(body, r#"{"event":"visit.checked_in"}"#);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers["x-frontdesk-signature"], "v1=abc");
        assert_eq!(headers["x-frontdesk-timestamp"], "1764028800");
        assert!(
            headers[header::USER_AGENT]
                .to_str()
                .unwrap()
                .starts_with("Frontdesk-Webhook/")
        );
    }

    let down = sender.post(&post_to(format!("{base}/down"))).await;
    assert!(matches!(down, Err(WebhookError::Temporary(_))), "{down:?}");
    let busy = sender.post(&post_to(format!("{base}/busy"))).await;
    assert_eq!(
        busy,
        Err(WebhookError::RateLimited {
            retry_after_secs: 7
        })
    );
    let moved = sender.post(&post_to(format!("{base}/moved"))).await;
    assert!(
        matches!(&moved, Err(WebhookError::Permanent(reason)) if reason.contains("redirects are not followed")),
        "{moved:?}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the redirect was not followed"
    );
    let gone = sender.post(&post_to(format!("{base}/gone"))).await;
    assert!(
        matches!(&gone, Err(WebhookError::Permanent(reason)) if reason.contains("404")),
        "{gone:?}"
    );
    let silent = sender
        .post(&post_to(format!("{base}/silent?token=s3cret")))
        .await;
    assert!(
        matches!(&silent, Err(WebhookError::Temporary(reason)) if reason.contains("in time")),
        "{silent:?}"
    );
    assert!(
        !format!("{silent:?}").contains("s3cret"),
        "errors name the host, not the URL"
    );
}

#[tokio::test]
async fn an_endpoint_that_is_not_listening_is_worth_retrying() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let sender = HttpWebhooks::new().unwrap();
    let refused = sender.post(&post_to(url)).await;
    assert!(
        matches!(refused, Err(WebhookError::Temporary(_))),
        "{refused:?}"
    );
}
