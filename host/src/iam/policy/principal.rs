//! The `Principal` / `NotPrincipal` element of trust policies: who a statement is about.

use serde_json::Value;

use super::condition::json_kind;

/// The principals a statement names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone.
    Anyone,
    List(Vec<Named>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Named {
    /// An account (`"123456789012"` or `arn:aws:iam::123456789012:root`): any principal of it.
    Account(String),
    /// A user, role, or session ARN.
    Arn(String),
    /// `{"Service": "ecs-tasks.amazonaws.com"}`.
    Service(String),
    /// Federated and canonical-user principals: parsed, never matched here.
    Other(String),
}

impl Principals {
    pub fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) if s == "*" => Ok(Principals::Anyone),
            Value::String(s) => Err(format!(
                "invalid principal {s:?}: a principal is \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::123456789012:root\"}}"
            )),
            Value::Object(map) => {
                let mut out = Vec::new();
                for (kind, v) in map {
                    let values = strings(v).map_err(|e| format!("{kind}: {e}"))?;
                    for s in values {
                        match kind.as_str() {
                            "AWS" if s == "*" => return Ok(Principals::Anyone),
                            "AWS" => out.push(aws(&s).ok_or_else(|| {
                                format!("AWS: invalid principal {s:?}: expected \"*\", an account id or an IAM ARN")
                            })?),
                            "Service" if !s.is_empty() && !s.contains('*') => {
                                out.push(Named::Service(s))
                            }
                            "Service" => return Err(format!("Service: invalid service principal {s:?}")),
                            "Federated" | "CanonicalUser" => out.push(Named::Other(s)),
                            _ => {
                                return Err(format!(
                                    "unknown principal type {kind} (the types are AWS, Service, Federated, CanonicalUser)"
                                ));
                            }
                        }
                    }
                }
                if out.is_empty() {
                    return Err("names no principal".into());
                }
                Ok(Principals::List(out))
            }
            other => Err(format!(
                "expected \"*\" or an object, not {}",
                json_kind(other)
            )),
        }
    }

    /// Whether these principals name `caller` by its ARN (or, for a role session, by its
    /// role's ARN): not by its account, not by `*`.
    pub fn names_arn(&self, caller: &str) -> bool {
        match self {
            Principals::Anyone => false,
            Principals::List(names) => names
                .iter()
                .any(|n| matches!(n, Named::Arn(_)) && n.matches(caller)),
        }
    }

    /// Whether `caller` (an IAM/STS ARN or a service name) is among these principals.
    pub fn contains(&self, caller: &str) -> bool {
        match self {
            Principals::Anyone => true,
            Principals::List(names) => names.iter().any(|n| n.matches(caller)),
        }
    }
}

fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("expected a string, not {}", json_kind(other))),
            })
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, not {}",
            json_kind(other)
        )),
    }
}

/// An `AWS` principal: account id, account root ARN, or an IAM/STS ARN.
fn aws(s: &str) -> Option<Named> {
    if is_account(s) {
        return Some(Named::Account(s.to_owned()));
    }
    let f: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, _partition, service, region, account, resource] = f.as_slice() else {
        return None;
    };
    if *arn != "arn" || !region.is_empty() || !is_account(account) {
        return None;
    }
    match (*service, *resource) {
        ("iam", "root") => Some(Named::Account((*account).to_owned())),
        ("iam", r) if r.starts_with("user/") || r.starts_with("role/") => {
            Some(Named::Arn(s.to_owned()))
        }
        ("sts", r) if r.starts_with("assumed-role/") => Some(Named::Arn(s.to_owned())),
        _ => None,
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `(account, resource)` of an ARN.
fn account_and_resource(arn: &str) -> Option<(&str, &str)> {
    let mut f = arn.splitn(6, ':');
    let (Some("arn"), _, _, _, Some(account), Some(resource)) =
        (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
    else {
        return None;
    };
    Some((account, resource))
}

impl Named {
    fn matches(&self, caller: &str) -> bool {
        match self {
            Named::Account(acct) => account_and_resource(caller).is_some_and(|(a, _)| a == acct),
            Named::Service(s) => s.eq_ignore_ascii_case(caller),
            Named::Other(_) => false,
            Named::Arn(arn) if arn == caller => true,
            // A role ARN names its sessions: `assumed-role/<role>/<session>`.
            Named::Arn(arn) => {
                let (Some((acct, res)), Some((caller_acct, caller_res))) =
                    (account_and_resource(arn), account_and_resource(caller))
                else {
                    return false;
                };
                let Some(role_path) = res.strip_prefix("role/") else {
                    return false;
                };
                let role = role_path.rsplit('/').next().unwrap_or(role_path);
                acct == caller_acct
                    && caller_res
                        .strip_prefix("assumed-role/")
                        .and_then(|r| r.split_once('/'))
                        .is_some_and(|(r, _)| r == role)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALICE: &str = "arn:aws:iam::000000000000:user/alice";

    #[test]
    fn principals_match_accounts_users_roles_sessions_and_services() {
        let p = Principals::parse(&json!({"AWS": "000000000000"})).unwrap();
        assert!(p.contains(ALICE));
        assert!(!p.contains("arn:aws:iam::111111111111:user/alice"));
        let p = Principals::parse(&json!({"AWS": "arn:aws:iam::000000000000:root"})).unwrap();
        assert!(p.contains(ALICE));
        let p = Principals::parse(&json!({"AWS": [ALICE]})).unwrap();
        assert!(p.contains(ALICE));
        assert!(!p.contains("arn:aws:iam::000000000000:user/bob"));
        let p =
            Principals::parse(&json!({"AWS": "arn:aws:iam::000000000000:role/path/R"})).unwrap();
        assert!(p.contains("arn:aws:sts::000000000000:assumed-role/R/s1"));
        assert!(!p.contains("arn:aws:sts::000000000000:assumed-role/Q/s1"));
        let p = Principals::parse(&json!({"Service": "ecs-tasks.amazonaws.com"})).unwrap();
        assert!(p.contains("ecs-tasks.amazonaws.com"));
        assert!(!p.contains(ALICE));
        assert!(Principals::parse(&json!("*")).unwrap().contains(ALICE));
        assert!(
            Principals::parse(&json!({"AWS": "*"}))
                .unwrap()
                .contains(ALICE)
        );
    }

    #[test]
    fn invalid_principals_are_refused() {
        for bad in [
            json!("alice"),
            json!({"AWS": "alice"}),
            json!({"AWS": "arn:aws:iam::000000000000:group/g"}),
            json!({"Foo": "x"}),
            json!({"AWS": []}),
            json!(3),
        ] {
            assert!(Principals::parse(&bad).is_err(), "{bad}");
        }
    }
}
