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

const RUN_VALUE: &str = "run-param-value-0c7d44e1";

const TRUST_TASKS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Roles that trust ecs-tasks.amazonaws.com, the first with `policy` (one statement) as
/// its inline policy `read`, made with the AWS CLI.
fn ecs_task_roles(server: &Server, names: &[&str], statement: &str) {
    for role in names {
        server.aws_json(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            TRUST_TASKS,
        ]);
    }
    let document = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
    server.aws_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        names[0],
        "--policy-name",
        "read",
        "--policy-document",
        &document,
    ]);
}

/// A metadata reader doing `actions`, with `extra` members on the task.
fn run_def(actions: &[&str], extra: serde_json::Value) -> serde_json::Value {
    let mut def = serde_json::json!({
        "family": "run-role",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "reader",
            "image": guest("metadata-reader"),
            "command": actions,
        }],
    });
    for (k, v) in extra.as_object().unwrap() {
        if k == "secrets" {
            def["containerDefinitions"][0][k] = v.clone();
        } else {
            def[k] = v.clone();
        }
    }
    def
}

#[test]
fn wasmgate_run_reads_roles_and_secrets_from_the_data_directory() {
    let host = Host::new();
    // What `serve` keeps in the data directory: a SecureString, a task role, an execution
    // role allowed to read it and one that is not.
    let mut server = Server::start(&host);
    server.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/run/pw",
        "--value",
        RUN_VALUE,
        "--type",
        "SecureString",
    ]);
    ecs_task_roles(
        &server,
        &["run-exec", "run-app", "run-exec-denied"],
        r#"{"Effect":"Allow","Action":"ssm:GetParameters","Resource":"arn:aws:ssm:us-east-1:000000000000:parameter/run/*"}"#,
    );
    let stopped = server.terminate(Duration::from_secs(30));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);

    let secrets = serde_json::json!([{"name": "PW", "valueFrom": "/run/pw"}]);
    let run = host.run(
        &run_def(
            &["envrev:PW", "creds", "get:/task"],
            serde_json::json!({
                "secrets": secrets,
                "taskRoleArn": "arn:aws:iam::000000000000:role/run-app",
                "executionRoleArn": "arn:aws:iam::000000000000:role/run-exec",
            }),
        ),
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let lines = run.lines_of("reader");
    let reversed: String = RUN_VALUE.chars().rev().collect();
    assert!(
        lines.contains(&format!("ENV PW={reversed}")),
        "{}",
        run.debug()
    );
    let creds = lines
        .iter()
        .find_map(|l| l.strip_prefix("RESULT creds 200 "))
        .unwrap_or_else(|| panic!("no credentials: {}", run.debug()));
    let creds: serde_json::Value = serde_json::from_str(creds).unwrap();
    assert_eq!(creds["RoleArn"], "arn:aws:iam::000000000000:role/run-app");
    assert!(
        creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"),
        "{creds}"
    );
    for text in [&run.stdout, &run.stderr, &run.task.to_string()] {
        assert!(!text.contains(RUN_VALUE), "run printed the secret value");
    }

    // The execution role's policy is enforced as under serve.
    let denied = host.run(
        &run_def(
            &["envrev:PW"],
            serde_json::json!({
                "secrets": secrets,
                "executionRoleArn": "arn:aws:iam::000000000000:role/run-exec-denied",
            }),
        ),
        &[],
    );
    assert_ne!(denied.code, Some(0), "{}", denied.debug());
    let reason = denied.task["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets or registry auth")
            && reason.contains("AccessDeniedException"),
        "{}",
        denied.debug()
    );
    assert_eq!(denied.task["stopCode"], "TaskFailedToStart");

    // A role the data directory does not have is refused before anything starts.
    let missing = host.run(
        &run_def(
            &["creds"],
            serde_json::json!({"taskRoleArn": "arn:aws:iam::000000000000:role/nobody"}),
        ),
        &[],
    );
    assert_eq!(missing.code, Some(125), "{}", missing.debug());
    assert!(
        missing.stderr.contains("role/nobody") && missing.stderr.contains("taskRoleArn"),
        "{}",
        missing.debug()
    );
}

#[test]
fn registry_credentials_from_a_secrets_manager_arn_read_as_the_execution_role() {
    use common::registry::{Registry, image_task_with_secret, push};
    let reg = Registry::start_with_auth(Some(("alice", "reg-pw-6b0e2d")));
    let reference = format!("{}/private/echo:v1", reg.host());
    let pusher = Host::with_config(&format!(
        "[[registry.auths]]\nregistry = \"{}\"\nusername = \"alice\"\npassword = \"reg-pw-6b0e2d\"\n",
        reg.host()
    ));
    push(&pusher, &guest("echo"), &reference, &[]);

    let host = Host::new();
    let mut server = Server::start(&host);
    let created = server.aws_json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "registry/login",
        "--secret-string",
        r#"{"username":"alice","password":"reg-pw-6b0e2d"}"#,
    ]);
    let arn = created["ARN"].as_str().unwrap().to_owned();
    ecs_task_roles(
        &server,
        &["reg-exec", "reg-exec-denied"],
        &format!(
            r#"{{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"{arn}"}}"#
        ),
    );
    let stopped = server.terminate(Duration::from_secs(30));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);

    let mut def = image_task_with_secret(&reference, &["pulled"], &arn);
    def["executionRoleArn"] = serde_json::json!("arn:aws:iam::000000000000:role/reg-exec");
    let run = host.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(!run.stdout.contains("reg-pw-6b0e2d") && !run.stderr.contains("reg-pw-6b0e2d"));

    def["executionRoleArn"] = serde_json::json!("arn:aws:iam::000000000000:role/reg-exec-denied");
    let denied = host.run(&def, &[]);
    assert_ne!(denied.code, Some(0), "{}", denied.debug());
    let reason = denied.task["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets or registry auth")
            && reason.contains("AccessDeniedException")
            && reason.contains(&arn),
        "{}",
        denied.debug()
    );
}
