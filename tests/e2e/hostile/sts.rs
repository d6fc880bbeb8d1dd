//! A hostile API caller against STS (issue 12): one IAM user assumes a role past the
//! per-caller cap of live sessions (`tests/py/hostile_sts.py`). Past the cap: IAM's
//! `LimitExceeded`, nothing stored; her earlier sessions still work, another user still
//! assumes the role, and `wasmgate serve` stays up and small.

use super::{assert_a_well_behaved_task_runs, rss_kib};
use crate::common::{Host, Server};
use std::time::Duration;
use wasmgate::sts::MAX_SESSIONS_PER_PRINCIPAL;

/// What `wasmgate serve` may gain over the attack: a session is well under a KiB of
/// state (in the index and in the store), so the cap's worth is a few MiB.
const RSS_BOUND_KIB: u64 = 64 * 1024;

#[test]
fn assume_role_past_the_session_cap_is_refused_and_harms_no_one_else() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let before = rss_kib(server.pid());
    let cap = MAX_SESSIONS_PER_PRINCIPAL.to_string();
    let out = server.python_ok("hostile_sts.py", &[&cap]);
    println!("{}", out.stdout);
    let after = rss_kib(server.pid());
    assert!(
        after.saturating_sub(before) < RSS_BOUND_KIB,
        "serve grew from {before} KiB to {after} KiB over {cap} sessions"
    );
    // The host is up: the API answers as root, and a bystander task runs.
    let who = server.aws_json(&["sts", "get-caller-identity"]);
    assert_eq!(who["Arn"], "arn:aws:iam::000000000000:user/test");
    assert_a_well_behaved_task_runs(&host);
    let run = server.terminate(Duration::from_secs(60));
    assert!(
        run.stderr.contains("sts: session cap reached"),
        "the refusal is logged\n{}",
        run.stderr
    );
}
