//! Time, behind a port so tests control it.

use chrono::{DateTime, Utc};

/// The source of "now" for everything the engine decides.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;

    /// The current instant as epoch milliseconds (the stored form).
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The machine's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
