//! CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey. Without `UserName`
//! they act on the calling IAM user.

use super::IamService;
use super::shapes::{caller_user, page, ts};
use crate::iam::store::KeyStatus;
use crate::protocol::{ApiError, Context, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyInput {
    user_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyShape {
    user_name: String,
    access_key_id: String,
    status: &'static str,
    secret_access_key: String,
    create_date: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyOutput {
    access_key: AccessKeyShape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysInput {
    user_name: Option<String>,
    marker: Option<String>,
    max_items: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    user_name: String,
    access_key_id: String,
    status: &'static str,
    create_date: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysOutput {
    access_key_metadata: Vec<AccessKeyMetadata>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccessKeyInput {
    user_name: Option<String>,
    access_key_id: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAccessKeyInput {
    user_name: Option<String>,
    access_key_id: String,
}

impl IamService {
    pub(super) async fn create_access_key(
        &self,
        ctx: &Context,
        input: CreateAccessKeyInput,
    ) -> Result<CreateAccessKeyOutput, ApiError> {
        let user = caller_user(ctx, input.user_name)?;
        let k = self.run(move |s| s.create_access_key(&user)).await?;
        Ok(CreateAccessKeyOutput {
            access_key: AccessKeyShape {
                user_name: k.user_name.clone(),
                access_key_id: k.id.clone(),
                status: k.status.as_str(),
                secret_access_key: k.secret.clone(),
                create_date: ts(k.created),
            },
        })
    }

    pub(super) async fn list_access_keys(
        &self,
        ctx: &Context,
        input: ListAccessKeysInput,
    ) -> Result<ListAccessKeysOutput, ApiError> {
        let user = caller_user(ctx, input.user_name)?;
        let keys = self
            .run(move |s| {
                let u = s.require_user(&user)?;
                Ok(s.keys_of(&u.name))
            })
            .await?;
        let all = keys
            .iter()
            .map(|k| AccessKeyMetadata {
                user_name: k.user_name.clone(),
                access_key_id: k.id.clone(),
                status: k.status.as_str(),
                create_date: ts(k.created),
            })
            .collect();
        let p = page(all, input.marker.as_deref(), input.max_items)?;
        Ok(ListAccessKeysOutput {
            access_key_metadata: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }

    pub(super) async fn update_access_key(
        &self,
        ctx: &Context,
        input: UpdateAccessKeyInput,
    ) -> Result<(), ApiError> {
        let status = match input.status.as_str() {
            "Active" => KeyStatus::Active,
            "Inactive" => KeyStatus::Inactive,
            other => {
                return Err(ApiError::new(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to \
                         satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                    ),
                ));
            }
        };
        let user = caller_user(ctx, input.user_name)?;
        self.run(move |s| s.update_access_key(&user, &input.access_key_id, status))
            .await
    }

    pub(super) async fn delete_access_key(
        &self,
        ctx: &Context,
        input: DeleteAccessKeyInput,
    ) -> Result<(), ApiError> {
        let user = caller_user(ctx, input.user_name)?;
        self.run(move |s| s.delete_access_key(&user, &input.access_key_id))
            .await
    }
}
