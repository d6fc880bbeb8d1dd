//! Typed access to the members of a JSON request body, with errors that name the member.
//!
//! botocore checks types on the client, but other clients (and botocore with
//! `parameter_validation=False`) send anything; every wrong type becomes an
//! `InvalidParameterException` naming the member, never a panic or a 5xx. A `null` member is
//! treated as absent (botocore never sends one).

use serde_json::{Map, Value};

use crate::protocol::ApiError;

/// The members of one JSON object, with the path that leads to it (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Members<'a> {
    obj: &'a Map<String, Value>,
    path: Option<&'a str>,
}

impl<'a> Members<'a> {
    /// The top-level request object.
    pub fn new(body: &'a Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(obj) => Ok(Self { obj, path: None }),
            other => Err(ApiError::new(
                "SerializationException",
                format!(
                    "The request body must be a JSON object, not {}",
                    kind(other)
                ),
            )),
        }
    }

    /// A nested object at `path` (e.g. `logEvents[3]`), for member names in messages.
    pub fn nested(value: &'a Value, path: &'a str) -> Result<Self, ApiError> {
        match value {
            Value::Object(obj) => Ok(Self {
                obj,
                path: Some(path),
            }),
            other => Err(type_error(path, other, "structure")),
        }
    }

    /// The full name of a member, for error messages.
    pub fn name(&self, member: &str) -> String {
        match self.path {
            Some(p) => format!("{p}.{member}"),
            None => member.to_owned(),
        }
    }

    fn get(&self, member: &str) -> Option<&'a Value> {
        self.obj.get(member).filter(|v| !v.is_null())
    }

    pub fn string(&self, member: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(type_error(&self.name(member), v, "string")),
        }
    }

    pub fn required_string(&self, member: &str) -> Result<&'a str, ApiError> {
        self.string(member)?
            .ok_or_else(|| missing(&self.name(member)))
    }

    /// An integer member (`long` or `integer` in the model).
    pub fn long(&self, member: &str) -> Result<Option<i64>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_error(&self.name(member), v, "integer")),
            Some(v) => Err(type_error(&self.name(member), v, "integer")),
        }
    }

    /// An integer member that must lie in `min..=max`.
    pub fn long_in(&self, member: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.long(member)? {
            Some(n) if n < min || n > max => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: \
                 Member must have value between {min} and {max}",
                self.name(member)
            ))),
            n => Ok(n),
        }
    }

    pub fn bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(type_error(&self.name(member), v, "boolean")),
        }
    }

    pub fn array(&self, member: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(type_error(&self.name(member), v, "list")),
        }
    }

    pub fn object(&self, member: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(type_error(&self.name(member), v, "structure")),
        }
    }

    pub fn string_list(&self, member: &str) -> Result<Option<Vec<&'a str>>, ApiError> {
        let Some(items) = self.array(member)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(type_error(
                    &format!("{}[{i}]", self.name(member)),
                    other,
                    "string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A member that must be one of `allowed`.
    pub fn enum_string(
        &self,
        member: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'a str>, ApiError> {
        match self.string(member)? {
            Some(s) if !allowed.contains(&s) => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
                 Member must satisfy enum value set: [{}]",
                truncate(s),
                self.name(member),
                allowed.join(", ")
            ))),
            s => Ok(s),
        }
    }
}

/// `InvalidParameterException` for a required member that is absent.
pub fn missing(member: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

fn type_error(member: &str, v: &Value, expected: &str) -> ApiError {
    let shown = truncate(&v.to_string());
    ApiError::invalid_parameter(format!(
        "Invalid type for parameter {member}, value: {shown}, type: {}, valid types: {expected}",
        kind(v)
    ))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "structure",
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_members() {
        let body = json!({"s": "x", "n": 5, "f": 1.5, "b": true, "l": ["a", "b"], "z": null,
                          "bad": [1], "o": {"t": 1}});
        let m = Members::new(&body).unwrap();
        assert_eq!(m.string("s").unwrap(), Some("x"));
        assert_eq!(m.string("z").unwrap(), None);
        assert_eq!(m.string("absent").unwrap(), None);
        assert_eq!(m.long("n").unwrap(), Some(5));
        assert_eq!(m.bool("b").unwrap(), Some(true));
        assert_eq!(m.string_list("l").unwrap(), Some(vec!["a", "b"]));
        let e = m.string("n").unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.contains("parameter n,") && e.message.contains("valid types: string"));
        assert!(m.long("f").unwrap_err().message.contains("parameter f"));
        assert!(m.string_list("bad").unwrap_err().message.contains("bad[0]"));
        let e = m.required_string("absent").unwrap_err();
        assert!(e.message.contains("at 'absent'"), "{}", e.message);
        let e = m.long_in("n", 1, 4).unwrap_err();
        assert!(e.message.contains("between 1 and 4"), "{}", e.message);
        let e = m.enum_string("s", &["A", "B"]).unwrap_err();
        assert!(e.message.contains("[A, B]"), "{}", e.message);
        let inner = Members::nested(&body["o"], "o").unwrap();
        assert!(
            inner
                .string("t")
                .unwrap_err()
                .message
                .contains("parameter o.t")
        );
        assert_eq!(
            Members::new(&json!([])).unwrap_err().code,
            "SerializationException"
        );
    }
}
