use super::*;
use crate::state::ClusterRecord;
use crate::state::memory::MemStore;
use serde_json::json;

const T0: i64 = 1_796_256_000_000;

fn store() -> Arc<MemStore> {
    let s = Arc::new(MemStore::default());
    s.put_cluster(&ClusterRecord {
        name: "default".into(),
        status: "ACTIVE".into(),
        created_at_ms: 0,
        extra: json!({}),
    })
    .unwrap();
    s
}

fn task(id: &str, pulled: Option<i64>, stopped: Option<i64>) -> TaskRecord {
    let mut shape = json!({"cpu": "512", "memory": "1024"});
    if let Some(p) = pulled {
        shape["pullStartedAt"] = json!(p as f64 / 1000.0);
    }
    TaskRecord {
        task_id: id.into(),
        cluster: "default".into(),
        task_definition: "spin:1".into(),
        family: "spin".into(),
        last_status: if stopped.is_some() {
            "STOPPED"
        } else {
            "RUNNING"
        }
        .into(),
        desired_status: "RUNNING".into(),
        started_by: None,
        group: Some("service:web".into()),
        service: Some("web".into()),
        created_at_ms: T0,
        stopped_at_ms: stopped,
        task: shape,
    }
}

fn reading(id: &str, cpu_ns: u64, memory: u64) -> TaskReading {
    TaskReading {
        task_id: id.into(),
        cpu_ns,
        fuel: cpu_ns / 10,
        memory_bytes: memory,
        memory_peak_bytes: memory,
        // As if it had held `memory` for a second.
        memory_byte_seconds: memory as f64,
        memory_ms: 1_000,
        storage_bytes: 4096,
        storage_read_bytes: 10,
        storage_write_bytes: 5000,
        requests: 3,
    }
}

fn doc(s: &MemStore, id: &str) -> (UsageRecord, u64) {
    let d = s.get_document(KIND, id).unwrap().unwrap();
    (serde_json::from_value(d.value).unwrap(), d.revision)
}

#[test]
fn a_task_is_recorded_from_its_pull_to_its_stop_with_what_it_used() {
    let s = store();
    let mut m = Meter::new(s.clone(), 1_000, 60_000);
    s.put_task(&task("a", Some(T0 + 100), None)).unwrap();
    m.sample(T0 + 1_000, &[reading("a", 1_000_000, 100)]);
    let later = TaskReading {
        memory_byte_seconds: 400.0,
        memory_ms: 2_000,
        ..reading("a", 5_000_000, 300)
    };
    m.sample(T0 + 3_000, &[later]);
    m.sync(T0 + 3_000).unwrap();
    let (open, _) = doc(&s, "a");
    assert!(open.is_open());
    assert_eq!(open.start_ms, Some(T0 + 100));
    assert_eq!(open.service.as_deref(), Some("web"));
    // The runtime's exact integral: 400 byte-seconds over 2 s.
    assert!((open.memory_byte_seconds - 400.0).abs() < 1e-9);
    assert!((open.memory_average_bytes() - 200.0).abs() < 1e-9);
    assert_eq!((open.cpu_ns, open.memory_peak_bytes), (5_000_000, 300));

    s.put_task(&task("a", Some(T0 + 100), Some(T0 + 4_500)))
        .unwrap();
    m.sync(T0 + 5_000).unwrap();
    let (closed, _) = doc(&s, "a");
    assert_eq!(closed.end_ms, Some(T0 + 4_500));
    assert_eq!(closed.closed, Some(Closed::Stopped));
    assert_eq!(
        (
            closed.storage_bytes,
            closed.storage_write_bytes,
            closed.requests,
            closed.fuel
        ),
        (4096, 5000, 3, 500_000)
    );
    // Once closed, never written again.
    let rev = doc(&s, "a").1;
    m.sync(T0 + 9_000).unwrap();
    assert_eq!(doc(&s, "a").1, rev);
    let beat = heartbeat(s.as_ref()).unwrap().unwrap();
    assert_eq!(beat.at_ms, T0 + 9_000);
}

#[test]
fn open_records_are_rewritten_only_once_per_record_interval() {
    let s = store();
    let mut m = Meter::new(s.clone(), 1_000, 10_000);
    s.put_task(&task("a", Some(T0), None)).unwrap();
    m.sync(T0).unwrap();
    let rev = doc(&s, "a").1;
    m.sample(T0 + 1_000, &[reading("a", 1, 1)]);
    m.sync(T0 + 1_000).unwrap();
    assert_eq!(doc(&s, "a").1, rev);
    m.sync(T0 + 10_000).unwrap();
    assert_eq!(doc(&s, "a").1, rev + 1);
}

#[test]
fn a_task_that_stopped_between_heartbeats_is_still_recorded() {
    let s = store();
    let mut m = Meter::new(s.clone(), 1_000, 60_000);
    s.put_task(&task("quick", Some(T0), Some(T0 + 200)))
        .unwrap();
    m.sync(T0 + 1_000).unwrap();
    let (r, _) = doc(&s, "quick");
    assert_eq!((r.start_ms, r.end_ms), (Some(T0), Some(T0 + 200)));
}

#[test]
fn a_task_shorter_than_a_sample_is_closed_with_its_final_reading() {
    let s = store();
    let finals: Finals = Arc::new(|id| {
        (id == "blink").then(|| TaskReading {
            memory_byte_seconds: 1024.0 * 0.3,
            memory_ms: 300,
            ..reading(id, 250_000_000, 1024)
        })
    });
    let mut m = Meter::new(s.clone(), 1_000, 60_000).with_finals(finals);
    // Never sampled: it started and stopped between two readings.
    s.put_task(&task("blink", Some(T0), Some(T0 + 300)))
        .unwrap();
    m.sync(T0 + 1_000).unwrap();
    let (r, _) = doc(&s, "blink");
    assert_eq!(r.end_ms, Some(T0 + 300));
    assert_eq!((r.cpu_ns, r.memory_peak_bytes), (250_000_000, 1024));
    assert_eq!((r.storage_write_bytes, r.requests), (5000, 3));
    assert!((r.memory_average_bytes() - 1024.0).abs() < 1e-6);
    // A running task's record does not ask for a final reading.
    s.put_task(&task("running", Some(T0), None)).unwrap();
    m.sync(T0 + 2_000).unwrap();
    assert_eq!(doc(&s, "running").0.cpu_ns, 0);
}

#[test]
fn recovery_closes_what_a_dead_host_left_open_at_its_last_heartbeat() {
    let s = store();
    let mut m = Meter::new(s.clone(), 1_000, 60_000);
    s.put_task(&task("lost", Some(T0), None)).unwrap();
    s.put_task(&task("ended", Some(T0), None)).unwrap();
    m.sync(T0 + 5_000).unwrap();
    // Started after the last record write, never written: lost too.
    s.put_task(&task("unwritten", Some(T0 + 6_000), None))
        .unwrap();
    // Stopped after the last heartbeat, the host died before its meter saw it.
    s.put_task(&task("ended", Some(T0), Some(T0 + 5_500)))
        .unwrap();
    drop(m);

    assert_eq!(recover(s.as_ref(), T0 + 60_000).unwrap(), 3);
    let (lost, _) = doc(&s, "lost");
    assert_eq!(lost.end_ms, Some(T0 + 5_000));
    assert_eq!(lost.closed, Some(Closed::HostLost));
    let (ended, _) = doc(&s, "ended");
    assert_eq!(ended.end_ms, Some(T0 + 5_500));
    assert_eq!(ended.closed, Some(Closed::Stopped));
    // Never before its own start.
    assert_eq!(doc(&s, "unwritten").0.end_ms, Some(T0 + 6_000));
    assert_eq!(recover(s.as_ref(), T0 + 61_000).unwrap(), 0);
}

#[test]
fn closed_records_past_their_retention_are_deleted_open_ones_never() {
    let s = store();
    let mut m = Meter::new(s.clone(), 1_000, 60_000).with_retention_days(1);
    s.put_task(&task("old", Some(T0), Some(T0 + 1_000)))
        .unwrap();
    s.put_task(&task("running", Some(T0), None)).unwrap();
    m.sync(T0 + 2_000).unwrap();
    assert_eq!(prune(s.as_ref(), T0).unwrap(), 0);
    // A day and an hour later the meter's hourly sweep deletes the old record.
    s.put_task(&task("running", Some(T0), None)).unwrap();
    m.sync(T0 + 90_000_000).unwrap();
    assert!(s.get_document(KIND, "old").unwrap().is_none());
    assert!(s.get_document(KIND, "running").unwrap().is_some());
}
