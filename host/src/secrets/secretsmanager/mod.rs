//! Secrets Manager (`secretsmanager.*`, awsJson1_1, signing name `secretsmanager`).
//!
//! One file per area: [`names`] (names, ARNs, `SecretId`), [`store`] (documents, versions,
//! staging labels, sealing), `write` (CreateSecret, PutSecretValue, UpdateSecret), `read`
//! (GetSecretValue, DescribeSecret, ListSecrets), `delete` (DeleteSecret, RestoreSecret).

mod delete;
pub mod names;
mod read;
pub mod store;
mod write;

#[cfg(test)]
mod tests;

use crate::op;
use crate::protocol::{ApiError, Operation, Protocol, Service};
use crate::secrets::Vault;
use crate::state::StateError;

/// `X-Amz-Target` prefix of the Secrets Manager API.
pub const TARGET_PREFIX: &str = "secretsmanager";
/// Largest SecretString or SecretBinary.
pub const MAX_VALUE: usize = 65_536;

/// Secrets Manager over the shared [`Vault`].
#[derive(Debug, Clone)]
pub struct SecretsManagerService {
    vault: Vault,
}

impl SecretsManagerService {
    pub fn new(vault: Vault) -> Self {
        Self { vault }
    }
}

impl Service for SecretsManagerService {
    fn name(&self) -> &'static str {
        "secretsmanager"
    }

    fn signing_name(&self) -> &'static str {
        "secretsmanager"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::AwsJson1_1 {
            target_prefix: TARGET_PREFIX,
        }]
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("CreateSecret", Self::create_secret),
            op!("GetSecretValue", Self::get_secret_value),
            op!("PutSecretValue", Self::put_secret_value),
            op!("UpdateSecret", Self::update_secret),
            op!("DescribeSecret", Self::describe_secret),
            op!("ListSecrets", Self::list_secrets),
            op!("DeleteSecret", Self::delete_secret),
            op!("RestoreSecret", Self::restore_secret),
        ]
    }

    fn action_prefix(&self) -> &'static str {
        "secretsmanager"
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )
}

fn store_error(e: StateError) -> ApiError {
    tracing::error!("secretsmanager: state store: {e}");
    ApiError::with_status(
        "InternalServiceError",
        "The secrets store is unavailable; try again.",
        500,
    )
}
