//! One style for every line the host itself prints on stderr: `wasmgate: message`, with
//! `warning: ` or `error: ` before a warning or error, whether it comes from the CLI's own
//! `eprintln!` or from a `tracing` event deep in the library (no timestamps, no level
//! columns; a line is for a person reading a terminal or a service's journal).

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct HostLines;

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
