//! Sealing: secrets and personal data stored encrypted, bound to where they are stored.
//!
//! A sealed value is `fd1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, AES-256-GCM with
//! a fresh 96-bit nonce per value. The associated data names the value's place (tenant,
//! table, column, row), so a value copied into another row or tenant does not open. The key
//! id says which key sealed it: new values use the newest key, older keys still open what
//! they sealed, and `frontdesk secrets rotate` re-seals everything with the newest.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Where a sealed value lives; it opens only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedAt<'a> {
    pub tenant_id: i64,
    pub table: &'a str,
    pub column: &'a str,
    /// The row's key, as text.
    pub row: &'a str,
}

impl SealedAt<'_> {
    fn associated_data(&self) -> String {
        format!(
            "frontdesk/{}/{}/{}/{}",
            self.tenant_id, self.table, self.column, self.row
        )
    }
}

/// Why a value cannot be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not a sealed value at all.
    #[error("not a sealed value")]
    Malformed,
    /// Sealed with a key this server does not hold.
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    /// The key is right but the value was altered or belongs elsewhere (another row or
    /// tenant).
    #[error("the sealed value does not open here (altered, or copied from elsewhere)")]
    DoesNotOpen,
    /// The key it needs could not be read (the reason says why).
    #[error("{0}")]
    KeyUnavailable(String),
}

/// Seals and opens values (AES-256-GCM, keys rotated by id).
pub trait Secrets: Send + Sync + fmt::Debug {
    /// `plaintext` sealed for `at`, with the newest key.
    fn seal(&self, plaintext: &[u8], at: SealedAt<'_>) -> String;
    /// The plaintext of `sealed`, if it was sealed for `at` with a key held here.
    fn open(&self, sealed: &str, at: SealedAt<'_>) -> Result<Vec<u8>, SealError>;
    /// Whether `sealed` was sealed with an older key than the newest (rotation re-seals it).
    fn is_stale(&self, sealed: &str) -> bool;
    /// Whether the key with id `key_id` is held here.
    fn holds_key(&self, key_id: &str) -> bool;
}

/// The id of the key that sealed `sealed` (`None` when it is not a sealed value).
pub fn sealing_key_id(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(key_id), Some(_)) => Some(key_id),
        _ => None,
    }
}

const PREFIX: &str = "fd1";

/// One 256-bit key and its id (the first 8 hex digits of its SHA-256).
struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
    /// A key for fingerprints, derived from the sealing key (never the key itself).
    fingerprint_key: [u8; 32],
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> SealingKey {
        let id = hex::encode(Sha256::digest(bytes))[..8].to_owned();
        let mut derive = Sha256::new();
        derive.update(b"frontdesk fingerprint key\0");
        derive.update(bytes);
        SealingKey {
            id,
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)),
            fingerprint_key: derive.finalize().into(),
        }
    }
}

/// The keys this server holds, newest last; [`Secrets`] over them.
pub struct Keyring {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

/// Why keys cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no sealing key is given")]
    Empty,
    #[error(
        "sealing key {position} is not base64 of 32 bytes (make one with `openssl rand -base64 32`)"
    )]
    NotAKey { position: usize },
}

impl Keyring {
    /// A keyring of `keys` (raw 32-byte keys), newest last.
    pub fn new(keys: &[[u8; 32]]) -> Result<Keyring, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Keyring {
            keys: keys.iter().map(SealingKey::new).collect(),
        })
    }

    /// A keyring from text: one base64 key per line (blank lines and `#` comments
    /// skipped), newest last — the format of a key file.
    pub fn from_text(text: &str) -> Result<Keyring, KeyError> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .enumerate()
            .map(|(i, line)| decode_key(line).ok_or(KeyError::NotAKey { position: i + 1 }))
            .collect::<Result<Vec<_>, _>>()?;
        Keyring::new(&keys)
    }

    /// A new random key, as one line of a key file.
    pub fn generate_key_line() -> String {
        let key = Key::<Aes256Gcm>::generate();
        base64::engine::general_purpose::STANDARD.encode(key.as_slice())
    }

    /// A keyed fingerprint of `value` for `purpose` (HMAC-SHA256 under a key derived from
    /// the newest key), hex: the same value gives the same fingerprint, so it can be looked
    /// up, but without the key nobody can tell which value it is by trying guesses.
    pub fn fingerprint(&self, purpose: &str, value: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.newest().fingerprint_key)
            .expect("HMAC takes a key of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The id of the key new values are sealed with.
    pub fn newest_key_id(&self) -> &str {
        &self.newest().id
    }

    fn newest(&self) -> &SealingKey {
        self.keys.last().expect("a keyring is never empty")
    }
}

fn decode_key(line: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?;
    bytes.try_into().ok()
}

impl Secrets for Keyring {
    fn seal(&self, plaintext: &[u8], at: SealedAt<'_>) -> String {
        let key = self.newest();
        let nonce = Nonce::<<Aes256Gcm as AeadCore>::NonceSize>::generate();
        let aad = at.associated_data();
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            // Encryption fails only for inputs beyond 64 GiB, which no caller seals.
            .expect("AES-GCM encrypts any value of sane size");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(bytes))
    }

    fn open(&self, sealed: &str, at: SealedAt<'_>) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(PREFIX), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce = Nonce::<<Aes256Gcm as AeadCore>::NonceSize>::try_from(nonce)
            .map_err(|_| SealError::Malformed)?;
        let aad = at.associated_data();
        key.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)
    }

    fn is_stale(&self, sealed: &str) -> bool {
        sealing_key_id(sealed).is_some_and(|id| id != self.newest().id)
    }

    fn holds_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.id == key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: SealedAt<'static> = SealedAt {
        tenant_id: 1,
        table: "outbox",
        column: "payload",
        row: "7",
    };

    fn keyring(keys: &[u8]) -> Keyring {
        let keys: Vec<[u8; 32]> = keys.iter().map(|b| [*b; 32]).collect();
        Keyring::new(&keys).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_where_it_was_sealed_and_nowhere_else() {
        let ring = keyring(&[1]);
        let sealed = ring.seal(b"reset link", AT);
        assert!(!sealed.contains("reset"), "{sealed}");
        assert_eq!(ring.open(&sealed, AT).unwrap(), b"reset link");
        for elsewhere in [
            SealedAt { tenant_id: 2, ..AT },
            SealedAt { row: "8", ..AT },
            SealedAt {
                column: "other",
                ..AT
            },
        ] {
            assert_eq!(ring.open(&sealed, elsewhere), Err(SealError::DoesNotOpen));
        }
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(&altered, AT).is_err());
        assert_eq!(ring.open("plain text", AT), Err(SealError::Malformed));
        assert_ne!(
            ring.seal(b"x", AT),
            ring.seal(b"x", AT),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn older_keys_still_open_and_new_values_use_the_newest() {
        let old = keyring(&[1]);
        let sealed_before = old.seal(b"token", AT);
        let rotated = keyring(&[1, 2]);
        assert_eq!(rotated.open(&sealed_before, AT).unwrap(), b"token");
        assert!(rotated.is_stale(&sealed_before));
        let sealed_after = rotated.seal(b"token", AT);
        assert!(!rotated.is_stale(&sealed_after));
        assert!(matches!(
            old.open(&sealed_after, AT),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn key_files_are_read_line_by_line_and_bad_keys_named() {
        let text = format!(
            "# sealing keys, newest last\n{}\n\n{}\n",
            Keyring::generate_key_line(),
            Keyring::generate_key_line()
        );
        let ring = Keyring::from_text(&text).unwrap();
        assert_eq!(ring.keys.len(), 2);
        assert_eq!(
            Keyring::from_text("c2hvcnQ=").unwrap_err(),
            KeyError::NotAKey { position: 1 }
        );
        assert_eq!(Keyring::from_text("# none\n").unwrap_err(), KeyError::Empty);
        assert!(!format!("{ring:?}").contains(&text[30..40]));
    }
}
