//! Per-tenant data keys. Everything sealed for a tenant (access-log chain keys, outbox
//! payloads, tokens, visitor data) is sealed under the tenant's own 256-bit data key. The
//! data key is kept in the [`TenantKeyStore`](crate::port::TenantKeyStore) — outside the
//! database, wrapped by the master keys — so deleting it at contract end makes the tenant's
//! values unreadable in every database backup taken before, which never held the key.
//!
//! Values sealed before tenants had their own keys were sealed under a master key; they
//! still open, and `frontdesk secrets rotate` moves them under the data key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Engine;
use crate::port::{Keyring, SealError, SealedAt, Secrets, sealing_key_id};
use crate::store::access_log as chain_store;
use crate::store::tenant::{self, Tenant};
use crate::{Error, Result};

/// Where a tenant's data key is sealed (wrapped) by the master keys.
fn wrapped_at(tenant_id: i64, row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id,
        table: "tenant_keys",
        column: "data_key",
        row,
    }
}

/// Why a tenant's data key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataKeyError {
    #[error("tenant {tenant_id}'s data key cannot be read or written in {location}: {source}")]
    Store {
        tenant_id: i64,
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the tenants' data keys in {location} cannot be listed: {source}")]
    Listing {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "tenant {tenant_id}'s data key in {location} does not open with the master keys ({source}); \
         the key store and the sealing keys do not belong together"
    )]
    DoesNotUnwrap {
        tenant_id: i64,
        location: String,
        #[source]
        source: SealError,
    },
}

impl From<DataKeyError> for Error {
    fn from(err: DataKeyError) -> Error {
        Error::internal("using a tenant's data key", err)
    }
}

impl Engine {
    /// `plain` sealed for `at` under the data key of `at.tenant_id` (made on first use).
    pub fn seal_for_tenant(&self, plain: &[u8], at: SealedAt<'_>) -> Result<String> {
        Ok(self.data_key(at.tenant_id)?.seal(plain, at))
    }

    /// Each `(plain, at)` sealed as [`Engine::seal_for_tenant`] does, all for `tenant_id`,
    /// whose data key is read and unwrapped once for them (a sweep seals hundreds of
    /// notices at once; once each, that was most of the time spent queueing them).
    pub fn seal_all_for_tenant(
        &self,
        tenant_id: i64,
        values: &[(&[u8], SealedAt<'_>)],
    ) -> Result<Vec<String>> {
        if let Some((_, at)) = values.iter().find(|(_, at)| at.tenant_id != tenant_id) {
            return Err(Error::internal(
                "sealing values",
                format!(
                    "a value of tenant {} among tenant {tenant_id}'s",
                    at.tenant_id
                ),
            ));
        }
        let key = self.data_key(tenant_id)?;
        Ok(values
            .iter()
            .map(|(plain, at)| key.seal(plain, *at))
            .collect())
    }

    /// A keyed fingerprint of `value` for `purpose` under the tenant's data key (see
    /// [`Keyring::fingerprint`]); it changes when the data key does.
    pub fn fingerprint_for_tenant(
        &self,
        tenant_id: i64,
        purpose: &str,
        value: &[u8],
    ) -> Result<String> {
        Ok(self.data_key(tenant_id)?.fingerprint(purpose, value))
    }

    /// The plaintext of a value sealed for `at`: under the tenant's data key or, sealed
    /// before tenants had their own keys, under a master key. A purged tenant's values do
    /// not open: its key is gone.
    pub fn open_for_tenant(&self, sealed: &str, at: SealedAt<'_>) -> Result<Vec<u8>, SealError> {
        let key_id = sealing_key_id(sealed).ok_or(SealError::Malformed)?;
        if self.ports.secrets.holds_key(key_id) {
            return self.ports.secrets.open(sealed, at);
        }
        match self.existing_data_key(at.tenant_id) {
            Ok(Some(key)) => key.open(sealed, at),
            Ok(None) => Err(SealError::UnknownKey(key_id.to_owned())),
            Err(err) => Err(SealError::KeyUnavailable(err.to_string())),
        }
    }

    /// Whether `sealed` (a value of `tenant_id`) is not sealed under the tenant's data key:
    /// then `frontdesk secrets rotate` seals it again.
    pub(crate) fn is_stale_for_tenant(&self, sealed: &str, tenant_id: i64) -> Result<bool> {
        let key = self.data_key(tenant_id)?;
        Ok(sealing_key_id(sealed) != Some(key.newest_key_id()))
    }

    /// Deletes the tenant's data key; whether it had one.
    pub(crate) fn delete_data_key(&self, tenant_id: i64) -> Result<bool, DataKeyError> {
        let store = &self.ports.tenant_keys;
        store
            .delete(tenant_id)
            .map_err(|source| DataKeyError::Store {
                tenant_id,
                location: store.location(),
                source,
            })
    }

    /// Tenants whose values are sealed under a data key this server does not hold: a
    /// tenant purged after the backup this database was restored from, or a key store that
    /// is not the one the data was sealed with. Their sealed values cannot be opened.
    pub async fn tenants_missing_data_keys(&self) -> Result<Vec<Tenant>> {
        let (tenants, chain_keys) = {
            let mut tx = self.db.read().await?;
            (
                tenant::list_tenants(&mut tx).await?,
                chain_store::all_chain_keys(&mut tx).await?,
            )
        };
        let mut missing = Vec::new();
        for (tenant_id, sealed) in chain_keys {
            // Every tenant's chain key is sealed for it: it shows which key the tenant's
            // values need.
            let Some(key_id) = sealing_key_id(&sealed) else {
                continue;
            };
            if self.ports.secrets.holds_key(key_id) {
                continue;
            }
            let held = self.existing_data_key(tenant_id)?;
            if held.is_none_or(|key| key.newest_key_id() != key_id)
                && let Some(tenant) = tenants.iter().find(|t| t.id == tenant_id)
            {
                missing.push(tenant.clone());
            }
        }
        Ok(missing)
    }

    /// Wraps every data key wrapped by an older master key with the newest; returns how many.
    pub(crate) fn rewrap_data_keys(&self) -> Result<usize> {
        let store = &self.ports.tenant_keys;
        let failed = |tenant_id, source| DataKeyError::Store {
            tenant_id,
            location: store.location(),
            source,
        };
        let mut rewrapped = 0;
        let tenants = store.tenants().map_err(|source| DataKeyError::Listing {
            location: store.location(),
            source,
        })?;
        for tenant_id in tenants {
            let Some(wrapped) = store.get(tenant_id).map_err(|err| failed(tenant_id, err))? else {
                continue;
            };
            if !self.ports.secrets.is_stale(&wrapped) {
                continue;
            }
            let key = self.unwrap_data_key(tenant_id, &wrapped)?;
            store
                .replace(tenant_id, &self.wrap_data_key(tenant_id, &key))
                .map_err(|err| failed(tenant_id, err))?;
            rewrapped += 1;
        }
        Ok(rewrapped)
    }

    /// The tenant's data key, made when it has none yet.
    fn data_key(&self, tenant_id: i64) -> Result<Keyring, DataKeyError> {
        if let Some(key) = self.existing_data_key(tenant_id)? {
            return Ok(key);
        }
        let store = &self.ports.tenant_keys;
        let wrapped = store
            .insert_new(
                tenant_id,
                &self.wrap_data_key(tenant_id, &self.new_data_key()),
            )
            .map_err(|source| DataKeyError::Store {
                tenant_id,
                location: store.location(),
                source,
            })?;
        Ok(keyring(self.unwrap_data_key(tenant_id, &wrapped)?))
    }

    /// The tenant's data key, if it has one.
    fn existing_data_key(&self, tenant_id: i64) -> Result<Option<Keyring>, DataKeyError> {
        let store = &self.ports.tenant_keys;
        let wrapped = store.get(tenant_id).map_err(|source| DataKeyError::Store {
            tenant_id,
            location: store.location(),
            source,
        })?;
        wrapped
            .map(|wrapped| Ok(keyring(self.unwrap_data_key(tenant_id, &wrapped)?)))
            .transpose()
    }

    /// A random key whose id no master key has, so a value's key id always says which of
    /// the two opens it.
    fn new_data_key(&self) -> [u8; 32] {
        loop {
            let key: [u8; 32] = rand::random();
            if !self.ports.secrets.holds_key(keyring(key).newest_key_id()) {
                return key;
            }
        }
    }

    fn wrap_data_key(&self, tenant_id: i64, key: &[u8; 32]) -> String {
        let row = tenant_id.to_string();
        self.ports
            .secrets
            .seal(STANDARD.encode(key).as_bytes(), wrapped_at(tenant_id, &row))
    }

    fn unwrap_data_key(&self, tenant_id: i64, wrapped: &str) -> Result<[u8; 32], DataKeyError> {
        let row = tenant_id.to_string();
        let does_not_unwrap = |source| DataKeyError::DoesNotUnwrap {
            tenant_id,
            location: self.ports.tenant_keys.location(),
            source,
        };
        let encoded = self
            .ports
            .secrets
            .open(wrapped, wrapped_at(tenant_id, &row))
            .map_err(does_not_unwrap)?;
        STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| does_not_unwrap(SealError::Malformed))
    }
}

fn keyring(key: [u8; 32]) -> Keyring {
    Keyring::new(&[key]).expect("one key is a keyring")
}
