//! CreateSecret, PutSecretValue and UpdateSecret: the operations that add versions.

use serde::{Deserialize, Serialize};

use super::names::{self, SecretRef, check_name, parse_id};
use super::store::{self, CURRENT, SecretValue, StoredSecret};
use super::{MAX_VALUE, SecretsManagerService};
use crate::protocol::{ApiError, Blob, Context};
use crate::secrets::{Tag, Vault, check_tags, constraint, now_ms};
use crate::state::Expect;

const MAX_DESCRIPTION: usize = 2048;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretInput {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    tags: Option<Vec<Tag>>,
    add_replica_regions: Option<Vec<serde_json::Value>>,
    force_overwrite_replica_secret: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_stages: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    secret_id: String,
    client_request_token: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
    version_stages: Option<Vec<String>>,
    rotation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSecretInput {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    secret_binary: Option<Blob>,
    secret_string: Option<String>,
}

/// The value a request gives (at most one of SecretString and SecretBinary), checked.
fn value_of(string: Option<String>, binary: Option<Blob>) -> Result<Option<SecretValue>, ApiError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(ApiError::invalid_parameter(
            "You can't specify both a binary secret value (SecretBinary) and a string secret \
             value (SecretString) in the same secret.",
        )),
        (Some(s), None) => {
            check_size("secretString", s.len())?;
            Ok(Some(SecretValue::Text(s)))
        }
        (None, Some(b)) => {
            check_size("secretBinary", b.0.len())?;
            Ok(Some(SecretValue::Binary(b.0)))
        }
        (None, None) => Ok(None),
    }
}

fn check_size(member: &str, len: usize) -> Result<(), ApiError> {
    if len == 0 || len > MAX_VALUE {
        return Err(ApiError::validation(constraint(
            member,
            None,
            &format!("Member must have length between 1 and {MAX_VALUE} (it has {len})"),
        )));
    }
    Ok(())
}

/// ClientRequestToken (32–64 characters) or a fresh UUID: the new version's id.
fn version_id(token: Option<String>) -> Result<String, ApiError> {
    match token {
        Some(t) if (32..=64).contains(&t.chars().count()) => Ok(t),
        Some(t) => Err(ApiError::validation(constraint(
            "clientRequestToken",
            Some(&t),
            "Member must have length between 32 and 64",
        ))),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

fn check_description(d: Option<&String>) -> Result<(), ApiError> {
    if let Some(d) = d
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(ApiError::validation(constraint(
            "description",
            Some(d),
            &format!("Member must have length less than or equal to {MAX_DESCRIPTION}"),
        )));
    }
    Ok(())
}

/// Adds `value` as version `id` with `stages`; a retry with the same token and value is
/// answered as the first time, a different value under that token is refused.
fn add_or_repeat(
    vault: &Vault,
    secret: &mut StoredSecret,
    id: &str,
    value: &SecretValue,
    stages: &[String],
) -> Result<(), ApiError> {
    if let Some(existing) = secret.version(id) {
        if secret.open(vault, existing)? == *value {
            return Ok(());
        }
        return Err(ApiError::new(
            "ResourceExistsException",
            format!(
                "A version with VersionId {id} already exists and its value differs from this \
                 request's; use a new ClientRequestToken."
            ),
        ));
    }
    secret.add_version(vault, id, value, stages)
}

impl SecretsManagerService {
    pub(super) async fn create_secret(
        &self,
        _ctx: &Context,
        input: CreateSecretInput,
    ) -> Result<WriteOutput, ApiError> {
        check_name("Name", &input.name)?;
        check_description(input.description.as_ref())?;
        if let Some(tags) = &input.tags {
            check_tags("Tags", tags)?;
        }
        if input.add_replica_regions.is_some() || input.force_overwrite_replica_secret.is_some() {
            return Err(ApiError::invalid_parameter(
                "AddReplicaRegions: replication to other regions is not supported by this host.",
            ));
        }
        let value = value_of(input.secret_string, input.secret_binary)?;
        let id = version_id(input.client_request_token)?;
        self.vault
            .blocking(move |vault| {
                let now = now_ms();
                let mut secret = StoredSecret {
                    name: input.name.clone(),
                    arn: names::new_arn(vault, &input.name),
                    description: input.description.clone(),
                    kms_key_id: input.kms_key_id.clone(),
                    tags: input.tags.clone().unwrap_or_default(),
                    created_ms: now,
                    changed_ms: now,
                    deleted_ms: None,
                    deletion_ms: None,
                    versions: Vec::new(),
                };
                if let Some(v) = &value {
                    secret.add_version(vault, &id, v, &[CURRENT.to_owned()])?;
                }
                if !store::save(vault, &secret, Expect::Absent)? {
                    return Err(match store::load(vault, &input.name)? {
                        Some((s, _)) if s.is_deleted() => ApiError::new(
                            "InvalidRequestException",
                            format!(
                                "You can't create this secret because a secret with the name \
                                 {} is already scheduled for deletion.",
                                input.name
                            ),
                        ),
                        _ => ApiError::new(
                            "ResourceExistsException",
                            format!(
                                "The operation failed because the secret {} already exists.",
                                input.name
                            ),
                        ),
                    });
                }
                Ok(WriteOutput {
                    arn: secret.arn,
                    name: secret.name,
                    version_id: value.map(|_| id),
                    version_stages: None,
                })
            })
            .await
    }

    pub(super) async fn put_secret_value(
        &self,
        _ctx: &Context,
        input: PutSecretValueInput,
    ) -> Result<WriteOutput, ApiError> {
        let Some(value) = value_of(input.secret_string, input.secret_binary)? else {
            return Err(ApiError::invalid_parameter(
                "You must provide either SecretString or SecretBinary.",
            ));
        };
        let id = version_id(input.client_request_token)?;
        let stages = input
            .version_stages
            .unwrap_or_else(|| vec![CURRENT.to_owned()]);
        check_stages(&stages)?;
        if let Some(t) = &input.rotation_token
            && !(36..=256).contains(&t.len())
        {
            return Err(ApiError::validation(constraint(
                "rotationToken",
                None,
                "Member must have length between 36 and 256",
            )));
        }
        let secret_ref = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| {
                store::update(vault, &secret_ref, |secret| {
                    secret.check_not_deleted()?;
                    add_or_repeat(vault, secret, &id, &value, &stages)?;
                    let stages = secret.version(&id).map(|v| v.stages.clone());
                    Ok(WriteOutput {
                        arn: secret.arn.clone(),
                        name: secret.name.clone(),
                        version_id: Some(id.clone()),
                        version_stages: stages,
                    })
                })
            })
            .await
    }

    pub(super) async fn update_secret(
        &self,
        _ctx: &Context,
        input: UpdateSecretInput,
    ) -> Result<WriteOutput, ApiError> {
        check_description(input.description.as_ref())?;
        let value = value_of(input.secret_string, input.secret_binary)?;
        let id = version_id(input.client_request_token)?;
        let secret_ref: SecretRef = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| {
                store::update(vault, &secret_ref, |secret| {
                    secret.check_not_deleted()?;
                    if let Some(d) = &input.description {
                        secret.description = Some(d.clone());
                    }
                    if let Some(k) = &input.kms_key_id {
                        secret.kms_key_id = Some(k.clone());
                    }
                    secret.changed_ms = now_ms();
                    if let Some(v) = &value {
                        add_or_repeat(vault, secret, &id, v, &[CURRENT.to_owned()])?;
                    }
                    Ok(WriteOutput {
                        arn: secret.arn.clone(),
                        name: secret.name.clone(),
                        version_id: value.as_ref().map(|_| id.clone()),
                        version_stages: None,
                    })
                })
            })
            .await
    }
}

/// VersionStages: 1–20 labels of 1–256 characters.
fn check_stages(stages: &[String]) -> Result<(), ApiError> {
    if stages.is_empty() || stages.len() > 20 {
        return Err(ApiError::validation(constraint(
            "versionStages",
            None,
            "Member must have length between 1 and 20",
        )));
    }
    if let Some(bad) = stages
        .iter()
        .find(|s| s.is_empty() || s.chars().count() > 256)
    {
        return Err(ApiError::validation(constraint(
            "versionStages",
            Some(bad),
            "Member must have length between 1 and 256",
        )));
    }
    Ok(())
}
