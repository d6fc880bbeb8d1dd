//! Request parsing: every operation's input is a Rust type with serde derives, so the
//! compiler checks member names and types; `serde_path_to_error` names the member in
//! every error (`overrides.containerOverrides[0].cpu: invalid type: string "x", expected
//! i32`). Unknown members are ignored, as AWS services do; a `null` member counts as
//! absent. Real rules (names, tags, ranges, enums) are the helpers below.

use super::error::{ControlError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads an operation's input from `body`. A required member is a non-`Option` field;
/// its absence reads `<path>: is required`.
pub fn parse<T: DeserializeOwned>(body: Value) -> Result<T> {
    let mut body = body;
    if !body.is_object() {
        return Err(ControlError::invalid(
            "the request body must be a JSON object",
        ));
    }
    drop_nulls(&mut body);
    serde_path_to_error::deserialize(body)
        .map_err(|e| ControlError::invalid(describe(&e.path().to_string(), &e.inner().to_string())))
}

/// Removes every `null` object member, so that `null` reads as absent everywhere (serde
/// would refuse it for a required member or a defaulted list). Iterative: the depth of a
/// body is the sender's choice.
fn drop_nulls(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                map.retain(|_, m| !m.is_null());
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// The error text: the member path, then what is wrong, in this project's words where
/// serde's name a Rust notion (`missing field`, `a sequence`).
fn describe(path: &str, inner: &str) -> String {
    let inner = inner.replace("expected a sequence", "expected a list");
    crate::protocol::value::describe(path, &inner)
}

/// ECS's rule for cluster, family, service and container names.
pub fn is_valid_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub const NAME_RULE: &str = "must be 1 to 255 letters, numbers, hyphens and underscores";

/// `maxResults` of the list operations: 1..=100, 100 when absent.
pub fn max_results(value: Option<i32>) -> Result<usize> {
    match value {
        None => Ok(100),
        Some(n @ 1..=100) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(n) => Err(ControlError::invalid(format!(
            "maxResults: {n} is out of range; must be between 1 and 100"
        ))),
    }
}

/// An enum member: one of `allowed`, else an error naming the member and the values.
pub fn one_of<'a>(member: &str, value: &'a str, allowed: &[&str]) -> Result<&'a str> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(ControlError::invalid(format!(
            "{member}: {value:?} is not valid; valid values: {}",
            allowed.join(", ")
        )))
    }
}

/// A tag as requests carry it; missing members are reported by `tags`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(expecting = "an object")]
pub struct TagIn {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// At most 50 tags on one resource.
pub const MAX_TAGS: usize = 50;

/// Checks ECS's tag rules and returns `(key, value)` pairs, the last value winning for a
/// repeated key.
pub fn tags(member: &str, tags: &[TagIn]) -> Result<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = tags
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    check_tag_pairs(member, &pairs)?;
    let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match out.iter_mut().find(|(ok, _)| *ok == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Ok(out)
}

pub fn check_tag_pairs(member: &str, pairs: &[(String, String)]) -> Result<()> {
    if pairs.len() > MAX_TAGS {
        return Err(ControlError::invalid(format!(
            "{member}: at most {MAX_TAGS} tags are allowed, found {}",
            pairs.len()
        )));
    }
    for (i, (key, value)) in pairs.iter().enumerate() {
        tag_key(&format!("{member}[{i}].key"), key)?;
        let path = format!("{member}[{i}].value");
        if value.chars().count() > 256 {
            return Err(ControlError::invalid(format!(
                "{path}: must be at most 256 characters"
            )));
        }
        if !value.chars().all(is_tag_char) {
            return Err(ControlError::invalid(format!("{path}: {TAG_CHARS_RULE}")));
        }
    }
    Ok(())
}

const TAG_CHARS_RULE: &str =
    "may contain only letters, numbers, spaces and the characters + - = . _ : / @";

/// A tag key: 1..=128 characters, not starting with the reserved `aws:`.
pub fn tag_key(path: &str, key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 {
        return Err(ControlError::invalid(format!("{path}: is required")));
    }
    if n > 128 {
        return Err(ControlError::invalid(format!(
            "{path}: must be at most 128 characters"
        )));
    }
    if !key.chars().all(is_tag_char) {
        return Err(ControlError::invalid(format!("{path}: {TAG_CHARS_RULE}")));
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Err(ControlError::invalid(format!(
            "{path}: the aws: prefix is reserved for AWS use"
        )));
    }
    Ok(())
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, as the ECS model's pattern.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Tags as the wire carries them.
pub fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(expecting = "an object")]
    struct Inner {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        cpu: Option<i32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(expecting = "an object")]
    struct Outer {
        #[allow(dead_code)]
        task: String,
        #[allow(dead_code)]
        count: Option<i32>,
        #[allow(dead_code)]
        #[serde(default)]
        items: Vec<Inner>,
        #[allow(dead_code)]
        flag: Option<bool>,
    }

    fn err(body: Value) -> String {
        match parse::<Outer>(body) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        }
    }

    #[test]
    fn names_the_member_by_path() {
        assert_eq!(err(json!({})), "task: is required");
        assert_eq!(err(json!({"task": null})), "task: is required");
        assert_eq!(
            err(json!({"task": 1})),
            "task: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err(json!({"task": "t", "count": "1"})),
            "count: invalid type: string \"1\", expected i32"
        );
        assert_eq!(
            err(json!({"task": "t", "count": 1.5})),
            "count: invalid type: floating point `1.5`, expected i32"
        );
        assert_eq!(
            err(json!({"task": "t", "count": 1u64 << 40})),
            "count: invalid value: integer `1099511627776`, expected i32"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [{"name": "a"}, {"name": "b", "cpu": true}]})),
            "items[1].cpu: invalid type: boolean `true`, expected i32"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [{"cpu": 1}]})),
            "items[0].name: is required"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [{"name": "a", "cpu": null}]})),
            ""
        );
        assert_eq!(
            err(json!({"task": "t", "items": {}})),
            "items: invalid type: map, expected a list"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [3]})),
            "items[0]: invalid type: integer `3`, expected an object"
        );
        assert_eq!(
            err(json!({"task": "t", "flag": "yes"})),
            "flag: invalid type: string \"yes\", expected a boolean"
        );
        assert_eq!(err(json!([])), "the request body must be a JSON object");
        assert_eq!(
            err(json!({"task": "t", "items": null, "unknown": [1, 2]})),
            ""
        );
    }

    #[test]
    fn max_results_range() {
        assert_eq!(max_results(None).ok(), Some(100));
        assert_eq!(max_results(Some(1)).ok(), Some(1));
        assert!(max_results(Some(0)).is_err());
        assert!(max_results(Some(101)).is_err());
        let e = max_results(Some(-5)).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("maxResults: -5 is out of range; must be between 1 and 100")
        );
    }

    #[test]
    fn tag_rules() {
        let t = |k: &str, v: &str| TagIn {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        assert!(tags("tags", &[t("env", "prod"), t("a b", "x:y/z@w")]).is_ok());
        let msg = |r: Result<Vec<(String, String)>>| r.err().map(|e| e.to_string());
        assert_eq!(
            msg(tags("tags", &[t("", "v")])).as_deref(),
            Some("tags[0].key: is required")
        );
        assert_eq!(
            msg(tags("tags", &[t("ok", "v"), t("AWS:x", "v")])).as_deref(),
            Some("tags[1].key: the aws: prefix is reserved for AWS use")
        );
        assert!(tags("tags", &[t(&"k".repeat(129), "v")]).is_err());
        assert!(tags("tags", &[t("k", &"v".repeat(257))]).is_err());
        assert!(tags("tags", &[t("k\n", "v")]).is_err());
        let many: Vec<TagIn> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
        assert!(tags("tags", &many).is_err());
        let dup = tags("tags", &[t("a", "1"), t("a", "2")]).unwrap_or_default();
        assert_eq!(dup, vec![("a".to_owned(), "2".to_owned())]);
    }
}
