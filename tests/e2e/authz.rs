//! IAM enforced on every API call, and STS (issue 12), against a real `wasmgate serve`:
//! boto3 (`tests/py/authz.py`: users, inline, managed and group policies, an explicit deny,
//! roles and their sessions, GetCallerIdentity for each kind of principal, refused keys and
//! tokens) and the AWS CLI walkthrough of the README's "Who may do what (IAM)". Session
//! expiry: the stored session's end is moved into the past between two runs of the host
//! (the shortest session AWS allows lasts 15 minutes), and the SigV4 check's frozen-clock
//! unit test (`host/src/sts/tests.rs`).

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

#[test]
fn boto3_users_policies_roles_and_sessions() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let out = server.python_ok("authz.py", &["main"]);
    println!("{}", out.stdout);
    let session: Vec<String> = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SESSION "))
        .unwrap_or_else(|| panic!("no session printed:\n{}", out.stdout))
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert_eq!(session.len(), 3, "{session:?}");
    let args = |phase: &'static str| {
        let mut a = vec![phase];
        a.extend(session.iter().map(String::as_str));
        a
    };

    // A session is state: it survives a restart of the host.
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let mut server = Server::start(&host);
    server.python_ok("authz.py", &args("after-restart"));
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(run.code, Some(0), "{}", run.debug());

    // Past its expiry (the stored end moved a minute into the past: the shortest session
    // lasts 15 minutes), the session is refused as expired and changes nothing.
    let db = host.data_dir().join("state.db");
    let expired = sql(
        &db,
        "UPDATE documents SET value = json_set(value, '$.expiresAt', \
         CAST(strftime('%s', 'now') AS INTEGER) - 60) WHERE kind = 'sts.session'",
    );
    assert_eq!(expired, "2", "two sessions were stored");
    let mut server = Server::start(&host);
    server.python_ok("authz.py", &args("expired"));
    let run = server.terminate(Duration::from_secs(60));
    assert_eq!(run.code, Some(0), "{}", run.debug());

    // A session whose record is gone (as a revoked one) is refused.
    let deleted = sql(&db, "DELETE FROM documents WHERE kind = 'sts.session'");
    // alice's sessions of `account-trusted` and of `deployer`.
    assert_eq!(deleted, "2", "two sessions were stored");
    let server = Server::start(&host);
    server.python_ok("authz.py", &args("deleted"));
}

/// Runs one statement on the host's state database (the host stopped); the rows it changed.
fn sql(db: &std::path::Path, statement: &str) -> String {
    let mut cmd = Command::new(pyenv().join("bin/python"));
    cmd.arg("-c")
        .arg(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             n = c.execute(sys.argv[2]).rowcount; c.commit(); print(n)",
        )
        .arg(db)
        .arg(statement);
    let run = ClientRun::run(cmd, Duration::from_secs(30));
    assert!(run.success(), "{}", run.stderr);
    run.stdout.trim().to_owned()
}

/// `aws …` signed with another key (and session token) than the harness's `test`.
fn aws_as(server: &Server, creds: &[&str], args: &[&str]) -> ClientRun {
    let mut cmd = Command::new(pyenv().join("bin/aws"));
    cmd.args(args).args([
        "--endpoint-url",
        &server.endpoint(),
        "--output",
        "json",
        "--cli-read-timeout",
        "30",
        "--cli-connect-timeout",
        "5",
    ]);
    aws_client_env(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", creds[0])
        .env("AWS_SECRET_ACCESS_KEY", creds[1]);
    if let Some(token) = creds.get(2) {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    ClientRun::run(cmd, Duration::from_secs(120))
}

fn json_of(run: &ClientRun, what: &str) -> Value {
    assert!(
        run.success(),
        "{what} failed ({:?})\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{what}: {e}\n{}", run.stdout))
}

/// The README's walkthrough, command for command: a user whose policy allows RunTask only
/// in cluster team-a runs a task there and is denied in team-b (nothing started), then
/// assumes a role.
#[test]
fn aws_cli_who_may_do_what() {
    let host = Host::new();
    let server = Server::start(&host);
    let me = server.aws_json(&["sts", "get-caller-identity"]);
    assert_eq!(me["Account"], "000000000000", "{me:#}");
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:user/test", "{me:#}");

    for c in ["team-a", "team-b"] {
        server.aws_json(&["ecs", "create-cluster", "--cluster-name", c]);
    }
    let def = json!({
        "family": "batch",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "main", "image": guest("echo"), "command": ["hi"]}]
    });
    let path = host.taskdef(&def);
    server.aws_json(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", path.display()),
    ]);

    server.aws_json(&["iam", "create-user", "--user-name", "alice"]);
    let key = server.aws_json(&["iam", "create-access-key", "--user-name", "alice"]);
    let id = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = [id.as_str(), secret.as_str()];
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["ecs:RunTask", "ecs:DescribeTasks"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:000000000000:cluster/team-a"}}
        }]
    });
    let policy_path = host.dir.path().join("run-in-team-a.json");
    std::fs::write(&policy_path, policy.to_string()).unwrap();
    server.aws_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "run-in-team-a",
        "--policy-document",
        &format!("file://{}", policy_path.display()),
    ]);

    let who = json_of(
        &aws_as(&server, &alice, &["sts", "get-caller-identity"]),
        "alice: get-caller-identity",
    );
    assert_eq!(who["Arn"], "arn:aws:iam::000000000000:user/alice");

    let ran = json_of(
        &aws_as(
            &server,
            &alice,
            &[
                "ecs",
                "run-task",
                "--cluster",
                "team-a",
                "--task-definition",
                "batch:1",
            ],
        ),
        "alice: run-task in team-a",
    );
    assert_eq!(ran["tasks"].as_array().map(Vec::len), Some(1), "{ran:#}");

    let denied = aws_as(
        &server,
        &alice,
        &[
            "ecs",
            "run-task",
            "--cluster",
            "team-b",
            "--task-definition",
            "batch:1",
        ],
    );
    assert!(!denied.success());
    // The CLI says "(reached max retries: 0)" between the two with AWS_MAX_ATTEMPTS=1.
    assert!(
        denied
            .stderr
            .contains("An error occurred (AccessDeniedException) when calling the RunTask")
            && denied.stderr.contains(
                ": User: arn:aws:iam::000000000000:user/alice is not authorized to perform: \
                 ecs:RunTask on resource: \
                 arn:aws:ecs:us-east-1:000000000000:task-definition/batch:1 because no \
                 identity-based policy allows the ecs:RunTask action\n"
            ),
        "{}",
        denied.stderr
    );
    for status in ["RUNNING", "STOPPED"] {
        let b = server.aws_json(&[
            "ecs",
            "list-tasks",
            "--cluster",
            "team-b",
            "--desired-status",
            status,
        ]);
        assert_eq!(b["taskArns"], json!([]), "nothing started in team-b");
    }

    // A role alice may assume, allowed to run tasks in any cluster.
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
            "Action": "sts:AssumeRole"
        }]
    });
    server.aws_json(&[
        "iam",
        "create-role",
        "--role-name",
        "deployer",
        "--assume-role-policy-document",
        &trust.to_string(),
    ]);
    let run_anywhere = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*"}]
    });
    server.aws_json(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "deployer",
        "--policy-name",
        "run-anywhere",
        "--policy-document",
        &run_anywhere.to_string(),
    ]);
    let may_assume = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::000000000000:role/deployer"
        }]
    });
    server.aws_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "assume-deployer",
        "--policy-document",
        &may_assume.to_string(),
    ]);
    let assumed = json_of(
        &aws_as(
            &server,
            &alice,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                "arn:aws:iam::000000000000:role/deployer",
                "--role-session-name",
                "alice",
            ],
        ),
        "alice: assume-role",
    );
    let c = &assumed["Credentials"];
    let session = [
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str().unwrap(),
    ];
    assert!(session[0].starts_with("ASIA"), "{assumed:#}");
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::000000000000:assumed-role/deployer/alice"
    );
    let who = json_of(
        &aws_as(&server, &session, &["sts", "get-caller-identity"]),
        "session: get-caller-identity",
    );
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::000000000000:assumed-role/deployer/alice"
    );
    let ran = json_of(
        &aws_as(
            &server,
            &session,
            &[
                "ecs",
                "run-task",
                "--cluster",
                "team-b",
                "--task-definition",
                "batch:1",
            ],
        ),
        "session: run-task in team-b",
    );
    assert_eq!(ran["tasks"].as_array().map(Vec::len), Some(1), "{ran:#}");
    // The same key without its session token is refused.
    let refused = aws_as(&server, &session[..2], &["sts", "get-caller-identity"]);
    assert!(
        refused.stderr.contains("(InvalidClientTokenId)"),
        "{}",
        refused.stderr
    );
}
