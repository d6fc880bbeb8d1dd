//! ECS task definitions: the JSON model, its parser and its validator.
//!
//! Accepts what `aws ecs register-task-definition --cli-input-json` takes and what
//! `describe-task-definition` prints (the `{"taskDefinition": {...}}` wrapper), so a
//! definition moves between ECS and wasmgate unchanged. Members the model does not read
//! are reported as warnings rather than dropped silently.

mod container;
mod error;
pub mod fargate;
mod json_path;
mod model;
mod serde_glue;
pub mod units;
mod unknown_fields;
mod validate;

use serde::Deserialize;
use serde_json::Value;

pub use container::{
    ContainerDefinition, ContainerDependency, DependencyCondition, KeyValuePair, LogConfiguration,
    MountPoint, PortMapping, RepositoryCredentials,
};
pub use error::{FieldError, TaskDefError};
pub use model::{
    AWSVPC, DEFAULT_EPHEMERAL_STORAGE_GIB, EphemeralStorage, HostVolume, Tag, TaskDefinition,
    Volume,
};
pub use validate::{ValidationOptions, validate};

/// A valid task definition and what was ignored on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub definition: TaskDefinition,
    /// One line per ignored JSON member, naming its path.
    pub warnings: Vec<String>,
}

/// `describe-task-definition` output; top-level `tags` appear with `--include TAGS`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Described {
    task_definition: TaskDefinition,
    #[serde(default)]
    tags: Vec<Tag>,
}

const WRAPPER_KEY: &str = "taskDefinition";

/// Parses and validates a task definition in register or describe form.
pub fn parse(json: &str, opts: &ValidationOptions) -> Result<Parsed, TaskDefError> {
    let value: Value = serde_json::from_str(json).map_err(|e| json_error(json, &e))?;
    // serde would otherwise read `[]` as a struct with every field defaulted.
    if !value.is_object() {
        return Err(TaskDefError::Json(
            "a task definition must be a JSON object".to_owned(),
        ));
    }
    let (definition, warnings) = match value.get(WRAPPER_KEY) {
        Some(inner) => {
            let described: Described =
                serde_json::from_str(json).map_err(|e| json_error(json, &e))?;
            let mut definition = described.task_definition;
            if definition.tags.is_empty() {
                definition.tags = described.tags;
            }
            let mut warnings = unknown_fields::wrapper_warnings(&value);
            warnings.extend(unknown_fields::task_definition_warnings(inner));
            (definition, warnings)
        }
        None => {
            let definition: TaskDefinition =
                serde_json::from_str(json).map_err(|e| json_error(json, &e))?;
            (definition, unknown_fields::task_definition_warnings(&value))
        }
    };
    validate(&definition, opts)?;
    Ok(Parsed {
        definition,
        warnings,
    })
}

/// serde_json's message prefixed with the path of the offending field, relative to
/// the task definition like every other path we report.
/// (A register-form definition has no `taskDefinition` member, so stripping it is safe.)
fn json_error(json: &str, err: &serde_json::Error) -> TaskDefError {
    let path = json_path::path_at(json, err.line(), err.column());
    let path = match path.strip_prefix(WRAPPER_KEY) {
        Some(rest) if rest.is_empty() || rest.starts_with('.') => {
            rest.trim_start_matches('.').to_owned()
        }
        _ => path,
    };
    if path.is_empty() {
        TaskDefError::Json(err.to_string())
    } else {
        TaskDefError::Json(format!("{path}: {err}"))
    }
}

#[cfg(test)]
mod tests;
