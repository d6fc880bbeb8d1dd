//! The host key that seals secret values at rest: AES-256-GCM (`aes-gcm`) with a 32-byte key
//! kept in the data directory (`secrets.key`, mode 0600, created on first use).
//!
//! A sealed value is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`, in base64 where it is
//! stored in a JSON document. The caller binds each value to where it lives (associated
//! data: kind, name and version joined by NUL bytes), so a ciphertext copied into another
//! document or version does not open.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secrets.key";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("secrets key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secrets key {path} holds {len} bytes, not {KEY_LEN}: it is damaged")]
    BadKeyFile { path: PathBuf, len: usize },
    #[error("secrets key {path} is readable by others (mode {mode:o}); run `chmod 600` on it")]
    Permissions { path: PathBuf, mode: u32 },
    /// Wrong key, changed bytes, or a value moved to another place: GCM's tag did not hold.
    #[error("a sealed value does not open with this host's key (damaged or not sealed here)")]
    Open,
    #[error("a sealed value is not well-formed")]
    Malformed,
    #[error("a value could not be sealed")]
    Seal,
}

/// The host key. Clones are cheap to share behind an `Arc`.
pub struct HostKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.write_str("HostKey(..)")
    }
}

impl HostKey {
    /// The key of `data_dir` (`secrets.key`), created (mode 0600) if there is none yet.
    /// Two hosts racing to create it end up with the same key: the file appears whole
    /// (written aside, then hard-linked into place, which fails if it already exists).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, CryptoError> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| CryptoError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => return Self::from_file(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let key = Aes256Gcm::generate_key(OsRng);
        let aside = data_dir.join(format!(".{KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&aside)?;
            f.write_all(key.as_slice())?;
            f.sync_all()?;
            match std::fs::hard_link(&aside, &path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })();
        let _ = std::fs::remove_file(&aside);
        written.map_err(io)?;
        // Whoever linked first won: read what is there now.
        let bytes = std::fs::read(&path).map_err(io)?;
        Self::from_file(&path, &bytes)
    }

    fn from_file(path: &Path, bytes: &[u8]) -> Result<Self, CryptoError> {
        let mode = std::fs::metadata(path)
            .map_err(|source| CryptoError::Io {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CryptoError::Permissions {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKeyFile {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        Ok(Self::from_bytes(bytes))
    }

    /// A key from its bytes (tests; the file's contents).
    fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        }
    }

    /// A fresh random key that lives only in memory (unit tests of the services).
    pub fn ephemeral() -> Self {
        Self::from_bytes(Aes256Gcm::generate_key(OsRng).as_slice())
    }

    /// Seals `clear`, bound to `context`; the result is base64 text for a JSON document.
    pub fn seal(&self, clear: &[u8], context: &str) -> Result<String, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: clear,
            aad: context.as_bytes(),
        };
        // Fails only for inputs past GCM's 64 GiB limit; values here are ≤ 64 KiB.
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(BASE64.encode(out))
    }

    /// Opens what [`Self::seal`] made for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = BASE64.decode(sealed).map_err(|_| CryptoError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_context() {
        let key = HostKey::ephemeral();
        let sealed = key
            .seal(b"hunter2", "ssm.parameter\0/db/password\x001")
            .unwrap();
        assert!(!sealed.contains("hunter2"));
        let raw = BASE64.decode(&sealed).unwrap();
        assert!(
            !raw.windows(7).any(|w| w == b"hunter2"),
            "ciphertext is clear"
        );
        assert_eq!(
            key.open(&sealed, "ssm.parameter\0/db/password\x001")
                .unwrap(),
            b"hunter2"
        );
        // A fresh nonce each time: the same value seals differently.
        assert_ne!(
            sealed,
            key.seal(b"hunter2", "ssm.parameter\0/db/password\x001")
                .unwrap()
        );
    }

    #[test]
    fn a_changed_byte_is_detected() {
        let key = HostKey::ephemeral();
        let sealed = key.seal(b"value", "c").unwrap();
        let mut raw = BASE64.decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            assert!(matches!(
                key.open(&BASE64.encode(&raw), "c"),
                Err(CryptoError::Open)
            ));
            raw[i] ^= 1;
        }
        assert!(matches!(
            key.open("not base64!", "c"),
            Err(CryptoError::Malformed)
        ));
        assert!(matches!(key.open("AAAA", "c"), Err(CryptoError::Malformed)));
    }

    #[test]
    fn another_key_or_context_does_not_open_it() {
        let key = HostKey::ephemeral();
        let sealed = key.seal(b"value", "a").unwrap();
        assert!(matches!(
            HostKey::ephemeral().open(&sealed, "a"),
            Err(CryptoError::Open)
        ));
        assert!(matches!(key.open(&sealed, "b"), Err(CryptoError::Open)));
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = HostKey::load_or_create(&data).unwrap();
        let path = data.join(KEY_FILE);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        let bytes = std::fs::read(&path).unwrap();
        let sealed = first.seal(b"kept", "c").unwrap();
        // A second start reads the same key: what the first sealed opens.
        let second = HostKey::load_or_create(&data).unwrap();
        assert_eq!(second.open(&sealed, "c").unwrap(), b"kept");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        // Nothing left aside.
        let names: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn a_key_file_open_to_others_or_damaged_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        HostKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = HostKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(e, CryptoError::Permissions { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, b"short").unwrap();
        let e = HostKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(e, CryptoError::BadKeyFile { len: 5, .. }), "{e}");
    }
}
