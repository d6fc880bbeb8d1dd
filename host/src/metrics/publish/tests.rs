use super::*;
use crate::runtime::TaskStatus;
use crate::runtime::live::{LiveContainer, LiveNetwork};

fn task(id: &str, service: Option<&str>, cpu_ns: u64, memory: u64) -> LiveTask {
    LiveTask {
        task_id: id.into(),
        task_arn: format!("arn:aws:ecs:r:1:task/c/{id}"),
        cluster_arn: "arn:aws:ecs:r:1:cluster/c".into(),
        cluster: "c".into(),
        service: service.map(str::to_owned),
        family: "burn".into(),
        revision: "1".into(),
        group: "service:web".into(),
        last_status: TaskStatus::Running,
        created_at: 0,
        started_at: Some(0),
        cpu_units: 512,
        memory_mib: 1024,
        ephemeral_storage_gib: 20,
        containers: vec![LiveContainer {
            name: "app".into(),
            cpu_units: 512,
            cpu_time_ns: cpu_ns,
            throttled_ns: 0,
            fuel_consumed: 0,
            counts_fuel: true,
            memory_bytes: memory,
            memory_peak_bytes: memory,
            memory_limit_bytes: 1 << 30,
            instances: 0,
            http: true,
        }],
        network: LiveNetwork::default(),
        storage_used_bytes: 0,
        storage_limit_bytes: 20 << 30,
        storage_read_bytes: 0,
        storage_write_bytes: 0,
        memory_bytes: memory,
        memory_byte_seconds: 0.0,
        memory_ms: 0,
    }
}

fn find<'a>(points: &'a [Point], ns: &str, name: &str, dims: &[(&str, &str)]) -> &'a Point {
    let key = SeriesKey::new(
        ns,
        name,
        dims.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    points
        .iter()
        .find(|p| *p.key == key)
        .unwrap_or_else(|| panic!("no {ns} {name} {dims:?} in {points:#?}"))
}

#[test]
fn service_cpu_and_memory_utilization_are_per_task_percent_of_the_reservation() {
    let mut s = Sampler::default();
    let mib = 1u64 << 20;
    let first = [
        task("a", Some("web"), 0, 256 * mib),
        task("b", Some("web"), 0, 512 * mib),
    ];
    // The first reading only sets the baseline.
    let none = s.sample(100, Duration::from_secs(1), &first, None, 0);
    assert!(none.iter().all(|p| p.key.namespace != "AWS/ECS"));
    // One second later: a used 0.5 s of CPU (512 units = its whole share), b 0.25 s.
    let second = [
        task("a", Some("web"), 500_000_000, 256 * mib),
        task("b", Some("web"), 250_000_000, 512 * mib),
    ];
    let points = s.sample(101, Duration::from_secs(1), &second, None, 3);
    let svc = [("ClusterName", "c"), ("ServiceName", "web")];
    let cpu = find(&points, "AWS/ECS", "CPUUtilization", &svc);
    assert_eq!(cpu.timestamp, 101);
    assert_eq!(cpu.values.len(), 2, "one value per task");
    assert!((cpu.values[0] - 100.0).abs() < 1e-6 && (cpu.values[1] - 50.0).abs() < 1e-6);
    let mem = find(&points, "AWS/ECS", "MemoryUtilization", &svc);
    assert_eq!(mem.values, vec![25.0, 50.0]);
    let utilized = find(&points, "ECS/ContainerInsights", "CpuUtilized", &svc);
    assert_eq!(utilized.values.len(), 1);
    assert!((utilized.values[0] - 768.0).abs() < 1e-6);
    let reserved = find(
        &points,
        "ECS/ContainerInsights",
        "CpuReserved",
        &[("ClusterName", "c")],
    );
    assert_eq!(reserved.values, vec![1024.0]);
    let running = find(&points, "ECS/ContainerInsights", "RunningTaskCount", &svc);
    assert_eq!(running.values, vec![2.0]);
    let per_task = find(
        &points,
        "ECS/ContainerInsights",
        "MemoryUtilized",
        &[
            ("ClusterName", "c"),
            ("TaskDefinitionFamily", "burn"),
            ("TaskId", "b"),
        ],
    );
    assert_eq!(per_task.values, vec![512.0]);
    // Compile cache hits count from the first reading.
    assert_eq!(
        find(&points, "wasmgate", "CompileCacheHits", &[]).values,
        vec![3.0]
    );
}

#[test]
fn load_balancer_counts_are_differences_and_zero_counts_are_not_reported() {
    use crate::lb::{CounterTotals, GroupReading, Times};
    let mut s = Sampler::default();
    let group = |requests: u64| GroupReading {
        name: "web".into(),
        arn: "arn:aws:elasticloadbalancing:r:1:targetgroup/web/0123".into(),
        dimension: "targetgroup/web/0123".into(),
        totals: CounterTotals {
            requests,
            target_2xx: requests,
            ..Default::default()
        },
        healthy: 2,
        unhealthy: 0,
        targets: 2,
    };
    let lb = "app/wasmgate/abcd";
    let times = [Times::default()];
    s.sample(
        1,
        Duration::from_secs(1),
        &[],
        Some((lb, &[group(10)], &times)),
        0,
    );
    let took = [Times {
        count: 4,
        sum: 0.4,
        min: 0.05,
        max: 0.2,
    }];
    let points = s.sample(
        2,
        Duration::from_secs(1),
        &[],
        Some((lb, &[group(14)], &took)),
        0,
    );
    let dims = [
        ("LoadBalancer", lb),
        ("TargetGroup", "targetgroup/web/0123"),
    ];
    let ns = "AWS/ApplicationELB";
    assert_eq!(find(&points, ns, "RequestCount", &dims).values, vec![4.0]);
    assert_eq!(
        find(&points, ns, "RequestCountPerTarget", &dims).values,
        vec![2.0]
    );
    assert_eq!(
        find(&points, ns, "HealthyHostCount", &dims).values,
        vec![2.0]
    );
    assert_eq!(
        find(&points, ns, "RequestCount", &[("LoadBalancer", lb)]).values,
        vec![4.0]
    );
    let rt = find(&points, ns, "TargetResponseTime", &dims);
    assert_eq!(rt.set.map(|a| a.count), Some(4.0));
    let quiet = s.sample(
        3,
        Duration::from_secs(1),
        &[],
        Some((lb, &[group(14)], &times)),
        0,
    );
    assert!(quiet.iter().all(|p| p.key.name != "RequestCount"));
}

#[test]
fn written_points_are_queryable_from_the_store() {
    let store = MetricStore::in_memory(10_000, 64 << 20);
    let mut s = Sampler::default();
    s.sample(
        super::super::store::now_secs() - 2,
        Duration::from_secs(1),
        &[task("a", Some("web"), 0, 0)],
        None,
        0,
    );
    let now = super::super::store::now_secs() - 1;
    let points = s.sample(
        now,
        Duration::from_secs(1),
        &[task("a", Some("web"), 1_000_000_000, 0)],
        None,
        0,
    );
    write(&store, &points);
    let listed = store.list(|k, _| k.namespace == "AWS/ECS" && k.name == "CPUUtilization");
    assert_eq!(listed.len(), 2, "cluster and service series: {listed:?}");
}

#[test]
fn storage_read_and_write_bytes_are_the_seconds_bytes_at_every_level() {
    let mut s = Sampler::default();
    let mut a = task("a", Some("web"), 0, 0);
    let mut b = task("b", Some("web"), 0, 0);
    // Bytes written before the first reading count in the first rated second.
    (a.storage_read_bytes, a.storage_write_bytes) = (0, 1_000);
    s.sample(1, Duration::from_secs(1), &[a.clone(), b.clone()], None, 0);
    // Over the next two seconds (a late reading): a wrote 4000 more, b read 300.
    a.storage_write_bytes += 4_000;
    b.storage_read_bytes += 300;
    let points = s.sample(3, Duration::from_secs(2), &[a.clone(), b.clone()], None, 0);
    let ns = "ECS/ContainerInsights";
    let task_a = [
        ("ClusterName", "c"),
        ("TaskDefinitionFamily", "burn"),
        ("TaskId", "a"),
    ];
    let w = find(&points, ns, "StorageWriteBytes", &task_a);
    assert_eq!((w.values.clone(), w.unit), (vec![5_000.0], "Bytes"));
    assert_eq!(
        find(&points, ns, "StorageReadBytes", &task_a).values,
        vec![0.0]
    );
    for dims in [
        &[("ClusterName", "c")][..],
        &[("ClusterName", "c"), ("ServiceName", "web")],
        &[("ClusterName", "c"), ("TaskDefinitionFamily", "burn")],
    ] {
        assert_eq!(
            find(&points, ns, "StorageWriteBytes", dims).values,
            vec![5_000.0]
        );
        assert_eq!(
            find(&points, ns, "StorageReadBytes", dims).values,
            vec![300.0]
        );
    }
    // From then on, differences only.
    a.storage_write_bytes += 10;
    let next = s.sample(4, Duration::from_secs(1), &[a, b], None, 0);
    assert_eq!(
        find(&next, ns, "StorageWriteBytes", &task_a).values,
        vec![10.0]
    );
}

#[test]
fn per_task_series_can_be_kept_as_minutes_and_the_rest_stays_at_one_second() {
    let mut s = Sampler::default().task_resolution(60);
    let now = super::super::store::now_secs();
    s.sample(
        now - 2,
        Duration::from_secs(1),
        &[task("a", Some("web"), 0, 0)],
        None,
        0,
    );
    let points = s.sample(
        now - 1,
        Duration::from_secs(1),
        &[task("a", Some("web"), 1_000, 0)],
        None,
        0,
    );
    let ns = "ECS/ContainerInsights";
    let per_task = [
        ("ClusterName", "c"),
        ("TaskDefinitionFamily", "burn"),
        ("TaskId", "a"),
    ];
    assert!(!find(&points, ns, "CpuUtilized", &per_task).high_resolution);
    let container = [
        ("ClusterName", "c"),
        ("TaskDefinitionFamily", "burn"),
        ("TaskId", "a"),
        ("ContainerName", "app"),
    ];
    assert!(!find(&points, "wasmgate", "LinearMemoryBytes", &container).high_resolution);
    let svc = [("ClusterName", "c"), ("ServiceName", "web")];
    assert!(find(&points, ns, "CpuUtilized", &svc).high_resolution);
    assert!(find(&points, "AWS/ECS", "CPUUtilization", &svc).high_resolution);
    // Written, a minute's seconds land in one aggregate.
    let store = MetricStore::in_memory(1000, 64 << 20);
    write(&store, &points);
    let key = SeriesKey::new(
        ns,
        "CpuUtilized",
        per_task
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    assert_eq!(store.list(|k, _| *k == key).len(), 1);
}

#[test]
fn a_series_keeps_one_key_from_one_second_to_the_next() {
    let mut s = Sampler::default();
    let mib = 1u64 << 20;
    let tasks = [task("a", Some("web"), 0, 256 * mib)];
    s.sample(100, Duration::from_secs(1), &tasks, None, 0);
    let first = s.sample(101, Duration::from_secs(1), &tasks, None, 0);
    let second = s.sample(102, Duration::from_secs(1), &tasks, None, 0);
    let dims = [
        ("ClusterName", "c"),
        ("TaskDefinitionFamily", "burn"),
        ("TaskId", "a"),
    ];
    let (a, b) = (
        find(&first, "ECS/ContainerInsights", "CpuUtilized", &dims),
        find(&second, "ECS/ContainerInsights", "CpuUtilized", &dims),
    );
    assert!(std::sync::Arc::ptr_eq(&a.key, &b.key));
    assert_eq!((a.timestamp, b.timestamp), (101, 102));
}
