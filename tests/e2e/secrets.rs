//! SSM Parameter Store and Secrets Manager against a real `wasmgate serve`: boto3
//! (tests/py/parameters_secrets.py; not `secrets.py`, which would shadow Python's own
//! module) and the AWS CLI, the raw SQLite files after the writes (no secret value in the
//! clear, a String parameter is), the key file, and a restart.

use crate::common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

const SECURE: &str = "sekrit-param-value-8f3a51";
const SECRET_PW: &str = "sekrit-secret-pw-91c2e7";
const PLAIN: &str = "plain-visible-value-77d0";
const CLI_SECURE: &str = "cli-secure-value-4b1f09";
const CLI_SECRET: &str = "cli-secret-value-e5a2c3";

fn assert_sealed(data: &Path, when: &str) {
    let raw = raw_state(data);
    for secret in [SECURE, SECRET_PW, CLI_SECURE, CLI_SECRET] {
        assert!(
            !bytes_contain(&raw, secret),
            "{when}: {secret} is in the state files in the clear"
        );
    }
    assert!(
        bytes_contain(&raw, PLAIN),
        "{when}: the String parameter should be stored as given"
    );
}

#[test]
fn parameters_and_secrets_with_boto3_and_the_cli_encrypted_at_rest_and_kept() {
    let host = Host::new();
    let mut server = Server::start(&host);
    let run = server.python_ok("parameters_secrets.py", &[SECURE, SECRET_PW, PLAIN]);
    println!("{}", run.stdout);

    // The AWS CLI.
    server.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/cli/pw",
        "--value",
        CLI_SECURE,
        "--type",
        "SecureString",
    ]);
    let got = server.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/cli/pw",
        "--with-decryption",
    ]);
    assert_eq!(got["Parameter"]["Value"], CLI_SECURE);
    let opaque = server.aws_json(&["ssm", "get-parameter", "--name", "/cli/pw"]);
    assert_ne!(opaque["Parameter"]["Value"], CLI_SECURE);
    let by_path = server.aws_json(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/app",
        "--recursive",
        "--with-decryption",
    ]);
    let names: Vec<&str> = by_path["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/app/db/host", "/app/db/password", "/app/level"]);
    let created = server.aws_json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "cli/token",
        "--secret-string",
        CLI_SECRET,
    ]);
    let arn = created["ARN"].as_str().unwrap().to_owned();
    let got = server.aws_json(&["secretsmanager", "get-secret-value", "--secret-id", &arn]);
    assert_eq!(got["SecretString"], CLI_SECRET);
    let listed = server.aws_json(&["secretsmanager", "list-secrets"]);
    assert!(!listed.to_string().contains(CLI_SECRET));
    let missing = server.aws(&["ssm", "get-parameter", "--name", "/cli/none"]);
    assert!(!missing.success());
    assert!(
        missing.stderr.contains("ParameterNotFound"),
        "{}",
        missing.stderr
    );
    let missing = server.aws(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        "cli/none",
    ]);
    assert!(
        missing.stderr.contains("ResourceNotFoundException"),
        "{}",
        missing.stderr
    );

    // While the server runs (values in the WAL) and after it stopped (checkpointed).
    let data = host.data_dir();
    assert_sealed(&data, "running");
    let key = std::fs::metadata(data.join("secrets.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600, "secrets.key mode");
    assert_eq!(key.len(), 32);
    let stopped = server.terminate(Duration::from_secs(30));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_sealed(&data, "stopped");
    for output in [&stopped.stdout, &stopped.stderr] {
        for secret in [SECURE, SECRET_PW, CLI_SECURE, CLI_SECRET] {
            assert!(!output.contains(secret), "the host printed a secret value");
        }
    }

    // A restart reads them back with the same key.
    let server = Server::start(&host);
    let got = server.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/app/db/password",
        "--with-decryption",
    ]);
    assert_eq!(got["Parameter"]["Value"], SECURE);
    let got = server.aws_json(&["ssm", "get-parameter", "--name", "/app/level:2"]);
    assert_eq!(got["Parameter"]["Value"], "v2");
    let got = server.aws_json(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "cli/token",
    ]);
    assert_eq!(got["SecretString"], CLI_SECRET);
    assert_eq!(got["ARN"], arn.as_str());
    let got = server.aws_json(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "prod/db",
        "--version-stage",
        "AWSPREVIOUS",
    ]);
    assert!(got["SecretString"].as_str().unwrap().contains(SECRET_PW));
}

#[test]
fn a_secrets_key_readable_by_others_stops_the_host() {
    let host = Host::new();
    std::fs::create_dir_all(host.data_dir()).unwrap();
    let key = host.data_dir().join("secrets.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, stderr) = host.output(&["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("secrets.key") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}
