//! Where each tenant's data key is kept: outside the database, so that no database backup
//! holds it. A tenant's sealed values open only with its data key, so deleting the key (at
//! contract end) makes them unreadable in every backup taken before, too.
//!
//! The store holds each key wrapped — sealed by the master keys ([`super::Secrets`]) — so a
//! copy of the store alone reveals nothing either.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Keeps tenants' wrapped data keys.
pub trait TenantKeyStore: Send + Sync + fmt::Debug {
    /// The tenant's wrapped key, if it has one.
    fn get(&self, tenant_id: i64) -> io::Result<Option<String>>;
    /// Stores `wrapped` as the tenant's key unless it has one already, and returns the key
    /// it has now — so two servers making a first key at once agree on one of them.
    fn insert_new(&self, tenant_id: i64, wrapped: &str) -> io::Result<String>;
    /// Replaces the tenant's wrapped key (the same data key, wrapped by a newer master key).
    fn replace(&self, tenant_id: i64, wrapped: &str) -> io::Result<()>;
    /// Deletes the tenant's key; whether it had one.
    fn delete(&self, tenant_id: i64) -> io::Result<bool>;
    /// Every tenant that has a key, in order.
    fn tenants(&self) -> io::Result<Vec<i64>>;
    /// Where the keys are, for messages to the operator.
    fn location(&self) -> String;
}

/// The embedded default: one file per tenant, `<tenant id>.key`, in a directory only this
/// user can read. Several servers on one PostgreSQL database share the directory.
#[derive(Debug, Clone)]
pub struct DirKeyStore {
    dir: PathBuf,
}

const SUFFIX: &str = ".key";

impl DirKeyStore {
    /// The store in `dir`, made (readable by this user only) if it does not exist.
    pub fn open(dir: &Path) -> io::Result<DirKeyStore> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(DirKeyStore {
            dir: dir.to_owned(),
        })
    }

    /// The file of `tenant_id`'s key.
    pub fn file(&self, tenant_id: i64) -> PathBuf {
        self.dir.join(format!("{tenant_id}{SUFFIX}"))
    }

    /// Writes `wrapped` to a new private file beside the keys, flushed to disk, and returns
    /// it: keys appear under their own name only whole (by link or rename).
    fn write_temporary(&self, tenant_id: i64, wrapped: &str) -> io::Result<PathBuf> {
        let temporary = self
            .dir
            .join(format!(".{tenant_id}.{:016x}.tmp", rand::random::<u64>()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        writeln!(file, "{wrapped}")?;
        file.sync_all()?;
        Ok(temporary)
    }
}

impl TenantKeyStore for DirKeyStore {
    fn get(&self, tenant_id: i64) -> io::Result<Option<String>> {
        match std::fs::read_to_string(self.file(tenant_id)) {
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn insert_new(&self, tenant_id: i64, wrapped: &str) -> io::Result<String> {
        let temporary = self.write_temporary(tenant_id, wrapped)?;
        // A hard link never replaces an existing file: the first key made wins.
        let linked = std::fs::hard_link(&temporary, self.file(tenant_id));
        std::fs::remove_file(&temporary)?;
        match linked {
            Ok(()) => Ok(wrapped.to_owned()),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => self
                .get(tenant_id)?
                .ok_or_else(|| io::Error::other("the key vanished while it was being made")),
            Err(err) => Err(err),
        }
    }

    fn replace(&self, tenant_id: i64, wrapped: &str) -> io::Result<()> {
        let temporary = self.write_temporary(tenant_id, wrapped)?;
        std::fs::rename(&temporary, self.file(tenant_id))
    }

    fn delete(&self, tenant_id: i64) -> io::Result<bool> {
        match std::fs::remove_file(self.file(tenant_id)) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn tenants(&self) -> io::Result<Vec<i64>> {
        let mut tenants = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|name| name.strip_suffix(SUFFIX))
                .and_then(|id| id.parse().ok())
            {
                tenants.push(id);
            }
        }
        tenants.sort_unstable();
        Ok(tenants)
    }

    fn location(&self) -> String {
        format!("the directory {}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_made_stays_and_keys_are_listed_replaced_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirKeyStore::open(&dir.path().join("keys")).unwrap();
        assert_eq!(store.get(7).unwrap(), None);
        assert_eq!(store.insert_new(7, "first").unwrap(), "first");
        assert_eq!(
            store.insert_new(7, "second").unwrap(),
            "first",
            "a second server's key loses to the one already there"
        );
        store.insert_new(12, "other").unwrap();
        assert_eq!(store.tenants().unwrap(), vec![7, 12]);
        store.replace(7, "rewrapped").unwrap();
        assert_eq!(store.get(7).unwrap().as_deref(), Some("rewrapped"));
        assert!(store.delete(7).unwrap());
        assert!(!store.delete(7).unwrap());
        assert_eq!(store.get(7).unwrap(), None);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, vec!["12.key"], "no temporary files are left behind");
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_readable_by_this_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = DirKeyStore::open(&dir.path().join("keys")).unwrap();
        store.insert_new(1, "wrapped").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        assert_eq!(mode(&store.file(1)), 0o600);
    }
}
