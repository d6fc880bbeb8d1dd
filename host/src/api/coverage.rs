//! `docs/api-coverage.md` against what the services route: every operation a service's
//! `operations()` table holds has a row under the service's heading, and every row names a
//! routed operation.

use crate::config::{HostConfig, PoolConfig};
use crate::control::{EcsService, EcsSettings};
use crate::iam::api::IamService;
use crate::iam::store::IamStore;
use crate::logs::{LogStore, LogsService};
use crate::protocol::{ApiError, Principal, Service};
use crate::runtime::Runtime;
use crate::secrets::{HostKey, SecretsManagerService, SsmService, Vault};
use crate::state::memory::MemStore;
use crate::state::sqlite::SqliteStateStore;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const PAGE: &str = include_str!("../../../docs/api-coverage.md");

/// The page's operation rows by service name: a heading `## … (`name`)` starts a service,
/// a table row whose first cell is `` `Operation` `` lists one.
fn documented(page: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut service = None;
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            service = heading
                .rsplit_once("(`")
                .and_then(|(_, rest)| rest.strip_suffix("`)"))
                .map(str::to_owned);
            continue;
        }
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((op, _)) = cell.split_once('`') else {
            continue;
        };
        let service = service
            .clone()
            .unwrap_or_else(|| panic!("row {op} is under no `## … (`service`)` heading"));
        out.entry(service).or_default().push(op.to_owned());
    }
    out
}

fn routed<S: Service>(s: &S) -> (String, BTreeSet<String>) {
    let ops = s.operations().iter().map(|o| o.name.to_owned()).collect();
    (s.name().to_owned(), ops)
}

fn principal() -> Principal {
    Principal::root("test", "arn:aws:iam::000000000000:user/test")
}

fn not_unknown(service: &str, op: &str, r: Result<serde_json::Value, ApiError>) {
    if let Err(e) = r {
        assert_ne!(
            e.code, "UnknownOperationException",
            "{service} routes {op} but does not answer it: {e}"
        );
    }
}

#[tokio::test]
async fn the_coverage_page_lists_exactly_the_routed_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = SqliteStateStore::open(&dir.path().join("state.db")).expect("state store");
    let runtime = Runtime::new(HostConfig {
        data_dir: Some(dir.path().join("data")),
        pool: PoolConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("runtime");
    let settings = EcsSettings {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
    };
    let ecs = EcsService::new(Arc::new(state), runtime, settings).expect("ecs");
    let logs = LogsService::new(LogStore::open_in_memory().expect("log store"));

    let mut services = BTreeMap::new();
    let (name, ops) = routed(&*ecs);
    // A routed name must be one the service answers (not a row `dispatch` lacks).
    for op in &ops {
        not_unknown(&name, op, ecs.call(&principal(), op, json!({})).await);
    }
    services.insert(name, ops);
    let (name, ops) = routed(&logs);
    for op in &ops {
        not_unknown(&name, op, logs.call(&principal(), op, json!({})).await);
    }
    services.insert(name, ops);
    // Typed services: every routed name has its handler by construction (`op!`).
    let vault = Vault::new(
        Arc::new(SqliteStateStore::open(&dir.path().join("secrets.db")).expect("state store")),
        Arc::new(HostKey::ephemeral()),
        "us-east-1",
        "000000000000",
    );
    let (name, ops) = routed(&SsmService::new(vault.clone()));
    services.insert(name, ops);
    let (name, ops) = routed(&SecretsManagerService::new(vault));
    services.insert(name, ops);
    let (name, ops) = routed(&sts_service(dir.path()));
    services.insert(name, ops);
    let iam_store = IamStore::new(Arc::new(MemStore::default()), "000000000000", "us-east-1")
        .expect("iam store");
    let (name, ops) = routed(&IamService::new(Arc::new(iam_store)));
    services.insert(name, ops);
    let state_dir = tempfile::tempdir().expect("tempdir");
    let metrics_state = SqliteStateStore::open(&state_dir.path().join("state.db")).expect("state");
    let metrics = crate::metrics::MetricsService::new(
        crate::metrics::MetricStore::in_memory(10, 1 << 20),
        Arc::new(metrics_state),
        "us-east-1",
        "000000000000",
    );
    let (name, ops) = routed(&metrics);
    services.insert(name, ops);

    let page = documented(PAGE);
    for (service, ops) in &services {
        let rows = page.get(service).cloned().unwrap_or_default();
        let listed: BTreeSet<String> = rows.iter().cloned().collect();
        assert_eq!(
            rows.len(),
            listed.len(),
            "{service}: an operation is listed twice"
        );
        let missing: Vec<_> = ops.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(ops).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/api-coverage.md, service {service}: routed but not listed {missing:?}; \
             listed but not routed {extra:?}"
        );
    }
    let unknown: Vec<_> = page.keys().filter(|s| !services.contains_key(*s)).collect();
    assert!(
        unknown.is_empty(),
        "the page lists services no one routes: {unknown:?}"
    );
    ecs.shutdown().await;
}

/// STS over no roles: only its operation table is read.
fn sts_service(dir: &std::path::Path) -> crate::sts::StsService {
    use crate::sts::{RoleDirectory, RoleInfo, Sessions, StsService, TrustRequest};
    struct NoRoles;
    impl RoleDirectory for NoRoles {
        fn role(&self, _: &str) -> Result<Option<RoleInfo>, ApiError> {
            Ok(None)
        }
        fn trusts(&self, _: &RoleInfo, _: &TrustRequest<'_>) -> Result<bool, ApiError> {
            Ok(false)
        }
    }
    let store = SqliteStateStore::open(&dir.join("sts.db")).expect("state store");
    let sessions =
        Sessions::open(Arc::new(store), time::OffsetDateTime::now_utc()).expect("sessions");
    StsService::new(Arc::new(sessions), Arc::new(NoRoles), "000000000000".into())
}

#[test]
fn the_page_reader_finds_rows_under_their_service() {
    let page = "# T\n\n## A (`a`)\n\n| Operation | x |\n|---|---|\n| `One` | m |\n\
                | `Two` | |\n\n## B (`b`)\n| `Three` | |\n";
    let d = documented(page);
    assert_eq!(d["a"], ["One", "Two"]);
    assert_eq!(d["b"], ["Three"]);
}
