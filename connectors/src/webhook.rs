//! Outgoing webhooks over HTTPS (core's `WebhookSender`): one POST per delivery, signed by
//! the engine. A slow or silent endpoint cannot hold the dispatcher (a timeout), and a
//! redirect is not followed: the signed request goes where the admin registered, nowhere else.

use std::time::Duration;

use async_trait::async_trait;
use frontdesk_core::port::{WebhookError, WebhookPost, WebhookSender};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

/// How long one delivery may take, connection included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait asked of the dispatcher after a 429 without `Retry-After`.
const DEFAULT_RETRY_AFTER_SECS: u64 = 60;

/// Delivers webhooks with reqwest (rustls).
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    http: reqwest::Client,
}

impl HttpWebhooks {
    /// A sender whose deliveries time out after [`DELIVERY_TIMEOUT`].
    pub fn new() -> Result<HttpWebhooks, reqwest::Error> {
        HttpWebhooks::with_timeout(DELIVERY_TIMEOUT)
    }

    /// A sender whose deliveries time out after `timeout` (tests use a short one).
    pub fn with_timeout(timeout: Duration) -> Result<HttpWebhooks, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Frontdesk-Webhook/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpWebhooks { http })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhooks {
    async fn post(&self, post: &WebhookPost) -> Result<(), WebhookError> {
        // The URL may carry a token in its query: errors name the host only.
        let host = reqwest::Url::parse(&post.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let mut request = self
            .http
            .post(&post.url)
            .header(CONTENT_TYPE, "application/json")
            .body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|err| {
            let what = if err.is_timeout() {
                "did not answer in time"
            } else if err.is_connect() {
                "could not be reached"
            } else {
                "failed to take the delivery"
            };
            WebhookError::Temporary(format!("the endpoint at {host} {what}"))
        })?;
        let status = response.status();
        match status {
            status if status.is_success() => Ok(()),
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after_secs = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
                Err(WebhookError::RateLimited { retry_after_secs })
            }
            StatusCode::REQUEST_TIMEOUT => Err(WebhookError::Temporary(format!(
                "the endpoint at {host} answered {status}"
            ))),
            status if status.is_server_error() => Err(WebhookError::Temporary(format!(
                "the endpoint at {host} answered {status}"
            ))),
            status if status.is_redirection() => Err(WebhookError::Permanent(format!(
                "the endpoint at {host} answered {status}; redirects are not followed \
                 (register the URL it redirects to)"
            ))),
            status => Err(WebhookError::Permanent(format!(
                "the endpoint at {host} refused the delivery ({status})"
            ))),
        }
    }
}
