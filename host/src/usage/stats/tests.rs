use super::*;
use crate::runtime::TaskStatus;
use crate::runtime::live::{LiveContainer, LiveNetwork};

fn task(cpu_ns: u64, throttled_ns: u64, requests: u64) -> LiveTask {
    LiveTask {
        task_id: "t1".into(),
        task_arn: "arn:aws:ecs:r:1:task/default/t1".into(),
        cluster_arn: "arn:aws:ecs:r:1:cluster/default".into(),
        cluster: "default".into(),
        service: Some("web".into()),
        family: "spin".into(),
        revision: "1".into(),
        group: "service:web".into(),
        last_status: TaskStatus::Running,
        created_at: 1,
        started_at: Some(2),
        cpu_units: 1024,
        memory_mib: 2048,
        ephemeral_storage_gib: 20,
        containers: vec![LiveContainer {
            name: "app".into(),
            cpu_units: 512,
            cpu_time_ns: cpu_ns,
            throttled_ns,
            fuel_consumed: cpu_ns * 2,
            counts_fuel: true,
            memory_bytes: 1 << 20,
            memory_peak_bytes: 2 << 20,
            memory_limit_bytes: 2048 << 20,
            instances: requests,
            http: true,
        }],
        network: LiveNetwork::default(),
        storage_used_bytes: 4096,
        storage_limit_bytes: 20 << 30,
        storage_read_bytes: 0,
        storage_write_bytes: 0,
        memory_bytes: 1 << 20,
        memory_byte_seconds: 0.0,
        memory_ms: 0,
    }
}

#[test]
fn rates_are_over_the_last_reading_and_the_share_is_the_containers() {
    let mut prev = HashMap::new();
    let first = rows(&mut prev, &[task(0, 0, 0)], 10_000);
    assert_eq!(
        first[0].cpu_percent, 0.0,
        "no rate without a previous reading"
    );
    // Half a second of CPU in a second: 50 % of one vCPU, at its 50 % share.
    let r = rows(&mut prev, &[task(500_000_000, 500_000_000, 30)], 11_000);
    let r = &r[0];
    assert!((r.cpu_percent - 50.0).abs() < 1e-9, "{r:?}");
    assert!((r.share_percent - 50.0).abs() < 1e-9, "{r:?}");
    assert!((r.throttled_percent - 50.0).abs() < 1e-9, "{r:?}");
    assert!((r.fuel_per_second - 1e9).abs() < 1e-3, "{r:?}");
    assert!((r.requests_per_second - 30.0).abs() < 1e-9, "{r:?}");
    assert_eq!(
        (r.storage_used_bytes, r.service.as_deref()),
        (4096, Some("web"))
    );
}

#[test]
fn a_host_writes_only_while_watched_and_a_reader_sees_only_fresh_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Publisher::new(dir.path());
    p.publish(&[task(1, 0, 0)], 5_000);
    assert!(read(dir.path(), 5_000, 0).is_empty(), "nobody watched");
    watch(dir.path()).unwrap();
    p.publish(&[task(2, 0, 0)], 6_000);
    let files = read(dir.path(), 6_500, 0);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].rows[0].task_id, "t1");
    assert!(
        read(dir.path(), 6_000 + FRESH_FOR_MS + 1, 0).is_empty(),
        "stale"
    );
    assert!(
        read(dir.path(), 6_500, 7_000).is_empty(),
        "older than asked"
    );
    drop(p);
    assert!(
        read(dir.path(), 6_500, 0).is_empty(),
        "removed when the host ends"
    );
}
