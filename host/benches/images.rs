//! Task start from a registry image (issue 6): cold cache (pull + compile) vs warm, for a small
//! and a large component, and the share of start time spent in pull, compile and start.
//! `cargo bench --bench images` prints markdown tables; BENCHMARKS.md records a run.
//!
//! Needs Debian's `docker-registry` (started on loopback, as in tests/e2e/registry.rs).
//! - small: the `echo` guest;
//! - large: `echo` plus a 4 MiB custom section (bytes to pull, verify and hash; the compiler
//!   skips custom sections, so compile time stays that of `echo`).
//!
//! Phases come from the task's events: `pulled …` (blob fetched and verified), `compiled …`,
//! and the container's RUNNING event (instantiated, first guest instruction).
//! Variants: `cold` (new data dir and Runtime: pull + compile), `warm-disk` (new Runtime,
//! same data dir: tag resolve + blob re-hash + artifact load), `warm` (same Runtime:
//! tag resolve + re-hash, prepared component in memory).

use anyhow::{Context, Result, bail};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmgate::config::HostConfig;
use wasmgate::images::{self, Credentials, ImageRef};
use wasmgate::runtime::{ContainerStatus, Runtime, TaskEvent, TaskSpec};

const GUESTS: &str = env!("WASMGATE_GUESTS_DIR");
const SAMPLES: usize = 7;
const LARGE_EXTRA: usize = 4 * 1024 * 1024;

struct Registry(Child, u16);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry(dir: &Path) -> Result<Registry> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("registry").display()
        ),
    )?;
    let child = Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start /usr/bin/docker-registry (apt-get install docker-registry)")?;
    let reg = Registry(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
            let mut head = [0u8; 8];
            if s.read_exact(&mut head).is_ok() {
                return Ok(reg);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("registry did not come up")
}

/// A component with a custom section of `extra` bytes appended (valid anywhere in a component).
fn with_custom_section(component: &[u8], extra: usize) -> Vec<u8> {
    let name = b"wasmgate-bench-padding";
    let mut payload = Vec::with_capacity(extra + name.len() + 5);
    leb(&mut payload, name.len() as u64);
    payload.extend_from_slice(name);
    payload.extend((0..extra).map(|i| (i * 7 + 3) as u8));
    let mut out = component.to_vec();
    out.push(0);
    leb(&mut out, payload.len() as u64);
    out.extend_from_slice(&payload);
    out
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[derive(Default, Clone, Copy)]
struct Phases {
    total: Duration,
    pull: Duration,
    compile: Duration,
    start: Duration,
}

async fn one_start(rt: &Runtime, image: &str, base: &Path) -> Result<Phases> {
    let def = json!({
        "family": "bench-images", "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "command": ["x"]}],
    })
    .to_string();
    let parsed = wasmgate::taskdef::parse(&def, &rt.validation_options())?;
    let t0 = Instant::now();
    let mut handle = rt.start_task(TaskSpec {
        definition: parsed.definition,
        base_dir: base.to_owned(),
        overrides: vec![],
        stop_timeout: Some(Duration::ZERO),
        console: None,
        identity: None,
    })?;
    let mut events = handle.take_events().context("events")?;
    let (mut pulled, mut compiled) = (None, None);
    let running = loop {
        match events.recv().await? {
            TaskEvent::Notice(m) if m.contains(": pulled ") => pulled = notice_ms(&m),
            TaskEvent::Notice(m) if m.starts_with("compiled ") => compiled = notice_ms(&m),
            TaskEvent::Container {
                status: ContainerStatus::Running,
                ..
            } => break t0.elapsed(),
            TaskEvent::Container {
                status: ContainerStatus::Stopped,
                reason,
                ..
            } => bail!("container stopped before running: {reason:?}"),
            _ => {}
        }
    };
    let end = handle.wait().await;
    if end.containers[0].exit_code != Some(0) {
        bail!("task failed: {:?}", end.stopped_reason);
    }
    // The fetch and the compile as the host timed them (their notices say "in N ms"); the
    // rest is the tag resolve, the blob's re-hash, the artifact load (warm), instantiation
    // and the first guest instruction.
    let pull = pulled.unwrap_or_default();
    let compile = compiled.unwrap_or_default();
    let start = running.saturating_sub(pull + compile);
    Ok(Phases {
        total: running,
        pull,
        compile,
        start,
    })
}

/// `… in N ms` at the end of a notice.
fn notice_ms(m: &str) -> Option<Duration> {
    let n = m.strip_suffix(" ms")?.rsplit(' ').next()?.parse().ok()?;
    Some(Duration::from_millis(n))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn share(part: Duration, total: Duration) -> String {
    if total.is_zero() {
        return "-".into();
    }
    format!("{:.0}%", 100.0 * part.as_secs_f64() / total.as_secs_f64())
}

fn main() -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("wasmgate-bench-images-")
        .tempdir()?;
    let reg = start_registry(scratch.path())?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let echo = std::fs::read(format!("{GUESTS}/echo.wasm"))?;
    let large = with_custom_section(&echo, LARGE_EXTRA);
    let mut images = Vec::new();
    for (label, bytes) in [("small", &echo), ("large", &large)] {
        let file = scratch.path().join(format!("{label}.wasm"));
        std::fs::write(&file, bytes)?;
        let reference = format!("127.0.0.1:{}/bench/{label}:v1", reg.1);
        let r = ImageRef::parse(&reference)?;
        tokio.block_on(images::push(
            &file,
            &r,
            &Credentials::Anonymous,
            &Default::default(),
        ))?;
        images.push((label, bytes.len(), reference));
    }

    println!(
        "| image | size | variant | start (median ms) | fetch | compile | resolve + verify + load + instantiate + start |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, size, reference) in &images {
        let mut rows: Vec<(&str, Vec<Phases>)> =
            vec![("cold", vec![]), ("warm-disk", vec![]), ("warm", vec![])];
        for i in 0..SAMPLES {
            let data = scratch.path().join(format!("data-{label}-{i}"));
            let config = || HostConfig {
                data_dir: Some(data.clone()),
                ..Default::default()
            };
            tokio.block_on(async {
                let rt = Runtime::new(config())?;
                rows[0]
                    .1
                    .push(one_start(&rt, reference, scratch.path()).await?);
                drop(rt);
                let rt = Runtime::new(config())?;
                rows[1]
                    .1
                    .push(one_start(&rt, reference, scratch.path()).await?);
                rows[2]
                    .1
                    .push(one_start(&rt, reference, scratch.path()).await?);
                anyhow::Ok(())
            })?;
        }
        for (variant, samples) in rows {
            let total = median(samples.iter().map(|p| p.total).collect());
            let pull = median(samples.iter().map(|p| p.pull).collect());
            let compile = median(samples.iter().map(|p| p.compile).collect());
            let start = median(samples.iter().map(|p| p.start).collect());
            println!(
                "| {label} | {:.2} MiB | {variant} | {} | {} ms ({}) | {} ms ({}) | {} ms ({}) |",
                *size as f64 / (1024.0 * 1024.0),
                ms(total),
                ms(pull),
                share(pull, total),
                ms(compile),
                share(compile, total),
                ms(start),
                share(start, total),
            );
        }
    }
    Ok(())
}
