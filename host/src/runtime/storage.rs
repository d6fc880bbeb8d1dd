//! Per-task storage on the host: a private scratch root per container and the task's volumes.
//!
//! Layout under `<data-dir>/tasks/`: `<task-id>/containers/<n>/` and `<task-id>/volumes/<n>/`
//! (indices, never user-chosen names, so nothing in a definition can steer a path), plus a
//! `<task-id>.lock` held (flock) for the task's whole life. Everything is removed when the
//! task stops; a host that crashed leaves directories whose lock nobody holds, and the next
//! start removes those — while tasks of other live `wasmgate` processes are left alone.
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
    _lock: File,
}

impl TaskStorage {
    /// Creates the task's directories; `containers` and `volumes` are counts.
    pub fn create(
        tasks_dir: &Path,
        task_id: &str,
        containers: usize,
        volumes: usize,
    ) -> io::Result<Self> {
        std::fs::create_dir_all(tasks_dir)?;
        let lock_path = tasks_dir.join(format!("{task_id}.lock"));
        let lock = File::create(&lock_path)?;
        if !try_lock(&lock) {
            return Err(io::Error::other(format!(
                "task {task_id} is already locked"
            )));
        }
        let root = tasks_dir.join(task_id);
        for i in 0..containers {
            std::fs::create_dir_all(root.join("containers").join(i.to_string()))?;
        }
        for i in 0..volumes {
            std::fs::create_dir_all(root.join("volumes").join(i.to_string()))?;
        }
        Ok(Self {
            root,
            lock_path,
            _lock: lock,
        })
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
pub fn remove_leftovers(tasks_dir: &Path) -> usize {
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
        match remove_leftover(tasks_dir, id, &path) {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "cannot remove storage left by a stopped host, {path:?} (left for the next \
                 start): {e}"
            ),
        }
    }
    removed
}

/// Removes one task directory if no live process holds its lock; true if it did.
fn remove_leftover(tasks_dir: &Path, id: &str, path: &Path) -> io::Result<bool> {
    let lock_path = tasks_dir.join(format!("{id}.lock"));
    let lock = File::create(&lock_path)?;
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
        let live = TaskStorage::create(dir.path(), "live", 2, 1).unwrap();
        std::fs::write(live.volume_dir(0).join("f"), b"x").unwrap();
        std::fs::create_dir_all(dir.path().join("dead/containers/0")).unwrap();
        assert_eq!(remove_leftovers(dir.path()), 1);
        assert!(!dir.path().join("dead").exists());
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
        assert_eq!(remove_leftovers(dir.path()), 1);
        assert!(!dir.path().join("deep").exists());
        assert!(dir.path().join("stuck").exists());
    }
}
