//! CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy, TagRole, UntagRole,
//! ListRoleTags.

use super::IamService;
use super::shapes::{ListTagsOutput, RoleShape, TagShape, page, tags_in};
use crate::iam::store::{NewRole, validate};
use crate::protocol::{ApiError, Context};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRoleInput {
    role_name: String,
    path: Option<String>,
    assume_role_policy_document: String,
    description: Option<String>,
    max_session_duration: Option<u32>,
    #[serde(default)]
    tags: Vec<TagShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleOutput {
    role: RoleShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleNameInput {
    role_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesInput {
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesOutput {
    roles: Vec<RoleShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAssumeRolePolicyInput {
    role_name: String,
    policy_document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRoleInput {
    role_name: String,
    tags: Vec<TagShape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagRoleInput {
    role_name: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoleTagsInput {
    role_name: String,
    marker: Option<String>,
    max_items: Option<u32>,
}

impl IamService {
    pub(super) async fn create_role(
        &self,
        _ctx: &Context,
        input: CreateRoleInput,
    ) -> Result<RoleOutput, ApiError> {
        let new = NewRole {
            name: input.role_name,
            path: input.path,
            trust_policy: input.assume_role_policy_document,
            description: input.description,
            max_session_duration: input.max_session_duration,
            tags: tags_in(input.tags),
        };
        let r = self.run(move |s| s.create_role(new)).await?;
        Ok(RoleOutput {
            role: RoleShape::from(&*r),
        })
    }

    pub(super) async fn get_role(
        &self,
        _ctx: &Context,
        input: RoleNameInput,
    ) -> Result<RoleOutput, ApiError> {
        let r = self.run(move |s| s.require_role(&input.role_name)).await?;
        Ok(RoleOutput {
            role: RoleShape::from(&*r),
        })
    }

    pub(super) async fn list_roles(
        &self,
        _ctx: &Context,
        input: ListRolesInput,
    ) -> Result<ListRolesOutput, ApiError> {
        if let Some(p) = &input.path_prefix {
            validate::path_prefix("pathPrefix", p).map_err(super::api_error)?;
        }
        let roles: Vec<RoleShape> = self
            .store
            .roles()
            .iter()
            .filter(|r| {
                input
                    .path_prefix
                    .as_deref()
                    .is_none_or(|p| r.path.starts_with(p))
            })
            .map(|r| RoleShape {
                // ListRoles leaves tags out, as IAM does.
                tags: None,
                ..RoleShape::from(&**r)
            })
            .collect();
        let p = page(roles, input.marker.as_deref(), input.max_items)?;
        Ok(ListRolesOutput {
            roles: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn delete_role(
        &self,
        _ctx: &Context,
        input: RoleNameInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.delete_role(&input.role_name)).await
    }

    pub(super) async fn update_assume_role_policy(
        &self,
        _ctx: &Context,
        input: UpdateAssumeRolePolicyInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.update_trust_policy(&input.role_name, &input.policy_document))
            .await
    }

    pub(super) async fn tag_role(
        &self,
        _ctx: &Context,
        input: TagRoleInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.tag_role(&input.role_name, tags_in(input.tags)))
            .await
    }

    pub(super) async fn untag_role(
        &self,
        _ctx: &Context,
        input: UntagRoleInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.untag_role(&input.role_name, &input.tag_keys))
            .await
    }

    pub(super) async fn list_role_tags(
        &self,
        _ctx: &Context,
        input: ListRoleTagsInput,
    ) -> Result<ListTagsOutput, ApiError> {
        let name = input.role_name;
        let r = self.run(move |s| s.require_role(&name)).await?;
        ListTagsOutput::page(&r.tags, input.marker.as_deref(), input.max_items)
    }
}
