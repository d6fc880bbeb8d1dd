//! RunTask `overrides` (ECS `TaskOverride`): read, checked, applied to the definition.

use super::error::{ControlError, Result};
use crate::runtime::ContainerOverride;
use crate::taskdef::{EphemeralStorage, KeyValuePair, TaskDefinition, units};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// ECS `TaskOverride`; serialized back as the task's `overrides`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
pub(super) struct OverridesIn {
    #[serde(default)]
    container_overrides: Option<Vec<ContainerOverrideIn>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ephemeral_storage: Option<EphemeralStorageIn>,
    #[serde(default)]
    inference_accelerator_overrides: Option<Vec<Map<String, Value>>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(expecting = "an object")]
struct EphemeralStorageIn {
    #[serde(rename = "sizeInGiB")]
    size_in_gib: i32,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct ContainerOverrideIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<Vec<KeyValueIn>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_files: Option<Vec<Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_reservation: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_requirements: Option<Vec<Map<String, Value>>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(expecting = "an object")]
struct KeyValueIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// Task-level overrides change the definition; container overrides become the runtime's
/// `ContainerOverride`s (memoryReservation, which the runtime does not take, changes the
/// definition too). Every override must name a container of the definition.
pub(super) fn apply_overrides(
    def: &mut TaskDefinition,
    o: &OverridesIn,
) -> Result<Vec<ContainerOverride>> {
    const PATH: &str = "overrides";
    if let Some(cpu) = &o.cpu {
        def.cpu =
            units::parse_cpu(cpu).map_err(|e| ControlError::invalid(format!("{PATH}.cpu: {e}")))?;
    }
    if let Some(memory) = &o.memory {
        def.memory = units::parse_memory(memory)
            .map_err(|e| ControlError::invalid(format!("{PATH}.memory: {e}")))?;
    }
    if let Some(role) = &o.task_role_arn {
        def.task_role_arn = Some(role.clone());
    }
    if let Some(role) = &o.execution_role_arn {
        def.execution_role_arn = Some(role.clone());
    }
    if let Some(storage) = &o.ephemeral_storage {
        let size = u32::try_from(storage.size_in_gib).map_err(|_| {
            ControlError::invalid(format!(
                "{PATH}.ephemeralStorage.sizeInGiB: must be between 21 and 200"
            ))
        })?;
        def.ephemeral_storage = Some(EphemeralStorage { size_in_gib: size });
    }
    if o.inference_accelerator_overrides
        .as_ref()
        .is_some_and(|l| !l.is_empty())
    {
        return Err(ControlError::invalid(format!(
            "{PATH}.inferenceAcceleratorOverrides: inference accelerators are not supported"
        )));
    }

    let mut out: Vec<ContainerOverride> = Vec::new();
    for (i, c) in o.container_overrides.iter().flatten().enumerate() {
        let path = format!("{PATH}.containerOverrides[{i}]");
        let Some(name) = c.name.as_deref() else {
            return Err(ControlError::invalid(format!("{path}.name: is required")));
        };
        let Some(container) = def
            .container_definitions
            .iter_mut()
            .find(|d| d.name == name)
        else {
            return Err(ControlError::invalid(format!(
                "{path}.name: the task definition has no container named {name:?}"
            )));
        };
        if out.iter().any(|o| o.name == name) {
            return Err(ControlError::invalid(format!(
                "{path}.name: container {name:?} is overridden twice"
            )));
        }
        for (member, list) in [
            ("environmentFiles", &c.environment_files),
            ("resourceRequirements", &c.resource_requirements),
        ] {
            if list.as_ref().is_some_and(|l| !l.is_empty()) {
                return Err(ControlError::invalid(format!(
                    "{path}.{member}: is not supported by wasmgate"
                )));
            }
        }
        let mut environment = Vec::new();
        for (j, kv) in c.environment.iter().flatten().enumerate() {
            let Some(var) = kv.name.as_deref().filter(|n| !n.is_empty()) else {
                return Err(ControlError::invalid(format!(
                    "{path}.environment[{j}].name: is required"
                )));
            };
            environment.push(KeyValuePair {
                name: var.to_owned(),
                value: kv.value.clone().unwrap_or_default(),
            });
        }
        let cpu = match c.cpu {
            None => None,
            Some(n) => Some(
                u32::try_from(n)
                    .map_err(|_| ControlError::invalid(format!("{path}.cpu: must be 0 or more")))?,
            ),
        };
        let memory = match c.memory {
            None => None,
            Some(n) => Some(u64::try_from(n).ok().filter(|m| *m > 0).ok_or_else(|| {
                ControlError::invalid(format!("{path}.memory: must be greater than 0"))
            })?),
        };
        if let Some(n) = c.memory_reservation {
            let reservation = u64::try_from(n).ok().filter(|m| *m > 0).ok_or_else(|| {
                ControlError::invalid(format!("{path}.memoryReservation: must be greater than 0"))
            })?;
            container.memory_reservation = Some(reservation);
        }
        out.push(ContainerOverride {
            name: name.to_owned(),
            command: c.command.clone(),
            environment,
            cpu,
            memory,
        });
    }
    // The runtime's own merge (command replaced, environment by name, cpu/memory), so the
    // definition validated and stored is exactly the one that runs.
    crate::runtime::apply_overrides(def, &out)
        .map_err(|e| ControlError::invalid(format!("{PATH}.containerOverrides: {e}")))?;
    Ok(out)
}
