//! Reading events: one stream in order, a group's streams interleaved by time, or a task's
//! streams in every group; with `--follow`, polling for more and waiting for what does not
//! exist yet (as `aws logs tail --follow` does).

use super::print::{Event, Printer};
use super::task;
use super::{ReadOptions, Target};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use wasmgate::logs::{FilterEvents, GetEvents, LogError, LogStore};

pub const POLL: Duration = Duration::from_millis(250);
/// How often `--task --follow` looks again for streams (containers that started later).
const REDISCOVER: Duration = Duration::from_secs(1);

pub fn read(
    store: &LogStore,
    target: &Target,
    opts: &ReadOptions,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match target {
        Target::Stream { group, stream } => read_stream(store, group, stream, opts, printer),
        Target::Group(group) => read_group(store, group, opts, printer),
        Target::Task { id, container } => read_task(store, id, container.as_deref(), opts, printer),
    }
}

/// Says once on stderr what `--follow` is waiting for.
#[derive(Default)]
struct Waiting(bool);

impl Waiting {
    fn wait(&mut self, what: &str) {
        if !self.0 {
            host_line!("waiting for {what}");
            self.0 = true;
        }
        std::thread::sleep(POLL);
    }
}

fn read_stream(
    store: &LogStore,
    group: &str,
    stream: &str,
    opts: &ReadOptions,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut waiting = Waiting::default();
    let stream = loop {
        match resolve_stream(store, group, stream)? {
            Ok(s) => break s,
            Err(missing) if opts.follow => waiting.wait(&missing),
            Err(missing) => anyhow::bail!(
                "{missing} (a stream is named prefix/container/task-id; `wasmgate logs --task \
                 <id>` finds a task's streams)"
            ),
        }
    };
    let mut token = None;
    loop {
        let page = store.get_events(&GetEvents {
            group: group.to_owned(),
            stream: stream.clone(),
            start_time_ms: opts.start_ms,
            start_from_head: true,
            next_token: token.clone(),
            ..Default::default()
        })?;
        for e in &page.events {
            printer.print(&Event {
                group,
                stream: &stream,
                timestamp_ms: e.timestamp_ms,
                message: &e.message,
            });
        }
        let at_end = token.as_deref() == Some(page.next_forward_token.as_str());
        token = Some(page.next_forward_token);
        if at_end || page.events.is_empty() {
            if !opts.follow {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }
}

/// The stream named `stream`, or the one stream whose name starts with it (a task id
/// shortened as people copy it); Err(what is missing) if there is none yet.
fn resolve_stream(
    store: &LogStore,
    group: &str,
    stream: &str,
) -> anyhow::Result<Result<String, String>> {
    let page = match store.describe_streams(group, Some(stream), false, false, 50, None) {
        Ok(p) => p,
        Err(LogError::GroupNotFound(_)) => {
            return Ok(Err(format!("log group {group} (it does not exist yet)")));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(exact) = page.streams.iter().find(|s| s.name == stream) {
        return Ok(Ok(exact.name.clone()));
    }
    match page.streams.as_slice() {
        [] => Ok(Err(format!(
            "log stream {stream} in log group {group} (it does not exist yet)"
        ))),
        [one] => Ok(Ok(one.name.clone())),
        many => {
            let names: Vec<&str> = many.iter().map(|s| s.name.as_str()).collect();
            anyhow::bail!(
                "--stream {stream}: matches {} streams of {group} ({}); give more of the name",
                names.len(),
                names.join(", ")
            )
        }
    }
}

fn read_group(
    store: &LogStore,
    group: &str,
    opts: &ReadOptions,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut waiting = Waiting::default();
    while !store.group_exists(group)? {
        if !opts.follow {
            return Err(LogError::GroupNotFound(group.to_owned()).into());
        }
        waiting.wait(&format!("log group {group} (it does not exist yet)"));
    }
    let mut cursor = Cursor::new(opts.start_ms);
    loop {
        let printed = cursor.poll(store, group, None, printer)?;
        if !opts.follow {
            return Ok(());
        }
        if !printed {
            std::thread::sleep(POLL);
        }
    }
}

fn read_task(
    store: &LogStore,
    prefix: &str,
    container: Option<&str>,
    opts: &ReadOptions,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let mut id = prefix.to_owned();
    let mut waiting = Waiting::default();
    let mut cursors: HashMap<String, Cursor> = HashMap::new();
    let mut found = task::Found::default();
    let mut looked: Option<Instant> = None;
    loop {
        if looked.is_none_or(|t| t.elapsed() >= REDISCOVER) {
            found = task::find(store, &id, container)?;
            looked = Some(Instant::now());
            // Once known, the full id: a later task sharing the prefix is not this one.
            if let Some(full) = &found.task_id {
                id.clone_from(full);
            }
        }
        if found.streams.is_empty() {
            let missing = match (&found.task_id, container) {
                (Some(t), Some(c)) => format!("logs of container {c} of task {t}"),
                _ => format!("logs of task {id}"),
            };
            if !opts.follow {
                anyhow::bail!(
                    "no {missing} in the log store (only containers with the awslogs log \
                     driver are stored; `--follow` waits for a task that has not logged yet)"
                );
            }
            waiting.wait(&missing);
            continue;
        }
        for s in found.streams.values().flatten() {
            printer.widen(&s.container);
        }
        let mut printed = false;
        for (group, streams) in &found.streams {
            let names = streams.iter().map(|s| s.stream.clone()).collect();
            let cursor = cursors
                .entry(group.clone())
                .or_insert_with(|| Cursor::new(opts.start_ms));
            printed |= cursor.poll(store, group, Some(names), printer)?;
        }
        if !opts.follow {
            return Ok(());
        }
        if !printed {
            std::thread::sleep(POLL);
        }
    }
}

/// Where a group's reading got to: the last timestamp printed and the events printed at
/// it (FilterLogEvents has no forward token; a later event may share the timestamp).
struct Cursor {
    since: Option<i64>,
    seen_at_since: HashSet<String>,
}

impl Cursor {
    fn new(start_ms: Option<i64>) -> Self {
        Self {
            since: start_ms,
            seen_at_since: HashSet::new(),
        }
    }

    /// Prints the group's events not printed yet (of `streams` only, if given); true if any.
    fn poll(
        &mut self,
        store: &LogStore,
        group: &str,
        streams: Option<Vec<String>>,
        printer: &Printer,
    ) -> Result<bool, LogError> {
        let mut token = None;
        let mut printed = false;
        loop {
            let page = store.filter_events(&FilterEvents {
                group: group.to_owned(),
                stream_names: streams.clone(),
                start_time_ms: self.since,
                next_token: token,
                ..Default::default()
            })?;
            for e in page.events {
                if Some(e.timestamp_ms) == self.since && self.seen_at_since.contains(&e.event_id) {
                    continue;
                }
                if Some(e.timestamp_ms) != self.since {
                    self.since = Some(e.timestamp_ms);
                    self.seen_at_since.clear();
                }
                printer.print(&Event {
                    group,
                    stream: &e.log_stream_name,
                    timestamp_ms: e.timestamp_ms,
                    message: &e.message,
                });
                self.seen_at_since.insert(e.event_id);
                printed = true;
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(printed);
            }
        }
    }
}
