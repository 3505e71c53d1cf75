//! Request metrics for Prometheus (OpenMetrics text, by `prometheus-client`), kept in
//! memory per instance.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The labels of a request's series. Every value comes from a fixed set (known methods or
/// "other", route patterns or "unmatched", status codes), so clients cannot grow the series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

type DurationFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Handled requests by method, route and status, and this instance's uptime.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    uptime: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: DurationFamily = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let uptime = Gauge::<f64, AtomicU64>::default();
        let mut registry = Registry::default();
        // The counter's samples get the `_total` suffix: frontdesk_http_requests_total.
        registry.register(
            "frontdesk_http_requests",
            "HTTP requests handled",
            requests.clone(),
        );
        registry.register(
            "frontdesk_http_request_duration_seconds",
            "Time to answer HTTP requests",
            durations.clone(),
        );
        registry.register(
            "frontdesk_uptime_seconds",
            "Seconds since this instance started",
            uptime.clone(),
        );
        Metrics {
            started: Instant::now(),
            registry,
            requests,
            durations,
            uptime,
        }
    }
}

impl Metrics {
    /// Counts one request. `route` is the matched route pattern (bounded cardinality).
    pub fn observe(&self, method: &'static str, route: String, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            method,
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Everything in the OpenMetrics text format.
    pub fn render(&self) -> String {
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_as_counters_and_histograms() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/healthz".into(), 200, Duration::from_millis(3));
        metrics.observe("GET", "/healthz".into(), 200, Duration::from_millis(30));
        let text = metrics.render();
        assert!(
            text.contains("# TYPE frontdesk_http_requests counter"),
            "{text}"
        );
        assert!(
            text.contains(
                "frontdesk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            ),
            "{text}"
        );
        let bucket = |le: &str| {
            format!(
                "frontdesk_http_request_duration_seconds_bucket{{le=\"{le}\",method=\"GET\",route=\"/healthz\",status=\"200\"}}"
            )
        };
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", bucket("+Inf"))), "{text}");
        assert!(text.contains("frontdesk_uptime_seconds "), "{text}");
    }
}
