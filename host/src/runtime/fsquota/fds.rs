//! The cap on files and directories a container's guest holds open.
//!
//! Every descriptor a guest opens is a host descriptor, and all tasks share the host's
//! limit: a guest opening files in a loop once took the whole process to EMFILE, after
//! which no task could start and the API could not accept. Each container gets a budget,
//! shared by all its stores (an HTTP container has one per request); a store gives back
//! what it held when it is dropped, however its guest ended.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A container's budget of open descriptors.
#[derive(Debug)]
pub struct OpenFiles {
    container: Arc<str>,
    limit: usize,
    open: AtomicUsize,
    warned: AtomicBool,
}

impl OpenFiles {
    pub fn new(container: Arc<str>, limit: usize) -> Arc<Self> {
        Arc::new(Self {
            container,
            limit,
            open: AtomicUsize::new(0),
            warned: AtomicBool::new(false),
        })
    }

    /// Descriptors the container's guests hold now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn try_take(&self) -> bool {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if !taken && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                container = %self.container,
                limit = self.limit,
                "container reached its limit of open files; further opens fail \
                 (storage.max_open_files)"
            );
        }
        taken
    }

    fn give_back(&self, n: usize) {
        // Never below zero, even if a bug gave back more than was taken.
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                Some(open.saturating_sub(n))
            });
    }
}

/// The descriptors one store holds against its container's budget, by resource id.
#[derive(Debug)]
pub struct StoreFiles {
    budget: Arc<OpenFiles>,
    held: HashSet<u32>,
}

impl StoreFiles {
    pub fn new(budget: Arc<OpenFiles>) -> Self {
        Self {
            budget,
            held: HashSet::new(),
        }
    }

    /// Takes one from the budget before an open; false if the container is at its limit.
    pub(crate) fn reserve(&self) -> bool {
        self.budget.try_take()
    }

    /// The open that [`StoreFiles::reserve`] was for failed.
    pub(crate) fn unreserve(&self) {
        self.budget.give_back(1);
    }

    /// The open succeeded as resource `rep`.
    pub(crate) fn opened(&mut self, rep: u32) {
        if !self.held.insert(rep) {
            // The table reused an id we still counted: the old one was already given back
            // by `closed`, so this cannot happen; keep the count right regardless.
            self.budget.give_back(1);
        }
    }

    /// Resource `rep` was dropped by the guest (a preopen or an uncounted one is ignored).
    pub(crate) fn closed(&mut self, rep: u32) {
        if self.held.remove(&rep) {
            self.budget.give_back(1);
        }
    }
}

impl Drop for StoreFiles {
    fn drop(&mut self) {
        self.budget.give_back(self.held.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_share_the_container_budget_and_return_it_when_dropped() {
        let budget = OpenFiles::new("c".into(), 3);
        let mut a = StoreFiles::new(budget.clone());
        let mut b = StoreFiles::new(budget.clone());
        for rep in [1, 2] {
            assert!(a.reserve());
            a.opened(rep);
        }
        assert!(b.reserve());
        b.opened(1);
        assert!(!a.reserve(), "a fourth descriptor");
        assert!(!b.reserve());
        assert_eq!(budget.open(), 3);
        a.closed(2);
        a.closed(7); // never counted
        assert_eq!(budget.open(), 2);
        assert!(b.reserve());
        b.unreserve();
        drop(a);
        assert_eq!(budget.open(), 1);
        drop(b);
        assert_eq!(budget.open(), 0);
    }
}
