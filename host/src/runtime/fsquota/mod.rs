//! Per-task ephemeral-storage quota and the other limits on what a guest does to the host's
//! file system, enforced on every call as it happens.
//!
//! Fargate gives a task `ephemeralStorage.sizeInGiB` across all of its containers' scratch
//! roots and shared volumes. A periodic `du` could only notice after the host's disk is
//! already full, so this module shadows `wasi:filesystem/types` (see [`add_to_linker`]) and
//! reserves space in a task-wide [`StorageQuota`] before each write, directory or file
//! creation, or file growth reaches the disk. Charges are pessimistic (overwrites and
//! deletions are not credited); when a write would not fit, the quota re-measures the real
//! usage of the task directory first (a paced, bounded, descriptor-relative walk: [`tree`])
//! and refuses only if it still does not fit.
//!
//! It also counts the bytes guests read from and write to files ([`StorageQuota::read_bytes`],
//! [`StorageQuota::written_bytes`]: ContainerInsights' `StorageReadBytes` /
//! `StorageWriteBytes`), as it sees every file read and write.
//!
//! The same shadow caps how deep and long guest paths get ([`paths`]) and how many files a
//! container holds open ([`fds`]); [`tree`] also removes task directories of any depth.
//!
//! The quota is this shadow, not a kernel quota: project quotas (XFS, ext4 `prjquota`)
//! would need root, a file system mounted for them and a project id per task, which
//! neither developer machines nor CI (tmpfs, overlayfs) have. The shadow works on any
//! file system, refuses before the disk fills, and names the quota in the stop reason.

mod fds;
mod host;
mod paths;
mod quota;
mod stream;
#[cfg(test)]
mod tests;
mod tree;

pub use fds::{OpenFiles, StoreFiles};
pub use host::{QuotaFs, QuotaFsView, add_to_linker};
pub use paths::PathLimits;
pub use quota::{FsLimits, StorageQuota};
pub(crate) use tree::remove_tree;
