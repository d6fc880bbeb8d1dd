//! Authorising API requests: which IAM action, resource ARNs and condition keys each
//! operation of each service means ([`table`]), the request context built from them
//! ([`context`]), and the [`PolicyAuthorizer`] the protocol layer calls before every
//! handler.

mod authorizer;
pub mod context;
pub(crate) mod input;
pub mod table;

use std::sync::Arc;

pub use authorizer::{PolicyAuthorizer, SimulatedDecision, denial_message, simulate};

use super::policy::PolicyDocument;
use crate::protocol::{ApiError, Principal};

/// Where the authoriser gets policies and tags: the IAM store implements it.
pub trait PolicySource: Send + Sync + 'static {
    /// The identity policies that apply to this principal (user: inline + attached +
    /// groups' inline + groups' attached; assumed role: the role's inline + attached),
    /// parsed, with names; and the principal's tags and id.
    fn policies_for(&self, principal: &Principal) -> Result<PrincipalPolicies, ApiError>;

    /// Tags of a resource ARN (`ecs:ResourceTag/…`, `aws:ResourceTag/…`); ECS resources'
    /// tags live in the state store's tags table. No tags (or an unknown resource): empty.
    fn resource_tags(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError>;
}

/// A resource-based policy that grants a request on its own, without the caller's
/// identity policies (AWS, same account: one that names the caller's ARN). A role's trust
/// policy for `sts:AssumeRole` is the one there is. An explicit deny in the identity
/// policies still wins.
pub trait ResourceGrant: Send + Sync + 'static {
    fn grants(&self, request: &crate::protocol::AuthorizeRequest<'_>) -> bool;
}

/// What applies to one principal.
#[derive(Debug, Clone, Default)]
pub struct PrincipalPolicies {
    /// (name for decisions and messages, document).
    pub policies: Vec<(String, Arc<PolicyDocument>)>,
    /// The principal's tags (`aws:PrincipalTag/…`): the user's, or the role's.
    pub tags: Vec<(String, String)>,
    /// `aws:userid`: the user's id (`AIDA…`), or for a session `<role id>:<session name>`.
    pub user_id: String,
}
