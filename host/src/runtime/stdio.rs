//! Guest stdout/stderr: split into timestamped lines and handed to the task's log shipper.
//!
//! Output is bounded three ways:
//! - **Backpressure**: each stream may have only [`OUTPUT_BUDGET_BYTES`] of lines (counted
//!   with their per-line memory) in flight to the shipper; beyond that `check-write` reports
//!   zero and the guest's write blocks (asynchronously) until the shipper catches up.
//! - **The write permit**: `check-write` grants at most [`MAX_PERMIT`] bytes, and a `write`
//!   beyond what was granted traps the guest, as wasmtime's own streams do, instead of
//!   queueing whatever one host call hands over.
//! - **The task's log budget** ([`TaskLogBudget`]): past it, lines are dropped and counted.
//!
//! Lines are cut from the bytes in one pass (each byte looked at once, a line longer than
//! [`MAX_LINE_BYTES`] cut into events), so one host call costs time linear in its size.

use super::logbudget::TaskLogBudget;
use crate::util::sync::lock;
use crate::util::time::now_ms;
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Bytes of output (with per-line overhead) one stream may have queued for the shipper.
pub const OUTPUT_BUDGET_BYTES: usize = 256 * 1024;
/// Most bytes one `check-write` grants (wasmtime's own streams grant about as much), so
/// `write-zeroes` and a single write stay small host allocations.
pub const MAX_PERMIT: usize = 64 * 1024;
/// Longer lines are split, as CloudWatch caps an event's size.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// What a queued line costs in memory beyond its message (the line, its message's
/// allocation, its channel slot), charged to the stream's budget so a flood of empty lines
/// is bounded as tightly as one of long lines.
const LINE_MEMORY_OVERHEAD: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    Stdout,
    Stderr,
}

impl StdStream {
    pub fn as_str(self) -> &'static str {
        match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        }
    }
}

/// One line of guest output.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub container: Arc<str>,
    pub stream: StdStream,
    pub timestamp_ms: i64,
    pub message: String,
}

/// A line on its way to the shipper, holding its share of the stream's budget.
#[derive(Debug)]
pub struct QueuedLine {
    pub line: LogLine,
    budget: Arc<OutputBudget>,
    cost: usize,
}

impl QueuedLine {
    /// Returns the line's bytes to its stream's budget, unblocking a waiting writer.
    pub fn shipped(self) -> LogLine {
        self.budget.release(self.cost);
        self.line
    }
}

/// The channel from a task's containers to its shipper. Its capacity covers every line the
/// streams' budgets let be in flight at once, so a full channel means something overdrew;
/// such a line is dropped and counted rather than queued without bound.
pub fn line_channel(containers: usize) -> (mpsc::Sender<QueuedLine>, mpsc::Receiver<QueuedLine>) {
    let per_stream = OUTPUT_BUDGET_BYTES / LINE_MEMORY_OVERHEAD + 16;
    mpsc::channel(containers.max(1) * 2 * per_stream * 2)
}

/// Where a task's containers send their lines: the shipper's channel and the task's budget.
#[derive(Debug, Clone)]
pub struct OutputSink {
    pub tx: mpsc::Sender<QueuedLine>,
    pub task_budget: Arc<TaskLogBudget>,
}

#[derive(Debug)]
struct OutputBudget {
    in_flight: AtomicUsize,
    notify: Notify,
}

impl OutputBudget {
    fn available(&self) -> usize {
        OUTPUT_BUDGET_BYTES.saturating_sub(self.in_flight.load(Ordering::Acquire))
    }

    fn charge(&self, n: usize) {
        self.in_flight.fetch_add(n, Ordering::AcqRel);
    }

    fn release(&self, n: usize) {
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    async fn wait_available(&self) {
        loop {
            let notified = self.notify.notified();
            if self.available() > 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A write larger than `check-write` allowed: the guest broke the wasi:io contract.
#[derive(Debug, thiserror::Error)]
#[error(
    "OutputPermitExceeded: container wrote {wrote} bytes to its {stream} in one \
     output-stream.write, but check-write permitted only {permitted}"
)]
pub struct OutputPermitExceeded {
    pub stream: &'static str,
    pub wrote: usize,
    pub permitted: usize,
}

/// The stdout or stderr of one container. Clones share one line buffer, because a guest may
/// open its stdout several times and a line can span writes through different handles; each
/// handle keeps its own write permit, as each wasi:io output-stream has its own.
#[derive(Debug, Clone)]
pub struct GuestOutput {
    container: Arc<str>,
    stream: StdStream,
    partial: Arc<Mutex<Vec<u8>>>,
    sink: OutputSink,
    budget: Arc<OutputBudget>,
    /// Bytes the last `check-write` of this handle granted and not yet written.
    permit: usize,
}

impl GuestOutput {
    pub fn new(container: Arc<str>, stream: StdStream, sink: OutputSink) -> Self {
        Self {
            container,
            stream,
            partial: Arc::default(),
            sink,
            budget: Arc::new(OutputBudget {
                in_flight: AtomicUsize::new(0),
                notify: Notify::new(),
            }),
            permit: 0,
        }
    }

    /// Ships a final line that had no newline; called once the container has exited.
    pub fn finish(&self) {
        let rest = std::mem::take(&mut *self.lock_partial());
        if !rest.is_empty() {
            self.send(&rest);
        }
    }

    /// Ships one whole line written by the host on the container's behalf (e.g. why an HTTP
    /// request failed), without touching a partial line the guest is writing. It cannot
    /// wait for room, so with none it is dropped and counted.
    pub fn host_line(&self, message: &str) {
        if self.budget.available() == 0 {
            self.sink.task_budget.dropped(message.len());
            return;
        }
        for piece in message.as_bytes().chunks(MAX_LINE_BYTES) {
            self.send(piece);
        }
    }

    /// What `check-write` grants now.
    fn grant(&self) -> usize {
        self.budget.available().min(MAX_PERMIT)
    }

    fn lock_partial(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A poisoned buffer only means a writer panicked mid-append; the bytes are still valid.
        lock(&self.partial)
    }

    /// Cuts `bytes` into lines in one pass. `partial` (the line being written) stays
    /// shorter than [`MAX_LINE_BYTES`]: a line reaching that length is shipped as an event.
    fn push(&self, mut bytes: &[u8]) {
        let mut partial = self.lock_partial();
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - partial.len();
            // One byte past the room: a newline right at the limit still ends this line.
            let window = &bytes[..bytes.len().min(room + 1)];
            if let Some(pos) = window.iter().position(|&b| b == b'\n') {
                if partial.is_empty() {
                    self.send(strip_cr(&bytes[..pos]));
                } else {
                    partial.extend_from_slice(&bytes[..pos]);
                    self.send(strip_cr(&partial));
                    partial.clear();
                }
                bytes = &bytes[pos + 1..];
            } else {
                let take = window.len().min(room);
                partial.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if partial.len() >= MAX_LINE_BYTES {
                    // Cut before a character split by the limit; its bytes start the next event.
                    let cut = utf8_cut(&partial);
                    self.send(&partial[..cut]);
                    partial.drain(..cut);
                }
            }
        }
    }

    fn send(&self, line: &[u8]) {
        let task_budget = &self.sink.task_budget;
        if !task_budget.admit(line.len()) {
            return;
        }
        let message = String::from_utf8_lossy(line).into_owned();
        let cost = message.len() + LINE_MEMORY_OVERHEAD;
        self.budget.charge(cost);
        let queued = QueuedLine {
            line: LogLine {
                container: self.container.clone(),
                stream: self.stream,
                timestamp_ms: now_ms(),
                message,
            },
            budget: self.budget.clone(),
            cost,
        };
        match self.sink.tx.try_send(queued) {
            Ok(()) => {}
            Err(TrySendError::Full(q)) => {
                task_budget.dropped(q.shipped().message.len());
            }
            // The shipper outlives every container of its task; if it is gone the task is
            // being torn down and the line has nowhere to go.
            Err(TrySendError::Closed(q)) => {
                q.shipped();
            }
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where to cut `buf` so no UTF-8 character is split: before an incomplete trailing
/// sequence, else at its end.
fn utf8_cut(buf: &[u8]) -> usize {
    let end = buf.len();
    for back in 1..=end.min(3) {
        let b = buf[end - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let len = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if len > back { end - back } else { end };
    }
    end
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(GuestOutput {
            permit: 0,
            ..self.clone()
        })
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(AsyncGuestOutput {
            out: self.clone(),
            waiting: None,
        })
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    /// Refuses (traps) a write beyond the permit. The permit is what this handle's last
    /// `check-write` granted, or what one would grant now if that is more (so a guest that
    /// writes small amounts without asking first, as some libcs do, still works).
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let permitted = self.permit.max(self.grant());
        if bytes.len() > permitted {
            return Err(StreamError::Trap(wasmtime::Error::new(
                OutputPermitExceeded {
                    stream: self.stream.as_str(),
                    wrote: bytes.len(),
                    permitted,
                },
            )));
        }
        self.permit = self.permit.saturating_sub(bytes.len());
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if self.sink.tx.is_closed() {
            return Err(StreamError::Closed);
        }
        self.permit = self.grant();
        Ok(self.permit)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {
        self.budget.wait_available().await;
    }
}

/// The same sink as `AsyncWrite`, for WASIp3 guests.
struct AsyncGuestOutput {
    out: GuestOutput,
    waiting: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
}

impl AsyncWrite for AsyncGuestOutput {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(wait) = self.waiting.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.waiting = None;
            }
            let room = self.out.grant();
            if room > 0 {
                let n = room.min(buf.len());
                self.out.push(&buf[..n]);
                return Poll::Ready(Ok(n));
            }
            let budget = self.out.budget.clone();
            self.waiting = Some(Box::pin(async move { budget.wait_available().await }));
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output_with_budget(
        task_budget: u64,
    ) -> (GuestOutput, mpsc::Receiver<QueuedLine>, Arc<TaskLogBudget>) {
        let (tx, rx) = line_channel(1);
        let task_budget = Arc::new(TaskLogBudget::new(task_budget, Box::new(|_| {})));
        let sink = OutputSink {
            tx,
            task_budget: task_budget.clone(),
        };
        (
            GuestOutput::new("web".into(), StdStream::Stdout, sink),
            rx,
            task_budget,
        )
    }

    fn output() -> (GuestOutput, mpsc::Receiver<QueuedLine>) {
        let (out, rx, _) = output_with_budget(u64::MAX);
        (out, rx)
    }

    fn drain(rx: &mut mpsc::Receiver<QueuedLine>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|q| q.shipped().message)
            .collect()
    }

    /// Writes as a well-behaved guest does: ask, then write what was granted.
    fn write_all(out: &mut GuestOutput, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = out.check_write().unwrap().min(bytes.len());
            assert!(n > 0, "no room: ship lines first");
            out.write(Bytes::copy_from_slice(&bytes[..n])).unwrap();
            bytes = &bytes[n..];
        }
    }

    #[test]
    fn lines_are_split_on_newlines_across_writes_and_clones() {
        let (out, mut rx) = output();
        let mut a = out.clone();
        let mut b = out.clone();
        a.write(Bytes::from_static(b"hel")).unwrap();
        b.write(Bytes::from_static(b"lo\r\nwor")).unwrap();
        a.write(Bytes::from_static(b"ld\n\ntail")).unwrap();
        assert_eq!(drain(&mut rx), ["hello", "world", ""]);
        out.finish();
        assert_eq!(drain(&mut rx), ["tail"]);
    }

    #[test]
    fn budget_blocks_writers_until_lines_are_shipped() {
        let (mut out, mut rx) = output();
        let line = Bytes::from(
            vec![b'x'; 1023]
                .into_iter()
                .chain([b'\n'])
                .collect::<Vec<_>>(),
        );
        while out.check_write().unwrap() >= line.len() {
            out.write(line.clone()).unwrap();
        }
        let first = rx.try_recv().unwrap();
        first.shipped();
        assert!(out.check_write().unwrap() > 0);
    }

    #[test]
    fn check_write_grants_at_most_the_permit() {
        let (mut out, _rx) = output();
        assert_eq!(out.check_write().unwrap(), MAX_PERMIT);
    }

    #[test]
    fn a_write_beyond_the_permit_traps_and_queues_nothing() {
        let (mut out, mut rx) = output();
        let granted = out.check_write().unwrap();
        let huge = Bytes::from(vec![b'a'; 64 << 20]);
        let Err(StreamError::Trap(e)) = out.write(huge) else {
            panic!("a 64 MiB write was accepted");
        };
        let refused = e
            .downcast_ref::<OutputPermitExceeded>()
            .expect("the trap says why");
        assert_eq!(refused.wrote, 64 << 20);
        assert_eq!(refused.permitted, granted);
        assert!(e.to_string().contains("check-write permitted only"), "{e}");
        assert!(drain(&mut rx).is_empty());
        // Within the grant is fine, even without asking first on a fresh handle.
        let mut fresh = out.p2_stream();
        fresh.write(Bytes::from_static(b"ok\n")).unwrap();
        assert_eq!(drain(&mut rx), ["ok"]);
        // One byte over what was granted is not.
        let mut h = out.p2_stream();
        let n = h.check_write().unwrap();
        assert!(h.write(Bytes::from(vec![b'b'; n + 1])).is_err());
    }

    #[test]
    fn long_lines_are_cut_into_events() {
        let (out, mut rx) = output();
        out.push(&vec![b'a'; MAX_LINE_BYTES * 2 + 5]);
        out.finish();
        let lens: Vec<usize> = drain(&mut rx).iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 5]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_one_event() {
        let (out, mut rx) = output();
        let mut line = vec![b'a'; MAX_LINE_BYTES];
        line.push(b'\n');
        out.push(&line);
        out.push(b"next\n");
        let lens: Vec<usize> = drain(&mut rx).iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, 4]);
    }

    #[test]
    fn an_endless_line_keeps_the_buffer_small() {
        let (mut out, mut rx) = output();
        let chunk = vec![b'z'; 40_000];
        let mut events = 0;
        for _ in 0..100 {
            write_all(&mut out, &chunk);
            assert!(out.lock_partial().len() < MAX_LINE_BYTES);
            events += drain(&mut rx)
                .iter()
                .inspect(|m| assert_eq!(m.len(), MAX_LINE_BYTES))
                .count();
        }
        assert_eq!(events, 100 * 40_000 / MAX_LINE_BYTES);
    }

    #[test]
    fn cuts_do_not_split_characters() {
        let (out, mut rx) = output();
        // 'é' is two bytes; an odd prefix makes the limit fall inside one.
        let mut text = b"x".to_vec();
        text.extend("é".repeat(MAX_LINE_BYTES).as_bytes());
        out.push(&text);
        out.finish();
        let events = drain(&mut rx);
        assert!(events.len() > 1);
        assert!(
            events.iter().all(|m| !m.contains('\u{FFFD}')),
            "a character was split"
        );
        assert_eq!(events.concat().len(), text.len());
    }

    #[test]
    fn past_the_task_budget_lines_are_dropped_and_counted() {
        use crate::config::LOG_LINE_OVERHEAD;
        let (mut out, mut rx, budget) = output_with_budget(2 * (5 + LOG_LINE_OVERHEAD));
        write_all(&mut out, b"line1\nline2\nline3\nline4\n");
        assert_eq!(drain(&mut rx), ["line1", "line2"]);
        assert_eq!(budget.dropped_totals(), (2, 10));
        // The guest is not blocked: dropped lines take no room.
        assert_eq!(out.check_write().unwrap(), MAX_PERMIT);
    }

    #[test]
    fn host_lines_never_wait_for_room() {
        let (mut out, mut rx, budget) = output_with_budget(u64::MAX);
        let line = [vec![b'x'; 1000], vec![b'\n']].concat();
        while out.check_write().unwrap() >= line.len() {
            out.write(Bytes::from(line.clone())).unwrap();
        }
        while out.budget.available() > 0 {
            out.host_line("filler");
        }
        out.host_line("request failed");
        assert_eq!(budget.dropped_totals().0, 1);
        assert!(!drain(&mut rx).contains(&"request failed".to_owned()));
    }

    #[test]
    fn utf8_cut_finds_the_last_whole_character() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("aé".as_bytes()), 3);
        assert_eq!(utf8_cut(&"aé".as_bytes()[..2]), 1);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_cut("a😀".as_bytes()), 5);
    }
}
