//! The engine's error: what went wrong in terms a caller can act on.

use std::borrow::Cow;

use crate::domain::field::{Invalid, LineProblem};
use crate::domain::password::PasswordViolation;
use crate::store::StoreError;

/// A boxed cause kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing with this id exists for the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with existing data (e.g. the email is taken).
    #[error("{0}")]
    Conflict(String),
    /// A field's value is not acceptable; `field` names it (`chat_identities.slack`).
    #[error("{field}: {reason}")]
    Invalid {
        field: Cow<'static, str>,
        reason: Invalid,
    },
    /// An imported file has problems; every one is listed, and nothing was written.
    #[error("the file was not imported: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidFile(Vec<LineProblem>),
    /// The password breaks the policy; every broken rule is listed.
    #[error("password rejected: {}", .0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "))]
    WeakPassword(Vec<PasswordViolation>),
    /// Wrong credentials (deliberately vague).
    #[error("email or password is wrong")]
    BadCredentials,
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many attempts; retry after {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Too much password hashing is running or waiting; nothing was checked or stored.
    /// Try again after this many seconds.
    #[error("busy; retry after {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The caller's role does not allow this.
    #[error("not allowed for this account")]
    Forbidden,
    /// The tenant's IP allow-list does not admit the client's address.
    #[error("requests from {ip} are not allowed for this tenant")]
    AddressNotAllowed { ip: std::net::IpAddr },
    /// A reset token that is unknown, used or expired.
    #[error("this reset link is invalid or has expired")]
    InvalidResetToken,
    /// An invitation token that is unknown, used, retired or expired.
    #[error("this invitation link is invalid, already used or has expired")]
    InvalidInvitation,
    /// A web chat sign-in link that is unknown, used or expired.
    #[error("this sign-in link is invalid, already used or has expired")]
    InvalidSignInLink,
    /// Storage failed; the cause goes to the log, not to the user.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else internal: what was being done, and the cause (logged with its chain,
    /// never shown).
    #[error("internal error while {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Cause,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<Cow<'static, str>>, reason: Invalid) -> Self {
        Error::Invalid {
            field: field.into(),
            reason,
        }
    }

    /// An [`Error::Internal`] while doing `context`, keeping `source`.
    pub fn internal(context: &'static str, source: impl Into<Cause>) -> Self {
        Error::Internal {
            context,
            source: source.into(),
        }
    }
}

/// `err` and each of its causes, joined by `: ` — for logs and records operators read
/// (never for users: causes may hold internal detail).
pub fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
