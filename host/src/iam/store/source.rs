//! The store as the authoriser's [`PolicySource`]: a principal's parsed identity policies,
//! tags and id, and resources' tags, all from the in-memory mirror (ECS resources' tags
//! from the state store's tags table).

use super::IamStore;
use super::principal::HeldPolicy;
use crate::iam::authz::{PolicySource, PrincipalPolicies};
use crate::protocol::{ApiError, Principal, PrincipalKind};

impl PolicySource for IamStore {
    fn policies_for(&self, principal: &Principal) -> Result<PrincipalPolicies, ApiError> {
        let (held, tags, user_id) = match &principal.kind {
            PrincipalKind::Root => return Ok(PrincipalPolicies::default()),
            PrincipalKind::User { name, id } => match self.user(name) {
                Some(u) => (self.user_policies(&u.name), u.tags.clone(), u.id.clone()),
                // Deleted since the key was checked: no policy grants anything.
                None => (Ok(Vec::new()), Vec::new(), id.clone()),
            },
            PrincipalKind::AssumedRole {
                role_name,
                role_id,
                session_name,
            } => {
                let user_id = format!("{role_id}:{session_name}");
                match self.role(role_name) {
                    Some(r) => (self.role_policies(&r.name), r.tags.clone(), user_id),
                    None => (Ok(Vec::new()), Vec::new(), user_id),
                }
            }
        };
        let held = held.map_err(|e| {
            tracing::error!("iam: policies of {}: {e}", principal.arn);
            ApiError::server("The policies of the caller could not be read.")
        })?;
        Ok(PrincipalPolicies {
            policies: held.iter().filter_map(|h| self.parse_held(h)).collect(),
            tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
            user_id,
        })
    }

    fn resource_tags(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
        let pairs = |tags: &[super::Tag]| {
            tags.iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect::<Vec<_>>()
        };
        if let Some(resource) = arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, resource)| resource)
        {
            let name = resource.rsplit('/').next().unwrap_or_default();
            return Ok(if resource.starts_with("user/") {
                self.user(name).map(|u| pairs(&u.tags)).unwrap_or_default()
            } else if resource.starts_with("role/") {
                self.role(name).map(|r| pairs(&r.tags)).unwrap_or_default()
            } else if resource.starts_with("policy/") {
                self.policy(arn).map(|p| pairs(&p.tags)).unwrap_or_default()
            } else {
                Vec::new()
            });
        }
        self.state.tags(arn).map_err(|e| {
            tracing::error!("iam: tags of {arn}: {e}");
            ApiError::server("The tags of the resource could not be read.")
        })
    }
}

impl IamStore {
    /// The identity policies of the role named `name` (inline, then attached managed ones
    /// at their default version), parsed, each with the name decisions report it by; one
    /// that no longer parses is left out (and logged). `NoSuchEntity` without the role.
    pub fn role_identity_policies(
        &self,
        name: &str,
    ) -> super::IamResult<Vec<(String, std::sync::Arc<crate::iam::policy::PolicyDocument>)>> {
        Ok(self
            .role_policies(name)?
            .iter()
            .filter_map(|h| self.parse_held(h))
            .collect())
    }

    /// A held policy, parsed; one that no longer parses (stored before a stricter parser)
    /// grants nothing and is logged.
    fn parse_held(
        &self,
        h: &HeldPolicy,
    ) -> Option<(String, std::sync::Arc<crate::iam::policy::PolicyDocument>)> {
        match self.parsed_identity(&h.document) {
            Ok(d) => Some((h.display_name(), d)),
            Err(e) => {
                tracing::warn!(
                    "iam: stored policy {} does not parse: {e}",
                    h.display_name()
                );
                None
            }
        }
    }
}
