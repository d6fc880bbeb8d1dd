//! One style for every line the host itself prints on stderr: `wasmgate: message`, with
//! `warning: ` or `error: ` before a warning or error, whether it comes from the CLI's own
//! `eprintln!` or from a `tracing` event deep in the library (no timestamps, no level
//! columns; a line is for a person reading a terminal or a service's journal).

use std::fmt;
use std::io::Write;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct HostLines;

/// Prints `wasmgate: <args>` and a newline on stderr in one write. `eprintln!` writes its
/// pieces one by one (stderr is unbuffered), so a container's output printed meanwhile by
/// another thread could land between "wasmgate: " and the message. Used through the
/// `host_line!` macro (cli/mod.rs).
pub fn line(args: fmt::Arguments<'_>) {
    let _ = write_line(&mut std::io::stderr().lock(), args);
}

fn write_line(out: &mut impl Write, args: fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut text = String::with_capacity(80);
    text.push_str("wasmgate: ");
    let _ = fmt::Write::write_fmt(&mut text, args);
    text.push('\n');
    out.write_all(text.as_bytes())
}

impl<S, N> FormatEvent<S, N> for HostLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG | Level::TRACE => "debug: ",
        };
        write!(writer, "wasmgate: {level}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the formatter: `default_filter` unless `WASMGATE_LOG` says otherwise.
pub fn install(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASMGATE_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(HostLines)
        .init();
}

#[cfg(test)]
mod tests {
    use super::write_line;

    /// Records each `write` call apart, as a pipe shared with another writer would see them.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl std::io::Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_host_line_is_one_write_so_container_output_cannot_split_it() {
        let mut out = Writes::default();
        let image = "localhost:5000/demo/echo:1.0";
        write_line(&mut out, format_args!("compiled {image} in {} ms", 18)).expect("write");
        assert_eq!(
            out.0,
            vec![b"wasmgate: compiled localhost:5000/demo/echo:1.0 in 18 ms\n".to_vec()]
        );
    }
}
