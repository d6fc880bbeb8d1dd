//! ECS task definitions: the JSON model, its parser and its validator.
//!
//! Accepts what `aws ecs register-task-definition --cli-input-json` takes and what
//! `describe-task-definition` prints (the `{"taskDefinition": {...}}` wrapper), so a
//! definition moves between ECS and wasmgate unchanged. Every ECS member is a field of
//! the model; members it does not know are refused with the closest real name, since a
//! misspelled `environment` would otherwise run the task without its environment.

mod container;
mod error;
pub mod fargate;
mod ignored;
mod markers;
mod model;
mod path;
mod read;
mod schema;
mod serde_glue;
mod shape;
pub mod units;
mod validate;

use std::sync::LazyLock;

use serde::Deserialize;

pub use container::{
    ContainerDefinition, ContainerDependency, DependencyCondition, KeyValuePair, LogConfiguration,
    MountPoint, PortMapping, RepositoryCredentials, Secret,
};
pub use error::{FieldError, TaskDefError};
pub use markers::{OutputOnly, Unsupported};
pub use model::{
    AWSVPC, DEFAULT_EPHEMERAL_STORAGE_GIB, EphemeralStorage, HostVolume, Tag, TaskDefinition,
    Volume,
};
pub use validate::{ValidationOptions, validate};

use schema::Schema;

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
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    tags: Vec<Tag>,
    /// What boto3 adds to every response, for output saved from a script.
    #[serde(rename = "ResponseMetadata", default)]
    _response_metadata: OutputOnly,
}

static TASK_SCHEMA: LazyLock<Schema> = LazyLock::new(Schema::of::<TaskDefinition>);
static DESCRIBED_SCHEMA: LazyLock<Schema> = LazyLock::new(Schema::of::<Described>);

/// Parses and validates a task definition in register or describe form. Unknown
/// members and broken rules are all reported together.
pub fn parse(json: &str, opts: &ValidationOptions) -> Result<Parsed, TaskDefError> {
    let tree = read::tree(json)?;
    // serde would otherwise read `[]` as a struct with every field defaulted.
    if !tree.is_object() {
        return Err(TaskDefError::Json(
            "a task definition must be a JSON object".to_owned(),
        ));
    }
    let (definition, skipped, schema) = if tree.get(path::WRAPPER_KEY).is_some() {
        let (described, skipped) = read::typed::<Described>(json)?;
        let mut definition = described.task_definition;
        if definition.tags.is_empty() {
            definition.tags = described.tags;
        }
        (definition, skipped, &*DESCRIBED_SCHEMA)
    } else {
        let (definition, skipped) = read::typed::<TaskDefinition>(json)?;
        (definition, skipped, &*TASK_SCHEMA)
    };
    let sorted = ignored::sort(&skipped, &tree, schema, opts.allow_unknown_fields);
    let mut errors = shape::lists_for_objects(&tree, schema);
    errors.extend(sorted.unknown);
    if let Err(broken) = validate(&definition, opts) {
        errors.extend_from_slice(broken.field_errors());
    }
    if !errors.is_empty() {
        return Err(TaskDefError::Invalid(errors));
    }
    Ok(Parsed {
        definition,
        warnings: sorted.warnings,
    })
}

#[cfg(test)]
mod tests;
