//! RunTask idempotency: botocore sends a fresh `clientToken` with every RunTask and the
//! same one again when it retries (a timeout, a dropped connection). A retry must not start
//! the tasks a second time: it gets the tasks the first attempt started.

use super::error::{ControlError, Result};
use crate::util::sync::lock;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the first successful RunTask with a token answered.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub task_ids: Vec<String>,
    pub failures: Vec<Value>,
}

type Cell = Arc<tokio::sync::OnceCell<RunOutcome>>;

struct Entry {
    /// The request without its token: a token reused for another request is refused.
    fingerprint: String,
    cell: Cell,
    at: Instant,
}

#[derive(Default)]
pub struct RunTokens {
    entries: Mutex<HashMap<String, Entry>>,
}

impl RunTokens {
    /// Runs `start` once per token: concurrent and later calls with the same token and
    /// request get the first call's outcome. A failed `start` leaves no trace.
    pub async fn once<F, Fut>(
        &self,
        token: &str,
        fingerprint: String,
        start: F,
    ) -> Result<RunOutcome>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<RunOutcome>>,
    {
        let cell = {
            let mut entries = lock(&self.entries);
            match entries.get(token) {
                Some(e) if e.fingerprint != fingerprint => {
                    return Err(ControlError::invalid(
                        "clientToken: was already used for a different RunTask request",
                    ));
                }
                Some(e) => e.cell.clone(),
                None => {
                    let cell = Cell::default();
                    entries.insert(
                        token.to_owned(),
                        Entry {
                            fingerprint,
                            cell: cell.clone(),
                            at: Instant::now(),
                        },
                    );
                    cell
                }
            }
        };
        let outcome = cell.get_or_try_init(start).await.cloned();
        if outcome.is_err() {
            let mut entries = lock(&self.entries);
            if entries
                .get(token)
                .is_some_and(|e| Arc::ptr_eq(&e.cell, &cell) && !cell.initialized())
            {
                entries.remove(token);
            }
        }
        outcome
    }

    /// Forgets tokens older than `age`.
    pub fn expire(&self, age: Duration) {
        let mut entries = lock(&self.entries);
        entries.retain(|_, e| e.at.elapsed() < age);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str) -> RunOutcome {
        RunOutcome {
            task_ids: vec![id.to_owned()],
            failures: vec![],
        }
    }

    #[tokio::test]
    async fn a_token_runs_once() {
        let tokens = RunTokens::default();
        let first = tokens
            .once("t", "req".into(), || async { Ok(outcome("a")) })
            .await;
        let again = tokens
            .once("t", "req".into(), || async { Ok(outcome("b")) })
            .await;
        assert_eq!(first.map(|o| o.task_ids).ok(), Some(vec!["a".to_owned()]));
        assert_eq!(again.map(|o| o.task_ids).ok(), Some(vec!["a".to_owned()]));
        let other = tokens
            .once("t", "other".into(), || async { Ok(outcome("c")) })
            .await;
        assert!(other.is_err());
    }

    #[tokio::test]
    async fn a_failure_leaves_no_trace() {
        let tokens = RunTokens::default();
        let failed = tokens
            .once("t", "req".into(), || async {
                Err(ControlError::client("no"))
            })
            .await;
        assert!(failed.is_err());
        let other = tokens
            .once("t", "other".into(), || async { Ok(outcome("c")) })
            .await;
        assert_eq!(other.map(|o| o.task_ids).ok(), Some(vec!["c".to_owned()]));
        tokens.expire(Duration::ZERO);
        assert!(tokens.entries.lock().map(|e| e.is_empty()).unwrap_or(false));
    }
}
