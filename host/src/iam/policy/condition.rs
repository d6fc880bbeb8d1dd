//! The `Condition` element: operators, their values (parsed once), and how a request's
//! condition keys satisfy them, as the IAM documentation's "Condition operators" and
//! "Multivalued context keys" pages describe.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde_json::Value;

use super::ConditionKeys;
use super::pattern::Pattern;

/// What a base operator compares.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// String operators: `ci` ignores case, `like` takes wildcards.
    Str {
        ci: bool,
        like: bool,
    },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    /// ArnEquals and ArnLike behave the same: field-wise wildcard match.
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// (name, kind, negated)
const OPERATORS: &[(&str, Kind, bool)] = {
    const S: Kind = Kind::Str {
        ci: false,
        like: false,
    };
    const SI: Kind = Kind::Str {
        ci: true,
        like: false,
    };
    const SL: Kind = Kind::Str {
        ci: false,
        like: true,
    };
    &[
        ("StringEquals", S, false),
        ("StringNotEquals", S, true),
        ("StringEqualsIgnoreCase", SI, false),
        ("StringNotEqualsIgnoreCase", SI, true),
        ("StringLike", SL, false),
        ("StringNotLike", SL, true),
        ("NumericEquals", Kind::Numeric(Cmp::Eq), false),
        ("NumericNotEquals", Kind::Numeric(Cmp::Eq), true),
        ("NumericLessThan", Kind::Numeric(Cmp::Lt), false),
        ("NumericLessThanEquals", Kind::Numeric(Cmp::Le), false),
        ("NumericGreaterThan", Kind::Numeric(Cmp::Gt), false),
        ("NumericGreaterThanEquals", Kind::Numeric(Cmp::Ge), false),
        ("DateEquals", Kind::Date(Cmp::Eq), false),
        ("DateNotEquals", Kind::Date(Cmp::Eq), true),
        ("DateLessThan", Kind::Date(Cmp::Lt), false),
        ("DateLessThanEquals", Kind::Date(Cmp::Le), false),
        ("DateGreaterThan", Kind::Date(Cmp::Gt), false),
        ("DateGreaterThanEquals", Kind::Date(Cmp::Ge), false),
        ("Bool", Kind::Bool, false),
        ("BinaryEquals", Kind::Binary, false),
        ("IpAddress", Kind::Ip, false),
        ("NotIpAddress", Kind::Ip, true),
        ("ArnEquals", Kind::Arn, false),
        ("ArnLike", Kind::Arn, false),
        ("ArnNotEquals", Kind::Arn, true),
        ("ArnNotLike", Kind::Arn, true),
        ("Null", Kind::Null, false),
    ]
};

/// The set operator prefix for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// The policy's values of one condition, parsed for the operator.
#[derive(Debug, Clone)]
enum Values {
    Patterns(Vec<Pattern>),
    Numbers(Vec<f64>),
    Bools(Vec<bool>),
    Texts(Vec<String>),
    Nets(Vec<IpNet>),
}

/// One operator applied to one key: `"StringEquals": {"aws:username": ["a", "b"]}` is one
/// `Condition` with two values (OR); several keys or operators are several (AND).
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    kind: Kind,
    negated: bool,
    set: SetOp,
    if_exists: bool,
    key: String,
    values: Values,
}

impl Condition {
    /// Parses one operator block (`op` → `{key: value(s)}`). `Err` is the problem; the
    /// caller prefixes the position.
    pub fn parse_block(op: &str, block: &Value, variables: bool) -> Result<Vec<Self>, String> {
        let (set, base) = if let Some(b) = strip_prefix_ci(op, "ForAnyValue:") {
            (SetOp::ForAnyValue, b)
        } else if let Some(b) = strip_prefix_ci(op, "ForAllValues:") {
            (SetOp::ForAllValues, b)
        } else {
            (SetOp::Single, op)
        };
        let lookup = |name: &str| {
            OPERATORS
                .iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
                .map(|&(_, k, neg)| (k, neg))
        };
        let (kind, negated, if_exists) = match lookup(base) {
            Some((k, neg)) => (k, neg, false),
            None => match base
                .len()
                .checked_sub(8)
                .filter(|&i| base.is_char_boundary(i))
                .map(|i| base.split_at(i))
            {
                Some((b, suffix)) if suffix.eq_ignore_ascii_case("IfExists") => match lookup(b) {
                    Some((Kind::Null, _)) => {
                        return Err(format!("the Null operator has no IfExists form ({op})"));
                    }
                    Some((k, neg)) => (k, neg, true),
                    None => return Err(format!("unknown condition operator {op}")),
                },
                _ => return Err(format!("unknown condition operator {op}")),
            },
        };
        let Value::Object(keys) = block else {
            return Err(format!(
                "{op}: expected an object of condition keys and values"
            ));
        };
        if keys.is_empty() {
            return Err(format!("{op}: names no condition key"));
        }
        let mut out = Vec::with_capacity(keys.len());
        for (key, value) in keys {
            if key.is_empty() {
                return Err(format!("{op}: a condition key name is empty"));
            }
            let texts = scalars(value).map_err(|e| format!("{op}.{key}: {e}"))?;
            let values =
                parse_values(kind, &texts, variables).map_err(|e| format!("{op}.{key}: {e}"))?;
            out.push(Self {
                kind,
                negated,
                set,
                if_exists,
                key: key.clone(),
                values,
            });
        }
        Ok(out)
    }

    /// Whether the request's keys satisfy this condition.
    pub fn holds(&self, keys: &ConditionKeys) -> bool {
        let present = keys.get(&self.key);
        if self.kind == Kind::Null {
            // `"Null": {"k": "true"}`: the key is absent.
            let absent = present.is_none_or(<[String]>::is_empty);
            return match &self.values {
                Values::Bools(b) => b.contains(&absent),
                _ => false,
            };
        }
        match self.set {
            SetOp::Single => match present {
                None => self.if_exists || self.negated,
                Some(vs) => {
                    let any = vs.iter().any(|v| self.matches(v, keys));
                    any != self.negated
                }
            },
            // Every value the request has must match (vacuously true without values).
            SetOp::ForAllValues => {
                present.is_none_or(|vs| vs.iter().all(|v| self.matches(v, keys) != self.negated))
            }
            SetOp::ForAnyValue => match present {
                None => self.if_exists,
                Some(vs) => vs.iter().any(|v| self.matches(v, keys) != self.negated),
            },
        }
    }

    /// Whether one request value equals/matches any of the policy's values (the positive
    /// operator; negation is applied by the caller).
    fn matches(&self, value: &str, keys: &ConditionKeys) -> bool {
        match (&self.kind, &self.values) {
            // Wildcards (`like`) were decided when the patterns were compiled.
            (Kind::Str { ci, .. }, Values::Patterns(ps)) => {
                ps.iter().any(|p| p.matches(value, keys, *ci))
            }
            (Kind::Arn, Values::Patterns(ps)) => ps.iter().any(|p| p.matches_arn(value, keys)),
            (Kind::Numeric(cmp), Values::Numbers(ns)) => {
                parse_number(value).is_some_and(|v| ns.iter().any(|&n| compare(*cmp, v, n)))
            }
            (Kind::Date(cmp), Values::Numbers(ns)) => {
                parse_date(value).is_some_and(|v| ns.iter().any(|&n| compare(*cmp, v, n)))
            }
            (Kind::Bool, Values::Bools(bs)) => parse_bool(value).is_some_and(|v| bs.contains(&v)),
            (Kind::Binary, Values::Texts(ts)) => ts.iter().any(|t| t == value),
            (Kind::Ip, Values::Nets(nets)) => {
                IpAddr::from_str(value.trim()).is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }
            _ => false,
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

fn compare(cmp: Cmp, request: f64, policy: f64) -> bool {
    match cmp {
        Cmp::Eq => request == policy,
        Cmp::Lt => request < policy,
        Cmp::Le => request <= policy,
        Cmp::Gt => request > policy,
        Cmp::Ge => request >= policy,
    }
}

/// A condition value: a string, number or boolean, or a list of them.
fn scalars(value: &Value) -> Result<Vec<String>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "a condition value is a string, number or boolean, not {}",
            json_kind(other)
        )),
    };
    match value {
        Value::Array(items) if items.is_empty() => Err("has no values".into()),
        Value::Array(items) => items.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_values(kind: Kind, texts: &[String], variables: bool) -> Result<Values, String> {
    let each = |f: &dyn Fn(&str) -> Option<f64>, what: &str| {
        texts
            .iter()
            .map(|t| f(t).ok_or_else(|| format!("{t:?} is not {what}")))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match kind {
        Kind::Str { like, .. } => Values::Patterns(
            texts
                .iter()
                .map(|t| Pattern::compile(t, like, variables))
                .collect(),
        ),
        Kind::Arn => Values::Patterns(
            texts
                .iter()
                .map(|t| Pattern::compile(t, true, variables))
                .collect(),
        ),
        Kind::Numeric(_) => Values::Numbers(each(&parse_number, "a number")?),
        Kind::Date(_) => Values::Numbers(each(
            &parse_date,
            "a date (ISO 8601, e.g. 2024-01-31T12:00:00Z, or seconds since the epoch)",
        )?),
        Kind::Bool | Kind::Null => Values::Bools(
            texts
                .iter()
                .map(|t| parse_bool(t).ok_or_else(|| format!("{t:?} is not true or false")))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Binary => Values::Texts(texts.to_vec()),
        Kind::Ip => Values::Nets(
            texts
                .iter()
                .map(|t| {
                    parse_net(t).ok_or_else(|| format!("{t:?} is not an IP address or CIDR range"))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    IpNet::from_str(s)
        .ok()
        .or_else(|| IpAddr::from_str(s).ok().map(IpNet::from))
}

/// A date as seconds since the epoch: ISO 8601 (`2024-01-31T12:00:00Z`, with an offset or
/// fraction, or a bare date) or a number of seconds.
pub(crate) fn parse_date(s: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    let day = format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &day) {
        return Some(d.midnight().assume_utc().unix_timestamp() as f64);
    }
    // `2024-01-31T12:00:00` without a zone: UTC, as AWS reads it.
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &local)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(op: &str, key: &str, values: Value) -> Condition {
        let mut v = Condition::parse_block(op, &json!({ key: values }), true).unwrap();
        v.remove(0)
    }

    fn keys(pairs: &[(&str, &[&str])]) -> ConditionKeys {
        let mut k = ConditionKeys::new();
        for (name, vs) in pairs {
            k.set(name, vs.iter().map(|s| s.to_string()).collect());
        }
        k
    }

    #[test]
    fn string_operators() {
        let k = keys(&[("aws:username", &["Alice"])]);
        assert!(cond("StringEquals", "aws:username", json!("Alice")).holds(&k));
        assert!(!cond("StringEquals", "aws:username", json!("alice")).holds(&k));
        assert!(cond("StringEqualsIgnoreCase", "aws:username", json!("alice")).holds(&k));
        assert!(cond("StringNotEqualsIgnoreCase", "aws:username", json!("bob")).holds(&k));
        assert!(cond("StringLike", "aws:username", json!("A*")).holds(&k));
        assert!(!cond("StringEquals", "aws:username", json!("A*")).holds(&k));
        assert!(cond("StringNotLike", "aws:username", json!("B*")).holds(&k));
        // Several values: any of them (OR).
        assert!(cond("StringEquals", "aws:username", json!(["Bob", "Alice"])).holds(&k));
        // Key names are case-insensitive.
        assert!(cond("StringEquals", "AWS:UserName", json!("Alice")).holds(&k));
    }

    #[test]
    fn missing_keys_fail_positive_and_pass_negated_operators() {
        let k = ConditionKeys::new();
        assert!(!cond("StringEquals", "aws:username", json!("a")).holds(&k));
        assert!(cond("StringNotEquals", "aws:username", json!("a")).holds(&k));
        assert!(cond("StringEqualsIfExists", "aws:username", json!("a")).holds(&k));
        assert!(cond("NotIpAddress", "aws:SourceIp", json!("10.0.0.0/8")).holds(&k));
        // IfExists with the key present is the plain operator.
        let k = keys(&[("aws:username", &["b"])]);
        assert!(!cond("StringEqualsIfExists", "aws:username", json!("a")).holds(&k));
    }

    #[test]
    fn numeric_date_bool_ip_arn_null() {
        let k = keys(&[
            ("s3:max-keys", &["10"]),
            ("aws:CurrentTime", &["2024-06-01T00:00:00Z"]),
            ("aws:SecureTransport", &["false"]),
            ("aws:SourceIp", &["203.0.113.7"]),
            (
                "ecs:cluster",
                &["arn:aws:ecs:us-east-1:000000000000:cluster/a"],
            ),
        ]);
        assert!(cond("NumericLessThanEquals", "s3:max-keys", json!("10")).holds(&k));
        assert!(!cond("NumericLessThan", "s3:max-keys", json!(10)).holds(&k));
        assert!(cond("NumericGreaterThan", "s3:max-keys", json!("9.5")).holds(&k));
        assert!(cond("NumericNotEquals", "s3:max-keys", json!("11")).holds(&k));
        assert!(
            cond(
                "DateGreaterThan",
                "aws:CurrentTime",
                json!("2024-01-01T00:00:00Z")
            )
            .holds(&k)
        );
        assert!(cond("DateLessThan", "aws:CurrentTime", json!("2024-07-01")).holds(&k));
        assert!(cond("DateLessThan", "aws:CurrentTime", json!(1_800_000_000)).holds(&k));
        assert!(cond("Bool", "aws:SecureTransport", json!("false")).holds(&k));
        assert!(cond("Bool", "aws:SecureTransport", json!(false)).holds(&k));
        assert!(!cond("Bool", "aws:SecureTransport", json!("true")).holds(&k));
        assert!(cond("IpAddress", "aws:SourceIp", json!(["203.0.113.0/24"])).holds(&k));
        assert!(cond("IpAddress", "aws:SourceIp", json!("203.0.113.7")).holds(&k));
        assert!(!cond("NotIpAddress", "aws:SourceIp", json!("203.0.113.0/24")).holds(&k));
        assert!(
            cond(
                "ArnEquals",
                "ecs:cluster",
                json!("arn:aws:ecs:*:*:cluster/a")
            )
            .holds(&k)
        );
        assert!(
            cond(
                "ArnNotLike",
                "ecs:cluster",
                json!("arn:aws:ecs:*:*:cluster/b")
            )
            .holds(&k)
        );
        assert!(cond("Null", "aws:TagKeys", json!("true")).holds(&k));
        assert!(cond("Null", "ecs:cluster", json!("false")).holds(&k));
        assert!(!cond("Null", "ecs:cluster", json!("true")).holds(&k));
    }

    #[test]
    fn set_operators_follow_the_multivalued_key_rules() {
        let k = keys(&[("aws:TagKeys", &["env", "team"])]);
        let all = cond(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            json!(["env", "team", "cost"]),
        );
        assert!(all.holds(&k));
        let all_strict = cond("ForAllValues:StringEquals", "aws:TagKeys", json!(["env"]));
        assert!(!all_strict.holds(&k));
        // ForAllValues is true when the request has no such key.
        assert!(all_strict.holds(&ConditionKeys::new()));
        let any = cond("ForAnyValue:StringEquals", "aws:TagKeys", json!(["team"]));
        assert!(any.holds(&k));
        assert!(!any.holds(&ConditionKeys::new()));
        let any_not = cond("ForAnyValue:StringNotEquals", "aws:TagKeys", json!(["env"]));
        assert!(any_not.holds(&k));
        let all_not = cond("ForAllValues:StringNotLike", "aws:TagKeys", json!(["sec*"]));
        assert!(all_not.holds(&k));
    }

    #[test]
    fn bad_operators_and_values_are_named() {
        let e = Condition::parse_block("StringEqualz", &json!({"a:b": "x"}), true).unwrap_err();
        assert_eq!(e, "unknown condition operator StringEqualz");
        let e = Condition::parse_block("NullIfExists", &json!({"a:b": "true"}), true).unwrap_err();
        assert!(e.contains("no IfExists"), "{e}");
        let e = Condition::parse_block("NumericEquals", &json!({"a:b": "ten"}), true).unwrap_err();
        assert_eq!(e, "NumericEquals.a:b: \"ten\" is not a number");
        let e =
            Condition::parse_block("IpAddress", &json!({"a:b": "300.1.1.1"}), true).unwrap_err();
        assert!(e.contains("not an IP address"), "{e}");
        let e =
            Condition::parse_block("StringEquals", &json!({"a:b": {"x": 1}}), true).unwrap_err();
        assert!(e.contains("not an object"), "{e}");
        let e = Condition::parse_block("Bool", &json!({"a:b": "yes"}), true).unwrap_err();
        assert!(e.contains("true or false"), "{e}");
        assert!(
            Condition::parse_block("ForAnyValue:StringLikeIfExists", &json!({"a:b": "x"}), true)
                .is_ok()
        );
    }
}
