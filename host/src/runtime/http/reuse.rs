//! Instance reuse, opt-in per container (dockerLabel `wasmgate.instance-reuse`): an HTTP
//! container's instance may serve several requests one after another, as `wasmtime serve`
//! does with `--max-instance-reuse-count`. That saves instantiation and the memory reset per
//! request, at an isolation cost: whatever one request leaves in the instance (globals, its
//! heap) the next request sees.
//!
//! An instance goes back to the container's idle list only after a request it served ended
//! well (a trap or any other failure drops it), and only until it has served its maximum. An
//! idle instance keeps its pool slot and its memory charged to the container; it is dropped
//! after [`IDLE_TIMEOUT`] without a request, or when the container ends.

use crate::runtime::engine::HttpSlot;
use crate::runtime::store::MeteredStore;
use crate::taskdef::FieldError;
use crate::util::sync;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use wasmtime_wasi_http::p2::bindings::Proxy;

/// The container label that turns reuse on.
pub const REUSE_LABEL: &str = "wasmgate.instance-reuse";

/// How long an instance waits idle for its next request before it is dropped (as
/// `wasmtime serve`'s default `--idle-instance-timeout`).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a container's label asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceReuse {
    /// A fresh instance per request (the default).
    #[default]
    None,
    /// Each instance serves at most this many requests, one after another
    /// (`sequential`: no maximum).
    Sequential { max_requests: u64 },
}

impl InstanceReuse {
    /// The label's value: `none`, `sequential` or a positive number of requests per
    /// instance (`1` is the same as `none`).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            v if v.eq_ignore_ascii_case("none") => Some(Self::None),
            v if v.eq_ignore_ascii_case("sequential") => Some(Self::Sequential {
                max_requests: u64::MAX,
            }),
            v => match v.parse::<u64>().ok()? {
                0 => None,
                1 => Some(Self::None),
                n => Some(Self::Sequential { max_requests: n }),
            },
        }
    }

    /// The label of container `i`, or the error naming the field and the rule.
    pub fn from_labels(
        i: usize,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, FieldError> {
        match labels.get(REUSE_LABEL) {
            None => Ok(Self::None),
            Some(v) => Self::parse(v).ok_or_else(|| {
                FieldError::new(
                    field(i),
                    format!(
                        "{v:?} must be \"none\", \"sequential\" or a positive integer \
                         (the maximum number of requests per instance)"
                    ),
                )
            }),
        }
    }

    pub fn is_on(self) -> bool {
        self != Self::None
    }
}

fn field(i: usize) -> String {
    format!("containerDefinitions[{i}].dockerLabels.{REUSE_LABEL}")
}

/// Why a task with the label on a command container cannot start.
pub(in crate::runtime) fn not_http_error(i: usize, name: &str) -> String {
    format!(
        "CannotStartContainerError: {}: container {name:?} is not a wasi:http proxy component \
         (it does not export wasi:http/incoming-handler); instance reuse applies only to \
         HTTP components",
        field(i)
    )
}

/// An instance between two requests.
pub(super) struct Idle {
    pub metered: MeteredStore,
    pub proxy: Proxy,
    /// Requests it has served.
    pub served: u64,
    /// Its place in the host's pool (kept: the instance still holds it).
    pub slot: HttpSlot,
    since: Instant,
}

/// A container's idle instances, most recently used last (it is taken first: its memory is
/// the warmest).
#[derive(Default)]
pub(super) struct IdleInstances {
    list: Mutex<Vec<Idle>>,
}

impl IdleInstances {
    pub(super) fn take(&self) -> Option<Idle> {
        sync::lock(&self.list).pop()
    }

    pub(super) fn put(&self, metered: MeteredStore, proxy: Proxy, served: u64, slot: HttpSlot) {
        sync::lock(&self.list).push(Idle {
            metered,
            proxy,
            served,
            slot,
            since: Instant::now(),
        });
    }

    /// Drops the instances idle for `IDLE_TIMEOUT` or more (outside the lock: dropping a
    /// store gives its memory back, which takes a while).
    pub(super) fn expire(&self, now: Instant) {
        let expired: Vec<Idle> = {
            let mut list = sync::lock(&self.list);
            let keep = list
                .iter()
                .position(|i| now.saturating_duration_since(i.since) < IDLE_TIMEOUT)
                .unwrap_or(list.len());
            list.drain(..keep).collect()
        };
        drop(expired);
    }

    /// Drops every idle instance.
    pub(super) fn clear(&self) {
        let all = std::mem::take(&mut *sync::lock(&self.list));
        drop(all);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        sync::lock(&self.list).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_values() {
        assert_eq!(InstanceReuse::parse("none"), Some(InstanceReuse::None));
        assert_eq!(InstanceReuse::parse(" None "), Some(InstanceReuse::None));
        assert_eq!(
            InstanceReuse::parse("sequential"),
            Some(InstanceReuse::Sequential {
                max_requests: u64::MAX
            })
        );
        assert_eq!(
            InstanceReuse::parse("3"),
            Some(InstanceReuse::Sequential { max_requests: 3 })
        );
        assert_eq!(InstanceReuse::parse("1"), Some(InstanceReuse::None));
        for bad in [
            "0",
            "-2",
            "",
            "concurrent",
            "1.5",
            "99999999999999999999999",
        ] {
            assert_eq!(InstanceReuse::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_label_names_the_field_and_the_rule() {
        let labels = [(REUSE_LABEL.to_owned(), "always".to_owned())].into();
        let e = InstanceReuse::from_labels(2, &labels).expect_err("refused");
        assert_eq!(
            e.path,
            "containerDefinitions[2].dockerLabels.wasmgate.instance-reuse"
        );
        assert!(e.rule.contains("positive integer"), "{}", e.rule);
        assert_eq!(
            InstanceReuse::from_labels(0, &Default::default()).expect("no label"),
            InstanceReuse::None
        );
    }

    #[test]
    fn an_empty_idle_list_expires_nothing() {
        let idle = IdleInstances::default();
        idle.expire(Instant::now());
        idle.clear();
        assert_eq!(idle.len(), 0);
        assert!(idle.take().is_none());
    }
}
