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

use super::paths::PathLimits;
use super::quota::{BLOCK, FsLimits, disk_usage};
use super::{OpenFiles, QuotaFsView, StorageQuota, StoreFiles, add_to_linker};

const MIB: u64 = 1 << 20;

struct TestState {
    wasi: WasiCtx,
    table: ResourceTable,
    quota: Arc<StorageQuota>,
    files: StoreFiles,
}

impl TestState {
    fn new(wasi: WasiCtx, quota: Arc<StorageQuota>) -> Self {
        Self::with_files(wasi, quota, OpenFiles::new("test".into(), 64))
    }

    fn with_files(wasi: WasiCtx, quota: Arc<StorageQuota>, files: Arc<OpenFiles>) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            quota,
            files: StoreFiles::new(files),
        }
    }
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
        files: &mut s.files,
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
    let state = TestState::new(builder.build(), quota.clone());
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
    // The traffic: "hello" and ", world" written, "hello, world" read back (a guest's
    // std reads until it sees the end: no byte counted twice).
    assert_eq!(quota.written_bytes(), 12);
    assert_eq!(quota.read_bytes(), 12);
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
    let mut state = TestState::new(builder.build(), quota.clone());
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
    let mut state = TestState::new(WasiCtx::builder().build(), StorageQuota::new(dir, MIB));
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

// --- caps on path depth and open descriptors, called the way a guest would ---------------

/// A task directory `<tmp>/containers/0` preopened at `/`, with small path caps.
fn capped(
    max_depth: usize,
    max_bytes: usize,
    files: Arc<OpenFiles>,
) -> (tempfile::TempDir, TestState) {
    let (keep, dir) = tempdir();
    let root = dir.join("containers/0");
    std::fs::create_dir_all(&root).expect("mkdir");
    let limits = FsLimits {
        paths: PathLimits {
            max_depth,
            max_bytes,
        },
        ..FsLimits::default()
    };
    let quota = StorageQuota::with_limits(dir, 64 * MIB, limits);
    let mut builder = WasiCtx::builder();
    builder
        .preopened_dir(&root, "/", FsPerms::ReadWrite)
        .expect("preopen");
    (keep, TestState::with_files(builder.build(), quota, files))
}

fn preopen(view: &mut QuotaFsView<'_>) -> Resource<Descriptor> {
    preopens::Host::get_directories(&mut view.inner)
        .expect("preopens")
        .pop()
        .expect("one preopen")
        .0
}

async fn open_dir(
    view: &mut QuotaFsView<'_>,
    at: &Resource<Descriptor>,
    path: &str,
) -> Result<Resource<Descriptor>, ErrorCode> {
    HostDescriptor::open_at(
        view,
        borrow(at),
        PathFlags::SYMLINK_FOLLOW,
        path.into(),
        OpenFlags::DIRECTORY,
        DescriptorFlags::READ,
    )
    .await
    .map_err(code)
}

async fn mkdir(
    view: &mut QuotaFsView<'_>,
    at: &Resource<Descriptor>,
    path: &str,
) -> Result<(), ErrorCode> {
    HostDescriptor::create_directory_at(view, borrow(at), path.into())
        .await
        .map_err(code)
}

fn code(e: wasmtime_wasi::p2::FsError) -> ErrorCode {
    e.downcast().expect("an error code, not a trap")
}

fn no_proc() -> bool {
    let missing = std::fs::read_link("/proc/self/exe").is_err();
    if missing {
        eprintln!("SKIPPED: no /proc, the path caps are not enforced here");
    }
    missing
}

/// The attack: open `d`, create `d` in it, open that… Every level is a new short path
/// relative to a descriptor; the cap stops it at `max_depth` all the same.
#[tokio::test]
async fn nesting_through_descriptors_stops_at_the_depth_cap() {
    if no_proc() {
        return;
    }
    let (_keep, mut state) = capped(8, 1024, OpenFiles::new("c".into(), 64));
    let mut view = quota_view(&mut state);
    let mut cur = preopen(&mut view);
    let mut depth = 0;
    let refused = loop {
        if let Err(e) = mkdir(&mut view, &cur, "d").await {
            break e;
        }
        let next = open_dir(&mut view, &cur, "d").await.expect("open d");
        HostDescriptor::drop(&mut view, cur).expect("drop");
        cur = next;
        depth += 1;
        assert!(depth <= 8, "nested past the cap");
    };
    assert_eq!(depth, 8);
    assert!(matches!(refused, ErrorCode::NameTooLong), "{refused:?}");
    // Many components at once are refused before anything resolves them.
    let root = preopen(&mut view);
    let err = mkdir(&mut view, &root, "a/b/c/d/e/f/g/h/i")
        .await
        .expect_err("too deep");
    assert!(matches!(err, ErrorCode::NameTooLong), "{err:?}");
    mkdir(&mut view, &root, "a").await.expect("mkdir a");
    mkdir(&mut view, &root, "a/b")
        .await
        .expect("a path with a parent");
}

/// A symlink to a deep directory cannot be used to start deeper: the kernel says where
/// the directory opened through it really is.
#[tokio::test]
async fn symlinks_do_not_hide_depth() {
    if no_proc() {
        return;
    }
    let (keep, mut state) = capped(8, 1024, OpenFiles::new("c".into(), 64));
    let root_dir = keep.path().join("containers/0");
    std::fs::create_dir_all(root_dir.join("x/1/2/3/4/5")).expect("mkdir");
    std::os::unix::fs::symlink("x/1/2/3/4/5", root_dir.join("s")).expect("symlink");
    let mut view = quota_view(&mut state);
    let root = preopen(&mut view);
    let deep = open_dir(&mut view, &root, "s")
        .await
        .expect("open through the link");
    mkdir(&mut view, &deep, "a").await.expect("depth 7");
    mkdir(&mut view, &deep, "a/b").await.expect("depth 8");
    let err = mkdir(&mut view, &deep, "a/b/c").await.expect_err("depth 9");
    assert!(matches!(err, ErrorCode::NameTooLong), "{err:?}");
    let err = mkdir(&mut view, &root, "s/a/b/c")
        .await
        .expect_err("depth 9 by path");
    assert!(matches!(err, ErrorCode::NameTooLong), "{err:?}");
}

/// Moving a directory moves everything below it: the whole subtree must fit where it goes.
#[tokio::test]
async fn renaming_a_tree_deeper_is_refused_past_the_cap() {
    if no_proc() {
        return;
    }
    let (keep, mut state) = capped(8, 1024, OpenFiles::new("c".into(), 64));
    let root_dir = keep.path().join("containers/0");
    std::fs::create_dir_all(root_dir.join("x/1/2/3/4")).expect("mkdir");
    std::fs::create_dir_all(root_dir.join("y/1/2")).expect("mkdir");
    let mut view = quota_view(&mut state);
    let root = preopen(&mut view);
    // x has 4 levels below it: y/1/2/x puts the deepest at 8 (fits), y/1/2/3/x at 9.
    std::fs::create_dir_all(root_dir.join("y/1/2/3")).expect("mkdir");
    for (from, to, fits) in [
        ("x", "y/1/2/3/x", false),
        ("x", "y/1/2/x", true),
        ("y/1/2/x", "z", true),
    ] {
        let r = HostDescriptor::rename_at(
            &mut view,
            borrow(&root),
            from.into(),
            borrow(&root),
            to.into(),
        )
        .await
        .map_err(code);
        match fits {
            true => r.unwrap_or_else(|e| panic!("rename {from} {to}: {e:?}")),
            false => assert!(
                matches!(r, Err(ErrorCode::NameTooLong)),
                "rename {from} {to}: {r:?}"
            ),
        }
    }
    assert!(root_dir.join("z/1/2/3/4").is_dir());
    // A file moves anywhere a file may be created.
    std::fs::write(root_dir.join("f"), b"x").expect("write");
    HostDescriptor::rename_at(
        &mut view,
        borrow(&root),
        "f".into(),
        borrow(&root),
        "z/1/2/3/4/f".into(),
    )
    .await
    .expect("a file is a leaf");
}

/// The 65th open fails with insufficient-memory, a close makes room, and a dropped store
/// gives everything back to its container.
#[tokio::test]
async fn open_files_are_capped_per_container() {
    let budget = OpenFiles::new("flooder".into(), 4);
    let (_keep, mut state) = capped(8, 1024, budget.clone());
    let mut view = quota_view(&mut state);
    let root = preopen(&mut view);
    let mut held = Vec::new();
    let err = loop {
        match HostDescriptor::open_at(
            &mut view,
            borrow(&root),
            PathFlags::empty(),
            "f".into(),
            OpenFlags::CREATE,
            DescriptorFlags::READ | DescriptorFlags::WRITE,
        )
        .await
        {
            Ok(fd) => held.push(fd),
            Err(e) => break code(e),
        }
        assert!(held.len() <= 4, "opened past the cap");
    };
    assert_eq!(held.len(), 4);
    assert!(matches!(err, ErrorCode::InsufficientMemory), "{err:?}");
    assert_eq!(budget.open(), 4);
    // Preopens are the host's, not counted; a closed file makes room for another.
    let fd = held.pop().expect("one");
    HostDescriptor::drop(&mut view, fd).expect("drop");
    assert_eq!(budget.open(), 3);
    let again = open_dir(&mut view, &root, ".").await.expect("room again");
    held.push(again);
    assert_eq!(budget.open(), 4);
    drop(state);
    assert_eq!(
        budget.open(),
        0,
        "a dropped store gives its descriptors back"
    );
}

/// Data below PATH_MAX-deep directories is measured: the re-measure no longer resets the
/// estimate to what it could reach by path, so the write that needed it is refused.
#[tokio::test]
async fn the_remeasure_sees_data_deeper_than_path_max() {
    let (_keep, dir) = tempdir();
    let mut fd = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .expect("open");
    let name = "n".repeat(250);
    for _ in 0..20 {
        rustix::fs::mkdirat(&fd, name.as_str(), rustix::fs::Mode::RWXU).expect("mkdirat");
        fd = rustix::fs::openat(
            &fd,
            name.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .expect("openat");
    }
    let f = rustix::fs::openat(
        &fd,
        "big",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CREATE,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .expect("create");
    rustix::io::write(&f, &vec![7u8; 3 * MIB as usize]).expect("write");
    let quota = StorageQuota::new(dir, 4 * MIB);
    let used = quota.remeasure().await.expect("measure");
    assert!(used >= 3 * MIB, "measured {used}: the deep file was missed");
    assert!(
        quota.reserve(2 * MIB).await.is_none(),
        "3 + 2 MiB fit in 4 MiB?"
    );
    assert!(quota.is_exceeded());
}

/// A walk that fails leaves the estimate as it was: the write is refused, never let
/// through on a partial count.
#[tokio::test]
async fn a_failed_remeasure_never_lowers_the_estimate() {
    let (_keep, dir) = tempdir();
    for i in 0..20 {
        std::fs::write(dir.join(format!("f{i}")), b"x").expect("write");
    }
    let limits = FsLimits {
        measure_max_entries: 10,
        ..FsLimits::default()
    };
    let quota = StorageQuota::with_limits(dir, 64 * BLOCK, limits);
    let held = quota.try_reserve(60 * BLOCK).expect("fits");
    drop(held);
    quota
        .remeasure()
        .await
        .expect_err("more entries than the bound");
    assert_eq!(quota.used_bytes(), 60 * BLOCK);
    assert!(quota.reserve(8 * BLOCK).await.is_none());
}
