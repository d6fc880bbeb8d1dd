//! Secret names, ARNs (`…:secret:<name>-<6 random characters>`) and `SecretId` lookups
//! (a name, a full ARN, or a partial ARN without the suffix).

use crate::protocol::ApiError;
use crate::secrets::{Vault, constraint};

pub const MAX_NAME_LEN: usize = 512;
const SUFFIX_LEN: usize = 6;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A name: 1–512 of letters, digits and `/_+=.@-`.
pub fn check_name(member: &str, name: &str) -> Result<(), ApiError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_LEN {
        return Err(ApiError::validation(constraint(
            member,
            Some(name),
            &format!("Member must have length between 1 and {MAX_NAME_LEN}"),
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
    {
        return Err(ApiError::validation(format!(
            "Invalid name {name:?} ({member}). Must be a valid name containing alphanumeric \
             characters, or any of the following: -/_+=.@!"
        )));
    }
    Ok(())
}

/// A new secret's ARN, with its random six-character suffix.
pub fn new_arn(vault: &Vault, name: &str) -> String {
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(SUFFIX_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}{name}-{suffix}", arn_prefix(vault))
}

/// `arn:aws:secretsmanager:<region>:<account>:secret:`
pub fn arn_prefix(vault: &Vault) -> String {
    format!(
        "arn:aws:secretsmanager:{}:{}:secret:",
        vault.region(),
        vault.account_id()
    )
}

/// What a `SecretId` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A name, or a partial ARN's name: the secret of that name.
    Name(String),
    /// A full ARN: the secret whose ARN it is (a name that happens to end like a suffix is
    /// tried as a name as well).
    Arn { arn: String, name: String },
    /// An ARN of another region or account: not on this host.
    Elsewhere,
}

/// Reads a `SecretId`.
pub fn parse_id(vault: &Vault, member: &str, id: &str) -> Result<SecretRef, ApiError> {
    let Some(rest) = id.strip_prefix("arn:") else {
        check_name(member, id)?;
        return Ok(SecretRef::Name(id.to_owned()));
    };
    let parts: Vec<&str> = rest.splitn(6, ':').collect();
    let [
        _partition,
        "secretsmanager",
        region,
        account,
        "secret",
        resource,
    ] = parts[..]
    else {
        return Err(ApiError::invalid_parameter(format!(
            "{member} {id:?} is neither a secret name nor a secret ARN \
             (arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
        )));
    };
    check_name(member, resource)?;
    if region != vault.region() || account != vault.account_id() {
        return Ok(SecretRef::Elsewhere);
    }
    Ok(SecretRef::Arn {
        arn: id.to_owned(),
        name: resource.to_owned(),
    })
}

/// The name a full ARN's resource has without its suffix (`db-AbC123` → `db`).
pub fn without_suffix(resource: &str) -> Option<&str> {
    let cut = resource.len().checked_sub(SUFFIX_LEN + 1)?;
    let (name, suffix) = resource.split_at(cut);
    let suffix = suffix.strip_prefix('-')?;
    (!name.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::HostKey;
    use crate::state::memory::MemStore;
    use std::sync::Arc;

    fn vault() -> Vault {
        Vault::new(
            Arc::new(MemStore::default()),
            Arc::new(HostKey::ephemeral()),
            "us-east-1",
            "000000000000",
        )
    }

    #[test]
    fn names_and_arns() {
        for ok in ["a", "prod/db+x=y.z@w-1", &"n".repeat(512)] {
            check_name("Name", ok).unwrap();
        }
        for bad in ["", "a b", "a:b", "é", &"n".repeat(513)] {
            assert_eq!(
                check_name("Name", bad).unwrap_err().code,
                "ValidationException"
            );
        }
        let v = vault();
        let arn = new_arn(&v, "prod/db");
        let suffix = arn.rsplit('-').next().unwrap();
        assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-"));
        assert_eq!(suffix.len(), 6);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(arn, new_arn(&v, "prod/db"));
        assert_eq!(without_suffix("prod/db-AbC123"), Some("prod/db"));
        assert_eq!(without_suffix("db"), None);
        assert_eq!(without_suffix("-AbC123"), None);
    }

    #[test]
    fn ids_are_names_full_or_partial_arns() {
        let v = vault();
        assert_eq!(
            parse_id(&v, "SecretId", "db").unwrap(),
            SecretRef::Name("db".into())
        );
        let full = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbC123";
        assert_eq!(
            parse_id(&v, "SecretId", full).unwrap(),
            SecretRef::Arn {
                arn: full.into(),
                name: "db-AbC123".into()
            }
        );
        let other = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:db";
        assert_eq!(
            parse_id(&v, "SecretId", other).unwrap(),
            SecretRef::Elsewhere
        );
        let e = parse_id(
            &v,
            "SecretId",
            "arn:aws:ssm:us-east-1:000000000000:parameter/x",
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.contains("SecretId"));
    }
}
