//! CreateUser, GetUser, ListUsers, DeleteUser, TagUser, UntagUser, ListUserTags.

use super::IamService;
use super::shapes::{ListTagsOutput, TagShape, UserShape, caller_user, page, tags_in};
use crate::iam::store::validate;
use crate::protocol::{ApiError, Context, PrincipalKind, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserInput {
    user_name: String,
    path: Option<String>,
    #[serde(default)]
    tags: Vec<TagShape>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserOutput {
    user: UserShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserInput {
    user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersInput {
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersOutput {
    users: Vec<UserShape>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserNameInput {
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagUserInput {
    user_name: String,
    tags: Vec<TagShape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagUserInput {
    user_name: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUserTagsInput {
    user_name: String,
    marker: Option<String>,
    max_items: Option<u32>,
}

impl IamService {
    pub(super) async fn create_user(
        &self,
        _ctx: &Context,
        input: CreateUserInput,
    ) -> Result<UserOutput, ApiError> {
        let u = self
            .run(move |s| {
                s.create_user(&input.user_name, input.path.as_deref(), tags_in(input.tags))
            })
            .await?;
        Ok(UserOutput {
            user: UserShape::full(&u),
        })
    }

    /// The named user, or without a name the caller: an IAM user, or the account root.
    pub(super) async fn get_user(
        &self,
        ctx: &Context,
        input: GetUserInput,
    ) -> Result<UserOutput, ApiError> {
        if input.user_name.is_none() && ctx.principal.kind == PrincipalKind::Root {
            let account = self.store.account_id();
            return Ok(UserOutput {
                user: UserShape {
                    path: None,
                    user_name: None,
                    user_id: account.to_owned(),
                    arn: format!("arn:aws:iam::{account}:root"),
                    create_date: Timestamp::now(),
                    tags: None,
                },
            });
        }
        let name = caller_user(ctx, input.user_name)?;
        let u = self.run(move |s| s.require_user(&name)).await?;
        Ok(UserOutput {
            user: UserShape::full(&u),
        })
    }

    pub(super) async fn list_users(
        &self,
        _ctx: &Context,
        input: ListUsersInput,
    ) -> Result<ListUsersOutput, ApiError> {
        if let Some(p) = &input.path_prefix {
            validate::path_prefix("pathPrefix", p).map_err(super::api_error)?;
        }
        let users: Vec<UserShape> = self
            .store
            .users()
            .iter()
            .filter(|u| {
                input
                    .path_prefix
                    .as_deref()
                    .is_none_or(|p| u.path.starts_with(p))
            })
            .map(|u| UserShape::listed(u))
            .collect();
        let p = page(users, input.marker.as_deref(), input.max_items)?;
        Ok(ListUsersOutput {
            users: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn delete_user(
        &self,
        _ctx: &Context,
        input: UserNameInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.delete_user(&input.user_name)).await
    }

    pub(super) async fn tag_user(
        &self,
        _ctx: &Context,
        input: TagUserInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.tag_user(&input.user_name, tags_in(input.tags)))
            .await
    }

    pub(super) async fn untag_user(
        &self,
        _ctx: &Context,
        input: UntagUserInput,
    ) -> Result<(), ApiError> {
        self.run(move |s| s.untag_user(&input.user_name, &input.tag_keys))
            .await
    }

    pub(super) async fn list_user_tags(
        &self,
        _ctx: &Context,
        input: ListUserTagsInput,
    ) -> Result<ListTagsOutput, ApiError> {
        let name = input.user_name;
        let u = self.run(move |s| s.require_user(&name)).await?;
        ListTagsOutput::page(&u.tags, input.marker.as_deref(), input.max_items)
    }
}
