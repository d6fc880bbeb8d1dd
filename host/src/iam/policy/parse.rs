//! Reading a policy document: JSON → [`PolicyDocument`], refusing what IAM refuses with
//! the position of the problem.

use serde_json::{Map, Value};

use super::condition::{Condition, json_kind};
use super::pattern::Pattern;
use super::principal::Principals;
use super::{PolicyDocument, PolicyError, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Identity,
    Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// A list element that may be negated (`Action` / `NotAction`).
#[derive(Debug, Clone)]
pub(crate) struct Negatable<T> {
    pub negated: bool,
    pub items: T,
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Negatable<Principals>>,
    pub action: Negatable<Vec<Pattern>>,
    pub resource: Option<Negatable<Vec<Pattern>>>,
    pub conditions: Vec<super::condition::Condition>,
}

const TOP: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

pub(crate) fn parse(text: &str, kind: Kind) -> Result<PolicyDocument, PolicyError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| PolicyError::new("", format!("Syntax error in policy: {e}")))?;
    let Value::Object(top) = value else {
        return Err(PolicyError::new(
            "",
            format!(
                "a policy document is a JSON object, not {}",
                json_kind(&value)
            ),
        ));
    };
    unknown_elements(&top, TOP, "")?;
    let version = match top.get("Version") {
        None => Version::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(v) => {
            return Err(PolicyError::new(
                "Version",
                format!("invalid version {v}: the versions are 2012-10-17 and 2008-10-17"),
            ));
        }
    };
    if let Some(id) = top.get("Id")
        && !id.is_string()
    {
        return Err(PolicyError::new("Id", "expected a string"));
    }
    let statements = match top.get("Statement") {
        None => return Err(PolicyError::new("", "the policy has no Statement")),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(PolicyError::new(
                "Statement",
                "the policy has no statements",
            ));
        }
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(other) => {
            return Err(PolicyError::new(
                "Statement",
                format!(
                    "expected a statement object or a list of them, not {}",
                    json_kind(other)
                ),
            ));
        }
    };
    let variables = version == Version::V2012_10_17;
    let mut out = Vec::with_capacity(statements.len());
    for (i, st) in statements.into_iter().enumerate() {
        let path = format!("Statement[{i}]");
        let statement = statement(st, kind, variables, &path)?;
        if let Some(sid) = &statement.sid
            && out.iter().any(|s: &Statement| s.sid.as_ref() == Some(sid))
        {
            return Err(PolicyError::new(
                format!("{path}.Sid"),
                format!("duplicate Sid {sid:?}: statement ids must be unique in a policy"),
            ));
        }
        out.push(statement);
    }
    Ok(PolicyDocument {
        version,
        statements: out,
        resource_tags: text.to_ascii_lowercase().contains("resourcetag/"),
    })
}

fn unknown_elements(
    map: &Map<String, Value>,
    known: &[&str],
    path: &str,
) -> Result<(), PolicyError> {
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            let hint = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(key))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_else(|| format!(" (the elements are {})", known.join(", ")));
            return Err(PolicyError::new(
                path,
                format!("unknown element {key}{hint}"),
            ));
        }
    }
    Ok(())
}

fn statement(
    value: &Value,
    kind: Kind,
    variables: bool,
    path: &str,
) -> Result<Statement, PolicyError> {
    let Value::Object(st) = value else {
        return Err(PolicyError::new(
            path,
            format!("a statement is an object, not {}", json_kind(value)),
        ));
    };
    unknown_elements(st, STATEMENT, path)?;
    let at = |element: &str| format!("{path}.{element}");

    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) if s.chars().all(|c| c.is_ascii_alphanumeric()) => Some(s.clone()),
        Some(Value::String(s)) => {
            return Err(PolicyError::new(
                at("Sid"),
                format!("invalid Sid {s:?}: statement ids are alphanumeric (A-Z, a-z, 0-9)"),
            ));
        }
        Some(other) => {
            return Err(PolicyError::new(
                at("Sid"),
                format!("expected a string, not {}", json_kind(other)),
            ));
        }
    };

    let effect = match st.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::new(
                at("Effect"),
                format!("invalid effect {other}: the effect is \"Allow\" or \"Deny\""),
            ));
        }
        None => return Err(PolicyError::new(path, "the statement has no Effect")),
    };

    let principal = one_of(st, "Principal", "NotPrincipal", path)?;
    let principal = match (kind, principal) {
        (Kind::Identity, Some((name, _))) => {
            return Err(PolicyError::new(
                at(name),
                "an identity policy must not name a principal (only trust and resource policies do)",
            ));
        }
        (Kind::Trust, None) => {
            return Err(PolicyError::new(
                path,
                "a trust policy statement must name a Principal",
            ));
        }
        (Kind::Trust, Some((name, v))) => Some(Negatable {
            negated: name == "NotPrincipal",
            items: Principals::parse(v).map_err(|e| PolicyError::new(at(name), e))?,
        }),
        (Kind::Identity, None) => None,
    };

    let Some((name, actions)) = one_of(st, "Action", "NotAction", path)? else {
        return Err(PolicyError::new(
            path,
            "the statement has no Action or NotAction",
        ));
    };
    let action = Negatable {
        negated: name == "NotAction",
        items: strings(actions)
            .map_err(|e| PolicyError::new(at(name), e))?
            .into_iter()
            .map(|a| {
                check_action(a, kind).map_err(|e| PolicyError::new(at(name), e))?;
                Ok(Pattern::compile(a, true, false))
            })
            .collect::<Result<Vec<_>, PolicyError>>()?,
    };

    let resource = one_of(st, "Resource", "NotResource", path)?;
    let resource = match (kind, resource) {
        (Kind::Trust, Some((name, _))) => {
            return Err(PolicyError::new(
                at(name),
                "a trust policy must not name a resource (the role is the resource)",
            ));
        }
        (Kind::Identity, None) => {
            return Err(PolicyError::new(
                path,
                "the statement has no Resource or NotResource",
            ));
        }
        (Kind::Trust, None) => None,
        (Kind::Identity, Some((name, v))) => Some(Negatable {
            negated: name == "NotResource",
            items: strings(v)
                .map_err(|e| PolicyError::new(at(name), e))?
                .into_iter()
                .map(|r| {
                    check_resource(r).map_err(|e| PolicyError::new(at(name), e))?;
                    Ok(Pattern::compile(r, true, variables))
                })
                .collect::<Result<Vec<_>, PolicyError>>()?,
        }),
    };

    let conditions = match st.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(ops)) => {
            let mut out = Vec::new();
            for (op, block) in ops {
                out.extend(
                    Condition::parse_block(op, block, variables)
                        .map_err(|e| PolicyError::new(at("Condition"), e))?,
                );
            }
            out
        }
        Some(other) => {
            return Err(PolicyError::new(
                at("Condition"),
                format!(
                    "expected an object of condition operators, not {}",
                    json_kind(other)
                ),
            ));
        }
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// The element present of a pair that excludes each other (`Action` / `NotAction`).
fn one_of<'a>(
    st: &'a Map<String, Value>,
    a: &'static str,
    b: &'static str,
    path: &str,
) -> Result<Option<(&'static str, &'a Value)>, PolicyError> {
    match (st.get(a), st.get(b)) {
        (Some(_), Some(_)) => Err(PolicyError::new(
            path,
            format!("a statement has {a} or {b}, not both"),
        )),
        (Some(v), None) => Ok(Some((a, v))),
        (None, Some(v)) => Ok(Some((b, v))),
        (None, None) => Ok(None),
    }
}

fn strings(v: &Value) -> Result<Vec<&str>, String> {
    match v {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if items.is_empty() => Err("the list is empty".into()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(format!(
                    "item {i}: expected a string, not {}",
                    json_kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, not {}",
            json_kind(other)
        )),
    }
}

/// `*` or `<service>:<action pattern>`.
fn check_action(a: &str, kind: Kind) -> Result<(), String> {
    if a == "*" {
        return Ok(());
    }
    let Some((service, name)) = a.split_once(':') else {
        return Err(format!(
            "invalid action {a:?}: an action is prefaced by its service, e.g. ecs:RunTask"
        ));
    };
    let ok_service = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-*?".contains(&b));
    if !ok_service || name.is_empty() {
        return Err(format!(
            "invalid action {a:?}: an action is prefaced by its service, e.g. ecs:RunTask"
        ));
    }
    if kind == Kind::Trust && !service.eq_ignore_ascii_case("sts") {
        return Err(format!(
            "invalid action {a:?}: a trust policy may only name sts actions (sts:AssumeRole)"
        ));
    }
    Ok(())
}

/// `*`, or an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
fn check_resource(r: &str) -> Result<(), String> {
    if r == "*" {
        return Ok(());
    }
    let fields: Vec<&str> = r.splitn(6, ':').collect();
    match fields.as_slice() {
        ["arn", partition, service, _, _, _] if !partition.is_empty() && !service.is_empty() => {
            Ok(())
        }
        _ => Err(format!(
            "invalid resource {r:?}: a resource is \"*\" or an ARN (arn:partition:service:region:account:resource)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::PolicyDocument;

    fn err(text: &str) -> String {
        PolicyDocument::parse_identity(text)
            .unwrap_err()
            .to_string()
    }

    fn terr(text: &str) -> String {
        PolicyDocument::parse_trust(text).unwrap_err().to_string()
    }

    #[test]
    fn the_documentations_examples_parse() {
        // "IAM JSON policy elements: Statement": a list of statements.
        let doc = PolicyDocument::parse_identity(
            r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "arn:aws:s3:::*"},
    {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": "arn:aws:s3:::BUCKET-NAME"},
    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::BUCKET-NAME/*"}
  ]
}"#,
        )
        .unwrap();
        assert_eq!(doc.statement_count(), 3);
        // A single statement object, no Version (2008-10-17).
        let doc = PolicyDocument::parse_identity(
            r#"{"Statement": {"Sid": "One", "Effect": "Deny", "NotAction": "iam:*", "NotResource": "*"}}"#,
        )
        .unwrap();
        assert_eq!(doc.sid(0), Some("One"));
        assert_eq!(doc.version(), super::Version::V2008_10_17);
        // A trust policy.
        PolicyDocument::parse_trust(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"#,
        )
        .unwrap();
    }

    #[test]
    fn malformed_documents_are_refused_with_the_position() {
        let e = err("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}");
        assert!(e.starts_with("Syntax error in policy:"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        assert_eq!(
            err(
                r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}}]}"#
            ),
            "Statement[1].Condition: unknown condition operator StringEqualz"
        );
        assert!(
            err(r#"{"Version": "2012-10-18", "Statement": []}"#)
                .starts_with("Version: invalid version")
        );
        assert!(
            err(r#"{"Version": "2012-10-17", "Statment": []}"#)
                .contains("unknown element Statment")
        );
        assert_eq!(
            err(r#"{"Statement": {"effect": "Allow", "Action": "*", "Resource": "*"}}"#),
            "Statement[0]: unknown element effect (did you mean Effect?)"
        );
        assert!(
            err(r#"{"Statement": {"Effect": "allow", "Action": "*", "Resource": "*"}}"#)
                .starts_with("Statement[0].Effect: invalid effect \"allow\"")
        );
        assert!(
            err(r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#)
                .starts_with("Statement[0].Principal: an identity policy must not name a principal")
        );
        assert_eq!(
            err(r#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#),
            "Statement[0]: the statement has no Action or NotAction"
        );
        assert_eq!(
            err(r#"{"Statement": {"Effect": "Allow", "Action": "*"}}"#),
            "Statement[0]: the statement has no Resource or NotResource"
        );
        assert_eq!(
            err(
                r#"{"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}}"#
            ),
            "Statement[0]: a statement has Action or NotAction, not both"
        );
        assert!(
            err(r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "cluster/a"}}"#)
                .starts_with("Statement[0].Resource: invalid resource \"cluster/a\"")
        );
        assert!(
            err(r#"{"Statement": {"Effect": "Allow", "Action": "RunTask", "Resource": "*"}}"#)
                .starts_with("Statement[0].Action: invalid action \"RunTask\"")
        );
        assert!(
            err(
                r#"{"Statement": [{"Sid": "a", "Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "a", "Effect": "Allow", "Action": "*", "Resource": "*"}]}"#
            )
            .starts_with("Statement[1].Sid: duplicate Sid")
        );
        assert!(
            err(r#"{"Statement": {"Sid": "a b", "Effect": "Allow", "Action": "*", "Resource": "*"}}"#)
                .contains("alphanumeric")
        );
        assert!(err("[]").contains("is a JSON object"));
        assert!(err(r#"{"Statement": []}"#).contains("no statements"));
    }

    #[test]
    fn trust_policies_need_principals_and_sts_actions() {
        assert_eq!(
            terr(r#"{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}"#),
            "Statement[0]: a trust policy statement must name a Principal"
        );
        assert!(
            terr(
                r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "ecs:RunTask"}}"#
            )
            .contains("only name sts actions")
        );
        assert!(
            terr(r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}}"#)
                .starts_with("Statement[0].Resource: a trust policy must not name a resource")
        );
        assert!(
            terr(r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}}"#)
                .starts_with("Statement[0].Principal: AWS: invalid principal")
        );
    }
}
