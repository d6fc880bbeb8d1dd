//! The IAM query API (`Action=…&Version=2010-05-08`, signing name `iam`) over
//! [`IamStore`]: one file per resource, each a set of thin handlers that decode, call the
//! store (which keeps the invariants) on the blocking pool, and shape the answer as
//! botocore's model reads it.
//!
//! Policy documents are answered URL-encoded, as IAM does (botocore decodes them).

mod access_keys;
mod groups;
mod inline;
mod policies;
mod roles;
mod shapes;
mod simulate;
mod users;

use super::store::{IamError, IamStore};
use crate::op;
use crate::protocol::{self, ApiError, Operation, Protocol};
use std::sync::Arc;

/// SigV4 signing name and IAM action prefix.
pub const SIGNING_NAME: &str = "iam";
pub const VERSION: &str = "2010-05-08";
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The IAM API.
#[derive(Debug, Clone)]
pub struct IamService {
    store: Arc<IamStore>,
}

impl IamService {
    pub fn new(store: Arc<IamStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<IamStore> {
        &self.store
    }

    /// Runs a store call on the blocking pool (writes wait on the state store's disk).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&IamStore) -> Result<T, IamError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(api_error),
            Err(e) => {
                tracing::error!("iam: store call failed: {e}");
                Err(service_failure())
            }
        }
    }
}

impl protocol::Service for IamService {
    fn name(&self) -> &'static str {
        "iam"
    }

    fn signing_name(&self) -> &'static str {
        SIGNING_NAME
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::AwsQuery {
            version: VERSION,
            xmlns: XMLNS,
        }]
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("CreateUser", Self::create_user),
            op!("GetUser", Self::get_user),
            op!("ListUsers", Self::list_users),
            op!("DeleteUser", Self::delete_user),
            op!("TagUser", Self::tag_user),
            op!("UntagUser", Self::untag_user),
            op!("ListUserTags", Self::list_user_tags),
            op!("CreateAccessKey", Self::create_access_key),
            op!("ListAccessKeys", Self::list_access_keys),
            op!("UpdateAccessKey", Self::update_access_key),
            op!("DeleteAccessKey", Self::delete_access_key),
            op!("PutUserPolicy", Self::put_user_policy),
            op!("GetUserPolicy", Self::get_user_policy),
            op!("ListUserPolicies", Self::list_user_policies),
            op!("DeleteUserPolicy", Self::delete_user_policy),
            op!("PutGroupPolicy", Self::put_group_policy),
            op!("GetGroupPolicy", Self::get_group_policy),
            op!("ListGroupPolicies", Self::list_group_policies),
            op!("DeleteGroupPolicy", Self::delete_group_policy),
            op!("PutRolePolicy", Self::put_role_policy),
            op!("GetRolePolicy", Self::get_role_policy),
            op!("ListRolePolicies", Self::list_role_policies),
            op!("DeleteRolePolicy", Self::delete_role_policy),
            op!("CreateGroup", Self::create_group),
            op!("GetGroup", Self::get_group),
            op!("ListGroups", Self::list_groups),
            op!("DeleteGroup", Self::delete_group),
            op!("AddUserToGroup", Self::add_user_to_group),
            op!("RemoveUserFromGroup", Self::remove_user_from_group),
            op!("ListGroupsForUser", Self::list_groups_for_user),
            op!("CreateRole", Self::create_role),
            op!("GetRole", Self::get_role),
            op!("ListRoles", Self::list_roles),
            op!("DeleteRole", Self::delete_role),
            op!("UpdateAssumeRolePolicy", Self::update_assume_role_policy),
            op!("TagRole", Self::tag_role),
            op!("UntagRole", Self::untag_role),
            op!("ListRoleTags", Self::list_role_tags),
            op!("CreatePolicy", Self::create_policy),
            op!("GetPolicy", Self::get_policy),
            op!("DeletePolicy", Self::delete_policy),
            op!("ListPolicies", Self::list_policies),
            op!("GetPolicyVersion", Self::get_policy_version),
            op!("CreatePolicyVersion", Self::create_policy_version),
            op!("ListPolicyVersions", Self::list_policy_versions),
            op!("DeletePolicyVersion", Self::delete_policy_version),
            op!("SetDefaultPolicyVersion", Self::set_default_policy_version),
            op!("AttachUserPolicy", Self::attach_user_policy),
            op!("DetachUserPolicy", Self::detach_user_policy),
            op!(
                "ListAttachedUserPolicies",
                Self::list_attached_user_policies
            ),
            op!("AttachGroupPolicy", Self::attach_group_policy),
            op!("DetachGroupPolicy", Self::detach_group_policy),
            op!(
                "ListAttachedGroupPolicies",
                Self::list_attached_group_policies
            ),
            op!("AttachRolePolicy", Self::attach_role_policy),
            op!("DetachRolePolicy", Self::detach_role_policy),
            op!(
                "ListAttachedRolePolicies",
                Self::list_attached_role_policies
            ),
            op!("SimulatePrincipalPolicy", Self::simulate_principal_policy),
        ]
    }

    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("ValidationError", message)
    }

    fn access_denied(&self, message: String) -> ApiError {
        ApiError::with_status("AccessDenied", message, 403)
    }
}

/// The one place store errors become IAM's wire errors.
fn api_error(e: IamError) -> ApiError {
    match e {
        IamError::NoSuchEntity(m) => ApiError::with_status("NoSuchEntity", m, 404),
        IamError::EntityAlreadyExists(m) => ApiError::with_status("EntityAlreadyExists", m, 409),
        IamError::DeleteConflict(m) => ApiError::with_status("DeleteConflict", m, 409),
        IamError::LimitExceeded(m) => ApiError::with_status("LimitExceeded", m, 409),
        IamError::MalformedPolicyDocument(m) => ApiError::new("MalformedPolicyDocument", m),
        IamError::Validation(m) => ApiError::new("ValidationError", m),
        IamError::InvalidInput(m) => ApiError::new("InvalidInput", m),
        IamError::ConcurrentModification(m) => {
            ApiError::with_status("ConcurrentModification", m, 409)
        }
        e @ (IamError::State(_) | IamError::Corrupt(_)) => {
            tracing::error!("iam: {e}");
            service_failure()
        }
    }
}

fn service_failure() -> ApiError {
    ApiError::with_status(
        "ServiceFailure",
        "The request processing has failed because of an unknown error.",
        500,
    )
}
