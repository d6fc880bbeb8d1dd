//! Descriptors guests make the host open: sockets (and the filesystem shadow's files) are
//! budgeted per container and for the whole process.
//!
//! The descriptor table is one per process (`RLIMIT_NOFILE`): a guest that opens sockets in
//! a loop would otherwise take it all, and then the API, the listeners and new tasks fail
//! to accept or start. So guests together may hold at most `100 - descriptor_reserve_percent`
//! percent of the limit ([`HostDescriptors`]), and each container at most its own cap
//! ([`DescriptorQuota`]); the rest is always the host's.

use crate::config::LimitsConfig;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the limit reads as when the kernel says "unlimited": Linux's default `nr_open`.
const UNLIMITED_AS: u64 = 1 << 20;

/// A `[limits]` value that makes no sense; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct LimitsError {
    pub field: &'static str,
    pub message: String,
}

/// The share of the process's descriptors all guests together may hold.
#[derive(Debug)]
pub struct HostDescriptors {
    /// The process's open-file limit the budget was derived from.
    limit: u64,
    budget: usize,
    used: AtomicUsize,
}

impl HostDescriptors {
    /// The budget for this process: its current soft `RLIMIT_NOFILE` (raised at start by
    /// the binary) less the reserved share.
    pub fn for_this_process(limits: &LimitsConfig) -> Result<Self, LimitsError> {
        Self::new(open_file_limit(), limits)
    }

    pub fn new(open_file_limit: u64, limits: &LimitsConfig) -> Result<Self, LimitsError> {
        let reserve = limits.descriptor_reserve_percent;
        if !(1..=99).contains(&reserve) {
            return Err(LimitsError {
                field: "limits.descriptor_reserve_percent",
                message: format!("{reserve} must be between 1 and 99"),
            });
        }
        let limit = open_file_limit.min(UNLIMITED_AS);
        let budget = limit * u64::from(100 - reserve) / 100;
        Ok(Self {
            limit,
            budget: usize::try_from(budget).unwrap_or(usize::MAX),
            used: AtomicUsize::new(0),
        })
    }

    /// The process's open-file limit the budget comes from.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How many descriptors guests may hold at once, all together.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// How many they hold now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn try_take(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.budget).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The container holds its cap already.
    Container {
        what: &'static str,
        key: &'static str,
        cap: usize,
    },
    /// All guests together hold the host's budget.
    Host { budget: usize, limit: u64 },
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::Container { what, key, cap } => {
                write!(f, "the container holds {cap} {what} already ({key})")
            }
            Exhausted::Host { budget, limit } => write!(
                f,
                "the host's guests hold {budget} descriptors already, all the open-file limit \
                 ({limit}) leaves them ([limits] descriptor_reserve_percent)"
            ),
        }
    }
}

/// One container's cap on one kind of descriptor, drawn from the host's budget too. Shared
/// by every store of the container (an HTTP container has one per request).
#[derive(Debug)]
pub struct DescriptorQuota {
    /// Plural noun for messages: `sockets`, `open files`.
    what: &'static str,
    /// The config key of the cap, for messages: `limits.max_sockets_per_container`.
    key: &'static str,
    cap: usize,
    used: AtomicUsize,
    host: Arc<HostDescriptors>,
}

impl DescriptorQuota {
    pub fn new(
        what: &'static str,
        key: &'static str,
        cap: usize,
        host: Arc<HostDescriptors>,
    ) -> Arc<Self> {
        Arc::new(Self {
            what,
            key,
            cap,
            used: AtomicUsize::new(0),
            host,
        })
    }

    /// One more descriptor for the container, if both its cap and the host's budget allow;
    /// given back when the returned [`Descriptor`] is dropped.
    pub fn try_take(self: &Arc<Self>) -> Result<Descriptor, Exhausted> {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(Exhausted::Container {
                what: self.what,
                key: self.key,
                cap: self.cap,
            });
        }
        if !self.host.try_take() {
            self.used.fetch_sub(1, Ordering::AcqRel);
            return Err(Exhausted::Host {
                budget: self.host.budget,
                limit: self.host.limit,
            });
        }
        Ok(Descriptor {
            quota: self.clone(),
        })
    }

    /// How many the container holds now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// A descriptor a guest holds, counted against its container and the host.
#[derive(Debug)]
pub struct Descriptor {
    quota: Arc<DescriptorQuota>,
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        self.quota.used.fetch_sub(1, Ordering::AcqRel);
        self.quota.host.give_back();
    }
}

/// The soft `RLIMIT_NOFILE` of this process; [`UNLIMITED_AS`] if unlimited, and a
/// conservative 1,024 if it cannot be read.
pub fn open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a plain syscall filling a valid, owned struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        UNLIMITED_AS
    } else {
        lim.rlim_cur
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (capped at what the kernel allows one
/// process, `fs.nr_open`): the common soft limit of 1,024 would cap a host at a few hundred
/// tasks. Returns the limit in force afterwards.
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let mut want = lim.rlim_max;
            if want == libc::RLIM_INFINITY {
                want = nr_open().unwrap_or(UNLIMITED_AS);
            }
            let raised = libc::rlimit {
                rlim_cur: want.max(lim.rlim_cur),
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                tracing::debug!("cannot raise the open file limit");
            }
        }
    }
    open_file_limit()
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(reserve: u8) -> LimitsConfig {
        LimitsConfig {
            descriptor_reserve_percent: reserve,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn the_reserve_is_kept_from_guests() {
        let host = HostDescriptors::new(1000, &limits(25)).unwrap();
        assert_eq!(host.budget(), 750);
        let host = HostDescriptors::new(u64::MAX, &limits(20)).unwrap();
        assert_eq!(host.limit(), UNLIMITED_AS);
        for bad in [0, 100, 200] {
            let e = HostDescriptors::new(1000, &limits(bad)).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("limits.descriptor_reserve_percent:"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_container_stops_at_its_cap_and_gets_back_what_it_drops() {
        let host = Arc::new(HostDescriptors::new(1000, &limits(50)).unwrap());
        let q = DescriptorQuota::new(
            "sockets",
            "limits.max_sockets_per_container",
            3,
            host.clone(),
        );
        let held: Vec<_> = (0..3).map(|_| q.try_take().unwrap()).collect();
        assert_eq!(
            q.try_take().unwrap_err(),
            Exhausted::Container {
                what: "sockets",
                key: "limits.max_sockets_per_container",
                cap: 3
            }
        );
        assert_eq!((q.in_use(), host.in_use()), (3, 3));
        drop(held);
        assert_eq!((q.in_use(), host.in_use()), (0, 0));
        assert!(q.try_take().is_ok());
    }

    #[test]
    fn containers_together_stop_at_the_hosts_budget() {
        let host = Arc::new(HostDescriptors::new(10, &limits(50)).unwrap());
        let a = DescriptorQuota::new("sockets", "a", 100, host.clone());
        let b = DescriptorQuota::new("open files", "b", 100, host.clone());
        let mut held: Vec<_> = (0..3).map(|_| a.try_take().unwrap()).collect();
        held.extend((0..2).map(|_| b.try_take().unwrap()));
        let refused = a.try_take().unwrap_err();
        assert_eq!(
            refused,
            Exhausted::Host {
                budget: 5,
                limit: 10
            }
        );
        assert!(refused.to_string().contains("descriptor_reserve_percent"));
        assert_eq!(a.in_use(), 3, "a refusal takes nothing");
        held.pop();
        assert!(a.try_take().is_ok(), "one came back");
    }
}
