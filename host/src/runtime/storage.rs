//! Per-task storage on the host: a private scratch root per container and the task's volumes.
//!
//! Layout under `<data-dir>/tasks/`: `<task-id>/containers/<n>/` and `<task-id>/volumes/<n>/`
//! (indices, never user-chosen names, so nothing in a definition can steer a path), plus a
//! `<task-id>.lock` held (flock) for the task's whole life. Everything is removed when the
//! task stops; a host that crashed leaves directories whose lock nobody holds, and the next
//! start removes those — while tasks of other live `wasmgate` processes are left alone.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

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
        let r = remove_dir_if_exists(&self.root);
        let _ = std::fs::remove_file(&self.lock_path);
        r
    }
}

/// Removes task directories left by a host that died; returns how many were removed.
pub fn remove_leftovers(tasks_dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(tasks_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(id) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let lock_path = tasks_dir.join(format!("{id}.lock"));
        let lock = File::create(&lock_path)?;
        if try_lock(&lock) {
            tracing::info!("removing storage left by a stopped host: {path:?}");
            remove_dir_if_exists(&path)?;
            let _ = std::fs::remove_file(&lock_path);
            removed += 1;
        }
    }
    Ok(removed)
}

fn remove_dir_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
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
        assert_eq!(remove_leftovers(dir.path()).unwrap(), 1);
        assert!(!dir.path().join("dead").exists());
        assert!(live.volume_dir(0).join("f").exists());
        let root = live.root().to_owned();
        live.remove().unwrap();
        assert!(!root.exists());
    }
}
