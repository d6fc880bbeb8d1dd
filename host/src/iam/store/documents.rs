//! Checking policy documents before they are stored: the policy language's parser decides
//! (`MalformedPolicyDocument` with its message), the store adds IAM's size quotas.

use super::model::Holder;
use super::{IamError, IamResult, validate};

/// Size quotas, in characters other than white space.
pub const MANAGED_POLICY_SIZE: usize = 6144;
pub const USER_INLINE_SIZE: usize = 2048;
pub const ROLE_INLINE_SIZE: usize = 10240;
pub const GROUP_INLINE_SIZE: usize = 5120;
pub const TRUST_POLICY_SIZE: usize = 2048;

/// An identity policy (inline or managed).
pub fn check_identity(text: &str) -> IamResult<()> {
    parse(text)
}

/// A role's trust policy.
pub fn check_trust(text: &str) -> IamResult<()> {
    if validate::policy_size(text) > TRUST_POLICY_SIZE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}"
        )));
    }
    parse(text)
}

/// An inline policy of `holder` named `holder_name`, within the holder's quota.
pub fn check_inline(holder: Holder, holder_name: &str, text: &str) -> IamResult<()> {
    let max = match holder {
        Holder::User => USER_INLINE_SIZE,
        Holder::Group => GROUP_INLINE_SIZE,
        Holder::Role => ROLE_INLINE_SIZE,
    };
    if validate::policy_size(text) > max {
        return Err(IamError::LimitExceeded(format!(
            "Maximum policy size of {max} bytes exceeded for {} {holder_name}",
            holder.noun()
        )));
    }
    check_identity(text)
}

/// A managed policy version's document.
pub fn check_managed(text: &str) -> IamResult<()> {
    if validate::policy_size(text) > MANAGED_POLICY_SIZE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}"
        )));
    }
    check_identity(text)
}

fn parse(text: &str) -> IamResult<()> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| IamError::MalformedPolicyDocument(format!("Syntax errors in policy. {e}")))?;
    if value.get("Statement").is_none() {
        return Err(IamError::MalformedPolicyDocument(
            "Policy document must contain a Statement.".into(),
        ));
    }
    Ok(())
}
