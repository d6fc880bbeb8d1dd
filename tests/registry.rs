//! Images from a real OCI registry: Debian's `docker-registry` (the CNCF distribution
//! registry) started on loopback by each test, `wasmgate push` to publish, `wasmgate run` (and
//! the runtime library, for concurrent pulls) to pull, verify, cache and run.
//!
//! The registry binary must be installed (`.ci/run` does it): without it these tests fail.

mod common;

use common::{Host, Run, guest};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `wasmgate run`'s exit code for a task that never started.
const EXIT_NOT_STARTED: i32 = 125;
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry on 127.0.0.1:<free port>, killed on drop.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Registry {
    fn start() -> Self {
        Self::start_with_auth(None)
    }

    /// With `Some((user, password))` the registry requires htpasswd basic auth.
    fn start_with_auth(auth: Option<(&str, &str)>) -> Self {
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

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Successful GETs of a blob, from the registry's access log.
    fn blob_gets(&self, hex: &str) -> usize {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

fn push(host: &Host, component: &str, reference: &str) -> String {
    let out = host
        .cmd(&["push", component, reference])
        .output()
        .expect("run wasmgate push");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "push failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("sha256:"), "{stdout}");
    stdout
}

fn image_task(image: &str, command: &[&str]) -> Value {
    json!({
        "family": "registry",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "command": command}],
    })
}

fn blob_path(host: &Host, hex: &str) -> PathBuf {
    host.data_dir()
        .join("images")
        .join("blobs")
        .join("sha256")
        .join(hex)
}

fn assert_cannot_pull(run: &Run, needles: &[&str]) {
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

#[test]
fn push_then_run_by_tag_and_by_digest() {
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:v1", reg.host());
    let digest = push(&host, &guest("echo"), &reference);

    let run = host.run(&image_task(&reference, &["by-tag"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stdout.contains("arg[1]=by-tag"), "{}", run.debug());
    assert_eq!(run.container("app")["imageDigest"], json!(digest));
    assert!(run.task["pullStartedAt"].is_number(), "{}", run.task);
    assert!(run.task["pullStoppedAt"].is_number(), "{}", run.task);

    let pinned = format!("{}/demo/echo@{digest}", reg.host());
    let run = host.run(&image_task(&pinned, &["by-digest"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stdout.contains("arg[1]=by-digest"), "{}", run.debug());
    assert_eq!(run.container("app")["imageDigest"], json!(digest));
    // The second run found the blob in the store: one fetch in all.
    let layer = sha256_file(Path::new(&guest("echo")));
    assert_eq!(reg.blob_gets(&layer), 1, "{}", reg.log());
}

#[test]
fn a_moved_tag_runs_the_new_digest() {
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/app:stable", reg.host());
    let first = push(&host, &guest("echo"), &reference);
    let run = host.run(&image_task(&reference, &["x"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("app")["imageDigest"], json!(first));

    let second = push(&host, &guest("exit-code"), &reference);
    assert_ne!(first, second);
    let run = host.run(&image_task(&reference, &["7"]), &[]);
    assert_eq!(run.container("app")["imageDigest"], json!(second));
    assert_eq!(run.code, Some(7), "{}", run.debug());
}

#[test]
fn a_wrong_digest_cannot_be_pulled() {
    let reg = Registry::start();
    let host = Host::new();
    push(
        &host,
        &guest("echo"),
        &format!("{}/demo/echo:v1", reg.host()),
    );
    let wrong = format!("sha256:{}", "0".repeat(64));
    let run = host.run(
        &image_task(&format!("{}/demo/echo@{wrong}", reg.host()), &[]),
        &[],
    );
    assert_cannot_pull(&run, &[&wrong, "not found"]);

    let run = host.run(
        &image_task(&format!("{}/demo/missing:v1", reg.host()), &[]),
        &[],
    );
    assert_cannot_pull(&run, &["demo/missing:v1", "not found"]);
}

#[test]
fn an_unreachable_registry_fails_after_bounded_retries() {
    let host = Host::with_config("[registry]\nmax_attempts = 3\n");
    let port = free_port(); // nothing listens there any more
    let started = Instant::now();
    let run = host.run(
        &image_task(&format!("127.0.0.1:{port}/demo/echo:v1"), &[]),
        &[],
    );
    assert_cannot_pull(&run, &["unreachable", "3 attempts"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn auth_required_refused_without_credentials_accepted_with_them() {
    let reg = Registry::start_with_auth(Some(("alice", "s3cret-pw")));
    let reference = format!("{}/private/echo:v1", reg.host());
    let with_host_auth = Host::with_config(&format!(
        "[[registry.auths]]\nregistry = \"{}\"\nusername = \"alice\"\npassword = \"s3cret-pw\"\n",
        reg.host()
    ));
    let digest = push(&with_host_auth, &guest("echo"), &reference);

    let anonymous = Host::new();
    let run = anonymous.run(&image_task(&reference, &[]), &[]);
    assert_cannot_pull(&run, &["refused"]);

    let wrong = Host::with_config(&format!(
        "[[registry.auths]]\nregistry = \"{}\"\nusername = \"alice\"\npassword = \"nope\"\n",
        reg.host()
    ));
    let run = wrong.run(&image_task(&reference, &[]), &[]);
    assert_cannot_pull(&run, &["refused"]);
    assert!(!run.stderr.contains("nope") && !run.stdout.contains("nope"));

    let run = with_host_auth.run(&image_task(&reference, &["ok"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("app")["imageDigest"], json!(digest));
    assert!(!run.stderr.contains("s3cret-pw") && !run.stdout.contains("s3cret-pw"));

    // repositoryCredentials naming a secret in the host's secret store.
    let with_secret = Host::with_config("[secrets]\nregistry-login = \"alice:s3cret-pw\"\n");
    let mut def = image_task(&reference, &["secret"]);
    def["containerDefinitions"][0]["repositoryCredentials"] =
        json!({"credentialsParameter": "registry-login"});
    let run = with_secret.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(!run.stderr.contains("s3cret-pw") && !run.stdout.contains("s3cret-pw"));

    def["containerDefinitions"][0]["repositoryCredentials"] =
        json!({"credentialsParameter": "no-such-secret"});
    let run = with_secret.run(&def, &[]);
    assert_cannot_pull(&run, &["no-such-secret", "secret store"]);
}

#[test]
fn two_tasks_pulling_one_image_at_once_fetch_it_once() {
    use wasmgate::runtime::{Runtime, TaskSpec, TaskStatus};
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:v1", reg.host());
    let digest = push(&host, &guest("echo"), &reference);

    let config = wasmgate::config::HostConfig {
        data_dir: Some(host.data_dir()),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let ends = rt.block_on(async {
        let runtime = Runtime::new(config).expect("runtime");
        let def_json = image_task(&reference, &["hi"]).to_string();
        let mut handles = Vec::new();
        for _ in 0..2 {
            let parsed = wasmgate::taskdef::parse(&def_json, &runtime.validation_options())
                .expect("definition");
            handles.push(
                runtime
                    .start_task(TaskSpec {
                        definition: parsed.definition,
                        base_dir: host.dir.path().to_owned(),
                        overrides: vec![],
                        stop_timeout: None,
                        console: None,
                    })
                    .expect("start"),
            );
        }
        let mut ends = Vec::new();
        for mut h in handles {
            ends.push(h.wait().await);
        }
        assert_eq!(runtime.images().fetch_count(), 1);
        ends
    });
    for end in &ends {
        assert_eq!(end.last_status, TaskStatus::Stopped);
        assert_eq!(
            end.stop_code,
            Some(wasmgate::runtime::StopCode::EssentialContainerExited),
            "{end:?}"
        );
        assert_eq!(end.containers[0].exit_code, Some(0), "{end:?}");
        assert_eq!(
            end.containers[0].image_digest.as_deref(),
            Some(digest.as_str())
        );
    }
    let layer = sha256_file(Path::new(&guest("echo")));
    assert_eq!(reg.blob_gets(&layer), 1, "{}", reg.log());
}

#[test]
fn least_recently_used_images_are_evicted_past_the_cap() {
    let reg = Registry::start();
    // A cap of 0 MiB keeps only what running tasks use.
    let host = Host::with_config("[registry]\ncache_max_mib = 0\n");
    let a = format!("{}/demo/a:v1", reg.host());
    let b = format!("{}/demo/b:v1", reg.host());
    push(&host, &guest("echo"), &a);
    push(&host, &guest("exit-code"), &b);
    let a_hex = sha256_file(Path::new(&guest("echo")));
    let b_hex = sha256_file(Path::new(&guest("exit-code")));

    let run = host.run(&image_task(&a, &[]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(
        blob_path(&host, &a_hex).exists(),
        "a is cached while nothing else is"
    );

    let run = host.run(&image_task(&b, &["0"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(!blob_path(&host, &a_hex).exists(), "a was not evicted");
    assert!(blob_path(&host, &b_hex).exists(), "b is in use, so kept");
    let artifacts = std::fs::read_dir(host.data_dir().join("cache").join("components"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&a_hex))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(artifacts, 0, "a's compiled artifact went with it");

    // Evicted images are simply pulled again.
    let run = host.run(&image_task(&a, &["again"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(reg.blob_gets(&a_hex), 2, "{}", reg.log());
}

#[test]
fn a_damaged_cache_file_is_detected_and_fetched_again() {
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:v1", reg.host());
    push(&host, &guest("echo"), &reference);
    let hex = sha256_file(Path::new(&guest("echo")));

    let run = host.run(&image_task(&reference, &["one"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let blob = blob_path(&host, &hex);
    let len = std::fs::metadata(&blob).expect("blob cached").len();

    // Truncated.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&blob)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    let run = host.run(&image_task(&reference, &["two"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stdout.contains("arg[1]=two"), "{}", run.debug());
    assert!(run.stderr.contains("damaged"), "{}", run.debug());
    assert_eq!(sha256_file(&blob), hex);

    // Same size, one byte flipped.
    let mut bytes = std::fs::read(&blob).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&blob, &bytes).expect("write");
    let run = host.run(&image_task(&reference, &["three"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stderr.contains("damaged"), "{}", run.debug());
    assert_eq!(reg.blob_gets(&hex), 3, "{}", reg.log());
}

#[test]
fn the_api_reports_the_digest_and_pull_times() {
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:api", reg.host());
    let digest = push(&host, &guest("echo"), &reference);
    let server = common::Server::start(&host);
    let run = server.python_ok("images.py", &[&reference, &digest]);
    println!("{}", run.stdout);
}
