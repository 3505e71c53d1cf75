//! Fakes of the calendar providers for tests, speaking their real wire formats.

pub mod microsoft;
