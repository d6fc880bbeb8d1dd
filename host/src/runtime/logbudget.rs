//! The task's log byte budget: how much output all its containers together may log over the
//! task's life (`[logs] task_budget_mib`). Past it, lines are dropped where they are made
//! (they never reach the shipper, the console or the store) and counted; the first drop
//! tells the task's watchers once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::LOG_LINE_OVERHEAD;
use crate::logs::human_bytes;

/// Called once, with a message for the task's watchers, when the budget runs out.
pub type OnExhausted = Box<dyn Fn(String) + Send + Sync>;

pub struct TaskLogBudget {
    limit: u64,
    used: AtomicU64,
    exhausted: AtomicBool,
    dropped_lines: AtomicU64,
    dropped_bytes: AtomicU64,
    on_exhausted: OnExhausted,
}

impl std::fmt::Debug for TaskLogBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLogBudget")
            .field("limit", &self.limit)
            .field("used", &self.used)
            .field("dropped_lines", &self.dropped_lines)
            .finish_non_exhaustive()
    }
}

impl TaskLogBudget {
    pub fn new(limit_bytes: u64, on_exhausted: OnExhausted) -> Self {
        Self {
            limit: limit_bytes,
            used: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            dropped_lines: AtomicU64::new(0),
            dropped_bytes: AtomicU64::new(0),
            on_exhausted,
        }
    }

    /// Charges a line of `len` message bytes; false (and counted as dropped) once the
    /// budget is spent. After the first refusal every line is refused, so a task's log
    /// ends cleanly at one point instead of keeping the short lines of a flood.
    pub fn admit(&self, len: usize) -> bool {
        let cost = (len as u64).saturating_add(LOG_LINE_OVERHEAD);
        if !self.exhausted.load(Ordering::Acquire) {
            let charged = self
                .used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    used.checked_add(cost).filter(|&n| n <= self.limit)
                });
            if charged.is_ok() {
                return true;
            }
            if !self.exhausted.swap(true, Ordering::AcqRel) {
                (self.on_exhausted)(format!(
                    "the task used up its log budget of {} ([logs] task_budget_mib): its \
                     further output is dropped and counted (logLinesDropped)",
                    human_bytes(self.limit)
                ));
            }
        }
        self.dropped(len);
        false
    }

    /// Counts a line lost on its way (admitted, then nowhere to go).
    pub fn dropped(&self, len: usize) {
        self.dropped_lines.fetch_add(1, Ordering::Relaxed);
        self.dropped_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Lines and message bytes dropped so far.
    pub fn dropped_totals(&self) -> (u64, u64) {
        (
            self.dropped_lines.load(Ordering::Relaxed),
            self.dropped_bytes.load(Ordering::Relaxed),
        )
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn admits_until_spent_then_drops_and_tells_once() {
        let told = Arc::new(Mutex::new(Vec::new()));
        let t = told.clone();
        let budget = TaskLogBudget::new(
            3 * (10 + LOG_LINE_OVERHEAD),
            Box::new(move |m| t.lock().unwrap().push(m)),
        );
        assert!(budget.admit(10));
        assert!(budget.admit(10));
        assert!(budget.admit(10));
        assert!(!budget.admit(10));
        // Even a line that would still fit is dropped once the budget ran out.
        assert!(!budget.admit(0));
        assert_eq!(budget.dropped_totals(), (2, 10));
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("log budget of 330 bytes"), "{}", told[0]);
    }
}
