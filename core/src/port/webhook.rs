//! Outgoing webhooks: a signed POST to an endpoint an admin registered (a gate or door
//! controller). The engine builds and signs the request; a sender only delivers it.

use async_trait::async_trait;

/// One delivery: where, the headers (signature and timestamp among them) and the JSON body.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookPost {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// An endpoint's URL may carry a token in its query, so `Debug` shows its host and path only.
impl std::fmt::Debug for WebhookPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = url::Url::parse(&self.url)
            .map(|u| {
                format!(
                    "{}://{}{}",
                    u.scheme(),
                    u.host_str().unwrap_or(""),
                    u.path()
                )
            })
            .unwrap_or_default();
        f.debug_struct("WebhookPost")
            .field("url", &shown)
            .finish_non_exhaustive()
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Worth retrying later (connection failed, timeout, 5xx).
    #[error("temporary webhook failure: {0}")]
    Temporary(String),
    /// The endpoint asked to wait this long first (429 with `Retry-After`).
    #[error("rate limited; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Retrying will not help (the endpoint refuses: 4xx, or it redirects elsewhere).
    #[error("permanent webhook failure: {0}")]
    Permanent(String),
}

/// Delivers outgoing webhooks.
#[async_trait]
pub trait WebhookSender: Send + Sync + std::fmt::Debug {
    /// POSTs `post`; `Ok` when the endpoint answered 2xx.
    async fn post(&self, post: &WebhookPost) -> Result<(), WebhookError>;
}
