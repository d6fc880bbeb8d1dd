//! Attacks: images (issue 9, items 9, 10 and the registry part of 13).
//! - a task definition that sends a host secret to a registry of its own, directly or
//!   through a token realm;
//! - a tenant running another tenant's private image by naming its digest;
//! - a registry that sends more than any manifest or component should be.

use crate::common::registry as support;

use super::assert_a_well_behaved_task_runs;
use crate::common::{Host, guest};
use support::{
    FakeRegistry, Registry, Reply, Seen, assert_cannot_pull, blob_path, files_under, image_task,
    image_task_with_secret, manifest_declaring, push, sha256_hex, wasm_manifest,
};

const PASSWORD: &str = "hunter2-private";

/// base64 of `alice:<PASSWORD>`, as a Basic `Authorization` header would carry it.
fn basic_value() -> String {
    let raw = format!("alice:{PASSWORD}");
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in raw.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn assert_no_credentials(seen: &[Seen]) {
    for s in seen {
        assert!(
            s.authorization.is_none(),
            "{} {} carried credentials: {:?}",
            s.method,
            s.path,
            s.authorization
        );
    }
}

/// A registry serving the `echo` guest as `<any repository>:v1`, behind a bearer token that
/// its `/v2/` challenge sends clients to fetch from `realm` (None: from itself, `/token`).
fn token_registry(realm: Option<String>) -> FakeRegistry {
    let component = std::fs::read(guest("echo")).expect("echo guest");
    let (manifest, _, layer_digest) = wasm_manifest(&component);
    let realm = std::sync::Arc::new(std::sync::Mutex::new(realm));
    let reg = FakeRegistry::start({
        let realm = realm.clone();
        move |req| {
            let bearer_ok = req.authorization.as_deref() == Some("Bearer t0ken");
            if req.path == "/v2/" {
                let realm = realm.lock().expect("realm").clone().unwrap_or_default();
                Reply::status(401).header(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"{realm}\",service=\"fake\""),
                )
            } else if req.path.starts_with("/token?") {
                Reply::ok(br#"{"token":"t0ken"}"#.to_vec())
            } else if !bearer_ok {
                Reply::status(401)
            } else if req.path.contains("/manifests/") {
                Reply::manifest(&manifest)
            } else if req.path.ends_with(&format!("/blobs/{layer_digest}")) {
                Reply::ok(component.clone())
            } else {
                Reply::status(404)
            }
        }
    });
    let own = format!("http://{}/token", reg.host());
    realm.lock().expect("realm").get_or_insert(own);
    reg
}

#[test]
fn a_host_secret_is_never_sent_to_a_registry_it_is_not_bound_to() {
    let thief = FakeRegistry::start(|_| Reply::status(200));
    let thief_realm = FakeRegistry::start(|_| Reply::ok(br#"{"token":"x"}"#.to_vec()));
    // Bound to it, but sending the credentials to a token service on another port.
    let redirecting = token_registry(Some(format!("http://{}/token", thief_realm.host())));
    // Bound to it, with its token service on its own origin: the credentials may go there.
    let honest = token_registry(None);
    let host = Host::with_config(&format!(
        "[secrets]\nloose = \"alice:{PASSWORD}\"\n\
         [secrets.team]\nvalue = \"alice:{PASSWORD}\"\nregistries = [\"registry.example.com\"]\n\
         [secrets.redirected]\nvalue = \"alice:{PASSWORD}\"\nregistries = [\"{}\"]\n\
         [secrets.honest]\nvalue = \"alice:{PASSWORD}\"\nregistries = [\"{}\"]\n",
        redirecting.host(),
        honest.host()
    ));

    // A definition naming a bound secret and a registry of its own.
    let image = format!("{}/steal/me:v1", thief.host());
    let run = host.run(&image_task_with_secret(&image, &[], "team"), &[]);
    assert_cannot_pull(
        &run,
        &[&format!(
            "secret team is not allowed for registry {}",
            thief.host()
        )],
    );
    // The plain form is bound to nothing, so refused everywhere, with how to bind it.
    let run = host.run(&image_task_with_secret(&image, &[], "loose"), &[]);
    assert_cannot_pull(
        &run,
        &[
            &format!("secret loose is not allowed for registry {}", thief.host()),
            "[secrets.loose] value = ",
        ],
    );
    assert_no_credentials(&thief.seen());

    // A bound registry pointing its token realm at another origin.
    let image = format!("{}/team/app:v1", redirecting.host());
    let run = host.run(&image_task_with_secret(&image, &[], "redirected"), &[]);
    assert_cannot_pull(
        &run,
        &[
            &format!("token service http://{}/token", thief_realm.host()),
            "another host",
            "token_realms of secret redirected",
            "not sent",
        ],
    );
    assert!(thief_realm.seen().is_empty(), "{:?}", thief_realm.seen());
    assert_no_credentials(&redirecting.seen());

    // The same flow on the registry's own origin works, and is where the secret went.
    let image = format!("{}/team/app:v1", honest.host());
    let run = host.run(&image_task_with_secret(&image, &["ok"], "honest"), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let basic = format!("Basic {}", basic_value());
    let seen = honest.seen();
    assert!(
        seen.iter()
            .any(|s| s.path.starts_with("/token?") && s.authorization.as_deref() == Some(&basic)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .filter(|s| !s.path.starts_with("/token?"))
            .all(|s| s.authorization.as_deref() != Some(&basic)),
        "Basic credentials went beyond the token service: {seen:?}"
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(PASSWORD), "{}", run.debug());
    }
    assert_a_well_behaved_task_runs(&host);
}

#[test]
fn another_tenants_private_image_does_not_run_without_its_credentials() {
    let reg = Registry::start_with_auth(Some(("alice", PASSWORD)));
    let host = Host::with_config(&format!(
        "[secrets.tenant-a]\nvalue = \"alice:{PASSWORD}\"\nregistries = [\"{}\"]\n",
        reg.host()
    ));
    let tagged = format!("{}/tenant-a/private:v1", reg.host());
    let digest = push(
        &host,
        &guest("echo"),
        &tagged,
        &["--credentials-parameter", "tenant-a"],
    );
    let pinned = format!("{}/tenant-a/private@{digest}", reg.host());

    // Tenant A runs it with its credentials; the store now holds it.
    let run = host.run(&image_task_with_secret(&pinned, &["a"], "tenant-a"), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    let layer = sha256_hex(&std::fs::read(guest("echo")).expect("echo"));
    assert!(blob_path(&host, &layer).exists());

    // Tenant B, on the same host, names the digest without credentials…
    let run = host.run(&image_task(&pinned, &["b"]), &[]);
    assert_cannot_pull(&run, &["refused access", &digest]);
    // …or under another name of the same registry…
    let renamed = format!("localhost:{}/tenant-a/private@{digest}", reg.port());
    let run = host.run(&image_task(&renamed, &["b"]), &[]);
    assert_cannot_pull(&run, &["refused access"]);
    // …or under a registry of its own that serves A's manifest (B learned its bytes) but,
    // not having the component, cannot serve the blob.
    let hex = digest.trim_start_matches("sha256:");
    let manifest = std::fs::read(
        host.data_dir()
            .join("images/repos")
            .join(reg.host())
            .join("tenant-a/private/_manifests")
            .join(hex),
    )
    .expect("A's manifest in the store");
    let own = FakeRegistry::start(move |req| {
        if req.path == "/v2/" {
            Reply::status(200)
        } else if req.path.contains("/manifests/") {
            Reply::manifest(&manifest)
        } else {
            Reply::status(404)
        }
    });
    let run = host.run(
        &image_task(&format!("{}/b/stolen@{digest}", own.host()), &["b"]),
        &[],
    );
    assert_cannot_pull(&run, &["not found", &format!("sha256:{layer}")]);
    assert!(
        own.seen()
            .iter()
            .any(|s| s.method == "GET" && s.path.contains("/blobs/")),
        "the blob was not asked for: {:?}",
        own.seen()
    );
    // …or by the store's path as a file image.
    let run = host.run(
        &image_task(&blob_path(&host, &layer).display().to_string(), &["b"]),
        &[],
    );
    assert_cannot_pull(&run, &["data directory"]);

    // A still runs it (from the store: one fetch in all).
    let run = host.run(&image_task_with_secret(&pinned, &["a"], "tenant-a"), &[]);
    assert_eq!(run.code, Some(0), "{}", run.debug());
    assert_eq!(reg.blob_gets(&layer), 1, "{}", reg.log());
    assert_a_well_behaved_task_runs(&host);
}

/// Upper bound on what a fake registry manages to send before the host hangs up: the host's
/// cap plus what the loopback socket buffers hold.
const SENT_BOUND: u64 = 48 * 1024 * 1024;
const FLOOD: u64 = 512 * 1024 * 1024;

#[test]
fn oversized_manifests_and_components_are_refused_and_leave_nothing_behind() {
    let huge_layer = manifest_declaring(300 * 1024 * 1024, &format!("sha256:{}", "a".repeat(64)));
    let lying_layer = manifest_declaring(1000, &format!("sha256:{}", "b".repeat(64)));
    let endless_digest = format!("sha256:{}", "c".repeat(64));
    let fake = FakeRegistry::start({
        let (huge_layer, lying_layer, endless_digest) = (
            huge_layer.clone(),
            lying_layer.clone(),
            endless_digest.clone(),
        );
        move |req| {
            let p = req.path.as_str();
            if p == "/v2/" {
                Reply::status(200)
            } else if p.starts_with("/v2/endless/manifests/") {
                // A manifest without end (no length announced).
                Reply::Endless {
                    headers: vec![("Docker-Content-Digest".into(), endless_digest.clone())],
                    len: FLOOD,
                }
            } else if p.starts_with("/v2/announced/manifests/") {
                Reply::ok(vec![b' '; 5 * 1024 * 1024])
                    .header("Docker-Content-Digest", &endless_digest)
            } else if p.starts_with("/v2/huge/manifests/") {
                Reply::manifest(&huge_layer.0)
            } else if p.starts_with("/v2/lying/manifests/") {
                Reply::manifest(&lying_layer.0)
            } else if p.starts_with("/v2/lying/blobs/") {
                Reply::Endless {
                    headers: vec![],
                    len: FLOOD,
                }
            } else {
                Reply::status(404)
            }
        }
    });
    let host = Host::new();
    let images = host.data_dir().join("images");
    let nothing_left = || {
        let left = files_under(&images);
        assert!(left.is_empty(), "left behind: {left:?}");
    };

    let run = host.run(
        &image_task(&format!("{}/endless:v1", fake.host()), &[]),
        &[],
    );
    assert_cannot_pull(
        &run,
        &["manifest", "too large", "4096 KiB", "max_manifest_kib"],
    );
    nothing_left();
    assert!(fake.sent() < SENT_BOUND, "{} bytes sent", fake.sent());

    let run = host.run(
        &image_task(&format!("{}/announced:v1", fake.host()), &[]),
        &[],
    );
    assert_cannot_pull(&run, &["manifest", "too large", "max_manifest_kib"]);
    nothing_left();

    let run = host.run(&image_task(&format!("{}/huge:v1", fake.host()), &[]), &[]);
    assert_cannot_pull(
        &run,
        &[
            "too large",
            "314572800 bytes",
            "256 MiB",
            "max_component_mib",
        ],
    );
    assert!(
        !fake.seen().iter().any(|s| s.path.contains("/blobs/")),
        "an oversized layer was fetched: {:?}",
        fake.seen()
    );
    nothing_left();

    let before = fake.sent();
    let run = host.run(&image_task(&format!("{}/lying:v1", fake.host()), &[]), &[]);
    assert_cannot_pull(
        &run,
        &[
            "too large",
            "more than the 1000 bytes its manifest declares",
        ],
    );
    nothing_left();
    assert!(
        fake.sent() - before < SENT_BOUND,
        "{} bytes sent",
        fake.sent() - before
    );

    assert_a_well_behaved_task_runs(&host);
}
