//! Single sign-on with OpenID Connect (whitepaper 2-5-3): each tenant's identity provider,
//! kept by its owners, and the sign-in through it (authorization code + PKCE).
//!
//! An attempt starts at `/sso/{tenant}/start`: a random state, nonce and PKCE verifier are
//! stored (the state only as its hash, the other two sealed), single use, for 10 minutes.
//! The callback finds the attempt by its state within the tenant, has the provider port
//! exchange the code and verify the ID token, and signs in the tenant's account with the
//! token's verified email — SSO never creates accounts. The attempt is used up in the same
//! transaction as the session is created (or the refusal recorded).

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::access_log::Event;
use super::auth::SignIn;
use super::{Actor, Engine};
use crate::domain::field::{Invalid, TextLimit, checked_text};
use crate::domain::people::{Permission, Role, normalize_email};
use crate::domain::token;
use crate::engine::tenant::validate_slug;
use crate::error::SsoRefusal;
use crate::port::{AttemptSecrets, OidcClient, SealedAt};
use crate::store::Tx;
use crate::store::account::{self, Account};
use crate::store::sso::{self as store, StoredSettings};
use crate::store::tenant::{self, Tenant};
use crate::{Error, Result};

/// How long a sign-in may take at the identity provider.
pub const ATTEMPT_TTL: Duration = Duration::minutes(10);
/// The longest issuer URL accepted.
pub const MAX_ISSUER_LEN: usize = 500;
/// The longest client id accepted.
pub const MAX_CLIENT_ID_LEN: usize = 255;
/// The longest client secret accepted.
pub const MAX_CLIENT_SECRET_LEN: usize = 1000;
/// The longest `state` or `code` a callback may carry (ours are 43 characters; codes are
/// the provider's, and rarely past a few hundred).
const MAX_CALLBACK_PARAM_LEN: usize = 4096;

/// New settings as an owner submits them.
#[derive(Debug, Clone)]
pub struct SsoChange {
    pub issuer: String,
    pub client_id: String,
    /// `None` keeps the stored secret (needed the first time).
    pub client_secret: Option<SecretString>,
    /// Refuse password sign-in and resets to non-owners.
    pub require_sso: bool,
}

/// A tenant's identity provider as owners see it (the client secret is never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    pub issuer: String,
    pub client_id: String,
    pub require_sso: bool,
}

/// Where to send the browser to sign in, and the state that will come back.
#[derive(Debug, Clone)]
pub struct SsoStart {
    pub authorization_url: String,
    /// The attempt's state (the edge binds it to the browser with a cookie).
    pub state: SecretString,
}

impl From<&StoredSettings> for SsoSettings {
    fn from(stored: &StoredSettings) -> Self {
        SsoSettings {
            issuer: stored.issuer.clone(),
            client_id: stored.client_id.clone(),
            require_sso: stored.require_sso,
        }
    }
}

/// The issuer, trimmed, if it is an `https://` URL without query or fragment. Plain
/// `http://` is accepted only for loopback hosts (127.0.0.1, ::1, localhost), so tests can
/// run a local identity provider; nothing else reaches the network unencrypted.
fn checked_issuer(raw: &str) -> Result<String> {
    let invalid = |reason| Error::invalid("issuer", reason);
    let issuer = checked_text(raw, TextLimit::name(MAX_ISSUER_LEN)).map_err(invalid)?;
    let url = url::Url::parse(&issuer).map_err(|_| invalid(Invalid::NotIssuerUrl))?;
    let scheme_ok = crate::domain::network::is_secure_or_loopback(&url);
    if !scheme_ok || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty()
    {
        return Err(invalid(Invalid::NotIssuerUrl));
    }
    Ok(issuer)
}

/// The one place a client secret is sealed for storage: under the tenant's data key, so a
/// purge leaves it unreadable in every backup.
fn seal_client_secret(engine: &Engine, tenant_id: i64, plain: &str) -> Result<String> {
    let row = tenant_id.to_string();
    engine.seal_for_tenant(plain.as_bytes(), client_secret_at(tenant_id, &row))
}

/// The one place a stored client secret is opened.
fn open_client_secret(engine: &Engine, tenant_id: i64, sealed: &str) -> Result<SecretString> {
    let row = tenant_id.to_string();
    let plain = engine
        .open_for_tenant(sealed, client_secret_at(tenant_id, &row))
        .map_err(|err| Error::internal("opening an SSO client secret", err))?;
    let text = String::from_utf8(plain)
        .map_err(|err| Error::internal("reading an SSO client secret", err))?;
    Ok(SecretString::from(text))
}

fn client_secret_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "sso_settings",
        column: "client_secret",
        row,
    }
}

/// Where an attempt's nonce and PKCE verifier are sealed: bound to its state's hash.
fn attempt_at(tenant_id: i64, state_hash: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "sso_login_attempts",
        column: "secrets",
        row: state_hash,
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SealedAttempt {
    nonce: String,
    pkce_verifier: String,
}

impl Engine {
    /// `{public_url}/sso/{tenant}/callback`: the redirect URI to register at the provider.
    pub fn sso_redirect_uri(&self, tenant_slug: &str) -> String {
        format!(
            "{}/sso/{tenant_slug}/callback",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// The actor's tenant's identity provider (owners), if one is set up.
    pub async fn sso_settings(&self, actor: &Actor) -> Result<Option<SsoSettings>> {
        actor.require(Permission::ManageSecurity)?;
        let mut tx = self.db.read().await?;
        let stored = store::settings(&mut tx, actor.account.tenant_id).await?;
        Ok(stored.as_ref().map(SsoSettings::from))
    }

    /// Sets the actor's tenant's identity provider (owners), after checking that its issuer
    /// answers OpenID Connect discovery; logged without the secret.
    pub async fn set_sso_settings(&self, actor: &Actor, change: SsoChange) -> Result<SsoSettings> {
        actor.require(Permission::ManageSecurity)?;
        let tenant_id = actor.account.tenant_id;
        let issuer = checked_issuer(&change.issuer)?;
        let client_id = checked_text(&change.client_id, TextLimit::name(MAX_CLIENT_ID_LEN))
            .map_err(|reason| Error::invalid("client_id", reason))?;
        let new_secret = match &change.client_secret {
            Some(secret) => Some(
                checked_text(
                    secret.expose_secret(),
                    TextLimit::name(MAX_CLIENT_SECRET_LEN),
                )
                .map_err(|reason| Error::invalid("client_secret", reason))?,
            ),
            None => None,
        };
        // Asked before anything is written, and outside any transaction: it is a network call.
        if let Err(err) = self.ports.openid.discover(&issuer).await {
            tracing::info!(%issuer, error = %err, "SSO issuer refused: discovery failed");
            return Err(Error::invalid("issuer", Invalid::IssuerUnreachable));
        }
        let mut tx = self.db.write().await?;
        let old = store::settings(&mut tx, tenant_id).await?;
        let client_secret = match (&new_secret, &old) {
            (Some(plain), _) => seal_client_secret(self, tenant_id, plain)?,
            (None, Some(old)) => old.client_secret.clone(),
            (None, None) => return Err(Error::invalid("client_secret", Invalid::Required)),
        };
        let stored = StoredSettings {
            issuer,
            client_id,
            client_secret,
            require_sso: change.require_sso,
        };
        let now = self.ports.clock.now_ms();
        store::save(&mut tx, tenant_id, &stored, now).await?;
        let event = Event::by(
            actor,
            "sso.update",
            format!("tenant:{tenant_id}"),
            json!({
                "issuer": [old.as_ref().map(|o| &o.issuer), &stored.issuer],
                "client_id": [old.as_ref().map(|o| &o.client_id), &stored.client_id],
                "require_sso": [old.as_ref().map(|o| o.require_sso), stored.require_sso],
                "client_secret_changed": new_secret.is_some(),
            }),
        );
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(SsoSettings::from(&stored))
    }

    /// Removes the actor's tenant's identity provider (owners); password sign-in is then
    /// open to every account again.
    pub async fn delete_sso_settings(&self, actor: &Actor) -> Result<()> {
        actor.require(Permission::ManageSecurity)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        if store::delete(&mut tx, tenant_id).await? {
            let event = Event::by(
                actor,
                "sso.delete",
                format!("tenant:{tenant_id}"),
                json!({}),
            );
            self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant of `slug` and its stored settings, or [`Error::SsoNotConfigured`].
    async fn sso_tenant(&self, tenant_slug: &str) -> Result<(Tenant, StoredSettings)> {
        if validate_slug(tenant_slug).is_err() {
            return Err(Error::SsoNotConfigured);
        }
        let mut tx = self.db.read().await?;
        let tenant = tenant::find_tenant_by_slug(&mut tx, tenant_slug)
            .await?
            .ok_or(Error::SsoNotConfigured)?;
        let settings = store::settings(&mut tx, tenant.id)
            .await?
            .ok_or(Error::SsoNotConfigured)?;
        Ok((tenant, settings))
    }

    fn oidc_client(&self, tenant: &Tenant, settings: &StoredSettings) -> Result<OidcClient> {
        Ok(OidcClient {
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            client_secret: open_client_secret(self, tenant.id, &settings.client_secret)?,
            redirect_uri: self.sso_redirect_uri(&tenant.slug),
        })
    }

    /// Starts a sign-in to `tenant_slug` through its identity provider from `ip`: stores
    /// the attempt and answers where to send the browser.
    pub async fn start_sso(&self, tenant_slug: &str, ip: std::net::IpAddr) -> Result<SsoStart> {
        let (tenant, settings) = self.sso_tenant(tenant_slug).await?;
        self.admit_address(tenant.id, ip, "sso", "sso sign-in")
            .await?;
        let client = self.oidc_client(&tenant, &settings)?;
        let attempt = AttemptSecrets {
            state: token::generate(),
            nonce: token::generate(),
            pkce_verifier: token::generate(),
        };
        let authorization_url = self
            .ports
            .openid
            .authorization_url(&client, &attempt)
            .await
            .map_err(|err| {
                tracing::warn!(tenant = tenant_slug, error = %err, "SSO start failed");
                Error::SsoRefused(SsoRefusal::IdentityProvider)
            })?;
        let state_hash = token::hash(&attempt.state);
        let sealed = serde_json::to_vec(&SealedAttempt {
            nonce: attempt.nonce.clone(),
            pkce_verifier: attempt.pkce_verifier.clone(),
        })
        .map_err(|err| Error::internal("writing an SSO attempt", err))?;
        let sealed = self.seal_for_tenant(&sealed, attempt_at(tenant.id, &state_hash))?;
        let now = self.ports.clock.now_ms();
        let expires = now + ATTEMPT_TTL.num_milliseconds();
        let mut tx = self.db.write().await?;
        store::insert_attempt(&mut tx, &state_hash, tenant.id, &sealed, now, expires).await?;
        tx.commit().await?;
        Ok(SsoStart {
            authorization_url,
            state: SecretString::from(attempt.state),
        })
    }

    /// Finishes a sign-in to `tenant_slug` at its callback with the provider's `state` and
    /// `code`: the account whose email the verified ID token names is signed in, with the
    /// same session and access-log entry as a password sign-in (method `sso`).
    pub async fn finish_sso(
        &self,
        tenant_slug: &str,
        state: &str,
        code: &str,
        ip: std::net::IpAddr,
    ) -> Result<SignIn> {
        let (tenant, settings) = self.sso_tenant(tenant_slug).await?;
        self.admit_address(tenant.id, ip, "sso", "sso sign-in")
            .await?;
        if state.is_empty()
            || code.is_empty()
            || state.len() > MAX_CALLBACK_PARAM_LEN
            || code.len() > MAX_CALLBACK_PARAM_LEN
        {
            return Err(Error::InvalidSsoAttempt);
        }
        let state_hash = token::hash(state);
        let now = self.ports.clock.now_ms();
        let live = {
            let mut tx = self.db.read().await?;
            store::find_live_attempt(&mut tx, &state_hash, tenant.id, now).await?
        }
        .ok_or(Error::InvalidSsoAttempt)?;
        let opened = self
            .open_for_tenant(&live.secrets, attempt_at(tenant.id, &state_hash))
            .map_err(|err| Error::internal("opening an SSO attempt", err))?;
        let sealed: SealedAttempt = serde_json::from_slice(&opened)
            .map_err(|err| Error::internal("reading an SSO attempt", err))?;
        let attempt = AttemptSecrets {
            state: state.to_owned(),
            nonce: sealed.nonce,
            pkce_verifier: sealed.pkce_verifier,
        };
        let client = self.oidc_client(&tenant, &settings)?;
        let ip = ip.to_string();
        let identity = match self
            .ports
            .openid
            .verify_code(&client, code, &attempt, self.ports.clock.now())
            .await
        {
            Ok(identity) => identity,
            Err(err) => {
                tracing::warn!(tenant = tenant_slug, error = %err, "SSO sign-in refused");
                let refusal = SsoRefusal::IdentityProvider;
                return self
                    .refuse_sso(tenant.id, &state_hash, "sso", &ip, refusal)
                    .await;
            }
        };
        let email = match identity.email.as_deref().map(normalize_email) {
            Some(Ok(email)) if identity.email_verified => email,
            _ => {
                let who = identity.email.as_deref().unwrap_or("sso");
                let refusal = SsoRefusal::EmailNotVerified;
                return self
                    .refuse_sso(tenant.id, &state_hash, who, &ip, refusal)
                    .await;
            }
        };
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        if !store::consume_attempt(&mut tx, &state_hash, tenant.id, now).await? {
            return Err(Error::InvalidSsoAttempt);
        }
        let Some(account) = account::find_by_email(&mut tx, tenant.id, &email).await? else {
            let refusal = SsoRefusal::NoAccount;
            self.record_sso_refusal(&mut tx, tenant.id, &email, &ip, now, refusal)
                .await?;
            tx.commit().await?;
            return Err(Error::SsoRefused(refusal));
        };
        let session_token = self
            .open_session(&mut tx, &account, &ip, now, "sso")
            .await?;
        tx.commit().await?;
        Ok(SignIn {
            account,
            session_token,
        })
    }

    /// Uses up the attempt and records the refusal (`who` is the token's email when it had
    /// one); a callback that finds the attempt already used is refused as such.
    async fn refuse_sso(
        &self,
        tenant_id: i64,
        state_hash: &str,
        who: &str,
        ip: &str,
        refusal: SsoRefusal,
    ) -> Result<SignIn> {
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        if !store::consume_attempt(&mut tx, state_hash, tenant_id, now).await? {
            return Err(Error::InvalidSsoAttempt);
        }
        self.record_sso_refusal(&mut tx, tenant_id, who, ip, now, refusal)
            .await?;
        tx.commit().await?;
        Err(Error::SsoRefused(refusal))
    }

    /// Records a refused single sign-on as a failed sign-in.
    async fn record_sso_refusal(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        who: &str,
        ip: &str,
        now: i64,
        refusal: SsoRefusal,
    ) -> Result<()> {
        let event = Event {
            actor: who,
            ip,
            action: "login.failed",
            target: String::new(),
            detail: json!({ "method": "sso", "reason": refusal.code() }),
        };
        self.record(tx, tenant_id, now, event).await.map(|_| ())
    }
}

/// Whether the tenant requires single sign-on of `account` (never of owners, so a broken
/// identity provider cannot lock everyone out).
pub(super) async fn required_of(tx: &mut Tx, account: &Account) -> Result<bool> {
    if account.role == Role::Owner {
        return Ok(false);
    }
    Ok(store::settings(tx, account.tenant_id)
        .await?
        .is_some_and(|settings| settings.require_sso))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_must_be_https_except_on_loopback() {
        for good in [
            "https://idp.example",
            "https://login.example.com/tenant/v2.0",
            "http://127.0.0.1:4444",
            "http://localhost:8080/realms/x",
            "http://[::1]:9000",
        ] {
            assert_eq!(checked_issuer(good).unwrap(), good);
        }
        for bad in [
            "http://idp.example",
            "http://10.0.0.1",
            "ftp://idp.example",
            "idp.example",
            "https://idp.example/?x=1",
            "https://idp.example/#f",
            "https://user@idp.example",
            "http://localhost.evil.example",
        ] {
            let err = checked_issuer(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { field, reason: Invalid::NotIssuerUrl } if field == "issuer"),
                "{bad}: {err:?}"
            );
        }
        let long = format!("https://{}.example", "a".repeat(MAX_ISSUER_LEN));
        assert!(matches!(
            checked_issuer(&long),
            Err(Error::Invalid {
                reason: Invalid::TooLong { .. },
                ..
            })
        ));
    }
}
