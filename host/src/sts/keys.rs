//! The secrets of a session: an `ASIA…` access key id, a secret access key and a session
//! token, from `rand`'s thread-local generator (a CSPRNG seeded by the operating system).

use rand::RngExt;

/// AWS's alphabet for key ids (upper-case letters and 2–7).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Fresh temporary credentials.
pub struct Secrets {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl Secrets {
    pub fn generate() -> Self {
        Self {
            // 20 characters, as AWS's key ids.
            access_key_id: format!("ASIA{}", random(ID_ALPHABET, 16)),
            secret_access_key: random(SECRET_ALPHABET, 40),
            // 768 random bits: a token that cannot be guessed, and as opaque as AWS's.
            session_token: random(SECRET_ALPHABET, 128),
        }
    }
}

fn random(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_uniqueness() {
        let a = Secrets::generate();
        let b = Secrets::generate();
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
