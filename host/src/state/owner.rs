//! One `wasmgate serve` per data directory.
//!
//! The state store, task recovery and the service scheduler all assume they are alone: a
//! second host on the same directory would record the first one's live tasks as lost
//! (recovery) and start replacements for its services. So `serve` holds an exclusive
//! flock on `<data>/serve.lock` for its whole life, and the file holds its PID so that a
//! refused second start can say who owns the directory. The kernel drops the lock when
//! the process dies (even by SIGKILL): nothing is left to clean up, and the file is never
//! deleted (unlinking a lock file another process has open would let two processes lock
//! two different files of one name).
//!
//! `wasmgate run` never takes this lock and never opens the state store: what it shares
//! with a `serve` on the same directory (compile cache, image store, log store, the
//! flock-owned task directories) is safe to share.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "serve.lock";

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error(
        "data directory {dir} is in use by another `wasmgate serve` ({holder}, lock {lock}); \
         stop that one first, or give this one another --data-dir"
    )]
    Held {
        dir: PathBuf,
        lock: PathBuf,
        /// `pid N`, or why the PID is not known.
        holder: String,
    },
    #[error("cannot lock the data directory {dir} ({lock}): {source}")]
    Io {
        dir: PathBuf,
        lock: PathBuf,
        source: io::Error,
    },
}

/// Ownership of a data directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirOwner {
    _file: File,
    path: PathBuf,
}

impl DataDirOwner {
    /// Takes the directory (creating it if needed) for this process, or says who has it.
    pub fn acquire(data_dir: &Path) -> Result<Self, OwnerError> {
        let lock = data_dir.join(LOCK_FILE);
        let io_err = |source| OwnerError::Io {
            dir: data_dir.to_owned(),
            lock: lock.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io_err)?;
        // No truncation on open: the holder's PID must survive a refused start.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(OwnerError::Held {
                    dir: data_dir.to_owned(),
                    lock: lock.clone(),
                    holder: holder(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        }
        write_pid(&mut file, std::process::id()).map_err(io_err)?;
        Ok(Self {
            _file: file,
            path: lock,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_pid(file: &mut File, pid: u32) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{pid}\n").as_bytes())?;
    file.sync_data()
}

/// `pid N` from the lock file of the holder; a holder that has not written it yet (it is
/// between its lock and its write) or wrote something else is reported as such.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(64).read_to_string(&mut text));
    match read {
        Ok(_) => match text.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "pid not recorded yet".to_owned(),
        },
        Err(e) => format!("pid unreadable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirOwner::acquire(&data).unwrap();
        assert_eq!(
            std::fs::read_to_string(first.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        // flock is per open file description: a second open in this process conflicts
        // just as another process's would.
        let err = DataDirOwner::acquire(&data).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("another `wasmgate serve`"), "{text}");
        // The refused attempt left the holder's PID in place.
        assert_eq!(
            std::fs::read_to_string(first.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(first);
        let again = DataDirOwner::acquire(&data).unwrap();
        assert!(again.path().exists());
    }

    #[test]
    fn a_lock_file_without_a_pid_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        let held = File::create(&lock).unwrap();
        held.try_lock().unwrap();
        let err = DataDirOwner::acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains("pid not recorded yet"), "{err}");
    }
}
