//! The AWS SDK for JavaScript v3, a client nobody on the project wrote (issue 11): the ECS
//! and CloudWatch Logs clients run `tests/js/sdk_flow.cjs` against `wasmgate serve`.
//! The npm packages are installed by the test into `target/jsenv` (as the Python venv:
//! an flock against parallel tests, a marker written only after a complete install).
//! Without `node` the test is skipped with its reason, except under CI=true, where
//! `.ci/run` installs it and its absence is a failure.

use crate::common::{ClientRun, Host, Server, aws_client_env, repo};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The SDK packages and versions installed (exact, as the botocore pins).
const PACKAGES: &[(&str, &str)] = &[
    ("@aws-sdk/client-ecs", "3.1178.0"),
    ("@aws-sdk/client-cloudwatch-logs", "3.1178.0"),
];

/// `node --version`, or None when there is no usable node.
fn node_version() -> Option<String> {
    let out = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn jsenv() -> PathBuf {
    static READY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    READY.get_or_init(build_jsenv).clone()
}

fn build_jsenv() -> PathBuf {
    use std::os::unix::io::AsRawFd;
    let target = repo().join("target");
    std::fs::create_dir_all(&target).expect("create target/");
    let dir = target.join("jsenv");
    let marker = dir.join(".wasmgate-jsenv-ready");
    let want: String = PACKAGES
        .iter()
        .map(|(name, version)| format!("{name}@{version}\n"))
        .collect();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join("jsenv.lock"))
        .expect("open target/jsenv.lock");
    // SAFETY: flock(2) on a descriptor we own; released when `lock` is closed.
    let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        r,
        0,
        "flock target/jsenv.lock: {}",
        std::io::Error::last_os_error()
    );
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str()) {
        return dir;
    }
    // Half-built or of other versions: start again.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create target/jsenv");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name": "wasmgate-jsenv", "private": true}"#,
    )
    .expect("write target/jsenv/package.json");
    let specs: Vec<String> = PACKAGES.iter().map(|(n, v)| format!("{n}@{v}")).collect();
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
        ])
        .args(&specs)
        .current_dir(&dir)
        .env("npm_config_cache", target.join("npm-cache"))
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("npm install: cannot run npm: {e}"));
    assert!(
        out.status.success(),
        "npm install {} into target/jsenv failed ({}):\n{}\n{}",
        specs.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&marker, &want).expect("write the jsenv marker");
    dir
}

#[test]
fn aws_sdk_for_javascript_v3_flow() {
    let Some(version) = node_version() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "node is not installed, and CI=true: .ci/run installs Debian's nodejs and npm \
             for this test"
        );
        println!("skipped: `node` is not on the PATH (install nodejs and npm to run it)");
        return;
    };
    eprintln!("node {version}");
    let env = jsenv();
    let host = Host::new();
    let server = Server::start(&host);
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/js/sdk_flow.cjs"))
        .arg(server.port.to_string())
        .env("NODE_PATH", env.join("node_modules"))
        .current_dir(repo());
    aws_client_env(&mut cmd);
    let run = ClientRun::run(cmd, Duration::from_secs(300));
    println!("{}", run.stdout);
    assert!(
        run.success() && run.stdout.contains("all 9 steps passed"),
        "tests/js/sdk_flow.cjs failed ({:?})\n--- stdout\n{}\n--- stderr\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr,
        server.debug()
    );
}
