//! The rules a task definition must meet, modelled on ECS's own checks for Fargate
//! tasks. Every broken rule is reported, not just the first, so a user fixes them all
//! in one round trip. Runs after parsing and again after run-time overrides.

mod containers;
mod depends;
#[cfg(test)]
mod fixture;
mod ports;
mod resources;
mod task;

use super::error::{FieldError, TaskDefError};
use super::model::TaskDefinition;

/// Host-operator switches that relax Fargate's rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Allow `volumes[].host.sourcePath` (host bind mounts), for local testing.
    pub allow_bind_mounts: bool,
    /// Accept members the model does not know, with a warning, for definitions written
    /// for ECS features newer than this host. Off: a misspelling is an error.
    pub allow_unknown_fields: bool,
}

pub fn validate(def: &TaskDefinition, opts: &ValidationOptions) -> Result<(), TaskDefError> {
    let errors = check(def, opts);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TaskDefError::Invalid(errors))
    }
}

/// Every broken rule, in a stable order (task-level first).
fn check(def: &TaskDefinition, opts: &ValidationOptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    task::check(def, opts, &mut errors);
    resources::check(def, &mut errors);
    containers::check(def, &mut errors);
    ports::check(def, &mut errors);
    depends::check(def, &mut errors);
    errors
}

/// ECS's rule for family, container and volume names.
fn is_valid_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

const NAME_RULE: &str = "must be 1 to 255 letters, numbers, hyphens and underscores";

fn container_path(index: usize) -> String {
    format!("containerDefinitions[{index}]")
}
