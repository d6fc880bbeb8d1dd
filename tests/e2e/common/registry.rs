//! Registries for the image tests (`registry` and `hostile::images`):
//! - `Registry`: Debian's `docker-registry` (the CNCF distribution registry) on loopback;
//! - `FakeRegistry`: a small HTTP server on std's `TcpListener` whose answers a test writes,
//!   recording every request and its `Authorization` header, for what a real registry
//!   would never do (steal credentials, send too much).

use crate::common::{Host, Run};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `wasmgate run`'s exit code for a task that never started.
pub const EXIT_NOT_STARTED: i32 = 125;
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry on 127.0.0.1:<free port>, killed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with_auth(None)
    }

    /// With `Some((user, password))` the registry requires htpasswd basic auth.
    pub fn start_with_auth(auth: Option<(&str, &str)>) -> Self {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package \
             (apt-get install -y --no-install-recommends docker-registry), as .ci/run does"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some((user, password)) = auth {
            let htpasswd = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils) is missing: .ci/run installs it");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(&htpasswd, &out.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: wasmgate-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let r = Self { child, dir, port };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("registry did not come up:\n{}", self.log());
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Successful GETs of a blob, from the registry's access log.
    pub fn blob_gets(&self, hex: &str) -> usize {
        let blob = format!("/blobs/sha256:{hex} ");
        self.log()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&blob))
            .filter(|l| l.contains("\" 200 "))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).expect("read"))
}

/// `wasmgate push <component> <reference> [extra…]`; returns the digest it printed.
pub fn push(host: &Host, component: &str, reference: &str, extra: &[&str]) -> String {
    let mut args = vec!["push", component, reference];
    args.extend_from_slice(extra);
    let out = host.cmd(&args).output().expect("run wasmgate push");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "push failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("sha256:"), "{stdout}");
    stdout
}

pub fn image_task(image: &str, command: &[&str]) -> Value {
    json!({
        "family": "registry",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "command": command}],
    })
}

/// `image_task` whose container names a host secret in `repositoryCredentials`.
pub fn image_task_with_secret(image: &str, command: &[&str], secret: &str) -> Value {
    let mut def = image_task(image, command);
    def["containerDefinitions"][0]["repositoryCredentials"] =
        json!({"credentialsParameter": secret});
    def
}

pub fn blob_path(host: &Host, hex: &str) -> PathBuf {
    host.data_dir()
        .join("images")
        .join("blobs")
        .join("sha256")
        .join(hex)
}

/// Regular files under `dir` (recursively), for "nothing was left behind".
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The task never started and stopped with `CannotPullContainerError: …` naming `needles`.
pub fn assert_cannot_pull(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, Some(EXIT_NOT_STARTED), "{}", run.debug());
    let reason = run.task["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError: "),
        "{reason}\n{}",
        run.debug()
    );
    for n in needles {
        assert!(
            reason.contains(n),
            "{n:?} not in {reason:?}\n{}",
            run.debug()
        );
    }
}

/// A Wasm OCI artifact for `component`: (manifest bytes, manifest digest, layer digest).
pub fn wasm_manifest(component: &[u8]) -> (Vec<u8>, String, String) {
    manifest_declaring(
        component.len() as u64,
        &format!("sha256:{}", sha256_hex(component)),
    )
}

/// A manifest whose one `application/wasm` layer claims `size` bytes at `layer_digest`.
pub fn manifest_declaring(size: u64, layer_digest: &str) -> (Vec<u8>, String, String) {
    let config = b"{}";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.wasm.config.v0+json",
            "digest": format!("sha256:{}", sha256_hex(config)),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/wasm",
            "digest": layer_digest,
            "size": size,
        }],
    }))
    .expect("json");
    let digest = format!("sha256:{}", sha256_hex(&manifest));
    (manifest, digest, layer_digest.to_owned())
}

/// One request the fake registry received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

/// What the fake registry answers.
pub enum Reply {
    /// A complete response (`Content-Length` set; no body for `HEAD`).
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `len` bytes of `x` with no length announced, ended by closing the connection.
    Endless {
        headers: Vec<(String, String)>,
        len: u64,
    },
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply::Full {
            status,
            headers: vec![],
            body: vec![],
        }
    }

    pub fn ok(body: Vec<u8>) -> Self {
        Reply::Full {
            status: 200,
            headers: vec![],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            Reply::Full { headers, .. } | Reply::Endless { headers, .. } => {
                headers.push((name.to_owned(), value.to_owned()))
            }
        }
        self
    }

    /// A manifest (its digest in `Docker-Content-Digest`, as registries send it).
    pub fn manifest(bytes: &[u8]) -> Self {
        Reply::ok(bytes.to_vec())
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .header(
                "Docker-Content-Digest",
                &format!("sha256:{}", sha256_hex(bytes)),
            )
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A registry that answers what `handler` says, records every request, and counts the body
/// bytes it managed to send. Stopped on drop.
pub struct FakeRegistry {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FakeRegistry {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake registry");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (seen, sent, stop) = (seen.clone(), sent.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, sent, handler) = (seen.clone(), sent.clone(), handler.clone());
                    std::thread::spawn(move || serve(conn, &seen, &sent, &*handler));
                }
            });
        }
        Self {
            port,
            seen,
            sent,
            stop,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// Body bytes written to clients so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One connection: requests until the client closes (keep-alive) or a reply ends it.
fn serve(conn: TcpStream, seen: &Mutex<Vec<Seen>>, sent: &AtomicU64, handler: &Handler) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        // Request bodies are read and ignored.
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Seen {
            method: method.clone(),
            path,
            authorization: headers.get("authorization").cloned(),
        };
        seen.lock().expect("seen").push(request.clone());
        match handler(&request) {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                if method != "HEAD" {
                    if out.write_all(&body).is_err() {
                        return;
                    }
                    sent.fetch_add(body.len() as u64, Ordering::SeqCst);
                }
            }
            Reply::Endless { headers, len } => {
                let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_owned();
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err() || method == "HEAD" {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if out.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    sent.fetch_add(n as u64, Ordering::SeqCst);
                    left -= n as u64;
                }
                return;
            }
        }
    }
}
