//! DeleteParameter and DeleteParameters: every version of the named parameters goes.

use serde::{Deserialize, Serialize};

use super::names::check_name;
use super::store;
use super::{SsmService, not_found};
use crate::protocol::{ApiError, Context};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParameterInput {
    name: String,
}

#[derive(Debug, Serialize)]
pub struct DeleteParameterOutput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersInput {
    names: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersOutput {
    deleted_parameters: Vec<String>,
    invalid_parameters: Vec<String>,
}

impl SsmService {
    pub(super) async fn delete_parameter(
        &self,
        _ctx: &Context,
        input: DeleteParameterInput,
    ) -> Result<DeleteParameterOutput, ApiError> {
        check_name("Name", &input.name)?;
        self.vault
            .blocking(move |vault| {
                if store::remove(vault, &input.name)? {
                    Ok(DeleteParameterOutput {})
                } else {
                    Err(not_found(&input.name))
                }
            })
            .await
    }

    pub(super) async fn delete_parameters(
        &self,
        _ctx: &Context,
        input: DeleteParametersInput,
    ) -> Result<DeleteParametersOutput, ApiError> {
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
        self.vault
            .blocking(move |vault| {
                let mut out = DeleteParametersOutput {
                    deleted_parameters: Vec::new(),
                    invalid_parameters: Vec::new(),
                };
                for name in input.names {
                    let deleted =
                        check_name("Names", &name).is_ok() && store::remove(vault, &name)?;
                    let list = if deleted {
                        &mut out.deleted_parameters
                    } else {
                        &mut out.invalid_parameters
                    };
                    if !list.contains(&name) {
                        list.push(name);
                    }
                }
                Ok(out)
            })
            .await
    }
}
