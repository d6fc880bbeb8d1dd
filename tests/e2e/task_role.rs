//! Task roles, the execution role and container secrets against a real `wasmgate serve`
//! (issue 13 items 1, 2, 5, 6): boto3 (tests/py/task_role.py) runs the scenario; here the
//! AWS CLI describes what it made, and the host's output and the raw state database are
//! searched for the secret values.

use crate::common;

use common::*;
use std::time::Duration;

const PARAM_VALUE: &str = "tr-param-value-5e81c0d2";
const SECRET_VALUE: &str = "tr-secret-key-value-a93f17";

#[test]
fn secrets_reach_the_guest_and_role_credentials_act_as_the_role_until_the_task_stops() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let run = server.python_ok("task_role.py", &[PARAM_VALUE, SECRET_VALUE]);
    println!("{}", run.stdout);

    // The AWS CLI shows the definition's secrets by valueFrom, and no value anywhere.
    let td = server.aws_json(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "tr-app",
    ]);
    let secrets = &td["taskDefinition"]["containerDefinitions"][0]["secrets"];
    assert_eq!(secrets[0]["valueFrom"], "/tr/db-pw", "{td}");
    let tasks = server.aws_json(&[
        "ecs",
        "list-tasks",
        "--cluster",
        "tr",
        "--desired-status",
        "STOPPED",
    ]);
    let arns: Vec<&str> = tasks["taskArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(!arns.is_empty(), "{tasks}");
    let mut args = vec!["ecs", "describe-tasks", "--cluster", "tr", "--tasks"];
    args.extend(arns.iter().copied());
    let described = server.aws_json(&args).to_string();
    for text in [td.to_string(), described] {
        for value in [PARAM_VALUE, SECRET_VALUE] {
            assert!(!text.contains(value), "the CLI showed a secret value");
        }
    }

    let data = host.data_dir();
    let raw = raw_state(&data);
    for value in [PARAM_VALUE, SECRET_VALUE] {
        assert!(
            !bytes_contain(&raw, value),
            "{value} is in the state files in the clear"
        );
    }
    let stopped = server.terminate(Duration::from_secs(30));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    for output in [&stopped.stdout, &stopped.stderr] {
        for value in [PARAM_VALUE, SECRET_VALUE] {
            assert!(!output.contains(value), "the host printed a secret value");
        }
    }
    let raw = raw_state(&data);
    for value in [PARAM_VALUE, SECRET_VALUE] {
        assert!(
            !bytes_contain(&raw, value),
            "{value} in the checkpointed state"
        );
    }
}
