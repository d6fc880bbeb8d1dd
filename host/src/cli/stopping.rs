//! What the first Ctrl-C (SIGINT/SIGTERM) of `wasmgate run` says: which containers are
//! being stopped, how long their `stopTimeout` lets them take, how to cut it short; and,
//! on a terminal, a countdown while they finish.

use std::io::IsTerminal;
use std::time::Duration;
use wasmgate::runtime::{ContainerStatus, DEFAULT_STOP_TIMEOUT, TaskSnapshot};
use wasmgate::taskdef::TaskDefinition;

/// The containers still running and the longest time any of them may take.
pub struct Stopping {
    pub containers: Vec<(String, Duration)>,
}

impl Stopping {
    /// `override_timeout` is `--stop-timeout`, which replaces every container's.
    pub fn of(
        snapshot: &TaskSnapshot,
        def: &TaskDefinition,
        override_timeout: Option<Duration>,
    ) -> Self {
        let containers = snapshot
            .containers
            .iter()
            .filter(|c| c.last_status == ContainerStatus::Running)
            .map(|c| {
                let own = def
                    .container_definitions
                    .iter()
                    .find(|d| d.name == c.name)
                    .and_then(|d| d.stop_timeout)
                    .map(|s| Duration::from_secs(s.into()));
                let t = override_timeout.or(own).unwrap_or(DEFAULT_STOP_TIMEOUT);
                (c.name.clone(), t)
            })
            .collect();
        Self { containers }
    }

    pub fn longest(&self) -> Duration {
        self.containers
            .iter()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or_default()
    }

    /// `stopping containers app (stopTimeout 30 s), db (stopTimeout 5 s); press Ctrl-C
    /// again to stop now`.
    pub fn message(&self) -> String {
        if self.containers.is_empty() {
            return "no container is running; press Ctrl-C again to stop now".to_owned();
        }
        let list: Vec<String> = self
            .containers
            .iter()
            .map(|(name, t)| format!("{name} (stopTimeout {})", seconds(*t)))
            .collect();
        let noun = if list.len() == 1 {
            "container"
        } else {
            "containers"
        };
        format!(
            "stopping {noun} {}: each may finish on its own until its stopTimeout, then it \
             is stopped; press Ctrl-C again to stop now",
            list.join(", ")
        )
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// On a terminal, a line counting down to the stop timeout until dropped; nothing
/// otherwise (a pipe or a journal gets the one line above).
pub fn countdown(longest: Duration) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() || longest.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        // Cleared also when the wait ends early and this task is aborted.
        let bar =
            indicatif::ProgressBar::new_spinner().with_finish(indicatif::ProgressFinish::AndClear);
        if let Ok(style) = indicatif::ProgressStyle::with_template("wasmgate: {msg}") {
            bar.set_style(style);
        }
        let end = tokio::time::Instant::now() + longest;
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            bar.set_message(format!(
                "waiting for the containers to exit: {} s left (Ctrl-C to stop now)",
                left.as_secs()
            ));
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        }
        bar.finish_and_clear();
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_containers_and_timeouts() {
        let s = Stopping {
            containers: vec![
                ("app".into(), Duration::from_secs(30)),
                ("db".into(), Duration::from_millis(500)),
            ],
        };
        assert_eq!(
            s.message(),
            "stopping containers app (stopTimeout 30 s), db (stopTimeout 0.5 s): each may \
             finish on its own until its stopTimeout, then it is stopped; press Ctrl-C again \
             to stop now"
        );
        assert_eq!(s.longest(), Duration::from_secs(30));
        let one = Stopping {
            containers: vec![("app".into(), Duration::from_secs(2))],
        };
        assert!(
            one.message()
                .starts_with("stopping container app (stopTimeout 2 s):")
        );
    }
}
