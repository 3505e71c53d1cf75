//! Configuration: a TOML file plus `FRONTDESK_*` environment variables (env wins; `__`
//! separates levels, so `FRONTDESK_MAIL__SMTP_URL` sets `[mail] smtp_url`).
//! Secrets are [`SecretString`]s so they never reach a log or `Debug` output.
//!
//! What Frontdesk does not know is refused, naming it: an unknown key or section in the file
//! or an unknown `FRONTDESK_*` variable is a typo or a feature not built yet, and silently
//! ignoring it would leave the operator believing it was applied.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything `frontdesk` reads from its configuration.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where people reach this server; links in mail and chat are built from it.
    pub public_url: Option<String>,
    /// Address to listen on.
    pub bind: String,
    /// Where the embedded database and mail files live.
    pub data_dir: PathBuf,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    pub database: Database,
    pub mail: Mail,
    pub security: Security,
    pub access_log: AccessLog,
    pub server: Server,
    pub metrics: Metrics,
    pub tls: Tls,
    pub backup: Backup,
    pub slack: Slack,
    pub teams: Teams,
    pub discord: Discord,
    pub ics: Ics,
    pub google: Google,
    pub microsoft: Microsoft,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: None,
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            log_format: LogFormat::Text,
            database: Database::default(),
            mail: Mail::default(),
            security: Security::default(),
            access_log: AccessLog::default(),
            server: Server::default(),
            metrics: Metrics::default(),
            tls: Tls::default(),
            backup: Backup::default(),
            slack: Slack::default(),
            teams: Teams::default(),
            discord: Discord::default(),
            ics: Ics::default(),
            google: Google::default(),
            microsoft: Microsoft::default(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[database]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; absent: SQLite under the data dir.
    pub url: Option<SecretString>,
}

/// `[mail]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mail {
    /// `smtp://host:port`; absent: each message is an `.eml` file under `<data_dir>/mail`.
    pub smtp_url: Option<SecretString>,
    pub from: String,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            smtp_url: None,
            from: "Frontdesk <frontdesk@localhost>".into(),
        }
    }
}

/// `[security]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// Proxies whose `X-Forwarded-For` is believed, as CIDR ranges.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The sealing key (base64 of 32 bytes); several lines: older keys first, newest last.
    pub sealing_key: Option<SecretString>,
    /// A file holding the sealing keys, one base64 key per line, newest last. Absent (and
    /// no `sealing_key`): `<data_dir>/sealing.key`, made at first start.
    pub sealing_key_file: Option<PathBuf>,
    /// Where tenants' data keys are kept (wrapped by the sealing key), outside the
    /// database so no database backup holds them. Absent: `<data_dir>/tenant-keys`.
    /// Several servers on one PostgreSQL database share this directory.
    pub tenant_keys_dir: Option<PathBuf>,
    /// Memory password hashing may use at once; each hash takes 19 MiB, so this sets how
    /// many run at the same time (at least one).
    pub password_hash_memory_mib: u32,
    /// Hashes (sign-ins, password changes) that may wait for one running; more are answered
    /// 503 with `Retry-After`.
    pub password_hash_queue: usize,
}

impl Default for Security {
    fn default() -> Self {
        let limits = frontdesk_core::engine::hashing::HashingLimits::default();
        Security {
            trusted_proxies: Vec::new(),
            password_hash_memory_mib: limits.memory_budget_mib,
            password_hash_queue: limits.max_waiting,
            sealing_key: None,
            sealing_key_file: None,
            tenant_keys_dir: None,
        }
    }
}

/// `[slack]`: a Slack app (its manifest is `slack-app-manifest.yml`), installed in the
/// workspace of one tenant.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slack {
    /// The tenant (slug) whose people use this Slack workspace.
    pub tenant: Option<String>,
    /// The app's bot token (`xoxb-…`).
    pub bot_token: Option<SecretString>,
    /// The app's signing secret (Basic Information → App Credentials).
    pub signing_secret: Option<SecretString>,
    /// The Web API's address (a local fake in tests), without a trailing slash.
    pub api_url: String,
}

impl Default for Slack {
    fn default() -> Self {
        Slack {
            tenant: None,
            bot_token: None,
            signing_secret: None,
            api_url: frontdesk_bots::slack::SLACK_API_URL.into(),
        }
    }
}

impl Slack {
    /// The tenant, token and secret when Slack is configured; some of them without the
    /// others is refused, naming what is missing.
    pub fn settings(&self) -> Result<Option<(&str, &SecretString, &SecretString)>, String> {
        match (&self.tenant, &self.bot_token, &self.signing_secret) {
            (Some(tenant), Some(token), Some(secret)) => Ok(Some((tenant, token, secret))),
            (None, None, None) => Ok(None),
            (tenant, token, secret) => {
                let missing: Vec<&str> = [
                    ("tenant", tenant.is_none()),
                    ("bot_token", token.is_none()),
                    ("signing_secret", secret.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                Err(format!(
                    "configuration: [slack] needs tenant, bot_token and signing_secret together; missing: {}",
                    missing.join(", ")
                ))
            }
        }
    }
}

/// `[teams]`: a Microsoft Teams bot (an Azure Bot registration; its app manifest is
/// `teams-app/manifest.json`), installed in the Microsoft 365 organisation of one tenant.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Teams {
    /// The tenant (slug) whose people use this Teams organisation.
    pub tenant: Option<String>,
    /// The bot's Microsoft App ID.
    pub app_id: Option<String>,
    /// The bot's client secret.
    pub app_password: Option<SecretString>,
    /// The organisation's Microsoft Entra tenant id (a GUID): chats and Graph look-ups are in it.
    pub directory_tenant_id: Option<String>,
    /// Where 1:1 chats are created and messages sent; ends in `/`.
    pub service_url: String,
    /// The Bot Framework's OpenID metadata (its signing keys).
    pub openid_metadata_url: String,
    /// The token endpoint for the Bot Framework.
    pub token_url: String,
    /// The token endpoint for Microsoft Graph; absent: the directory tenant's.
    pub graph_token_url: Option<String>,
    /// Microsoft Graph, without a trailing slash.
    pub graph_url: String,
    /// Hosts an activity's `serviceUrl` may name (`*.example.com` admits subdomains).
    pub allowed_service_hosts: Vec<String>,
}

impl Default for Teams {
    fn default() -> Self {
        Teams {
            tenant: None,
            app_id: None,
            app_password: None,
            directory_tenant_id: None,
            service_url: frontdesk_bots::teams::TEAMS_SERVICE_URL.into(),
            openid_metadata_url: frontdesk_bots::teams_events::BOT_FRAMEWORK_OPENID_URL.into(),
            token_url: frontdesk_bots::teams::BOT_TOKEN_URL.into(),
            graph_token_url: None,
            graph_url: frontdesk_bots::teams::GRAPH_URL.into(),
            allowed_service_hosts: frontdesk_bots::teams_events::MICROSOFT_SERVICE_HOSTS
                .iter()
                .map(|host| host.to_string())
                .collect(),
        }
    }
}

impl Teams {
    /// The tenant (slug) and the bot's settings when Teams is configured; some of the
    /// required keys without the others is refused, naming what is missing.
    pub fn settings(&self) -> Result<Option<(&str, frontdesk_bots::teams::TeamsSettings)>, String> {
        match (
            &self.tenant,
            &self.app_id,
            &self.app_password,
            &self.directory_tenant_id,
        ) {
            (Some(tenant), Some(app_id), Some(password), Some(directory)) => {
                // Outbound calls go to the service URL: it must be one the allow-list admits.
                if !frontdesk_bots::teams_events::service_url_allowed(
                    &self.service_url,
                    &self.allowed_service_hosts,
                ) {
                    return Err(format!(
                        "configuration: [teams] service_url {} is not on allowed_service_hosts",
                        self.service_url
                    ));
                }
                let settings = frontdesk_bots::teams::TeamsSettings {
                    app_id: app_id.clone(),
                    app_password: password.expose_secret().to_owned(),
                    directory_tenant_id: directory.clone(),
                    service_url: self.service_url.clone(),
                    token_url: self.token_url.clone(),
                    graph_token_url: (self.graph_token_url.clone())
                        .unwrap_or_else(|| frontdesk_bots::teams::graph_token_url(directory)),
                    graph_url: self.graph_url.trim_end_matches('/').to_owned(),
                };
                Ok(Some((tenant, settings)))
            }
            (None, None, None, None) => Ok(None),
            (tenant, app_id, password, directory) => {
                let missing: Vec<&str> = [
                    ("tenant", tenant.is_none()),
                    ("app_id", app_id.is_none()),
                    ("app_password", password.is_none()),
                    ("directory_tenant_id", directory.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                Err(format!(
                    "configuration: [teams] needs tenant, app_id, app_password and directory_tenant_id together; missing: {}",
                    missing.join(", ")
                ))
            }
        }
    }
}

/// `[discord]`: a Discord application (its bot and its Interactions Endpoint URL), for the
/// people of one tenant.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Discord {
    /// The tenant (slug) whose people use this Discord application.
    pub tenant: Option<String>,
    /// The application id (Developer Portal → General Information): a number, or a string
    /// of digits (TOML integers stop at 2^63, Discord ids need not).
    #[serde(deserialize_with = "number_or_text")]
    pub application_id: Option<String>,
    /// The application's public key (General Information), 64 hex digits: it checks the
    /// signature of every interaction. Not a secret.
    pub public_key: Option<String>,
    /// The bot's token (Bot → Reset Token).
    pub bot_token: Option<SecretString>,
    /// The REST API's host (a local fake in tests); serenity adds `/api/v10`.
    pub api_url: String,
}

impl Default for Discord {
    fn default() -> Self {
        Discord {
            tenant: None,
            application_id: None,
            public_key: None,
            bot_token: None,
            api_url: frontdesk_bots::discord::DISCORD_API_URL.into(),
        }
    }
}

/// An id given as a number (an environment variable's digits are read as one) or as text.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    }))
}

/// A complete `[discord]` section, checked.
pub struct DiscordSettings<'a> {
    pub tenant: &'a str,
    pub application_id: u64,
    /// Checks interactions' signatures with the public key.
    pub verifier: frontdesk_bots::discord_interactions::Verifier,
    pub bot_token: &'a SecretString,
}

impl Discord {
    /// The checked settings when Discord is configured; some of them without the others is
    /// refused, naming what is missing, and so is an id or key that is not one.
    pub fn settings(&self) -> Result<Option<DiscordSettings<'_>>, String> {
        let (tenant, application_id, public_key, bot_token) = match (
            &self.tenant,
            &self.application_id,
            &self.public_key,
            &self.bot_token,
        ) {
            (Some(tenant), Some(id), Some(key), Some(token)) => (tenant, id, key, token),
            (None, None, None, None) => return Ok(None),
            (tenant, id, key, token) => {
                let missing: Vec<&str> = [
                    ("tenant", tenant.is_none()),
                    ("application_id", id.is_none()),
                    ("public_key", key.is_none()),
                    ("bot_token", token.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                return Err(format!(
                    "configuration: [discord] needs tenant, application_id, public_key and bot_token together; missing: {}",
                    missing.join(", ")
                ));
            }
        };
        let application_id = application_id
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| {
                format!(
                    "configuration: [discord] application_id {application_id:?} is not a Discord application id (the number under General Information)"
                )
            })?;
        let verifier = frontdesk_bots::discord_interactions::verifier(public_key)
            .map_err(|err| format!("configuration: [discord] public_key: {err}"))?;
        Ok(Some(DiscordSettings {
            tenant,
            application_id,
            verifier,
            bot_token,
        }))
    }
}

/// `[metrics]`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Serve `/metrics` on this address only (e.g. `10.0.0.5:9100`, reached by the
    /// monitoring network), not on the public one. Absent: `/metrics` is on `bind`.
    pub bind: Option<String>,
}

/// `[tls]`: HTTPS served by Frontdesk itself. Absent, it serves plain HTTP (behind a proxy
/// that terminates TLS).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// PEM: the server's certificate, then its intermediates. Re-read when it changes.
    pub cert_file: Option<PathBuf>,
    /// PEM: the certificate's private key. Re-read when it changes.
    pub key_file: Option<PathBuf>,
}

impl Tls {
    /// The certificate and key files when TLS is on; one without the other is refused.
    pub fn files(&self) -> Result<Option<(&Path, &Path)>, String> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(
                "configuration: [tls] cert_file (--tls-cert) is set but key_file (--tls-key) is not; give both, or neither to serve plain HTTP".into(),
            ),
            (None, Some(_)) => Err(
                "configuration: [tls] key_file (--tls-key) is set but cert_file (--tls-cert) is not; give both, or neither to serve plain HTTP".into(),
            ),
        }
    }
}

/// `[backup]`: the daily backup job (SQLite only).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backup {
    /// Where the daily backups go; absent: `<data_dir>/backups`.
    pub dir: Option<PathBuf>,
    /// Daily backups older than this many days are removed (at least 1).
    pub keep_days: u32,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            dir: None,
            keep_days: 30,
        }
    }
}

/// `[google]`: Google Calendar — an OAuth client (people connect their own calendars) and,
/// optionally, a service account with domain-wide delegation (admins connect anyone's).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Google {
    /// The OAuth client's id (Google Cloud console → Credentials).
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// The service account's email, and its private key (the PEM of the JSON key's
    /// `private_key`) in a file readable by the server only.
    pub service_account_email: Option<String>,
    pub service_account_key_file: Option<PathBuf>,
    /// Google's endpoints (local fakes in tests).
    pub api_url: String,
    pub token_url: String,
    pub auth_url: String,
}

impl Default for Google {
    fn default() -> Self {
        let defaults = frontdesk_connectors::google::GoogleSettings::new(
            "",
            SecretString::from(String::new()),
        );
        Google {
            client_id: None,
            client_secret: None,
            service_account_email: None,
            service_account_key_file: None,
            api_url: defaults.api_url,
            token_url: defaults.token_url,
            auth_url: defaults.auth_url,
        }
    }
}

impl Google {
    /// The connector's settings, when `[google]` is configured; an incomplete section is an
    /// error naming what is missing.
    pub fn settings(&self) -> Result<Option<frontdesk_connectors::google::GoogleSettings>, String> {
        let (Some(client_id), Some(client_secret)) = (&self.client_id, &self.client_secret) else {
            if self.client_id.is_some()
                || self.client_secret.is_some()
                || self.service_account_email.is_some()
            {
                return Err(
                    "configuration: [google] needs both client_id and client_secret".into(),
                );
            }
            return Ok(None);
        };
        let service_account = match (&self.service_account_email, &self.service_account_key_file) {
            (None, None) => None,
            (Some(email), Some(file)) => Some(frontdesk_connectors::google::ServiceAccount {
                client_email: email.clone(),
                private_key_pem: SecretString::from(std::fs::read_to_string(file).map_err(
                    |err| {
                        format!(
                            "configuration: [google] service_account_key_file {}: {err}",
                            file.display()
                        )
                    },
                )?),
            }),
            _ => {
                return Err("configuration: [google] needs both service_account_email and service_account_key_file".into());
            }
        };
        Ok(Some(frontdesk_connectors::google::GoogleSettings {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            api_url: self.api_url.clone(),
            token_url: self.token_url.clone(),
            auth_url: self.auth_url.clone(),
            service_account,
        }))
    }
}

/// `[microsoft]`: Microsoft 365 calendars through Graph — an app registration used both for
/// people's own sign-in (delegated) and, with admin consent, application access.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Microsoft {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// The organisation's Microsoft Entra tenant id.
    pub tenant_id: Option<String>,
    /// Microsoft's endpoints (`{tenant}` is replaced; local fakes in tests).
    pub graph_url: String,
    pub token_url: String,
    pub authorize_url: String,
}

impl Default for Microsoft {
    fn default() -> Self {
        Microsoft {
            client_id: None,
            client_secret: None,
            tenant_id: None,
            graph_url: frontdesk_connectors::microsoft::GRAPH_URL.into(),
            token_url: frontdesk_connectors::microsoft::TOKEN_URL.into(),
            authorize_url: frontdesk_connectors::microsoft::AUTHORIZE_URL.into(),
        }
    }
}

impl Microsoft {
    /// The connector's settings, when `[microsoft]` is configured; an incomplete section is
    /// an error naming what is missing.
    pub fn settings(
        &self,
    ) -> Result<Option<frontdesk_connectors::microsoft::MicrosoftSettings>, String> {
        match (&self.client_id, &self.client_secret, &self.tenant_id) {
            (None, None, None) => Ok(None),
            (Some(client_id), Some(client_secret), Some(tenant_id)) => {
                Ok(Some(frontdesk_connectors::microsoft::MicrosoftSettings {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    tenant_id: tenant_id.clone(),
                    graph_url: self.graph_url.clone(),
                    token_url: self.token_url.clone(),
                    authorize_url: self.authorize_url.clone(),
                }))
            }
            _ => Err(
                "configuration: [microsoft] needs client_id, client_secret and tenant_id".into(),
            ),
        }
    }
}

/// `[ics]`: calendars subscribed to by ICS feed URL.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ics {
    /// The largest feed read, in bytes; a larger one is refused with an error admins see.
    pub max_feed_bytes: u64,
}

impl Default for Ics {
    fn default() -> Self {
        Ics {
            max_feed_bytes: frontdesk_connectors::ics::MAX_FEED_BYTES,
        }
    }
}

/// `[access_log]`
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessLog {
    /// Days entries are kept; at least 365 (the whitepaper's promise).
    pub retention_days: i64,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            retention_days: 365,
        }
    }
}

/// `[server]`: how long and how many clients may hold connections.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Seconds a client has to send a request's headers; also how long an idle HTTP/1
    /// keep-alive connection is kept.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection with no request in flight is kept (bounds HTTP/2).
    pub idle_timeout_secs: u64,
    /// Seconds to wait for the next part of a request body.
    pub body_read_timeout_secs: u64,
    /// Connections served at once; beyond it new ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server::from(frontdesk_webhooks::ServerLimits::default())
    }
}

impl From<frontdesk_webhooks::ServerLimits> for Server {
    fn from(limits: frontdesk_webhooks::ServerLimits) -> Self {
        Server {
            header_read_timeout_secs: limits.header_read_timeout.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            body_read_timeout_secs: limits.body_read_timeout.as_secs(),
            max_connections: limits.max_connections,
        }
    }
}

impl Server {
    /// The limits the edge enforces.
    pub fn limits(&self) -> frontdesk_webhooks::ServerLimits {
        use std::time::Duration;
        frontdesk_webhooks::ServerLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            body_read_timeout: Duration::from_secs(self.body_read_timeout_secs),
            max_connections: self.max_connections,
        }
    }
}

impl Config {
    /// Reads `file` (if given) and the environment; checks what can be checked up front.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(format!("config file {} does not exist", file.display()));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Every FRONTDESK_ variable is configuration, except those that are not; an unknown
        // one then fails the extraction below, naming it.
        let env = Env::prefixed("FRONTDESK_")
            .split("__")
            .filter(|key| !is_not_configuration(key.as_str()));
        let config: Config = figment.merge(env).extract().map_err(|err| {
            // figment names an environment key by its path (MAIL.SMPT_URL); the operator
            // set a variable, so name that.
            let from_env =
                (err.metadata.as_ref()).is_some_and(|source| source.name.contains("environment"));
            if from_env && !err.path.is_empty() {
                // A section's path (SLACK) is the start of the variables that set it.
                let path = format!("FRONTDESK_{}", err.path.join("__")).to_uppercase();
                let variables: Vec<String> = std::env::vars()
                    .map(|(name, _)| name)
                    .filter(|name| name.to_uppercase().starts_with(&path))
                    .collect();
                format!("configuration: {err} (set by {})", variables.join(", "))
            } else {
                format!("configuration: {err}")
            }
        })?;
        if config.access_log.retention_days < 365 {
            return Err(format!(
                "configuration: access_log.retention_days is {}, but access logs are kept at least 365 days",
                config.access_log.retention_days
            ));
        }
        if config.ics.max_feed_bytes == 0 || config.ics.max_feed_bytes > 256 * 1024 * 1024 {
            return Err(format!(
                "configuration: ics.max_feed_bytes is {}, but must be between 1 and 268435456 (256 MiB)",
                config.ics.max_feed_bytes
            ));
        }
        if config.backup.keep_days == 0 {
            return Err(
                "configuration: backup.keep_days must be at least 1 (0 would remove today's backup)"
                    .into(),
            );
        }
        let server = &config.server;
        if server.header_read_timeout_secs == 0
            || server.idle_timeout_secs == 0
            || server.body_read_timeout_secs == 0
            || server.max_connections == 0
        {
            return Err(
                "configuration: every [server] limit must be at least 1 (a zero would refuse every client)"
                    .into(),
            );
        }
        config.tls.files()?;
        config.slack.settings()?;
        config.teams.settings()?;
        config.discord.settings()?;
        Ok(config)
    }

    /// The folder of tenants' data keys.
    pub fn tenant_keys_dir(&self) -> PathBuf {
        (self.security.tenant_keys_dir.clone()).unwrap_or_else(|| self.data_dir.join("tenant-keys"))
    }

    /// The folder of the daily backups.
    pub fn backup_dir(&self) -> PathBuf {
        (self.backup.dir.clone()).unwrap_or_else(|| self.data_dir.join("backups"))
    }

    /// The database URL: the configured one, else SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose_secret().to_owned(),
            None => frontdesk_core::store::Db::sqlite_url_in(&self.data_dir),
        }
    }
}

/// Whether `key` (a `FRONTDESK_` variable without the prefix) is read by something other
/// than the configuration: the config file's path, the log filter, the test harness.
fn is_not_configuration(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    key == "CONFIG" || key == "LOG" || key.starts_with("TEST_") || key.starts_with("REQUIRE_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config {
            database: Database {
                url: Some("postgres://frontdesk:hunter2@db/frontdesk".into()),
            },
            mail: Mail {
                smtp_url: Some("smtp://frontdesk:swordfish@mail:2525".into()),
                ..Mail::default()
            },
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("swordfish"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn file_values_are_read_and_a_short_retention_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "bind = \"0.0.0.0:9000\"\n[mail]\nfrom = \"FD <fd@x.jp>\"\n",
            )?;
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "0.0.0.0:9000");
            assert_eq!(config.mail.from, "FD <fd@x.jp>");
            jail.set_env("FRONTDESK_BIND", "127.0.0.1:7000");
            jail.set_env("FRONTDESK_ACCESS_LOG__RETENTION_DAYS", "30");
            let err = Config::load(Some(Path::new("f.toml"))).unwrap_err();
            assert!(err.contains("365"), "{err}");
            jail.set_env("FRONTDESK_ACCESS_LOG__RETENTION_DAYS", "400");
            jail.set_env(
                "FRONTDESK_SECURITY__TRUSTED_PROXIES",
                "[\"10.0.0.0/8\", \"192.0.2.1/32\"]",
            );
            jail.set_env("FRONTDESK_TEST_DATABASE_URL", "postgres://ignored");
            jail.set_env("FRONTDESK_REQUIRE_POSTGRES", "1");
            jail.set_env("FRONTDESK_CONFIG", "elsewhere.toml");
            jail.set_env("FRONTDESK_LOG", "debug");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:7000", "the environment wins");
            assert_eq!(config.access_log.retention_days, 400);
            assert_eq!(config.security.trusted_proxies.len(), 2);
            assert_eq!(config.security.password_hash_memory_mib, 128);
            jail.set_env("FRONTDESK_SECURITY__PASSWORD_HASH_MEMORY_MIB", "38");
            jail.set_env("FRONTDESK_SECURITY__PASSWORD_HASH_QUEUE", "5");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.security.password_hash_memory_mib, 38);
            assert_eq!(config.security.password_hash_queue, 5);
            Ok(())
        });
    }

    /// Why loading a config file holding `toml`, with `env` set, is refused.
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn refused(toml: &str, env: &[(&str, &str)]) -> String {
        let mut refusal = String::new();
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", toml)?;
            for (key, value) in env {
                jail.set_env(key, value);
            }
            refusal = Config::load(Some(Path::new("f.toml"))).unwrap_err();
            Ok(())
        });
        refusal
    }

    #[test]
    fn a_misspelt_key_in_the_file_is_refused_by_name() {
        let err = refused("[mail]\nsmpt_url = \"smtp://127.0.0.1:2525\"\n", &[]);
        assert!(err.contains("smpt_url"), "{err}");
    }

    #[test]
    fn a_section_for_a_feature_not_built_yet_is_refused_by_name() {
        let err = refused("[line]\nchannel_id = \"x\"\n", &[]);
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn half_a_teams_section_is_refused_naming_what_is_missing() {
        let err = refused("[teams]\napp_id = \"x\"\n", &[]);
        assert!(
            err.contains("missing: tenant, app_password, directory_tenant_id"),
            "{err}"
        );
        let err = refused("", &[("FRONTDESK_TEAMS__APP_PASSWORD", "s3cret")]);
        assert!(
            err.contains("missing: tenant, app_id, directory_tenant_id"),
            "{err}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn a_teams_section_is_read_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "[teams]\ntenant = \"acme\"\napp_id = \"app-1\"\ndirectory_tenant_id = \"dir-1\"\n",
            )?;
            jail.set_env("FRONTDESK_TEAMS__APP_PASSWORD", "s3cret");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            let (tenant, settings) = config.teams.settings()?.expect("configured");
            assert_eq!((tenant, settings.app_id.as_str()), ("acme", "app-1"));
            assert_eq!(settings.app_password, "s3cret");
            assert_eq!(
                settings.graph_token_url,
                "https://login.microsoftonline.com/dir-1/oauth2/v2.0/token"
            );
            assert!(
                !format!("{config:?}").contains("s3cret"),
                "the password is redacted"
            );
            jail.set_env("FRONTDESK_TEAMS__SERVICE_URL", "https://evil.example/");
            let err = Config::load(Some(Path::new("f.toml"))).unwrap_err();
            assert!(err.contains("allowed_service_hosts"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn half_a_slack_section_is_refused_naming_what_is_missing() {
        let err = refused("[slack]\nbot_token = \"xoxb-1\"\n", &[]);
        assert!(err.contains("missing: tenant, signing_secret"), "{err}");
    }

    #[test]
    fn half_a_discord_section_and_a_key_that_is_not_one_are_refused_naming_them() {
        let err = refused("[discord]\nbot_token = \"t\"\ntenant = \"acme\"\n", &[]);
        assert!(err.contains("missing: application_id, public_key"), "{err}");
        let complete = "[discord]\ntenant = \"acme\"\napplication_id = \"1100000000000000001\"\nbot_token = \"t\"\n";
        let err = refused(&format!("{complete}public_key = \"abc\"\n"), &[]);
        assert!(
            err.contains("public_key") && err.contains("64 hex digits"),
            "{err}"
        );
        let err = refused(
            "[discord]\ntenant = \"acme\"\napplication_id = \"my-app\"\nbot_token = \"t\"\npublic_key = \"x\"\n",
            &[],
        );
        assert!(err.contains("application_id \"my-app\""), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn a_discord_section_is_read_from_the_file_and_the_environment() {
        // Discord's documentation example key.
        const KEY: &str = "67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089";
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "[discord]\ntenant = \"acme\"\napplication_id = 1100000000000000001\n",
            )?;
            jail.set_env("FRONTDESK_DISCORD__PUBLIC_KEY", KEY);
            jail.set_env("FRONTDESK_DISCORD__BOT_TOKEN", "bot-token-1");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            let settings = config.discord.settings()?.expect("configured");
            assert_eq!(settings.tenant, "acme");
            assert_eq!(settings.application_id, 1_100_000_000_000_000_001);
            assert_eq!(settings.bot_token.expose_secret(), "bot-token-1");
            assert_eq!(config.discord.api_url, "https://discord.com");
            assert!(
                !format!("{config:?}").contains("bot-token-1"),
                "the token stays secret"
            );
            Ok(())
        });
    }

    #[test]
    fn an_unknown_frontdesk_variable_is_refused_by_name() {
        let err = refused("", &[("FRONTDESK_MAIL__SMPT_URL", "smtp://127.0.0.1:2525")]);
        assert!(err.contains("FRONTDESK_MAIL__SMPT_URL"), "{err}");
        let err = refused("", &[("FRONTDESK_TEAMS__APP_SECRET", "x")]);
        assert!(err.contains("FRONTDESK_TEAMS__APP_SECRET"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn server_limits_are_read_from_the_server_section_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "[server]\nheader_read_timeout_secs = 5\nmax_connections = 200\n",
            )?;
            jail.set_env("FRONTDESK_SERVER__BODY_READ_TIMEOUT_SECS", "12");
            let limits = Config::load(Some(Path::new("f.toml")))
                .map_err(|e| e.to_string())?
                .server
                .limits();
            assert_eq!(limits.header_read_timeout, Duration::from_secs(5));
            assert_eq!(limits.body_read_timeout, Duration::from_secs(12));
            assert_eq!(limits.max_connections, 200);
            assert_eq!(limits.idle_timeout, Duration::from_secs(60), "the default");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn tls_files_are_read_from_the_tls_section_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "[tls]\ncert_file = \"/etc/frontdesk/cert.pem\"\n")?;
            jail.set_env("FRONTDESK_TLS__KEY_FILE", "/etc/frontdesk/key.pem");
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                config.tls.files().map_err(|e| e.to_string())?,
                Some((
                    Path::new("/etc/frontdesk/cert.pem"),
                    Path::new("/etc/frontdesk/key.pem")
                ))
            );
            Ok(())
        });
    }

    #[test]
    fn a_certificate_without_its_key_and_a_misspelt_tls_key_are_refused() {
        let err = refused("[tls]\ncert_file = \"cert.pem\"\n", &[]);
        assert!(
            err.contains("key_file") && err.contains("--tls-key"),
            "{err}"
        );
        let err = refused("[tls]\ncertificate = \"cert.pem\"\n", &[]);
        assert!(err.contains("certificate"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn backups_go_under_the_data_dir_for_30_days_unless_configured() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "data_dir = \"/srv/fd\"\n")?;
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.backup_dir(), PathBuf::from("/srv/fd/backups"));
            assert_eq!(config.backup.keep_days, 30);
            jail.create_file(
                "f.toml",
                "[backup]\ndir = \"/mnt/backups\"\nkeep_days = 60\n",
            )?;
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.backup_dir(), PathBuf::from("/mnt/backups"));
            assert_eq!(config.backup.keep_days, 60);
            Ok(())
        });
        let err = refused("[backup]\nkeep_days = 0\n", &[]);
        assert!(err.contains("keep_days"), "{err}");
        let err = refused("[backup]\nkeep = 5\n", &[]);
        assert!(err.contains("keep"), "{err}");
    }

    #[test]
    fn a_misspelt_server_limit_and_a_zero_limit_are_refused() {
        let err = refused("[server]\nheader_timeout_secs = 5\n", &[]);
        assert!(err.contains("header_timeout_secs"), "{err}");
        let err = refused("[server]\nmax_connections = 0\n", &[]);
        assert!(err.contains("[server]"), "{err}");
    }
}
