//! Task-level types of an ECS task definition, in ECS's JSON shape (camelCase), so
//! the JSON a user gives ECS works here and prints back the same way.

use serde::{Deserialize, Serialize};

use super::container::ContainerDefinition;
use super::markers::{OutputOnly, Unsupported};
use super::serde_glue;

/// Ephemeral storage ECS gives a Fargate task when none is asked for.
pub const DEFAULT_EPHEMERAL_STORAGE_GIB: u32 = 20;

/// Network mode of every wasmgate task (a per-task loopback address).
pub const AWSVPC: &str = "awsvpc";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub family: String,
    /// Cpu units (1024 = 1 vCPU); 0 only when the JSON left it out.
    #[serde(
        default,
        deserialize_with = "serde_glue::cpu",
        serialize_with = "serde_glue::as_string"
    )]
    pub cpu: u32,
    /// MiB; 0 only when the JSON left it out.
    #[serde(
        default,
        deserialize_with = "serde_glue::memory",
        serialize_with = "serde_glue::as_string"
    )]
    pub memory: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub requires_compatibilities: Vec<String>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub container_definitions: Vec<ContainerDefinition>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<Tag>,

    // What `describe-task-definition` adds: accepted silently and dropped.
    #[serde(default, skip_serializing)]
    pub task_definition_arn: OutputOnly,
    #[serde(default, skip_serializing)]
    pub revision: OutputOnly,
    #[serde(default, skip_serializing)]
    pub status: OutputOnly,
    #[serde(default, skip_serializing)]
    pub requires_attributes: OutputOnly,
    #[serde(default, skip_serializing)]
    pub compatibilities: OutputOnly,
    #[serde(default, skip_serializing)]
    pub registered_at: OutputOnly,
    #[serde(default, skip_serializing)]
    pub registered_by: OutputOnly,
    #[serde(default, skip_serializing)]
    pub deregistered_at: OutputOnly,
    #[serde(default, skip_serializing)]
    pub delete_requested_at: OutputOnly,

    // Real ECS members wasmgate does not honour yet: a warning when set.
    #[serde(default, skip_serializing)]
    pub placement_constraints: Unsupported,
    #[serde(default, skip_serializing)]
    pub runtime_platform: Unsupported,
    #[serde(default, skip_serializing)]
    pub proxy_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub inference_accelerators: Unsupported,
    #[serde(default, skip_serializing)]
    pub ipc_mode: Unsupported,
    #[serde(default, skip_serializing)]
    pub pid_mode: Unsupported,
    #[serde(default, skip_serializing)]
    pub enable_fault_injection: Unsupported,
}

impl TaskDefinition {
    /// GiB of ephemeral storage the task gets (ECS default 20).
    pub fn ephemeral_storage_gib(&self) -> u32 {
        self.ephemeral_storage
            .as_ref()
            .map_or(DEFAULT_EPHEMERAL_STORAGE_GIB, |storage| storage.size_in_gib)
    }

    pub fn container(&self, name: &str) -> Option<&ContainerDefinition> {
        self.container_definitions.iter().find(|c| c.name == name)
    }

    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.name == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostVolume>,

    // Real ECS members wasmgate does not honour yet: a warning when set.
    #[serde(default, skip_serializing)]
    pub docker_volume_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub efs_volume_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub fsx_windows_file_server_volume_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub s3files_volume_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub configured_at_launch: Unsupported,
}

/// A host bind mount when `source_path` is set; otherwise ECS's empty `host: {}`,
/// which is the same as a plain task-scoped volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostVolume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralStorage {
    #[serde(rename = "sizeInGiB", default)]
    pub size_in_gib: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub key: String,
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub value: String,
}
