//! Configuration: a TOML file plus `FRONTDESK_*` environment variables (env wins; `__`
//! separates levels, so `FRONTDESK_MAIL__SMTP_URL` sets `[mail] smtp_url`).
//! Secrets are wrapped in [`Secret`] so they never reach a log or `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// A value that must not be printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything `frontdesk` reads from its configuration.
#[derive(Debug, Deserialize)]
#[serde(default)]
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
#[serde(default)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; absent: SQLite under the data dir.
    pub url: Option<Secret>,
}

/// `[mail]`
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Mail {
    /// `smtp://host:port`; absent: each message is an `.eml` file under `<data_dir>/mail`.
    pub smtp_url: Option<Secret>,
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
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Security {
    /// Proxies whose `X-Forwarded-For` is believed, as CIDR ranges.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[access_log]`
#[derive(Debug, Deserialize)]
#[serde(default)]
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
        // Only the keys Frontdesk knows come from the environment (not FRONTDESK_TEST_…).
        let env = Env::prefixed("FRONTDESK_").split("__").filter(|key| {
            let top = key
                .as_str()
                .split("__")
                .next()
                .unwrap_or("")
                .split('.')
                .next()
                .unwrap_or("");
            KNOWN_KEYS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(top))
        });
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|err| format!("configuration: {err}"))?;
        if config.access_log.retention_days < 365 {
            return Err(format!(
                "configuration: access_log.retention_days is {}, but access logs are kept at least 365 days",
                config.access_log.retention_days
            ));
        }
        Ok(config)
    }

    /// The database URL: the configured one, else SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => frontdesk_core::store::Db::sqlite_url_in(&self.data_dir),
        }
    }
}

const KNOWN_KEYS: [&str; 12] = [
    "public_url",
    "bind",
    "data_dir",
    "log_format",
    "database",
    "mail",
    "security",
    "access_log",
    "slack",
    "teams",
    "discord",
    "google",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config {
            database: Database {
                url: Some(Secret("postgres://frontdesk:hunter2@db/frontdesk".into())),
            },
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"));
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
            let config = Config::load(Some(Path::new("f.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:7000", "the environment wins");
            assert_eq!(config.access_log.retention_days, 400);
            assert_eq!(config.security.trusted_proxies.len(), 2);
            Ok(())
        });
    }
}
