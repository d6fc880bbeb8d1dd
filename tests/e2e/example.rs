//! The README's example, run exactly as a user would: from the repository root, with the
//! task definition's relative path.

use crate::common;

use common::{Host, Run, repo};

#[test]
fn the_batch_example_runs_and_ships_its_logs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    assert!(
        readme.contains("run examples/batch/taskdef.json"),
        "the README no longer shows the example this test runs"
    );

    let host = Host::new();
    let state = host.dir.path().join("state.json");
    let out = host
        .cmd(&[
            "run",
            "--json-file",
            state.to_str().expect("utf-8"),
            "examples/batch/taskdef.json",
        ])
        .current_dir(repo())
        .output()
        .expect("run wasmgate");
    let run = Run::from(out).with_json_file(&state);
    assert_eq!(run.code, Some(0), "{}", run.debug());

    let lines: Vec<&str> = run.stdout.lines().collect();
    let consumer = lines
        .iter()
        .position(|l| *l == "consumer | consumer: sum of 100 numbers = 5050")
        .unwrap_or_else(|| panic!("no consumer result\n{}", run.debug()));
    let producer = lines
        .iter()
        .position(|l| *l == "producer | producer: wrote 100 numbers to /data/numbers.txt")
        .unwrap_or_else(|| panic!("no producer line\n{}", run.debug()));
    assert!(
        producer < consumer,
        "producer after consumer\n{}",
        run.debug()
    );
    assert_eq!(run.container("producer")["exitCode"], 0, "{}", run.debug());
    assert_eq!(run.container("consumer")["exitCode"], 0, "{}", run.debug());
    assert!(
        run.stderr
            .contains("wasmgate: container consumer STOPPED exitCode=0"),
        "{}",
        run.debug()
    );

    // Both containers' lines are in the log store, one stream each.
    let id = run.task["taskId"].as_str().expect("taskId").to_owned();
    let (code, stdout, stderr) = host.output(&["logs", "--group", "/wasmgate/batch"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let mut got: Vec<&str> = stdout.lines().collect();
    got.sort_unstable();
    let producer_line =
        format!("batch/producer/{id} producer: wrote 100 numbers to /data/numbers.txt");
    let consumer_line = format!("batch/consumer/{id} consumer: sum of 100 numbers = 5050");
    let mut want = vec![producer_line.as_str(), consumer_line.as_str()];
    want.sort_unstable();
    assert_eq!(got, want, "{stderr}");

    // Nothing the task wrote is left on disk.
    assert!(host.task_dirs().is_empty(), "{:?}", host.task_dirs());
}
