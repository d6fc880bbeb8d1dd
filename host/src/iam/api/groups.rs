//! CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup, RemoveUserFromGroup,
//! ListGroupsForUser.

use super::IamService;
use super::shapes::{GroupShape, UserShape, page};
use crate::iam::store::validate;
use crate::protocol::{ApiError, Context};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupInput {
    group_name: String,
    path: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupOutput {
    group: GroupShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupInput {
    group_name: String,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupOutput {
    group: GroupShape,
    users: Vec<UserShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsInput {
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsOutput {
    groups: Vec<GroupShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupNameInput {
    group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MembershipInput {
    group_name: String,
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsForUserInput {
    user_name: String,
    marker: Option<String>,
    max_items: Option<u32>,
}

impl IamService {
    pub(super) async fn create_group(
        &self,
        _ctx: &Context,
        input: CreateGroupInput,
    ) -> Result<CreateGroupOutput, ApiError> {
        let g = self
            .run(move |s| s.create_group(&input.group_name, input.path.as_deref()))
            .await?;
        Ok(CreateGroupOutput {
            group: GroupShape::from(&*g),
        })
    }

    pub(super) async fn get_group(
        &self,
        _ctx: &Context,
        input: GetGroupInput,
    ) -> Result<GetGroupOutput, ApiError> {
        let name = input.group_name;
        let (g, members) = self
            .run(move |s| {
                let g = s.require_group(&name)?;
                let members = s.members_of(&g.name);
                Ok((g, members))
            })
            .await?;
        let users = members.iter().map(|u| UserShape::listed(u)).collect();
        let p = page(users, input.marker.as_deref(), input.max_items)?;
        Ok(GetGroupOutput {
            group: GroupShape::from(&*g),
            users: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn list_groups(
        &self,
        _ctx: &Context,
        input: ListGroupsInput,
    ) -> Result<ListGroupsOutput, ApiError> {
        if let Some(p) = &input.path_prefix {
            validate::path_prefix("pathPrefix", p).map_err(super::api_error)?;
        }
        let groups: Vec<GroupShape> = self
            .store
            .groups()
            .iter()
            .filter(|g| {
                input
                    .path_prefix
                    .as_deref()
                    .is_none_or(|p| g.path.starts_with(p))
            })
            .map(|g| GroupShape::from(&**g))
            .collect();
        let p = page(groups, input.marker.as_deref(), input.max_items)?;
        Ok(ListGroupsOutput {
            groups: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn delete_group(
        &self,
        _ctx: &Context,
        input: GroupNameInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.delete_group(&input.group_name)).await
    }

    pub(super) async fn add_user_to_group(
        &self,
        _ctx: &Context,
        input: MembershipInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.add_user_to_group(&input.group_name, &input.user_name))
            .await
    }

    pub(super) async fn remove_user_from_group(
        &self,
        _ctx: &Context,
        input: MembershipInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.remove_user_from_group(&input.group_name, &input.user_name))
            .await
    }

    pub(super) async fn list_groups_for_user(
        &self,
        _ctx: &Context,
        input: ListGroupsForUserInput,
    ) -> Result<ListGroupsOutput, ApiError> {
        let name = input.user_name;
        let groups = self
            .run(move |s| {
                let u = s.require_user(&name)?;
                Ok(s.groups_of(&u))
            })
            .await?;
        let groups = groups.iter().map(|g| GroupShape::from(&**g)).collect();
        let p = page(groups, input.marker.as_deref(), input.max_items)?;
        Ok(ListGroupsOutput {
            groups: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }
}
