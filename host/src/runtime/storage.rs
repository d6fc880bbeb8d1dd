//! Per-task storage on the host: a private scratch root per container and the task's volumes.
//!
//! Layout under `<data-dir>/tasks/`: `<task-id>/containers/<n>/` and `<task-id>/volumes/<n>/`
//! (indices, never user-chosen names, so nothing in a definition can steer a path), plus a
//! `<task-id>.lock` naming the process that owns the task. Each process holds one lock
//! (flock) on `<data-dir>/owners/<owner>.lock` for its whole life: one descriptor per
//! process, not one per task. Everything is removed when the task stops; a host that
//! crashed leaves directories whose owner's lock nobody holds, and the next start removes
//! those — while tasks of other live `wasmgate` processes are left alone. (An empty
//! `<task-id>.lock` is the older form, flock'ed by the task itself: still honoured.)
//!
//! A guest shapes what is below its directories, so removal walks by descriptors, without
//! recursion and with a bounded number of them open ([`remove_tree`]). A leftover that still
//! cannot be removed is a warning: one bad directory must not keep the host from starting.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::fsquota::remove_tree;

pub struct TaskStorage {
    root: PathBuf,
    lock_path: PathBuf,
}

/// This process's claim on the task directories it creates: a held flock on
/// `<owners>/<id>.lock`, released by the kernel when the process ends.
pub struct StorageOwner {
    id: String,
    _lock: File,
}

impl StorageOwner {
    /// A new owner (a fresh id) locked in `owners_dir`.
    pub fn new(owners_dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(owners_dir)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        // Locked under a name no sweep looks at, then renamed (the lock stays with the
        // file): a sweep never finds an owner's file unlocked while the owner lives.
        let tmp = owners_dir.join(format!(".{id}.tmp"));
        let lock = File::create(&tmp)?;
        if !try_lock(&lock) {
            return Err(io::Error::other(format!("owner {id} is already locked")));
        }
        std::fs::rename(&tmp, owners_dir.join(format!("{id}.lock")))?;
        Ok(Self { id, _lock: lock })
    }
}

impl TaskStorage {
    /// Creates the task's directories; `containers` and `volumes` are counts.
    pub fn create(
        tasks_dir: &Path,
        owner: &StorageOwner,
        task_id: &str,
        containers: usize,
        volumes: usize,
    ) -> io::Result<Self> {
        std::fs::create_dir_all(tasks_dir)?;
        // The owner is named before the directory exists (write, then rename), so a sweep
        // never sees a task directory without its owner.
        let lock_path = tasks_dir.join(format!("{task_id}.lock"));
        let tmp = tasks_dir.join(format!(".{task_id}.lock.tmp"));
        std::fs::write(&tmp, owner.id.as_bytes())?;
        std::fs::rename(&tmp, &lock_path)?;
        let root = tasks_dir.join(task_id);
        for i in 0..containers {
            std::fs::create_dir_all(root.join("containers").join(i.to_string()))?;
        }
        for i in 0..volumes {
            std::fs::create_dir_all(root.join("volumes").join(i.to_string()))?;
        }
        Ok(Self { root, lock_path })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The private writable root of the container at `index` in the definition.
    pub fn container_root(&self, index: usize) -> PathBuf {
        self.root.join("containers").join(index.to_string())
    }

    /// The shared directory of the volume at `index` in the definition.
    pub fn volume_dir(&self, index: usize) -> PathBuf {
        self.root.join("volumes").join(index.to_string())
    }

    /// Deletes everything the task wrote.
    pub fn remove(self) -> io::Result<()> {
        let r = remove_tree(&self.root);
        let _ = std::fs::remove_file(&self.lock_path);
        r
    }
}

/// Removes task directories left by a host that died; returns how many were removed. A
/// leftover that cannot be removed (or locked) is logged and left for the next start.
pub fn remove_leftovers(tasks_dir: &Path, owners_dir: &Path) -> usize {
    let entries = match std::fs::read_dir(tasks_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return 0,
        Err(e) => {
            tracing::warn!("cannot look for storage left by a stopped host in {tasks_dir:?}: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        // Not followed: a symlink here is not a task directory.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(id) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if id.ends_with(".lock") {
            continue;
        }
        match remove_leftover(tasks_dir, owners_dir, id, &path) {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "cannot remove storage left by a stopped host, {path:?} (left for the next \
                 start): {e}"
            ),
        }
    }
    remove_dead_owners(owners_dir);
    removed
}

/// Deletes the lock files of owners that are gone (a task directory naming a missing
/// owner is a leftover too, so this loses nothing).
fn remove_dead_owners(owners_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(owners_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if let Ok(f) = File::open(entry.path())
            && try_lock(&f)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes one task directory if no live process owns it; true if it did.
fn remove_leftover(tasks_dir: &Path, owners_dir: &Path, id: &str, path: &Path) -> io::Result<bool> {
    let lock_path = tasks_dir.join(format!("{id}.lock"));
    let owner = match std::fs::read(&lock_path) {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    // The owner's lock, or (the older form, or no lock file at all) the task's own.
    let held = if owner.is_empty() {
        lock_path.clone()
    } else if owner.bytes().all(|b| b.is_ascii_hexdigit()) {
        owners_dir.join(format!("{owner}.lock"))
    } else {
        return Err(io::Error::other(format!(
            "{} names no owner ({owner:?})",
            lock_path.display()
        )));
    };
    if !owner.is_empty() {
        std::fs::create_dir_all(owners_dir)?;
    }
    let lock = File::create(&held)?;
    if !try_lock(&lock) {
        return Ok(false);
    }
    tracing::info!("removing storage left by a stopped host: {path:?}");
    remove_tree(path)?;
    let _ = std::fs::remove_file(&lock_path);
    Ok(true)
}

fn try_lock(f: &File) -> bool {
    // SAFETY: a valid open descriptor; flock has no memory effects.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_tasks_survive_cleanup_and_dead_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let owners = dir.path().join("owners");
        let tasks = dir.path().join("tasks");
        let owner = StorageOwner::new(&owners).unwrap();
        let live = TaskStorage::create(&tasks, &owner, "live", 2, 1).unwrap();
        std::fs::write(live.volume_dir(0).join("f"), b"x").unwrap();
        std::fs::create_dir_all(tasks.join("dead/containers/0")).unwrap();
        // A task of a process that died: its owner's lock is free.
        let gone = StorageOwner::new(&owners).unwrap();
        let orphan = TaskStorage::create(&tasks, &gone, "orphan", 1, 0).unwrap();
        drop(gone);
        assert_eq!(remove_leftovers(&tasks, &owners), 2);
        assert!(!tasks.join("dead").exists());
        assert!(!orphan.root().exists());
        assert!(!tasks.join("orphan.lock").exists());
        // The dead owner's file went; the live one's stays.
        assert_eq!(std::fs::read_dir(&owners).unwrap().count(), 1);
        assert!(live.volume_dir(0).join("f").exists());
        let root = live.root().to_owned();
        live.remove().unwrap();
        assert!(!root.exists());
    }

    /// A leftover far deeper than PATH_MAX is removed; one that cannot be removed is a
    /// warning, and the others are still removed.
    #[test]
    fn deep_and_stubborn_leftovers_do_not_stop_the_sweep() {
        use rustix::fs::{Mode, OFlags};
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deep")).unwrap();
        let mut fd = rustix::fs::open(
            dir.path().join("deep"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        for _ in 0..3_000 {
            rustix::fs::mkdirat(&fd, c"d", Mode::RWXU).unwrap();
            fd = rustix::fs::openat(
                &fd,
                c"d",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap();
        }
        drop(fd);
        // A leftover whose lock file cannot be created: its name makes the lock path a
        // directory (`<id>.lock/` exists as a directory).
        std::fs::create_dir_all(dir.path().join("stuck/containers/0")).unwrap();
        std::fs::create_dir_all(dir.path().join("stuck.lock")).unwrap();
        assert_eq!(remove_leftovers(dir.path(), &dir.path().join("owners")), 1);
        assert!(!dir.path().join("deep").exists());
        assert!(dir.path().join("stuck").exists());
    }
}
