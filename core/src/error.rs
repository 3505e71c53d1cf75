//! The engine's error: what went wrong in terms a caller can act on.

use std::borrow::Cow;

use crate::domain::field::{Invalid, LineProblem};
use crate::domain::password::PasswordViolation;
use crate::store::StoreError;

/// Why a single sign-on was refused (what the person is told; details go to the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRefusal {
    /// The identity provider could not be reached, refused the code, or its ID token
    /// failed verification.
    IdentityProvider,
    /// The ID token has no email, or does not say it is verified.
    EmailNotVerified,
    /// No account of the tenant has the email.
    NoAccount,
}

impl SsoRefusal {
    /// A stable name (API bodies and the access log carry it).
    pub fn code(self) -> &'static str {
        match self {
            SsoRefusal::IdentityProvider => "identity_provider",
            SsoRefusal::EmailNotVerified => "email_not_verified",
            SsoRefusal::NoAccount => "no_account",
        }
    }

    /// The catalogue key of what the person is told.
    pub fn message_key(self) -> &'static str {
        match self {
            SsoRefusal::IdentityProvider => "page.sso.identity_provider",
            SsoRefusal::EmailNotVerified => "page.sso.email_not_verified",
            SsoRefusal::NoAccount => "page.sso.no_account",
        }
    }
}

impl std::fmt::Display for SsoRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

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
    /// Single sign-on is not set up for the tenant (or there is no such tenant).
    #[error("single sign-on is not set up for this organisation")]
    SsoNotConfigured,
    /// A single sign-on callback whose attempt is unknown, used, expired or another
    /// tenant's.
    #[error("this sign-in attempt is invalid, already used or has expired")]
    InvalidSsoAttempt,
    /// The identity provider's answer does not sign anyone in.
    #[error("single sign-on refused: {0}")]
    SsoRefused(SsoRefusal),
    /// The tenant requires single sign-on for this account: no password sign-in or reset.
    #[error("this organisation requires single sign-on for this account")]
    SsoRequired,
    /// A calendar OAuth callback whose state is unknown, used or expired.
    #[error("this calendar connection is invalid, already used or has expired")]
    InvalidOAuthState,
    /// The calendar provider refused to connect (the reason is the provider's).
    #[error("the calendar provider refused the connection: {0}")]
    CalendarRefused(String),
    /// A reception code that opens no visit today (unknown, withdrawn, or of another day).
    #[error("this reception code is not valid today")]
    WrongReceptionCode,
    /// A kiosk or door display that is not paired (or whose pairing was revoked).
    #[error("this device is not paired")]
    DeviceNotPaired,
    /// A pairing code that is unknown, used or expired.
    #[error("this pairing code is invalid, already used or has expired")]
    WrongPairingCode,
    /// The slot was booked by someone else meanwhile (nothing was written).
    #[error("this time was just booked by someone else; please pick another")]
    SlotTaken,
    /// A single-use booking link that has been used.
    #[error("this booking link has already been used")]
    LinkUsed,
    /// The room is not free for the time asked (booked now, or extended into the next
    /// meeting).
    #[error("this room is not free for that long")]
    RoomNotFree,
    /// No meeting holds the room now (nothing to check in to, check out of or extend).
    #[error("there is no meeting in this room now")]
    NoMeetingNow,
    /// The meeting was released because nobody checked in in time.
    #[error("this booking was released because nobody checked in in time")]
    MeetingReleased,
    /// A room page acted on without a paired door display or a signed-in employee.
    #[error("sign in to the web chat, or use the room's door display")]
    RoomSignInNeeded,
    /// A booking's manage link that is unknown or whose token is wrong.
    #[error("this booking link is invalid or the booking no longer exists")]
    InvalidManageLink,
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
