//! HTTPS served by Frontdesk itself (`serve --tls-cert FILE --tls-key FILE`), for
//! installations without a proxy that terminates TLS: the rustls settings (whitepaper 2-2-1)
//! and a certificate that is replaced without a restart when its files are renewed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::{CryptoProvider, ring};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;

/// What is wrong with a certificate or key file, and so what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {source}")]
    Certificate {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error(
        "the TLS certificate file {path} holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" block); give the server's certificate, followed by its intermediates"
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "cannot read a private key from the TLS key file {path}: {source}; give the PEM private key (PKCS#8, PKCS#1 or SEC1) issued with the certificate"
    )]
    Key {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error(
        "cannot use the private key in {key} with the certificate in {cert}: {source}; give the key issued with that certificate (RSA, ECDSA P-256/P-384 or Ed25519)"
    )]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// The rustls settings Frontdesk serves with: TLS 1.3 and 1.2 only; ALPN h2 then http/1.1.
///
/// The ring provider's defaults are exactly the suites the whitepaper asks for: every one
/// is AEAD (AES-GCM or ChaCha20-Poly1305), TLS 1.2 ones are ECDHE only (no static RSA, no
/// CBC), and the key exchange groups are X25519, P-256 and P-384. The provider is named
/// here, not taken from the process default, so these settings cannot change with what
/// another library installs.
pub fn server_config(certificate: Arc<ReloadingCertificate>) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.3 and 1.2")
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// How many renewals were taken up or refused since start, for whoever must know when one
/// was looked at (the tests, which cannot see the log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloads {
    /// New certificates now served.
    pub applied: u64,
    /// Changes that did not parse or did not match; the previous certificate stayed.
    pub refused: u64,
}

/// The server's certificate and key, read from two PEM files and read again when they
/// change, so a renewal (certbot, acme.sh, a mounted secret) needs no restart.
pub struct ReloadingCertificate {
    cert_file: PathBuf,
    key_file: PathBuf,
    /// Handshakes read it; only a renewal writes, so a lock held for a pointer copy is fine.
    current: RwLock<Arc<CertifiedKey>>,
    /// The files as last looked at, taken before they are read, so a change made while
    /// they are read is seen on the next look.
    seen: Mutex<Fingerprint>,
    reloads: watch::Sender<Reloads>,
}

/// When each file was last modified and how long it is (`None`: it cannot be read now, e.g.
/// in the middle of a renewal; that too is a change).
type Fingerprint = [Option<(SystemTime, u64)>; 2];

/// The files, not the certificate's DER and key handle: what an operator can act on.
impl fmt::Debug for ReloadingCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCertificate")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ReloadingCertificate {
    /// Reads the certificate chain in `cert_file` and its private key in `key_file`.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Self>, TlsError> {
        let seen = fingerprint(cert_file, key_file);
        let certified = certified_key(cert_file, key_file)?;
        Ok(Arc::new(ReloadingCertificate {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: RwLock::new(Arc::new(certified)),
            seen: Mutex::new(seen),
            reloads: watch::Sender::new(Reloads::default()),
        }))
    }

    /// The certificate served to new connections now (the end entity first).
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Follows [`Reloads`] as they happen.
    pub fn reloads(&self) -> watch::Receiver<Reloads> {
        self.reloads.subscribe()
    }

    /// Reads both files again and serves them to new connections, only when they parse and
    /// belong together; otherwise the certificate served so far stays, and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        match certified_key(&self.cert_file, &self.key_file) {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
                self.reloads.send_modify(|reloads| reloads.applied += 1);
                Ok(())
            }
            Err(err) => {
                self.reloads.send_modify(|reloads| reloads.refused += 1);
                Err(err)
            }
        }
    }

    /// Reloads when either file's modification time (or size) changed since last looked
    /// at; `None` when neither did.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        let now = fingerprint(&self.cert_file, &self.key_file);
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == now {
                return None;
            }
            *seen = now;
        }
        Some(self.reload())
    }

    /// Every `interval` until `stop` resolves, [`Self::reload_if_changed`], logging what
    /// happened. A renewal that writes one file before the other is refused once, then
    /// taken up when the second file changes too.
    pub async fn watch_files(
        self: Arc<Self>,
        interval: Duration,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => {}
            }
            // File system calls, and parsing an RSA key takes milliseconds: off the runtime.
            let certificate = self.clone();
            let checked = tokio::task::spawn_blocking(move || certificate.reload_if_changed());
            match checked.await {
                Ok(None) => {}
                Ok(Some(Ok(()))) => tracing::info!(
                    cert_file = %self.cert_file.display(),
                    "the TLS certificate files changed; new connections get the new certificate"
                ),
                Ok(Some(Err(err))) => tracing::error!(
                    error = %err,
                    "the TLS certificate files changed but cannot be used; still serving the previous certificate"
                ),
                Err(err) => {
                    tracing::error!(error = %err, "looking at the TLS certificate files failed")
                }
            }
        }
    }
}

/// How `cert_file` and `key_file` look now, without reading them.
fn fingerprint(cert_file: &Path, key_file: &Path) -> Fingerprint {
    let of = |path: &Path| {
        let metadata = std::fs::metadata(path).ok()?;
        Some((metadata.modified().ok()?, metadata.len()))
    };
    [of(cert_file), of(key_file)]
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The chain in `cert_file` with the key in `key_file`, checked to belong together.
fn certified_key(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsError> {
    let certificate_error = |source| TlsError::Certificate {
        path: cert_file.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(certificate_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(certificate_error)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_file.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|source| TlsError::Key {
        path: key_file.to_owned(),
        source,
    })?;
    let unusable = |source| TlsError::Unusable {
        cert: cert_file.to_owned(),
        key: key_file.to_owned(),
        source,
    };
    let provider: CryptoProvider = ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider).map_err(unusable)?;
    // `from_der` lets a key whose public half it cannot derive pass; such a key cannot be
    // shown to match, and serving a mismatched pair fails every handshake.
    certified.keys_match().map_err(unusable)?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{CipherSuite, NamedGroup, SupportedCipherSuite};

    fn test_certificate() -> Arc<ReloadingCertificate> {
        let dir = tempfile::tempdir().unwrap();
        let signed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, signed.cert.pem()).unwrap();
        std::fs::write(&key, signed.signing_key.serialize_pem()).unwrap();
        ReloadingCertificate::load(&cert, &key).unwrap()
    }

    #[test]
    fn only_ecdhe_key_exchange_with_aead_suites_is_offered() {
        let config = server_config(test_certificate());
        let provider = config.crypto_provider();
        let suites: Vec<CipherSuite> = provider.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites,
            [
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
        for suite in &provider.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.contains("_GCM_") || name.contains("_CHACHA20_POLY1305_"),
                "{name} is AEAD"
            );
            if let SupportedCipherSuite::Tls12(_) = suite {
                assert!(name.starts_with("TLS_ECDHE_"), "{name} is ECDHE");
            }
        }
        let groups: Vec<NamedGroup> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [
                NamedGroup::X25519,
                NamedGroup::secp256r1,
                NamedGroup::secp384r1
            ]
        );
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_key_that_does_not_belong_to_the_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let first = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let second = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, first.cert.pem()).unwrap();
        std::fs::write(&key, second.signing_key.serialize_pem()).unwrap();
        let err = ReloadingCertificate::load(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::Unusable { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("cert.pem") && message.contains("key.pem"),
            "{message}"
        );

        std::fs::write(&cert, "not a certificate").unwrap();
        let err = ReloadingCertificate::load(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    }
}
