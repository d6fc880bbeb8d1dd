//! DeleteSecret (a recovery window of 7–30 days, or at once) and RestoreSecret.

use serde::{Deserialize, Serialize};

use super::SecretsManagerService;
use super::names::parse_id;
use super::store::{self, busy};
use crate::protocol::{ApiError, Context, Timestamp};
use crate::secrets::{now_ms, timestamp};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretInput {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: Timestamp,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreSecretInput {
    secret_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreSecretOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

impl SecretsManagerService {
    pub(super) async fn delete_secret(
        &self,
        _ctx: &Context,
        input: DeleteSecretInput,
    ) -> Result<DeleteSecretOutput, ApiError> {
        let force = input.force_delete_without_recovery.unwrap_or(false);
        if force && input.recovery_window_in_days.is_some() {
            return Err(ApiError::invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with \
                 RecoveryWindowInDays.",
            ));
        }
        let days = input.recovery_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(ApiError::invalid_parameter(format!(
                "RecoveryWindowInDays is {days}; it must be between 7 and 30 days (inclusive)."
            )));
        }
        let id = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| {
                for _ in 0..crate::secrets::CAS_ATTEMPTS {
                    let (mut secret, rev) = store::get(vault, &id)?;
                    let now = now_ms();
                    if force {
                        if store::remove(vault, &secret.name, rev)? {
                            return Ok(DeleteSecretOutput {
                                arn: secret.arn,
                                name: secret.name,
                                deletion_date: timestamp(now),
                            });
                        }
                        continue;
                    }
                    if secret.is_deleted() {
                        return Err(ApiError::new(
                            "InvalidRequestException",
                            format!(
                                "You can't delete secret {} because it is already scheduled for \
                                 deletion; restore it first, or delete it with \
                                 ForceDeleteWithoutRecovery.",
                                secret.name
                            ),
                        ));
                    }
                    let at = now + days * DAY_MS;
                    secret.deleted_ms = Some(now);
                    secret.deletion_ms = Some(at);
                    if store::save(vault, &secret, crate::state::Expect::Revision(rev))? {
                        return Ok(DeleteSecretOutput {
                            arn: secret.arn,
                            name: secret.name,
                            deletion_date: timestamp(at),
                        });
                    }
                }
                Err(busy())
            })
            .await
    }

    pub(super) async fn restore_secret(
        &self,
        _ctx: &Context,
        input: RestoreSecretInput,
    ) -> Result<RestoreSecretOutput, ApiError> {
        let id = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| {
                store::update(vault, &id, |secret| {
                    secret.deleted_ms = None;
                    secret.deletion_ms = None;
                    Ok(RestoreSecretOutput {
                        arn: secret.arn.clone(),
                        name: secret.name.clone(),
                    })
                })
            })
            .await
    }
}
