//! Fakes of the calendar providers for tests (feature `testing`), here and in the HTTP
//! edge's tests: loopback servers that speak the provider's real JSON and record every call.

pub mod google;
pub mod microsoft;

pub use google::FakeGoogle;
pub use microsoft::FakeGraph;
