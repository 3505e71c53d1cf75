//! The OpenID Connect identity providers tenants sign in with (authorization code + PKCE).
//!
//! The engine keeps the protocol's state (which attempt, its nonce and PKCE verifier, which
//! account); a provider only speaks to the identity provider: discovery, the authorization
//! URL, the code exchange and the ID token's verification.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

/// A tenant's identity provider and this server's registration at it.
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// The issuer URL; discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `{public_url}/sso/{tenant}/callback`, as registered at the identity provider.
    pub redirect_uri: String,
}

/// The secrets of one sign-in attempt: what goes to the identity provider and back.
#[derive(Clone)]
pub struct AttemptSecrets {
    /// Returned by the identity provider with the code; finds the attempt.
    pub state: String,
    /// Must come back inside the ID token.
    pub nonce: String,
    /// PKCE (S256): its hash goes with the authorization request, itself with the code.
    pub pkce_verifier: String,
}

impl fmt::Debug for AttemptSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttemptSecrets([redacted])")
    }
}

/// Who the identity provider says signed in, from an ID token whose signature, issuer,
/// audience, expiry and nonce were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The `sub` claim.
    pub subject: String,
    /// The `email` claim, if any.
    pub email: Option<String>,
    /// The `email_verified` claim; absent counts as not verified.
    pub email_verified: bool,
}

/// Why the identity provider could not be used. The text is for operators' logs.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No usable discovery document (or key set) at the issuer.
    #[error("OpenID Connect discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint refused the code, or did not answer.
    #[error("the token endpoint refused the code: {0}")]
    TokenExchange(String),
    /// The ID token is missing or fails verification.
    #[error("the ID token was refused: {0}")]
    IdToken(String),
}

/// Speaks OpenID Connect to identity providers.
#[async_trait::async_trait]
pub trait OpenIdProvider: Send + Sync + fmt::Debug {
    /// Checks that `issuer` answers discovery with a usable document and key set.
    async fn discover(&self, issuer: &str) -> Result<(), OidcError>;

    /// The identity provider's authorization URL for `attempt` (code flow, S256 PKCE,
    /// scopes `openid email`).
    async fn authorization_url(
        &self,
        client: &OidcClient,
        attempt: &AttemptSecrets,
    ) -> Result<String, OidcError>;

    /// Exchanges `code` (with the PKCE verifier and the client secret) and verifies the ID
    /// token against the provider's keys, the issuer, the client id, `now` and the nonce.
    async fn verify_code(
        &self,
        client: &OidcClient,
        code: &str,
        attempt: &AttemptSecrets,
        now: DateTime<Utc>,
    ) -> Result<VerifiedIdentity, OidcError>;
}
