//! Policies that reach into the sandbox (issue 12, item 5), end to end: a task role's
//! `wasmgate:` statements decide what the task's code reaches, instead of the host's
//! `[[network.rules]]` / `egress` (boto3 against `wasmgate serve`: `tests/py/network_policy.py`),
//! and `wasmgate run` finds the role in the data directory's IAM state.

use crate::common;

use common::*;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

#[test]
fn a_task_roles_policies_decide_its_connects_and_http_requests() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let out = server.python_ok("network_policy.py", &[]);
    println!("{}", out.stdout);
    let targets: Vec<String> = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("TARGETS "))
        .unwrap_or_else(|| panic!("no targets printed:\n{}", out.stdout))
        .split(' ')
        .map(str::to_owned)
        .collect();
    let run = server.terminate(Duration::from_secs(60));
    // One line per denial, naming the statement that decided.
    let line = |target: &str| {
        run.stderr
            .lines()
            .find(|l| l.contains(&format!("tcp connect to {target}:7000 denied")))
            .unwrap_or_else(|| panic!("no denial logged for {target}\n{}", run.stderr))
            .to_owned()
    };
    let db = line(&targets[0]);
    assert!(db.contains(r#"Sid "NoDbService""#), "{db}");
    assert!(db.contains("role netpol inline policy net"), "{db}");
    let vault = line(&targets[1]);
    assert!(vault.contains(r#"Sid "NoVaultFamily""#), "{vault}");

    // `wasmgate run` with the same data directory: the definition's taskRoleArn is found
    // in its IAM state, and its policy lets the client reach another task (no
    // [[network.rules]] entry would).
    let echo = host.start(
        &task("np-echo", &[("echo", "tcp-echo", &["7400"])]),
        &["--stop-timeout", "1"],
    );
    let target = format!("{}:7400", echo.task_address(WAIT));
    echo.expect_stdout("listening on 127.0.0.1:7400", WAIT);
    let mut client = task(
        "np-client",
        &[("client", "tcp-client", &[&target, "knock"])],
    );
    let allowed = host.run(&client, &["--stop-timeout", "1"]);
    assert_eq!(
        allowed.code,
        Some(1),
        "no role: the host's rules deny\n{}",
        allowed.debug()
    );
    client["taskRoleArn"] = json!("arn:aws:iam::000000000000:role/netpol");
    let allowed = host.run(&client, &["--stop-timeout", "1"]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.debug());
    assert!(
        allowed
            .lines_of("client")
            .contains(&"reply knock".to_owned()),
        "{}",
        allowed.debug()
    );
    echo.signal(libc::SIGTERM);
    echo.wait(WAIT);
}

#[test]
fn run_with_a_role_policy_file_is_governed_by_it_without_any_iam_state() {
    let host = Host::new();
    let echo = host.start(
        &task("rp-echo", &[("echo", "tcp-echo", &["7401"])]),
        &["--stop-timeout", "1"],
    );
    let target = format!("{}:7401", echo.task_address(WAIT));
    echo.expect_stdout("listening on 127.0.0.1:7401", WAIT);
    let client = task(
        "rp-client",
        &[("client", "tcp-client", &[&target, "knock"])],
    );
    let policy = |effect: &str| {
        let path = host.data_dir().join(format!("{effect}.json"));
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Everything", "Effect": "Allow", "Action": "wasmgate:*", "Resource": "*"},
            {"Sid": "TheEcho", "Effect": effect, "Action": "wasmgate:NetworkConnect",
             "Resource": "*", "Condition": {"NumericEquals": {"wasmgate:DestinationPort": "7401"}}}
        ]});
        std::fs::create_dir_all(host.data_dir()).unwrap();
        std::fs::write(&path, doc.to_string()).unwrap();
        path.display().to_string()
    };
    // The host's rules alone deny a sibling; the file's Allow lets it through.
    let allow = policy("Allow");
    let allowed = host.run(&client, &["--stop-timeout", "1", "--role-policy", &allow]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.debug());
    assert!(
        allowed
            .lines_of("client")
            .contains(&"reply knock".to_owned())
    );
    // An explicit Deny in the file wins, and the host's line names the statement.
    let deny = policy("Deny");
    let denied = host.run(&client, &["--stop-timeout", "1", "--role-policy", &deny]);
    assert_eq!(denied.code, Some(1), "{}", denied.debug());
    assert!(
        denied.stderr.contains(r#"Sid "TheEcho""#),
        "{}",
        denied.debug()
    );
    // A file that is not a policy: refused before anything starts, naming the flag.
    let broken = host.data_dir().join("broken.json");
    std::fs::write(&broken, "{\"Statement\": 5}").unwrap();
    let refused = host.run(&client, &["--role-policy", &broken.display().to_string()]);
    assert_eq!(refused.code, Some(125), "{}", refused.debug());
    assert!(
        refused.stderr.contains("--role-policy"),
        "{}",
        refused.debug()
    );
    echo.signal(libc::SIGTERM);
    echo.wait(WAIT);
}

/// `wasmgate:NetworkListen`: a governed task listens on its portMappings' ports always,
/// on another port only when its role allows `listener/<port>`.
#[test]
fn listens_beyond_the_port_mappings_follow_the_roles_network_listen() {
    let host = Host::new();
    std::fs::create_dir_all(host.data_dir()).unwrap();
    let policy = |name: &str, statements: serde_json::Value| {
        let path = host.data_dir().join(format!("{name}.json"));
        let doc = json!({"Version": "2012-10-17", "Statement": statements});
        std::fs::write(&path, doc.to_string()).unwrap();
        path.display().to_string()
    };
    let connect_only = policy(
        "connect-only",
        json!([{"Effect": "Allow", "Action": "wasmgate:NetworkConnect", "Resource": "*"}]),
    );
    let listen_7403 = policy(
        "listen-7403",
        json!([
            {"Effect": "Allow", "Action": "wasmgate:NetworkConnect", "Resource": "*"},
            {"Sid": "Listener", "Effect": "Allow", "Action": "wasmgate:NetworkListen",
             "Resource": "arn:wasmgate:network:*:*:listener/7403"}
        ]),
    );
    // `tcp-echo PORT 0`: listens, prints where, exits 0 (or prints the error, exits 1).
    let server = task("nl-echo", &[("echo", "tcp-echo", &["7403", "0"])]);
    let listening = |run: &Run| {
        run.lines_of("echo")
            .iter()
            .any(|l| l.starts_with("listening on ") && l.ends_with(":7403"))
    };

    let denied = host.run(&server, &["--role-policy", &connect_only]);
    assert_eq!(denied.code, Some(1), "{}", denied.debug());
    assert!(
        denied
            .lines_of("echo")
            .iter()
            .any(|l| l.starts_with("error kind=PermissionDenied")),
        "{}",
        denied.debug()
    );
    assert!(
        denied.stderr.contains("wasmgate:NetworkListen"),
        "the host's line names the action\n{}",
        denied.debug()
    );

    let allowed = host.run(&server, &["--role-policy", &listen_7403]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.debug());
    assert!(listening(&allowed), "{}", allowed.debug());

    // A port of the task's portMappings needs no NetworkListen.
    let mut mapped = server.clone();
    mapped["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 7403}]);
    let run = host.run(&mapped, &["--role-policy", &connect_only]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(listening(&run), "{}", run.debug());
}
