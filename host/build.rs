//! Builds the guest components in `guests/` (their own Cargo workspace) for wasm32-wasip2
//! and copies them to `target/wasm/<name>.wasm`, whose directory tests and benches get as
//! `env!("WASMGATE_GUESTS_DIR")`.
//!
//! The nested cargo uses its own target dir (`target/guests`) so it never waits on the lock
//! the outer build holds, and a clean environment so the outer build's settings (host
//! target, rustflags, wrappers, jobserver) do not leak into it.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let repo = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let guests = repo.join("guests");
    let target_dir = repo.join("target").join("guests");
    let out_dir = repo.join("target").join("wasm");

    rerun_if_changed(&guests);
    println!("cargo:rerun-if-changed=build.rs");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for (name, _) in env::vars_os() {
        if leaks_into_nested_build(&name) {
            cmd.env_remove(&name);
        }
    }
    let output = cmd.output().expect("failed to run cargo for the guests");
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        eprintln!(
            "error: building the guest components ({}) failed: {}\n\
             hint: if `core` or `std` cannot be found, install the target: `rustup target add {TARGET}`",
            guests.display(),
            output.status
        );
        std::process::exit(1);
    }

    fs::create_dir_all(&out_dir).expect("create target/wasm");
    let built = target_dir.join(TARGET).join("release");
    for entry in fs::read_dir(&built).expect("read the guests' release dir") {
        let path = entry.expect("read the guests' release dir").path();
        if let Some(name) = path.file_name()
            && path.extension() == Some(OsStr::new("wasm"))
        {
            copy_if_changed(&path, &out_dir.join(name));
        }
    }
    println!("cargo:rustc-env=WASMGATE_GUESTS_DIR={}", out_dir.display());
}

/// Watch the guest workspace's manifests and every crate's sources, but not a stray
/// `guests/target` (a build run inside `guests/` would otherwise rerun this script).
fn rerun_if_changed(guests: &Path) {
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", guests.join(file).display());
    }
    for entry in fs::read_dir(guests).expect("read guests/").flatten() {
        let path = entry.path();
        if path.join("Cargo.toml").is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Variables cargo sets for this build script (or the user set for the host build) that
/// would change or break the nested wasm build.
fn leaks_into_nested_build(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "CARGO_PRIMARY_PACKAGE",
    ];
    const PREFIXES: &[&str] = &[
        "RUSTC",
        "RUSTDOC",
        "CARGO_BUILD_",
        "CARGO_PROFILE_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "DEP_",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Copy atomically (temporary file + rename), leaving an identical destination untouched.
fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    if fs::read(to).is_ok_and(|old| old == bytes) {
        return;
    }
    let tmp = to.with_extension(format!("wasm.{}.tmp", std::process::id()));
    fs::write(&tmp, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::rename(&tmp, to).unwrap_or_else(|e| panic!("rename to {}: {e}", to.display()));
}
