//! End-to-end checks with the `files` guest, plus direct calls into the shadowing host.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::bindings::{Command, CommandPre};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};

use super::quota::{BLOCK, disk_usage};
use super::{QuotaFsView, StorageQuota, add_to_linker};

const MIB: u64 = 1 << 20;

struct TestState {
    wasi: WasiCtx,
    table: ResourceTable,
    quota: Arc<StorageQuota>,
}

impl WasiView for TestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn quota_view(s: &mut TestState) -> QuotaFsView<'_> {
    QuotaFsView {
        inner: WasiFilesystemCtxView {
            ctx: s.wasi.filesystem(),
            table: &mut s.table,
        },
        quota: &s.quota,
    }
}

/// The compiled `files` guest and a linker with the shadow, built once for all tests.
fn guest() -> Option<&'static (Engine, CommandPre<TestState>)> {
    static GUEST: OnceLock<Option<(Engine, CommandPre<TestState>)>> = OnceLock::new();
    GUEST
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/files.wasm");
            if !path.exists() {
                eprintln!(
                    "SKIPPED: {} is missing (build the guests first)",
                    path.display()
                );
                return None;
            }
            let engine = Engine::default();
            let component = Component::from_file(&engine, &path).expect("files.wasm compiles");
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi links");
            add_to_linker(&mut linker, quota_view).expect("quota shadow links");
            let pre = linker.instantiate_pre(&component).expect("instantiate_pre");
            Some((engine, CommandPre::new(pre).expect("a command component")))
        })
        .as_ref()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `files <args>` with `dir` preopened at `/` under `quota`.
async fn run(quota: &Arc<StorageQuota>, dir: &Path, args: &[&str]) -> Option<Run> {
    let (engine, pre) = guest()?;
    let stdout = MemoryOutputPipe::new(1 << 20);
    let stderr = MemoryOutputPipe::new(1 << 20);
    let mut builder = WasiCtx::builder();
    builder
        .args(&[&["files"], args].concat())
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    builder
        .preopened_dir(dir, "/", FsPerms::ReadWrite)
        .expect("preopen");
    let state = TestState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        quota: quota.clone(),
    };
    let mut store = Store::new(engine, state);
    let command: Command = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiate");
    let code = match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => panic!("guest trapped: {e:?}"),
        },
    };
    let text = |p: &MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
    Some(Run {
        code,
        stdout: text(&stdout),
        stderr: text(&stderr),
    })
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[tokio::test]
async fn fill_stops_at_the_limit_with_no_space_and_fires_exceeded() {
    let (_keep, dir) = tempdir();
    let quota = StorageQuota::new(dir.clone(), 4 * MIB);
    let Some(run) = run(&quota, &dir, &["fill", "/big", "10"]).await else {
        return;
    };
    assert_eq!(run.code, 1, "stdout: {} stderr: {}", run.stdout, run.stderr);
    let written = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("wrote "))
        .count() as u64;
    assert!(written <= 4, "wrote {written} MiB under a 4 MiB quota");
    assert!(written >= 2, "quota refused too early: {}", run.stdout);
    // Rust's wasm32-wasip2 std writes files through the wasip1 adapter, whose stream path
    // never calls `filesystem-error-code` and reports every stream failure as EIO (wasi
    // errno 29). Guests that ask (see `stream_refusal_maps_to_insufficient_space`) get ENOSPC.
    let stderr = run.stderr.to_lowercase();
    assert!(
        stderr.contains("no space left")
            || stderr.contains("insufficient")
            || stderr.contains("os error 29"),
        "stderr: {}",
        run.stderr
    );
    let on_disk = disk_usage(&dir).expect("measure");
    assert!(on_disk <= 5 * MIB, "{on_disk} bytes on disk");
    assert!(quota.is_exceeded());
    tokio::time::timeout(Duration::from_secs(1), quota.exceeded())
        .await
        .expect("exceeded() resolves");
    assert_eq!(
        quota.stop_reason(),
        "EphemeralStorageExceeded: task storage exceeded its limit of 4 MiB"
    );
}

#[tokio::test]
async fn deleted_space_is_credited_by_the_remeasure() {
    let (_keep, dir) = tempdir();
    let quota = StorageQuota::new(dir.clone(), 3 * MIB);
    let Some(first) = run(&quota, &dir, &["fill", "/a/one", "2"]).await else {
        return;
    };
    assert_eq!(first.code, 0, "stderr: {}", first.stderr);
    // The guest has no `rm`: delete on the host, as another container sharing the volume could.
    std::fs::remove_file(dir.join("a/one")).expect("remove");
    let second = run(&quota, &dir, &["fill", "/a/two", "2"])
        .await
        .expect("guest");
    assert_eq!(second.code, 0, "stderr: {}", second.stderr);
    // Truncate-and-rewrite of the same file: the old blocks are credited the same way.
    let third = run(&quota, &dir, &["fill", "/a/two", "2"])
        .await
        .expect("guest");
    assert_eq!(third.code, 0, "stderr: {}", third.stderr);
    assert!(!quota.is_exceeded());
    assert!(quota.used_bytes() <= 3 * MIB);
}

#[tokio::test]
async fn writes_under_quota_work_unchanged() {
    let (_keep, dir) = tempdir();
    let quota = StorageQuota::new(dir.clone(), 64 * MIB);
    let Some(write) = run(&quota, &dir, &["write", "/d/e/note.txt", "hello"]).await else {
        return;
    };
    assert_eq!(write.code, 0, "stderr: {}", write.stderr);
    let append = run(&quota, &dir, &["append", "/d/e/note.txt", ", world"])
        .await
        .expect("guest");
    assert_eq!(append.code, 0, "stderr: {}", append.stderr);
    let read = run(&quota, &dir, &["read", "/d/e/note.txt"])
        .await
        .expect("guest");
    assert_eq!(read.stdout, "hello, world\n");
    let ls = run(&quota, &dir, &["ls", "/d"]).await.expect("guest");
    assert_eq!(ls.stdout, "e/\n");
    let exists = run(&quota, &dir, &["exists", "/d/e/note.txt"])
        .await
        .expect("guest");
    assert_eq!(exists.stdout, "yes\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("d/e/note.txt")).expect("host read"),
        "hello, world"
    );
    // Two directories, one file and a block of data, a few blocks of slack at most.
    let used = quota.used_bytes();
    assert!((3 * BLOCK..=16 * BLOCK).contains(&used), "used {used}");
    assert!(!quota.is_exceeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reservations_never_pass_the_limit() {
    let (_keep, dir) = tempdir();
    let quota = StorageQuota::new(dir, 100 * BLOCK);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let quota = quota.clone();
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Some(r) = quota.reserve(BLOCK).await {
                    held.push(r);
                }
                held
            })
        })
        .collect();
    let mut total = 0;
    let mut kept = Vec::new();
    for task in tasks {
        let held = task.await.expect("join");
        total += held.len() as u64;
        kept.push(held);
    }
    assert_eq!(total, 100);
    assert_eq!(quota.used_bytes(), 100 * BLOCK);
    assert!(quota.is_exceeded());
    // Failed writes give their reservation back; completed ones keep it.
    let mut all: Vec<_> = kept.into_iter().flatten().collect();
    for r in all.drain(..10) {
        r.release();
    }
    drop(all);
    assert_eq!(quota.used_bytes(), 90 * BLOCK);
}

/// Drives `descriptor.write` and `set-size` directly (the guest uses streams).
#[tokio::test]
async fn positioned_writes_and_set_size_are_charged() {
    let (_keep, dir) = tempdir();
    let quota = StorageQuota::new(dir.clone(), 64 * BLOCK);
    let mut builder = WasiCtx::builder();
    builder
        .preopened_dir(&dir, "/", FsPerms::ReadWrite)
        .expect("preopen");
    let mut state = TestState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        quota: quota.clone(),
    };
    let mut view = quota_view(&mut state);
    let (root, _) = preopens::Host::get_directories(&mut view.inner)
        .expect("preopens")
        .pop()
        .expect("one preopen");
    let file = HostDescriptor::open_at(
        &mut view,
        borrow(&root),
        PathFlags::empty(),
        "f".into(),
        OpenFlags::CREATE,
        DescriptorFlags::READ | DescriptorFlags::WRITE,
    )
    .await
    .expect("create");
    assert_eq!(quota.used_bytes(), BLOCK);

    // Sparse one-byte writes cost a block each, not a byte.
    for i in 0..10u64 {
        let n = HostDescriptor::write(&mut view, borrow(&file), vec![1], i * 16 * BLOCK)
            .await
            .expect("write");
        assert_eq!(n, 1);
    }
    assert_eq!(quota.used_bytes(), 11 * BLOCK);

    // Growth is charged in blocks past the current size (145 blocks, mostly holes).
    let size = 9 * 16 * BLOCK + 1;
    HostDescriptor::set_size(&mut view, borrow(&file), 300 * BLOCK)
        .await
        .expect_err("over the limit even after re-measuring");
    assert!(quota.is_exceeded());
    HostDescriptor::set_size(&mut view, borrow(&file), size + 10 * BLOCK)
        .await
        .expect("growth that fits");

    // A write past the limit is refused with insufficient-space and leaves nothing behind.
    let err = HostDescriptor::write(&mut view, borrow(&file), vec![0; 80 * BLOCK as usize], 0)
        .await
        .expect_err("refused");
    assert!(matches!(err.downcast(), Ok(ErrorCode::InsufficientSpace)));
    assert!(disk_usage(&dir).expect("measure") <= 64 * BLOCK);
}

fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

/// What a guest asking `filesystem-error-code` about a refused stream write learns.
#[test]
fn stream_refusal_maps_to_insufficient_space() {
    let (_keep, dir) = tempdir();
    let mut state = TestState {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        quota: StorageQuota::new(dir, MIB),
    };
    let wasmtime_wasi::p2::StreamError::LastOperationFailed(err) = super::stream::no_space() else {
        panic!("refusal is a last-operation-failed error");
    };
    let err = state.table.push(err).expect("push");
    let mut view = quota_view(&mut state);
    let code =
        wasmtime_wasi::p2::bindings::filesystem::types::Host::filesystem_error_code(&mut view, err)
            .expect("no trap");
    assert!(matches!(code, Some(ErrorCode::InsufficientSpace)));
}

#[test]
fn disk_usage_counts_blocks_and_entries() {
    let (_keep, dir) = tempdir();
    std::fs::create_dir(dir.join("d")).expect("mkdir");
    std::fs::write(dir.join("d/small"), b"x").expect("write");
    std::fs::write(dir.join("big"), vec![7u8; MIB as usize]).expect("write");
    std::fs::hard_link(dir.join("big"), dir.join("d/big-again")).expect("link");
    std::fs::File::create(dir.join("empty")).expect("create");
    let used = disk_usage(&dir).expect("measure");
    // big once (hard link not double counted), plus at least a block for d, small, empty.
    assert!(
        (MIB + 3 * BLOCK..=MIB + 16 * BLOCK).contains(&used),
        "used {used}"
    );
}
