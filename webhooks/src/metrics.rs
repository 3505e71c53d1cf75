//! Request metrics in the Prometheus text format, kept in memory per instance.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters of handled requests by method, route and status.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            requests: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts one request. `route` is the matched route pattern (bounded cardinality).
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().expect("metrics lock poisoned");
        let series = requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        let seconds = elapsed.as_secs_f64();
        series.count += 1;
        series.sum_seconds += seconds;
        for (bucket, bound) in series.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP frontdesk_uptime_seconds Seconds since this instance started."
        );
        let _ = writeln!(out, "# TYPE frontdesk_uptime_seconds gauge");
        let _ = writeln!(
            out,
            "frontdesk_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "# HELP frontdesk_http_requests_total HTTP requests handled."
        );
        let _ = writeln!(out, "# TYPE frontdesk_http_requests_total counter");
        let requests = self.requests.lock().expect("metrics lock poisoned");
        for ((method, route, status), series) in requests.iter() {
            let _ = writeln!(
                out,
                "frontdesk_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                series.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP frontdesk_http_request_duration_seconds Time to answer HTTP requests."
        );
        let _ = writeln!(
            out,
            "# TYPE frontdesk_http_request_duration_seconds histogram"
        );
        for ((method, route, status), series) in requests.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (bound, count) in BUCKETS.iter().zip(series.buckets) {
                let _ = writeln!(
                    out,
                    "frontdesk_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "frontdesk_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                series.count
            );
            let _ = writeln!(
                out,
                "frontdesk_http_request_duration_seconds_sum{{{labels}}} {}",
                series.sum_seconds
            );
            let _ = writeln!(
                out,
                "frontdesk_http_request_duration_seconds_count{{{labels}}} {}",
                series.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_as_counters_and_histograms() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(3));
        metrics.observe("GET", "/healthz", 200, Duration::from_millis(30));
        let text = metrics.render();
        assert!(
            text.contains(
                "frontdesk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
    }
}
