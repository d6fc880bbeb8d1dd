//! The IAM policy language: documents parsed and validated once ([`PolicyDocument`]), then
//! evaluated per request ([`evaluate`] for identity policies, [`evaluate_trust`] for a
//! role's trust policy) against an [`EvalContext`]: the action, the resource ARN, the caller
//! and the request's condition keys.
//!
//! Evaluation follows AWS's logic for one account: an explicit `Deny` in any statement that
//! applies wins; otherwise an `Allow` that applies allows; otherwise the request is denied
//! implicitly.

mod condition;
mod eval;
mod parse;
mod pattern;
mod principal;

use std::fmt;

pub use eval::{evaluate, evaluate_trust, trust_names_caller};

/// AWS's size limits of policy documents, in characters not counting white space
/// ([`policy_size`]). The IAM API enforces them (`LimitExceeded`).
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;
pub const USER_INLINE_MAX_CHARS: usize = 2048;
pub const ROLE_INLINE_MAX_CHARS: usize = 10240;
pub const GROUP_INLINE_MAX_CHARS: usize = 5120;

/// The size of a policy document as AWS counts it against the limits: white space is not
/// counted.
pub fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// A parsed, validated policy document (identity or trust policy).
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub(crate) version: Version,
    pub(crate) statements: Vec<parse::Statement>,
    /// Whether any condition or variable could read a resource's tags (the authoriser
    /// looks them up only then).
    pub(crate) resource_tags: bool,
}

/// The policy language version: variables are substituted only in 2012-10-17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

impl PolicyDocument {
    /// An identity policy (user, group, role, managed): `Principal` is not allowed, `Action`
    /// (or `NotAction`) and `Resource` (or `NotResource`) are required.
    pub fn parse_identity(text: &str) -> Result<Self, PolicyError> {
        parse::parse(text, parse::Kind::Identity)
    }

    /// A role's trust policy (`AssumeRolePolicyDocument`): each statement names a
    /// `Principal` (or `NotPrincipal`), no `Resource`, and only `sts:` actions.
    pub fn parse_trust(text: &str) -> Result<Self, PolicyError> {
        parse::parse(text, parse::Kind::Trust)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// How many statements the document holds.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Whether the document could read `…:ResourceTag/…` keys.
    pub fn mentions_resource_tags(&self) -> bool {
        self.resource_tags
    }

    /// Whether some statement's `Action` or `NotAction` names an action of `service`
    /// (`wasmgate` for `wasmgate:NetworkConnect`, `wasmgate:*`); `*` alone names none.
    pub fn names_service(&self, service: &str) -> bool {
        let prefix = format!("{service}:");
        self.statements.iter().any(|s| {
            s.action
                .items
                .iter()
                .any(|p| p.starts_with_literal(&prefix))
        })
    }

    /// The `Sid` of statement `index`, if it has one.
    pub fn sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index).and_then(|s| s.sid.as_deref())
    }
}

/// Why a policy document was refused: the message IAM's `MalformedPolicyDocument` carries,
/// naming where (`Statement[1].Condition`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// Where in the document: `Statement[1].Condition`, or empty for the whole document.
    pub path: String,
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The request's condition keys: names compared case-insensitively (as AWS does), each
/// with one or more values. An absent key is not the same as a key with no values.
#[derive(Debug, Clone, Default)]
pub struct ConditionKeys {
    entries: Vec<(String, Vec<String>)>,
}

impl ConditionKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `values`, replacing what it had.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some((_, v)) => *v = values,
            None => self.entries.push((key.to_owned(), values)),
        }
    }

    /// Sets `key` to the single `value`.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, vec![value.into()]);
    }

    /// Adds `value` to `key`'s values (a multivalued key such as `aws:TagKeys`).
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some((_, v)) => v.push(value.into()),
            None => self.entries.push((key.to_owned(), vec![value.into()])),
        }
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// What one request asks: may `principal_arn` do `action` on `resource`, given `keys`?
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// `ecs:RunTask` (matched case-insensitively).
    pub action: String,
    /// The resource ARN, or `*` for actions without resource-level permissions.
    pub resource: String,
    /// The caller: an IAM ARN, or for a service principal its name
    /// (`ecs-tasks.amazonaws.com`).
    pub principal_arn: String,
    pub keys: ConditionKeys,
}

/// A policy with the name decisions report it by (`arn:aws:iam::…:policy/RunInA`, or
/// `user alice inline policy p1`).
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    pub name: &'a str,
    pub document: &'a PolicyDocument,
}

/// The outcome of evaluating policies for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Matched),
    ExplicitDeny(Matched),
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The decision as IAM's simulator names it (`EvalDecision`).
    pub fn eval_decision(&self) -> &'static str {
        match self {
            Decision::Allow(_) => "allowed",
            Decision::ExplicitDeny(_) => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    /// The statement that decided, if one did.
    pub fn matched(&self) -> Option<&Matched> {
        match self {
            Decision::Allow(m) | Decision::ExplicitDeny(m) => Some(m),
            Decision::ImplicitDeny => None,
        }
    }
}

/// The statement that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub policy: String,
    pub statement_index: usize,
    pub sid: Option<String>,
}
