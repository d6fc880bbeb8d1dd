//! SimulatePrincipalPolicy: the decision the identity policies of a user (with its groups')
//! or a role make for each action on each resource, with the statement that decided. The
//! same evaluation the authoriser runs on every request.

use super::IamService;
use super::shapes::page;
use crate::iam::authz::context::principal_keys;
use crate::iam::authz::{PolicySource, simulate};
use crate::iam::policy::NamedPolicy;
use crate::iam::store::{HeldPolicy, IamError, IamStore};
use crate::protocol::{ApiError, Context, Principal, PrincipalKind};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePrincipalPolicyInput {
    policy_source_arn: String,
    action_names: Vec<String>,
    #[serde(default)]
    resource_arns: Vec<String>,
    #[serde(default)]
    context_entries: Vec<ContextEntry>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextEntry {
    context_key_name: String,
    #[serde(default)]
    context_key_values: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatementShape {
    source_policy_id: String,
    source_policy_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EvaluationResult {
    eval_action_name: String,
    eval_resource_name: String,
    eval_decision: &'static str,
    matched_statements: Vec<StatementShape>,
    missing_context_values: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulateOutput {
    evaluation_results: Vec<EvaluationResult>,
    is_truncated: bool,
    marker: Option<String>,
}

impl IamService {
    pub(super) async fn simulate_principal_policy(
        &self,
        _ctx: &Context,
        input: SimulatePrincipalPolicyInput,
    ) -> Result<SimulateOutput, ApiError> {
        if input.action_names.is_empty() {
            return Err(ApiError::new(
                "ValidationError",
                "1 validation error detected: Value '[]' at 'actionNames' failed to satisfy \
                 constraint: Member must have length greater than or equal to 1",
            ));
        }
        let (marker, max_items) = (input.marker.clone(), input.max_items);
        let results = self.run(move |s| evaluate_for(s, &input)).await?;
        let p = page(results, marker.as_deref(), max_items)?;
        Ok(SimulateOutput {
            evaluation_results: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }
}

fn evaluate_for(
    store: &IamStore,
    input: &SimulatePrincipalPolicyInput,
) -> Result<Vec<EvaluationResult>, IamError> {
    let (principal, held) = source(store, &input.policy_source_arn)?;
    let of = store
        .policies_for(&principal)
        .map_err(|e| IamError::Corrupt(e.message))?;
    let named: Vec<NamedPolicy<'_>> = of
        .policies
        .iter()
        .map(|(name, document)| NamedPolicy {
            name: name.as_str(),
            document: document.as_ref(),
        })
        .collect();
    let mut keys = principal_keys(&principal, &of);
    for e in &input.context_entries {
        keys.set(&e.context_key_name, e.context_key_values.clone());
    }
    let decisions = simulate(
        &named,
        &principal.arn,
        &input.action_names,
        &input.resource_arns,
        &keys,
    );
    Ok(decisions
        .into_iter()
        .map(|d| EvaluationResult {
            matched_statements: d
                .decision
                .matched()
                .and_then(|m| held.iter().find(|h| h.display_name() == m.policy))
                .map(|h| StatementShape {
                    source_policy_id: h.id.rsplit('/').next().unwrap_or(&h.id).to_owned(),
                    source_policy_type: h.origin.source_type(),
                })
                .into_iter()
                .collect(),
            eval_action_name: d.action,
            eval_resource_name: d.resource,
            eval_decision: d.decision.eval_decision(),
            missing_context_values: Vec::new(),
        })
        .collect())
}

/// The principal a `PolicySourceArn` names (an IAM user or role) and its policies.
fn source(store: &IamStore, arn: &str) -> Result<(Principal, Vec<HeldPolicy>), IamError> {
    let resource = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, r)| r)
        .ok_or_else(|| IamError::InvalidInput(format!("Invalid ARN: {arn}")))?;
    let name = resource.rsplit('/').next().unwrap_or_default();
    if resource.starts_with("user/") {
        let u = store.require_user(name)?;
        let principal = Principal {
            access_key_id: String::new(),
            arn: u.arn.clone(),
            kind: PrincipalKind::User {
                name: u.name.clone(),
                id: u.id.clone(),
            },
        };
        Ok((principal, store.user_policies(&u.name)?))
    } else if resource.starts_with("role/") {
        let r = store.require_role(name)?;
        let principal = Principal {
            access_key_id: String::new(),
            arn: r.arn.clone(),
            kind: PrincipalKind::AssumedRole {
                role_name: r.name.clone(),
                role_id: r.id.clone(),
                session_name: String::new(),
            },
        };
        Ok((principal, store.role_policies(&r.name)?))
    } else {
        Err(IamError::InvalidInput(format!(
            "PolicySourceArn {arn} is neither a user nor a role."
        )))
    }
}
