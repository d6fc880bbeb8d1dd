//! Request parsing: every body is checked against a small description of its members
//! (types, required ones) before serde sees it, so an error names the member by its path
//! (`overrides.containerOverrides[0].cpu: expected an integer`), and serde cannot fail on
//! anything the check let through. Unknown members are ignored, as AWS services do; a
//! `null` member counts as absent.

use super::error::{ControlError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The JSON type of a member, as the ECS model declares it.
#[derive(Debug)]
pub enum Ty {
    Str,
    /// A 32-bit integer (`Integer`, `BoxedInteger`).
    Int,
    Bool,
    List(&'static Ty),
    Obj(&'static [Field]),
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

/// `[{key, value}]` as every ECS tag list.
pub const TAGS: Ty = Ty::List(&Ty::Obj(&[opt("key", Ty::Str), opt("value", Ty::Str)]));
pub const STRINGS: Ty = Ty::List(&Ty::Str);

/// Checks `body` against `fields`, then deserializes it.
pub fn parse<T: DeserializeOwned>(body: Value, fields: &[Field]) -> Result<T> {
    check_object(&body, fields, "")?;
    serde_json::from_value(body)
        .map_err(|e| ControlError::invalid(format!("the request could not be read: {e}")))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn check_object(value: &Value, fields: &[Field], path: &str) -> Result<()> {
    let Some(map) = value.as_object() else {
        return Err(if path.is_empty() {
            ControlError::invalid("the request body must be a JSON object")
        } else {
            ControlError::invalid(format!("{path}: expected an object"))
        });
    };
    for field in fields {
        let member_path = join(path, field.name);
        match map.get(field.name) {
            None | Some(Value::Null) => {
                if field.required {
                    return Err(ControlError::invalid(format!("{member_path}: is required")));
                }
            }
            Some(v) => check_value(v, &field.ty, &member_path)?,
        }
    }
    Ok(())
}

fn check_value(value: &Value, ty: &Ty, path: &str) -> Result<()> {
    let ok = match ty {
        Ty::Str => value.is_string(),
        Ty::Int => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Ty::Bool => value.is_boolean(),
        Ty::List(item) => {
            let Some(items) = value.as_array() else {
                return Err(ControlError::invalid(format!("{path}: expected a list")));
            };
            for (i, v) in items.iter().enumerate() {
                check_value(v, item, &format!("{path}[{i}]"))?;
            }
            true
        }
        Ty::Obj(fields) => return check_object(value, fields, path),
    };
    if ok {
        return Ok(());
    }
    let expected = match ty {
        Ty::Str => "a string",
        Ty::Int if value.is_number() => "an integer between -2147483648 and 2147483647",
        Ty::Int => "an integer",
        Ty::Bool => "a boolean",
        Ty::List(_) | Ty::Obj(_) => "",
    };
    Err(ControlError::invalid(format!(
        "{path}: expected {expected}"
    )))
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
pub fn max_results(value: Option<i64>) -> Result<usize> {
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

    static INNER: &[Field] = &[req("name", Ty::Str), opt("cpu", Ty::Int)];
    static OUTER: &[Field] = &[
        req("task", Ty::Str),
        opt("count", Ty::Int),
        opt("items", Ty::List(&Ty::Obj(INNER))),
        opt("flag", Ty::Bool),
    ];

    fn err(body: Value) -> String {
        match check_object(&body, OUTER, "") {
            Err(e) => e.to_string(),
            Ok(()) => String::new(),
        }
    }

    #[test]
    fn names_the_member_by_path() {
        assert_eq!(err(json!({})), "task: is required");
        assert_eq!(err(json!({"task": null})), "task: is required");
        assert_eq!(err(json!({"task": 1})), "task: expected a string");
        assert_eq!(
            err(json!({"task": "t", "count": "1"})),
            "count: expected an integer"
        );
        assert_eq!(
            err(json!({"task": "t", "count": 1.5})),
            "count: expected an integer between -2147483648 and 2147483647"
        );
        assert_eq!(
            err(json!({"task": "t", "count": 1u64 << 40})),
            "count: expected an integer between -2147483648 and 2147483647"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [{"name": "a"}, {"name": "b", "cpu": true}]})),
            "items[1].cpu: expected an integer"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [{"cpu": 1}]})),
            "items[0].name: is required"
        );
        assert_eq!(
            err(json!({"task": "t", "items": {}})),
            "items: expected a list"
        );
        assert_eq!(
            err(json!({"task": "t", "items": [3]})),
            "items[0]: expected an object"
        );
        assert_eq!(
            err(json!({"task": "t", "flag": "yes"})),
            "flag: expected a boolean"
        );
        assert_eq!(err(json!([])), "the request body must be a JSON object");
        assert_eq!(err(json!({"task": "t", "unknown": [1, 2]})), "");
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
