//! The engine's error: what went wrong in terms a caller can act on.

use crate::domain::password::PasswordViolation;
use crate::store::StoreError;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing with this id exists for the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with existing data (e.g. the email is taken).
    #[error("{0}")]
    Conflict(String),
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The password breaks the policy; every broken rule is listed.
    #[error("password rejected: {}", .0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "))]
    WeakPassword(Vec<PasswordViolation>),
    /// Wrong credentials (deliberately vague).
    #[error("email or password is wrong")]
    BadCredentials,
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many attempts; retry after {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// The caller's role does not allow this.
    #[error("not allowed for this account")]
    Forbidden,
    /// A reset token that is unknown, used or expired.
    #[error("this reset link is invalid or has expired")]
    InvalidResetToken,
    /// Storage failed; the cause goes to the log, not to the user.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else internal.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
