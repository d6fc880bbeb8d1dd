//! Rolling deployment time: a service of `TASKS` `http-hello` tasks behind the built-in load
//! balancer, rolled from one task definition revision to the other (`maximumPercent` 200,
//! `minimumHealthyPercent` 100), timed from UpdateService until DescribeServices shows the
//! new deployment COMPLETED with `TASKS` running and no other deployment. The control plane
//! is the library's `EcsService` (SQLite state, as `wasmgate serve`) driven through
//! `EcsService::call` with JSON bodies; the target group checks health every
//! second and wants 2 passes, with a 1 s deregistration delay.
//!
//! `cargo bench --bench services` (prints Markdown for BENCHMARKS.md).

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmgate::config::{HostConfig, LbConfig};
use wasmgate::control::{EcsService, EcsSettings};
use wasmgate::lb::LoadBalancer;
use wasmgate::protocol::Principal;
use wasmgate::runtime::Runtime;
use wasmgate::state::sqlite::SqliteStateStore;

const GUESTS: &str = env!("WASMGATE_GUESTS_DIR");
const TASKS: u32 = 10;
const RUNS: usize = 3;
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const DEADLINE: Duration = Duration::from_secs(300);

fn main() -> Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(bench())
}

struct Ecs {
    svc: Arc<EcsService>,
    principal: Principal,
}

impl Ecs {
    async fn call(&self, op: &str, body: Value) -> Result<Value> {
        self.svc
            .call(&self.principal, op, body)
            .await
            .map_err(|e| anyhow!("{op}: {e:?}"))
    }

    /// Polls DescribeServices until the deployment of `revision` is the only one,
    /// COMPLETED, with every task running.
    async fn wait_rolled_out(&self, revision: u32) -> Result<()> {
        let want = format!("task-definition/bench-web:{revision}");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let out = self
                .call("DescribeServices", json!({"services": ["bench-web"]}))
                .await?;
            let svc = &out["services"][0];
            let deps = svc["deployments"].as_array().map(Vec::as_slice);
            if let Some([d]) = deps
                && d["taskDefinition"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&want))
                && d["rolloutState"] == "COMPLETED"
                && d["runningCount"] == TASKS
                && svc["runningCount"] == TASKS
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("revision {revision} never rolled out: {svc:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn bench() -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("wasmgate-services-bench-")
        .tempdir()?;
    let lb_cfg: LbConfig = toml::from_str(
        "[[target_groups]]\nname = \"web\"\nderegistration_delay_seconds = 1\n\
         health_check = { path = \"/\", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 2 }\n\
         [[listeners]]\nport = 0\ntarget_group = \"web\"\n",
    )
    .context("lb config")?;
    let lb = LoadBalancer::from_config(&lb_cfg, REGION, ACCOUNT)?;
    lb.start().await?;
    let config = HostConfig {
        data_dir: Some(scratch.path().join("data")),
        ..Default::default()
    };
    let runtime = Runtime::new(config)?;
    let state = SqliteStateStore::open(&scratch.path().join("state.db"))?;
    let settings = EcsSettings {
        region: REGION.into(),
        account_id: ACCOUNT.into(),
    };
    let svc = EcsService::new(Arc::new(state), runtime, settings)?;
    svc.set_load_balancer(lb.clone());
    let ecs = Ecs {
        svc,
        principal: Principal::root("bench", format!("arn:aws:iam::{ACCOUNT}:user/bench")),
    };
    for name in ["rev1", "rev2"] {
        ecs.call(
            "RegisterTaskDefinition",
            json!({
                "family": "bench-web", "cpu": "256", "memory": "512",
                "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
                "containerDefinitions": [{
                    "name": "web", "image": format!("{GUESTS}/http-hello.wasm"),
                    "environment": [{"name": "NAME", "value": name}],
                    "portMappings": [{"containerPort": 8080}],
                    "stopTimeout": 2,
                }],
            }),
        )
        .await?;
    }
    let tg = lb.target_group("web").context("target group web")?.arn;
    let created = Instant::now();
    ecs.call(
        "CreateService",
        json!({
            "serviceName": "bench-web", "taskDefinition": "bench-web:1",
            "desiredCount": TASKS, "launchType": "FARGATE",
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}],
        }),
    )
    .await?;
    ecs.wait_rolled_out(1).await?;
    let create = created.elapsed();

    let mut times = Vec::new();
    for run in 0..RUNS {
        let revision = if run % 2 == 0 { 2 } else { 1 };
        let t = Instant::now();
        ecs.call(
            "UpdateService",
            json!({"service": "bench-web", "taskDefinition": format!("bench-web:{revision}")}),
        )
        .await?;
        ecs.wait_rolled_out(revision).await?;
        let took = t.elapsed();
        eprintln!(
            "run {}: rolled out revision {revision} in {took:.2?}",
            run + 1
        );
        times.push(took);
    }
    ecs.call(
        "DeleteService",
        json!({"service": "bench-web", "force": true}),
    )
    .await?;

    times.sort();
    let median = times[times.len() / 2];
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    println!("| what | median | min | max | runs |");
    println!("|---|---|---|---|---|");
    println!(
        "| rolling deployment of {TASKS} tasks (UpdateService → COMPLETED) | {} | {} | {} | {RUNS} |",
        secs(median),
        secs(times[0]),
        secs(times[times.len() - 1]),
    );
    println!(
        "| CreateService of {TASKS} tasks → COMPLETED (once) | {} | | | 1 |",
        secs(create)
    );
    lb.shutdown().await;
    Ok(())
}
