//! The hostile-tenant suite: each module runs attacks from `guests/hostile/` (or from
//! outside, as a client) and then shows the host unharmed: the process alive, a second,
//! well-behaved task starts and completes, the API answers, the attacker is stopped or
//! limited with a clear reason, and memory, descriptors and disk stay within bounds.

mod control;
mod http;
mod images;
mod lb_api;
mod logs;
mod metadata;
mod metrics;
mod network;
mod storage;
mod sts;

use crate::common::{Host, task};

/// Shows the host still serves other tenants: a well-behaved task on `host` starts,
/// prints what it was asked to, and exits 0.
pub fn assert_a_well_behaved_task_runs(host: &Host) {
    let def = task("bystander", &[("echo", "echo", &["still", "here"])]);
    let run = host.run(&def, &[]);
    assert_eq!(
        run.code,
        Some(0),
        "a bystander task failed:\n{}",
        run.debug()
    );
    assert!(
        run.lines_of("echo").iter().any(|l| l == "arg[2]=here"),
        "the bystander's output is missing:\n{}",
        run.debug()
    );
}

/// Open descriptors of a process (Linux), to bound what an attack left behind.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Resident memory of a process in KiB (Linux `VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
