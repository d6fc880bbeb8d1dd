//! SSM Parameter Store (`AmazonSSM.*`, awsJson1_1, signing name `ssm`): the parameter
//! operations a task's `secrets` and the AWS CLI's `aws ssm …-parameter…` need.
//!
//! One file per area: [`names`] (names, selectors, ARNs), [`store`] (documents, sealing),
//! `put`, `get` (GetParameter(s), GetParametersByPath), `describe` (DescribeParameters,
//! GetParameterHistory), `filters` (ParameterFilters), `delete`.

mod delete;
mod describe;
mod filters;
mod get;
pub mod names;
mod put;
pub mod store;

#[cfg(test)]
mod tests;

use crate::op;
use crate::protocol::{ApiError, Operation, Protocol, Service};
use crate::secrets::Vault;
use crate::state::StateError;

/// `X-Amz-Target` prefix of the SSM API.
pub const TARGET_PREFIX: &str = "AmazonSSM";

/// Parameter Store over the shared [`Vault`].
#[derive(Debug, Clone)]
pub struct SsmService {
    vault: Vault,
}

impl SsmService {
    pub fn new(vault: Vault) -> Self {
        Self { vault }
    }
}

impl Service for SsmService {
    fn name(&self) -> &'static str {
        "ssm"
    }

    fn signing_name(&self) -> &'static str {
        "ssm"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::AwsJson1_1 {
            target_prefix: TARGET_PREFIX,
        }]
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("PutParameter", Self::put_parameter),
            op!("GetParameter", Self::get_parameter),
            op!("GetParameters", Self::get_parameters),
            op!("GetParametersByPath", Self::get_parameters_by_path),
            op!("DescribeParameters", Self::describe_parameters),
            op!("GetParameterHistory", Self::get_parameter_history),
            op!("DeleteParameter", Self::delete_parameter),
            op!("DeleteParameters", Self::delete_parameters),
        ]
    }

    fn action_prefix(&self) -> &'static str {
        "ssm"
    }
}

/// `ParameterNotFound`, naming what was asked for.
fn not_found(name: &str) -> ApiError {
    ApiError::new("ParameterNotFound", format!("Parameter {name} not found."))
}

/// `ParameterVersionNotFound`: the selector names no version of the parameter.
fn version_not_found(name: &str, selector: &str) -> ApiError {
    ApiError::new(
        "ParameterVersionNotFound",
        format!(
            "Systems Manager could not find version {selector} of {name}. Verify the version \
             and try again (labels are not supported by this host)."
        ),
    )
}

fn store_error(e: StateError) -> ApiError {
    tracing::error!("ssm: state store: {e}");
    ApiError::with_status(
        "InternalServerError",
        "The parameter store is unavailable; try again.",
        500,
    )
}

/// `MaxResults` in `1..=max`, `default` when absent.
fn max_results(value: Option<i64>, max: usize, default: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n <= max as i64 => Ok(n as usize),
        Some(n) => Err(ApiError::validation(crate::secrets::constraint(
            "maxResults",
            Some(&n.to_string()),
            &format!("Member must have value between 1 and {max}"),
        ))),
    }
}

/// Where a `NextToken` starts; InvalidNextToken when it is not one this host gave.
fn start_of(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => crate::secrets::page::offset(t).ok_or_else(|| {
            ApiError::new("InvalidNextToken", "The specified NextToken is not valid.")
        }),
    }
}
