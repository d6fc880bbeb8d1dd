//! What AssumeRole needs from IAM: the role (its id, maximum session duration and trust
//! policy) and a decision on that trust policy. The IAM module implements it; the STS
//! service knows no IAM types.

use crate::protocol::{ApiError, Principal};

/// A role, as AssumeRole sees it.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub name: String,
    /// `AROA…`.
    pub id: String,
    pub arn: String,
    /// Seconds (3600 unless the role sets another).
    pub max_session_duration: i64,
    /// The `AssumeRolePolicyDocument`, as stored.
    pub trust_policy: String,
}

/// One question to a role's trust policy: may these principals do `action` on the role?
#[derive(Debug, Clone, Copy)]
pub struct TrustRequest<'a> {
    /// Who asks (its condition keys: `aws:PrincipalArn`, `aws:username`, …).
    pub caller: &'a Principal,
    /// The caller's ARNs, most specific first: the caller itself, for a session also its
    /// role's ARN, and the account root (`arn:aws:iam::<account>:root`).
    pub caller_arns: &'a [String],
    /// `sts:AssumeRole`, or `sts:TagSession` when session tags are passed.
    pub action: &'a str,
    /// `sts:ExternalId`.
    pub external_id: Option<&'a str>,
    /// `sts:RoleSessionName`.
    pub session_name: &'a str,
    /// The session tags asked for: `aws:RequestTag/…`, `aws:TagKeys`.
    pub tags: &'a [(String, String)],
}

/// IAM's roles and trust policies.
pub trait RoleDirectory: Send + Sync + 'static {
    /// The role named `name` in this host's account, if it exists.
    fn role(&self, name: &str) -> Result<Option<RoleInfo>, ApiError>;

    /// Whether `role`'s trust policy explicitly allows the request (and denies nothing of it).
    fn trusts(&self, role: &RoleInfo, request: &TrustRequest<'_>) -> Result<bool, ApiError>;
}
