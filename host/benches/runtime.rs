//! wasmgate's runtime benchmarks (issue 2, point 10). `cargo bench --bench runtime` prints
//! markdown tables; BENCHMARKS.md records a run and how to read it.
//!
//! Sections (all by default; name some to run only those, e.g.
//! `cargo bench --bench runtime -- start cli`):
//! - `memory`: host RSS with 1,000 idle tasks (runs first, so the RSS baseline is clean);
//! - `start`:  start_task → every container RUNNING (time to first guest instruction),
//!   cold (new data dir + Runtime: compile), disk cache (new Runtime) and warm (same
//!   Runtime), 1/2/10 containers, plus `Runtime::new` itself; cold with `[compile] tiered`
//!   on (first instruction on Winch, and when Cranelift's code is ready) and off;
//! - `tps`:    tasks per second for 1,000 short tasks, 64 in flight;
//! - `fuel`:   CPU-bound task wall time with fuel metering on vs off;
//! - `cli`:    `wasmgate run` of a 1-container echo task as a process (and `wasmtime run` of
//!   the same component, when a wasmtime CLI is on PATH).
//!
//! The machine is small (2 vCPU) and shared, so every table reports medians and
//! percentiles, compared variants are interleaved sample by sample, and each section prints
//! how much CPU other processes used meanwhile. Scratch data dirs live under `$TMPDIR`
//! (default /tmp); a few rows put the data dir on tmpfs (/dev/shm) on purpose.
//! `WASMGATE_BENCH_IDLE_ROUNDS=n` repeats the 1,000-idle-task round n times (default 3).

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Semaphore, broadcast};
use wasmgate::config::{FuelMeter, HostConfig};
use wasmgate::runtime::{
    ContainerStatus, Runtime, StopCode, TaskEvent, TaskHandle, TaskSnapshot, TaskSpec, TaskStatus,
};
use wasmgate::taskdef::{self, TaskDefinition};

const GUESTS: &str = env!("WASMGATE_GUESTS_DIR");
const WASMGATE_BIN: &str = env!("CARGO_BIN_EXE_wasmgate");
const SECTIONS: [&str; 5] = ["memory", "start", "tps", "fuel", "cli"];
/// Set when the bench re-executes itself to measure something in a clean process.
const CHILD_ENV: &str = "WASMGATE_BENCH_CHILD";

fn main() -> Result<()> {
    if std::env::var_os(CHILD_ENV).is_some() {
        return channels_child();
    }
    // `cargo bench` passes `--bench`; anything not starting with `-` names a section.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for w in &wanted {
        if !SECTIONS.contains(&w.as_str()) {
            bail!("unknown section {w:?}; sections: {}", SECTIONS.join(", "));
        }
    }
    let run = |s: &str| wanted.is_empty() || wanted.iter().any(|w| w == s);

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let scratch = tempfile::Builder::new()
        .prefix("wasmgate-bench-")
        .tempdir()?;
    let started = Instant::now();
    print_machine();

    if run("memory") {
        section("memory", || tokio.block_on(bench_memory(scratch.path())))?;
    }
    if run("start") {
        section("start", || tokio.block_on(bench_start(scratch.path())))?;
    }
    if run("tps") {
        section("tps", || tokio.block_on(bench_tps(scratch.path())))?;
    }
    if run("fuel") {
        section("fuel", || tokio.block_on(bench_fuel(scratch.path())))?;
    }
    if run("cli") {
        section("cli", || bench_cli(scratch.path()))?;
    }
    println!(
        "\nTotal bench time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn section(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let before = loadavg();
    let (busy0, own0) = cpu_ticks();
    let t = Instant::now();
    f().with_context(|| format!("section {name}"))?;
    let wall = t.elapsed().as_secs_f64();
    let (busy1, own1) = cpu_ticks();
    // CPU the rest of the machine used meanwhile, as a share of all its CPUs: the noise.
    let tick = 1.0 / clock_ticks_per_second();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let others = (busy1.saturating_sub(busy0) as f64 - own1.saturating_sub(own0) as f64).max(0.0);
    println!(
        "\n_{name}: {wall:.1} s; bench process used {:.0}% of {cores} CPUs, other processes {:.0}%; load average (1 min) {before} before, {} after._",
        100.0 * own1.saturating_sub(own0) as f64 * tick / (wall * cores),
        100.0 * others * tick / (wall * cores),
        loadavg()
    );
    Ok(())
}

/// (all CPUs' busy ticks from /proc/stat, this process's own + its children's ticks).
fn cpu_ticks() -> (u64, u64) {
    let busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_owned();
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: everything but idle and iowait.
            Some(v.iter().take(8).sum::<u64>() - v.get(3)? - v.get(4)?)
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Tokens after "(comm)" start at field 3 (state); utime, stime, cutime and
            // cstime are fields 14 to 17.
            let rest = s.rsplit_once(')')?.1;
            let v: Vec<&str> = rest.split_whitespace().collect();
            v.get(11..15)?
                .iter()
                .map(|x| x.parse::<u64>().ok())
                .sum::<Option<u64>>()
        })
        .unwrap_or(0);
    (busy, own)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

// ---------------------------------------------------------------------------------------
// Task definitions and runtimes

fn guest(name: &str) -> String {
    format!("{GUESTS}/{name}.wasm")
}

fn container(name: &str, image: &str, command: &[&str]) -> Value {
    json!({ "name": name, "image": image, "command": command })
}

fn definition(family: &str, cpu: u32, memory: u64, containers: Vec<Value>) -> TaskDefinition {
    definition_with(family, cpu, memory, containers, json!([]))
}

fn definition_with(
    family: &str,
    cpu: u32,
    memory: u64,
    containers: Vec<Value>,
    volumes: Value,
) -> TaskDefinition {
    let def = json!({
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": cpu.to_string(),
        "memory": memory.to_string(),
        "volumes": volumes,
        "containerDefinitions": containers,
    });
    let parsed = taskdef::parse(&def.to_string(), &Default::default())
        .unwrap_or_else(|e| panic!("bench task definition {family} is invalid: {e}"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    parsed.definition
}

/// `n` containers running `sleep 600000` (they sit in a host sleep call until stopped).
fn sleepers(n: usize, images: &[String]) -> TaskDefinition {
    let (cpu, memory) = if n <= 2 { (256, 512) } else { (4096, 8192) };
    let containers = (0..n)
        .map(|i| container(&format!("c{i}"), &images[i % images.len()], &["600000"]))
        .collect();
    definition(&format!("sleep{n}"), cpu, memory, containers)
}

fn echo_task() -> TaskDefinition {
    definition(
        "echo",
        256,
        512,
        vec![container("echo", &guest("echo"), &["hello"])],
    )
}

fn spec(definition: TaskDefinition) -> TaskSpec {
    TaskSpec {
        definition,
        base_dir: PathBuf::from(GUESTS),
        overrides: vec![],
        stop_timeout: Some(Duration::ZERO),
        console: None,
        identity: None,
    }
}

fn runtime_in(data_dir: &Path, fuel: bool) -> Result<Runtime> {
    let mut config = HostConfig {
        data_dir: Some(data_dir.to_owned()),
        ..Default::default()
    };
    config.fuel.enabled = fuel;
    Ok(Runtime::new(config)?)
}

/// A Runtime with `wasmgate run`'s pool (one task): what the cold and disk-cache rows model;
/// the warm rows run one task at a time too.
/// The default pool reserves ~47 TiB of address space; a dropped Runtime's pool can still
/// be unmapping when the next one is made, and three do not fit in x86-64's 128 TiB.
fn runtime_cold(data_dir: &Path, tiered: bool) -> Result<Runtime> {
    let mut config = HostConfig {
        data_dir: Some(data_dir.to_owned()),
        ..Default::default()
    };
    config.pool = config.pool.for_one_task();
    config.compile.tiered = tiered;
    Ok(Runtime::new(config)?)
}

/// Waits until `n` containers reported RUNNING; fails if the task stops first.
async fn until_running(events: &mut broadcast::Receiver<TaskEvent>, n: usize) -> Result<()> {
    until_running_phases(events, n, Instant::now())
        .await
        .map(|_| ())
}

/// When the bench saw the task's PENDING (storage created) and ACTIVATING (images loaded)
/// events, relative to `t0`.
#[derive(Clone, Copy, Default)]
struct Phases {
    pending: Duration,
    activating: Duration,
}

async fn until_running_phases(
    events: &mut broadcast::Receiver<TaskEvent>,
    n: usize,
    t0: Instant,
) -> Result<Phases> {
    let mut running = 0;
    let mut phases = Phases::default();
    loop {
        match events.recv().await {
            Ok(TaskEvent::Task {
                status: TaskStatus::Pending,
            }) => phases.pending = t0.elapsed(),
            Ok(TaskEvent::Task {
                status: TaskStatus::Activating,
            }) => phases.activating = t0.elapsed(),
            Ok(TaskEvent::Container {
                status: ContainerStatus::Running,
                ..
            }) => {
                running += 1;
                if running == n {
                    return Ok(phases);
                }
            }
            Ok(TaskEvent::Container {
                name,
                status: ContainerStatus::Stopped,
                reason,
                exit_code,
            }) => {
                bail!("container {name} stopped before all were running: {exit_code:?} {reason:?}")
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => bail!("task ended before all containers were running"),
        }
    }
}

async fn stop_and_wait(mut handle: TaskHandle) -> TaskSnapshot {
    handle.stop(StopCode::UserInitiated, "bench");
    handle.wait().await
}

/// One start-latency sample: start_task → the last container's RUNNING event.
async fn start_sample(rt: &Runtime, def: &TaskDefinition) -> Result<Duration> {
    Ok(start_sample_phases(rt, def).await?.0)
}

async fn start_sample_phases(rt: &Runtime, def: &TaskDefinition) -> Result<(Duration, Phases)> {
    let n = def.container_definitions.len();
    let spec = spec(def.clone());
    let t0 = Instant::now();
    let mut handle = rt.start_task(spec)?;
    let mut events = handle.take_events().context("events already taken")?;
    let phases = until_running_phases(&mut events, n, t0).await?;
    let dt = t0.elapsed();
    let end = stop_and_wait(handle).await;
    if end.last_status != TaskStatus::Stopped {
        bail!("task did not stop: {:?}", end.last_status);
    }
    Ok((dt, phases))
}

/// Copies of `name`.wasm with a distinct custom section each: different content hashes
/// (so each one is compiled and cached separately) with identical code.
fn distinct_copies(name: &str, n: usize, dir: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(guest(name))?;
    std::fs::create_dir_all(dir)?;
    (0..n)
        .map(|i| {
            let section_name = b"wasmgate-bench";
            let payload = format!("copy {i} {}", std::process::id());
            let mut body = leb128(section_name.len());
            body.extend_from_slice(section_name);
            body.extend_from_slice(payload.as_bytes());
            let mut out = bytes.clone();
            out.push(0); // custom section id
            out.extend(leb128(body.len()));
            out.extend(body);
            let path = dir.join(format!("{name}-{i}.wasm"));
            std::fs::write(&path, out)?;
            Ok(path.to_string_lossy().into_owned())
        })
        .collect()
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

// ---------------------------------------------------------------------------------------
// Statistics and output

struct Stats {
    n: usize,
    median: Duration,
    p90: Duration,
    p99: Duration,
    min: Duration,
    max: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut s = samples.to_vec();
    s.sort();
    let pick = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    Stats {
        n: s.len(),
        median: median(&s),
        p90: pick(0.90),
        p99: pick(0.99),
        min: s[0],
        max: s[s.len() - 1],
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("# wasmgate runtime bench\n");
    println!("- date: {date}");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    println!(
        "- commit: {commit}{}",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    println!("- machine: {cores} vCPU, {cpu}");
    println!("- host config: defaults (pooling allocator, fuel on) unless a row says otherwise");
    println!("- load average at start: {}", loadavg());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A `/proc/self/status` field in KiB (VmRSS, RssAnon, RssFile, RssShmem, VmHWM).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Open descriptors by kind (a task's lock file, a container root, a socket, ...), most first.
fn fd_kinds() -> Vec<(String, usize)> {
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for entry in std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let t = target.to_string_lossy();
        let kind = if t.ends_with(".lock") && t.contains("/tasks/") {
            "task storage lock file".to_owned()
        } else if t.ends_with(".lock") {
            "task address lock file".to_owned()
        } else if t.contains("/containers/") {
            "container root dir (preopen)".to_owned()
        } else if t.contains("/volumes/") {
            "volume dir (preopen)".to_owned()
        } else if let Some((k, _)) = t.split_once(":[") {
            k.to_owned()
        } else if let Some((k, _)) = t.split_once(':') {
            k.to_owned()
        } else {
            "other file".to_owned()
        };
        *kinds.entry(kind).or_default() += 1;
    }
    let mut v: Vec<_> = kinds.into_iter().collect();
    v.sort_by_key(|k| std::cmp::Reverse(k.1));
    v
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------
// memory: 1,000 idle tasks

const IDLE_TASKS: usize = 1_000;
const IDLE_ROUNDS: usize = 3;

/// One round: start IDLE_TASKS idle tasks, read memory, stop them all.
struct IdleRound {
    running: usize,
    start_error: Option<String>,
    failures: Vec<String>,
    all_running: Duration,
    all_stopped: Duration,
    killed: usize,
    /// (VmRSS, RssAnon, RssFile, RssShmem) in KiB, and open fds: before and with the tasks.
    before: ([u64; 4], usize),
    with: ([u64; 4], usize),
    after_stop: [u64; 4],
    /// Open descriptors by kind while the tasks were idle.
    fds: Vec<(String, usize)>,
}

fn rss_fields() -> [u64; 4] {
    ["VmRSS", "RssAnon", "RssFile", "RssShmem"].map(status_kib)
}

async fn idle_round(rt: &Runtime, def: &TaskDefinition) -> Result<IdleRound> {
    let before = (rss_fields(), open_fds());
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(IDLE_TASKS);
    let mut waiters = tokio::task::JoinSet::new();
    let mut start_error = None;
    for _ in 0..IDLE_TASKS {
        match rt.start_task(spec(def.clone())) {
            Ok(mut h) => {
                let mut events = h.take_events().context("events")?;
                waiters.spawn(async move { until_running(&mut events, 1).await });
                handles.push(h);
            }
            Err(e) => {
                start_error = Some(e.to_string());
                break;
            }
        }
    }
    let mut running = 0;
    let mut failures: Vec<String> = Vec::new();
    while let Some(r) = waiters.join_next().await {
        match r? {
            Ok(()) => running += 1,
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    let all_running = t0.elapsed();
    // Let the drivers settle (event fan-out, log shipper tasks parked).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let with = (rss_fields(), open_fds());
    let fds = fd_kinds();

    let t1 = Instant::now();
    let stops: Vec<_> = handles.into_iter().map(stop_and_wait).collect();
    let ends = futures::future::join_all(stops).await;
    let all_stopped = t1.elapsed();
    let killed = ends
        .iter()
        .filter(|s| s.containers.iter().all(|c| c.exit_code == Some(137)))
        .count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(IdleRound {
        running,
        start_error,
        failures,
        all_running,
        all_stopped,
        killed,
        before,
        with,
        after_stop: rss_fields(),
        fds,
    })
}

async fn bench_memory(scratch: &Path) -> Result<()> {
    println!("\n## Host memory per idle task\n");
    let rt = runtime_in(&scratch.join("memory"), true)?;
    let def = sleepers(1, &[guest("sleep")]);
    // Warm: the component is compiled and prepared before the baseline is read.
    start_sample(&rt, &def).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Several rounds: the first shows the cost, the next whether memory freed by the
    // previous one is reused (allocator retention) or keeps growing (a leak).
    let n_rounds = std::env::var("WASMGATE_BENCH_IDLE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IDLE_ROUNDS)
        .max(1);
    let mut rounds = Vec::with_capacity(n_rounds);
    for _ in 0..n_rounds {
        rounds.push(idle_round(&rt, &def).await?);
    }
    let r = &rounds[0];
    let running = r.running;
    println!(
        "Task: 1 container `sleep 600000` (parked in a host sleep call), cpu 256 / memory 512, stopTimeout 0. Round 1: {running} of {IDLE_TASKS} RUNNING after {} ms; stopping all took {} ms ({} ended by the stopTimeout kill, exit 137, as expected).\n",
        ms(r.all_running),
        ms(r.all_stopped),
        r.killed
    );
    for (i, r) in rounds.iter().enumerate() {
        if let Some(e) = &r.start_error {
            println!(
                "**round {}: start_task failed after {} tasks:** `{e}`\n",
                i + 1,
                r.running
            );
        }
        if !r.failures.is_empty() {
            println!(
                "**round {}: {} tasks failed to reach RUNNING**, first error: `{}`\n",
                i + 1,
                r.failures.len(),
                r.failures[0]
            );
        }
    }
    let per = |a: u64, b: u64| format!("{:.0}", b.saturating_sub(a) as f64 / running.max(1) as f64);
    println!(
        "| measure (round 1) | before | with {running} idle tasks | delta | per task (KiB) | after stop |"
    );
    println!("|---|---|---|---|---|---|");
    for (k, name) in ["VmRSS", "RssAnon", "RssFile", "RssShmem"]
        .iter()
        .enumerate()
    {
        let (a, b) = (r.before.0[k], r.with.0[k]);
        println!(
            "| {name} (MiB) | {} | {} | {} | {} | {} |",
            mib(a),
            mib(b),
            mib(b.saturating_sub(a)),
            per(a, b),
            mib(r.after_stop[k])
        );
    }
    let (f0, f1) = (r.before.1, r.with.1);
    println!(
        "| open file descriptors | {f0} | {f1} | {} | {:.1} fds | |",
        f1.saturating_sub(f0),
        f1.saturating_sub(f0) as f64 / running.max(1) as f64
    );
    println!(
        "\nOpen descriptors by kind with the idle tasks: {}.",
        r.fds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("\nEvery round on the same Runtime, one after the other (VmRSS, MiB):\n");
    println!("| round | before | with the idle tasks | after stop | all RUNNING after ms |");
    println!("|---|---|---|---|---|");
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {} ({} running) | {} | {} |",
            i + 1,
            mib(r.before.0[0]),
            mib(r.with.0[0]),
            r.running,
            mib(r.after_stop[0]),
            ms(r.all_running)
        );
    }
    println!();
    let worst = rounds.iter().map(|r| r.with.0[0]).max().unwrap_or(0);
    let ok = rounds.iter().all(|r| r.running == IDLE_TASKS) && worst < 1024 * 1024;
    println!(
        "Peak VmHWM {} MiB. Target: 1,000 idle tasks under 1 GiB RSS → **{}** ({} MiB).",
        mib(status_kib("VmHWM")),
        if ok { "met" } else { "NOT met" },
        mib(worst)
    );
    match channels_in_child() {
        Ok(kib) => println!(
            "For scale, measured in a fresh process: 1,000 bare `broadcast::channel::<TaskEvent>(1024)` (what `start_task` creates per task; {} B per TaskEvent) take {} MiB of RSS = {kib_per} KiB per task.",
            std::mem::size_of::<TaskEvent>(),
            mib(kib),
            kib_per = kib / IDLE_TASKS as u64
        ),
        Err(e) => println!("(event-channel measurement failed: {e:#})"),
    }
    Ok(())
}

/// Re-executes this bench to measure 1,000 event channels in a process with a clean heap.
fn channels_in_child() -> Result<u64> {
    let out = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, "channels")
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("child failed: {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn channels_child() -> Result<()> {
    let before = status_kib("VmRSS");
    let chans: Vec<_> = (0..IDLE_TASKS)
        .map(|_| broadcast::channel::<TaskEvent>(1024))
        .collect();
    let after = status_kib("VmRSS");
    drop(chans);
    println!("{}", after.saturating_sub(before));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// start: time to first instruction

const WARM_SAMPLES: usize = 300;
const COLD_SAMPLES: usize = 5;

async fn bench_start(scratch: &Path) -> Result<()> {
    println!("\n## Start latency: start_task → every container RUNNING\n");
    let sleep = guest("sleep");
    let distinct = distinct_copies("sleep", 10, &scratch.join("distinct-images"))?;

    // Cold: a fresh data dir and Runtime per sample, so the component is compiled. Then a
    // second fresh Runtime on that data dir: the artifact is on disk, not in memory (what a
    // second `wasmgate run` sees). Rows are interleaved round-robin.
    let cold_cases: Vec<(String, TaskDefinition)> = vec![
        (
            "1 container".into(),
            sleepers(1, std::slice::from_ref(&sleep)),
        ),
        (
            "2 containers".into(),
            sleepers(2, std::slice::from_ref(&sleep)),
        ),
        (
            "10 containers, 1 image".into(),
            sleepers(10, std::slice::from_ref(&sleep)),
        ),
        (
            "10 containers, 10 distinct images".into(),
            sleepers(10, &distinct),
        ),
    ];
    let mut cold: Vec<Vec<Duration>> = vec![Vec::new(); cold_cases.len()];
    let mut disk: Vec<Vec<Duration>> = vec![Vec::new(); cold_cases.len()];
    // Tiered vs Cranelift only (`[compile] tiered`), cold, for the first and last case:
    // first instruction, and (tiered) until Cranelift's code is ready in the background.
    let tier_cases = [0, cold_cases.len() - 1];
    let mut winch_first: Vec<Vec<Duration>> = vec![Vec::new(); tier_cases.len()];
    let mut cranelift_ready: Vec<Vec<Duration>> = vec![Vec::new(); tier_cases.len()];
    let mut cranelift_only: Vec<Vec<Duration>> = vec![Vec::new(); tier_cases.len()];
    let mut new_fresh: Vec<Duration> = Vec::new();
    let mut new_existing: Vec<Duration> = Vec::new();
    let mut k = 0;
    for _ in 0..COLD_SAMPLES {
        for (j, &i) in tier_cases.iter().enumerate() {
            let def = &cold_cases[i].1;
            for tiered in [true, false] {
                k += 1;
                let dir = scratch.join(format!("cold-{k}"));
                let rt = runtime_cold(&dir, tiered)?;
                let t = Instant::now();
                let first = start_sample(&rt, def).await?;
                // Leftover background compiles would slow the next sample down.
                rt.wait_for_background_compiles();
                if tiered {
                    winch_first[j].push(first);
                    cranelift_ready[j].push(t.elapsed());
                } else {
                    cranelift_only[j].push(first);
                }
                drop(rt);
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        for (i, (_, def)) in cold_cases.iter().enumerate() {
            k += 1;
            let dir = scratch.join(format!("cold-{k}"));
            let t = Instant::now();
            let rt = runtime_cold(&dir, true)?;
            new_fresh.push(t.elapsed());
            cold[i].push(start_sample(&rt, def).await?);
            rt.wait_for_background_compiles();
            drop(rt);
            let t = Instant::now();
            let rt = runtime_cold(&dir, true)?;
            new_existing.push(t.elapsed());
            disk[i].push(start_sample(&rt, def).await?);
            drop(rt);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    // Warm: one Runtime, components already prepared in memory; 1/2/10 interleaved. The
    // same again with the data dir on tmpfs (/dev/shm), which shows what creating and
    // removing each task's directories on the real disk costs.
    let on_disk = runtime_cold(&scratch.join("warm"), true)?;
    let shm = Path::new("/dev/shm");
    let shm_dir = if shm.is_dir() {
        Some(
            tempfile::Builder::new()
                .prefix("wasmgate-bench-")
                .tempdir_in(shm)?,
        )
    } else {
        None
    };
    let on_tmpfs = match &shm_dir {
        Some(d) => Some(runtime_cold(d.path(), true)?),
        None => None,
    };
    let mut warm_cases: Vec<(String, &Runtime, TaskDefinition)> = Vec::new();
    for (label, rt) in [
        ("", Some(&on_disk)),
        (", data dir on tmpfs", on_tmpfs.as_ref()),
    ] {
        let Some(rt) = rt else { continue };
        for n in [1, 2, 10] {
            let name = format!("{n} container{}{label}", if n == 1 { "" } else { "s" });
            warm_cases.push((name, rt, sleepers(n, std::slice::from_ref(&sleep))));
        }
    }
    for (_, rt, def) in &warm_cases {
        for _ in 0..10 {
            start_sample(rt, def).await?;
        }
    }
    let mut warm: Vec<Vec<Duration>> = vec![Vec::new(); warm_cases.len()];
    let mut phases: Vec<Vec<Phases>> = vec![Vec::new(); warm_cases.len()];
    for _ in 0..WARM_SAMPLES {
        for (i, (_, rt, def)) in warm_cases.iter().enumerate() {
            let (dt, p) = start_sample_phases(rt, def).await?;
            warm[i].push(dt);
            phases[i].push(p);
        }
    }

    println!(
        "| task (`sleep` guest) | state | n | median ms | p90 ms | p99 ms | min ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |name: &str, state: &str, s: &[Duration]| {
        let st = stats(s);
        println!(
            "| {name} | {state} | {} | {} | {} | {} | {} | {} |",
            st.n,
            ms(st.median),
            ms(st.p90),
            ms(st.p99),
            ms(st.min),
            ms(st.max)
        );
    };
    for (i, (name, _)) in cold_cases.iter().enumerate() {
        row(
            name,
            "cold: compile (new data dir + Runtime), tiered",
            &cold[i],
        );
    }
    for (i, (name, _)) in cold_cases.iter().enumerate() {
        row(name, "disk cache (new Runtime, artifact on disk)", &disk[i]);
    }
    for (j, &i) in tier_cases.iter().enumerate() {
        let name = &cold_cases[i].0;
        row(
            name,
            "cold, tiered: first instruction on Winch",
            &winch_first[j],
        );
        row(
            name,
            "cold, tiered: start → Cranelift's code ready (background)",
            &cranelift_ready[j],
        );
        row(
            name,
            "cold, Cranelift only (`tiered = false`)",
            &cranelift_only[j],
        );
    }
    for (i, (name, _, _)) in warm_cases.iter().enumerate() {
        row(name, "warm (same Runtime)", &warm[i]);
    }
    // The warm Runtimes go first: each pool reserves ~47 TiB of address space (sized from
    // the machine's memory), and a third one beside them does not fit in x86-64's 128 TiB.
    let warm_names: Vec<String> = warm_cases.iter().map(|(n, _, _)| n.clone()).collect();
    drop(warm_cases);
    drop(on_disk);
    drop(on_tmpfs);
    // Runtime::new itself (not in the rows above, but in every `wasmgate run`): default
    // config vs the pooling allocator off vs fuel off, interleaved, on fresh data dirs.
    let mut no_pool = Vec::new();
    let mut no_fuel = Vec::new();
    let mut dflt = Vec::new();
    for k in 0..10 {
        for (variant, out) in [(0, &mut dflt), (1, &mut no_pool), (2, &mut no_fuel)] {
            let mut config = HostConfig {
                data_dir: Some(scratch.join(format!("new-{variant}-{k}"))),
                ..Default::default()
            };
            config.pool.enabled = variant != 1;
            config.fuel.enabled = variant != 2;
            let t = Instant::now();
            let rt = Runtime::new(config)?;
            out.push(t.elapsed());
            drop(rt);
        }
    }
    println!(
        "\n`Runtime::new` (engine, linker, epoch thread, pooling allocator, log store) is not in the rows above but is in every `wasmgate run`:\n"
    );
    println!("| Runtime::new | n | median ms | p90 ms |");
    println!("|---|---|---|---|");
    for (name, v) in [
        ("default config, fresh data dir (cold rows)", &new_fresh),
        (
            "default config, existing data dir (disk-cache rows)",
            &new_existing,
        ),
        (
            "default config, fresh data dir (interleaved with the next two)",
            &dflt,
        ),
        ("pooling allocator off, fresh data dir", &no_pool),
        ("fuel off, fresh data dir", &no_fuel),
    ] {
        let st = stats(v);
        println!("| {name} | {} | {} | {} |", st.n, ms(st.median), ms(st.p90));
    }
    println!(
        "\nWhere a warm start goes (medians of the same samples; each phase ends when the bench task saw the event, so hand-off latency is included):\n"
    );
    println!(
        "| task | start_task → PENDING (validate, plan, spawn, create storage) | → ACTIVATING (load images) | → all RUNNING (stores, instantiate) | total |"
    );
    println!("|---|---|---|---|---|");
    for (i, name) in warm_names.iter().enumerate() {
        let p: Vec<Duration> = phases[i].iter().map(|p| p.pending).collect();
        let a: Vec<Duration> = phases[i]
            .iter()
            .map(|p| p.activating.saturating_sub(p.pending))
            .collect();
        let r: Vec<Duration> = phases[i]
            .iter()
            .zip(&warm[i])
            .map(|(p, t)| t.saturating_sub(p.activating))
            .collect();
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(median(&p)),
            ms(median(&a)),
            ms(median(&r)),
            ms(median(&warm[i]))
        );
    }
    let warm2 = median(&warm[1]);
    println!(
        "Target: warm start of a 2-container task under 1 ms median → {} ms: **{}**.",
        ms(warm2),
        if warm2 < Duration::from_millis(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// tps: many short tasks

const TPS_TASKS: usize = 1_000;
const TPS_IN_FLIGHT: usize = 64;
const SERIAL_SAMPLES: usize = 200;

/// Runs one task to STOPPED; returns its wall time and whether every container was seen
/// RUNNING before it stopped.
async fn run_to_end(rt: &Runtime, def: TaskDefinition) -> Result<(Duration, bool)> {
    let t0 = Instant::now();
    let mut h = rt.start_task(spec(def))?;
    let mut events = h.take_events().context("events")?;
    let end = h.wait().await;
    let dt = t0.elapsed();
    let mut saw_running = 0;
    while let Ok(ev) = events.try_recv() {
        if let TaskEvent::Container {
            status: ContainerStatus::Running,
            ..
        } = ev
        {
            saw_running += 1;
        }
    }
    if end.containers.iter().any(|c| c.exit_code != Some(0)) {
        bail!(
            "task did not succeed: {:?}",
            end.containers
                .iter()
                .map(|c| (&c.name, c.exit_code, &c.reason))
                .collect::<Vec<_>>()
        );
    }
    Ok((dt, saw_running == end.containers.len()))
}

async fn bench_tps(scratch: &Path) -> Result<()> {
    println!("\n## Tasks per second: short tasks on one Runtime\n");
    let rt = runtime_in(&scratch.join("tps"), true)?;
    let def = echo_task();
    for _ in 0..20 {
        run_to_end(&rt, def.clone()).await?;
    }

    // Sequential: one task at a time, start_task → STOPPED.
    let mut serial = Vec::with_capacity(SERIAL_SAMPLES);
    let mut serial_missing = 0;
    for _ in 0..SERIAL_SAMPLES {
        let (dt, saw) = run_to_end(&rt, def.clone()).await?;
        serial.push(dt);
        serial_missing += usize::from(!saw);
    }

    // Throughput: TPS_TASKS tasks, TPS_IN_FLIGHT at a time; three batches on the default
    // data dir, interleaved with batches on a Runtime whose data dir is on tmpfs.
    let shm_dir = if Path::new("/dev/shm").is_dir() {
        Some(
            tempfile::Builder::new()
                .prefix("wasmgate-bench-")
                .tempdir_in("/dev/shm")?,
        )
    } else {
        None
    };
    let tmpfs_rt = match &shm_dir {
        Some(d) => {
            let rt = runtime_in(d.path(), true)?;
            run_to_end(&rt, def.clone()).await?;
            Some(rt)
        }
        None => None,
    };
    let mut rounds = Vec::new();
    let mut tmpfs_rounds = Vec::new();
    for _ in 0..3 {
        rounds.push(batch(&rt, &def).await?);
        if let Some(t) = &tmpfs_rt {
            tmpfs_rounds.push(batch(t, &def).await?);
        }
    }

    let s = stats(&serial);
    println!(
        "Task: 1 container `echo hello` (prints 2 lines, exits 0), cpu 256 / memory 512, no logConfiguration, no console.\n"
    );
    println!(
        "| run | tasks | in flight | wall s | tasks/s | per-task latency median ms | p99 ms | tasks missing a RUNNING event |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| sequential | {SERIAL_SAMPLES} | 1 | {:.2} | {:.0} | {} | {} | {serial_missing} |",
        serial.iter().sum::<Duration>().as_secs_f64(),
        SERIAL_SAMPLES as f64 / serial.iter().sum::<Duration>().as_secs_f64(),
        ms(s.median),
        ms(s.p99)
    );
    let labelled = rounds
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("batch {}", i + 1), r))
        .chain(
            tmpfs_rounds
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("batch {}, data dir on tmpfs", i + 1), r)),
        );
    for (label, (wall, lat, missing)) in labelled {
        println!(
            "| {label} | {TPS_TASKS} | {TPS_IN_FLIGHT} | {:.2} | **{:.0}** | {} | {} | {missing} |",
            wall.as_secs_f64(),
            TPS_TASKS as f64 / wall.as_secs_f64(),
            ms(lat.median),
            ms(lat.p99)
        );
    }
    let median_tps = |rounds: &[(Duration, Stats, usize)]| {
        let mut tps: Vec<f64> = rounds
            .iter()
            .map(|(w, _, _)| TPS_TASKS as f64 / w.as_secs_f64())
            .collect();
        tps.sort_by(f64::total_cmp);
        tps.get(tps.len() / 2).copied().unwrap_or(0.0)
    };
    print!(
        "\nMedian of the {} batches: **{:.0} tasks/s**",
        rounds.len(),
        median_tps(&rounds)
    );
    if tmpfs_rounds.is_empty() {
        println!(".");
    } else {
        println!(
            "; with the data dir on tmpfs: **{:.0} tasks/s**.",
            median_tps(&tmpfs_rounds)
        );
    }
    Ok(())
}

/// TPS_TASKS short tasks, TPS_IN_FLIGHT at a time: (wall time, per-task latency, tasks
/// whose container never reported RUNNING).
async fn batch(rt: &Runtime, def: &TaskDefinition) -> Result<(Duration, Stats, usize)> {
    let sem = Arc::new(Semaphore::new(TPS_IN_FLIGHT));
    let mut set = tokio::task::JoinSet::new();
    let t0 = Instant::now();
    for _ in 0..TPS_TASKS {
        let permit = sem.clone().acquire_owned().await?;
        let (rt, def) = (rt.clone(), def.clone());
        set.spawn(async move {
            let r = run_to_end(&rt, def).await;
            drop(permit);
            r
        });
    }
    let mut latencies = Vec::with_capacity(TPS_TASKS);
    let mut no_running_event = 0;
    while let Some(r) = set.join_next().await {
        let (dt, saw) = r??;
        latencies.push(dt);
        no_running_event += usize::from(!saw);
    }
    Ok((t0.elapsed(), stats(&latencies), no_running_event))
}

// ---------------------------------------------------------------------------------------
// fuel: metering cost

const FUEL_ROUNDS: usize = 9;

/// `[fuel]` as each column of the fuel table sets it, on `wasmgate run`'s pool: the three
/// columns' Runtimes live side by side, and three default pools (~47 TiB of address space
/// each, sized from the machine's memory) do not fit in x86-64's 128 TiB.
fn runtime_fueled(data_dir: &Path, enabled: bool, meter: FuelMeter) -> Result<Runtime> {
    let mut config = HostConfig {
        data_dir: Some(data_dir.to_owned()),
        ..Default::default()
    };
    config.pool = config.pool.for_one_task();
    config.fuel.enabled = enabled;
    config.fuel.meter = meter;
    Ok(Runtime::new(config)?)
}

async fn bench_fuel(scratch: &Path) -> Result<()> {
    println!("\n## Fuel metering cost\n");
    // Columns: fuel off entirely; the default (`meter = "budgeted"`: these tasks have no
    // budget, so they run uninstrumented code, CPU time still metered); every container
    // counting fuel (`meter = "all"`, the old default).
    let runtimes = [
        runtime_fueled(&scratch.join("fuel-off"), false, FuelMeter::Budgeted)?,
        runtime_fueled(&scratch.join("fuel-default"), true, FuelMeter::Budgeted)?,
        runtime_fueled(&scratch.join("fuel-all"), true, FuelMeter::All)?,
    ];

    // A: the batch example scaled up: producer formats 1..=3,000,000 into a 21 MB file on a
    // shared volume, consumer (dependsOn COMPLETE) reads and parses it. Guest CPU-bound
    // (integer formatting/parsing, string building) plus one big file write and read.
    let mount = json!([{ "sourceVolume": "shared", "containerPath": "/data" }]);
    let batch = definition_with(
        "fuel-batch",
        4096,
        8192,
        vec![
            json!({ "name": "producer", "image": guest("producer"), "essential": false,
                    "environment": [{ "name": "COUNT", "value": "3000000" }],
                    "mountPoints": mount }),
            json!({ "name": "consumer", "image": guest("consumer"),
                    "dependsOn": [{ "containerName": "producer", "condition": "COMPLETE" }],
                    "mountPoints": mount }),
        ],
        json!([{ "name": "shared" }]),
    );
    // B: flood 500,000 lines (50 MB) of stdout with no log destination: guest string
    // building plus the host's line splitting and shipping (host work is not fuel-metered).
    let flood = definition(
        "fuel-flood",
        4096,
        8192,
        vec![container("flood", &guest("flood"), &["500000"])],
    );
    let cases = [
        ("producer → consumer, 3,000,000 numbers", batch),
        ("flood 500,000 lines, no log sink", flood),
    ];

    // Warm-up (compile every engine's artifacts), then interleave the columns per round.
    for (_, def) in &cases {
        for rt in &runtimes {
            run_to_end(rt, def.clone()).await?;
        }
    }
    let mut times: Vec<[Vec<Duration>; 3]> = vec![Default::default(); cases.len()];
    let mut cpu: Vec<[Vec<Duration>; 3]> = vec![Default::default(); cases.len()];
    let mut fuel_used: Vec<u64> = vec![0; cases.len()];
    for round in 0..FUEL_ROUNDS {
        for (i, (_, def)) in cases.iter().enumerate() {
            // Rotate which goes first, so none always runs on a warmer cache.
            for k in 0..3 {
                let slot = (round + k) % 3;
                let t0 = Instant::now();
                let mut h = runtimes[slot].start_task(spec(def.clone()))?;
                let end = h.wait().await;
                times[i][slot].push(t0.elapsed());
                if end.containers.iter().any(|c| c.exit_code != Some(0)) {
                    bail!("fuel bench task failed: {:?}", end.containers);
                }
                let cpu_ms: u64 = end.containers.iter().map(|c| c.cpu_time_ms).sum();
                cpu[i][slot].push(Duration::from_millis(cpu_ms));
                if slot == 2 {
                    fuel_used[i] = end.containers.iter().filter_map(|c| c.fuel_consumed).sum();
                }
            }
        }
    }

    println!(
        "Three Runtimes, same host config but `[fuel]`; {FUEL_ROUNDS} rounds after a warm-up, order rotated; wall time start_task → STOPPED, and the tasks' CPU time as the CPU meter counted it (every column meters CPU time).\n"
    );
    println!(
        "| workload | fuel off ms | default (`meter = \"budgeted\"`, no budget) ms | ratio default/off | `meter = \"all\"` ms | ratio all/off | CPU-meter ms off / default / all | fuel consumed | fuel/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, (name, _)) in cases.iter().enumerate() {
        let [off, dflt, all] = [0, 1, 2].map(|k| median(&times[i][k]));
        let [c_off, c_dflt, c_all] = [0, 1, 2].map(|k| median(&cpu[i][k]));
        println!(
            "| {name} | {} | {} | **{:.2}** | {} | **{:.2}** | {} / {} / {} | {:.2e} | {:.2e} |",
            ms(off),
            ms(dflt),
            dflt.as_secs_f64() / off.as_secs_f64(),
            ms(all),
            all.as_secs_f64() / off.as_secs_f64(),
            ms(c_off),
            ms(c_dflt),
            ms(c_all),
            fuel_used[i] as f64,
            fuel_used[i] as f64 / all.as_secs_f64()
        );
    }
    bench_fuel_ranking(&runtimes[1]).await
}

/// Whether `FuelConsumed` ranks tenants as the CPU meter does: tasks doing 1×, 2×, 4× and
/// 8× the work, each with a fuel budget (so each counts fuel on the default config), run at
/// once; both meters should put them in the same order, in about the same proportions.
async fn bench_fuel_ranking(rt: &Runtime) -> Result<()> {
    let tenants: Vec<(u64, TaskDefinition)> = [250_000u64, 500_000, 1_000_000, 2_000_000]
        .into_iter()
        .map(|n| {
            let def = definition_with(
                &format!("fuel-rank-{n}"),
                1024,
                2048,
                vec![json!({ "name": "work", "image": guest("producer"),
                             "environment": [{ "name": "COUNT", "value": n.to_string() }],
                             "mountPoints": [{ "sourceVolume": "data", "containerPath": "/data" }],
                             "dockerLabels": { "wasmgate.fuel-budget": "1000000000000" } })],
                json!([{ "name": "data" }]),
            );
            (n, def)
        })
        .collect();
    let handles: Vec<_> = tenants
        .iter()
        .map(|(_, def)| rt.start_task(spec(def.clone())))
        .collect::<Result<_, _>>()?;
    println!(
        "\nFuel against the CPU meter, four tenants at once on the default config (each with a fuel budget, so each counts fuel): the producer formatting N numbers.\n"
    );
    println!("| tenant (N) | CPU-meter ms | fuel consumed | fuel per CPU ms |");
    println!("|---|---|---|---|");
    let mut by_cpu = Vec::new();
    let mut by_fuel = Vec::new();
    for ((n, _), mut h) in tenants.iter().zip(handles) {
        let end = h.wait().await;
        let c = end
            .containers
            .first()
            .ok_or_else(|| anyhow!("fuel-rank task without containers"))?;
        if c.exit_code != Some(0) {
            bail!("fuel-rank task failed: {:?}", end.containers);
        }
        let fuel = c.fuel_consumed.unwrap_or(0);
        println!(
            "| {n} | {} | {:.2e} | {:.2e} |",
            c.cpu_time_ms,
            fuel as f64,
            fuel as f64 / c.cpu_time_ms.max(1) as f64
        );
        by_cpu.push((c.cpu_time_ms, *n));
        by_fuel.push((fuel, *n));
    }
    by_cpu.sort();
    by_fuel.sort();
    let order = |v: &[(u64, u64)]| v.iter().map(|(_, n)| *n).collect::<Vec<_>>();
    println!(
        "\nRanking by CPU meter {:?}, by fuel {:?}: {}.",
        order(&by_cpu),
        order(&by_fuel),
        if order(&by_cpu) == order(&by_fuel) {
            "the same"
        } else {
            "DIFFERENT"
        }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// cli: `wasmgate run` as a process

const CLI_RUNS: usize = 20;

fn time_process(cmd: &mut Command) -> Result<Duration> {
    let t0 = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("spawn {cmd:?}"))?;
    let dt = t0.elapsed();
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(dt)
}

/// `wasmtime` on PATH, if it is a 48.x CLI.
fn wasmtime_cli() -> Option<(PathBuf, String)> {
    let out = Command::new("wasmtime").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    out.status
        .success()
        .then(|| (PathBuf::from("wasmtime"), version))
}

fn bench_cli(scratch: &Path) -> Result<()> {
    println!("\n## `wasmgate run` vs `wasmtime run` (whole process)\n");
    let dir = scratch.join("cli");
    std::fs::create_dir_all(&dir)?;
    let taskdef_path = dir.join("echo.json");
    let taskdef = json!({
        "family": "echo",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{ "name": "echo", "image": guest("echo"), "command": ["hello"] }],
    });
    std::fs::write(&taskdef_path, serde_json::to_string_pretty(&taskdef)?)?;
    let data_dir = dir.join("data");

    // Host configs to compare (`--config`): the default (pooling allocator sized for 4,000
    // instances), a pool sized for one task of up to 10 containers, and no pool.
    let small_pool = dir.join("pool-small.toml");
    std::fs::write(
        &small_pool,
        "[pool]\ntotal_component_instances = 16\ntotal_core_instances = 128\n\
         total_memories = 16\ntotal_tables = 64\ntotal_stacks = 16\n",
    )?;
    let no_pool = dir.join("pool-off.toml");
    std::fs::write(&no_pool, "[pool]\nenabled = false\n")?;

    let wasmgate_run = |data: &Path, config: Option<&Path>| {
        let mut c = Command::new(WASMGATE_BIN);
        c.env_remove("WASMGATE_CONFIG").env_remove("WASMGATE_LOG");
        if let Some(config) = config {
            c.arg("--config").arg(config);
        }
        c.arg("--data-dir").arg(data).arg("run").arg(&taskdef_path);
        c
    };
    // Cold: compiles (fresh data dir each time).
    let mut cold = Vec::new();
    for i in 0..3 {
        let d = dir.join(format!("cold-{i}"));
        cold.push(time_process(&mut wasmgate_run(&d, None))?);
        let _ = std::fs::remove_dir_all(&d);
    }
    // Fill the disk cache (artifacts depend on the pool settings, so one per config).
    for config in [None, Some(small_pool.as_path()), Some(no_pool.as_path())] {
        time_process(&mut wasmgate_run(&data_dir, config))?;
    }

    let wasmtime = wasmtime_cli();
    let cwasm = dir.join("echo.cwasm");
    if let Some((bin, _)) = &wasmtime {
        time_process(
            Command::new(bin)
                .arg("compile")
                .arg("-o")
                .arg(&cwasm)
                .arg(guest("echo")),
        )?;
    }

    // Interleaved: /bin/true (spawn floor), `wasmgate --version` (binary start-up),
    // `wasmgate run` (disk cache warm) per config, and `wasmtime run` when available.
    let mut floor = Vec::new();
    let mut version = Vec::new();
    let mut warm = Vec::new();
    let mut warm_small = Vec::new();
    let mut warm_off = Vec::new();
    let mut wt = Vec::new();
    for _ in 0..CLI_RUNS {
        floor.push(time_process(&mut Command::new("true"))?);
        version.push(time_process(Command::new(WASMGATE_BIN).arg("--version"))?);
        warm.push(time_process(&mut wasmgate_run(&data_dir, None))?);
        warm_small.push(time_process(&mut wasmgate_run(
            &data_dir,
            Some(&small_pool),
        ))?);
        warm_off.push(time_process(&mut wasmgate_run(&data_dir, Some(&no_pool)))?);
        if let Some((bin, _)) = &wasmtime {
            wt.push(time_process(
                Command::new(bin)
                    .arg("run")
                    .arg("--allow-precompiled")
                    .arg(&cwasm)
                    .arg("hello"),
            )?);
        }
    }

    println!(
        "Component: `echo.wasm` with argument `hello`; `wasmgate run` of a 1-container task definition (the echo container prints 2 lines), all output discarded. Rows interleaved run by run.\n"
    );
    println!("| command | n | median ms | p90 ms | min ms |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, s: &[Duration]| {
        let st = stats(s);
        println!(
            "| {name} | {} | {} | {} | {} |",
            st.n,
            ms(st.median),
            ms(st.p90),
            ms(st.min)
        );
    };
    row("`true` (process spawn floor)", &floor);
    row(
        "`wasmgate --version` (binary start-up, no runtime)",
        &version,
    );
    row(
        "`wasmgate run echo.json`, cold (new data dir: compile)",
        &cold,
    );
    row(
        "`wasmgate run echo.json`, disk cache warm (default config)",
        &warm,
    );
    row(
        "`wasmgate run echo.json`, disk cache warm, pool sized for one task (`total_stacks = 16`, …)",
        &warm_small,
    );
    row(
        "`wasmgate run echo.json`, disk cache warm, pooling allocator off",
        &warm_off,
    );
    match &wasmtime {
        Some((_, v)) => {
            row(
                &format!("`wasmtime run --allow-precompiled echo.cwasm` ({v})"),
                &wt,
            );
            println!(
                "\nRatio `wasmgate run` / `wasmtime run` (medians, both from a precompiled artifact): **{:.2}**.",
                median(&warm).as_secs_f64() / median(&wt).as_secs_f64()
            );
        }
        None => println!(
            "| `wasmtime run` | – | not measured here: no `wasmtime` on PATH (install: `cargo install wasmtime-cli --version 48.0.8 --locked`) | | |"
        ),
    }
    Ok(())
}
