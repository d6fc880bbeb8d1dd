//! API server and real AWS clients:
//! `wasmgate serve` on an ephemeral port, a Python venv with boto3 and the AWS CLI
//! (created once per machine under target/pyenv), and ways to run clients against it.

use super::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Versions installed from PyPI into `target/pyenv` (the ones ecs-api.md was checked with).
pub const BOTO3_VERSION: &str = "1.44.5";
pub const AWSCLI_VERSION: &str = "1.46.3";

/// The venv with boto3 and awscli, created on first use. Parallel tests (in this process or
/// others) serialize on an flock of `target/pyenv.lock`; a marker file written only after a
/// successful install says the venv is complete, so a half-built one is rebuilt.
pub fn pyenv() -> PathBuf {
    static READY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    READY.get_or_init(build_pyenv).clone()
}

fn build_pyenv() -> PathBuf {
    use std::os::unix::io::AsRawFd;
    let target = repo().join("target");
    std::fs::create_dir_all(&target).expect("create target/");
    let venv = target.join("pyenv");
    let marker = venv.join(".wasmgate-pyenv-ready");
    let want = format!("boto3=={BOTO3_VERSION} awscli=={AWSCLI_VERSION}\n");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target.join("pyenv.lock"))
        .expect("open target/pyenv.lock");
    // SAFETY: flock(2) on a descriptor we own; released when `lock` is closed.
    let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        r,
        0,
        "flock target/pyenv.lock: {}",
        std::io::Error::last_os_error()
    );
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str()) {
        return venv;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let python = std::env::var("WASMGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let step = |cmd: &mut Command, what: &str| {
        let out = cmd
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env_remove("PYTHONPATH")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    step(
        Command::new(&python).arg("-m").arg("venv").arg(&venv),
        &format!("{python} -m venv target/pyenv"),
    );
    step(
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            &format!("boto3=={BOTO3_VERSION}"),
            &format!("awscli=={AWSCLI_VERSION}"),
        ]),
        "pip install boto3 awscli into target/pyenv",
    );
    std::fs::write(&marker, &want).expect("write the pyenv marker");
    venv
}

/// Environment for every AWS client call: the default `test`/`test` key, us-east-1, and no
/// configuration from the machine (profiles, config files, metadata lookups).
pub fn aws_client_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ECS",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_CA_BUNDLE",
        "PYTHONPATH",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        // Paths that do not exist: botocore then reads no file at all.
        .env("AWS_CONFIG_FILE", repo().join("target/no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            repo().join("target/no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        // One attempt: a 5xx or a throttling answer fails at once instead of being retried.
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("WASMGATE_GUESTS_DIR", env!("WASMGATE_GUESTS_DIR"))
        .env("WASMGATE_REPO", repo())
}

/// A running `wasmgate serve` on 127.0.0.1 with an ephemeral port. Dropping it kills the
/// server (also when the test panics).
pub struct Server {
    pub port: u16,
    live: Option<Live>,
}

impl Server {
    /// Starts `wasmgate --data-dir <host's> serve --listen 127.0.0.1:0` and waits for its
    /// `wasmgate: listening on http://127.0.0.1:PORT` line.
    pub fn start(host: &Host) -> Self {
        Self::start_with(host, &[])
    }

    pub fn start_with(host: &Host, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let live = Live::spawn(host.cmd(&args));
        let line = live.expect_stderr("listening on http://", std::time::Duration::from_secs(60));
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().trim_end_matches('/').parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}\n{}", live.debug()));
        Self {
            port,
            live: Some(live),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn live(&self) -> &Live {
        self.live.as_ref().expect("server already stopped")
    }

    /// What the server printed so far (for failure messages).
    pub fn debug(&self) -> String {
        match &self.live {
            Some(l) => l.debug(),
            None => "(server stopped)".into(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.live().pid()
    }

    /// SIGTERM, then waits (up to `timeout`) for the server to exit.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Run {
        let live = self.live.take().expect("server already stopped");
        live.signal(libc::SIGTERM);
        live.wait(timeout)
    }

    /// SIGKILL, as a crash of the host.
    pub fn kill(&mut self) {
        if let Some(live) = self.live.take() {
            live.kill();
        }
    }

    /// `target/pyenv/bin/python tests/py/<script> <port> <args…>`, to the end.
    pub fn python(&self, script: &str, args: &[&str]) -> ClientRun {
        let mut cmd = Command::new(pyenv().join("bin/python"));
        cmd.arg(repo().join("tests/py").join(script))
            .arg(self.port.to_string())
            .args(args)
            .current_dir(repo());
        aws_client_env(&mut cmd);
        ClientRun::run(cmd, std::time::Duration::from_secs(240))
    }

    /// Starts `tests/py/<script> <port> <args…>` without waiting for it.
    pub fn python_spawn(&self, script: &str, args: &[&str]) -> Live {
        let mut cmd = Command::new(pyenv().join("bin/python"));
        cmd.arg(repo().join("tests/py").join(script))
            .arg(self.port.to_string())
            .args(args)
            .current_dir(repo())
            .stdin(Stdio::null());
        aws_client_env(&mut cmd);
        Live::spawn(cmd)
    }

    /// Runs a Python scenario and panics with its output and the server's if it fails.
    pub fn python_ok(&self, script: &str, args: &[&str]) -> ClientRun {
        let run = self.python(script, args);
        if !run.success() {
            panic!(
                "tests/py/{script} {} failed ({:?})\n--- script stdout\n{}\n--- script stderr\n{}\n{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr,
                self.debug()
            );
        }
        run
    }

    /// `aws <args…> --endpoint-url …` (AWS CLI v1 from the venv), to the end.
    pub fn aws(&self, args: &[&str]) -> ClientRun {
        let mut cmd = Command::new(pyenv().join("bin/aws"));
        cmd.args(args)
            .args([
                "--endpoint-url",
                &self.endpoint(),
                "--output",
                "json",
                "--cli-read-timeout",
                "30",
                "--cli-connect-timeout",
                "5",
            ])
            .current_dir(repo());
        aws_client_env(&mut cmd);
        let t0 = std::time::Instant::now();
        let run = ClientRun::run(cmd, std::time::Duration::from_secs(120));
        eprintln!(
            "[{:.1}s] aws {}",
            t0.elapsed().as_secs_f64(),
            args.join(" ")
        );
        run
    }

    /// `aws …` that must succeed; returns its JSON output (Null for no output).
    pub fn aws_json(&self, args: &[&str]) -> Value {
        let run = self.aws(args);
        if !run.success() {
            panic!(
                "aws {} failed ({:?})\n--- stdout\n{}\n--- stderr\n{}\n{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr,
                self.debug()
            );
        }
        if run.stdout.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "aws {}: output is not JSON ({e}):\n{}",
                args.join(" "),
                run.stdout
            )
        })
    }
}

/// A finished client process.
pub struct ClientRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ClientRun {
    /// Runs `cmd` to the end; kills it and panics after `timeout` (a hung server).
    pub fn run(mut cmd: Command, timeout: std::time::Duration) -> Self {
        cmd.stdin(Stdio::null());
        let desc = format!("{cmd:?}");
        let mut live = Live::spawn(cmd);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if live.try_status().is_some() {
                break;
            }
            if std::time::Instant::now() >= deadline {
                panic!(
                    "client did not finish within {timeout:?}: {desc}\n{}",
                    live.debug()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let run = live.wait(std::time::Duration::from_secs(5));
        Self {
            code: run.code,
            stdout: run.stdout,
            stderr: run.stderr,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
