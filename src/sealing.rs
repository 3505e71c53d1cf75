//! Where the sealing keys come from: `[security] sealing_key`, `sealing_key_file`, or — the
//! embedded default — `<data_dir>/sealing.key`, made at first start and readable by this
//! user only. Several instances sharing one PostgreSQL database must share the keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use frontdesk_core::port::{DirKeyStore, Keyring};
use secrecy::ExposeSecret;

use crate::config::Config;

/// The default key file's name under the data dir.
const DEFAULT_KEY_FILE: &str = "sealing.key";

/// The key file in use: the configured one, else the default under the data dir (`None`
/// when the keys are given inline).
pub fn key_file(config: &Config) -> Option<PathBuf> {
    match (
        &config.security.sealing_key,
        &config.security.sealing_key_file,
    ) {
        (Some(_), _) => None,
        (None, Some(file)) => Some(file.clone()),
        (None, None) => Some(config.data_dir.join(DEFAULT_KEY_FILE)),
    }
}

/// The configured keys. The default key file is made when it does not exist yet — unless
/// the database already holds sealed data: then the key is lost, and a new one would only
/// hide that (nothing sealed would open).
pub fn load(config: &Config, database_holds_sealed_data: bool) -> Result<Keyring> {
    if config.security.sealing_key.is_some() && config.security.sealing_key_file.is_some() {
        bail!("[security] has both sealing_key and sealing_key_file; give one of them");
    }
    if let Some(keys) = &config.security.sealing_key {
        return Keyring::from_text(keys.expose_secret())
            .context("[security] sealing_key is not usable");
    }
    let file = key_file(config).expect("no inline key, so a key file");
    if config.security.sealing_key_file.is_none() && !file.exists() {
        if database_holds_sealed_data {
            bail!(
                "the sealing key file {} is missing, but the database holds data sealed with it; \
                 restore the file from your backup (or point [security] sealing_key_file at it)",
                file.display()
            );
        }
        create_key_file(&file)?;
        tracing::warn!(
            file = %file.display(),
            "made a new sealing key; back it up with the database (a backup cannot be read without it)"
        );
    }
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("reading the sealing key file {}", file.display()))?;
    Keyring::from_text(&text)
        .with_context(|| format!("the sealing key file {} is not usable", file.display()))
}

/// The store of tenants' data keys: `[security] tenant_keys_dir`, else
/// `<data_dir>/tenant-keys`.
pub fn tenant_key_store(config: &Config) -> Result<DirKeyStore> {
    let dir = config.tenant_keys_dir();
    DirKeyStore::open(&dir)
        .with_context(|| format!("opening the tenant key directory {}", dir.display()))
}

/// Writes a new key file holding one fresh key, readable by this user only.
fn create_key_file(file: &Path) -> Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options
        .open(file)
        .with_context(|| format!("creating the sealing key file {}", file.display()))?;
    writeln!(
        out,
        "# Frontdesk sealing keys, base64, newest last. Keep this file secret and backed up.\n{}",
        Keyring::generate_key_line()
    )
    .with_context(|| format!("writing {}", file.display()))
}

/// Appends a new key to the key file (it becomes the newest); returns the file.
pub fn add_key(config: &Config) -> Result<PathBuf> {
    let Some(file) = key_file(config) else {
        bail!(
            "the keys are given inline ([security] sealing_key): add a new line with a key \
             from `openssl rand -base64 32` there, restart, and run `frontdesk secrets rotate` again"
        );
    };
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .with_context(|| format!("opening the sealing key file {}", file.display()))?;
    writeln!(out, "{}", Keyring::generate_key_line())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}
