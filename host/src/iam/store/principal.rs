//! The identity policies that apply to a principal, for the authoriser and
//! SimulatePrincipalPolicy: a user's inline and attached policies and those of each of its
//! groups; a role's inline and attached policies. Managed policies count with their
//! default version.

use super::model::Holder;
use super::{IamError, IamResult, IamStore};

/// Where a policy that applies to a principal comes from (SimulatePrincipalPolicy's
/// `SourcePolicyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// An inline policy of the user, a group or the role.
    Inline(Holder),
    /// A customer managed policy attached to the principal or one of its groups.
    Managed,
}

impl PolicyOrigin {
    /// SimulatePrincipalPolicy's `SourcePolicyType`: `user`, `group`, `role`, `user-managed`.
    pub fn source_type(self) -> &'static str {
        match self {
            PolicyOrigin::Inline(h) => h.noun(),
            PolicyOrigin::Managed => "user-managed",
        }
    }
}

/// One policy document that applies to a principal.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldPolicy {
    pub origin: PolicyOrigin,
    /// The inline policy's name, or the managed policy's ARN.
    pub id: String,
    /// The user, group or role that holds it (for a managed policy: that it is attached to).
    pub holder_name: String,
    /// The document as stored (a managed policy's default version).
    pub document: String,
}

impl HeldPolicy {
    /// How decisions and log lines name it: the managed policy's ARN, or
    /// `user alice inline policy RunInA`.
    pub fn display_name(&self) -> String {
        match self.origin {
            PolicyOrigin::Managed => self.id.clone(),
            PolicyOrigin::Inline(h) => {
                format!(
                    "{} {} inline policy {}",
                    h.noun(),
                    self.holder_name,
                    self.id
                )
            }
        }
    }
}

impl IamStore {
    /// The user's inline and attached policies, then each group's.
    pub fn user_policies(&self, name: &str) -> IamResult<Vec<HeldPolicy>> {
        let user = self
            .user(name)
            .ok_or_else(|| IamError::no_such("user", name))?;
        let mut out = Vec::new();
        self.collect(
            Holder::User,
            &user.name,
            &user.inline_policies,
            &user.attached_policies,
            &mut out,
        );
        for g in self.groups_of(&user) {
            self.collect(
                Holder::Group,
                &g.name,
                &g.inline_policies,
                &g.attached_policies,
                &mut out,
            );
        }
        Ok(out)
    }

    /// The role's inline and attached policies.
    pub fn role_policies(&self, name: &str) -> IamResult<Vec<HeldPolicy>> {
        let role = self
            .role(name)
            .ok_or_else(|| IamError::no_such("role", name))?;
        let mut out = Vec::new();
        self.collect(
            Holder::Role,
            &role.name,
            &role.inline_policies,
            &role.attached_policies,
            &mut out,
        );
        Ok(out)
    }

    fn collect(
        &self,
        holder: Holder,
        holder_name: &str,
        inline: &std::collections::BTreeMap<String, String>,
        attached: &[String],
        out: &mut Vec<HeldPolicy>,
    ) {
        for (name, doc) in inline {
            out.push(HeldPolicy {
                origin: PolicyOrigin::Inline(holder),
                id: name.clone(),
                holder_name: holder_name.to_owned(),
                document: doc.clone(),
            });
        }
        for arn in attached {
            // A policy deleted meanwhile grants nothing (deletion refuses attached ones).
            if let Some(doc) = self
                .policy(arn)
                .and_then(|p| p.default_document().map(str::to_owned))
            {
                out.push(HeldPolicy {
                    origin: PolicyOrigin::Managed,
                    id: arn.clone(),
                    holder_name: holder_name.to_owned(),
                    document: doc,
                });
            }
        }
    }
}
