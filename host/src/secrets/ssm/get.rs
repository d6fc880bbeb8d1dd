//! GetParameter, GetParameters and GetParametersByPath.

use serde::{Deserialize, Serialize};

use super::filters::{Filters, ParameterStringFilter, Scope};
use super::names::{check_name, parse_reference};
use super::store::{self, Parameter};
use super::{SsmService, max_results, start_of};
use crate::protocol::{ApiError, Context};
use crate::secrets::{Vault, page};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterInput {
    name: String,
    with_decryption: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterOutput {
    parameter: Parameter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersInput {
    names: Vec<String>,
    with_decryption: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersOutput {
    parameters: Vec<Parameter>,
    invalid_parameters: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathInput {
    path: String,
    recursive: Option<bool>,
    parameter_filters: Option<Vec<ParameterStringFilter>>,
    with_decryption: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathOutput {
    parameters: Vec<Parameter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// One `Name` of GetParameter(s) → its `Parameter`.
pub(super) fn get_one(vault: &Vault, text: &str, decrypt: bool) -> Result<Parameter, ApiError> {
    let reference = parse_reference(vault, "Name", text)?;
    let param = store::get(vault, &reference, text)?;
    let version = param.select(reference.selector.as_ref())?;
    param.parameter(vault, version, decrypt, reference.selector_text.clone())
}

impl SsmService {
    pub(super) async fn get_parameter(
        &self,
        _ctx: &Context,
        input: GetParameterInput,
    ) -> Result<GetParameterOutput, ApiError> {
        let decrypt = input.with_decryption.unwrap_or(false);
        self.vault
            .blocking(move |vault| {
                Ok(GetParameterOutput {
                    parameter: get_one(vault, &input.name, decrypt)?,
                })
            })
            .await
    }

    pub(super) async fn get_parameters(
        &self,
        _ctx: &Context,
        input: GetParametersInput,
    ) -> Result<GetParametersOutput, ApiError> {
        if input.names.is_empty() || input.names.len() > 10 {
            return Err(ApiError::validation(crate::secrets::constraint(
                "names",
                None,
                &format!(
                    "Member must have length between 1 and 10 (it has {})",
                    input.names.len()
                ),
            )));
        }
        let decrypt = input.with_decryption.unwrap_or(false);
        self.vault
            .blocking(move |vault| {
                let mut out = GetParametersOutput {
                    parameters: Vec::new(),
                    invalid_parameters: Vec::new(),
                };
                for text in &input.names {
                    match get_one(vault, text, decrypt) {
                        Ok(p) => out.parameters.push(p),
                        // A name that is not there (or not valid) is reported, not an error.
                        Err(e) if is_invalid_name(&e) => {
                            if !out.invalid_parameters.contains(text) {
                                out.invalid_parameters.push(text.clone());
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            })
            .await
    }

    pub(super) async fn get_parameters_by_path(
        &self,
        _ctx: &Context,
        input: GetParametersByPathInput,
    ) -> Result<GetParametersByPathOutput, ApiError> {
        let path = input.path.as_str();
        if !path.starts_with('/') {
            return Err(ApiError::validation(format!(
                "Path {path:?} is not valid: a path starts with / (/app/db)"
            )));
        }
        let trimmed = path.trim_end_matches('/');
        if !trimmed.is_empty() {
            check_name("Path", trimmed)?;
        }
        let filters = Filters::compile(
            input.parameter_filters.as_deref().unwrap_or_default(),
            Scope::ByPath,
        )?;
        let max = max_results(input.max_results, 10, 10)?;
        let start = start_of(input.next_token.as_deref())?;
        let recursive = input.recursive.unwrap_or(false);
        let decrypt = input.with_decryption.unwrap_or(false);
        let prefix = format!("{trimmed}/");
        self.vault
            .blocking(move |vault| {
                let found: Vec<_> = store::list(vault, &prefix)?
                    .into_iter()
                    .filter(|p| {
                        p.name
                            .strip_prefix(&prefix)
                            .is_some_and(|rest| recursive || !rest.contains('/'))
                            && filters.matches(p)
                    })
                    .collect();
                let (found, next_token) = page::slice(found, start, max);
                let parameters = found
                    .iter()
                    .map(|p| p.parameter(vault, p.current()?, decrypt, None))
                    .collect::<Result<_, _>>()?;
                Ok(GetParametersByPathOutput {
                    parameters,
                    next_token,
                })
            })
            .await
    }
}

/// Errors that GetParameters reports in `InvalidParameters` rather than failing the call.
fn is_invalid_name(e: &ApiError) -> bool {
    matches!(
        e.code.as_str(),
        "ParameterNotFound"
            | "ParameterVersionNotFound"
            | "ValidationException"
            | "HierarchyLevelLimitExceededException"
    )
}
