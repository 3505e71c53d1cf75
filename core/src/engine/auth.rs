//! Signing in and out, sessions, password changes and self-service resets.
//!
//! Passwords follow [`crate::domain::password`] and are stored as Argon2id hashes, rehashed on
//! sign-in when the cost parameters changed. Failed sign-ins are counted per account and per
//! address; a locked key is refused without checking the password. An unknown account costs
//! the same work as a wrong password, and a reset request answers the same either way.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use serde_json::json;

use super::access_log::Event;
use super::{Actor, Engine, PasswordHashing};
use crate::domain::field::Invalid;
use crate::domain::password;
use crate::domain::people::Permission;
use crate::domain::people::{Lang, Role, normalize_email};
use crate::domain::token;
use crate::engine::outbox::OutboxMessage;
use crate::engine::tenant::validate_slug;
use crate::i18n;
use crate::port::Mail;
use crate::store::account::{self, Account, NewAccount};
use crate::store::tenant::Tenant;
use crate::store::{Tx, tenant};
use crate::{Error, Result};

/// An admin account to create.
#[derive(Clone)]
pub struct NewAdmin {
    pub email: String,
    pub password: String,
    pub role: Role,
    /// May download personal data as CSV.
    pub can_export: bool,
    pub language: Lang,
}

/// A change of what an account may do.
#[derive(Debug, Clone, Copy)]
pub struct AccessChange {
    pub role: Role,
    /// May download personal data as CSV.
    pub can_export: bool,
}

impl std::fmt::Debug for NewAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAdmin")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("role", &self.role)
            .field("can_export", &self.can_export)
            .field("language", &self.language)
            .finish()
    }
}

/// A new sign-in: the account and the session token for its cookie.
#[derive(Clone)]
pub struct SignIn {
    pub account: Account,
    pub session_token: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("account", &self.account)
            .field("session_token", &"[redacted]")
            .finish()
    }
}

fn argon2(cost: PasswordHashing) -> Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|err| Error::internal("setting the argon2 parameters", err))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether a stored hash was made with other parameters than `cost`.
fn needs_rehash(phc: &str, cost: PasswordHashing) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    match Params::try_from(&hash) {
        Ok(p) => {
            hash.algorithm != argon2::ARGON2ID_IDENT
                || p.m_cost() != cost.memory_kib
                || p.t_cost() != cost.iterations
                || p.p_cost() != cost.parallelism
        }
        Err(_) => true,
    }
}

/// Refused sign-ins of one person are logged at most this often.
pub const THROTTLED_LOG_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// The shortest time between two reset mails to one account.
pub const RESET_COOLDOWN: chrono::Duration = chrono::Duration::seconds(60);

/// A new password: sessions signed in with the old one end, and reset links sent before it
/// stop working.
async fn replace_password(
    tx: &mut Tx,
    tenant_id: i64,
    account_id: i64,
    hash: &str,
    now: i64,
) -> Result<()> {
    account::set_password_hash(tx, tenant_id, account_id, hash).await?;
    account::delete_sessions_of(tx, tenant_id, account_id).await?;
    account::retire_resets(tx, tenant_id, account_id, now).await?;
    Ok(())
}

fn throttle_keys(tenant: &str, email: &str, ip: &str) -> (String, String) {
    (format!("account:{tenant}:{email}"), format!("ip:{ip}"))
}

impl Engine {
    /// Checks a new `password` of the account `email` against the policy, then hashes it.
    pub async fn hash_new_password(&self, password: &str, email: &str) -> Result<String> {
        let violations = password::check_for(password, email);
        if !violations.is_empty() {
            return Err(Error::WeakPassword(violations));
        }
        self.hash_password(password).await
    }

    /// Checks `password` against the policy, then hashes it on a hashing thread; busy when
    /// the hashing queue is full.
    pub async fn hash_password(&self, password: &str) -> Result<String> {
        let violations = password::check(password);
        if !violations.is_empty() {
            return Err(Error::WeakPassword(violations));
        }
        let cost = self.settings.password_hashing;
        let password = password.to_owned();
        self.hashers
            .run(move || {
                argon2(cost)?
                    .hash_password(password.as_bytes())
                    .map(|hash| hash.to_string())
                    .map_err(|err| Error::internal("hashing a password", err))
            })
            .await?
    }

    /// Whether `password` matches `phc`, checked on a hashing thread; busy when the hashing
    /// queue is full (a sign-in refused so was not checked, so it counts as no attempt).
    async fn password_matches(&self, password: &str, phc: String) -> Result<bool> {
        let cost = self.settings.password_hashing;
        let password = password.to_owned();
        self.hashers
            .run(move || {
                let Ok(hash) = PasswordHash::new(&phc) else {
                    return Ok(false);
                };
                Ok(argon2(cost)?
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok())
            })
            .await?
    }

    /// Makes the decoy hash now, so even the first sign-in to an unknown account costs what
    /// a known one does (the server calls this in the background at start).
    pub async fn prepare_decoy(&self) -> Result<()> {
        self.decoy_hash().await.map(|_| ())
    }

    /// A hash of nothing anyone knows, verified against for unknown accounts so they cost
    /// the same time as known ones.
    async fn decoy_hash(&self) -> Result<String> {
        let decoy = format!("Decoy-{}", token::generate());
        self.decoy_hash
            .get_or_try_init(|| self.hash_password(&decoy))
            .await
            .cloned()
    }

    /// Signs in to `tenant_slug` as `email` from `ip`.
    pub async fn login(
        &self,
        tenant_slug: &str,
        email: &str,
        password: &str,
        ip: &str,
    ) -> Result<SignIn> {
        // Malformed input cannot name an account: answer at once and store nothing.
        let Ok(email) = normalize_email(email) else {
            return Err(Error::BadCredentials);
        };
        if password.len() > password::MAX_LEN || validate_slug(tenant_slug).is_err() {
            return Err(Error::BadCredentials);
        }
        // An address outside the tenant's allow-list is refused before anything else: it
        // learns nothing about the account, its password or its throttling. An address
        // that does not parse is taken as one no list admits (`::`, unless the list is `::/0`).
        if let Some(tenant) = self.tenant(tenant_slug).await? {
            let client = ip
                .parse()
                .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
            self.admit_address(tenant.id, client, &email, "sign-in")
                .await?;
        }
        let now = self.ports.clock.now_ms();
        let (account_key, ip_key) = throttle_keys(tenant_slug, &email, ip);
        let (tenant, found) = {
            let mut tx = self.db.read().await?;
            let tenant = tenant::find_tenant_by_slug(&mut tx, tenant_slug).await?;
            let found = match &tenant {
                Some(t) => account::find_by_email(&mut tx, t.id, &email).await?,
                None => None,
            };
            let account_lock = account::locked_until(&mut tx, &account_key).await?;
            let ip_lock = account::locked_until(&mut tx, &ip_key).await?;
            if let Some(until) = [account_lock, ip_lock]
                .into_iter()
                .flatten()
                .filter(|u| *u > now)
                .max()
            {
                drop(tx);
                return self
                    .throttled(tenant.map(|t| t.id), &email, ip, until, now)
                    .await;
            }
            (tenant, found)
        };

        let phc = match &found {
            Some(account) => account.password_hash.clone(),
            None => self.decoy_hash().await?,
        };
        let matches = self.password_matches(password, phc).await? && found.is_some();
        // Rehash before taking the write lock: hashing takes tens of milliseconds. A password
        // set under an older policy still signs in; it is only not rehashed.
        let cost = self.settings.password_hashing;
        let rehashed = match &found {
            Some(account) if matches && needs_rehash(&account.password_hash, cost) => {
                self.hash_password(password).await.ok()
            }
            _ => None,
        };

        let mut tx = self.db.write().await?;
        let Some(account) = found.filter(|_| matches) else {
            let policy = self.settings.throttle;
            let window_start = now - policy.window.num_milliseconds();
            let lock_until = now + policy.lock_for.num_milliseconds();
            let account_failures =
                account::count_failure(&mut tx, &account_key, now, window_start).await?;
            if account_failures >= policy.account_failures {
                account::lock(&mut tx, &account_key, lock_until).await?;
            }
            let ip_failures = account::count_failure(&mut tx, &ip_key, now, window_start).await?;
            if ip_failures >= policy.ip_failures {
                account::lock(&mut tx, &ip_key, lock_until).await?;
            }
            // Guesses checked at the same time can count past the limit: they are refused
            // like guesses after the lock, so no more than the limit are ever answered.
            if account_failures > policy.account_failures || ip_failures > policy.ip_failures {
                tx.commit().await?;
                let tenant_id = tenant.map(|t| t.id);
                return self.throttled(tenant_id, &email, ip, lock_until, now).await;
            }
            if let Some(t) = &tenant {
                let event = Event {
                    actor: &email,
                    ip,
                    action: "login.failed",
                    target: String::new(),
                    detail: json!({ "failures_in_window": account_failures }),
                };
                self.record(&mut tx, t.id, now, event).await?;
            } else {
                // No tenant, so no tenant's log: the server log keeps it (bounded like every
                // failure by the address's throttle).
                tracing::warn!(
                    target: "frontdesk::access",
                    %ip, tenant = tenant_slug, email = %email,
                    "sign-in to an unknown tenant"
                );
            }
            tx.commit().await?;
            return Err(Error::BadCredentials);
        };

        // A guess checked at the same time may have locked the account or address meanwhile.
        let mut locks = Vec::new();
        for key in [&account_key, &ip_key] {
            locks.push(account::locked_until_for_update(&mut tx, key).await?);
        }
        if let Some(until) = locks.into_iter().flatten().filter(|u| *u > now).max() {
            tx.commit().await?;
            return self
                .throttled(Some(account.tenant_id), &email, ip, until, now)
                .await;
        }
        // The right password, but the tenant signs this account in through its identity
        // provider only. Checked after the password, so the answer tells nothing to someone
        // who does not know it.
        if super::sso::required_of(&mut tx, &account).await? {
            let event = Event {
                actor: &account.email,
                ip,
                action: "login.refused",
                target: format!("account:{}", account.id),
                detail: json!({ "method": "password", "reason": "sso_required" }),
            };
            self.record(&mut tx, account.tenant_id, now, event).await?;
            tx.commit().await?;
            return Err(Error::SsoRequired);
        }
        account::clear_failures(&mut tx, &account_key).await?;
        if let Some(hash) = rehashed {
            account::set_password_hash(&mut tx, account.tenant_id, account.id, &hash).await?;
        }
        let session_token = self
            .open_session(&mut tx, &account, ip, now, "password")
            .await?;
        tx.commit().await?;
        Ok(SignIn {
            account,
            session_token,
        })
    }

    /// A new session of `account`, recorded as `login.ok` with how it signed in
    /// (`password` or `sso`); the token for its cookie. The one way every sign-in ends.
    pub(super) async fn open_session(
        &self,
        tx: &mut Tx,
        account: &Account,
        ip: &str,
        now: i64,
        method: &str,
    ) -> Result<String> {
        let session_token = token::generate();
        let expires = now + self.settings.session_ttl.num_milliseconds();
        account::insert_session(tx, &token::hash(&session_token), account, now, expires).await?;
        let event = Event {
            actor: &account.email,
            ip,
            action: "login.ok",
            target: format!("account:{}", account.id),
            detail: json!({ "method": method }),
        };
        self.record(tx, account.tenant_id, now, event).await?;
        Ok(session_token)
    }

    /// Refuses a login that `until` (epoch ms) locks out, and logs it for the tenant.
    async fn throttled(
        &self,
        tenant_id: Option<i64>,
        email: &str,
        ip: &str,
        until: i64,
        now: i64,
    ) -> Result<SignIn> {
        if let Some(tenant_id) = tenant_id {
            // One entry a minute per person is the record; a flood of refused attempts
            // must not become a flood of log entries.
            let mut tx = self.db.write().await?;
            crate::store::access_log::lock_chain(&mut tx, tenant_id).await?;
            let since = now - THROTTLED_LOG_EVERY.num_milliseconds();
            if !crate::store::access_log::logged_since(
                &mut tx,
                tenant_id,
                email,
                "login.throttled",
                since,
            )
            .await?
            {
                let event = Event {
                    actor: email,
                    ip,
                    action: "login.throttled",
                    target: String::new(),
                    detail: json!({ "locked_until": until }),
                };
                self.record(&mut tx, tenant_id, now, event).await?;
            }
            tx.commit().await?;
        }
        Err(Error::Throttled {
            retry_after_secs: ((until - now) / 1000).max(1) as u64,
        })
    }

    /// The account signed in with this session token, if the session is valid.
    pub async fn session(&self, session_token: &str) -> Result<Option<Account>> {
        let mut tx = self.db.read().await?;
        Ok(account::find_session(
            &mut tx,
            &token::hash(session_token),
            self.ports.clock.now_ms(),
        )
        .await?)
    }

    /// Ends the session of this token.
    pub async fn logout(&self, actor: &Actor, session_token: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        account::delete_session(&mut tx, &token::hash(session_token)).await?;
        let event = Event::by(
            actor,
            "logout",
            format!("account:{}", actor.account.id),
            json!({}),
        );
        self.record(
            &mut tx,
            actor.account.tenant_id,
            self.ports.clock.now_ms(),
            event,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an admin account in a tenant; the password must pass the policy.
    /// `by` is `None` for the command line, which acts as the operator.
    pub async fn create_account(
        &self,
        tenant_id: i64,
        by: Option<&Actor>,
        new: &NewAdmin,
    ) -> Result<Account> {
        if let Some(actor) = by {
            actor.require(Permission::ManageAccounts)?;
        }
        let (email, hash) = self.checked_credentials(new).await?;
        let mut tx = self.db.write().await?;
        let account = self
            .insert_account(&mut tx, tenant_id, by, new, &email, &hash)
            .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// The operator's way in (`frontdesk admin create`): an account in the tenant `slug`,
    /// creating the tenant if needed. The password is checked before anything is written,
    /// and tenant and account are created together or not at all.
    pub async fn create_operator_account(
        &self,
        slug: &str,
        new: &NewAdmin,
    ) -> Result<(Tenant, Account)> {
        validate_slug(slug).map_err(|reason| Error::invalid("tenant", reason))?;
        let (email, hash) = self.checked_credentials(new).await?;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let tenant = match tenant::find_tenant_by_slug(&mut tx, slug).await? {
            Some(existing) => existing,
            None => {
                let created = tenant::insert_tenant(&mut tx, slug, slug, now).await?;
                let event = Event {
                    actor: "system",
                    ip: "local",
                    action: "tenant.create",
                    target: format!("tenant:{}", created.id),
                    detail: json!({ "slug": slug }),
                };
                self.record(&mut tx, created.id, now, event).await?;
                created
            }
        };
        let account = self
            .insert_account(&mut tx, tenant.id, None, new, &email, &hash)
            .await?;
        tx.commit().await?;
        Ok((tenant, account))
    }

    /// The normalised email and the password's hash, or what is wrong with them.
    async fn checked_credentials(&self, new: &NewAdmin) -> Result<(String, String)> {
        let email =
            normalize_email(&new.email).map_err(|reason| Error::invalid("email", reason))?;
        let hash = self.hash_new_password(&new.password, &email).await?;
        Ok((email, hash))
    }

    async fn insert_account(
        &self,
        tx: &mut Tx,
        tenant_id: i64,
        by: Option<&Actor>,
        new: &NewAdmin,
        email: &str,
        hash: &str,
    ) -> Result<Account> {
        let now = self.ports.clock.now_ms();
        let row = NewAccount {
            email,
            role: new.role,
            can_export: new.can_export,
            language: new.language,
            password_hash: hash,
        };
        let id = account::insert(tx, tenant_id, &row, now)
            .await
            .map_err(|err| match err {
                crate::store::StoreError::Duplicate => {
                    Error::Conflict(format!("an account for {email} already exists"))
                }
                other => other.into(),
            })?;
        let (actor_name, ip) = by.map_or(("system", "local"), |a| {
            (a.account.email.as_str(), a.ip.as_str())
        });
        let event = Event {
            actor: actor_name,
            ip,
            action: "account.create",
            target: format!("account:{id}"),
            detail: json!({ "email": email, "role": new.role, "can_export": new.can_export }),
        };
        self.record(tx, tenant_id, now, event).await?;
        account::find(tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("account"))
    }

    /// A tenant's accounts (owners only).
    pub async fn accounts(&self, actor: &Actor) -> Result<Vec<Account>> {
        actor.require(Permission::ManageAccounts)?;
        let mut tx = self.db.read().await?;
        Ok(account::list(&mut tx, actor.account.tenant_id).await?)
    }

    /// Changes what another account may do (owners). A tenant always keeps an owner.
    pub async fn update_account_access(
        &self,
        actor: &Actor,
        id: i64,
        change: &AccessChange,
    ) -> Result<Account> {
        actor.require(Permission::ManageAccounts)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        // Held for the transaction: two owners removing each other at once must not leave
        // the tenant without one.
        crate::store::access_log::lock_chain(&mut tx, tenant_id).await?;
        let before = account::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("account"))?;
        if before.role == Role::Owner
            && change.role != Role::Owner
            && account::count_owners(&mut tx, tenant_id).await? <= 1
        {
            return Err(Error::Conflict(
                "the last owner cannot be demoted; make another owner first".into(),
            ));
        }
        account::set_access(&mut tx, tenant_id, id, change.role, change.can_export).await?;
        let event = Event::by(
            actor,
            "account.update",
            format!("account:{id}"),
            json!({
                "email": before.email,
                "role": [before.role, change.role],
                "can_export": [before.can_export, change.can_export],
            }),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        let after = account::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("account"))?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes an account (owners); its sessions end at once. A tenant always keeps an owner.
    pub async fn delete_account(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Permission::ManageAccounts)?;
        let tenant_id = actor.account.tenant_id;
        let mut tx = self.db.write().await?;
        // Held for the transaction: two owners removing each other at once must not leave
        // the tenant without one.
        crate::store::access_log::lock_chain(&mut tx, tenant_id).await?;
        let before = account::find(&mut tx, tenant_id, id)
            .await?
            .ok_or(Error::NotFound("account"))?;
        if before.role == Role::Owner && account::count_owners(&mut tx, tenant_id).await? <= 1 {
            return Err(Error::Conflict(
                "the last owner cannot be removed; make another owner first".into(),
            ));
        }
        account::delete(&mut tx, tenant_id, id).await?;
        let event = Event::by(
            actor,
            "account.delete",
            format!("account:{id}"),
            json!({ "email": before.email }),
        );
        self.record(&mut tx, tenant_id, self.ports.clock.now_ms(), event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the actor's own password after checking the current one; every session of the
    /// account ends, this one included (sign in again with the new password).
    pub async fn change_password(&self, actor: &Actor, current: &str, new: &str) -> Result<()> {
        let stored = {
            let mut tx = self.db.read().await?;
            account::find(&mut tx, actor.account.tenant_id, actor.account.id)
                .await?
                .ok_or(Error::NotFound("account"))?
        };
        if !self.password_matches(current, stored.password_hash).await? {
            return Err(Error::invalid(
                "current_password",
                Invalid::WrongCurrentPassword,
            ));
        }
        let hash = self.hash_new_password(new, &stored.email).await?;
        let mut tx = self.db.write().await?;
        let now = self.ports.clock.now_ms();
        replace_password(
            &mut tx,
            actor.account.tenant_id,
            actor.account.id,
            &hash,
            now,
        )
        .await?;
        let event = Event::by(
            actor,
            "password.change",
            format!("account:{}", actor.account.id),
            json!({}),
        );
        self.record(&mut tx, actor.account.tenant_id, now, event)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mails a reset link if the account exists. The answer is the same either way, so the
    /// endpoint does not reveal who has an account.
    pub async fn request_password_reset(
        &self,
        tenant_slug: &str,
        email: &str,
        ip: &str,
    ) -> Result<()> {
        // Normalised as at sign-in, so the address that signs in is the one that resets;
        // malformed input names no account.
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some(tenant) = tenant::find_tenant_by_slug(&mut tx, tenant_slug).await? else {
            return Ok(());
        };
        let Some(account) = account::find_by_email(&mut tx, tenant.id, &email).await? else {
            return Ok(());
        };
        // An account that must sign in through the identity provider gets no reset link;
        // the answer stays the same, and the refusal is recorded.
        if super::sso::required_of(&mut tx, &account).await? {
            let event = Event {
                actor: &account.email,
                ip,
                action: "password_reset.refused",
                target: format!("account:{}", account.id),
                detail: json!({ "reason": "sso_required" }),
            };
            self.record(&mut tx, tenant.id, now, event).await?;
            tx.commit().await?;
            return Ok(());
        }
        // One mail a minute at most, so the form cannot be used to flood someone's inbox.
        let last = account::latest_reset_at(&mut tx, tenant.id, account.id).await?;
        if last.is_some_and(|at| now - at < RESET_COOLDOWN.num_milliseconds()) {
            return Ok(());
        }
        let reset_token = token::generate();
        let expires = now + self.settings.reset_ttl.num_milliseconds();
        account::insert_reset(&mut tx, &token::hash(&reset_token), &account, now, expires).await?;
        let lang = account.language;
        let url = format!(
            "{}/password-reset?token={}",
            self.settings.public_url.trim_end_matches('/'),
            reset_token
        );
        let minutes = self.settings.reset_ttl.num_minutes().to_string();
        let mail = Mail {
            to: account.email.clone(),
            subject: i18n::text(lang, "mail.reset.subject"),
            body: i18n::format(
                lang,
                "mail.reset.body",
                &[("url", &url), ("minutes", &minutes)],
            ),
            attachments: Vec::new(),
        };
        self.queue(&mut tx, tenant.id, &OutboxMessage::Mail(mail))
            .await?;
        let event = Event {
            actor: &account.email,
            ip,
            action: "password_reset.request",
            target: format!("account:{}", account.id),
            detail: json!({}),
        };
        self.record(&mut tx, tenant.id, now, event).await?;
        tx.commit().await?;
        self.outbox_queued.notify_one();
        Ok(())
    }

    /// Sets a new password with a reset token. The token is used up in the same transaction
    /// as the change, so of two concurrent uses one succeeds; a weak password does not use it.
    pub async fn reset_password(
        &self,
        reset_token: &str,
        new_password: &str,
        ip: &str,
    ) -> Result<()> {
        // The account is read first so the new password can be checked against its email;
        // the token is used up only with the change below.
        let token_hash = token::hash(reset_token);
        let email = {
            let mut tx = self.db.read().await?;
            account::reset_email(&mut tx, &token_hash, self.ports.clock.now_ms()).await?
        }
        .ok_or(Error::InvalidResetToken)?;
        let hash = self.hash_new_password(new_password, &email).await?;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        let Some((tenant_id, account_id)) =
            account::consume_reset(&mut tx, &token_hash, now).await?
        else {
            return Err(Error::InvalidResetToken);
        };
        let account = account::find(&mut tx, tenant_id, account_id)
            .await?
            .ok_or(Error::NotFound("account"))?;
        // A link sent before the tenant required single sign-on no longer works for this
        // account (dropping the transaction leaves the token unused).
        if super::sso::required_of(&mut tx, &account).await? {
            return Err(Error::SsoRequired);
        }
        replace_password(&mut tx, tenant_id, account_id, &hash, now).await?;
        let event = Event {
            actor: &account.email,
            ip,
            action: "password_reset.complete",
            target: format!("account:{account_id}"),
            detail: json!({}),
        };
        self.record(&mut tx, tenant_id, now, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let sign_in = SignIn {
            account: Account {
                id: 1,
                tenant_id: 1,
                email: "a@x.jp".into(),
                role: Role::Owner,
                can_export: true,
                language: Lang::Ja,
                password_hash: "$argon2id$HASH-SECRET".into(),
            },
            session_token: "TOKEN-SECRET".into(),
        };
        let mail = Mail {
            to: "a@x.jp".into(),
            subject: "Reset".into(),
            body: "https://x/password-reset?token=LINK-SECRET".into(),
            attachments: Vec::new(),
        };
        let new = NewAdmin {
            email: "a@x.jp".into(),
            password: "PASSWORD-SECRET".into(),
            role: Role::Admin,
            can_export: false,
            language: Lang::En,
        };
        let printed = format!("{sign_in:?} {mail:?} {new:?}");
        for secret in [
            "HASH-SECRET",
            "TOKEN-SECRET",
            "LINK-SECRET",
            "PASSWORD-SECRET",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("a@x.jp"));
    }

    #[test]
    fn hashes_made_with_other_costs_are_rehashed() {
        let cheap = PasswordHashing {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let phc = argon2(cheap)
            .unwrap()
            .hash_password(b"Kq7#vLp2xW")
            .unwrap()
            .to_string();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!needs_rehash(&phc, cheap));
        assert!(needs_rehash(&phc, PasswordHashing::default()));
        assert!(needs_rehash("not a hash", cheap));
    }
}
