//! Host configuration: what the operator decides, as opposed to what a task definition asks for.
//!
//! Every field has an embedded default so `wasmgate run` works with no file at all; a TOML
//! file given with `--config` overrides any part of it.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading the host configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    /// Where the log store, compiled-component cache and task directories live.
    pub data_dir: Option<PathBuf>,
    pub fuel: FuelConfig,
    pub cpu: CpuConfig,
    pub storage: StorageConfig,
    pub pool: PoolConfig,
}

/// Fuel is the CPU meter (billing, metrics) and an optional hard budget per container.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuelConfig {
    /// Instrument guests to count fuel. Off saves ~5–20% CPU on call-heavy guests.
    pub enabled: bool,
    /// Budget for containers whose definition does not set the `wasmgate.fuel-budget` label.
    pub default_budget: Option<u64>,
}

impl Default for FuelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_budget: None,
        }
    }
}

/// CPU shares are enforced by time: each container gets `units/1024` of every period.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpuConfig {
    /// How often the engine's epoch advances; a running guest yields at each tick.
    pub tick_ms: u64,
    /// The accounting period over which a container's share is measured.
    pub period_ms: u64,
}

impl Default for CpuConfig {
    fn default() -> Self {
        Self {
            tick_ms: 2,
            period_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Allow `volumes[].host.sourcePath` (bind mounts); for local testing only.
    pub allow_bind_mounts: bool,
    /// Caps every task's storage below its `ephemeralStorage` (small edge hosts, tests).
    pub max_task_storage_mib: Option<u64>,
}

/// Sizes of the pooling allocator: how many guests can be alive at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Use the pooling allocator (fast instantiation); off means on-demand allocation.
    pub enabled: bool,
    pub total_component_instances: u32,
    pub total_core_instances: u32,
    pub total_memories: u32,
    pub total_tables: u32,
    pub total_stacks: u32,
    /// Largest linear memory a guest may have, in MiB (wasm32 tops out at 4096).
    pub max_memory_mib: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            total_component_instances: 4_000,
            total_core_instances: 16_000,
            total_memories: 4_000,
            total_tables: 8_000,
            total_stacks: 4_000,
            max_memory_mib: 4_096,
        }
    }
}

impl HostConfig {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The data directory: the configured one, else the user's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("wasmgate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert!(c.fuel.enabled);
        assert_eq!(c.cpu.period_ms, 100);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = toml::from_str::<HostConfig>("[fuel]\nenabeld = false\n").unwrap_err();
        assert!(e.to_string().contains("enabeld"), "{e}");
    }
}
