//! Parameter names, the `name:version` selector, and parameter ARNs.

use crate::protocol::ApiError;
use crate::secrets::{Vault, constraint};

/// Longest parameter name (the model's limit).
pub const MAX_NAME_LEN: usize = 2048;
/// Deepest hierarchy: `/1/2/…/15`.
pub const MAX_LEVELS: usize = 15;

/// What a `Name` member (name, `name:selector`, or ARN) points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The names it may be, in the order to try: an ARN's `parameter/x` is `/x` or `x`.
    pub candidates: Vec<String>,
    pub selector: Option<Selector>,
    /// The text after the name (`:3`), echoed as the answer's `Selector`.
    pub selector_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Version(i64),
    /// Labels are not supported (no LabelParameterVersion): such a selector finds nothing.
    Label(String),
}

/// The ARN of a parameter: `arn:aws:ssm:<region>:<account>:parameter/<name without its
/// leading slash>`.
pub fn arn(vault: &Vault, name: &str) -> String {
    format!(
        "arn:aws:ssm:{}:{}:parameter/{}",
        vault.region(),
        vault.account_id(),
        name.strip_prefix('/').unwrap_or(name)
    )
}

/// Checks a name as PutParameter takes it: length, characters, a hierarchy that starts
/// with `/` and has no empty level, at most 15 levels, and no reserved `aws`/`ssm` prefix.
pub fn check_new_name(member: &str, name: &str) -> Result<(), ApiError> {
    check_name(member, name)?;
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(ApiError::validation(format!(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive): \
             {member} {name:?}"
        )));
    }
    Ok(())
}

/// Checks a parameter name (no selector).
pub fn check_name(member: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::validation(constraint(
            member,
            Some(name),
            "Member must have length greater than or equal to 1",
        )));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::validation(constraint(
            member,
            Some(name),
            &format!("Member must have length less than or equal to {MAX_NAME_LEN}"),
        )));
    }
    let bad_char = !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'));
    let hierarchical = name.contains('/');
    let bad_path =
        hierarchical && (!name.starts_with('/') || name[1..].split('/').any(str::is_empty));
    if bad_char || bad_path {
        return Err(ApiError::validation(format!(
            "Parameter name {name:?} ({member}) is not valid: a name is letters, numbers and \
             the symbols .-_; a hierarchy starts with / and divides levels of those with \
             single slashes (/app/db/password)"
        )));
    }
    let levels = name.matches('/').count();
    if levels > MAX_LEVELS {
        return Err(ApiError::new(
            "HierarchyLevelLimitExceededException",
            format!(
                "Parameter name {member} has {levels} levels; a hierarchy can have a maximum \
                 of {MAX_LEVELS} levels."
            ),
        ));
    }
    Ok(())
}

/// Reads a `Name`: `name`, `name:version`, `name:label`, or the parameter's ARN (with or
/// without a selector). A name that is not valid, or an ARN of another region, account or
/// service, is a ValidationException naming `member`.
pub fn parse_reference(vault: &Vault, member: &str, text: &str) -> Result<Reference, ApiError> {
    let (names, rest) = if let Some(arn_rest) = text.strip_prefix("arn:") {
        let parts: Vec<&str> = arn_rest.splitn(5, ':').collect();
        let [_partition, service, region, account, resource] = parts[..] else {
            return Err(bad_arn(member, text));
        };
        if service != "ssm" {
            return Err(bad_arn(member, text));
        }
        let Some(path) = resource.strip_prefix("parameter/") else {
            return Err(bad_arn(member, text));
        };
        let (path, rest) = match path.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (path, None),
        };
        if region != vault.region() || account != vault.account_id() {
            // Another region's or account's parameter is simply not here.
            return Ok(Reference {
                candidates: Vec::new(),
                selector: None,
                selector_text: None,
            });
        }
        let slashed = format!("/{path}");
        let names = if path.contains('/') {
            vec![slashed]
        } else {
            vec![slashed, path.to_owned()]
        };
        (names, rest)
    } else {
        match text.split_once(':') {
            Some((n, r)) => (vec![n.to_owned()], Some(r)),
            None => (vec![text.to_owned()], None),
        }
    };
    for n in &names {
        check_name(member, n)?;
    }
    let selector = match rest {
        None => None,
        Some("") => {
            return Err(ApiError::validation(format!(
                "{member} {text:?}: a selector after ':' must be a version number or a label"
            )));
        }
        Some(s) => Some(match s.parse::<i64>() {
            Ok(v) if v >= 1 => Selector::Version(v),
            Ok(_) => {
                return Err(ApiError::validation(format!(
                    "{member} {text:?}: versions start at 1"
                )));
            }
            Err(_) => Selector::Label(s.to_owned()),
        }),
    };
    Ok(Reference {
        candidates: names,
        selector,
        selector_text: rest.map(|r| format!(":{r}")),
    })
}

fn bad_arn(member: &str, text: &str) -> ApiError {
    ApiError::validation(format!(
        "{member} {text:?} is not a parameter ARN \
         (arn:aws:ssm:<region>:<account>:parameter/<name>)"
    ))
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
    fn names_follow_aws_rules() {
        for ok in ["a", "/a", "/a/b-c/d_e.f", "plain.name-1"] {
            check_new_name("Name", ok).unwrap();
        }
        for bad in ["", "a/b", "/a//b", "/a/", "/a b", "/a:b", "/é"] {
            let e = check_name("Name", bad).unwrap_err();
            assert_eq!(e.code, "ValidationException", "{bad}: {e}");
        }
        let deep = "/l".repeat(16);
        assert_eq!(
            check_name("Name", &deep).unwrap_err().code,
            "HierarchyLevelLimitExceededException"
        );
        check_name("Name", &"/l".repeat(15)).unwrap();
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(
            check_name("Name", &long)
                .unwrap_err()
                .message
                .contains("2048")
        );
        for reserved in ["aws-thing", "/AWS/x", "ssm", "/Ssm/x"] {
            let e = check_new_name("Name", reserved).unwrap_err();
            assert!(e.message.contains("prefixed"), "{reserved}: {e}");
        }
    }

    #[test]
    fn references_read_names_selectors_and_arns() {
        let v = vault();
        let r = parse_reference(&v, "Name", "/a/b:3").unwrap();
        assert_eq!(r.candidates, ["/a/b"]);
        assert_eq!(r.selector, Some(Selector::Version(3)));
        assert_eq!(r.selector_text.as_deref(), Some(":3"));
        let r = parse_reference(&v, "Name", "x:prod").unwrap();
        assert_eq!(r.selector, Some(Selector::Label("prod".into())));
        let r = parse_reference(
            &v,
            "Name",
            "arn:aws:ssm:us-east-1:000000000000:parameter/a/b",
        )
        .unwrap();
        assert_eq!(r.candidates, ["/a/b"]);
        let r = parse_reference(
            &v,
            "Name",
            "arn:aws:ssm:us-east-1:000000000000:parameter/x:2",
        )
        .unwrap();
        assert_eq!(r.candidates, ["/x", "x"]);
        assert_eq!(r.selector, Some(Selector::Version(2)));
        let r =
            parse_reference(&v, "Name", "arn:aws:ssm:eu-west-1:000000000000:parameter/x").unwrap();
        assert!(r.candidates.is_empty());
        for bad in [
            "arn:aws:s3:::b",
            "/a:",
            "/a:0",
            "arn:aws:ssm:us-east-1:000000000000:doc/x",
        ] {
            assert_eq!(
                parse_reference(&v, "Name", bad).unwrap_err().code,
                "ValidationException",
                "{bad}"
            );
        }
        assert_eq!(
            arn(&v, "/a/b"),
            "arn:aws:ssm:us-east-1:000000000000:parameter/a/b"
        );
        assert_eq!(
            arn(&v, "x"),
            "arn:aws:ssm:us-east-1:000000000000:parameter/x"
        );
    }
}
