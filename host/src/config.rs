//! Host configuration: what the operator decides, as opposed to what a task definition asks for.
//!
//! Every field has an embedded default so `wasmgate run` works with no file at all; a TOML
//! file given with `--config` overrides any part of it.

use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::{NonZeroU64, NonZeroUsize};
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
    /// Where `serve` resolves a relative file `image` (RegisterTaskDefinition has no file to
    /// be relative to): this folder (relative to the config file's), else the working
    /// directory `serve` started in. `run` and `validate` use the definition file's folder.
    pub image_root: Option<PathBuf>,
    pub fuel: FuelConfig,
    /// How components become machine code (`[compile]`).
    pub compile: CompileConfig,
    pub cpu: CpuConfig,
    pub storage: StorageConfig,
    pub pool: PoolConfig,
    /// How many tasks, CPU units and MiB this host takes before RunTask answers with
    /// `RESOURCE:*` failures (`[capacity]`).
    pub capacity: CapacityConfig,
    /// Limits on every HTTP container's ports and requests (`[http]`).
    pub http: HttpConfig,
    pub api: ApiConfig,
    pub network: NetworkConfig,
    /// Bounds on what one container may make the host hold (`[limits]`).
    pub limits: LimitsConfig,
    /// OCI registries images are pulled from (`[registry]`).
    pub registry: RegistryConfig,
    /// Host-side secret store (`[secrets]`): name → value and the registries it may be sent to.
    /// `repositoryCredentials.credentialsParameter` names an entry whose value is
    /// `username:password` (or JSON `{"username":…,"password":…}`).
    pub secrets: std::collections::BTreeMap<String, HostSecret>,
    /// The built-in load balancer: target groups and listeners (`[lb]`).
    pub lb: LbConfig,
    /// Container output and the log store (`[logs]`).
    pub logs: LogsConfig,
    /// The metrics store and CloudWatch alarms (`[metrics]`).
    pub metrics: MetricsConfig,
    /// Usage records and the prices `wasmgate usage` bills at (`[usage]`).
    pub usage: UsageConfig,
}

/// `[usage]`: prices (USD; defaults are Fargate's Linux/x86 list prices) and how often the
/// meter writes. A crashed host's running tasks are billed up to its last heartbeat.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageConfig {
    pub vcpu_hour_usd: f64,
    pub gb_hour_usd: f64,
    /// How often `serve` writes its heartbeat and closes the records of stopped tasks.
    pub heartbeat_seconds: u64,
    /// How often a running task's record is rewritten with its meters.
    pub record_seconds: u64,
    /// Records of tasks that ended longer ago than this are deleted.
    pub retention_days: u64,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            vcpu_hour_usd: 0.04048,
            gb_hour_usd: 0.004445,
            heartbeat_seconds: 10,
            record_seconds: 60,
            retention_days: 400,
        }
    }
}

impl UsageConfig {
    /// Checks the prices; the error names the field and the rule.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("vcpu_hour_usd", self.vcpu_hour_usd),
            ("gb_hour_usd", self.gb_hour_usd),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!(
                    "[usage] {name}: must be a price of 0 or more, got {v}"
                ));
            }
        }
        Ok(())
    }

    pub fn heartbeat(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_seconds.max(1))
    }

    pub fn record(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.record_seconds.max(1))
    }
}

/// `[metrics]`: how much metric history the host keeps (`<data-dir>/metrics.db` and its
/// in-memory copy) and how often alarms are evaluated.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Most time series kept; a new series past it evicts the one written least recently.
    pub max_series: usize,
    /// Cap on the samples and aggregates kept, in MiB (memory; the file holds the same
    /// rows). Past it the oldest data of every series goes first.
    pub max_mib: u64,
    /// How often every alarm is evaluated, in seconds.
    pub alarm_evaluation_seconds: u64,
    /// Resolution of the host's per-task and per-container series (`TaskId` level of
    /// ECS/ContainerInsights, `wasmgate` per container): 1 (default) or 60 (standard
    /// resolution, timestamps on the minute, as Container Insights publishes them; the
    /// store still keeps their raw values for percentiles, so this does not shrink the
    /// footprint). Cluster, service and family series are always 1 s.
    pub task_resolution_seconds: u32,
    /// Whether the host publishes its own metrics (AWS/ECS, ECS/ContainerInsights,
    /// AWS/ApplicationELB, wasmgate) every 10 s; the API works either way.
    pub publish: bool,
    /// PutMetricData requests one caller (principal ARN) may make per second; past it
    /// `Throttling` ("Rate exceeded"), as CloudWatch answers.
    pub put_requests_per_second: u32,
    /// Values (a Value, each of Values, a StatisticValues) one caller may put per second.
    pub put_values_per_second: u32,
    /// Series one API caller may create (and hold at once); past it `LimitExceeded`.
    pub max_series_per_caller: usize,
    /// Series all API callers together may hold, so that the host's own always fit in
    /// `max_series`.
    pub max_custom_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_series: 50_000,
            max_mib: 512,
            alarm_evaluation_seconds: 10,
            task_resolution_seconds: 1,
            publish: true,
            put_requests_per_second: 500,
            put_values_per_second: 20_000,
            max_series_per_caller: 5_000,
            max_custom_series: 20_000,
        }
    }
}

impl MetricsConfig {
    pub fn max_bytes(&self) -> u64 {
        self.max_mib.saturating_mul(MIB)
    }

    pub fn alarm_evaluation(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.alarm_evaluation_seconds.max(1))
    }
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

/// One `[secrets]` entry. A secret goes only where the operator said it may: a task
/// definition names the secret *and* the registry, so without this binding anyone who can
/// register a definition could have the host send the secret to a server of their own.
///
/// ```toml
/// [secrets.team-registry]
/// value = "ci:…"
/// registries = ["registry.example.com"]     # image references' registry, as written
/// token_realms = ["auth.example.com"]       # optional: token services on other hosts
/// [secrets]
/// legacy = "ci:…"                           # plain form: bound to no registry, so refused
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSecret {
    pub value: Secret,
    /// Registries (`host[:port]`, as written in image references, case-insensitive) that
    /// pulls and pushes may send this secret to. Empty (the plain form): none.
    pub registries: Vec<String>,
    /// Token services (`host[:port]`) other than the registry itself that a registry's
    /// `WWW-Authenticate: Bearer realm=…` may send this secret to (Docker Hub's
    /// `auth.docker.io`). A realm on the registry's own host and port needs no entry.
    pub token_realms: Vec<String>,
}

impl HostSecret {
    /// A secret bound to no registry (the plain `name = "value"` form).
    pub fn unbound(value: impl Into<String>) -> Self {
        Self {
            value: Secret::new(value),
            registries: Vec::new(),
            token_realms: Vec::new(),
        }
    }

    /// A secret that may be sent to `registries`.
    pub fn bound(value: impl Into<String>, registries: &[&str]) -> Self {
        Self {
            value: Secret::new(value),
            registries: registries.iter().map(|r| (*r).to_owned()).collect(),
            token_realms: Vec::new(),
        }
    }

    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// True when the secret may be sent to `registry` (`host[:port]`).
    pub fn allows_registry(&self, registry: &str) -> bool {
        self.registries
            .iter()
            .any(|r| r.eq_ignore_ascii_case(registry))
    }
}

impl<'de> Deserialize<'de> for HostSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            value: Secret,
            #[serde(default)]
            registries: Vec<String>,
            #[serde(default)]
            token_realms: Vec<String>,
        }
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = HostSecret;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a string, or a table { value = \"…\", registries = [\"host[:port]\"] }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HostSecret, E> {
                Ok(HostSecret::unbound(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<HostSecret, A::Error> {
                let t = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                for (field, hosts) in [
                    ("registries", &t.registries),
                    ("token_realms", &t.token_realms),
                ] {
                    for h in hosts {
                        check_host_port(h).map_err(|why| {
                            serde::de::Error::custom(format!("{field}: {h:?} {why}"))
                        })?;
                    }
                }
                Ok(HostSecret {
                    value: t.value,
                    registries: t.registries,
                    token_realms: t.token_realms,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `host[:port]` as image references write registries: no scheme, path or spaces.
fn check_host_port(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        Err("is empty (expected host[:port])")
    } else if s.contains("://") {
        Err("has a scheme (expected host[:port], e.g. \"registry.example.com\")")
    } else if s.contains('/') {
        Err("has a path (expected host[:port])")
    } else if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("has spaces (expected host[:port])")
    } else {
        Ok(())
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
    /// Largest manifest a pull reads, in KiB; a bigger one fails the pull.
    pub max_manifest_kib: u64,
    /// Largest component layer a pull fetches, in MiB; a bigger one fails the pull before
    /// any byte is written, and a registry that sends more than it declared is cut off.
    pub max_component_mib: u64,
    /// Run a digest-pinned image found in the store without asking the registry, for hosts
    /// that cannot reach it (air-gapped). Off: every start proves, with the task's own
    /// credentials, that the registry still serves the image to it (a manifest `HEAD`), as
    /// Kubernetes' `AlwaysPullImages` does. On, anyone on this host who names a cached
    /// `registry/repository@digest` runs it, with or without credentials.
    pub trust_cache: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            cache_max_mib: 4096,
            max_attempts: 4,
            auths: Vec::new(),
            max_manifest_kib: 4096,
            max_component_mib: 256,
            trust_cache: false,
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
    /// Token services (`host[:port]`) on other hosts the registry may send these credentials
    /// to (see `HostSecret::token_realms`).
    #[serde(default)]
    pub token_realms: Vec<String>,
}

/// Fuel: a second CPU meter, counted in wasm instructions (`fuelConsumed`, the `FuelConsumed`
/// metric), and an optional hard budget per container. CPU time is metered exactly for every
/// container either way; fuel costs the guest 5–20 % of its speed, so by default only the
/// containers with a budget count it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FuelConfig {
    /// Off: no container counts fuel, and fuel budgets are not enforced.
    pub enabled: bool,
    /// Which containers count fuel: `"budgeted"` (those with a `wasmgate.fuel-budget` label
    /// or a `default_budget`) or `"all"`.
    pub meter: FuelMeter,
    /// Budget for containers whose definition does not set the `wasmgate.fuel-budget` label
    /// (every container then counts fuel).
    pub default_budget: Option<u64>,
}

/// `[fuel] meter`: which containers count fuel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FuelMeter {
    /// Only containers with a fuel budget: the others run uninstrumented code.
    Budgeted,
    /// Every container, budget or not (`fuelConsumed` for all, at the instrumentation's cost).
    All,
}

impl Default for FuelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            meter: FuelMeter::Budgeted,
            default_budget: None,
        }
    }
}

/// `[compile]`: how a component becomes machine code.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompileConfig {
    /// Tiered compilation: a component with no compiled artifact yet starts on Winch,
    /// wasmtime's baseline compiler (compiles in a fraction of the time, runs slower code),
    /// while Cranelift compiles it in the background; new instances use Cranelift's
    /// artifact once it is ready. Off: every cold start waits for Cranelift.
    pub tiered: bool,
}

impl Default for CompileConfig {
    fn default() -> Self {
        Self { tiered: true }
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

/// `[storage]`: task directories, the storage quota, and what a guest may do to the host's
/// file system. The limits are on by default; zero is refused (a value that large is
/// the way to loosen one).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Allow `volumes[].host.sourcePath` (bind mounts); for local testing only.
    pub allow_bind_mounts: bool,
    /// Caps every task's storage below its `ephemeralStorage` (small edge hosts, tests).
    pub max_task_storage_mib: Option<u64>,
    /// Files and directories one container may hold open at once (each is a host
    /// descriptor); past it opens fail with `insufficient-memory` (ENOMEM).
    pub max_open_files: NonZeroUsize,
    /// Directory levels below a container's root or a volume; deeper ones are refused with
    /// `name-too-long`.
    pub max_path_depth: NonZeroUsize,
    /// Bytes of a path below a container's root or a volume (keeps host paths under
    /// PATH_MAX); longer ones are refused with `name-too-long`.
    pub max_path_bytes: NonZeroUsize,
    /// Entries a storage re-measure walks at most; a task with more that reaches its quota
    /// estimate has the write refused rather than costing the host an unbounded walk.
    pub measure_max_entries: NonZeroU64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            allow_bind_mounts: false,
            max_task_storage_mib: None,
            max_open_files: NonZeroUsize::new(256).expect("non-zero"),
            max_path_depth: NonZeroUsize::new(128).expect("non-zero"),
            max_path_bytes: NonZeroUsize::new(2048).expect("non-zero"),
            measure_max_entries: NonZeroU64::new(1_000_000).expect("non-zero"),
        }
    }
}

/// `[capacity]`: when this host is full. A task holds its share from RunTask until it is
/// STOPPED; one that does not fit is refused with ECS's `failures` (`RESOURCE:CPU`,
/// `RESOURCE:MEMORY`) and nothing starts.
///
/// A task's `cpu` and `memory` are ceilings the host enforces (CPU time per period, a
/// memory limiter), not memory or cores set aside: an idle task holds about a hundred KiB
/// and no CPU. So by default only what a task really takes is counted (a pool instance per
/// container, and the host's free memory); `cpu_units` and `memory_mib` add ECS-style
/// reservations for an operator who wants declared sizes to add up, as on an EC2
/// container instance.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapacityConfig {
    /// Tasks alive (not STOPPED) at once. Default: as many as the pool has instances for
    /// (one per container).
    pub max_tasks: Option<u32>,
    /// CPU units (1024 a vCPU) all tasks' task-level `cpu` may add up to. Default: not
    /// counted. `RESOURCE:CPU` past it.
    pub cpu_units: Option<u64>,
    /// MiB all tasks' task-level `memory` may add up to. Default: not counted.
    /// `RESOURCE:MEMORY` past it.
    pub memory_mib: Option<u64>,
    /// Memory the host keeps for itself: while the machine's available memory
    /// (`MemAvailable`) is below it, new tasks get `RESOURCE:MEMORY`. Default: 2% of the
    /// physical memory, at least 64 and at most 512 MiB.
    pub memory_reserve_mib: Option<u64>,
}

/// The machine's physical memory in MiB (`None` where the OS does not say).
pub fn physical_memory_mib() -> Option<u64> {
    // SAFETY: sysconf reads a value; no memory effects.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let pages = u64::try_from(pages).ok()?;
    let size = u64::try_from(size).ok()?;
    Some(pages.saturating_mul(size) / MIB)
}

/// Pool instances for a machine with `memory_mib` of memory: one per 2 MiB, 1,024 to
/// 16,384. An idle task costs well under 2 MiB, and 16,384 slots of 4 GiB address space
/// each stay within half of x86-64's 128 TiB user address space.
pub fn pool_slots_for(memory_mib: Option<u64>) -> u32 {
    let slots = memory_mib.unwrap_or(8 * 1024) / 2;
    u32::try_from(slots.clamp(1_024, 16_384)).unwrap_or(16_384)
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
    /// Share of the pool's instances (percent) HTTP request instances never take, so that
    /// command containers, and with them new tasks, can start however busy HTTP is.
    pub command_reserve_percent: u32,
    /// Most of the pool's instances (percent) one task's HTTP requests may hold at once.
    pub task_share_percent: u32,
    /// Dirty pages of a freed linear memory (KiB) reset with `memset` and kept, rather
    /// than given back with `madvise`: each `madvise` of pages another core may have
    /// cached costs a TLB-shootdown IPI, which was a quarter of the host's time under a
    /// fresh-instance-per-request HTTP load. The cost is RSS: a freed slot keeps up to
    /// this much of its pages.
    pub memory_keep_resident_kib: u64,
    /// The same for a freed instance's tables.
    pub table_keep_resident_kib: u64,
}

impl Default for PoolConfig {
    /// Sized from the machine's memory ([`pool_slots_for`]): 12,288 instances on 24 GiB.
    fn default() -> Self {
        static SLOTS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let slots = *SLOTS.get_or_init(|| pool_slots_for(physical_memory_mib()));
        Self {
            enabled: true,
            total_component_instances: slots,
            total_core_instances: slots.saturating_mul(4),
            total_memories: slots,
            total_tables: slots.saturating_mul(2),
            total_stacks: slots,
            max_memory_mib: 4_096,
            command_reserve_percent: 10,
            task_share_percent: 25,
            memory_keep_resident_kib: 1_024,
            table_keep_resident_kib: 64,
        }
    }
}

/// `[http]`: what one HTTP container may take, whoever sends it requests (its port, a
/// listener of the load balancer, a sibling in the task).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Request instances one container runs at once.
    pub max_concurrent_requests: u32,
    /// Requests waiting for one of those; past it a request gets 503 with `Retry-After`.
    pub max_queued_requests: u32,
    /// How long a request may wait in that queue before it gets the same 503.
    pub queue_timeout_seconds: u64,
    /// A client has this long to send a request's headers, and an open connection this
    /// long to start its next request (slow-loris guard).
    pub header_read_timeout_seconds: u64,
    /// A request body that sends nothing for this long is cut (the instance sees an error).
    pub body_read_timeout_seconds: u64,
    /// Open connections per container port; more are closed as they arrive.
    pub max_connections_per_port: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 32,
            max_queued_requests: 64,
            queue_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            max_connections_per_port: 256,
        }
    }
}

impl HttpConfig {
    /// Checks every setting; the error names the field and the rule.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            (
                "max_concurrent_requests",
                u64::from(self.max_concurrent_requests),
            ),
            ("queue_timeout_seconds", self.queue_timeout_seconds),
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("body_read_timeout_seconds", self.body_read_timeout_seconds),
            (
                "max_connections_per_port",
                u64::from(self.max_connections_per_port),
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(format!("[http] {field}: must be at least 1, got 0"));
            }
        }
        Ok(())
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
    /// Open connections at most; past it a new connection replaces the one that has gone
    /// longest without a request in progress, or is closed at once when all have one.
    pub max_connections: usize,
    /// A connection must deliver a request's headers within this many seconds of opening
    /// (or of its previous response), else it is closed.
    pub header_read_timeout_seconds: u64,
    /// An authenticated request's body must arrive within this many seconds.
    pub body_read_timeout_seconds: u64,
    /// A connection over which nothing moved either way for this long is closed.
    pub idle_timeout_seconds: u64,
    /// Request bodies buffered at once over all connections, in MiB; a request that would
    /// go past it waits (up to the body timeout), then gets `ThrottlingException`.
    pub max_body_in_flight_mib: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 7300)),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            keys: Vec::new(),
            max_connections: 256,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 20,
            idle_timeout_seconds: 120,
            max_body_in_flight_mib: 32,
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
    /// Machine-wide directory of `addresses.lock`, whose byte locks (one per address, one
    /// descriptor per process) keep two `wasmgate` processes from giving out the same
    /// address; created world-writable and sticky.
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
    /// Name lookups one container may have in flight at once; past it a lookup fails at
    /// once with `temporary-resolver-failure` (each lookup holds a host thread).
    pub max_lookups_per_container: u32,
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
            max_lookups_per_container: 8,
        }
    }
}

/// `[limits]`: what one container may make the host hold, so that no tenant can take the
/// host's descriptors or memory from the others. Shared by the socket and file shadows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sockets one container may hold open at once: TCP and UDP sockets, accepted
    /// connections and outgoing wasi:http connections. Past it, creating one fails with
    /// `new-socket-limit` (wasi:http: `connection-limit-reached`).
    pub max_sockets_per_container: u32,
    /// Share of the process's open-file limit (`RLIMIT_NOFILE`, raised to the hard limit at
    /// start) kept for the host: the API, listeners, logs and starting tasks. All guests'
    /// sockets and files together get the rest.
    pub descriptor_reserve_percent: u8,
    /// Handles one container instance may hold in its resource table (sockets, streams,
    /// pollables, HTTP fields, open files). Past it the guest traps.
    pub max_handles_per_instance: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_sockets_per_container: 256,
            descriptor_reserve_percent: 25,
            max_handles_per_instance: 16_384,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbConfig {
    /// `[[lb.target_groups]]`: IP targets (task address + container port) and health checks.
    pub target_groups: Vec<TargetGroupConfig>,
    /// `[[lb.listeners]]`: host ports forwarding to a target group.
    pub listeners: Vec<ListenerConfig>,
    /// Open connections per listener at most; past it a new connection replaces the one
    /// that has gone longest without a request in progress, or is closed at once.
    pub max_connections: usize,
    /// A connection must deliver a request's headers within this many seconds of opening
    /// (or of its previous response), else it is closed (slowloris, idle keep-alive).
    pub header_read_timeout_seconds: u64,
    /// A connection over which nothing moved either way for this long is closed, even
    /// mid-request (like ALB's idle timeout).
    pub idle_timeout_seconds: u64,
    /// A target that is an HTTP container of this host gets its requests handed over
    /// in-process (no loopback connection); `false` sends them over TCP like any target.
    pub in_process: bool,
}

impl Default for LbConfig {
    fn default() -> Self {
        Self {
            target_groups: Vec::new(),
            listeners: Vec::new(),
            max_connections: 512,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            in_process: true,
        }
    }
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
            // The one task has nobody to share the pool with (the reserve still keeps room
            // for its command containers).
            task_share_percent: 100,
            ..self.clone()
        }
    }

    /// Instances the pool holds for whole containers: the scarcest of component
    /// instances, memories and stacks (each container needs one of each). `None` without
    /// a pool (on-demand allocation has no fixed number).
    pub fn container_slots(&self) -> Option<u32> {
        self.enabled.then(|| {
            self.total_component_instances
                .min(self.total_memories)
                .min(self.total_stacks)
        })
    }

    /// Checks the shares; the error names the field and the rule.
    pub fn validate(&self) -> Result<(), String> {
        if self.command_reserve_percent >= 100 {
            return Err(format!(
                "[pool] command_reserve_percent: must be below 100 (HTTP requests need some \
                 of the pool), got {}",
                self.command_reserve_percent
            ));
        }
        if !(1..=100).contains(&self.task_share_percent) {
            return Err(format!(
                "[pool] task_share_percent: must be 1 to 100, got {}",
                self.task_share_percent
            ));
        }
        let max_kib = self.max_memory_mib.saturating_mul(1024);
        if self.memory_keep_resident_kib > max_kib {
            return Err(format!(
                "[pool] memory_keep_resident_kib: must not exceed max_memory_mib ({max_kib} \
                 KiB), got {}",
                self.memory_keep_resident_kib
            ));
        }
        if self.table_keep_resident_kib > 1024 * 1024 {
            return Err(format!(
                "[pool] table_keep_resident_kib: must be at most 1048576 (1 GiB), got {}",
                self.table_keep_resident_kib
            ));
        }
        Ok(())
    }
}

impl HostConfig {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        // A relative `image_root` means the same folder wherever `serve` is started.
        if let (Some(root), Some(dir)) = (&config.image_root, path.parent()) {
            config.image_root = Some(dir.join(root));
        }
        Ok(config)
    }

    /// The folder `serve` resolves relative file images against (see `image_root`).
    pub fn image_root(&self) -> PathBuf {
        let root = match &self.image_root {
            Some(r) => r.clone(),
            None => PathBuf::from("."),
        };
        std::path::absolute(&root).unwrap_or(root)
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
    fn a_relative_image_root_is_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wasmgate.toml");
        std::fs::write(&path, "image_root = \"images\"\n").unwrap();
        let c = HostConfig::load(&path).unwrap();
        assert_eq!(c.image_root(), dir.path().join("images"));
        // Unset: the working directory.
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(HostConfig::default().image_root(), cwd.join("."));
    }

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
    fn http_and_pool_limits_are_on_by_default() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.http.max_concurrent_requests, 32);
        assert_eq!(c.http.max_queued_requests, 64);
        assert_eq!(c.http.header_read_timeout_seconds, 10);
        assert_eq!(c.http.max_connections_per_port, 256);
        assert_eq!(c.pool.command_reserve_percent, 10);
        assert_eq!(c.pool.task_share_percent, 25);
        assert_eq!(c.http.validate(), Ok(()));
        assert_eq!(c.pool.validate(), Ok(()));
        assert_eq!(c.pool.for_one_task().task_share_percent, 100);
    }

    #[test]
    fn usage_prices_default_to_fargate_and_a_negative_price_is_refused() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(
            (c.usage.vcpu_hour_usd, c.usage.gb_hour_usd),
            (0.04048, 0.004445)
        );
        assert_eq!(c.usage.validate(), Ok(()));
        let c: HostConfig = toml::from_str("[usage]\ngb_hour_usd = -1.0\n").unwrap();
        let e = c.usage.validate().unwrap_err();
        assert!(e.contains("[usage] gb_hour_usd"), "{e}");
    }

    #[test]
    fn bad_http_and_pool_limits_name_the_field() {
        let c: HostConfig = toml::from_str("[http]\nmax_concurrent_requests = 0\n").unwrap();
        let e = c.http.validate().unwrap_err();
        assert!(e.contains("[http] max_concurrent_requests"), "{e}");
        let c: HostConfig = toml::from_str("[pool]\ntask_share_percent = 0\n").unwrap();
        let e = c.pool.validate().unwrap_err();
        assert!(e.contains("[pool] task_share_percent"), "{e}");
        let c: HostConfig = toml::from_str("[pool]\ncommand_reserve_percent = 100\n").unwrap();
        let e = c.pool.validate().unwrap_err();
        assert!(e.contains("[pool] command_reserve_percent"), "{e}");
        let e = toml::from_str::<HostConfig>("[http]\nmax_conections_per_port = 1\n").unwrap_err();
        assert!(e.to_string().contains("max_conections_per_port"), "{e}");
    }

    #[test]
    fn keep_resident_past_the_largest_memory_is_refused() {
        let c: HostConfig =
            toml::from_str("[pool]\nmax_memory_mib = 1\nmemory_keep_resident_kib = 2048\n")
                .unwrap();
        let e = c.pool.validate().unwrap_err();
        assert!(e.contains("[pool] memory_keep_resident_kib"), "{e}");
        assert!(e.contains("1024 KiB"), "{e}");
        assert_eq!(HostConfig::default().pool.validate(), Ok(()));
    }

    #[test]
    fn storage_limits_are_on_by_default_and_zero_is_refused() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.storage.max_open_files.get(), 256);
        assert_eq!(c.storage.max_path_depth.get(), 128);
        assert_eq!(c.storage.max_path_bytes.get(), 2048);
        assert_eq!(c.storage.measure_max_entries.get(), 1_000_000);
        let c: HostConfig = toml::from_str("[storage]\nmax_open_files = 64\n").unwrap();
        assert_eq!(c.storage.max_open_files.get(), 64);
        let e = toml::from_str::<HostConfig>("[storage]\nmax_open_files = 0\n").unwrap_err();
        assert!(e.to_string().contains("max_open_files"), "{e}");
        assert!(e.to_string().contains("nonzero"), "{e}");
    }

    #[test]
    fn capacity_section_and_pool_sizes_from_memory() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.capacity, CapacityConfig::default());
        let c: HostConfig =
            toml::from_str("[capacity]\nmax_tasks = 50\ncpu_units = 12800\n").unwrap();
        assert_eq!(c.capacity.max_tasks, Some(50));
        assert_eq!(c.capacity.cpu_units, Some(12_800));
        let e = toml::from_str::<HostConfig>("[capacity]\nmax_task = 1\n").unwrap_err();
        assert!(e.to_string().contains("max_task"), "{e}");
        // 24 GiB: room for 10,000 idle tasks; small and huge machines are clamped.
        assert_eq!(pool_slots_for(Some(24 * 1024)), 12_288);
        assert_eq!(pool_slots_for(Some(512)), 1_024);
        assert_eq!(pool_slots_for(Some(1 << 30)), 16_384);
        let p = PoolConfig::default();
        assert_eq!(p.container_slots(), Some(p.total_component_instances));
        let off = PoolConfig {
            enabled: false,
            ..p
        };
        assert_eq!(off.container_slots(), None);
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
        assert_eq!(c.network.max_lookups_per_container, 8);
    }

    #[test]
    fn limits_section() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.limits.max_sockets_per_container, 256);
        assert_eq!(c.limits.descriptor_reserve_percent, 25);
        assert_eq!(c.limits.max_handles_per_instance, 16_384);
        let c: HostConfig = toml::from_str("[limits]\nmax_sockets_per_container = 16\n").unwrap();
        assert_eq!(c.limits.max_sockets_per_container, 16);
        assert_eq!(c.limits.descriptor_reserve_percent, 25);
        let e = toml::from_str::<HostConfig>("[limits]\nmax_socket = 1\n").unwrap_err();
        assert!(e.to_string().contains("max_socket"), "{e}");
    }

    #[test]
    fn registry_section_limits_are_on_by_default() {
        let c: HostConfig = toml::from_str("").unwrap();
        assert_eq!(c.registry.max_manifest_kib, 4096);
        assert_eq!(c.registry.max_component_mib, 256);
        assert!(!c.registry.trust_cache);
        let c: HostConfig = toml::from_str(
            "[registry]\nmax_manifest_kib = 64\nmax_component_mib = 1\ntrust_cache = true\n",
        )
        .unwrap();
        assert_eq!(c.registry.max_manifest_kib, 64);
        assert!(c.registry.trust_cache);
    }

    #[test]
    fn secrets_are_bound_to_registries_or_to_nothing() {
        let c: HostConfig = toml::from_str(
            "[secrets]\nlegacy = \"u:p\"\n\
             [secrets.team]\nvalue = \"u:p2\"\nregistries = [\"localhost:5000\"]\n\
             token_realms = [\"auth.example.com\"]\n",
        )
        .unwrap();
        let legacy = &c.secrets["legacy"];
        assert_eq!(legacy.expose(), "u:p");
        assert!(legacy.registries.is_empty());
        assert!(!legacy.allows_registry("localhost:5000"));
        let team = &c.secrets["team"];
        assert_eq!(team.expose(), "u:p2");
        assert!(team.allows_registry("LOCALHOST:5000"));
        assert!(!team.allows_registry("localhost:5001"));
        assert_eq!(team.token_realms, ["auth.example.com"]);
        assert!(!format!("{c:?}").contains("u:p"));

        let e =
            toml::from_str::<HostConfig>("[secrets.team]\nvalue = \"u:p\"\nregistry = [\"x\"]\n")
                .unwrap_err();
        assert!(e.to_string().contains("registry"), "{e}");
        let e = toml::from_str::<HostConfig>(
            "[secrets.team]\nvalue = \"u:p\"\nregistries = [\"https://x\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("scheme"), "{e}");
        let e = toml::from_str::<HostConfig>("[secrets]\nteam = 3\n").unwrap_err();
        assert!(e.to_string().contains("registries"), "{e}");
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
