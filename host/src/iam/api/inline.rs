//! Inline policies of users, groups and roles: Put/Get/List/Delete{User,Group,Role}Policy.
//! The three holders differ only in the member naming them (`UserName`, …).

use super::IamService;
use super::shapes::{document_out, page};
use crate::iam::store::Holder;
use crate::protocol::{ApiError, Context};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPolicyNamesOutput {
    policy_names: Vec<String>,
    is_truncated: bool,
    marker: Option<String>,
}

macro_rules! inline_ops {
    (
        $holder:expr, $member:literal, $module:ident,
        $put:ident, $get:ident, $list:ident, $delete:ident
    ) => {
        mod $module {
            use super::*;

            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct PutInput {
                #[serde(rename = $member)]
                pub holder: String,
                pub policy_name: String,
                pub policy_document: String,
            }

            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct NameInput {
                #[serde(rename = $member)]
                pub holder: String,
                pub policy_name: String,
            }

            #[derive(Serialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct GetOutput {
                #[serde(rename = $member)]
                pub holder: String,
                pub policy_name: String,
                pub policy_document: String,
            }

            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct ListInput {
                #[serde(rename = $member)]
                pub holder: String,
                pub marker: Option<String>,
                pub max_items: Option<u32>,
            }
        }

        impl IamService {
            pub(super) async fn $put(
                &self,
                _ctx: &Context,
                input: $module::PutInput,
            ) -> Result<(), ApiError> {
                self.run(move |s| {
                    s.put_inline_policy(
                        $holder,
                        &input.holder,
                        &input.policy_name,
                        &input.policy_document,
                    )
                })
                .await
            }

            pub(super) async fn $get(
                &self,
                _ctx: &Context,
                input: $module::NameInput,
            ) -> Result<$module::GetOutput, ApiError> {
                let (holder, policy_name) = (input.holder.clone(), input.policy_name.clone());
                let (name, document) = self
                    .run(move |s| s.inline_policy($holder, &holder, &policy_name))
                    .await?;
                Ok($module::GetOutput {
                    holder: input.holder,
                    policy_name: name,
                    policy_document: document_out(&document),
                })
            }

            pub(super) async fn $list(
                &self,
                _ctx: &Context,
                input: $module::ListInput,
            ) -> Result<ListPolicyNamesOutput, ApiError> {
                let holder = input.holder;
                let names = self
                    .run(move |s| s.inline_policy_names($holder, &holder))
                    .await?;
                let p = page(names, input.marker.as_deref(), input.max_items)?;
                Ok(ListPolicyNamesOutput {
                    policy_names: p.items,
                    is_truncated: p.is_truncated,
                    marker: p.marker,
                })
            }

            pub(super) async fn $delete(
                &self,
                _ctx: &Context,
                input: $module::NameInput,
            ) -> Result<(), ApiError> {
                self.run(move |s| {
                    s.delete_inline_policy($holder, &input.holder, &input.policy_name)
                })
                .await
            }
        }
    };
}

inline_ops!(
    Holder::User,
    "UserName",
    user,
    put_user_policy,
    get_user_policy,
    list_user_policies,
    delete_user_policy
);
inline_ops!(
    Holder::Group,
    "GroupName",
    group,
    put_group_policy,
    get_group_policy,
    list_group_policies,
    delete_group_policy
);
inline_ops!(
    Holder::Role,
    "RoleName",
    role,
    put_role_policy,
    get_role_policy,
    list_role_policies,
    delete_role_policy
);
