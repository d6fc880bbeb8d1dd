//! `wasmgate run`: one task in the foreground, stopped gracefully on SIGINT/SIGTERM.

use super::console::PrefixedConsole;
use super::signals::{EXIT_FORCED, Signals};
use super::stopping::{self, Stopping};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wasmgate::config::HostConfig;
use wasmgate::iam::network::{FixedAuthorities, IamNetworkAuthorities, RoleNetworkPolicy};
use wasmgate::iam::store::IamStore;
use wasmgate::runtime::net::NetworkAuthorities;
use wasmgate::runtime::net::publish::{PublishError, PublishSpec, PublishedPort};
use wasmgate::runtime::{
    ContainerOverride, Runtime, StopCode, TaskEvent, TaskSnapshot, TaskSpec, TaskStatus,
    runtime_rules,
};
use wasmgate::state::sqlite::SqliteStateStore;
use wasmgate::taskdef::{self, KeyValuePair, ValidationOptions};

/// Exit code when the task could not be started at all (as `docker run` uses 125).
const EXIT_NOT_STARTED: u8 = 125;
/// Exit code for an invalid definition or arguments.
const EXIT_INVALID: u8 = 2;

#[derive(Args)]
pub struct RunArgs {
    /// ECS task definition JSON file (as for `aws ecs register-task-definition --cli-input-json`).
    taskdef: PathBuf,
    /// Seconds each container gets to exit after a stop request (overrides `stopTimeout`).
    #[arg(long, value_name = "SECONDS")]
    stop_timeout: Option<f64>,
    /// ECS overrides JSON (`{"containerOverrides": [...]}`) or `file://path`.
    #[arg(long)]
    overrides: Option<String>,
    /// Set an environment variable in one container: CONTAINER:NAME=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "CONTAINER:NAME=VALUE")]
    env: Vec<String>,
    /// Replace one container's command: CONTAINER='["arg", ...]' (JSON array) (repeatable).
    #[arg(long = "command", value_name = "CONTAINER=JSON")]
    command: Vec<String>,
    /// Print the final task state as JSON on stdout when the task stops; container output
    /// then goes to stderr, so stdout is the JSON alone (`| jq` works).
    #[arg(long)]
    json: bool,
    /// Write the final task state as JSON to PATH (container output stays on stdout).
    #[arg(long, value_name = "PATH")]
    json_file: Option<PathBuf>,
    /// Forward 127.0.0.1:HOSTPORT to a task port (TCP; repeatable). The port must be a
    /// `portMappings[].containerPort`; HOSTPORT 0 picks a free port.
    #[arg(short = 'p', long = "publish", value_name = "HOSTPORT:CONTAINERPORT")]
    publish: Vec<String>,
    /// Warn about unknown members instead of refusing them (for newer ECS features).
    #[arg(long)]
    allow_unknown_fields: bool,
    /// An IAM policy document (JSON file) standing for the task role's policies: its
    /// `wasmgate:` statements govern the task's network instead of the host's rules, and
    /// the data directory's IAM state is not consulted for `taskRoleArn` (no role
    /// credentials are issued: there is no role to assume).
    #[arg(long, value_name = "FILE")]
    role_policy: Option<PathBuf>,
}

/// `serve_root`: check file images as `serve` resolves them (its `image_root`), not
/// against the definition's folder.
pub fn validate(
    config: &HostConfig,
    path: &Path,
    allow_unknown_fields: bool,
    serve_root: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let parsed = match read_definition(config, path, allow_unknown_fields) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let d = &parsed.definition;
    let base = match serve_root {
        Some(root) => std::path::absolute(&root).unwrap_or(root),
        None => super::image_paths::definition_dir(path),
    };
    let missing = super::image_paths::missing_images(d, &base);
    if !missing.is_empty() {
        host_line!("{}: invalid task definition:", path.display());
        for l in missing {
            eprintln!("  {l}");
        }
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let n = d.container_definitions.len();
    println!(
        "{}: valid ({n} container{}, cpu {}, memory {} MiB)",
        d.family,
        if n == 1 { "" } else { "s" },
        d.cpu,
        d.memory
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads, parses and checks a definition with every rule `run` applies; on failure prints
/// each error on its own line (`path: rule`) and returns the exit code to use.
fn read_definition(
    config: &HostConfig,
    path: &Path,
    allow_unknown_fields: bool,
) -> Result<taskdef::Parsed, ExitCode> {
    let opts = ValidationOptions {
        allow_bind_mounts: config.storage.allow_bind_mounts,
        allow_unknown_fields,
    };
    let invalid = |lines: Vec<String>| {
        host_line!("{}: invalid task definition:", path.display());
        for l in lines {
            eprintln!("  {l}");
        }
        ExitCode::from(EXIT_INVALID)
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            host_line!("cannot read task definition {}: {e}", path.display());
            return Err(ExitCode::from(EXIT_INVALID));
        }
    };
    let parsed = match taskdef::parse(&text, &opts) {
        Ok(p) => p,
        Err(taskdef::TaskDefError::Invalid(errors)) => {
            return Err(invalid(errors.iter().map(ToString::to_string).collect()));
        }
        Err(e) => return Err(invalid(vec![e.to_string()])),
    };
    for w in &parsed.warnings {
        host_line!("warning: {w}");
    }
    let errors = runtime_rules(&parsed.definition);
    if !errors.is_empty() {
        return Err(invalid(errors.iter().map(ToString::to_string).collect()));
    }
    Ok(parsed)
}

pub fn run(mut config: HostConfig, args: RunArgs) -> anyhow::Result<ExitCode> {
    config.pool = config.pool.for_one_task();
    let parsed = match read_definition(&config, &args.taskdef, args.allow_unknown_fields) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let overrides = match overrides(&args) {
        Ok(o) => o,
        Err(e) => {
            host_line!("{e:#}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let publish = match publish_specs(&args.publish, &parsed.definition) {
        Ok(p) => p,
        Err(e) => {
            host_line!("{e}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let stop_timeout = match args.stop_timeout {
        Some(s) if !(0.0..=86_400.0).contains(&s) => {
            host_line!("--stop-timeout: {s} must be between 0 and 86400 seconds");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        s => s.map(Duration::from_secs_f64),
    };
    let base_dir = super::image_paths::definition_dir(&args.taskdef);
    let width = parsed
        .definition
        .container_definitions
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(8);

    let authorities = match &args.role_policy {
        Some(file) => given_role_policy(&config, &parsed.definition, file),
        None => role_authorities(&config, &parsed.definition),
    };
    let authorities = match authorities {
        Ok(a) => a,
        Err(e) => {
            host_line!("{e:#}");
            return Ok(ExitCode::from(EXIT_NOT_STARTED));
        }
    };

    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let runtime = Runtime::new(config)?;
        // `wasmgate stats` shows this task too (while someone watches).
        let live = runtime.clone();
        let _feed = wasmgate::usage::spawn(
            None,
            wasmgate::usage::stats::Publisher::new(&runtime.config().data_dir()),
            Arc::new(move || live.live_tasks()),
            wasmgate::usage::SAMPLE,
        );
        let role_from_iam = args.role_policy.is_none();
        if let Err(e) = super::run_roles::wire(
            runtime.config(),
            &runtime,
            &parsed.definition,
            role_from_iam,
        ) {
            host_line!("{e:#}");
            return Ok(ExitCode::from(EXIT_NOT_STARTED));
        }
        if let Some(authorities) = authorities {
            runtime.set_network_authorities(authorities);
        }
        let mut published = Vec::with_capacity(publish.len());
        for spec in publish {
            match PublishedPort::bind(spec).await {
                Ok(p) => published.push(p),
                Err(e) => {
                    host_line!(
                        "--publish {spec}: cannot listen on 127.0.0.1:{}: {e}",
                        spec.host_port
                    );
                    return Ok(ExitCode::from(EXIT_NOT_STARTED));
                }
            }
        }
        let definition = parsed.definition.clone();
        let spec = TaskSpec {
            definition: parsed.definition,
            base_dir,
            overrides,
            stop_timeout,
            console: Some(Arc::new(PrefixedConsole {
                width,
                // `--json` owns stdout.
                to_stderr: args.json,
            })),
            identity: None,
        };
        let mut signals = Signals::install().context("cannot install signal handlers")?;
        let mut task = match runtime.start_task(spec) {
            Ok(t) => t,
            Err(e) => {
                host_line!("{e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        };
        let id = task.id().to_owned();
        let events = task.take_events();
        let printer = tokio::spawn(print_events(id.clone(), events, task.watch()));
        tokio::spawn(serve_network(id.clone(), task.watch(), published));
        let final_state = tokio::select! {
            s = task.wait() => s,
            sig = signals.next() => {
                let stopping = Stopping::of(&task.snapshot(), &definition, stop_timeout);
                host_line!("{sig} received, stopping task {id}");
                host_line!("{}", stopping.message());
                task.stop(StopCode::UserInitiated, format!("Task stopped by user ({sig})"));
                let _countdown = stopping::countdown(stopping.longest()).map(AbortOnDrop);
                tokio::select! {
                    s = task.wait() => s,
                    sig = signals.next() => {
                        host_line!("{sig} received again, exiting without waiting");
                        return Ok(ExitCode::from(EXIT_FORCED));
                    }
                }
            }
        };
        let _ = printer.await;
        // Tiered: Cranelift may still be compiling in the background. Its artifact is what
        // the next run loads from disk, so it is finished rather than thrown away.
        let waiting = runtime.clone();
        let _ = tokio::task::spawn_blocking(move || waiting.wait_for_background_compiles()).await;
        let json = serde_json::to_string_pretty(&final_state)?;
        if args.json {
            println!("{json}");
        }
        if let Some(path) = &args.json_file {
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("--json-file: cannot write {}", path.display()))?;
        }
        Ok(exit_code(&final_state))
    })
}

/// A definition's `taskRoleArn` is looked up in the data directory's IAM state (what
/// `serve` keeps there); its `wasmgate:` policies then govern the task's network. No state
/// yet, or no such role: the host's rules, as for a task without a role.
fn role_authorities(
    config: &HostConfig,
    def: &taskdef::TaskDefinition,
) -> anyhow::Result<Option<Arc<dyn NetworkAuthorities>>> {
    let Some(role) = &def.task_role_arn else {
        return Ok(None);
    };
    let path = config.data_dir().join("state.db");
    if !path.exists() {
        host_line!(
            "taskRoleArn {role}: no IAM state in {} (the host's network rules apply)",
            config.data_dir().display()
        );
        return Ok(None);
    }
    let state = SqliteStateStore::open(&path)
        .with_context(|| format!("cannot open the state store {}", path.display()))?;
    let iam = IamStore::new(Arc::new(state), &config.api.account_id, &config.api.region)
        .context("cannot load the IAM state")?;
    Ok(Some(Arc::new(IamNetworkAuthorities::new(Arc::new(iam)))))
}

/// `--role-policy FILE`: the policy stands for the task role's, whatever IAM holds.
fn given_role_policy(
    config: &HostConfig,
    def: &taskdef::TaskDefinition,
    file: &std::path::Path,
) -> anyhow::Result<Option<Arc<dyn NetworkAuthorities>>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("--role-policy: cannot read {}", file.display()))?;
    let (region, account) = (&config.api.region, &config.api.account_id);
    let role_arn = def
        .task_role_arn
        .clone()
        .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/role-policy"));
    let name = file.display().to_string();
    let policy = RoleNetworkPolicy::from_documents(&role_arn, region, account, &[(name, text)])
        .map_err(|e| anyhow::anyhow!("--role-policy: {e}"))?;
    // A policy without `wasmgate:` statements leaves the network to the host's rules.
    Ok(policy.map(|p| Arc::new(FixedAuthorities(Arc::new(p))) as Arc<dyn NetworkAuthorities>))
}

/// Ends the countdown when the wait it shows is over, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Parses every `--publish` and checks its container port against the definition.
fn publish_specs(
    values: &[String],
    def: &taskdef::TaskDefinition,
) -> Result<Vec<PublishSpec>, PublishError> {
    values
        .iter()
        .map(|v| {
            let spec: PublishSpec = v.parse()?;
            spec.check(def)?;
            Ok(spec)
        })
        .collect()
}

/// Once the task has its address: prints it, then forwards the published ports to it.
async fn serve_network(
    id: String,
    mut snapshot: tokio::sync::watch::Receiver<TaskSnapshot>,
    published: Vec<PublishedPort>,
) {
    let address = match snapshot
        .wait_for(|s| s.private_ipv4_address.is_some() || s.last_status == TaskStatus::Stopped)
        .await
    {
        Ok(s) => s.private_ipv4_address.clone(),
        Err(_) => None,
    };
    let Some(ip) = address.and_then(|a| a.parse::<std::net::Ipv4Addr>().ok()) else {
        return;
    };
    host_line!("task {id} address {ip}");
    for port in published {
        let spec = port.spec();
        match port.local_addr() {
            Ok(local) => host_line!("publishing {local} -> {ip}:{}", spec.container_port),
            Err(e) => host_line!("--publish {spec}: {e}"),
        }
        tokio::spawn(port.serve(ip));
    }
}

/// Parses `--overrides`, `--env` and `--command` into ECS container overrides.
fn overrides(args: &RunArgs) -> anyhow::Result<Vec<ContainerOverride>> {
    let mut out: Vec<ContainerOverride> = Vec::new();
    if let Some(text) = &args.overrides {
        let text = match text.strip_prefix("file://") {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("--overrides: cannot read {path}"))?,
            None => text.clone(),
        };
        out = parse_overrides(&text)?;
    }
    for e in &args.env {
        let (container, kv) = e
            .split_once(':')
            .with_context(|| format!("--env {e:?}: expected CONTAINER:NAME=VALUE"))?;
        let (name, value) = kv
            .split_once('=')
            .with_context(|| format!("--env {e:?}: expected CONTAINER:NAME=VALUE"))?;
        if name.is_empty() {
            anyhow::bail!("--env {e:?}: the variable name is empty");
        }
        let i = override_for(&mut out, container);
        out[i].environment.push(KeyValuePair {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    for c in &args.command {
        let (container, json) = c
            .split_once('=')
            .with_context(|| format!("--command {c:?}: expected CONTAINER=[\"arg\", ...]"))?;
        let cmd: Vec<String> = serde_json::from_str(json).with_context(|| {
            format!("--command {c:?}: the command must be a JSON array of strings")
        })?;
        let i = override_for(&mut out, container);
        out[i].command = Some(cmd);
    }
    Ok(out)
}

/// The index of `container`'s override entry, added if missing.
fn override_for(out: &mut Vec<ContainerOverride>, container: &str) -> usize {
    if let Some(i) = out.iter().position(|o| o.name == container) {
        return i;
    }
    out.push(ContainerOverride {
        name: container.to_owned(),
        ..Default::default()
    });
    out.len() - 1
}

/// Parses ECS `overrides` JSON (`TaskOverride`): only `containerOverrides` is used.
pub fn parse_overrides(text: &str) -> anyhow::Result<Vec<ContainerOverride>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TaskOverride {
        #[serde(default)]
        container_overrides: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Item {
        name: String,
        command: Option<Vec<String>>,
        #[serde(default)]
        environment: Vec<KeyValuePair>,
        cpu: Option<u32>,
        memory: Option<u64>,
    }
    let o: TaskOverride =
        serde_json::from_str(text).context("--overrides: invalid ECS overrides JSON")?;
    Ok(o.container_overrides
        .into_iter()
        .map(|i| ContainerOverride {
            name: i.name,
            command: i.command,
            environment: i.environment,
            cpu: i.cpu,
            memory: i.memory,
        })
        .collect())
}

async fn print_events(
    id: String,
    events: Option<tokio::sync::broadcast::Receiver<TaskEvent>>,
    state: tokio::sync::watch::Receiver<TaskSnapshot>,
) {
    let Some(mut events) = events else { return };
    let mut bars = PullBars::default();
    loop {
        let event = events.recv().await;
        if !matches!(
            event,
            Ok(TaskEvent::PullProgress { .. } | TaskEvent::Compiling { .. })
        ) {
            bars.finish();
        }
        match event {
            Ok(TaskEvent::PullProgress {
                container,
                done,
                total,
            }) => bars.update(container, done, total),
            Ok(TaskEvent::Task { status }) => {
                host_line!("task {id} {status}");
                if status == TaskStatus::Stopped {
                    return;
                }
            }
            Ok(TaskEvent::Container {
                name,
                status,
                exit_code,
                reason,
            }) => {
                let code = exit_code
                    .map(|c| format!(" exitCode={c}"))
                    .unwrap_or_default();
                let why = reason
                    .map(|r| format!(" reason=\"{r}\""))
                    .unwrap_or_default();
                host_line!("container {name} {}{code}{why}", status.as_str());
            }
            Ok(TaskEvent::Compiling { container }) => bars.spin(container),
            Ok(TaskEvent::Notice(m)) => host_line!("{m}"),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                // The buffer is small: say where the task is now, so no state is missed.
                let events = if n == 1 { "event" } else { "events" };
                host_line!("({n} {events} not shown; the task now:)");
                let now = state.borrow().clone();
                for c in &now.containers {
                    host_line!("container {} {}", c.name, c.last_status.as_str());
                }
                host_line!("task {id} {}", now.last_status);
                if now.last_status == TaskStatus::Stopped {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Pull progress bars and compile spinners on stderr, only when stderr is a terminal and the
/// work lasts more than a moment (a cached or quick pull shows none).
#[derive(Default)]
struct PullBars {
    first_seen: Option<(String, std::time::Instant)>,
    bar: Option<indicatif::ProgressBar>,
}

impl PullBars {
    const MOMENT: std::time::Duration = std::time::Duration::from_millis(300);

    fn update(&mut self, container: String, done: u64, total: u64) {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return;
        }
        let since = match &self.first_seen {
            Some((c, t)) if *c == container => *t,
            _ => {
                self.finish();
                self.first_seen = Some((container.clone(), std::time::Instant::now()));
                return;
            }
        };
        if self.bar.is_none() && since.elapsed() >= Self::MOMENT {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "wasmgate: pulling {msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(container);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// A spinner while a component compiles (there is no byte count to show).
    fn spin(&mut self, container: String) {
        use std::io::IsTerminal;
        self.finish();
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("wasmgate: compiling {msg} {spinner} {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_message(container);
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        self.bar = Some(bar);
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.first_seen = None;
    }
}

/// The exit code of the essential container that ended the task, like `docker compose
/// up --exit-code-from`; a container that trapped has no code and gives 1.
fn exit_code(s: &TaskSnapshot) -> ExitCode {
    if let Some(reason) = &s.stopped_reason {
        let code = s.stop_code.map(|c| c.as_str()).unwrap_or("");
        host_line!("task stopped: {code}: {reason}");
    }
    if s.stop_code == Some(wasmgate::runtime::StopCode::TaskFailedToStart) {
        return ExitCode::from(EXIT_NOT_STARTED);
    }
    let container = s.ended_by.map(|i| &s.containers[i]).or_else(|| {
        s.containers
            .iter()
            .find(|c| c.essential && c.exit_code.is_some())
    });
    match container.and_then(|c| c.exit_code) {
        Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
        None => ExitCode::from(1),
    }
}
