//! Iterative, descriptor-relative walks of a directory tree whose shape a guest chose: the
//! quota's measure, the extent of a directory a guest moves, and removing a task's files.
//!
//! Nothing here recurses (a 60,000-deep chain overflowed a tokio worker's stack in
//! `std::fs::remove_dir_all` and aborted the host), nothing opens a host path below the
//! root (a directory deeper than PATH_MAX cannot be opened by path: the old measure skipped
//! it and let a task write 2.5 times its quota), and at most [`KEEP_OPEN`] directories are
//! open at once whatever the depth (a deep leftover used to make the startup sweep fail
//! with EMFILE). Shallower directories are closed on the way down and reopened through
//! `..` on the way back, checked by device and inode: a directory moved during the walk
//! fails it rather than leading it somewhere else.

use std::collections::{HashSet, VecDeque};
use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, SeekFrom, Stat};
use rustix::io::Errno;

use super::quota::BLOCK;

/// Directories a walk holds open at most (each level's stream, nothing else).
pub(crate) const KEEP_OPEN: usize = 16;
/// One `getdents` read: a level keeps at most this much of names it has yet to visit.
const DIR_BUF: usize = 8 * 1024;

/// Where an entry is, relative to the walk's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    /// 1 for the root's own entries.
    pub depth: usize,
    /// Bytes of the entry's path from the root: names and the `/` between them.
    pub path_len: usize,
}

/// What to do with an entry once visited.
pub(crate) enum Step {
    Descend,
    Next,
}

pub(crate) trait Visitor {
    /// The entry `name` of directory `dir` (not followed if a symlink).
    fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        stat: &Stat,
        at: Place,
    ) -> io::Result<Step>;

    /// The directory `name` of `dir`, descended into, has been walked to its end.
    fn left(&mut self, _dir: BorrowedFd<'_>, _name: &CStr) -> io::Result<()> {
        Ok(())
    }
}

/// Device and inode, whatever the width of `struct stat`'s fields on this target.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn identity(st: &Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// Opens a directory below `dir` without following a symlink in its place.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// One directory on the path from the root to where the walk is.
struct Level {
    /// Closed for levels above the [`KEEP_OPEN`] deepest.
    fd: Option<OwnedFd>,
    id: (u64, u64),
    /// Its name in its parent (empty for the root).
    name: CString,
    /// Bytes of its path from the root, with a trailing `/` (0 for the root).
    prefix_len: usize,
    /// Names read from the stream and not visited yet.
    batch: VecDeque<CString>,
    /// Stream position after `batch`, to resume from once reopened.
    resume: u64,
    done: bool,
}

impl Level {
    fn new(fd: OwnedFd, stat: &Stat, name: CString, prefix_len: usize) -> Self {
        Self {
            fd: Some(fd),
            id: identity(stat),
            name,
            prefix_len,
            batch: VecDeque::new(),
            resume: 0,
            done: false,
        }
    }

    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.fd
            .as_ref()
            .map(AsFd::as_fd)
            .ok_or_else(|| io::Error::other("directory walk: the current directory is closed"))
    }

    /// The next name to visit, reading the directory one buffer at a time.
    fn next_name(&mut self, buf: &mut [MaybeUninit<u8>]) -> io::Result<Option<CString>> {
        while self.batch.is_empty() && !self.done {
            // The field, not `self.fd()`: the loop below updates the other fields.
            let fd = self
                .fd
                .as_ref()
                .ok_or_else(|| io::Error::other("directory walk: the directory is closed"))?;
            let mut dir = RawDir::new(fd.as_fd(), &mut *buf);
            let mut read_any = false;
            loop {
                match dir.next() {
                    None => break,
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(entry)) => {
                        read_any = true;
                        self.resume = entry.next_entry_cookie();
                        let name = entry.file_name();
                        if name != c"." && name != c".." {
                            self.batch.push_back(name.to_owned());
                        }
                    }
                }
                // One `getdents` per batch: the stream's position stays `resume`.
                if dir.is_buffer_empty() {
                    break;
                }
            }
            self.done = !read_any;
        }
        Ok(self.batch.pop_front())
    }
}

/// Walks everything below `root` depth first; `visitor` decides what to descend into.
/// Entries removed while the walk runs are skipped.
pub(crate) fn walk(root: OwnedFd, visitor: &mut impl Visitor) -> io::Result<()> {
    let stat = rustix::fs::fstat(&root)?;
    let mut levels = vec![Level::new(root, &stat, CString::default(), 0)];
    // Levels below this index are closed; from it on, all are open.
    let mut first_open = 0;
    let mut buf = vec![MaybeUninit::<u8>::uninit(); DIR_BUF];
    loop {
        let depth = levels.len();
        let top = levels
            .last_mut()
            .ok_or_else(|| io::Error::other("empty walk"))?;
        let Some(name) = top.next_name(&mut buf)? else {
            let Some(done) = levels.pop().filter(|_| depth > 1) else {
                return Ok(());
            };
            let parent_index = levels.len() - 1;
            if parent_index < first_open {
                reopen(&mut levels[parent_index], &done)?;
                first_open = parent_index;
            }
            visitor.left(levels[parent_index].fd()?, &done.name)?;
            continue;
        };
        let dir = top.fd()?;
        let stat = match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let at = Place {
            depth,
            path_len: top.prefix_len + name.as_bytes().len(),
        };
        if let Step::Next = visitor.entry(dir, &name, &stat, at)? {
            continue;
        }
        let child = match open_dir(dir, &name) {
            Ok(fd) => fd,
            // Removed, or replaced by something else, since it was listed.
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&child)?;
        levels.push(Level::new(child, &stat, name, at.path_len + 1));
        if levels.len() - first_open > KEEP_OPEN {
            levels[first_open].fd = None;
            first_open += 1;
        }
    }
}

/// Reopens `parent` (closed on the way down) through `..` of the directory just left.
fn reopen(parent: &mut Level, child: &Level) -> io::Result<()> {
    let fd = rustix::fs::openat(
        child.fd()?,
        c"..",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if identity(&rustix::fs::fstat(&fd)?) != parent.id {
        return Err(io::Error::other(
            "a directory was moved while the tree was walked",
        ));
    }
    rustix::fs::seek(&fd, SeekFrom::Start(parent.resume))?;
    parent.fd = Some(fd);
    Ok(())
}

/// Opens a host directory (a path the host chose, not a guest).
fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Allocated bytes below a directory, like `du -x`: symlinks are not followed, hard links
/// count once, other file systems mounted inside are skipped. Every entry counts at least
/// a block, matching the creation charge (otherwise empty files would be credited back and
/// a guest could exhaust inodes for free).
struct Measure {
    dev: u64,
    linked: HashSet<u64>,
    total: u64,
    entries: u64,
    max_entries: u64,
}

impl Visitor for Measure {
    fn entry(&mut self, _: BorrowedFd<'_>, _: &CStr, stat: &Stat, _: Place) -> io::Result<Step> {
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(io::Error::other(format!(
                "more than {} entries to measure",
                self.max_entries
            )));
        }
        let (dev, ino) = identity(stat);
        if dev != self.dev {
            return Ok(Step::Next);
        }
        let dir = is_dir(stat);
        if !dir && stat.st_nlink > 1 && !self.linked.insert(ino) {
            return Ok(Step::Next);
        }
        #[allow(clippy::unnecessary_cast)]
        let blocks = stat.st_blocks as u64;
        self.total = self
            .total
            .saturating_add(blocks.saturating_mul(512).max(BLOCK));
        Ok(if dir { Step::Descend } else { Step::Next })
    }
}

/// Allocated bytes under `root` (not counting `root` itself); an error past `max_entries`
/// entries or for any directory that cannot be read.
pub(crate) fn measure(root: &Path, max_entries: u64) -> io::Result<u64> {
    let fd = open_root(root)?;
    let dev = identity(&rustix::fs::fstat(&fd)?).0;
    let mut m = Measure {
        dev,
        linked: HashSet::new(),
        total: 0,
        entries: 0,
        max_entries,
    };
    walk(fd, &mut m)?;
    Ok(m.total)
}

/// The deepest and longest entry below a directory, relative to it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub depth: usize,
    pub path_len: usize,
}

struct Extents {
    dev: u64,
    found: Extent,
    entries: u64,
    max_entries: u64,
}

impl Visitor for Extents {
    fn entry(&mut self, _: BorrowedFd<'_>, _: &CStr, stat: &Stat, at: Place) -> io::Result<Step> {
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(io::Error::other(format!(
                "more than {} entries below the directory",
                self.max_entries
            )));
        }
        self.found.depth = self.found.depth.max(at.depth);
        self.found.path_len = self.found.path_len.max(at.path_len);
        let here = identity(stat).0 == self.dev;
        Ok(if here && is_dir(stat) {
            Step::Descend
        } else {
            Step::Next
        })
    }
}

/// How deep and long the paths below the directory `dir` go.
pub(crate) fn extent(dir: BorrowedFd<'_>, max_entries: u64) -> io::Result<Extent> {
    let fd = open_dir(dir, c".")?;
    let dev = identity(&rustix::fs::fstat(&fd)?).0;
    let mut e = Extents {
        dev,
        found: Extent::default(),
        entries: 0,
        max_entries,
    };
    walk(fd, &mut e)?;
    Ok(e.found)
}

/// Deletes every entry below the root, then the directories on the way back up.
struct Remove {
    dev: u64,
}

fn gone_is_fine(r: rustix::io::Result<()>) -> io::Result<()> {
    match r {
        Err(Errno::NOENT) | Ok(()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Visitor for Remove {
    fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        stat: &Stat,
        _: Place,
    ) -> io::Result<Step> {
        if !is_dir(stat) {
            gone_is_fine(rustix::fs::unlinkat(dir, name, AtFlags::empty()))?;
            return Ok(Step::Next);
        }
        if identity(stat).0 != self.dev {
            // Never delete another file system's files through a mount point.
            return Err(io::Error::other(format!(
                "{} is a mount point",
                name.to_string_lossy()
            )));
        }
        Ok(Step::Descend)
    }

    fn left(&mut self, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
        gone_is_fine(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR))
    }
}

/// Removes `path` and everything below it, however deep; a missing `path` is not an error.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let fd = match open_root(path) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        // A file or a symlink: nothing to walk.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        Err(e) => return Err(e),
    };
    let dev = identity(&rustix::fs::fstat(&fd)?).0;
    walk(fd, &mut Remove { dev })?;
    match std::fs::remove_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The (device, inode) of each directory a deep chain made: a descriptor whose path the
    /// kernel cannot spell (past PATH_MAX) is ours only if it is one of these, since other
    /// tests of the binary make PATH_MAX-deep trees of their own alongside.
    type Deep = std::collections::HashSet<(u64, u64)>;

    /// `depth` nested directories named `d` below `root`, made through descriptors (their
    /// paths are far longer than PATH_MAX); a file `f` of `file_bytes` at the bottom.
    fn deep_chain(root: &Path, depth: usize, file_bytes: usize) -> Deep {
        use std::os::unix::fs::MetadataExt;
        let mut deep = Deep::new();
        let mut dir = open_root(root).expect("open root");
        for _ in 0..depth {
            rustix::fs::mkdirat(&dir, c"d", Mode::RWXU).expect("mkdirat");
            dir = open_dir(dir.as_fd(), c"d").expect("open d");
            let st = rustix::fs::fstat(&dir).expect("fstat d");
            deep.insert((st.st_dev, st.st_ino));
        }
        let f = rustix::fs::openat(
            &dir,
            c"f",
            OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .expect("create f");
        rustix::io::write(&f, &vec![1u8; file_bytes]).expect("write f");
        let m = std::fs::metadata(root).expect("stat root");
        deep.insert((m.dev(), m.ino()));
        deep
    }

    /// This process's descriptors open on `dir` or below: by path, or, for a path the
    /// kernel cannot spell, by being one of `deep` (the /proc link still stats its file).
    /// A descriptor closed while counting is nobody's.
    fn open_fds(dir: &Path, deep: &Deep) -> usize {
        use std::os::unix::fs::MetadataExt;
        let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
            return 0;
        };
        fds.filter_map(Result::ok)
            .filter(|fd| match std::fs::read_link(fd.path()) {
                Ok(t) => t.starts_with(dir),
                Err(_) => {
                    std::fs::metadata(fd.path()).is_ok_and(|m| deep.contains(&(m.dev(), m.ino())))
                }
            })
            .count()
    }

    /// Runs `f` on a thread with a small stack: a recursive walk of a deep tree would
    /// overflow it (and abort the test binary) where an iterative one cannot.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no panic")
    }

    #[test]
    fn removes_a_tree_far_deeper_than_path_max_iteratively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("task");
        std::fs::create_dir(&root).expect("mkdir");
        let deep = deep_chain(&root, 5_000, 10);
        // A sibling tree and a symlink out of the tree: the target must survive.
        std::fs::create_dir_all(root.join("a/b/c")).expect("mkdir");
        std::fs::write(root.join("a/b/c/x"), b"x").expect("write");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").expect("write");
        std::os::unix::fs::symlink(&outside, root.join("a/link")).expect("symlink");
        let before = open_fds(dir.path(), &deep);
        let (removed, fds_during) = on_small_stack({
            let (root, top) = (root.clone(), dir.path().to_owned());
            move || {
                // Count descriptors from inside the walk: the measure after each entry.
                let r = remove_tree(&root);
                (r, open_fds(&top, &deep))
            }
        });
        removed.expect("removed");
        assert!(!root.exists());
        assert_eq!(std::fs::read(&outside).expect("outside kept"), b"keep");
        assert!(
            fds_during <= before + 2,
            "{fds_during} descriptors open after"
        );
        // Removing what is not there is fine.
        remove_tree(&root).expect("idempotent");
    }

    /// The walk never holds more than KEEP_OPEN directories, however deep the tree: a
    /// visitor that counts the process's descriptors at each entry sees a bounded number.
    #[test]
    fn a_walk_holds_a_bounded_number_of_descriptors() {
        struct Peak(usize, usize, PathBuf, Deep);
        impl Visitor for Peak {
            fn entry(
                &mut self,
                _: BorrowedFd<'_>,
                _: &CStr,
                s: &Stat,
                _: Place,
            ) -> io::Result<Step> {
                self.1 += 1;
                if self.1.is_multiple_of(97) {
                    self.0 = self.0.max(open_fds(&self.2, &self.3));
                }
                Ok(if is_dir(s) { Step::Descend } else { Step::Next })
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = deep_chain(dir.path(), 2_000, 0);
        let before = open_fds(dir.path(), &deep);
        let mut peak = Peak(0, 0, dir.path().to_owned(), deep);
        walk(open_root(dir.path()).expect("open"), &mut peak).expect("walk");
        assert_eq!(peak.1, 2_001, "every directory and the file visited");
        // `open_fds` itself holds one while counting.
        assert!(
            peak.0 <= before + KEEP_OPEN + 2,
            "{} descriptors during the walk, {before} before",
            peak.0
        );
    }

    #[test]
    fn the_measure_counts_below_path_max_and_beyond() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 2,000 levels of "d/" is 4,000 bytes of path: the file at the bottom is past
        // PATH_MAX once the temp directory's own path is added.
        deep_chain(dir.path(), 2_000, 1 << 20);
        let used = on_small_stack({
            let root = dir.path().to_owned();
            move || measure(&root, u64::MAX)
        })
        .expect("measure");
        let expected = (1 << 20) + 2_000 * BLOCK;
        assert!(
            (expected..=expected + 2_000 * BLOCK).contains(&used),
            "measured {used}, expected about {expected}"
        );
        let err = measure(dir.path(), 100).expect_err("over the entry bound");
        assert!(err.to_string().contains("more than 100 entries"), "{err}");
    }

    #[test]
    fn an_unreadable_directory_fails_the_measure() {
        // Root ignores permission bits: the check is only meaningful for other users.
        if rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED: running as root, directory permissions do not apply");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("locked")).expect("mkdir");
        std::fs::write(dir.path().join("locked/f"), vec![0u8; 1 << 20]).expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("locked"),
            std::fs::Permissions::from_mode(0o000),
        )
        .expect("chmod");
        let r = measure(dir.path(), u64::MAX);
        std::fs::set_permissions(
            dir.path().join("locked"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod back");
        r.expect_err("an unreadable directory is an error, not zero bytes");
    }

    #[test]
    fn extent_reports_depth_and_path_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ab/cde/f")).expect("mkdir");
        std::fs::write(dir.path().join("ab/cde/f/ghij"), b"").expect("write");
        std::fs::write(dir.path().join("top"), b"").expect("write");
        let fd = open_root(dir.path()).expect("open");
        let e = extent(fd.as_fd(), 100).expect("extent");
        assert_eq!(
            e,
            Extent {
                depth: 4,
                path_len: "ab/cde/f/ghij".len()
            }
        );
    }
}
