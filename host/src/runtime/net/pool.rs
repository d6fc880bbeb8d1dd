//! Task addresses: handed out from a pool inside 127/8, one per live task on the machine.
//!
//! Several `wasmgate` processes may run at once, so "in use" is decided by the kernel: an
//! address belongs to whoever holds a write lock on its byte of `<lock_dir>/addresses.lock`
//! (the byte at the address's 32-bit value; an open-file-description lock, `F_OFD_SETLK`).
//! One descriptor per pool serves every task of the process, where a file per address cost
//! a descriptor per task. A process that dies releases its locks with its descriptor;
//! nothing is left to clean up. The lock file is never deleted: unlinking a lock file
//! another process has open would let two processes lock two different files of the same
//! name. (Hosts older than this lock `<ip>.lock` files instead: an address one of them
//! holds is skipped, but they do not see these locks, so do not mix the two on one pool.)

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
    /// `<lock_dir>/addresses.lock`, opened once.
    locks: Arc<File>,
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
    locks: Arc<File>,
}

impl AddressLease {
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
}

impl Drop for AddressLease {
    fn drop(&mut self) {
        if let Err(e) = byte_lock(&self.locks, self.address, libc::F_UNLCK) {
            tracing::warn!("cannot release the lock of address {}: {e}", self.address);
        }
        self.live.lock().remove(&self.address);
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
        let dir_err = |source| PoolError::LockDir {
            path: lock_dir.clone(),
            source,
        };
        prepare_lock_dir(&lock_dir).map_err(dir_err)?;
        let locks = Arc::new(open_lock_file(&lock_dir.join("addresses.lock")).map_err(dir_err)?);
        Ok(Self {
            locks,
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
            // Checked and locked under one guard: a second lock from the same description
            // would succeed, so "ours already" is this map's to say.
            let mut live = self.live.lock();
            if live.contains_key(&ip) {
                continue;
            }
            match byte_lock(&self.locks, ip, libc::F_WRLCK) {
                Ok(true) if held_by_an_older_host(&self.lock_dir, ip) => {
                    let _ = byte_lock(&self.locks, ip, libc::F_UNLCK);
                }
                Ok(true) => {
                    self.cursor
                        .store(((offset + 1) % size) as u32, Ordering::Relaxed);
                    live.insert(ip, Arc::new(peer));
                    return Ok(AddressLease {
                        address: ip,
                        live: self.live.clone(),
                        locks: self.locks.clone(),
                    });
                }
                Ok(false) => {}
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

/// Opens the pool's lock file, creating it readable and writable by everyone (every user's
/// `wasmgate` shares it; the directory is sticky, so nobody can delete it).
fn open_lock_file(path: &Path) -> io::Result<File> {
    // No symlinks (another user could plant one in the shared directory) and no blocking
    // open (a planted FIFO).
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .custom_flags(flags)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    // The umask may have taken write access from the others: give it back if it is ours.
    if std::os::unix::fs::MetadataExt::uid(&meta) == unsafe_geteuid() {
        file.set_permissions(std::fs::Permissions::from_mode(0o666))?;
    }
    Ok(file)
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no memory effects.
    unsafe { libc::geteuid() }
}

/// Whether a `wasmgate` older than the byte locks holds `ip` (a flock on `<dir>/<ip>.lock`).
/// Nothing is created, and the probe's descriptor is closed at once.
fn held_by_an_older_host(dir: &Path, ip: Ipv4Addr) -> bool {
    let path = dir.join(format!("{ip}.lock"));
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    // SAFETY: flock(2) on a descriptor we own; it has no memory effects.
    let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    // Closing the descriptor gives back the probe's lock.
    !free
}

/// Takes (`F_WRLCK`) or gives back (`F_UNLCK`) the lock on `ip`'s byte without waiting:
/// `Ok(false)` when another process (or pool) holds it.
fn byte_lock(file: &File, ip: Ipv4Addr, kind: libc::c_int) -> io::Result<bool> {
    // SAFETY: a zeroed `flock` is a valid value of the plain C struct.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = libc::off_t::from(u32::from(ip));
    fl.l_len = 1;
    // SAFETY: fcntl on a descriptor we own with a valid `flock`; l_pid is 0 as OFD locks
    // require.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(err),
    }
}
