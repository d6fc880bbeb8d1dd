//! The `wasmgate` binary, guests, the repository, and one private host per test.

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

    /// Runs a task definition to the end with `--json-file` (container output stays on
    /// stdout, the final state is read from the file) and extra args.
    pub fn run(&self, def: &Value, extra: &[&str]) -> Run {
        let (mut cmd, json) = self.run_cmd(def, extra);
        let out = cmd.output().expect("run wasmgate");
        Run::from(out).with_json_file(&json)
    }

    /// `wasmgate run --json-file <file> <extra> <def>` and the file.
    fn run_cmd(&self, def: &Value, extra: &[&str]) -> (Command, PathBuf) {
        let path = self.taskdef(def);
        let path_s = path.to_string_lossy().into_owned();
        let json = path.with_extension("state.json");
        let json_s = json.to_string_lossy().into_owned();
        let mut args = vec!["run", "--json-file", &json_s];
        args.extend_from_slice(extra);
        args.push(&path_s);
        (self.cmd(&args), json)
    }

    /// Starts `wasmgate run` without waiting (for signal tests); the file `--json-file`
    /// writes the final state to.
    pub fn spawn(&self, def: &Value, extra: &[&str]) -> (Child, PathBuf) {
        let (mut cmd, json) = self.run_cmd(def, extra);
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wasmgate");
        (child, json)
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
    /// The final state from a `--json-file` (kept as parsed from stdout if there is none).
    pub fn with_json_file(mut self, path: &Path) -> Self {
        if let Some(v) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            self.task = v;
        }
        self
    }

    /// The final state of a container by name.
    pub fn container(&self, name: &str) -> &Value {
        self.task["containers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no container {name} in {}\n{}", self.task, self.stderr))
    }

    /// Lines a container printed, without the `name |` prefix (on stdout, or on stderr
    /// under `--json`).
    pub fn lines_of(&self, name: &str) -> Vec<String> {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
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

/// The bytes of a data directory's state database, its WAL and shared-memory file, as a
/// copy of the directory would have them.
pub fn raw_state(data: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        if let Ok(b) = std::fs::read(data.join(name)) {
            bytes.extend_from_slice(&b);
        }
    }
    assert!(!bytes.is_empty(), "no state files in {}", data.display());
    bytes
}

/// Whether `needle` appears in `haystack` as it is (in the clear).
pub fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
