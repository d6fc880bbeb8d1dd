//! Shared helpers for the end-to-end tests: they drive the real `wasmgate` binary.
#![allow(dead_code)]
// Test scaffolding: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The `wasmgate` binary cargo built for these tests.
pub fn wasmgate_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wasmgate")
}

/// A guest component built by `host/build.rs`.
pub fn guest(name: &str) -> String {
    format!("{}/{name}.wasm", env!("WASMGATE_GUESTS_DIR"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A private host: its own data directory (and optional config), removed when dropped.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub config: Option<PathBuf>,
}

impl Host {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            config: None,
        }
    }

    /// A host with this TOML config.
    pub fn with_config(toml: &str) -> Self {
        let mut h = Self::new();
        let path = h.dir.path().join("wasmgate.toml");
        std::fs::write(&path, toml).expect("write config");
        h.config = Some(path);
        h
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `wasmgate --data-dir … [--config …] <args>`, ready to run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(wasmgate_bin());
        c.arg("--data-dir").arg(self.data_dir());
        if let Some(cfg) = &self.config {
            c.arg("--config").arg(cfg);
        }
        c.args(args).stdin(Stdio::null());
        c.env_remove("WASMGATE_CONFIG")
            .env_remove("WASMGATE_DATA_DIR");
        c
    }

    /// Writes a task definition into the host's directory and returns its path.
    pub fn taskdef(&self, def: &Value) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("taskdef-{}.json", uuid_like()));
        std::fs::write(&path, serde_json::to_vec_pretty(def).expect("json")).expect("write");
        path
    }

    /// Runs a task definition to the end with `--json` and extra args.
    pub fn run(&self, def: &Value, extra: &[&str]) -> Run {
        let path = self.taskdef(def);
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        let path_s = path.to_string_lossy().into_owned();
        args.push(&path_s);
        let out = self.cmd(&args).output().expect("run wasmgate");
        Run::from(out)
    }

    /// Starts `wasmgate run` without waiting (for signal tests).
    pub fn spawn(&self, def: &Value, extra: &[&str]) -> Child {
        let path = self.taskdef(def);
        let path_s = path.to_string_lossy().into_owned();
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        args.push(&path_s);
        self.cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wasmgate")
    }

    /// Task directories still on disk.
    pub fn task_dirs(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.data_dir().join("tasks")) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect(),
            Err(_) => vec![],
        }
    }
}

/// The result of one `wasmgate run --json`.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The final task state printed by `--json` (Null if the task never started).
    pub task: Value,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let task = stdout
            .find("\n{")
            .map(|i| &stdout[i + 1..])
            .or_else(|| stdout.starts_with('{').then_some(stdout.as_str()))
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        Self {
            code: out.status.code(),
            stdout,
            stderr,
            task,
        }
    }
}

impl Run {
    /// The final state of a container by name.
    pub fn container(&self, name: &str) -> &Value {
        self.task["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no container {name} in {}\n{}", self.task, self.stderr))
    }

    /// Lines a container printed, without the `name |` prefix.
    pub fn lines_of(&self, name: &str) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let (who, rest) = l.split_once(" | ").or_else(|| l.split_once(" ! "))?;
                (who.trim() == name).then(|| rest.to_owned())
            })
            .collect()
    }

    pub fn debug(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A minimal valid task definition: one essential container per `(name, guest, command)`.
pub fn task(family: &str, containers: &[(&str, &str, &[&str])]) -> Value {
    json!({
        "family": family,
        "cpu": "1024",
        "memory": "2048",
        "containerDefinitions": containers.iter().map(|(name, g, cmd)| json!({
            "name": name,
            "image": guest(g),
            "command": cmd,
        })).collect::<Vec<_>>(),
    })
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------
// Live processes (added for the storage, logs and signals tests): a running `wasmgate`
// whose stdout/stderr lines are collected as they come, so a test can wait for a line
// (with a deadline), signal the process, and collect the final `Run`.
// ---------------------------------------------------------------------------------------

/// Lines read so far from one pipe, and whether it reached end of file.
#[derive(Default)]
struct LiveLines {
    state: std::sync::Mutex<(Vec<String>, bool)>,
    changed: std::sync::Condvar,
}

impl LiveLines {
    fn reader(
        pipe: impl std::io::Read + Send + 'static,
    ) -> (std::sync::Arc<Self>, std::thread::JoinHandle<()>) {
        use std::io::BufRead;
        let lines = std::sync::Arc::new(Self::default());
        let l = lines.clone();
        let handle = std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.strip_suffix('\n').unwrap_or(&line).to_owned();
                        l.state.lock().unwrap().0.push(line);
                        l.changed.notify_all();
                    }
                }
            }
            l.state.lock().unwrap().1 = true;
            l.changed.notify_all();
        });
        (lines, handle)
    }

    /// Waits until a line matches `pred`; returns it, or None at EOF or the deadline.
    fn wait_for(
        &self,
        pred: &dyn Fn(&str) -> bool,
        timeout: std::time::Duration,
    ) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(l) = st.0.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = std::time::Instant::now();
            if st.1 || now >= deadline {
                return None;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    fn text(&self) -> String {
        let st = self.state.lock().unwrap();
        st.0.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// A running `wasmgate` process with its output collected line by line.
pub struct Live {
    child: Child,
    out: std::sync::Arc<LiveLines>,
    err: std::sync::Arc<LiveLines>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Live {
    /// Wraps a child spawned with piped stdout and stderr (e.g. `Host::spawn`).
    pub fn new(mut child: Child) -> Self {
        let (out, ro) = LiveLines::reader(child.stdout.take().expect("stdout piped"));
        let (err, re) = LiveLines::reader(child.stderr.take().expect("stderr piped"));
        Self {
            child,
            out,
            err,
            readers: vec![ro, re],
        }
    }

    /// Spawns `cmd` with piped stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Self {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wasmgate");
        Self::new(child)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to `timeout`) for a stderr line containing `needle`; panics if none comes.
    pub fn expect_stderr(&self, needle: &str, timeout: std::time::Duration) -> String {
        self.err
            .wait_for(&|l| l.contains(needle), timeout)
            .unwrap_or_else(|| panic!("no stderr line containing {needle:?}\n{}", self.debug()))
    }

    /// Waits (up to `timeout`) for a stdout line containing `needle`; panics if none comes.
    pub fn expect_stdout(&self, needle: &str, timeout: std::time::Duration) -> String {
        self.out
            .wait_for(&|l| l.contains(needle), timeout)
            .unwrap_or_else(|| panic!("no stdout line containing {needle:?}\n{}", self.debug()))
    }

    /// Waits (up to `timeout`) for a stderr line containing `needle`, if one comes.
    pub fn find_stderr(&self, needle: &str, timeout: std::time::Duration) -> Option<String> {
        self.err.wait_for(&|l| l.contains(needle), timeout)
    }

    /// Sends a signal (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.child.id());
    }

    /// The process's exit status if it has exited, without waiting.
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the process to exit, at most `timeout` (then kills it and panics).
    pub fn wait(mut self, timeout: std::time::Duration) -> Run {
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("wasmgate did not exit within {timeout:?}\n{}", self.debug());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Run::from(Output {
            status,
            stdout: self.out.text().into_bytes(),
            stderr: self.err.text().into_bytes(),
        })
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn debug(&self) -> String {
        format!(
            "--- stdout so far\n{}\n--- stderr so far\n{}",
            self.out.text(),
            self.err.text()
        )
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A failed test must not leave a wasmgate running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Host {
    /// Starts `wasmgate run --json <extra> <def>` and collects its output as it comes.
    pub fn start(&self, def: &Value, extra: &[&str]) -> Live {
        Live::new(self.spawn(def, extra))
    }

    /// Runs `wasmgate <args>` (e.g. `logs …`) to the end; returns (exit code, stdout, stderr).
    pub fn output(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.cmd(args).output().expect("run wasmgate");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// API server and real AWS clients (added for the api_clients and api_state tests):
// `wasmgate serve` on an ephemeral port, a Python venv with boto3 and the AWS CLI
// (created once per machine under target/pyenv), and ways to run clients against it.
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Raw signed API requests (added for the api_protocol tests): a SigV4 signer written
// from the AWS documentation, sharing no code with the host's verifier (so a bug in one
// cannot hide behind the same bug in the other), and a blocking hyper client.
// ---------------------------------------------------------------------------------------

/// Who signs a raw request, and for which scope.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    /// Signing name: `ecs` or `logs`.
    pub service: String,
}

impl SigningKey {
    /// The default `test`/`test` key in us-east-1.
    pub fn test(service: &str) -> Self {
        Self {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            region: "us-east-1".into(),
            service: service.into(),
        }
    }
}

/// One raw `POST /` request.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub target: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
    /// None: sent without `Authorization`.
    pub key: Option<SigningKey>,
    /// The signing time (`X-Amz-Date`).
    pub at: std::time::SystemTime,
}

impl RawRequest {
    /// A request to `target` signed with the default key for the target's service.
    pub fn new(target: &str, body: &str) -> Self {
        let service = if target.starts_with("Logs_") {
            "logs"
        } else {
            "ecs"
        };
        Self {
            target: Some(target.into()),
            content_type: "application/x-amz-json-1.1".into(),
            body: body.as_bytes().to_vec(),
            key: Some(SigningKey::test(service)),
            at: std::time::SystemTime::now(),
        }
    }
}

/// An answer, its body parsed as JSON (Null if it is not JSON).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl RawResponse {
    /// `__type` of an error body ("" for none).
    pub fn code(&self) -> &str {
        self.json["__type"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// `YYYYMMDDTHHMMSSZ` of a time (UTC), by hand from the civil-date algorithm.
pub fn sigv4_amz_date(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time after 1970")
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The `Authorization` value for a `POST /` with these headers (name, value), all signed.
pub fn sigv4_authorization(
    headers: &[(String, String)],
    body: &[u8],
    key: &SigningKey,
    amz_date: &str,
) -> String {
    use hmac::Mac;
    use sha2::Digest;
    fn mac(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    sorted.sort();
    let names = sorted
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::from("POST\n/\n\n");
    for (k, v) in &sorted {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    canonical.push_str(&format!(
        "\n{names}\n{}",
        hex::encode(sha2::Sha256::digest(body))
    ));
    let day = &amz_date[..8];
    let scope = format!("{day}/{}/{}/aws4_request", key.region, key.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let k = mac(format!("AWS4{}", key.secret_access_key).as_bytes(), day);
    let k = mac(&k, &key.region);
    let k = mac(&k, &key.service);
    let k = mac(&k, "aws4_request");
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={names}, Signature={}",
        key.access_key_id,
        hex::encode(mac(&k, &to_sign))
    )
}

/// Sends `req` to `http://127.0.0.1:<port>/` and waits for the whole answer.
pub fn api_request(port: u16, req: &RawRequest) -> RawResponse {
    use http_body_util::BodyExt;
    let host = format!("127.0.0.1:{port}");
    let amz_date = sigv4_amz_date(req.at);
    let mut headers = vec![
        ("content-type".to_owned(), req.content_type.clone()),
        ("host".to_owned(), host.clone()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    if let Some(t) = &req.target {
        headers.push(("x-amz-target".to_owned(), t.clone()));
    }
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://{host}/"));
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    if let Some(key) = &req.key {
        builder = builder.header(
            "authorization",
            sigv4_authorization(&headers, &req.body, key, &amz_date),
        );
    }
    // Added after signing, as botocore does.
    builder = builder.header("amz-sdk-request", "attempt=1; max=1");
    let request = builder
        .body(http_body_util::Full::new(bytes::Bytes::from(
            req.body.clone(),
        )))
        .expect("request");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let resp =
            tokio::time::timeout(std::time::Duration::from_secs(60), client.request(request))
                .await
                .expect("API answered within 60 s")
                .expect("API request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        RawResponse {
            status,
            headers,
            body,
            json,
        }
    })
}

// ---------------------------------------------------------------------------------------
// HTTP components (added for the http tests): the task address `wasmgate run` prints, and
// a small HTTP/1.1 client on std's TcpStream (one request per connection, as curl does).
// ---------------------------------------------------------------------------------------

/// One HTTP response, body as text.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// `GET http://<addr><path>` with `Connection: close`; Err on a connection or protocol error.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<HttpReply> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(30);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: wasmgate-tests\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_http_reply(&raw)
}

fn parse_http_reply(raw: &[u8]) -> std::io::Result<HttpReply> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(HttpReply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..eol])
            .ok()?
            .split(';')
            .next()?
            .trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

impl Live {
    /// The task's address: the `wasmgate: task <id8> address <ip>` line `wasmgate run`
    /// prints once the task has one. Waits for the task to be RUNNING first (127.0.0.1 if
    /// no address line comes).
    pub fn task_address(&self, timeout: std::time::Duration) -> std::net::IpAddr {
        let running = |l: &str| l.starts_with("wasmgate: task ") && l.ends_with(" RUNNING");
        self.err
            .wait_for(&running, timeout)
            .unwrap_or_else(|| panic!("the task did not reach RUNNING\n{}", self.debug()));
        let address = |l: &str| l.starts_with("wasmgate: task ") && l.contains(" address ");
        self.err
            .wait_for(&address, std::time::Duration::from_secs(5))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }

    /// Everything printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.err.text()
    }

    /// Everything printed on stdout so far.
    pub fn stdout_text(&self) -> String {
        self.out.text()
    }
}
