//! Caps on how deep and how long the paths a guest creates may get.
//!
//! Through descriptors a guest can nest directories without ever naming a long path: open
//! `d`, create `d` in it, open that, and so on. Nothing bounded the result, and 60,000
//! levels (240 MiB of quota) broke the host's own tools on that tree. Every directory a
//! guest creates or moves is therefore placed first: the kernel says where the parent
//! directory really is (`/proc/self/fd/<n>`, so symlinks and earlier renames cannot lie
//! about it), and the new path must stay within [`PathLimits`]. Counted from the mount
//! point the guest sees (its root or a volume), so the limits read the same in every task.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest depth and path length below a container's root or a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathLimits {
    /// Directory levels below the mount point.
    pub max_depth: usize,
    /// Bytes of a path below the mount point (names and the `/` between them).
    pub max_bytes: usize,
}

impl Default for PathLimits {
    fn default() -> Self {
        Self {
            max_depth: 128,
            max_bytes: 2048,
        }
    }
}

/// Where a directory is, below the mount point it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub depth: usize,
    pub bytes: usize,
}

impl Location {
    /// An entry `name` (one component) inside this directory.
    pub(crate) fn child(self, name: &str) -> Self {
        Self {
            depth: self.depth + 1,
            bytes: self.bytes + usize::from(self.bytes > 0) + name.len(),
        }
    }

    /// A path `rel_len` bytes and `rel_depth` levels long below this directory.
    pub(crate) fn below(self, rel_depth: usize, rel_len: usize) -> Self {
        Self {
            depth: self.depth + rel_depth,
            bytes: self.bytes + usize::from(self.bytes > 0 && rel_len > 0) + rel_len,
        }
    }

    /// Whether this location is within `limits`.
    pub(crate) fn fits(self, limits: &PathLimits) -> bool {
        self.depth <= limits.max_depth && self.bytes <= limits.max_bytes
    }
}

/// Why a directory could not be placed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unplaced {
    /// The kernel could not name it: its path is longer than PATH_MAX.
    TooLong,
    /// `/proc` is not available: the caps cannot be enforced on this host.
    Unknown,
}

/// Where the open directory `fd` is below its mount point in the task directory `root`
/// (canonical). A directory outside `root` (an operator's bind mount) counts from `/`.
pub(crate) fn locate(fd: std::os::fd::RawFd, root: &Path) -> Result<Location, Unplaced> {
    if !proc_fd_available() {
        return Err(Unplaced::Unknown);
    }
    match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(path) => Ok(location_of(&path, root)),
        Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => Err(Unplaced::TooLong),
        Err(_) => Err(Unplaced::Unknown),
    }
}

/// The location of a canonical host path below `root`'s mount points
/// (`containers/<n>/…`, `volumes/<n>/…`).
pub(crate) fn location_of(path: &Path, root: &Path) -> Location {
    let below_root = path.strip_prefix(root);
    let rel: PathBuf = match below_root {
        // Skip the two components naming the mount point (`containers/0`).
        Ok(rel) => rel.components().skip(2).collect(),
        Err(_) => path.components().skip(1).collect(),
    };
    let depth = rel
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    Location {
        depth,
        bytes: rel.as_os_str().len(),
    }
}

/// Whether `/proc/self/fd` links can be read on this host (checked once; a warning if not).
fn proc_fd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    static WARNED: AtomicBool = AtomicBool::new(false);
    let available = *AVAILABLE.get_or_init(|| {
        std::fs::read_link("/proc/self/fd/0").is_ok()
            || std::fs::read_link("/proc/self/exe").is_ok()
    });
    if !available && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "/proc is not mounted: the caps on directory depth and path length of guests \
             are not enforced (storage quota and cleanup do not depend on them)"
        );
    }
    available
}

/// The last component of a guest path and the path of its parent (`None` for a name
/// directly in the directory the path is relative to). Trailing slashes are ignored.
pub(crate) fn split_parent(path: &str) -> (Option<&str>, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, name)) if !parent.is_empty() => (Some(parent), name),
        // `/name` is absolute: the delegate refuses it with its own error.
        Some(_) => (None, path),
        None => (None, trimmed),
    }
}

/// A cheap bound on a guest path before anything resolves it: more components or bytes
/// than the limits allow can never be placed within them.
pub(crate) fn lexically_too_long(path: &str, limits: &PathLimits) -> bool {
    path.len() > limits.max_bytes
        || path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .count()
            > limits.max_depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_from_the_mount_point() {
        let root = Path::new("/data/tasks/t1");
        let at = |p: &str| location_of(Path::new(p), root);
        assert_eq!(
            at("/data/tasks/t1/containers/0"),
            Location { depth: 0, bytes: 0 }
        );
        assert_eq!(
            at("/data/tasks/t1/containers/0/ab/c"),
            Location { depth: 2, bytes: 4 }
        );
        assert_eq!(
            at("/data/tasks/t1/volumes/3/x"),
            Location { depth: 1, bytes: 1 }
        );
        assert_eq!(
            at("/srv/bind/x"),
            Location {
                depth: 3,
                bytes: 10
            }
        );
        let l = Location { depth: 0, bytes: 0 }.child("ab").child("c");
        assert_eq!(l, Location { depth: 2, bytes: 4 });
        assert_eq!(
            l.below(2, 5),
            Location {
                depth: 4,
                bytes: 10
            }
        );
        assert_eq!(l.below(0, 0), l);
    }

    #[test]
    fn limits_are_inclusive() {
        let limits = PathLimits {
            max_depth: 2,
            max_bytes: 4,
        };
        assert!(Location { depth: 2, bytes: 4 }.fits(&limits));
        assert!(!Location { depth: 3, bytes: 4 }.fits(&limits));
        assert!(!Location { depth: 1, bytes: 5 }.fits(&limits));
        assert!(!lexically_too_long("a/b", &limits));
        assert!(lexically_too_long("a/b/c", &limits));
        assert!(!lexically_too_long("./a/", &limits));
    }

    #[test]
    fn split_parent_takes_the_last_component() {
        assert_eq!(split_parent("a"), (None, "a"));
        assert_eq!(split_parent("a/b/c"), (Some("a/b"), "c"));
        assert_eq!(split_parent("a/b/"), (Some("a"), "b"));
        assert_eq!(split_parent("/abs"), (None, "/abs"));
    }

    #[test]
    fn the_kernel_names_an_open_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("containers/0/a/bc")).expect("mkdir");
        let f = std::fs::File::open(root.join("containers/0/a/bc")).expect("open");
        use std::os::fd::AsRawFd;
        match locate(f.as_raw_fd(), &root) {
            Ok(l) => assert_eq!(l, Location { depth: 2, bytes: 4 }),
            Err(Unplaced::Unknown) => eprintln!("SKIPPED: no /proc on this host"),
            Err(e) => panic!("{e:?}"),
        }
    }
}
