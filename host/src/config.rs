//! Host configuration: what the operator decides, as opposed to what a task definition asks for.
//!
//! Every field has an embedded default so `wasmgate run` works with no file at all; a TOML
//! file given with `--config` overrides any part of it.

use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr};
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
    pub api: ApiConfig,
    pub network: NetworkConfig,
    /// OCI registries images are pulled from (`[registry]`).
    pub registry: RegistryConfig,
    /// Host-side secret store: name → value. `repositoryCredentials.credentialsParameter` names
    /// an entry whose value is `username:password` (or JSON `{"username":…,"password":…}`).
    pub secrets: std::collections::BTreeMap<String, Secret>,
    /// The built-in load balancer: target groups and listeners (`[lb]`).
    pub lb: LbConfig,
    /// Container output and the log store (`[logs]`).
    pub logs: LogsConfig,
}

/// `[logs]`: how much container output the host keeps. Every limit is on by default, so
/// one tenant's output can never fill the disk the host's state lives on.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// Output one task may log over its life, in MiB. Each line counts its bytes plus
    /// [`LOG_LINE_OVERHEAD`] for what storing it costs; past the budget the task's lines
    /// are dropped and counted (`logLinesDropped`) and the task gets a notice.
    pub task_budget_mib: u64,
    /// Cap on the whole log store (`<data-dir>/logs.db`), in MiB; past it the oldest
    /// events of any group are deleted first.
    pub store_max_mib: u64,
    /// How often expired events (a group's `retentionInDays`) are deleted, in seconds.
    pub retention_sweep_seconds: u64,
}

/// Bytes a log line counts beyond its message against the task's budget: roughly what a
/// stored event costs in the log store (row, two index entries), so a flood of empty lines
/// cannot store far more than the budget says.
pub const LOG_LINE_OVERHEAD: u64 = 100;

const MIB: u64 = 1024 * 1024;

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            task_budget_mib: 64,
            store_max_mib: 1024,
            retention_sweep_seconds: 300,
        }
    }
}

impl LogsConfig {
    pub fn task_budget_bytes(&self) -> u64 {
        self.task_budget_mib.saturating_mul(MIB)
    }

    pub fn store_max_bytes(&self) -> u64 {
        self.store_max_mib.saturating_mul(MIB)
    }

    pub fn retention_sweep(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.retention_sweep_seconds.max(1))
    }
}

/// A secret value: never printed, not even by `{:?}`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `[registry]`: where images come from and how much of them the host keeps.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Registries (`host[:port]`) reached over plain HTTP. Loopback registries always are.
    pub insecure: Vec<String>,
    /// Size cap of the image store under `<data-dir>/images`, in MiB; least recently used
    /// images no running task uses are evicted past it.
    pub cache_max_mib: u64,
    /// Attempts for a transient failure (connection refused, 5xx) before a pull fails.
    pub max_attempts: u32,
    /// Credentials per registry (`[[registry.auths]]`).
    pub auths: Vec<RegistryAuthConfig>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            cache_max_mib: 4096,
            max_attempts: 4,
            auths: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuthConfig {
    /// `host[:port]` as written in image references.
    pub registry: String,
    pub username: String,
    pub password: Secret,
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// `wasmgate serve`: the ECS/CloudWatch-Logs-compatible API (`[api]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address the API listens on (`--listen` overrides it).
    pub listen: SocketAddr,
    /// Region in ARNs; requests must be signed for it.
    pub region: String,
    /// 12-digit account id in ARNs and default principals.
    pub account_id: String,
    /// Access keys that may sign requests (`[[api.keys]]`). With none, one key `test`/`test`
    /// exists, and the host refuses to listen on anything but a loopback address.
    pub keys: Vec<ApiKeyConfig>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 7300)),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            keys: Vec::new(),
        }
    }
}

/// One `[[api.keys]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The principal's ARN; default `arn:aws:iam::<account_id>:user/<access_key_id>`.
    #[serde(default)]
    pub principal: Option<String>,
}

/// Task networking (`[network]`): each task's loopback address and what it may reach.
///
/// Addresses and ranges are kept as text here and checked when the runtime starts
/// (`runtime::net`), so this module depends on nothing else in the crate.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// CIDR inside 127.0.0.0/8 that task addresses come from (127.0.0.1, .0 and .255 hosts
    /// and the gateway address are never handed out).
    pub pool: String,
    /// Machine-wide directory of `<ip>.lock` files (flock) that keep two `wasmgate`
    /// processes from giving out the same address; created world-writable and sticky.
    pub lock_dir: PathBuf,
    /// The address guests reach the host's `[[network.gateway]]` ports on; the name
    /// `host.wasmgate.internal` resolves to it. Default: the pool's last address but one.
    pub gateway_address: Option<String>,
    /// Outbound connections to non-loopback addresses: `"allow"` (default) or `"deny"`.
    pub egress: Egress,
    /// CIDRs still reachable when `egress = "deny"`.
    pub egress_allow: Vec<String>,
    /// Which other tasks' addresses a task may connect to (`[[network.rules]]`).
    pub rules: Vec<NetworkRuleConfig>,
    /// Host ports guests may reach through the gateway address (`[[network.gateway]]`).
    pub gateway: Vec<GatewayConfig>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            pool: "127.42.0.0/16".into(),
            lock_dir: PathBuf::from("/tmp/wasmgate-net"),
            gateway_address: None,
            egress: Egress::Allow,
            egress_allow: Vec::new(),
            rules: Vec::new(),
            gateway: Vec::new(),
        }
    }
}

/// `[network] egress`: like a public subnet's default egress, or closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    #[default]
    Allow,
    Deny,
}

/// One `[[network.rules]]` entry: lets tasks connect to other tasks. Every key given must
/// match; `family` and `service` name the *destination* task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkRuleConfig {
    /// Destination address range (CIDR or single address), e.g. `"127.42.0.0/16"`.
    pub allow: Option<String>,
    /// Destination task definition family (tasks of this host process only, for now).
    pub family: Option<String>,
    /// Destination service name (not enforced yet: needs the control plane).
    pub service: Option<String>,
    /// Destination ports; empty means every port.
    pub ports: Vec<u16>,
}

/// One `[[network.gateway]]` entry: guests connecting to the gateway address on `port`
/// reach `target` on the host (default `127.0.0.1:<port>`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub port: u16,
    #[serde(default)]
    pub target: Option<SocketAddr>,
}

/// The built-in HTTP load balancer (`[lb]`): ALB-like target groups and listeners.
/// Checked (names, ranges, references) by `lb::LoadBalancer::from_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbConfig {
    /// `[[lb.target_groups]]`: IP targets (task address + container port) and health checks.
    pub target_groups: Vec<TargetGroupConfig>,
    /// `[[lb.listeners]]`: host ports forwarding to a target group.
    pub listeners: Vec<ListenerConfig>,
}

/// One `[[lb.target_groups]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroupConfig {
    /// 1–32 characters: letters, digits, hyphens (not first or last), like ELBv2.
    pub name: String,
    /// Only `"HTTP"` (targets speak HTTP/1.1 in clear).
    #[serde(default = "default_lb_protocol")]
    pub protocol: String,
    #[serde(default)]
    pub health_check: HealthCheckConfig,
    /// How long a deregistered target may finish its in-flight requests.
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay_seconds: u64,
    #[serde(default)]
    pub algorithm: LbAlgorithm,
}

fn default_lb_protocol() -> String {
    "HTTP".into()
}

fn default_deregistration_delay() -> u64 {
    30
}

/// `algorithm` of a target group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LbAlgorithm {
    #[default]
    RoundRobin,
    LeastOutstandingRequests,
}

/// `health_check` of a target group: an HTTP GET of `path` on every target.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    pub path: String,
    pub interval_seconds: u64,
    pub timeout_seconds: u64,
    /// Consecutive successes that make a target healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures that make a target unhealthy.
    pub unhealthy_threshold: u32,
    /// Success codes: `"200"`, `"200,202"` or `"200-399"`.
    pub matcher: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            path: "/".into(),
            interval_seconds: 5,
            timeout_seconds: 2,
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            matcher: "200-399".into(),
        }
    }
}

/// One `[[lb.listeners]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Host port (0 picks a free one; the bound address is printed).
    pub port: u16,
    /// Address to bind; default 127.0.0.1.
    #[serde(default)]
    pub address: Option<std::net::IpAddr>,
    /// Name of a `[[lb.target_groups]]` entry.
    pub target_group: String,
}

impl PoolConfig {
    /// The pool for a host that runs one task (`wasmgate run`): its ≤ 10 containers plus a
    /// few hundred concurrent HTTP requests. Setting up the default pool costs ~15 ms of
    /// `mprotect` calls, most of a short run; a pool the operator tuned is kept as it is.
    pub fn for_one_task(&self) -> Self {
        if *self != Self::default() {
            return self.clone();
        }
        Self {
            total_component_instances: 256,
            total_core_instances: 1_024,
            total_memories: 256,
            total_tables: 512,
            total_stacks: 256,
            ..self.clone()
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

    #[test]
    fn network_section() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.network.pool, "127.42.0.0/16");
        assert_eq!(c.network.egress, Egress::Allow);
        let c: HostConfig = toml::from_str(
            "[network]\npool = \"127.77.0.0/24\"\negress = \"deny\"\negress_allow = [\"10.0.0.0/8\"]\n\
             [[network.rules]]\nallow = \"127.77.0.0/24\"\nports = [80]\n\
             [[network.gateway]]\nport = 5432\n",
        )
        .unwrap();
        assert_eq!(c.network.egress, Egress::Deny);
        assert_eq!(c.network.rules[0].ports, vec![80]);
        assert_eq!(c.network.gateway[0].port, 5432);
        assert_eq!(c.network.gateway[0].target, None);
    }

    #[test]
    fn logs_section() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.logs.task_budget_bytes(), 64 << 20);
        assert_eq!(c.logs.store_max_bytes(), 1 << 30);
        assert_eq!(c.logs.retention_sweep().as_secs(), 300);
        let c: HostConfig = toml::from_str(
            "[logs]\ntask_budget_mib = 1\nstore_max_mib = 8\nretention_sweep_seconds = 0\n",
        )
        .unwrap();
        assert_eq!(c.logs.task_budget_bytes(), 1 << 20);
        assert_eq!(c.logs.store_max_bytes(), 8 << 20);
        assert_eq!(c.logs.retention_sweep().as_secs(), 1, "never a busy loop");
        let e = toml::from_str::<HostConfig>("[logs]\nbudget = 1\n").unwrap_err();
        assert!(e.to_string().contains("budget"), "{e}");
    }

    #[test]
    fn api_section() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.api.listen.to_string(), "127.0.0.1:7300");
        assert_eq!(c.api.region, "us-east-1");
        assert_eq!(c.api.account_id, "000000000000");
        assert!(c.api.keys.is_empty());
        let c: HostConfig = toml::from_str(
            "[api]\nlisten = \"0.0.0.0:8080\"\naccount_id = \"123456789012\"\n\
             [[api.keys]]\naccess_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"s3cr3t\"\n\
             [[api.keys]]\naccess_key_id = \"ops\"\nsecret_access_key = \"x\"\n\
             principal = \"arn:aws:iam::123456789012:role/ops\"\n",
        )
        .unwrap();
        assert_eq!(c.api.listen.port(), 8080);
        assert_eq!(c.api.keys.len(), 2);
        assert_eq!(c.api.keys[0].principal, None);
        assert_eq!(
            c.api.keys[1].principal.as_deref(),
            Some("arn:aws:iam::123456789012:role/ops")
        );
        let e = toml::from_str::<HostConfig>("[api]\nlisten = \"localhost\"\n").unwrap_err();
        assert!(e.to_string().contains("listen"), "{e}");
    }
}
