//! SIGINT/SIGTERM for the long-running commands: the first asks for a graceful stop, a
//! second one cuts it short. The listeners are installed once, up front, so a signal that
//! arrives between the two waits is never lost.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Exit code when a second signal cuts the graceful stop short (128 + SIGINT).
pub const EXIT_FORCED: u8 = 130;

pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers; must run inside the tokio runtime, before the work starts.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and names it.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
