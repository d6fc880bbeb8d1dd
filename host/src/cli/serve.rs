//! `wasmgate serve`: the ECS-, CloudWatch-Logs-, IAM- and STS-compatible API on one
//! listener, every call authorised by IAM policies, until SIGINT or SIGTERM; then in-flight
//! requests finish, the control plane stops its tasks, and the process exits 0.

use super::signals::{EXIT_FORCED, Signals};
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wasmgate::api::{self, Auth};
use wasmgate::config::HostConfig;
use wasmgate::control::{EcsService, EcsSettings};
use wasmgate::iam::api::IamService;
use wasmgate::iam::authz::PolicyAuthorizer;
use wasmgate::iam::network::IamNetworkAuthorities;
use wasmgate::iam::store::IamStore;
use wasmgate::lb::LoadBalancer;
use wasmgate::logs::LogsService;
use wasmgate::metrics::prometheus::{self, ApiMetrics, Exporter};
use wasmgate::metrics::publish::Publisher;
use wasmgate::metrics::{MetricStore, MetricsService};
use wasmgate::protocol::Router;
use wasmgate::runtime::Runtime;
use wasmgate::secrets::{ExecutionRoleSecrets, HostKey, SecretsManagerService, SsmService, Vault};
use wasmgate::state::StateStore;
use wasmgate::state::owner::DataDirOwner;
use wasmgate::state::sqlite::SqliteStateStore;
use wasmgate::sts::{
    self, Credentials, IamRoles, Sessions, StsService, TaskRoleCredentials, TrustGrant,
    WithSessionTags,
};
use wasmgate::usage;
use wasmgate::util::time::now_ms;

/// How long background work may linger once everything has been told to stop.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(5);

/// How often expired STS sessions are forgotten (after their grace, `sts::EXPIRED_GRACE`).
const SESSION_SWEEP: Duration = Duration::from_secs(300);

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `listen` of `[api]` in the config, 127.0.0.1:7300).
    /// Port 0 picks a free port; the address is printed once listening.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics (tasks, containers, the load
    /// balancer, the API). Port 0 picks a free port; the address is printed.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

pub fn serve(config: HostConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let auth = Auth::from_config(&config.api).context("invalid [api] configuration")?;
    let limits = api::server::ServeLimits::from_config(&config.api)
        .context("invalid [api] configuration")?;
    let listen = args.listen.unwrap_or(config.api.listen);
    if !listen.ip().is_loopback() && auth.only_default_key() {
        anyhow::bail!(
            "refusing to listen on {listen}: no access keys are configured, so anyone could \
             sign requests with the default test/test key. Add keys under [[api.keys]] \
             (api.keys: access_key_id, secret_access_key) in the --config file, or listen \
             on a loopback address such as 127.0.0.1"
        );
    }
    // Before anything else touches the data directory: a second host there would record
    // this one's live tasks as lost and start replacements for its services.
    let _owner = DataDirOwner::acquire(&config.data_dir())?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = rt.block_on(run(config, listen, args.metrics_listen, auth, limits));
    rt.shutdown_timeout(RUNTIME_SHUTDOWN);
    result
}

async fn run(
    config: HostConfig,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    auth: Auth,
    limits: api::server::ServeLimits,
) -> anyhow::Result<ExitCode> {
    // Bind first: a taken port fails before any state is touched.
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr().context("listener address")?;
    let metrics_listener = match metrics_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("--metrics-listen: cannot listen on {a}"))?,
        ),
        None => None,
    };
    // The load balancer of `[lb]`: listeners bound before any state is touched too. The
    // control plane gets a clone (`lb.clone()`) to register service tasks as targets.
    let lb = LoadBalancer::from_config(&config.lb, &config.api.region, &config.api.account_id)
        .context("invalid [lb] configuration")?;
    lb.start().await.context("cannot start the load balancer")?;

    let data_dir = config.data_dir();
    let settings = EcsSettings {
        region: config.api.region.clone(),
        account_id: config.api.account_id.clone(),
    };
    let metrics_config = config.metrics.clone();
    let runtime = Runtime::new(config).context("cannot start the task runtime")?;
    let state_path = data_dir.join("state.db");
    let state = SqliteStateStore::open(&state_path)
        .with_context(|| format!("cannot open the state store {}", state_path.display()))?;
    let state: Arc<dyn StateStore> = Arc::new(state);
    let iam = Arc::new(
        IamStore::new(state.clone(), &settings.account_id, &settings.region)
            .context("cannot load the IAM state")?,
    );
    // A task role's `wasmgate:` policies govern its task's network reach.
    runtime.set_network_authorities(Arc::new(IamNetworkAuthorities::new(iam.clone())));
    // STS sessions, and every key beyond the config's (users' and sessions') for SigV4.
    let sessions = Arc::new(
        Sessions::open(state.clone(), time::OffsetDateTime::now_utc())
            .context("cannot load the STS sessions")?,
    );
    sts::spawn_sweeper(sessions.clone(), SESSION_SWEEP);
    let auth =
        auth.with_credential_source(Arc::new(Credentials::new(iam.clone(), sessions.clone())));
    // Every request of every service is authorised by the caller's IAM policies (host
    // keys act as the account root, allowed everything).
    let policies = Arc::new(WithSessionTags::new(iam.clone(), sessions.clone()));
    // A role's trust policy naming the caller's ARN grants AssumeRole on its own (AWS).
    let authorizer = PolicyAuthorizer::new(policies, &settings.region, &settings.account_id)
        .with_resource_grant(Arc::new(TrustGrant::new(iam.clone())));
    // Tasks' role credentials are sessions of their roles; their secrets are read as
    // their execution roles.
    runtime.set_credentials_provider(Arc::new(TaskRoleCredentials::new(
        iam.clone(),
        sessions.clone(),
    )));
    let sts = StsService::new(
        sessions,
        Arc::new(IamRoles::new(iam.clone())),
        settings.account_id.clone(),
    );
    // Before the control plane records the previous host's unfinished tasks as STOPPED
    // (at this restart): their usage closes at that host's last heartbeat.
    let closed = usage::recover(state.as_ref(), now_ms()).context("cannot recover usage")?;
    if closed > 0 {
        tracing::info!("usage: {closed} records closed at the previous host's last heartbeat");
    }
    let usage_config = runtime.config().usage.clone();
    let live = runtime.clone();
    let finals = runtime.clone();
    // SSM SecureString parameters and secrets are sealed with the data directory's key.
    let key = HostKey::load_or_create(&data_dir).context("cannot open the secrets key")?;
    let vault = Vault::new(
        state.clone(),
        Arc::new(key),
        &settings.region,
        &settings.account_id,
    );
    runtime.set_secret_source(Arc::new(ExecutionRoleSecrets::new(
        vault.clone(),
        Some(iam.clone()),
    )));
    let ecs = EcsService::new(state.clone(), runtime.clone(), settings.clone())
        .context("cannot start the control plane")?;
    let meter = usage::spawn(
        Some(
            usage::Meter::new(
                state.clone(),
                millis(usage_config.heartbeat()),
                millis(usage_config.record()),
            )
            .with_retention_days(usage_config.retention_days)
            .with_finals(Arc::new(move |id| {
                finals.finished_task(id).map(|t| usage::reading(&t))
            })),
        ),
        usage::stats::Publisher::new(&data_dir),
        Arc::new(move || live.live_tasks()),
        usage_config.heartbeat(),
    );
    let metrics_path = data_dir.join("metrics.db");
    let metric_store = MetricStore::open(
        &metrics_path,
        metrics_config.max_series,
        metrics_config.max_bytes(),
    )
    .with_context(|| format!("cannot open the metrics store {}", metrics_path.display()))?;
    let metrics = MetricsService::new(
        metric_store.clone(),
        state.clone(),
        settings.region.clone(),
        settings.account_id.clone(),
    )
    .with_limits(&metrics_config);
    metrics.alarms().spawn(metrics_config.alarm_evaluation());
    metric_store.spawn_maintenance();
    // What the host publishes by itself: AWS/ECS, ECS/ContainerInsights,
    // AWS/ApplicationELB and wasmgate, every 10 s at 1-second resolution.
    if metrics_config.publish {
        Publisher {
            store: metric_store.clone(),
            runtime: runtime.clone(),
            lb: Some(lb.clone()),
            state: state.clone(),
            task_resolution_seconds: metrics_config.task_resolution_seconds,
        }
        .spawn();
    }
    let api_metrics = Arc::new(ApiMetrics::default());
    let (metrics_stop_tx, metrics_stop_rx) = tokio::sync::oneshot::channel::<()>();
    if let Some(l) = metrics_listener {
        let bound = l.local_addr().context("metrics listener address")?;
        let exporter = Exporter {
            runtime: runtime.clone(),
            lb: Some(lb.clone()),
            api: api_metrics.clone(),
            log_db: data_dir.join("logs.db"),
        };
        tokio::spawn(prometheus::serve(l, exporter, async {
            let _ = metrics_stop_rx.await;
        }));
        host_line!("metrics on http://{bound}/metrics");
    }
    ecs.set_load_balancer(lb.clone());
    let logs = LogsService::new(runtime.logs().clone())
        .with_arn_scope(settings.region.clone(), settings.account_id.clone());
    // The API's services: one line each.
    let services = Router::builder()
        .service(ecs.clone())
        .service(Arc::new(logs))
        .service(Arc::new(SsmService::new(vault.clone())))
        .service(Arc::new(SecretsManagerService::new(vault)))
        .service(Arc::new(IamService::new(iam.clone())))
        .service(Arc::new(sts))
        .service(Arc::new(metrics))
        .authorizer(Arc::new(authorizer))
        .observer(api_metrics);

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let signals = Signals::install().context("cannot install signal handlers")?;
    tokio::spawn(watch_signals(signals, stop_tx));
    for (l, bound) in lb.listeners().iter().zip(lb.listener_addrs()) {
        host_line!(
            "lb listener http://{bound} -> target group {}",
            l.target_group
        );
    }
    host_line!("listening on http://{addr}");
    api::server::serve_with(listener, services, auth, limits, stop_rx)
        .await
        .context("API server")?;
    host_line!("API closed; stopping tasks");
    ecs.shutdown().await;
    meter.finish().await;
    lb.shutdown().await;
    let _ = metrics_stop_tx.send(());
    if let Err(e) = metric_store.flush() {
        host_line!("metrics store: {e}");
    }
    host_line!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The first SIGINT/SIGTERM starts a graceful shutdown; a second one exits at once.
async fn watch_signals(mut signals: Signals, stop: tokio::sync::oneshot::Sender<()>) {
    let first = signals.next().await;
    host_line!("{first} received, shutting down (send again to exit at once)");
    let _ = stop.send(());
    let second = signals.next().await;
    host_line!("{second} received again, exiting now");
    std::process::exit(i32::from(EXIT_FORCED));
}
