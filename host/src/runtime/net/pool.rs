//! Task addresses: handed out from a pool inside 127/8, one per live task on the machine.
//!
//! Several `wasmgate` processes may run at once, so "in use" is decided by the kernel: an
//! address belongs to whoever holds an exclusive flock on `<lock_dir>/<ip>.lock`. A process
//! that dies releases its locks with its file descriptors; nothing is left to clean up. Lock
//! files are never deleted: unlinking a lock file another process has open would let two
//! processes lock two different files of the same name.

use super::policy::PeerInfo;
use crate::util::sync;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot prepare the network lock directory {path}: {source}")]
    LockDir { path: PathBuf, source: io::Error },
    #[error(
        "no free task address in {pool}: every address is held by a live task (locks in {lock_dir}){}",
        .last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    Exhausted {
        pool: String,
        lock_dir: PathBuf,
        last_error: Option<io::Error>,
    },
}

/// Tasks of this process by address, for rules that name a destination's family.
#[derive(Debug, Default)]
pub struct LiveTasks(Mutex<HashMap<Ipv4Addr, Arc<PeerInfo>>>);

impl LiveTasks {
    /// The task at `ip` (shared: a connect's decision clones no strings).
    pub fn get(&self, ip: Ipv4Addr) -> Option<Arc<PeerInfo>> {
        self.lock().get(&ip).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Ipv4Addr, Arc<PeerInfo>>> {
        // A panic while holding this lock leaves a plain map behind: still usable.
        sync::lock(&self.0)
    }
}

/// The addresses of one pool (host-order integers, inclusive) and where their locks live.
#[derive(Debug)]
pub struct AddressPool {
    label: String,
    first: u32,
    last: u32,
    reserved: Vec<Ipv4Addr>,
    lock_dir: PathBuf,
    /// Where the next search starts, so a just-released address is not handed out again
    /// at once (its old connections may still be draining).
    cursor: AtomicU32,
    live: Arc<LiveTasks>,
}

/// An address held for one task; dropping it releases the address.
#[derive(Debug)]
pub struct AddressLease {
    address: Ipv4Addr,
    live: Arc<LiveTasks>,
    _lock: File,
}

impl AddressLease {
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
}

impl Drop for AddressLease {
    fn drop(&mut self) {
        self.live.lock().remove(&self.address);
        // The flock goes with the file descriptor.
    }
}

impl AddressPool {
    /// `first..=last` are the pool's addresses; `reserved` are never handed out.
    pub fn new(
        label: String,
        (first, last): (u32, u32),
        reserved: Vec<Ipv4Addr>,
        lock_dir: PathBuf,
    ) -> Result<Self, PoolError> {
        prepare_lock_dir(&lock_dir).map_err(|source| PoolError::LockDir {
            path: lock_dir.clone(),
            source,
        })?;
        Ok(Self {
            label,
            first,
            last,
            reserved,
            lock_dir,
            cursor: AtomicU32::new(0),
            live: Arc::default(),
        })
    }

    pub fn live(&self) -> &Arc<LiveTasks> {
        &self.live
    }

    /// Network and broadcast-looking hosts (.0, .255), 127.0.0.1 and reserved addresses
    /// are never task addresses.
    fn usable(&self, ip: Ipv4Addr) -> bool {
        let last_octet = ip.octets()[3];
        last_octet != 0
            && last_octet != 255
            && ip != Ipv4Addr::LOCALHOST
            && !self.reserved.contains(&ip)
    }

    /// Finds an address no live task on this machine holds and locks it for `peer`.
    pub fn allocate(&self, peer: PeerInfo) -> Result<AddressLease, PoolError> {
        let size = u64::from(self.last - self.first) + 1;
        let start = u64::from(self.cursor.load(Ordering::Relaxed)) % size;
        let mut last_error = None;
        for i in 0..size {
            let offset = (start + i) % size;
            let ip = Ipv4Addr::from(self.first + offset as u32);
            if !self.usable(ip) {
                continue;
            }
            match try_lock_address(&self.lock_dir, ip) {
                Ok(Some(lock)) => {
                    self.cursor
                        .store(((offset + 1) % size) as u32, Ordering::Relaxed);
                    self.live.lock().insert(ip, Arc::new(peer));
                    return Ok(AddressLease {
                        address: ip,
                        live: self.live.clone(),
                        _lock: lock,
                    });
                }
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
        }
        Err(PoolError::Exhausted {
            pool: self.label.clone(),
            lock_dir: self.lock_dir.clone(),
            last_error,
        })
    }
}

/// Creates the lock directory world-writable and sticky (mode 1777, like /tmp), so every
/// user's `wasmgate` shares one set of locks and nobody can delete another's files.
fn prepare_lock_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if !dir.is_dir() {
                return Err(io::Error::other("exists and is not a directory"));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir.parent().unwrap_or(dir))?;
            prepare_lock_dir(dir)
        }
        Err(e) => Err(e),
    }
}

/// Opens `<dir>/<ip>.lock` and takes its flock without waiting: `Ok(None)` if a live task
/// (of any process) holds it.
fn try_lock_address(dir: &Path, ip: Ipv4Addr) -> io::Result<Option<File>> {
    let path = dir.join(format!("{ip}.lock"));
    // No symlinks (another user could plant one in the shared directory) and no blocking
    // open (a planted FIFO).
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .custom_flags(flags)
        .open(&path)
    {
        Ok(f) => f,
        // Created by another user with a stricter umask: a read-only descriptor locks too.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(&path)?,
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    // SAFETY: flock(2) on a descriptor we own; it has no memory effects.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if locked {
        return Ok(Some(file));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(err)
    }
}
