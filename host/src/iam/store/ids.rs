//! Identifiers as AWS forms them: a four-letter prefix naming the kind (`AIDA` user, `AROA`
//! role, `AGPA` group, `ANPA` policy, `AKIA` access key) and random upper-case letters and
//! digits; secrets are 40 characters of base64's alphabet.

use rand::RngExt;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub const USER_PREFIX: &str = "AIDA";
pub const ROLE_PREFIX: &str = "AROA";
pub const GROUP_PREFIX: &str = "AGPA";
pub const POLICY_PREFIX: &str = "ANPA";
pub const ACCESS_KEY_PREFIX: &str = "AKIA";

fn random(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A unique id of an entity: the prefix and 17 characters (21 in all, as AWS's).
pub fn entity_id(prefix: &str) -> String {
    format!("{prefix}{}", random(ID_ALPHABET, 17))
}

/// An access key id: `AKIA` and 16 characters (20 in all).
pub fn access_key_id() -> String {
    format!("{ACCESS_KEY_PREFIX}{}", random(ID_ALPHABET, 16))
}

/// A secret access key: 40 characters.
pub fn secret_access_key() -> String {
    random(SECRET_ALPHABET, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shapes() {
        let id = entity_id(USER_PREFIX);
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        let key = access_key_id();
        assert_eq!(key.len(), 20);
        assert!(key.starts_with("AKIA"));
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        let secret = secret_access_key();
        assert_eq!(secret.len(), 40);
        assert_ne!(secret, secret_access_key());
    }
}
