//! Customer managed policies and their versions, and attaching them to users, groups and
//! roles.

use super::IamService;
use super::shapes::{AttachedPolicyShape, PolicyShape, TagShape, document_out, page, tags_in, ts};
use crate::iam::store::{
    Holder, ListPoliciesQuery, ManagedPolicy, NewPolicy, PolicyScope, PolicyVersion, validate,
};
use crate::protocol::{ApiError, Context, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyInput {
    policy_name: String,
    path: Option<String>,
    policy_document: String,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<TagShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    policy: PolicyShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyArnInput {
    policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesInput {
    scope: Option<String>,
    #[serde(default)]
    only_attached: bool,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesOutput {
    policies: Vec<PolicyShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionShape {
    document: Option<String>,
    version_id: String,
    is_default_version: bool,
    create_date: Timestamp,
}

impl PolicyVersionShape {
    fn new(p: &ManagedPolicy, v: &PolicyVersion, with_document: bool) -> Self {
        Self {
            document: with_document.then(|| document_out(&v.document)),
            version_id: v.id.clone(),
            is_default_version: p.default_version == v.id,
            create_date: ts(v.created),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionOutput {
    policy_version: PolicyVersionShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInput {
    policy_arn: String,
    version_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyVersionInput {
    policy_arn: String,
    policy_document: String,
    #[serde(default)]
    set_as_default: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsInput {
    policy_arn: String,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyVersionsOutput {
    versions: Vec<PolicyVersionShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedOutput {
    attached_policies: Vec<AttachedPolicyShape>,
    is_truncated: bool,
    marker: Option<String>,
}

impl IamService {
    pub(super) async fn create_policy(
        &self,
        _ctx: &Context,
        input: CreatePolicyInput,
    ) -> Result<PolicyOutput, ApiError> {
        let new = NewPolicy {
            name: input.policy_name,
            path: input.path,
            document: input.policy_document,
            description: input.description,
            tags: tags_in(input.tags),
        };
        let p = self.run(move |s| s.create_policy(new)).await?;
        Ok(PolicyOutput {
            policy: PolicyShape {
                // CreatePolicy answers without the description, as IAM does.
                description: None,
                ..PolicyShape::new(&p, 0)
            },
        })
    }

    pub(super) async fn get_policy(
        &self,
        _ctx: &Context,
        input: PolicyArnInput,
    ) -> Result<PolicyOutput, ApiError> {
        let (p, n) = self
            .run(move |s| {
                let p = s.policy_by_arn(&input.policy_arn)?;
                let n = s.attachment_count(&p.arn);
                Ok((p, n))
            })
            .await?;
        Ok(PolicyOutput {
            policy: PolicyShape::new(&p, n),
        })
    }

    pub(super) async fn delete_policy(
        &self,
        _ctx: &Context,
        input: PolicyArnInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.delete_policy(&input.policy_arn)).await
    }

    pub(super) async fn list_policies(
        &self,
        _ctx: &Context,
        input: ListPoliciesInput,
    ) -> Result<ListPoliciesOutput, ApiError> {
        let scope = match input.scope.as_deref() {
            None | Some("All") => PolicyScope::All,
            Some("AWS") => PolicyScope::Aws,
            Some("Local") => PolicyScope::Local,
            Some(other) => {
                return Err(ApiError::new(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{other}' at 'scope' failed to \
                         satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
                    ),
                ));
            }
        };
        let q = ListPoliciesQuery {
            scope,
            only_attached: input.only_attached,
            path_prefix: input.path_prefix,
        };
        let listed = self
            .run(move |s| {
                let ps = s.list_policies(&q)?;
                Ok(ps
                    .iter()
                    .map(|p| PolicyShape {
                        description: None,
                        tags: None,
                        ..PolicyShape::new(p, s.attachment_count(&p.arn))
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        let p = page(listed, input.marker.as_deref(), input.max_items)?;
        Ok(ListPoliciesOutput {
            policies: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn get_policy_version(
        &self,
        _ctx: &Context,
        input: VersionInput,
    ) -> Result<PolicyVersionOutput, ApiError> {
        let (p, v) = self
            .run(move |s| s.policy_version(&input.policy_arn, &input.version_id))
            .await?;
        Ok(PolicyVersionOutput {
            policy_version: PolicyVersionShape::new(&p, &v, true),
        })
    }

    pub(super) async fn create_policy_version(
        &self,
        _ctx: &Context,
        input: CreatePolicyVersionInput,
    ) -> Result<PolicyVersionOutput, ApiError> {
        let arn = input.policy_arn.clone();
        let v = self
            .run(move |s| {
                s.create_policy_version(
                    &input.policy_arn,
                    &input.policy_document,
                    input.set_as_default,
                )
            })
            .await?;
        let p = self.run(move |s| s.policy_by_arn(&arn)).await?;
        Ok(PolicyVersionOutput {
            policy_version: PolicyVersionShape::new(&p, &v, false),
        })
    }

    pub(super) async fn list_policy_versions(
        &self,
        _ctx: &Context,
        input: ListPolicyVersionsInput,
    ) -> Result<ListPolicyVersionsOutput, ApiError> {
        let arn = input.policy_arn;
        let p = self.run(move |s| s.policy_by_arn(&arn)).await?;
        // Newest first, as IAM lists them.
        let versions = p
            .versions
            .iter()
            .rev()
            .map(|v| PolicyVersionShape::new(&p, v, false))
            .collect();
        let page = page(versions, input.marker.as_deref(), input.max_items)?;
        Ok(ListPolicyVersionsOutput {
            versions: page.items,
            is_truncated: page.is_truncated,
            marker: page.marker,
        })
    }

    pub(super) async fn delete_policy_version(
        &self,
        _ctx: &Context,
        input: VersionInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.delete_policy_version(&input.policy_arn, &input.version_id))
            .await
    }

    pub(super) async fn set_default_policy_version(
        &self,
        _ctx: &Context,
        input: VersionInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.set_default_policy_version(&input.policy_arn, &input.version_id))
            .await
    }

    async fn list_attached(
        &self,
        holder: Holder,
        name: String,
        path_prefix: Option<String>,
        marker: Option<String>,
        max_items: Option<u32>,
    ) -> Result<ListAttachedOutput, ApiError> {
        let attached = self
            .run(move |s| {
                if let Some(p) = &path_prefix {
                    validate::path_prefix("pathPrefix", p)?;
                }
                let arns = s.attached_policies(holder, &name)?;
                Ok(arns
                    .iter()
                    .filter_map(|a| s.policy(a))
                    .filter(|p| {
                        path_prefix
                            .as_deref()
                            .is_none_or(|pre| p.path.starts_with(pre))
                    })
                    .map(|p| AttachedPolicyShape {
                        policy_name: p.name.clone(),
                        policy_arn: p.arn.clone(),
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        let p = page(attached, marker.as_deref(), max_items)?;
        Ok(ListAttachedOutput {
            attached_policies: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }
}

/// Attach/Detach/ListAttached for one kind of holder (`UserName`, `GroupName`, `RoleName`).
macro_rules! attach_ops {
    ($holder:expr, $member:literal, $module:ident, $attach:ident, $detach:ident, $list:ident) => {
        mod $module {
            use super::*;

            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct AttachInput {
                #[serde(rename = $member)]
                pub holder: String,
                pub policy_arn: String,
            }

            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct ListInput {
                #[serde(rename = $member)]
                pub holder: String,
                pub path_prefix: Option<String>,
                pub marker: Option<String>,
                pub max_items: Option<u32>,
            }
        }

        impl IamService {
            pub(super) async fn $attach(
                &self,
                _ctx: &Context,
                input: $module::AttachInput,
            ) -> Result<(), ApiError> {
                self.run(move |s| s.attach_policy($holder, &input.holder, &input.policy_arn))
                    .await
            }

            pub(super) async fn $detach(
                &self,
                _ctx: &Context,
                input: $module::AttachInput,
            ) -> Result<(), ApiError> {
                self.run(move |s| s.detach_policy($holder, &input.holder, &input.policy_arn))
                    .await
            }

            pub(super) async fn $list(
                &self,
                _ctx: &Context,
                input: $module::ListInput,
            ) -> Result<ListAttachedOutput, ApiError> {
                self.list_attached(
                    $holder,
                    input.holder,
                    input.path_prefix,
                    input.marker,
                    input.max_items,
                )
                .await
            }
        }
    };
}

attach_ops!(
    Holder::User,
    "UserName",
    user,
    attach_user_policy,
    detach_user_policy,
    list_attached_user_policies
);
attach_ops!(
    Holder::Group,
    "GroupName",
    group,
    attach_group_policy,
    detach_group_policy,
    list_attached_group_policies
);
attach_ops!(
    Holder::Role,
    "RoleName",
    role,
    attach_role_policy,
    detach_role_policy,
    list_attached_role_policies
);
