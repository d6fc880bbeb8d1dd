//! Container-level types of an ECS task definition (`containerDefinitions[]`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::markers::Unsupported;
use super::serde_glue;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub name: String,
    /// A Wasm component: file path, `file://` URL or OCI reference.
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Hard limit in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Soft limit in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub command: Vec<String>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entry_point: Vec<String>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub environment: Vec<KeyValuePair>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub port_mappings: Vec<PortMapping>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mount_points: Vec<MountPoint>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub depends_on: Vec<ContainerDependency>,
    /// Seconds between the stop signal and dropping the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readonly_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub docker_labels: BTreeMap<String, String>,
    /// Kept only so that `true` can be refused rather than silently ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Kept verbatim; the runtime parses it (`runtime::health`: HTTP GET checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<serde_json::Value>,
    /// Registry credentials: the name of a secret in the host's secret store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_credentials: Option<RepositoryCredentials>,
    /// Environment variables whose values come from SSM parameters or Secrets Manager
    /// secrets, read as the execution role when the container starts (only `valueFrom`
    /// is ever stored or shown).
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<Secret>,

    // Real ECS members wasmgate does not honour yet: a warning when set.
    #[serde(default, skip_serializing)]
    pub links: Unsupported,
    #[serde(default, skip_serializing)]
    pub hostname: Unsupported,
    #[serde(default, skip_serializing)]
    pub user: Unsupported,
    #[serde(default, skip_serializing)]
    pub dns_servers: Unsupported,
    #[serde(default, skip_serializing)]
    pub dns_search_domains: Unsupported,
    #[serde(default, skip_serializing)]
    pub extra_hosts: Unsupported,
    #[serde(default, skip_serializing)]
    pub interactive: Unsupported,
    #[serde(default, skip_serializing)]
    pub pseudo_terminal: Unsupported,
    #[serde(default, skip_serializing)]
    pub start_timeout: Unsupported,
    #[serde(default, skip_serializing)]
    pub system_controls: Unsupported,
    #[serde(default, skip_serializing)]
    pub firelens_configuration: Unsupported,
    #[serde(default, skip_serializing)]
    pub resource_requirements: Unsupported,
    #[serde(default, skip_serializing)]
    pub restart_policy: Unsupported,
    #[serde(default, skip_serializing)]
    pub version_consistency: Unsupported,
    #[serde(default, skip_serializing)]
    pub credential_specs: Unsupported,
    #[serde(default, skip_serializing)]
    pub ulimits: Unsupported,
    #[serde(default, skip_serializing)]
    pub linux_parameters: Unsupported,
    #[serde(default, skip_serializing)]
    pub disable_networking: Unsupported,
    #[serde(default, skip_serializing)]
    pub docker_security_options: Unsupported,
    #[serde(default, skip_serializing)]
    pub volumes_from: Unsupported,
    #[serde(default, skip_serializing)]
    pub environment_files: Unsupported,
}

/// ECS `repositoryCredentials`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryCredentials {
    pub credentials_parameter: String,
}

/// ECS `Secret`: an environment variable (or log option) and where its value comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub name: String,
    /// An SSM parameter name or ARN, or a Secrets Manager secret ARN (optionally with
    /// `:<json-key>:<version-stage>:<version-id>`).
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub value_from: String,
}

impl ContainerDefinition {
    /// ECS treats a container as essential unless it says otherwise.
    pub fn is_essential(&self) -> bool {
        self.essential.unwrap_or(true)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValuePair {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// u32 rather than u16 so that 70000 gets a range error, not a type error.
    #[serde(default)]
    pub container_port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u32>,
    /// "tcp" (default) or "udp".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,

    // Real ECS members wasmgate does not honour yet: a warning when set.
    #[serde(default, skip_serializing)]
    pub container_port_range: Unsupported,
    #[serde(default, skip_serializing)]
    pub host_port_range: Unsupported,
}

impl PortMapping {
    pub fn protocol(&self) -> &str {
        self.protocol.as_deref().unwrap_or("tcp")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub source_volume: String,
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub container_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

impl MountPoint {
    pub fn is_read_only(&self) -> bool {
        self.read_only.unwrap_or(false)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDependency {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub container_name: String,
    pub condition: DependencyCondition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DependencyCondition {
    /// The dependency has started.
    Start,
    /// The dependency has exited, with any code.
    Complete,
    /// The dependency has exited with code 0.
    Success,
    /// The dependency's health check passed.
    Healthy,
}

impl DependencyCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Start => "START",
            DependencyCondition::Complete => "COMPLETE",
            DependencyCondition::Success => "SUCCESS",
            DependencyCondition::Healthy => "HEALTHY",
        }
    }

    /// Conditions that wait for the dependency to exit.
    pub fn waits_for_exit(self) -> bool {
        matches!(
            self,
            DependencyCondition::Complete | DependencyCondition::Success
        )
    }
}

impl fmt::Display for DependencyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    #[serde(default, deserialize_with = "serde_glue::null_as_default")]
    pub log_driver: String,
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
    /// Log driver options whose values are secrets (`{name, valueFrom}`), read as the
    /// execution role before the container starts, like `secrets`: a missing or denied
    /// one stops the task. The awslogs driver takes no secret option, so the values are
    /// read (and checked) but go nowhere.
    #[serde(
        default,
        deserialize_with = "serde_glue::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secret_options: Vec<Secret>,
}
