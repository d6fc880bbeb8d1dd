//! Policy documents: checked by the policy language's parser before they are stored
//! (`MalformedPolicyDocument` with its message, IAM's size quotas as `LimitExceeded`), and
//! parsed once for evaluation ([`Parsed`]: per-request lookups must not re-parse).

use super::model::Holder;
use super::{IamError, IamResult};
use crate::iam::policy::{
    GROUP_INLINE_MAX_CHARS, MANAGED_POLICY_MAX_CHARS, PolicyDocument, PolicyError,
    ROLE_INLINE_MAX_CHARS, USER_INLINE_MAX_CHARS, policy_size,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A role's trust policy, in characters other than white space (IAM's `ACLSizePerRole`).
pub const TRUST_POLICY_MAX_CHARS: usize = 2048;

/// An identity policy (inline or managed).
pub fn check_identity(text: &str) -> IamResult<()> {
    PolicyDocument::parse_identity(text)
        .map(drop)
        .map_err(malformed)
}

/// A role's trust policy.
pub fn check_trust(text: &str) -> IamResult<()> {
    if policy_size(text) > TRUST_POLICY_MAX_CHARS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX_CHARS}"
        )));
    }
    PolicyDocument::parse_trust(text)
        .map(drop)
        .map_err(malformed)
}

/// The quota of a holder's inline policies: per document, and for all of them together.
fn inline_max(holder: Holder) -> usize {
    match holder {
        Holder::User => USER_INLINE_MAX_CHARS,
        Holder::Group => GROUP_INLINE_MAX_CHARS,
        Holder::Role => ROLE_INLINE_MAX_CHARS,
    }
}

fn inline_too_large(holder: Holder, holder_name: &str) -> IamError {
    IamError::LimitExceeded(format!(
        "Maximum policy size of {} bytes exceeded for {} {holder_name}",
        inline_max(holder),
        holder.noun()
    ))
}

/// An inline policy of `holder` named `holder_name`, within the holder's quota.
pub fn check_inline(holder: Holder, holder_name: &str, text: &str) -> IamResult<()> {
    if policy_size(text) > inline_max(holder) {
        return Err(inline_too_large(holder, holder_name));
    }
    check_identity(text)
}

/// The holder's inline policies `all` (the new one among them) together within the quota:
/// IAM counts the sum of a user's, group's or role's inline policies, so a holder cannot
/// grow without bound by adding one more small policy.
pub fn check_inline_total<'a>(
    holder: Holder,
    holder_name: &str,
    all: impl IntoIterator<Item = &'a String>,
) -> IamResult<()> {
    let total: usize = all.into_iter().map(|t| policy_size(t)).sum();
    if total > inline_max(holder) {
        return Err(inline_too_large(holder, holder_name));
    }
    Ok(())
}

/// A managed policy version's document.
pub fn check_managed(text: &str) -> IamResult<()> {
    if policy_size(text) > MANAGED_POLICY_MAX_CHARS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX_CHARS}"
        )));
    }
    check_identity(text)
}

fn malformed(e: PolicyError) -> IamError {
    IamError::MalformedPolicyDocument(e.to_string())
}

/// Parsed documents by text, so the authoriser parses each stored document once. Entries
/// are never evicted: they are bounded by the documents ever stored in this process.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    identity: RwLock<HashMap<String, Arc<PolicyDocument>>>,
    trust: RwLock<HashMap<String, Arc<PolicyDocument>>>,
}

impl Parsed {
    pub fn identity(&self, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        memo(&self.identity, text, PolicyDocument::parse_identity)
    }

    pub fn trust(&self, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        memo(&self.trust, text, PolicyDocument::parse_trust)
    }
}

fn memo(
    map: &RwLock<HashMap<String, Arc<PolicyDocument>>>,
    text: &str,
    parse: fn(&str) -> Result<PolicyDocument, PolicyError>,
) -> Result<Arc<PolicyDocument>, PolicyError> {
    if let Some(d) = crate::util::sync::read(map).get(text) {
        return Ok(d.clone());
    }
    let d = Arc::new(parse(text)?);
    crate::util::sync::write(map).insert(text.to_owned(), d.clone());
    Ok(d)
}
