//! The IAM model's constraints on names, paths, tags and sizes, with AWS's messages
//! (`1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: …`).

use super::error::{IamError, IamResult};
use super::model::Tag;

/// Longest user and role name; groups and policies may have 128 characters.
pub const MAX_USER_NAME: usize = 64;
pub const MAX_ROLE_NAME: usize = 64;
pub const MAX_GROUP_NAME: usize = 128;
pub const MAX_POLICY_NAME: usize = 128;
/// Tags per user, role or policy.
pub const MAX_TAGS: usize = 50;
/// Role `MaxSessionDuration`, seconds.
pub const MIN_SESSION_DURATION: u32 = 3600;
pub const MAX_SESSION_DURATION: u32 = 43200;
/// Role description.
pub const MAX_DESCRIPTION: usize = 1000;

const NAME_PATTERN: &str = r"[\w+=,.@-]+";

fn violation(value: &str, member: &str, constraint: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
         constraint: {constraint}"
    ))
}

/// Length in characters within `min..=max`.
pub fn length(member: &str, value: &str, min: usize, max: usize) -> IamResult<()> {
    let n = value.chars().count();
    if n < min {
        return Err(violation(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(violation(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A user, group, role or policy name: `[\w+=,.@-]+`, 1 to `max` characters.
pub fn name(member: &str, value: &str, max: usize) -> IamResult<()> {
    length(member, value, 1, max)?;
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !ok {
        return Err(violation(
            value,
            member,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

/// An entity path: `/` or `/…/` of printable ASCII, up to 512 characters.
pub fn path(member: &str, value: &str) -> IamResult<()> {
    length(member, value, 1, 512)?;
    let ok = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.chars().all(|c| ('!'..='~').contains(&c)));
    if !ok {
        return Err(violation(
            value,
            member,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(())
}

/// A path prefix for listings (`/`, `/division/`, or any leading part of a path).
pub fn path_prefix(member: &str, value: &str) -> IamResult<()> {
    length(member, value, 1, 512)?;
    if !value.starts_with('/') || !value.chars().all(|c| ('!'..='~').contains(&c)) {
        return Err(violation(
            value,
            member,
            "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ));
    }
    Ok(())
}

/// Tags of a create or tag call: keys and values within AWS's pattern and length, no key
/// twice (case-insensitively), at most 50 once merged with `existing`.
pub fn tags(new: &[Tag], existing: &[Tag]) -> IamResult<()> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (i, t) in new.iter().enumerate() {
        let n = i + 1;
        length(&format!("tags.{n}.member.key"), &t.key, 1, 128)?;
        length(&format!("tags.{n}.member.value"), &t.value, 0, 256)?;
        if !t.key.chars().all(allowed) {
            return Err(violation(
                &t.key,
                &format!("tags.{n}.member.key"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
        if !t.value.chars().all(allowed) {
            return Err(violation(
                &t.value,
                &format!("tags.{n}.member.value"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if new[..i].iter().any(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    let merged = existing
        .iter()
        .filter(|e| !new.iter().any(|t| t.key.eq_ignore_ascii_case(&e.key)))
        .count()
        + new.len();
    if merged > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    Ok(())
}

/// `tags` merged into `existing`: a key given again replaces the value (keys compare
/// case-insensitively, as IAM's do).
pub fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) {
    for t in new {
        match existing
            .iter_mut()
            .find(|e| e.key.eq_ignore_ascii_case(&t.key))
        {
            Some(e) => *e = t,
            None => existing.push(t),
        }
    }
}

/// A role's `MaxSessionDuration`.
pub fn max_session_duration(seconds: u32) -> IamResult<()> {
    if seconds < MIN_SESSION_DURATION {
        return Err(violation(
            &seconds.to_string(),
            "maxSessionDuration",
            &format!("Member must have value greater than or equal to {MIN_SESSION_DURATION}"),
        ));
    }
    if seconds > MAX_SESSION_DURATION {
        return Err(violation(
            &seconds.to_string(),
            "maxSessionDuration",
            &format!("Member must have value less than or equal to {MAX_SESSION_DURATION}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_model() {
        assert!(name("userName", "alice.b+c=d,e@f_g-h", 64).is_ok());
        let e = name("userName", "a b", 64).unwrap_err().to_string();
        assert_eq!(
            e,
            "1 validation error detected: Value 'a b' at 'userName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        assert!(name("userName", &"a".repeat(64), 64).is_ok());
        assert!(
            name("userName", &"a".repeat(65), 64)
                .unwrap_err()
                .to_string()
                .contains("length less than or equal to 64")
        );
        assert!(name("userName", "", 64).is_err());
        assert!(name("userName", "é", 64).is_err());
    }

    #[test]
    fn paths_and_tags() {
        assert!(path("path", "/").is_ok());
        assert!(path("path", "/a/b/").is_ok());
        assert!(path("path", "/a").is_err());
        assert!(path("path", "a/").is_err());
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        assert!(tags(&[t("team", "web"), t("env", "")], &[]).is_ok());
        assert!(matches!(
            tags(&[t("a", "1"), t("A", "2")], &[]),
            Err(IamError::InvalidInput(_))
        ));
        assert!(matches!(
            tags(&[t("a*", "1")], &[]),
            Err(IamError::Validation(_))
        ));
        let many: Vec<Tag> = (0..50).map(|i| t(&format!("k{i}"), "v")).collect();
        assert!(tags(&[t("k1", "new")], &many).is_ok());
        assert!(matches!(
            tags(&[t("new", "x")], &many),
            Err(IamError::LimitExceeded(_))
        ));
        let mut existing = vec![t("Team", "a")];
        merge_tags(&mut existing, vec![t("team", "b"), t("env", "c")]);
        assert_eq!(existing, [t("team", "b"), t("env", "c")]);
    }
}
