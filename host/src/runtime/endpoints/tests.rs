//! The endpoints' routing, statuses, tokens and rate limit, and the listener's rule that
//! only the task's own address is answered.

use super::listener::EndpointServer;
use super::*;
use crate::config::{LimitsConfig, NetworkConfig};
use crate::runtime::descriptors::HostDescriptors;
use crate::runtime::fsquota::StorageQuota;
use crate::runtime::limits::TaskMemory;
use crate::runtime::net::TaskNetwork;
use crate::runtime::net::{NetworkHost, TaskLease};
use crate::runtime::status::TaskSnapshot;
use crate::runtime::status::{ContainerSnapshot, ContainerStatus, TaskStatus};
use http_body_util::BodyExt;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

struct Fixture {
    _leases: Vec<TaskLease>,
    networks: Vec<Arc<TaskNetwork>>,
}

/// Two tasks' networks from one pool. The pool's lock files are shared by every test here
/// (tests run at once), so no two tests hold, and listen on, one address.
fn fixture() -> Fixture {
    let locks = std::env::temp_dir().join("wasmgate-endpoints-tests-pool");
    std::fs::create_dir_all(&locks).unwrap();
    let limits = LimitsConfig::default();
    let descriptors = Arc::new(HostDescriptors::new(1000, &limits).unwrap());
    let host = NetworkHost::new(
        &NetworkConfig {
            lock_dir: locks,
            pool: "127.97.0.0/24".into(),
            ..NetworkConfig::default()
        },
        &limits,
        descriptors,
    )
    .unwrap();
    let leases: Vec<TaskLease> = ["aaaaaaaa", "bbbbbbbb"]
        .iter()
        .map(|id| host.provision(id, "fam").unwrap())
        .collect();
    let networks = leases.iter().map(|l| l.network().clone()).collect();
    Fixture {
        _leases: leases,
        networks,
    }
}

struct Fake;

impl TaskCredentialsProvider for Fake {
    fn credentials(&self, task_id: &str) -> Option<ContainerCredentials> {
        (task_id == "0123456789abcdef0123456789abcdef").then(|| ContainerCredentials {
            access_key_id: "ASIAFAKE".into(),
            secret_access_key: "s".into(),
            token: "t".into(),
            expiration: SystemTime::UNIX_EPOCH,
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
        })
    }
}

fn definition(role: bool) -> TaskDefinition {
    let json = serde_json::json!({
        "family": "fam",
        "cpu": "512",
        "memory": "1024",
        "taskRoleArn": role.then_some("arn:aws:iam::000000000000:role/r"),
        "containerDefinitions": [
            {"name": "a", "image": "a.wasm", "memory": 128},
            {"name": "b", "image": "b.wasm"},
        ],
    });
    crate::taskdef::parse(&json.to_string(), &Default::default())
        .unwrap()
        .definition
}

fn snapshot(def: &TaskDefinition) -> TaskSnapshot {
    TaskSnapshot {
        task_id: "0123456789abcdef0123456789abcdef".into(),
        family: def.family.clone(),
        last_status: TaskStatus::Running,
        desired_status: TaskStatus::Running,
        stop_code: None,
        stopped_reason: None,
        cpu: def.cpu,
        memory: def.memory,
        created_at: SystemTime::now(),
        started_at: Some(SystemTime::now()),
        stopping_at: None,
        stopped_at: None,
        pull_started_at: None,
        pull_stopped_at: None,
        containers: def
            .container_definitions
            .iter()
            .map(|c| ContainerSnapshot {
                name: c.name.clone(),
                image: c.image.clone(),
                image_digest: Some("sha256:00".into()),
                essential: true,
                last_status: ContainerStatus::Running,
                exit_code: None,
                reason: None,
                cpu_units: 256,
                memory_limit_mib: c.memory,
                fuel_consumed: None,
                cpu_time_ms: 0,
                cpu_throttled_ms: 0,
                memory_peak_bytes: 0,
                health_status: None,
            })
            .collect(),
        ended_by: None,
        log_lines_dropped: 0,
        log_bytes_dropped: 0,
        private_ipv4_address: None,
        health_status: crate::runtime::HealthStatus::Unknown,
    }
}

fn endpoints(net: &Arc<TaskNetwork>, role: bool, provider: bool) -> Arc<TaskEndpoints> {
    let def = definition(role);
    let identity = TaskIdentity::local(
        "us-east-1",
        "000000000000",
        "0123456789abcdef0123456789abcdef",
        2,
    );
    let (_tx, rx) = watch::channel(snapshot(&def));
    let dir = std::env::temp_dir();
    TaskEndpoints::new(
        identity,
        &def,
        &[256, 256],
        LiveSources {
            snapshot: rx,
            meters: vec![Arc::default(), Arc::default()],
            task_memory: TaskMemory::new(1 << 30),
            quota: StorageQuota::new(dir, 1 << 30),
            network: net.clone(),
        },
        provider.then(|| Arc::new(Fake) as Arc<dyn TaskCredentialsProvider>),
    )
}

fn get(ep: &TaskEndpoints, path: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut headers = HeaderMap::new();
    if let Some(t) = token {
        headers.insert(header::AUTHORIZATION, t.parse().unwrap());
    }
    let resp = ep.respond(&Method::GET, path, &headers);
    let status = resp.status();
    let body = futures::executor::block_on(resp.into_body().collect())
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

fn env_of(ep: &TaskEndpoints, i: usize) -> HashMap<String, String> {
    ep.env(i).into_iter().collect()
}

use std::collections::HashMap;

#[test]
fn every_path_is_routed_from_the_containers_uri() {
    let f = fixture();
    let ep = endpoints(&f.networks[0], false, false);
    let env = env_of(&ep, 0);
    let uri = &env["ECS_CONTAINER_METADATA_URI_V4"];
    let base = uri.strip_prefix(BASE).unwrap();
    assert!(
        base.starts_with("/v4/0123456789abcdef0123456789abcdef-"),
        "{uri}"
    );
    let (s, c) = get(&ep, base, None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["Name"], "a");
    assert_eq!(c["Limits"]["Memory"], 128);
    assert_eq!(
        c["Labels"]["com.amazonaws.ecs.task-definition-family"],
        "fam"
    );
    let (s, t) = get(&ep, &format!("{base}/task"), None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["Containers"].as_array().unwrap().len(), 2);
    assert!(t.get("TaskTags").is_none());
    let (_, t) = get(&ep, &format!("{base}/taskWithTags"), None);
    assert!(t["TaskTags"].is_object());
    let (s, st) = get(&ep, &format!("{base}/stats"), None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["memory_stats"]["limit"], 128u64 << 20);
    let (_, all) = get(&ep, &format!("{base}/task/stats"), None);
    assert_eq!(all.as_object().unwrap().len(), 2);
    // v3 shows the same container; the second container has its own id.
    let v3 = env_of(&ep, 0)["ECS_CONTAINER_METADATA_URI"].clone();
    assert_eq!(
        get(&ep, v3.strip_prefix(BASE).unwrap(), None).1["Name"],
        "a"
    );
    let other = env_of(&ep, 1)["ECS_CONTAINER_METADATA_URI_V4"].clone();
    assert_ne!(&other, uri);
    assert_eq!(
        get(&ep, other.strip_prefix(BASE).unwrap(), None).1["Name"],
        "b"
    );
    // Unknown containers and paths, other methods.
    assert_eq!(get(&ep, "/v4/nobody/task", None).0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&ep, &format!("{base}/tasks"), None).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&ep, "/", None).0, StatusCode::NOT_FOUND);
    let post = ep.respond(&Method::POST, base, &HeaderMap::new());
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn credentials_need_a_role_a_provider_and_the_token() {
    let f = fixture();
    let net = &f.networks[0];
    // No role, or no provider: no variables, and nothing served.
    for (role, provider) in [(false, true), (true, false)] {
        let ep = endpoints(net, role, provider);
        assert!(!env_of(&ep, 0).contains_key("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
        assert_eq!(
            get(&ep, "/v2/credentials", Some("x")).0,
            StatusCode::NOT_FOUND
        );
    }
    let ep = endpoints(net, true, true);
    let env = env_of(&ep, 0);
    assert_eq!(
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        "http://127.0.0.1:51679/v2/credentials"
    );
    let token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"].clone();
    assert_eq!(
        env_of(&ep, 1)["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
        token,
        "one per task"
    );
    assert_eq!(
        get(&ep, "/v2/credentials", None).0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&ep, "/v2/credentials", Some("wrong")).0,
        StatusCode::FORBIDDEN
    );
    let (s, c) = get(&ep, "/v2/credentials", Some(&token));
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["AccessKeyId"], "ASIAFAKE");
    assert_eq!(c["Expiration"], "1970-01-01T00:00:00Z");
    // Another task's endpoints have another token.
    let other = endpoints(&f.networks[1], true, true);
    assert_eq!(
        get(&other, "/v2/credentials", Some(&token)).0,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn the_platforms_variables_replace_the_definitions() {
    let mut env = vec![
        (
            "ECS_CONTAINER_METADATA_URI_V4".to_owned(),
            "http://evil".to_owned(),
        ),
        ("KEEP".to_owned(), "1".to_owned()),
    ];
    merge_env(
        &mut env,
        vec![("ECS_CONTAINER_METADATA_URI_V4".into(), "http://good".into())],
    );
    assert_eq!(
        env,
        vec![
            ("KEEP".to_owned(), "1".to_owned()),
            (
                "ECS_CONTAINER_METADATA_URI_V4".to_owned(),
                "http://good".to_owned()
            ),
        ]
    );
}

#[test]
fn a_burst_past_the_bucket_is_answered_429_with_retry_after() {
    let f = fixture();
    let ep = endpoints(&f.networks[0], false, false);
    let other = endpoints(&f.networks[1], false, false);
    let path = ep.env(0)[0].1.strip_prefix(BASE).unwrap().to_owned();
    let mut limited = None;
    for n in 0..1000 {
        let r = ep.respond(&Method::GET, &path, &HeaderMap::new());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((n, r));
            break;
        }
    }
    let (n, r) = limited.expect("never limited");
    assert!((60..=70).contains(&n), "limited after {n} requests");
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    // The other task's bucket is its own.
    let path = other.env(0)[0].1.strip_prefix(BASE).unwrap().to_owned();
    assert_eq!(
        other
            .respond(&Method::GET, &path, &HeaderMap::new())
            .status(),
        StatusCode::OK
    );
}

/// Sends a GET from a socket bound to `from`; what came back (empty: nothing).
async fn raw_get(from: std::net::Ipv4Addr, to: std::net::Ipv4Addr, path: &str) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let mut stream = socket.connect(SocketAddr::from((to, PORT))).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

use std::net::SocketAddr;

#[tokio::test]
async fn the_listener_answers_its_own_task_only() {
    let f = fixture();
    let (a, b) = (&f.networks[0], &f.networks[1]);
    let ep = endpoints(a, false, false);
    let _server = EndpointServer::start(ep.clone(), a).unwrap();
    let path = ep.env(0)[0].1.strip_prefix(BASE).unwrap().to_owned();

    let own = raw_get(a.address(), a.address(), &format!("{path}/task")).await;
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    assert!(own.contains("\"Family\":\"fam\""), "{own}");
    // Another task's address, and the host's own loopback, get nothing.
    assert_eq!(raw_get(b.address(), a.address(), &path).await, "");
    assert_eq!(
        raw_get(std::net::Ipv4Addr::LOCALHOST, a.address(), &path).await,
        ""
    );
}

#[tokio::test]
async fn the_listener_is_gone_with_the_server() {
    let f = fixture();
    let a = &f.networks[0];
    let ep = endpoints(a, false, false);
    let server = EndpointServer::start(ep, a).unwrap();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((a.address(), 0))).unwrap();
    assert!(
        socket
            .connect(SocketAddr::from((a.address(), PORT)))
            .await
            .is_err()
    );
}

/// Whether something listens on `to`:51679 for a socket bound to `from`.
async fn listening(from: std::net::Ipv4Addr, to: std::net::Ipv4Addr) -> bool {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(SocketAddr::from((to, PORT))).await.is_ok()
}

#[tokio::test]
async fn the_door_listens_only_once_wanted_and_never_after_the_task_stops() {
    use crate::runtime::net::OnDemandServer;
    let f = fixture();
    let a = &f.networks[0];
    let ep = endpoints(a, false, false);
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let told = notices.clone();
    let door = EndpointDoor::new(
        ep.clone(),
        a,
        Box::new(move |m| told.lock().unwrap().push(m)),
    );
    assert!(!door.is_open());
    assert!(
        !listening(a.address(), a.address()).await,
        "no listener yet"
    );

    door.wanted();
    assert!(door.is_open());
    let path = ep.env(0)[0].1.strip_prefix(BASE).unwrap().to_owned();
    let own = raw_get(a.address(), a.address(), &format!("{path}/task")).await;
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");

    door.close().await;
    assert!(
        !listening(a.address(), a.address()).await,
        "closed with the task"
    );
    door.wanted();
    assert!(!door.is_open(), "a stopping task's door stays shut");
    assert!(notices.lock().unwrap().is_empty());
}
