//! How `wasmgate logs` prints an event: `short` for people (the container's name in its
//! own colour when stdout is a terminal), `json` for programs (one object per line).

use super::Target;
use super::task::split_stream;
use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Short,
    Json,
}

/// What `short` puts before the message.
#[derive(Clone, Copy)]
enum Prefix {
    /// One stream: the message alone.
    None,
    /// A group: the stream's name.
    Stream,
    /// A task: the container's name, padded.
    Container,
}

pub struct Printer {
    format: Format,
    prefix: Prefix,
    colour: bool,
    width: usize,
}

/// One event to print.
pub struct Event<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    pub timestamp_ms: i64,
    pub message: &'a str,
}

impl Printer {
    pub fn new(format: Format, target: &Target) -> Self {
        let prefix = match target {
            Target::Stream { .. } => Prefix::None,
            Target::Group(_) => Prefix::Stream,
            Target::Task { .. } => Prefix::Container,
        };
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self {
            format,
            prefix,
            colour,
            width: 0,
        }
    }

    /// Pads container names to the longest seen so far, so messages line up.
    pub fn widen(&mut self, container: &str) {
        self.width = self.width.max(container.len());
    }

    pub fn print(&self, e: &Event) {
        let line = match self.format {
            Format::Json => json_line(e),
            Format::Short => self.short_line(e),
        };
        // A closed stdout (`| head`) ends the command through SIGPIPE, like other tools.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn short_line(&self, e: &Event) -> String {
        let container = split_stream(e.stream).map(|(c, _)| c);
        match self.prefix {
            Prefix::None => e.message.to_owned(),
            Prefix::Stream => {
                let name = self.paint(container.unwrap_or(e.stream), e.stream);
                format!("{name} {}", e.message)
            }
            Prefix::Container => {
                let c = container.unwrap_or(e.stream);
                let padded = format!("{c:<width$}", width = self.width);
                format!("{} | {}", self.paint(c, &padded), e.message)
            }
        }
    }

    /// `text` in the colour of `key` (a container's name) on a terminal; as is otherwise.
    fn paint(&self, key: &str, text: &str) -> String {
        if !self.colour {
            return text.to_owned();
        }
        // Six readable ANSI colours; the same name always gets the same one.
        const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let colour = COLOURS[(hash % COLOURS.len() as u64) as usize];
        format!("\x1b[{colour}m{text}\x1b[0m")
    }
}

fn json_line(e: &Event) -> String {
    let (container, task_id) = split_stream(e.stream).unzip();
    let time =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.timestamp_ms) * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
    serde_json::json!({
        "timestamp": e.timestamp_ms,
        "time": time,
        "logGroupName": e.group,
        "logStreamName": e.stream,
        "container": container,
        "taskId": task_id,
        "message": e.message,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(prefix: Prefix, colour: bool) -> Printer {
        Printer {
            format: Format::Short,
            prefix,
            colour,
            width: 8,
        }
    }

    const E: Event = Event {
        group: "/wasmgate/batch",
        stream: "batch/consumer/2d2b2083aa",
        timestamp_ms: 1_700_000_000_123,
        message: "sum = 5050",
    };

    #[test]
    fn short_lines() {
        assert_eq!(printer(Prefix::None, false).short_line(&E), "sum = 5050");
        assert_eq!(
            printer(Prefix::Stream, false).short_line(&E),
            "batch/consumer/2d2b2083aa sum = 5050"
        );
        assert_eq!(
            printer(Prefix::Container, false).short_line(&E),
            "consumer | sum = 5050"
        );
        let coloured = printer(Prefix::Container, true).short_line(&E);
        assert!(
            coloured.starts_with("\x1b[") && coloured.contains("consumer\x1b[0m | sum"),
            "{coloured:?}"
        );
    }

    #[test]
    fn json_lines() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&E)).unwrap();
        assert_eq!(v["container"], "consumer");
        assert_eq!(v["taskId"], "2d2b2083aa");
        assert_eq!(v["timestamp"], 1_700_000_000_123_i64);
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["message"], "sum = 5050");
    }
}
