//! A secret as stored: one `secretsmanager.secret` document per name, with its versions.
//! Every version's value is sealed with the host key, bound to the secret's ARN and the
//! version id (a secret deleted and created again under the same name has a new ARN).

use serde::{Deserialize, Serialize};

use super::names::{self, SecretRef};
use super::{not_found, store_error};
use crate::protocol::ApiError;
use crate::secrets::{CAS_ATTEMPTS, Tag, Vault, now_ms};
use crate::state::Expect;

pub const KIND: &str = "secretsmanager.secret";
pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// Versions kept: those with a staging label always, the newest of the rest up to this.
pub const MAX_VERSIONS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSecret {
    pub name: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub created_ms: i64,
    pub changed_ms: i64,
    /// When DeleteSecret was called; the secret refuses its value until restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_ms: Option<i64>,
    /// When the scheduled deletion happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_ms: Option<i64>,
    /// Oldest first.
    #[serde(default)]
    pub versions: Vec<StoredSecretVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSecretVersion {
    pub id: String,
    pub created_ms: i64,
    pub stages: Vec<String>,
    /// The value, sealed ([`crate::secrets::HostKey::seal`]).
    pub sealed: String,
    /// SecretBinary rather than SecretString.
    pub binary: bool,
}

/// A secret's value in the clear.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    Text(String),
    Binary(Vec<u8>),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value itself: it may end up in a log line.
        match self {
            SecretValue::Text(t) => write!(f, "Text({} bytes)", t.len()),
            SecretValue::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

fn seal_context(arn: &str, version_id: &str) -> String {
    format!("{KIND}\0{arn}\0{version_id}")
}

fn corrupt(name: &str) -> ApiError {
    tracing::error!("secretsmanager: the stored secret {name} is damaged");
    ApiError::with_status(
        "InternalServiceError",
        format!("The stored secret {name} is damaged."),
        500,
    )
}

impl StoredSecret {
    pub fn is_deleted(&self) -> bool {
        self.deleted_ms.is_some()
    }

    /// InvalidRequestException when the secret is scheduled for deletion.
    pub fn check_not_deleted(&self) -> Result<(), ApiError> {
        if self.is_deleted() {
            return Err(ApiError::new(
                "InvalidRequestException",
                format!(
                    "You can't perform this operation on the secret {} because it was marked \
                     for deletion.",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    pub fn version(&self, id: &str) -> Option<&StoredSecretVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    pub fn staged(&self, stage: &str) -> Option<&StoredSecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version `VersionId`/`VersionStage` pick (AWSCURRENT when neither is given).
    pub fn select(
        &self,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<&StoredSecretVersion, ApiError> {
        let found = match (version_id, stage) {
            (Some(id), stage) => self
                .version(id)
                .filter(|v| stage.is_none_or(|s| v.stages.iter().any(|x| x == s))),
            (None, stage) => self.staged(stage.unwrap_or(CURRENT)),
        };
        found.ok_or_else(|| {
            let what = match (version_id, stage) {
                (Some(id), Some(s)) => format!("version {id} with staging label {s}"),
                (Some(id), None) => format!("version {id}"),
                (None, s) => format!("value for staging label: {}", s.unwrap_or(CURRENT)),
            };
            ApiError::new(
                "ResourceNotFoundException",
                format!(
                    "Secrets Manager can't find the specified secret {what} of secret {}.",
                    self.name
                ),
            )
        })
    }

    /// The value of `version`, opened with the host key.
    pub fn open(
        &self,
        vault: &Vault,
        version: &StoredSecretVersion,
    ) -> Result<SecretValue, ApiError> {
        let bytes = vault
            .key
            .open(&version.sealed, &seal_context(&self.arn, &version.id))
            .map_err(|e| {
                tracing::error!(
                    "secretsmanager: secret {} version {}: {e}",
                    self.name,
                    version.id
                );
                ApiError::new(
                    "DecryptionFailure",
                    format!(
                        "Secrets Manager can't decrypt the value of secret {} with this host's \
                         key.",
                        self.name
                    ),
                )
            })?;
        if version.binary {
            Ok(SecretValue::Binary(bytes))
        } else {
            String::from_utf8(bytes)
                .map(SecretValue::Text)
                .map_err(|_| corrupt(&self.name))
        }
    }

    /// Adds a version with `stages` (moving each stage off the version that had it;
    /// AWSCURRENT's previous holder becomes AWSPREVIOUS), then drops the oldest versions
    /// that have no stage beyond [`MAX_VERSIONS`].
    pub fn add_version(
        &mut self,
        vault: &Vault,
        id: &str,
        value: &SecretValue,
        stages: &[String],
    ) -> Result<(), ApiError> {
        let (bytes, binary) = match value {
            SecretValue::Text(t) => (t.as_bytes(), false),
            SecretValue::Binary(b) => (b.as_slice(), true),
        };
        let sealed = vault
            .key
            .seal(bytes, &seal_context(&self.arn, id))
            .map_err(|e| {
                tracing::error!("secretsmanager: {e}");
                ApiError::new(
                    "EncryptionFailure",
                    "The secret value could not be encrypted.",
                )
            })?;
        let now = now_ms();
        self.versions.push(StoredSecretVersion {
            id: id.to_owned(),
            created_ms: now,
            stages: Vec::new(),
            sealed,
            binary,
        });
        self.move_stages(id, stages);
        self.changed_ms = now;
        Ok(())
    }

    /// Gives `stages` to version `id`, taking each from where it was.
    pub fn move_stages(&mut self, id: &str, stages: &[String]) {
        let had_current = self
            .staged(CURRENT)
            .map(|v| v.id.clone())
            .filter(|old| old != id);
        let moving_current = stages.iter().any(|s| s == CURRENT);
        for v in &mut self.versions {
            if v.id != id {
                v.stages.retain(|s| !stages.contains(s));
            }
        }
        if let (true, Some(old)) = (moving_current, had_current) {
            for v in &mut self.versions {
                v.stages.retain(|s| s != PREVIOUS);
                if v.id == old {
                    v.stages.push(PREVIOUS.to_owned());
                }
            }
        }
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == id) {
            for s in stages {
                if !v.stages.contains(s) {
                    v.stages.push(s.clone());
                }
            }
        }
        let mut unstaged = self.versions.iter().filter(|v| v.stages.is_empty()).count();
        let mut over = self.versions.len().saturating_sub(MAX_VERSIONS);
        self.versions.retain(|v| {
            if over > 0 && unstaged > 0 && v.stages.is_empty() {
                over -= 1;
                unstaged -= 1;
                return false;
            }
            true
        });
    }
}

/// The secret named `name` with its revision; a secret whose deletion date has passed is
/// deleted now and reads as absent.
pub fn load(vault: &Vault, name: &str) -> Result<Option<(StoredSecret, u64)>, ApiError> {
    let Some(doc) = vault.state.get_document(KIND, name).map_err(store_error)? else {
        return Ok(None);
    };
    let secret: StoredSecret = serde_json::from_value(doc.value).map_err(|_| corrupt(name))?;
    if secret.deletion_ms.is_some_and(|at| at <= now_ms()) {
        vault
            .state
            .delete_document(KIND, name, Expect::Revision(doc.revision))
            .map_err(store_error)?;
        return Ok(None);
    }
    Ok(Some((secret, doc.revision)))
}

/// The secret a `SecretId` names, with its revision.
pub fn find(vault: &Vault, id: &SecretRef) -> Result<Option<(StoredSecret, u64)>, ApiError> {
    match id {
        SecretRef::Name(name) => load(vault, name),
        SecretRef::Elsewhere => Ok(None),
        SecretRef::Arn { arn, name } => {
            // A full ARN: the name without the suffix, if that secret's ARN is this one.
            if let Some(base) = names::without_suffix(name)
                && let Some(found) = load(vault, base)?
                && found.0.arn == *arn
            {
                return Ok(Some(found));
            }
            // A partial ARN: the resource is the name.
            load(vault, name)
        }
    }
}

/// Like [`find`], ResourceNotFoundException when there is no such secret.
pub fn get(vault: &Vault, id: &SecretRef) -> Result<(StoredSecret, u64), ApiError> {
    find(vault, id)?.ok_or_else(not_found)
}

/// Every secret (deleted ones too), sorted by name.
pub fn list(vault: &Vault) -> Result<Vec<StoredSecret>, ApiError> {
    let docs = vault.state.list_documents(KIND, "").map_err(store_error)?;
    let now = now_ms();
    docs.into_iter()
        .map(|d| serde_json::from_value::<StoredSecret>(d.value).map_err(|_| corrupt(&d.key)))
        .filter(|s| !matches!(s, Ok(s) if s.deletion_ms.is_some_and(|at| at <= now)))
        .collect()
}

/// Writes `secret` if its document is still at `expect`; false when another writer got in
/// between (the caller reads again).
pub fn save(vault: &Vault, secret: &StoredSecret, expect: Expect) -> Result<bool, ApiError> {
    let value = serde_json::to_value(secret).map_err(|e| {
        tracing::error!(
            "secretsmanager: secret {} cannot be encoded: {e}",
            secret.name
        );
        ApiError::with_status(
            "InternalServiceError",
            "The secret could not be stored.",
            500,
        )
    })?;
    Ok(vault
        .state
        .put_document(KIND, &secret.name, &value, expect)
        .map_err(store_error)?
        .is_some())
}

/// Read-modify-write of the secret `id` names: `change` edits it and returns the answer.
pub fn update<T>(
    vault: &Vault,
    id: &SecretRef,
    mut change: impl FnMut(&mut StoredSecret) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..CAS_ATTEMPTS {
        let (mut secret, rev) = get(vault, id)?;
        let out = change(&mut secret)?;
        if save(vault, &secret, Expect::Revision(rev))? {
            return Ok(out);
        }
    }
    Err(busy())
}

pub fn busy() -> ApiError {
    ApiError::with_status(
        "InternalServiceError",
        "There are concurrent updates to this secret; try again.",
        500,
    )
}

pub fn remove(vault: &Vault, name: &str, rev: u64) -> Result<bool, ApiError> {
    vault
        .state
        .delete_document(KIND, name, Expect::Revision(rev))
        .map_err(store_error)
}
