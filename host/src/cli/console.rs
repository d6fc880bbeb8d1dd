//! `docker compose up`-style console output: each line prefixed by its container's name.

use std::io::Write;
use wasmgate::runtime::{Console, LogLine, StdStream};

pub struct PrefixedConsole {
    /// Width the names are padded to, so output lines up.
    pub width: usize,
    /// Container output on stderr, when stdout carries `--json`.
    pub to_stderr: bool,
}

impl Console for PrefixedConsole {
    fn line(&self, _task_id: &str, line: &LogLine) {
        let mut out: Box<dyn Write> = if self.to_stderr {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        let mark = match line.stream {
            StdStream::Stdout => "|",
            StdStream::Stderr => "!",
        };
        // A closed stdout (e.g. `| head`) must not kill the task; the lines still reach the store.
        let _ = writeln!(
            out,
            "{:<width$} {mark} {}",
            line.container,
            line.message,
            width = self.width
        );
    }
}
