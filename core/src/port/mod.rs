//! Ports: the traits through which the engine reaches the outside world.
//! Implementations are chosen once at start and held as `Arc<dyn …>`.

mod clock;
mod mailer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use mailer::{Mail, MailError, Mailer};
