//! The docs cannot drift (issue 11): every `console` block of README.md and of each
//! examples/*/README.md is typed into one bash session per file, against a fresh data
//! directory, with the `wasmgate` cargo built and the AWS CLI of the test venv on the
//! PATH, and what each command prints is compared with what the file shows
//! (`transcript` has the format and its placeholders). A command ending in `&` runs in the
//! background as the README says; the lines shown under it must appear in its output.

mod transcript;

use crate::common::{aws_client_env, pyenv, repo};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};
use transcript::{Bindings, Step};

/// A foreground command gets this long; a background one this long to print its lines.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(90);
/// The walkthroughs use the documented ports: the API's default 7300, the load balancer
/// listeners' 8000 and the registry's 5000, all on 127.0.0.1. No other test of this binary
/// takes a fixed port there (they listen on port 0, and the kernel's ephemeral range starts
/// above these), so one file at a time is enough within this process; the lock file keeps
/// other checkouts' test runs on this machine from walking at the same time.
const PORTS: [u16; 3] = [5000, 7300, 8000];
static PORTS_HELD: std::sync::Mutex<()> = std::sync::Mutex::new(());
const PORTS_LOCK: &str = "wasmgate-readme-ports.lock";
const SENTINEL: &str = "__wasmgate_readme_rc__";

/// One bash process: the commands of one file, typed in order.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    dir: tempfile::TempDir,
    backgrounds: usize,
}

impl Shell {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_wasmgate"));
        let path = format!(
            "{}:{}:{}",
            bin.parent().unwrap().display(),
            pyenv().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.args(["--norc", "--noprofile"])
            .current_dir(repo())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        aws_client_env(&mut cmd);
        // The reader's own shell: no key of the tests' (the README exports its own), a
        // data directory of its own, no colours.
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("WASMGATE_CONFIG")
            .env_remove("AWS_MAX_ATTEMPTS")
            .env_remove("AWS_RETRY_MODE")
            .env("PATH", path)
            .env("WASMGATE_DATA_DIR", dir.path().join("data"))
            // `mktemp -d` in a walkthrough makes its folder here, removed with the rest.
            .env("TMPDIR", dir.path())
            .env("NO_COLOR", "1")
            .env("TERM", "dumb");
        let mut child = cmd.spawn().expect("start bash");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut shell = Self {
            child,
            stdin,
            lines,
            dir,
            backgrounds: 0,
        };
        // Job control (`set -m`) as in a terminal: a background command has its own process
        // group, so `kill %1` reaches the program itself, not only bash's subshell.
        shell.type_line("exec 2>&1; set -m");
        shell
    }

    fn type_line(&mut self, text: &str) {
        self.stdin
            .write_all(format!("{text}\n").as_bytes())
            .expect("write to bash");
        self.stdin.flush().expect("flush to bash");
    }

    /// Runs a command to the end: its output lines and exit status.
    fn run(&mut self, command: &str) -> (Vec<String>, i32) {
        self.type_line(&format!(
            "{{ {command}\n}} </dev/null 2>&1; printf '{SENTINEL}%s\\n' \"$?\""
        ));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find(SENTINEL) {
                        if i > 0 {
                            out.push(line[..i].to_owned());
                        }
                        let rc = line[i + SENTINEL.len()..].trim().parse().unwrap_or(-1);
                        return (out, rc);
                    }
                    out.push(line);
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "`{command}` did not finish within {COMMAND_TIMEOUT:?}; so far:\n{}",
                        out.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("bash ended during `{command}`:\n{}", out.join("\n"))
                }
            }
        }
    }

    /// Starts a command in the background; its output goes to a file, returned. Not in a
    /// `{ }` group: bash then runs the program itself as the job, and a signal to the job
    /// reaches the program only.
    fn spawn(&mut self, command: &str) -> PathBuf {
        self.backgrounds += 1;
        let log = self
            .dir
            .path()
            .join(format!("background-{}.log", self.backgrounds));
        self.type_line(&format!(
            "{command} </dev/null >'{}' 2>&1 &\necho $! >>'{}'",
            log.display(),
            self.pids().display()
        ));
        log
    }

    /// The process groups of the background commands, one a line.
    fn pids(&self) -> PathBuf {
        self.dir.path().join("background.pids")
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // The background commands get SIGTERM (serve and run stop gracefully), then the
        // whole process group SIGKILL if anything is left.
        let _ = self.stdin.write_all(
            b"for p in $(jobs -p); do kill -TERM -- -$p; done 2>/dev/null; wait; exit 0\n",
        );
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Its `wait` returned: every background command has ended.
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut groups: Vec<i32> = lines_of(&self.pids())
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        groups.push(self.child.id() as i32);
        for pgid in groups.into_iter().filter(|&p| p > 1) {
            // SAFETY: kill(2) on a process group this shell made; no memory involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether a step's shown output is an AWS CLI error (it then must exit non-zero).
fn shows_an_error(step: &Step) -> bool {
    step.expected
        .iter()
        .any(|l| l.contains("An error occurred ("))
}

/// Holds the documented ports for one walkthrough: this process's lock, then the machine's
/// (an exclusive lock on a file in the temporary directory, released when the file closes).
fn hold_ports(file: &str) -> (std::sync::MutexGuard<'static, ()>, std::fs::File) {
    let held = PORTS_HELD.lock().unwrap_or_else(|e| e.into_inner());
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join(PORTS_LOCK))
        .expect("open the walkthroughs' port lock");
    lock.lock().expect("lock the walkthroughs' port lock");
    for port in PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{file}: the walkthroughs need 127.0.0.1:{port} (the documented port), which is \
             in use on this machine"
        );
    }
    (held, lock)
}

/// A program a walkthrough starts that is not ours: its Debian package (`.ci/run` installs
/// it). Missing, the walkthrough fails here, saying so, rather than on a mismatch.
const PROGRAMS: [(&str, &str); 2] = [("docker-registry", "docker-registry"), ("curl", "curl")];

fn check_programs(file: &str, steps: &[Step]) {
    for (program, package) in PROGRAMS {
        let used = steps.iter().any(|s| {
            s.command
                .split(|c: char| c.is_whitespace() || c == '(' || c == ';' || c == '|')
                .any(|word| word == program)
        });
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|dir| dir.join(program).is_file());
        assert!(
            !used || found,
            "{file}: the walkthrough runs `{program}`, which is not on the PATH: install \
             Debian's {package} package (apt-get install -y --no-install-recommends \
             {package}), as .ci/run does"
        );
    }
}

/// Runs every step of `file` (relative to the repository) and compares its output.
fn walk(file: &str) {
    let _ports = hold_ports(file);
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let steps = transcript::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        !steps.is_empty(),
        "{file} has no `console` walkthrough: every walkthrough must be runnable"
    );
    check_programs(file, &steps);
    let mut shell = Shell::start();
    let mut bindings = Bindings::default();
    for step in &steps {
        let command = bindings.fill(&step.command);
        let t0 = Instant::now();
        let where_ = format!("{file}:{}: `{}`", step.line, step.command);
        if step.background {
            let log = shell.spawn(&command);
            loop {
                let got = lines_of(&log);
                match bindings.matches_prefix(&step.expected, &got) {
                    Ok(()) => break,
                    Err(e) if t0.elapsed() > BACKGROUND_TIMEOUT => panic!(
                        "{where_} (background): {e}\n--- its output so far\n{}",
                        got.join("\n")
                    ),
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        } else {
            let (got, rc) = shell.run(&command);
            if let Err(e) = bindings.matches(&step.expected, &got) {
                panic!(
                    "{where_}: {e}\n--- shown in {file}\n{}\n--- printed (exit {rc})\n{}",
                    step.expected.join("\n"),
                    got.join("\n")
                );
            }
            let want_failure = shows_an_error(step);
            assert!(
                (rc != 0) == want_failure,
                "{where_}: exit status {rc}, but the file shows {}:\n{}",
                if want_failure { "an error" } else { "success" },
                got.join("\n")
            );
        }
        eprintln!("[{:.1}s] {where_}", t0.elapsed().as_secs_f64());
    }
}

#[test]
fn readme_walkthroughs() {
    walk("README.md");
}

#[test]
fn example_readme_walkthroughs() {
    let mut found = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        if dir.join("README.md").is_file() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            walk(&format!("examples/{name}/README.md"));
            found += 1;
        }
    }
    assert!(found > 0, "no examples/*/README.md found");
}
