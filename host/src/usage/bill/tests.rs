use super::*;
use crate::usage::record::Closed;

const P: Prices = Prices {
    vcpu_hour: 0.04048,
    gb_hour: 0.004445,
};
/// 2026-12-03T00:00:00Z.
const DAY0: i64 = 1_796_256_000_000;

fn rec(id: &str, cpu: u32, mib: u64, start: i64, end: Option<i64>) -> UsageRecord {
    UsageRecord {
        task_id: id.into(),
        cluster: "default".into(),
        service: None,
        family: "f".into(),
        task_definition: "f:1".into(),
        cpu_units: cpu,
        memory_mib: mib,
        start_ms: Some(start),
        end_ms: end,
        closed: end.map(|_| Closed::Stopped),
        cpu_ns: 0,
        fuel: 0,
        memory_peak_bytes: 0,
        memory_byte_seconds: 0.0,
        sampled_ms: 0,
        storage_bytes: 0,
        storage_read_bytes: 0,
        storage_write_bytes: 0,
        requests: 0,
        updated_ms: start,
    }
}

fn query(group_by: GroupBy, now_ms: i64) -> Query {
    Query {
        cluster: None,
        service: None,
        family: None,
        since_ms: None,
        until_ms: None,
        group_by,
        now_ms,
        heartbeat: None,
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn per_second_rounded_up_with_a_one_minute_minimum() {
    assert_eq!(billed_ms(0, 0), 60_000);
    assert_eq!(billed_ms(0, 59_001), 60_000);
    assert_eq!(billed_ms(0, 60_000), 60_000);
    assert_eq!(billed_ms(0, 60_001), 61_000);
    assert_eq!(billed_ms(1_000, 62_500), 62_000);
    assert_eq!(billed_ms(5_000, 1_000), 60_000);
}

#[test]
fn two_tasks_agree_with_hand_arithmetic() {
    // A: ¼ vCPU, ½ GB for 10 s → the minute: 15 vCPU-s, 30 GB-s.
    // B: 1 vCPU, 2 GB for 90.4 s → 91 s: 91 vCPU-s, 182 GB-s.
    let records = [
        rec("a", 256, 512, DAY0, Some(DAY0 + 10_000)),
        rec("b", 1024, 2048, DAY0, Some(DAY0 + 90_400)),
    ];
    let r = report(&records, &query(GroupBy::Task, DAY0 + 500_000), P);
    let a = &r.groups[0].1;
    let b = &r.groups[1].1;
    close(a.vcpu_seconds, 15.0);
    close(a.gb_seconds, 30.0);
    close(a.cost, (15.0 * 0.04048 + 30.0 * 0.004445) / 3600.0);
    close(b.vcpu_seconds, 91.0);
    close(b.gb_seconds, 182.0);
    close(b.cost, (91.0 * 0.04048 + 182.0 * 0.004445) / 3600.0);
    assert_eq!(r.total.tasks, 2);
    close(r.total.vcpu_seconds, 106.0);
    close(r.total.cost, a.cost + b.cost);
}

#[test]
fn by_use_prices_cpu_seconds_and_memory_really_held_without_a_minimum() {
    let mut a = rec("a", 1024, 2048, DAY0, Some(DAY0 + 10_000));
    a.cpu_ns = 2_500_000_000;
    a.memory_byte_seconds = 10.0 * GIB; // 1 GiB held for 10 s
    a.sampled_ms = 10_000;
    a.memory_peak_bytes = 1 << 30;
    let r = report(&[a], &query(GroupBy::Cluster, DAY0 + 20_000), P);
    let u = &r.total;
    close(u.cpu_seconds, 2.5);
    close(u.cost_by_use, (2.5 * 0.04048 + 10.0 * 0.004445) / 3600.0);
    close(u.memory_average_bytes, GIB);
    close(u.vcpu_seconds, 60.0);
    assert_eq!(r.groups[0].0, "default");
}

#[test]
fn a_running_task_counts_up_to_now_while_its_host_beats() {
    let open = rec("a", 1024, 1024, DAY0, None);
    let mut q = query(GroupBy::Task, DAY0 + 125_300);
    q.heartbeat = Some(Heartbeat {
        at_ms: DAY0 + 120_000,
        interval_ms: 10_000,
    });
    let r = report(std::slice::from_ref(&open), &q, P).total;
    close(r.vcpu_seconds, 126.0);
    assert_eq!((r.running, r.end_ms), (1, Some(DAY0 + 125_300)));
    // The host died at its last beat: the task ends there, however late the report.
    q.now_ms = DAY0 + 3_600_000;
    close(report(&[open], &q, P).total.vcpu_seconds, 120.0);
}

#[test]
fn a_window_takes_the_part_of_the_billed_interval_inside_it() {
    let mut a = rec("a", 1024, 1024, DAY0, Some(DAY0 + 20_000));
    a.cpu_ns = 4_000_000_000;
    let mut q = query(GroupBy::Cluster, DAY0 + 999_000);
    q.since_ms = Some(DAY0 + 10_000);
    q.until_ms = Some(DAY0 + 40_000);
    let u = report(&[a.clone()], &q, P).total;
    close(u.vcpu_seconds, 30.0); // [10 s, 40 s) of the billed minute
    close(u.cpu_seconds, 2.0); // half of the 20 s run
    q.since_ms = Some(DAY0 + 60_000);
    q.until_ms = None;
    assert_eq!(report(&[a], &q, P).total, Usage::default());
}

#[test]
fn a_task_across_midnight_is_split_by_day_and_counted_once() {
    let a = rec("a", 1024, 1024, DAY0 - 30_000, Some(DAY0 + 90_000));
    let r = report(&[a], &query(GroupBy::Day, DAY0 + 999_000), P);
    let keys: Vec<&str> = r.groups.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["2026-12-02", "2026-12-03"]);
    close(r.groups[0].1.vcpu_seconds, 30.0);
    close(r.groups[1].1.vcpu_seconds, 90.0);
    assert_eq!(r.total.tasks, 1);
    assert_eq!(r.groups[0].1.start_ms, Some(DAY0 - 30_000));
}

#[test]
fn filters_and_service_keys() {
    let mut a = rec("a", 1024, 1024, DAY0, Some(DAY0 + 1_000));
    a.service = Some("web".into());
    let b = rec("b", 1024, 1024, DAY0, Some(DAY0 + 1_000));
    let mut never = rec("c", 1024, 1024, DAY0, Some(DAY0 + 1_000));
    never.start_ms = None;
    let records = [a, b, never];
    let r = report(&records, &query(GroupBy::Service, DAY0 + 9_000), P);
    let keys: Vec<&str> = r.groups.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["default/-", "default/web"]);
    assert_eq!(r.total.tasks, 2, "a task that never pulled is not billed");
    let mut q = query(GroupBy::Task, DAY0 + 9_000);
    q.service = Some("web".into());
    assert_eq!(report(&records, &q, P).groups.len(), 1);
    q.service = None;
    q.cluster = Some("other".into());
    assert!(report(&records, &q, P).groups.is_empty());
}

#[test]
fn group_by_names_its_choices() {
    assert_eq!("day".parse::<GroupBy>(), Ok(GroupBy::Day));
    let e = "week".parse::<GroupBy>().unwrap_err();
    assert!(e.contains("cluster, service, family, task, day"), "{e}");
}
