//! GetSecretValue, DescribeSecret (never a value) and ListSecrets (filters, pagination).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SecretsManagerService;
use super::names::parse_id;
use super::store::{self, SecretValue, StoredSecret};
use crate::protocol::{ApiError, Blob, Context, Timestamp};
use crate::secrets::{Tag, constraint, page, timestamp};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueInput {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<String>,
    version_stages: Vec<String>,
    created_date: Timestamp,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecretInput {
    secret_id: String,
}

/// DescribeSecret's answer and a ListSecrets entry: the same members, but the version map
/// is `VersionIdsToStages` in one and `SecretVersionsToStages` in the other.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretMetadata {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    rotation_enabled: bool,
    last_changed_date: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<Timestamp>,
    tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_ids_to_stages: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    created_date: Timestamp,
}

fn metadata(s: &StoredSecret, listing: bool) -> SecretMetadata {
    let stages: BTreeMap<String, Vec<String>> = s
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| (v.id.clone(), v.stages.clone()))
        .collect();
    SecretMetadata {
        arn: s.arn.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        kms_key_id: s.kms_key_id.clone(),
        rotation_enabled: false,
        last_changed_date: timestamp(s.changed_ms),
        deleted_date: s.deleted_ms.map(timestamp),
        tags: s.tags.clone(),
        version_ids_to_stages: (!listing).then(|| stages.clone()),
        secret_versions_to_stages: listing.then_some(stages),
        created_date: timestamp(s.created_ms),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterKey {
    Description,
    Name,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    key: Option<FilterKey>,
    values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SortBy {
    CreatedDate,
    LastAccessedDate,
    LastChangedDate,
    Name,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsInput {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<Filter>>,
    sort_order: Option<SortOrder>,
    sort_by: Option<SortBy>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsOutput {
    secret_list: Vec<SecretMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl SecretsManagerService {
    pub(super) async fn get_secret_value(
        &self,
        _ctx: &Context,
        input: GetSecretValueInput,
    ) -> Result<GetSecretValueOutput, ApiError> {
        let id = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| {
                let (secret, _) = store::get(vault, &id)?;
                secret.check_not_deleted()?;
                let version =
                    secret.select(input.version_id.as_deref(), input.version_stage.as_deref())?;
                let (secret_string, secret_binary) = match secret.open(vault, version)? {
                    SecretValue::Text(t) => (Some(t), None),
                    SecretValue::Binary(b) => (None, Some(Blob(b))),
                };
                Ok(GetSecretValueOutput {
                    arn: secret.arn.clone(),
                    name: secret.name.clone(),
                    version_id: version.id.clone(),
                    secret_binary,
                    secret_string,
                    version_stages: version.stages.clone(),
                    created_date: timestamp(version.created_ms),
                })
            })
            .await
    }

    pub(super) async fn describe_secret(
        &self,
        _ctx: &Context,
        input: DescribeSecretInput,
    ) -> Result<SecretMetadata, ApiError> {
        let id = parse_id(&self.vault, "SecretId", &input.secret_id)?;
        self.vault
            .blocking(move |vault| Ok(metadata(&store::get(vault, &id)?.0, false)))
            .await
    }

    pub(super) async fn list_secrets(
        &self,
        _ctx: &Context,
        input: ListSecretsInput,
    ) -> Result<ListSecretsOutput, ApiError> {
        let max = match input.max_results {
            None => 100,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::validation(constraint(
                    "maxResults",
                    Some(&n.to_string()),
                    "Member must have value between 1 and 100",
                )));
            }
        };
        let start = match input.next_token.as_deref() {
            None => 0,
            Some(t) => page::offset(t).ok_or_else(|| {
                ApiError::new(
                    "InvalidNextTokenException",
                    "The NextToken value is not valid.",
                )
            })?,
        };
        let filters = compile(input.filters.unwrap_or_default())?;
        let include_deleted = input.include_planned_deletion.unwrap_or(false);
        let by = input.sort_by.unwrap_or(SortBy::CreatedDate);
        let desc = input.sort_order.unwrap_or(SortOrder::Desc) == SortOrder::Desc;
        self.vault
            .blocking(move |vault| {
                let mut found: Vec<StoredSecret> = store::list(vault)?
                    .into_iter()
                    .filter(|s| include_deleted || !s.is_deleted())
                    .filter(|s| filters.iter().all(|f| f.matches(s)))
                    .collect();
                // Listed by name within the same date, so pages are stable.
                found.sort_by(|a, b| {
                    let key = |s: &StoredSecret| match by {
                        SortBy::Name => 0,
                        SortBy::CreatedDate => s.created_ms,
                        SortBy::LastChangedDate | SortBy::LastAccessedDate => s.changed_ms,
                    };
                    key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
                });
                if desc {
                    found.reverse();
                }
                let (found, next_token) = page::slice(found, start, max);
                Ok(ListSecretsOutput {
                    secret_list: found.iter().map(|s| metadata(s, true)).collect(),
                    next_token,
                })
            })
            .await
    }
}

/// One ListSecrets filter: any of its values matches (a value starting with `!` must not).
struct Compiled {
    key: FilterKey,
    values: Vec<(bool, String)>,
}

fn compile(filters: Vec<Filter>) -> Result<Vec<Compiled>, ApiError> {
    if filters.len() > 10 {
        return Err(ApiError::validation(constraint(
            "filters",
            None,
            "Member must have length less than or equal to 10",
        )));
    }
    filters
        .into_iter()
        .map(|f| {
            let key = f.key.ok_or_else(|| {
                ApiError::invalid_parameter("Filters: every filter needs a Key.")
            })?;
            let values = f.values.unwrap_or_default();
            if values.is_empty() || values.len() > 10 {
                return Err(ApiError::invalid_parameter(
                    "Filters: every filter needs 1 to 10 Values.",
                ));
            }
            let ok = |v: &str| {
                v.chars().count() <= 512
                    && v.trim_start_matches('!').bytes().all(|b| {
                        b.is_ascii_alphanumeric() || b" :_@/+=.-".contains(&b)
                    })
            };
            if let Some(bad) = values.iter().find(|v| !ok(v)) {
                return Err(ApiError::validation(constraint(
                    "filters.member.values",
                    Some(bad),
                    "Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-]*$",
                )));
            }
            let values = values
                .into_iter()
                .map(|v| match v.strip_prefix('!') {
                    Some(rest) => (true, rest.to_owned()),
                    None => (false, v),
                })
                .collect();
            Ok(Compiled { key, values })
        })
        .collect()
}

impl Compiled {
    fn matches(&self, s: &StoredSecret) -> bool {
        let prefix = |have: &str, want: &str, fold: bool| {
            if fold {
                have.to_lowercase().starts_with(&want.to_lowercase())
            } else {
                have.starts_with(want)
            }
        };
        let hit = |want: &str| -> bool {
            let name = prefix(&s.name, want, false);
            let desc = s
                .description
                .as_deref()
                .is_some_and(|d| prefix(d, want, true));
            let tag_key = s.tags.iter().any(|t| prefix(&t.key, want, false));
            let tag_value = s.tags.iter().any(|t| prefix(&t.value, want, false));
            match self.key {
                FilterKey::Name => name,
                FilterKey::Description => desc,
                FilterKey::TagKey => tag_key,
                FilterKey::TagValue => tag_value,
                // Secrets here are not replicated and no service owns them.
                FilterKey::PrimaryRegion | FilterKey::OwningService => false,
                FilterKey::All => want.split_whitespace().any(|w| {
                    prefix(&s.name, w, true)
                        || s.description
                            .as_deref()
                            .is_some_and(|d| d.split_whitespace().any(|dw| prefix(dw, w, true)))
                        || s.tags
                            .iter()
                            .any(|t| prefix(&t.key, w, true) || prefix(&t.value, w, true))
                }),
            }
        };
        let (negated, plain): (Vec<_>, Vec<_>) = self.values.iter().partition(|(n, _)| *n);
        (plain.is_empty() || plain.iter().any(|(_, v)| hit(v)))
            && negated.iter().all(|(_, v)| !hit(v))
    }
}
