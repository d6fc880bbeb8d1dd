//! AssumeRole's input rules, with STS's own wording (`1 validation error detected: Value 'x'
//! at 'roleSessionName' failed to satisfy constraint: …`).

use super::model::Tag;

/// AWS's bounds on `DurationSeconds`, before the role's own `MaxSessionDuration`.
pub const MIN_DURATION: i64 = 900;
pub const MAX_DURATION: i64 = 43_200;
/// A role's `MaxSessionDuration` when it sets none, and the limit for role chaining.
pub const DEFAULT_DURATION: i64 = 3_600;
const MAX_TAGS: usize = 50;

/// A role ARN taken apart: `arn:aws:iam::<account>:role/<path/>name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub account: String,
    pub name: String,
}

/// `RoleArn`: a well-formed IAM role ARN, or `ValidationError` naming the member.
pub fn role_arn(value: &str) -> Result<RoleArn, String> {
    if value.chars().count() < 20 {
        return Err(one(
            value,
            "roleArn",
            "Member must have length greater than or equal to 20",
        ));
    }
    if value.chars().count() > 2048 {
        return Err(one(
            "…",
            "roleArn",
            "Member must have length less than or equal to 2048",
        ));
    }
    let invalid = || {
        format!(
            "{value} is invalid: RoleArn must be an IAM role ARN, \
             arn:aws:iam::<12-digit account>:role/<name>"
        )
    };
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let path_and_name = resource.strip_prefix("role/").ok_or_else(invalid)?;
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let ok = partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && role_name_ok(name);
    if !ok {
        return Err(invalid());
    }
    Ok(RoleArn {
        account: account.to_owned(),
        name: name.to_owned(),
    })
}

/// IAM's role name rule: 1–64 of `[\w+=,.@-]`.
fn role_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(word_char)
}

fn word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
}

/// `RoleSessionName`: 2–64 characters of `[\w+=,.@-]`.
pub fn session_name(value: &str) -> Result<(), String> {
    let mut broken = Vec::new();
    let len = value.chars().count();
    if len < 2 {
        broken.push("Member must have length greater than or equal to 2");
    }
    if len > 64 {
        broken.push("Member must have length less than or equal to 64");
    }
    if !value.bytes().all(word_char) {
        broken.push("Member must satisfy regular expression pattern: [\\w+=,.@-]*");
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(many(value, "roleSessionName", &broken))
    }
}

/// `DurationSeconds`: 900–43200 (STS's own bounds), then at most the role's
/// `MaxSessionDuration`, and at most an hour when a role session assumes a role.
pub fn duration(value: Option<i64>, role_max: i64, chained: bool) -> Result<i64, String> {
    let Some(d) = value else {
        return Ok(DEFAULT_DURATION.min(role_max));
    };
    if d < MIN_DURATION {
        return Err(one(
            &d.to_string(),
            "durationSeconds",
            "Member must have value greater than or equal to 900",
        ));
    }
    if d > MAX_DURATION {
        return Err(one(
            &d.to_string(),
            "durationSeconds",
            "Member must have value less than or equal to 43200",
        ));
    }
    if chained && d > DEFAULT_DURATION {
        return Err(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed \
             by role chaining."
                .to_owned(),
        );
    }
    if d > role_max {
        return Err(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .to_owned(),
        );
    }
    Ok(d)
}

/// `Tags`: at most 50, keys 1–128 and values 0–256 characters of letters, digits, spaces
/// and `_.:/=+-@`, keys unique ignoring case.
pub fn tags(tags: &[Tag]) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(one(
            "[…]",
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (i, tag) in tags.iter().enumerate() {
        let n = i + 1;
        let klen = tag.key.chars().count();
        if !(1..=128).contains(&klen) {
            return Err(one(
                &tag.key,
                &format!("tags.{n}.member.key"),
                "Member must have length between 1 and 128",
            ));
        }
        if !tag.key.chars().all(allowed) {
            return Err(one(
                &tag.key,
                &format!("tags.{n}.member.key"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
        if tag.value.chars().count() > 256 || !tag.value.chars().all(allowed) {
            return Err(one(
                &tag.value,
                &format!("tags.{n}.member.value"),
                "Member must have length less than or equal to 256 and satisfy regular \
                 expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(format!(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive. \
                 (Tags.member.{n}.Key {:?})",
                tag.key
            ));
        }
    }
    Ok(())
}

fn one(value: &str, member: &str, constraint: &str) -> String {
    many(value, member, &[constraint])
}

fn many(value: &str, member: &str, constraints: &[&str]) -> String {
    let clauses: Vec<String> = constraints
        .iter()
        .map(|c| format!("Value '{value}' at '{member}' failed to satisfy constraint: {c}"))
        .collect();
    let s = if constraints.len() == 1 { "" } else { "s" };
    format!(
        "{} validation error{s} detected: {}",
        constraints.len(),
        clauses.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            role_arn("arn:aws:iam::000000000000:role/ops/deploy").unwrap(),
            RoleArn {
                account: "000000000000".into(),
                name: "deploy".into()
            }
        );
        let e = role_arn("deploy").unwrap_err();
        assert_eq!(
            e,
            "1 validation error detected: Value 'deploy' at 'roleArn' failed to satisfy \
             constraint: Member must have length greater than or equal to 20"
        );
        for bad in [
            "arn:aws:iam::000000000000:user/alice",
            "arn:aws:iam:us-east-1:000000000000:role/x",
            "arn:aws:s3::000000000000:role/deploy",
            "arn:aws:iam::0000:role/deploy-role-x",
            "arn:aws:iam::000000000000:role/",
            "arn:aws:iam::000000000000:role/a b",
        ] {
            let e = role_arn(bad).unwrap_err();
            assert!(e.starts_with(&format!("{bad} is invalid")), "{e}");
            assert!(e.contains("RoleArn"), "{e}");
        }
    }

    #[test]
    fn session_names() {
        assert!(session_name("alice@example.com").is_ok());
        assert!(session_name("a=b,c.d-e_f+g").is_ok());
        assert_eq!(
            session_name("bedrock role").unwrap_err(),
            "1 validation error detected: Value 'bedrock role' at 'roleSessionName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        let e = session_name("x").unwrap_err();
        assert!(e.contains("greater than or equal to 2"), "{e}");
        let e = session_name(&"é".repeat(65)).unwrap_err();
        assert!(e.starts_with("2 validation errors detected"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(None, 3600, false), Ok(3600));
        assert_eq!(duration(Some(900), 3600, false), Ok(900));
        assert_eq!(duration(Some(43_200), 43_200, false), Ok(43_200));
        let e = duration(Some(899), 3600, false).unwrap_err();
        assert!(e.contains("'899' at 'durationSeconds'"), "{e}");
        assert!(e.contains("greater than or equal to 900"), "{e}");
        let e = duration(Some(43_201), 43_200, false).unwrap_err();
        assert!(e.contains("less than or equal to 43200"), "{e}");
        assert_eq!(
            duration(Some(7200), 3600, false).unwrap_err(),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
        let e = duration(Some(7200), 43_200, true).unwrap_err();
        assert!(e.contains("role chaining"), "{e}");
    }

    #[test]
    fn tag_rules() {
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        assert!(tags(&[t("team", "web"), t("cost-center", "")]).is_ok());
        let e = tags(&[t("team", "a"), t("Team", "b")]).unwrap_err();
        assert!(e.starts_with("Duplicate tag keys found"), "{e}");
        let e = tags(&[t("", "a")]).unwrap_err();
        assert!(e.contains("'tags.1.member.key'"), "{e}");
        let e = tags(&[t("ok", "a"), t("bad!", "a")]).unwrap_err();
        assert!(e.contains("'tags.2.member.key'"), "{e}");
        let many: Vec<Tag> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
        assert!(
            tags(&many)
                .unwrap_err()
                .contains("less than or equal to 50")
        );
    }
}
