//! PutParameter: a new parameter, or a new version of one (`Overwrite`).

use serde::{Deserialize, Serialize};

use super::SsmService;
use super::names::check_new_name;
use super::store::{self, ParameterType, StoredParameter, StoredVersion};
use crate::protocol::{ApiError, Context};
use crate::secrets::{Tag, check_tags, constraint, now_ms};

const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
const MAX_DESCRIPTION: usize = 1024;
const MAX_PATTERN: usize = 1024;
const DATA_TYPES: [&str; 3] = ["text", "aws:ec2:image", "aws:ssm:integration"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Tier {
    Standard,
    Advanced,
    #[serde(rename = "Intelligent-Tiering")]
    IntelligentTiering,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterInput {
    name: String,
    value: String,
    #[serde(rename = "Type")]
    kind: Option<ParameterType>,
    description: Option<String>,
    key_id: Option<String>,
    overwrite: Option<bool>,
    allowed_pattern: Option<String>,
    tags: Option<Vec<Tag>>,
    tier: Option<Tier>,
    policies: Option<String>,
    data_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterOutput {
    version: i64,
    tier: String,
}

impl SsmService {
    pub(super) async fn put_parameter(
        &self,
        ctx: &Context,
        input: PutParameterInput,
    ) -> Result<PutParameterOutput, ApiError> {
        check(&input)?;
        let user = ctx.principal.arn.clone();
        self.vault
            .blocking(move |vault| {
                let name = input.name.clone();
                store::update(vault, &name, |existing| {
                    next_version(vault, &input, existing, &user)
                })
            })
            .await
    }
}

/// What PutParameter checks before it looks at the store.
fn check(input: &PutParameterInput) -> Result<(), ApiError> {
    check_new_name("Name", &input.name)?;
    if input.value.is_empty() {
        return Err(ApiError::validation(constraint(
            "value",
            None,
            "Member must have length greater than or equal to 1",
        )));
    }
    if input.value.len() > ADVANCED_MAX {
        return Err(ApiError::validation(format!(
            "Value: parameter values are limited to {ADVANCED_MAX} bytes (advanced tier); \
             this one has {}",
            input.value.len()
        )));
    }
    if let Some(d) = &input.description
        && d.chars().count() > MAX_DESCRIPTION
    {
        return Err(ApiError::validation(constraint(
            "description",
            Some(d),
            &format!("Member must have length less than or equal to {MAX_DESCRIPTION}"),
        )));
    }
    if let Some(k) = &input.key_id {
        if input.kind != Some(ParameterType::SecureString) {
            return Err(ApiError::validation(
                "KeyId is only valid for a SecureString parameter (Type SecureString).",
            ));
        }
        let ok = !k.is_empty()
            && k.len() <= 256
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'));
        if !ok {
            return Err(ApiError::validation(constraint(
                "keyId",
                Some(k),
                "Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$",
            )));
        }
    }
    if input.overwrite == Some(true) && input.tags.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::validation(
            "Invalid request: tags and overwrite can't be used together. To create a \
             parameter with tags, please remove overwrite flag. To update tags for an \
             existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    if let Some(tags) = &input.tags {
        check_tags("Tags", tags)?;
    }
    if input.policies.is_some() {
        return Err(ApiError::validation(
            "Policies: parameter policies (expiration, notification) are not supported by this \
             host; leave Policies out.",
        ));
    }
    if let Some(dt) = &input.data_type
        && !DATA_TYPES.contains(&dt.as_str())
    {
        return Err(ApiError::validation(format!(
            "DataType {dt:?} is not valid; valid data types are {}.",
            DATA_TYPES.join(", ")
        )));
    }
    if let Some(p) = &input.allowed_pattern {
        if p.chars().count() > MAX_PATTERN {
            return Err(ApiError::validation(constraint(
                "allowedPattern",
                Some(p),
                &format!("Member must have length less than or equal to {MAX_PATTERN}"),
            )));
        }
        let re = regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|_| {
                ApiError::new(
                    "InvalidAllowedPatternException",
                    format!("AllowedPattern {p:?} is not a valid regular expression."),
                )
            })?;
        if !re.is_match(&input.value) {
            return Err(ApiError::new(
                "ParameterPatternMismatchException",
                format!("Parameter value, cannot be validated against allowedPattern: {p}"),
            ));
        }
    }
    Ok(())
}

/// The parameter with the new version added, and the answer.
fn next_version(
    vault: &crate::secrets::Vault,
    input: &PutParameterInput,
    existing: Option<StoredParameter>,
    user: &str,
) -> Result<(StoredParameter, PutParameterOutput), ApiError> {
    let previous = match &existing {
        Some(p) => Some(p.current()?.clone()),
        None => None,
    };
    if existing.is_some() && input.overwrite != Some(true) {
        return Err(ApiError::new(
            "ParameterAlreadyExists",
            format!(
                "The parameter {} already exists. To overwrite this value, set the overwrite \
                 option in the request to true.",
                input.name
            ),
        ));
    }
    let kind = match (input.kind, &previous) {
        (Some(k), _) => k,
        (None, Some(p)) => p.kind,
        (None, None) => {
            return Err(ApiError::validation(
                "Type: a parameter type is required when you create a parameter \
                 (String, StringList or SecureString).",
            ));
        }
    };
    let was_advanced = previous.as_ref().is_some_and(|p| p.tier == "Advanced");
    let size = input.value.len();
    let tier = match input.tier {
        Some(Tier::Standard) if was_advanced => {
            return Err(ApiError::validation(format!(
                "Tier: parameter {} uses the advanced tier, which cannot be changed back to \
                 Standard.",
                input.name
            )));
        }
        Some(Tier::Standard) => "Standard",
        Some(Tier::Advanced) => "Advanced",
        Some(Tier::IntelligentTiering) | None if was_advanced || size > STANDARD_MAX => {
            if input.tier.is_none() && !was_advanced {
                return Err(too_big_for_standard(size));
            }
            "Advanced"
        }
        Some(Tier::IntelligentTiering) | None => "Standard",
    };
    if tier == "Standard" && size > STANDARD_MAX {
        return Err(too_big_for_standard(size));
    }

    let version = previous.as_ref().map_or(1, |p| p.version + 1);
    let (value, sealed) = if kind == ParameterType::SecureString {
        let context = store::seal_context(&input.name, version);
        let sealed = vault
            .key
            .seal(input.value.as_bytes(), &context)
            .map_err(|e| {
                tracing::error!("ssm: {e}");
                ApiError::with_status(
                    "InternalServerError",
                    "The value could not be encrypted.",
                    500,
                )
            })?;
        (None, Some(sealed))
    } else {
        (Some(input.value.clone()), None)
    };
    let key_id = (kind == ParameterType::SecureString).then(|| {
        input
            .key_id
            .clone()
            .or_else(|| previous.as_ref().and_then(|p| p.key_id.clone()))
            .unwrap_or_else(|| "alias/aws/ssm".to_owned())
    });
    let entry = StoredVersion {
        version,
        kind,
        value,
        sealed,
        key_id,
        description: input
            .description
            .clone()
            .or_else(|| previous.as_ref().and_then(|p| p.description.clone())),
        allowed_pattern: input
            .allowed_pattern
            .clone()
            .or_else(|| previous.as_ref().and_then(|p| p.allowed_pattern.clone())),
        tier: tier.to_owned(),
        data_type: input
            .data_type
            .clone()
            .or_else(|| previous.as_ref().map(|p| p.data_type.clone()))
            .unwrap_or_else(|| "text".to_owned()),
        modified_ms: now_ms(),
        user: user.to_owned(),
    };
    let mut param = existing.unwrap_or_else(|| StoredParameter {
        name: input.name.clone(),
        tags: input.tags.clone().unwrap_or_default(),
        versions: Vec::new(),
    });
    param.versions.push(entry);
    if param.versions.len() > store::MAX_VERSIONS {
        let extra = param.versions.len() - store::MAX_VERSIONS;
        param.versions.drain(..extra);
    }
    Ok((
        param,
        PutParameterOutput {
            version,
            tier: tier.to_owned(),
        },
    ))
}

fn too_big_for_standard(size: usize) -> ApiError {
    ApiError::validation(format!(
        "Value: standard tier parameters support a maximum parameter value of {STANDARD_MAX} \
         bytes (this one has {size}). To create a larger parameter value, upgrade the \
         parameter to use the advanced-parameter tier (Tier Advanced, up to {ADVANCED_MAX})."
    ))
}
