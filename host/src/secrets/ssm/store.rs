//! A parameter as stored: one `ssm.parameter` document per name, holding every version
//! (oldest first). SecureString values are sealed with the host key, bound to the name and
//! version; String and StringList values are kept as given.

use serde::{Deserialize, Serialize};

use super::names::{self, Reference, Selector};
use super::{not_found, store_error, version_not_found};
use crate::protocol::{ApiError, Timestamp};
use crate::secrets::{CAS_ATTEMPTS, Tag, Vault, timestamp};
use crate::state::Expect;

pub const KIND: &str = "ssm.parameter";
/// Versions kept per parameter (as AWS): the oldest goes when a 101st is written.
pub const MAX_VERSIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "String",
            ParameterType::StringList => "StringList",
            ParameterType::SecureString => "SecureString",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredParameter {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Oldest first; never empty.
    pub versions: Vec<StoredVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredVersion {
    pub version: i64,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// The value of a String or StringList parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A SecureString's value, sealed ([`crate::secrets::HostKey::seal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    pub tier: String,
    pub data_type: String,
    pub modified_ms: i64,
    pub user: String,
}

/// The `Parameter` of GetParameter(s) and GetParametersByPath.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub value: String,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    pub last_modified_date: Timestamp,
    #[serde(rename = "ARN")]
    pub arn: String,
    pub data_type: String,
}

/// What a version's value is bound to when sealed.
pub fn seal_context(name: &str, version: i64) -> String {
    format!("{KIND}\0{name}\0{version}")
}

impl StoredParameter {
    pub fn current(&self) -> Result<&StoredVersion, ApiError> {
        self.versions.last().ok_or_else(|| corrupt(&self.name))
    }

    /// The version a selector names (the current one without).
    pub fn select(&self, selector: Option<&Selector>) -> Result<&StoredVersion, ApiError> {
        match selector {
            None => self.current(),
            Some(Selector::Version(v)) => self
                .versions
                .iter()
                .find(|s| s.version == *v)
                .ok_or_else(|| version_not_found(&self.name, &v.to_string())),
            Some(Selector::Label(l)) => Err(version_not_found(&self.name, l)),
        }
    }

    /// The wire `Parameter` for `version`.
    pub fn parameter(
        &self,
        vault: &Vault,
        version: &StoredVersion,
        decrypt: bool,
        selector: Option<String>,
    ) -> Result<Parameter, ApiError> {
        Ok(Parameter {
            name: self.name.clone(),
            kind: version.kind.as_str(),
            value: version.wire_value(vault, &self.name, decrypt)?,
            version: version.version,
            selector,
            last_modified_date: timestamp(version.modified_ms),
            arn: names::arn(vault, &self.name),
            data_type: version.data_type.clone(),
        })
    }
}

impl StoredVersion {
    /// The value in the clear.
    pub fn clear_value(&self, vault: &Vault, name: &str) -> Result<String, ApiError> {
        match (&self.value, &self.sealed) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(sealed)) => {
                let bytes = vault
                    .key
                    .open(sealed, &seal_context(name, self.version))
                    .map_err(|e| {
                        tracing::error!("ssm: parameter {name} version {}: {e}", self.version);
                        ApiError::with_status(
                            "InternalServerError",
                            format!(
                                "The value of parameter {name} cannot be decrypted with this \
                                 host's key."
                            ),
                            500,
                        )
                    })?;
                String::from_utf8(bytes).map_err(|_| corrupt(name))
            }
            (None, None) => Err(corrupt(name)),
        }
    }

    /// The value as an answer carries it: a SecureString stays ciphertext (opaque base64)
    /// unless `decrypt`, as AWS returns the KMS ciphertext without `WithDecryption`.
    pub fn wire_value(&self, vault: &Vault, name: &str, decrypt: bool) -> Result<String, ApiError> {
        match &self.sealed {
            Some(sealed) if !decrypt => Ok(sealed.clone()),
            _ => self.clear_value(vault, name),
        }
    }
}

fn corrupt(name: &str) -> ApiError {
    tracing::error!("ssm: the stored parameter {name} is damaged");
    ApiError::with_status(
        "InternalServerError",
        format!("The stored parameter {name} is damaged."),
        500,
    )
}

/// The parameter `name` and its document revision.
pub fn load(vault: &Vault, name: &str) -> Result<Option<(StoredParameter, u64)>, ApiError> {
    let Some(doc) = vault.state.get_document(KIND, name).map_err(store_error)? else {
        return Ok(None);
    };
    let stored: StoredParameter = serde_json::from_value(doc.value).map_err(|_| corrupt(name))?;
    Ok(Some((stored, doc.revision)))
}

/// The parameter a reference names (the first candidate that exists).
pub fn find(vault: &Vault, reference: &Reference) -> Result<Option<StoredParameter>, ApiError> {
    for name in &reference.candidates {
        if let Some((p, _)) = load(vault, name)? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Like [`find`], but a missing parameter is ParameterNotFound naming `text`.
pub fn get(vault: &Vault, reference: &Reference, text: &str) -> Result<StoredParameter, ApiError> {
    find(vault, reference)?.ok_or_else(|| not_found(text))
}

/// Every parameter whose name starts with `prefix`, sorted by name.
pub fn list(vault: &Vault, prefix: &str) -> Result<Vec<StoredParameter>, ApiError> {
    let docs = vault
        .state
        .list_documents(KIND, prefix)
        .map_err(store_error)?;
    docs.into_iter()
        .map(|d| serde_json::from_value(d.value).map_err(|_| corrupt(&d.key)))
        .collect()
}

/// Read-modify-write of `name`: `change` gets the stored parameter (None when there is
/// none) and returns what to store, retried when another writer got in between.
pub fn update<T>(
    vault: &Vault,
    name: &str,
    mut change: impl FnMut(Option<StoredParameter>) -> Result<(StoredParameter, T), ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..CAS_ATTEMPTS {
        let loaded = load(vault, name)?;
        let expect = match &loaded {
            Some((_, rev)) => Expect::Revision(*rev),
            None => Expect::Absent,
        };
        let (next, out) = change(loaded.map(|(p, _)| p))?;
        let value = serde_json::to_value(&next).map_err(|e| {
            tracing::error!("ssm: parameter {name} cannot be encoded: {e}");
            ApiError::with_status(
                "InternalServerError",
                "The parameter could not be stored.",
                500,
            )
        })?;
        if vault
            .state
            .put_document(KIND, name, &value, expect)
            .map_err(store_error)?
            .is_some()
        {
            return Ok(out);
        }
    }
    Err(ApiError::new(
        "TooManyUpdates",
        format!("There are concurrent updates to parameter {name}; try again."),
    ))
}

/// Deletes `name`; false when there was none.
pub fn remove(vault: &Vault, name: &str) -> Result<bool, ApiError> {
    vault
        .state
        .delete_document(KIND, name, Expect::Any)
        .map_err(store_error)
}
