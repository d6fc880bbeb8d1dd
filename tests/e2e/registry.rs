//! Images from a real OCI registry: Debian's `docker-registry` (the CNCF distribution
//! registry) started on loopback by each test, `wasmgate push` to publish, `wasmgate run` (and
//! the runtime library, for concurrent pulls) to pull, verify, cache and run.
//!
//! The registry binary must be installed (`.ci/run` does it): without it these tests fail.

use crate::common;
use crate::common::registry as support;

use common::{Host, guest};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{
    Registry, assert_cannot_pull, blob_path, free_port, image_task, image_task_with_secret, push,
    sha256_file,
};

#[test]
fn push_then_run_by_tag_and_by_digest() {
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:v1", reg.host());
    let digest = push(&host, &guest("echo"), &reference, &[]);

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
    let first = push(&host, &guest("echo"), &reference, &[]);
    let run = host.run(&image_task(&reference, &["x"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(run.container("app")["imageDigest"], json!(first));

    let second = push(&host, &guest("exit-code"), &reference, &[]);
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
        &[],
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
    let digest = push(&with_host_auth, &guest("echo"), &reference, &[]);

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

    // repositoryCredentials naming a secret in the host's secret store, bound to the registry.
    let with_secret = Host::with_config(&format!(
        "[secrets]\nloose = \"alice:s3cret-pw\"\n\
         [secrets.registry-login]\nvalue = \"alice:s3cret-pw\"\nregistries = [\"{}\"]\n",
        reg.host()
    ));
    let def = image_task_with_secret(&reference, &["secret"], "registry-login");
    let run = with_secret.run(&def, &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(!run.stderr.contains("s3cret-pw") && !run.stdout.contains("s3cret-pw"));

    // The plain form is bound to no registry: refused, saying how to bind it.
    let run = with_secret.run(&image_task_with_secret(&reference, &[], "loose"), &[]);
    assert_cannot_pull(
        &run,
        &[
            &format!("secret loose is not allowed for registry {}", reg.host()),
            "[secrets.loose]",
        ],
    );

    let def = image_task_with_secret(&reference, &[], "no-such-secret");
    let run = with_secret.run(&def, &[]);
    assert_cannot_pull(&run, &["no-such-secret", "secret store"]);

    // `wasmgate push` follows the same binding.
    let out = with_secret
        .cmd(&[
            "push",
            &guest("echo"),
            &reference,
            "--credentials-parameter",
            "loose",
        ])
        .output()
        .expect("push");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret loose is not allowed"), "{err}");
    push(
        &with_secret,
        &guest("echo"),
        &reference,
        &["--credentials-parameter", "registry-login"],
    );
}

#[test]
fn a_trusted_cache_runs_pinned_images_without_the_registry() {
    let reg = Registry::start();
    let air_gapped = Host::with_config("[registry]\ntrust_cache = true\nmax_attempts = 1\n");
    let reference = format!("{}/demo/echo:v1", reg.host());
    let digest = push(&air_gapped, &guest("echo"), &reference, &[]);
    let pinned = format!("{}/demo/echo@{digest}", reg.host());
    let run = air_gapped.run(&image_task(&pinned, &["first"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());

    // The same data directory without trust_cache asks the registry at every start.
    let checking = Host::with_config("[registry]\nmax_attempts = 1\n");
    std::fs::create_dir_all(checking.data_dir()).expect("data dir");
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(air_gapped.data_dir().join("images"))
        .arg(checking.data_dir())
        .status()
        .expect("cp");
    assert!(copy.success());

    drop(reg);
    let run = air_gapped.run(&image_task(&pinned, &["offline"]), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert!(run.stdout.contains("arg[1]=offline"), "{}", run.debug());
    assert!(run.stderr.contains("trust_cache"), "{}", run.debug());

    let run = checking.run(&image_task(&pinned, &["offline"]), &[]);
    assert_cannot_pull(&run, &["unreachable"]);
    // A tag always needs the registry.
    let run = air_gapped.run(&image_task(&reference, &[]), &[]);
    assert_cannot_pull(&run, &["unreachable"]);
}

#[test]
fn two_tasks_pulling_one_image_at_once_fetch_it_once() {
    use wasmgate::runtime::{Runtime, TaskSpec, TaskStatus};
    let reg = Registry::start();
    let host = Host::new();
    let reference = format!("{}/demo/echo:v1", reg.host());
    let digest = push(&host, &guest("echo"), &reference, &[]);

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
                        identity: None,
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
    push(&host, &guest("echo"), &a, &[]);
    push(&host, &guest("exit-code"), &b, &[]);
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
    push(&host, &guest("echo"), &reference, &[]);
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
    let digest = push(&host, &guest("echo"), &reference, &[]);
    let server = common::Server::start(&host);
    let run = server.python_ok("images.py", &[&reference, &digest]);
    println!("{}", run.stdout);
}
