//! Live processes: a running `wasmgate` whose stdout/stderr lines are collected as they
//! come, so a test can wait for a line (with a deadline), signal the process, and collect
//! the final `Run`.

use super::*;
use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};

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
    /// Where `wasmgate run --json-file` writes the final state (see `Host::start`).
    json_file: Option<std::path::PathBuf>,
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
            json_file: None,
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
        let run = Run::from(Output {
            status,
            stdout: self.out.text().into_bytes(),
            stderr: self.err.text().into_bytes(),
        });
        match &self.json_file {
            Some(path) => run.with_json_file(path),
            None => run,
        }
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
    /// Starts `wasmgate run --json-file <file> <extra> <def>` and collects its output as it comes.
    pub fn start(&self, def: &Value, extra: &[&str]) -> Live {
        let (child, json) = self.spawn(def, extra);
        let mut live = Live::new(child);
        live.json_file = Some(json);
        live
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

impl Live {
    /// The task's address: the `wasmgate: task <id> address <ip>` line `wasmgate run`
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
