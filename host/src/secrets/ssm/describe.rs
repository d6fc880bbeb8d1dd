//! DescribeParameters (metadata, never values) and GetParameterHistory (every version).

use serde::{Deserialize, Serialize};

use super::filters::{Filters, ParameterStringFilter, ParametersFilter, Scope};
use super::names::parse_reference;
use super::store::{self, StoredParameter, StoredVersion};
use super::{SsmService, max_results, start_of};
use crate::protocol::{ApiError, Context, Timestamp};
use crate::secrets::{Vault, page, timestamp};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersInput {
    filters: Option<Vec<ParametersFilter>>,
    parameter_filters: Option<Vec<ParameterStringFilter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
    shared: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterMetadata {
    name: String,
    #[serde(rename = "ARN")]
    arn: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: Timestamp,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    tier: String,
    policies: Vec<serde_json::Value>,
    data_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersOutput {
    parameters: Vec<ParameterMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryInput {
    name: String,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterHistory {
    name: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    last_modified_date: Timestamp,
    last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<String>,
    version: i64,
    labels: Vec<String>,
    tier: String,
    policies: Vec<serde_json::Value>,
    data_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryOutput {
    parameters: Vec<ParameterHistory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn metadata(vault: &Vault, p: &StoredParameter, v: &StoredVersion) -> ParameterMetadata {
    ParameterMetadata {
        name: p.name.clone(),
        arn: super::names::arn(vault, &p.name),
        kind: v.kind.as_str(),
        key_id: v.key_id.clone(),
        last_modified_date: timestamp(v.modified_ms),
        last_modified_user: v.user.clone(),
        description: v.description.clone(),
        allowed_pattern: v.allowed_pattern.clone(),
        version: v.version,
        tier: v.tier.clone(),
        policies: Vec::new(),
        data_type: v.data_type.clone(),
    }
}

impl SsmService {
    pub(super) async fn describe_parameters(
        &self,
        _ctx: &Context,
        input: DescribeParametersInput,
    ) -> Result<DescribeParametersOutput, ApiError> {
        let filters = match (&input.filters, &input.parameter_filters) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "You can use either Filters or ParameterFilters in a single request, \
                     not both.",
                ));
            }
            (Some(old), None) => Filters::legacy(old)?,
            (None, new) => Filters::compile(new.as_deref().unwrap_or_default(), Scope::Describe)?,
        };
        let max = max_results(input.max_results, 50, 50)?;
        let start = start_of(input.next_token.as_deref())?;
        // Parameters shared from other accounts: there are none on this host.
        let shared = input.shared.unwrap_or(false);
        self.vault
            .blocking(move |vault| {
                let found: Vec<_> = if shared {
                    Vec::new()
                } else {
                    store::list(vault, "")?
                        .into_iter()
                        .filter(|p| filters.matches(p))
                        .collect()
                };
                let (found, next_token) = page::slice(found, start, max);
                let parameters = found
                    .iter()
                    .map(|p| Ok(metadata(vault, p, p.current()?)))
                    .collect::<Result<_, ApiError>>()?;
                Ok(DescribeParametersOutput {
                    parameters,
                    next_token,
                })
            })
            .await
    }

    pub(super) async fn get_parameter_history(
        &self,
        _ctx: &Context,
        input: GetParameterHistoryInput,
    ) -> Result<GetParameterHistoryOutput, ApiError> {
        let max = max_results(input.max_results, 50, 50)?;
        let start = start_of(input.next_token.as_deref())?;
        let decrypt = input.with_decryption.unwrap_or(false);
        self.vault
            .blocking(move |vault| {
                let reference = parse_reference(vault, "Name", &input.name)?;
                if reference.selector.is_some() {
                    return Err(ApiError::validation(format!(
                        "Name {:?}: GetParameterHistory takes a name without a version or \
                         label selector",
                        input.name
                    )));
                }
                let p = store::get(vault, &reference, &input.name)?;
                let (versions, next_token) = page::slice(p.versions.clone(), start, max);
                let parameters = versions
                    .iter()
                    .map(|v| {
                        Ok(ParameterHistory {
                            name: p.name.clone(),
                            kind: v.kind.as_str(),
                            key_id: v.key_id.clone(),
                            last_modified_date: timestamp(v.modified_ms),
                            last_modified_user: v.user.clone(),
                            description: v.description.clone(),
                            value: v.wire_value(vault, &p.name, decrypt)?,
                            allowed_pattern: v.allowed_pattern.clone(),
                            version: v.version,
                            labels: Vec::new(),
                            tier: v.tier.clone(),
                            policies: Vec::new(),
                            data_type: v.data_type.clone(),
                        })
                    })
                    .collect::<Result<_, ApiError>>()?;
                Ok(GetParameterHistoryOutput {
                    parameters,
                    next_token,
                })
            })
            .await
    }
}
