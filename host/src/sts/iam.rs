//! STS over the IAM store: roles and their trust policies ([`IamRoles`]), and the session
//! tags a role session adds to the role's policy context ([`WithSessionTags`]).

use std::sync::Arc;

use time::OffsetDateTime;

use super::roles::{RoleDirectory, RoleInfo, TrustRequest};
use super::sessions::Sessions;
use crate::iam::authz::context::request_keys;
use crate::iam::authz::input;
use crate::iam::authz::{PolicySource, PrincipalPolicies, ResourceGrant};
use crate::iam::policy::{
    ConditionKeys, Decision, EvalContext, PolicyDocument, evaluate_trust, trust_names_caller,
};
use crate::iam::store::IamStore;
use crate::protocol::{ApiError, AuthorizeRequest, Principal, PrincipalKind};

/// The IAM store's roles, as AssumeRole asks for them.
pub struct IamRoles {
    iam: Arc<IamStore>,
}

impl IamRoles {
    pub fn new(iam: Arc<IamStore>) -> Self {
        Self { iam }
    }
}

impl RoleDirectory for IamRoles {
    fn role(&self, name: &str) -> Result<Option<RoleInfo>, ApiError> {
        Ok(self.iam.role(name).map(|r| RoleInfo {
            name: r.name.clone(),
            id: r.id.clone(),
            arn: r.arn.clone(),
            max_session_duration: i64::from(r.max_session_duration),
            trust_policy: r.trust_policy.clone(),
        }))
    }

    /// Allowed when some ARN of the caller is allowed and none is explicitly denied.
    fn trusts(&self, role: &RoleInfo, request: &TrustRequest<'_>) -> Result<bool, ApiError> {
        // Stored trust policies were validated when written; one that no longer parses
        // trusts no one.
        let trust = match PolicyDocument::parse_trust(&role.trust_policy) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(role = %role.arn, "sts: the role's trust policy does not parse: {e}");
                return Ok(false);
            }
        };
        let mut ctx = EvalContext {
            action: request.action.to_owned(),
            resource: role.arn.clone(),
            principal_arn: String::new(),
            keys: trust_keys(request, self.iam.region()),
        };
        let mut allowed = false;
        for arn in request.caller_arns {
            ctx.principal_arn = arn.clone();
            match evaluate_trust(&trust, &ctx) {
                Decision::ExplicitDeny(m) => {
                    tracing::info!(
                        role = %role.arn,
                        caller = %request.caller.arn,
                        statement = m.statement_index,
                        "sts: the trust policy denies"
                    );
                    return Ok(false);
                }
                Decision::Allow(_) => allowed = true,
                Decision::ImplicitDeny => {}
            }
        }
        Ok(allowed)
    }
}

/// A role's trust policy as the authoriser's [`ResourceGrant`]: an `sts:AssumeRole` whose
/// role trusts the caller by its ARN (not by the account, not by `*`) needs no identity
/// policy allowing it, as in AWS within one account. The STS handler still evaluates the
/// whole trust policy (its conditions, `sts:TagSession`).
pub struct TrustGrant {
    iam: Arc<IamStore>,
}

impl TrustGrant {
    pub fn new(iam: Arc<IamStore>) -> Self {
        Self { iam }
    }
}

impl ResourceGrant for TrustGrant {
    fn grants(&self, request: &AuthorizeRequest<'_>) -> bool {
        if request.action_prefix != "sts" || request.operation != "AssumeRole" {
            return false;
        }
        let Some(role_arn) = input::text(request.input, "RoleArn") else {
            return false;
        };
        let prefix = format!("arn:aws:iam::{}:role/", self.iam.account_id());
        let Some(role) = role_arn
            .strip_prefix(&prefix)
            .and_then(|rest| rest.rsplit('/').next())
            .and_then(|name| self.iam.role(name))
        else {
            return false;
        };
        let Ok(trust) = self.iam.parsed_trust(&role.trust_policy) else {
            return false;
        };
        let caller_arns = super::service::caller_arns(request.principal, self.iam.account_id());
        let tags = input::tags(request.input, "Tags");
        let trust_request = TrustRequest {
            caller: request.principal,
            caller_arns: &caller_arns,
            action: "sts:AssumeRole",
            external_id: input::text(request.input, "ExternalId"),
            session_name: input::text(request.input, "RoleSessionName").unwrap_or_default(),
            tags: &tags,
        };
        let ctx = EvalContext {
            action: "sts:AssumeRole".to_owned(),
            resource: role.arn.clone(),
            principal_arn: request.principal.arn.clone(),
            keys: trust_keys(&trust_request, self.iam.region()),
        };
        trust_names_caller(&trust, &ctx)
    }
}

/// The condition keys a trust policy sees: the caller's, the call's, and AssumeRole's own
/// (`sts:ExternalId`, `sts:RoleSessionName`, the session tags asked for).
fn trust_keys(request: &TrustRequest<'_>, region: &str) -> ConditionKeys {
    let mut keys = ConditionKeys::new();
    let caller = request.caller;
    keys.insert("aws:PrincipalArn", caller.arn.clone());
    match &caller.kind {
        PrincipalKind::User { name, id } => {
            keys.insert("aws:username", name.clone());
            keys.insert("aws:userid", id.clone());
            keys.insert("aws:PrincipalType", "User");
        }
        PrincipalKind::AssumedRole {
            role_id,
            session_name,
            ..
        } => {
            if let Some(role_arn) = request.caller_arns.get(1) {
                keys.insert("aws:PrincipalArn", role_arn.clone());
            }
            keys.insert("aws:userid", format!("{role_id}:{session_name}"));
            keys.insert("aws:PrincipalType", "AssumedRole");
        }
        PrincipalKind::Root => keys.insert("aws:PrincipalType", "Account"),
    }
    request_keys(&mut keys, region, OffsetDateTime::now_utc(), None, false);
    keys.insert("sts:RoleSessionName", request.session_name.to_owned());
    if let Some(id) = request.external_id {
        keys.insert("sts:ExternalId", id.to_owned());
    }
    for (k, v) in request.tags {
        keys.insert(&format!("aws:RequestTag/{k}"), v.clone());
        keys.push("aws:TagKeys", k.clone());
    }
    keys
}

/// A [`PolicySource`] whose role sessions carry their session tags as
/// `aws:PrincipalTag/…` (over the role's own tags of the same key, as AWS has it) and
/// `<role id>:<session>` as `aws:userid`.
pub struct WithSessionTags {
    inner: Arc<dyn PolicySource>,
    sessions: Arc<Sessions>,
}

impl WithSessionTags {
    pub fn new(inner: Arc<dyn PolicySource>, sessions: Arc<Sessions>) -> Self {
        Self { inner, sessions }
    }
}

impl PolicySource for WithSessionTags {
    fn policies_for(&self, principal: &Principal) -> Result<PrincipalPolicies, ApiError> {
        let mut of = self.inner.policies_for(principal)?;
        if let PrincipalKind::AssumedRole {
            role_id,
            session_name,
            ..
        } = &principal.kind
        {
            of.user_id = format!("{role_id}:{session_name}");
            for (k, v) in self
                .sessions
                .tags(&principal.access_key_id)
                .unwrap_or_default()
            {
                of.tags.retain(|(old, _)| !old.eq_ignore_ascii_case(&k));
                of.tags.push((k, v));
            }
        }
        Ok(of)
    }

    fn resource_tags(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.inner.resource_tags(arn)
    }
}
