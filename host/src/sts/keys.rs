//! The secrets of a session: an `ASIA…` access key id, a secret access key and a session
//! token, from the operating system's random source.

use base64::Engine as _;

/// AWS's alphabet for key ids (base32: upper-case letters and 2–7).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Fresh temporary credentials.
pub struct Secrets {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the system random source failed: {0}")]
pub struct RandomError(String);

impl Secrets {
    pub fn generate() -> Result<Self, RandomError> {
        // 16 base32 characters after the prefix, as AWS's 20-character key ids.
        let id_bytes = random::<16>()?;
        let id: String = id_bytes
            .iter()
            .map(|b| char::from(ID_ALPHABET[usize::from(b & 31)]))
            .collect();
        let b64 = base64::engine::general_purpose::STANDARD;
        // 30 bytes: 40 base64 characters, the length of an AWS secret key.
        let secret = b64.encode(random::<30>()?);
        let token = b64.encode(random::<96>()?);
        Ok(Self {
            access_key_id: format!("ASIA{id}"),
            secret_access_key: secret,
            session_token: token,
        })
    }
}

fn random<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_uniqueness() {
        let a = Secrets::generate().unwrap();
        let b = Secrets::generate().unwrap();
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with("ASIA"));
        assert!(
            a.access_key_id
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(a.secret_access_key.len(), 40);
        assert_eq!(a.session_token.len(), 128);
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.session_token, b.session_token);
    }
}
