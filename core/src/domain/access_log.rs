//! The access log's hash chain.
//!
//! Each tenant's entries form a chain: an entry's hash is SHA-256 over the previous entry's
//! hash and the entry's own fields, serialised canonically (a JSON array, so no two different
//! entries share an encoding). Changing, inserting or removing an entry breaks the chain at
//! that entry. Retention removes only the oldest entries and records the hash it removed
//! through, so the remaining chain still verifies from that anchor; it first appends an
//! `access_log.purge` entry naming that anchor ([`Purge`]), so the cut itself is in the
//! chain and [`verify_retention`] can check it was at least a year old.
//!
//! The hash is keyed: HMAC-SHA256 under the tenant's [`ChainKey`], which is stored sealed
//! with a key kept outside the database. Someone who can write the database but does not
//! hold that key cannot compute the hashes of a rebuilt chain. Entries written before the
//! chain was keyed (`seq` below [`ChainKey::from_seq`]) keep plain SHA-256.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A tenant's chain key: the HMAC key, and the first entry it applies to.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey {
    pub key: [u8; 32],
    /// Entries before this sequence number were written unkeyed (before keying existed).
    pub from_seq: i64,
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainKey")
            .field("key", &"[redacted]")
            .field("from_seq", &self.from_seq)
            .finish()
    }
}

/// The hash before the first entry of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the entry retention appends before it removes entries.
pub const PURGE_ACTION: &str = "access_log.purge";

/// Retention never removes an entry younger than this (the legal minimum), and verification
/// reports a retention that did.
pub const MIN_RETENTION_MS: i64 = 365 * 24 * 60 * 60 * 1000;

/// What a retention entry (`access_log.purge`) records, as its detail: the entry it removed
/// through. Being in the chain, it is covered by the chain's hashes, so the retention mark
/// on the head row can be checked against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub through_seq: i64,
    pub through_hash: String,
    /// The removed entry's instant (epoch ms).
    pub through_at: i64,
}

impl Purge {
    /// The purge an entry records, if it is a retention entry with a readable detail.
    pub fn recorded_by(entry: &Entry) -> Option<Purge> {
        (entry.action == PURGE_ACTION)
            .then(|| serde_json::from_str(&entry.detail).ok())
            .flatten()
    }
}

/// One access-log entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the tenant's chain, from 1, without gaps.
    pub seq: i64,
    /// When, UTC epoch milliseconds.
    pub at: i64,
    /// Who: an account's email, `system`, or the email tried at a failed login.
    pub actor: String,
    /// From which address.
    pub ip: String,
    /// What, e.g. `login.ok`, `employee.update`, `employees.export`.
    pub action: String,
    /// On what, e.g. `employee:42`.
    pub target: String,
    /// Details as a JSON object.
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl Entry {
    /// The hash this entry's content and `prev_hash` call for, under `key`.
    pub fn computed_hash(&self, key: &ChainKey) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.at,
            self.actor,
            self.ip,
            self.action,
            self.target,
            self.detail
        ])
        .to_string();
        if self.seq < key.from_seq {
            let mut hasher = Sha256::new();
            hasher.update(self.prev_hash.as_bytes());
            hasher.update(b"\n");
            hasher.update(canonical.as_bytes());
            return hex::encode(hasher.finalize());
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key.key).expect("HMAC takes a key of any length");
        mac.update(self.prev_hash.as_bytes());
        mac.update(b"\n");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Why a chain does not verify, naming the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's content no longer matches its hash: it was altered.
    Altered { seq: i64 },
    /// The entry does not follow the one before it (one was removed or inserted).
    Gap { seq: i64, expected_seq: i64 },
    /// The entry's `prev_hash` differs from the previous entry's hash.
    Unlinked { seq: i64 },
    /// The chain ends before the last entry that was appended: entries were removed
    /// from its end.
    Truncated { last_seq: i64, appended_seq: i64 },
    /// The tenant exists but its log (the head row) does not.
    Missing,
    /// The tenant is gone but a head or entries of its log remain.
    Orphaned,
    /// The log has entries but no chain key: the key row was removed.
    KeyMissing,
    /// The chain key does not open with the configured sealing keys (a wrong or missing
    /// sealing key, or a key row copied from elsewhere).
    KeyUnusable,
    /// The retention mark says entries through `through_seq` were removed, but the newest
    /// retention entry in the chain records `recorded_seq` (0: none).
    UnrecordedPurge { through_seq: i64, recorded_seq: i64 },
    /// A retention removed entries through `through_seq`, whose instant `through_at` was
    /// less than a year before the retention ran (`purged_at`, or the verifier's now if that
    /// is earlier). All instants are epoch ms.
    EarlyPurge {
        through_seq: i64,
        through_at: i64,
        purged_at: i64,
    },
}

/// An instant (epoch ms) as RFC 3339, for the words of a break.
fn instant(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Altered { seq } => write!(
                f,
                "entry {seq} was altered (its hash does not match its content)"
            ),
            ChainBreak::Gap { seq, expected_seq } => write!(
                f,
                "entry {seq} follows a gap: entry {expected_seq} is missing"
            ),
            ChainBreak::Unlinked { seq } => {
                write!(f, "entry {seq} does not link to the entry before it")
            }
            ChainBreak::Truncated {
                last_seq,
                appended_seq,
            } => write!(
                f,
                "entry {} is missing: the log ends at entry {last_seq} but {appended_seq} were appended",
                last_seq + 1
            ),
            ChainBreak::Missing => write!(f, "the log of this tenant is missing"),
            ChainBreak::Orphaned => write!(
                f,
                "the tenant was deleted from under its log (its entries remain without it)"
            ),
            ChainBreak::KeyMissing => write!(
                f,
                "the log's chain key is gone, so its entries cannot be checked (the key row was removed)"
            ),
            ChainBreak::KeyUnusable => write!(
                f,
                "the log's chain key does not open with the configured sealing keys (wrong sealing key, or a key row copied from elsewhere)"
            ),
            ChainBreak::UnrecordedPurge {
                through_seq,
                recorded_seq,
            } => write!(
                f,
                "entries through {through_seq} were removed, but the last recorded retention \
                 removed through entry {recorded_seq}"
            ),
            ChainBreak::EarlyPurge {
                through_seq,
                through_at,
                purged_at,
            } => write!(
                f,
                "entries through {through_seq} were removed early: entry {through_seq} ({}) \
                 was less than 365 days old when retention ran ({})",
                instant(*through_at),
                instant(*purged_at)
            ),
        }
    }
}

/// Verifies entries in `seq` order, continuing a chain whose last verified entry was
/// `after_seq` with hash `after_hash` (the anchor, or [`GENESIS_HASH`] at 0).
/// Returns the new anchor, so a long chain can be verified in pages.
pub fn verify<'a>(
    key: &ChainKey,
    after_seq: i64,
    after_hash: &str,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<(i64, String), ChainBreak> {
    let mut seq = after_seq;
    let mut hash = after_hash.to_owned();
    for entry in entries {
        if entry.seq != seq + 1 {
            return Err(ChainBreak::Gap {
                seq: entry.seq,
                expected_seq: seq + 1,
            });
        }
        if entry.prev_hash != hash {
            return Err(ChainBreak::Unlinked { seq: entry.seq });
        }
        let computed = entry.computed_hash(key);
        if computed != entry.hash {
            return Err(ChainBreak::Altered { seq: entry.seq });
        }
        seq = entry.seq;
        hash = computed;
    }
    Ok((seq, hash))
}

/// Checks the retention history of a chain that was verified from the anchor
/// (`anchor_seq`, `anchor_hash`): every retention entry among `purges` (in chain order,
/// each with the instant it ran) removed only entries at least [`MIN_RETENTION_MS`] older
/// than that instant (or than `now`, if earlier), and the newest one recorded the anchor.
pub fn verify_retention(
    anchor_seq: i64,
    anchor_hash: &str,
    purges: &[(i64, Purge)],
    now: i64,
) -> Result<(), ChainBreak> {
    for (at, purge) in purges {
        let purged_at = (*at).min(now);
        if purge.through_at > purged_at - MIN_RETENTION_MS {
            return Err(ChainBreak::EarlyPurge {
                through_seq: purge.through_seq,
                through_at: purge.through_at,
                purged_at,
            });
        }
    }
    let (recorded_seq, recorded_hash) = purges
        .last()
        .map_or((0, GENESIS_HASH), |(_, p)| (p.through_seq, &p.through_hash));
    if (recorded_seq, recorded_hash) != (anchor_seq, anchor_hash) {
        return Err(ChainBreak::UnrecordedPurge {
            through_seq: anchor_seq,
            recorded_seq,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChainKey {
        ChainKey {
            key: [9; 32],
            from_seq: 1,
        }
    }

    #[test]
    fn without_the_key_a_forged_chain_does_not_verify() {
        let entries = chain(3);
        let other = ChainKey {
            key: [8; 32],
            from_seq: 1,
        };
        assert_eq!(
            verify(&other, 0, GENESIS_HASH, &entries),
            Err(ChainBreak::Altered { seq: 1 })
        );
        // Entries before the key's first entry are plain SHA-256: an older log still verifies.
        let mut legacy = chain(3);
        let partly = ChainKey {
            key: [9; 32],
            from_seq: 3,
        };
        let mut prev = GENESIS_HASH.to_owned();
        for entry in &mut legacy {
            entry.prev_hash = prev.clone();
            entry.hash = entry.computed_hash(&partly);
            prev = entry.hash.clone();
        }
        assert!(verify(&partly, 0, GENESIS_HASH, &legacy).is_ok());
        assert!(verify(&key(), 0, GENESIS_HASH, &legacy).is_err());
    }

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut entry = Entry {
                    seq,
                    at: seq * 1000,
                    actor: "a@x.jp".into(),
                    ip: "127.0.0.1".into(),
                    action: "login.ok".into(),
                    target: String::new(),
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                entry.hash = entry.computed_hash(&key());
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let entries = chain(5);
        let (seq, hash) = verify(&key(), 0, GENESIS_HASH, &entries).unwrap();
        assert_eq!((seq, hash), (5, entries[4].hash.clone()));
    }

    #[test]
    fn an_altered_entry_is_named() {
        let mut entries = chain(5);
        entries[2].actor = "mallory@x.jp".into();
        assert_eq!(
            verify(&key(), 0, GENESIS_HASH, &entries),
            Err(ChainBreak::Altered { seq: 3 })
        );
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            verify(&key(), 0, GENESIS_HASH, &entries),
            Err(ChainBreak::Gap {
                seq: 3,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn a_rehashed_forgery_still_breaks_the_link_after_it() {
        let mut entries = chain(5);
        entries[1].action = "nothing.happened".into();
        entries[1].hash = entries[1].computed_hash(&key());
        assert_eq!(
            verify(&key(), 0, GENESIS_HASH, &entries),
            Err(ChainBreak::Unlinked { seq: 3 })
        );
    }

    #[test]
    fn a_chain_resumes_from_its_retention_anchor() {
        let entries = chain(5);
        assert!(verify(&key(), 2, &entries[1].hash, &entries[2..]).is_ok());
        assert_eq!(
            verify(&key(), 0, GENESIS_HASH, &entries[2..]),
            Err(ChainBreak::Gap {
                seq: 3,
                expected_seq: 1
            })
        );
    }
}
