//! A tenant hammering its task's metadata endpoint (issue 13, "Bad input"): the task's
//! token bucket answers 429 past its burst and rate, while another task's endpoint answers
//! at once and other tasks run as usual.

use super::assert_a_well_behaved_task_runs;
use crate::common::{Host, guest};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);
/// How long the flooder floods.
const FLOOD_SECONDS: u64 = 4;

#[test]
fn a_metadata_flood_is_rate_limited_and_other_tasks_are_unaffected() {
    let host = Host::new();
    let flooder = host.start(
        &json!({
            "family": "md-flood",
            "cpu": "1024",
            "memory": "2048",
            "containerDefinitions": [{
                "name": "flood",
                "image": guest("hostile-metadata-flood"),
                "command": [FLOOD_SECONDS.to_string()],
            }],
        }),
        &[],
    );
    flooder.expect_stdout("flooding ", WAIT);

    // While it floods, another task's endpoint answers its first requests, quickly.
    let started = Instant::now();
    let reader = host.run(
        &json!({
            "family": "md-neighbour",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{
                "name": "reader",
                "image": guest("metadata-reader"),
                "command": ["get:/task", "get:/stats", "tcp:/task"],
            }],
        }),
        &[],
    );
    assert_eq!(reader.code, Some(0), "{}", reader.debug());
    let lines = reader.lines_of("reader");
    for action in ["get:/task", "get:/stats", "tcp:/task"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("RESULT {action} 200 "))),
            "{action} of the neighbour was not answered 200:\n{}",
            reader.debug()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the neighbour took {:?}",
        started.elapsed()
    );
    assert_a_well_behaved_task_runs(&host);

    let done = flooder.expect_stdout("flood done", WAIT);
    let count = |key: &str| -> u64 {
        done.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {done:?}"))
    };
    let (ok, limited, other) = (count("ok="), count("limited="), count("other="));
    assert!(limited > 0, "the flood was never limited: {done}");
    assert_eq!(other, 0, "every request was answered 200 or 429: {done}");
    // A burst of 60 and 40 a second: over a few seconds, at most that (with slack for the
    // time the guest took to start flooding).
    let bound = 60 + 40 * (FLOOD_SECONDS + 2);
    assert!(
        ok <= bound,
        "{ok} requests answered in {FLOOD_SECONDS} s (bound {bound}): {done}"
    );
    let run = flooder.wait(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.debug());
}
