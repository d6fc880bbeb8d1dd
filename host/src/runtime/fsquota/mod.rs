//! Per-task ephemeral-storage quota, enforced on every guest write as it happens.
//!
//! Fargate gives a task `ephemeralStorage.sizeInGiB` across all of its containers' scratch
//! roots and shared volumes. A periodic `du` could only notice after the host's disk is
//! already full, so this module shadows `wasi:filesystem/types` (see [`add_to_linker`]) and
//! reserves space in a task-wide [`StorageQuota`] before each write, directory or file
//! creation, or file growth reaches the disk. Charges are pessimistic (overwrites and
//! deletions are not credited); when a write would not fit, the quota re-measures the real
//! usage of the task directory first and refuses only if it still does not fit.

mod host;
mod quota;
mod stream;
#[cfg(test)]
mod tests;

pub use host::{QuotaFs, QuotaFsView, add_to_linker};
pub use quota::StorageQuota;
