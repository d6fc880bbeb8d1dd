//! Guest stdout/stderr: split into timestamped lines and handed to the task's log shipper.
//!
//! Output is bounded by backpressure, not by dropping: each container may have only
//! [`OUTPUT_BUDGET_BYTES`] of lines in flight to the shipper; beyond that `check-write` reports
//! zero and the guest's write blocks (asynchronously) until the shipper catches up. A guest
//! that floods output is slowed to the speed of its log sink and host memory stays bounded.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWrite;
use tokio::sync::{Notify, mpsc};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Bytes of output a container may have queued for the shipper.
pub const OUTPUT_BUDGET_BYTES: usize = 256 * 1024;
/// Longer lines are split, as CloudWatch caps an event's size.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

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

/// A line on its way to the shipper, holding its share of the container's budget.
#[derive(Debug)]
pub struct QueuedLine {
    pub line: LogLine,
    budget: Arc<OutputBudget>,
}

impl QueuedLine {
    /// Returns the line's bytes to its container's budget, unblocking a waiting writer.
    pub fn shipped(self) -> LogLine {
        self.budget.release(self.line.message.len() + 1);
        self.line
    }
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

/// The stdout or stderr of one container. Clones share one line buffer, because a guest may
/// open its stdout several times and a line can span writes through different handles.
#[derive(Debug, Clone)]
pub struct GuestOutput {
    container: Arc<str>,
    stream: StdStream,
    partial: Arc<Mutex<Vec<u8>>>,
    tx: mpsc::UnboundedSender<QueuedLine>,
    budget: Arc<OutputBudget>,
}

impl GuestOutput {
    pub fn new(
        container: Arc<str>,
        stream: StdStream,
        tx: mpsc::UnboundedSender<QueuedLine>,
    ) -> Self {
        Self {
            container,
            stream,
            partial: Arc::default(),
            tx,
            budget: Arc::new(OutputBudget {
                in_flight: AtomicUsize::new(0),
                notify: Notify::new(),
            }),
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
    /// request failed), without touching a partial line the guest is writing.
    pub fn host_line(&self, message: &str) {
        self.send(message.as_bytes());
    }

    fn lock_partial(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A poisoned buffer only means a writer panicked mid-append; the bytes are still valid.
        self.partial.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, bytes: &[u8]) {
        let mut partial = self.lock_partial();
        partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = partial[start..end]
                .strip_suffix(b"\r")
                .unwrap_or(&partial[start..end]);
            self.send(line);
            start = end + 1;
        }
        partial.drain(..start);
        while partial.len() >= MAX_LINE_BYTES {
            let head: Vec<u8> = partial.drain(..MAX_LINE_BYTES).collect();
            self.send(&head);
        }
    }

    fn send(&self, line: &[u8]) {
        for piece in line
            .chunks(MAX_LINE_BYTES)
            .chain(line.is_empty().then_some(&[][..]))
        {
            let message = String::from_utf8_lossy(piece).into_owned();
            self.budget.charge(message.len() + 1);
            let queued = QueuedLine {
                line: LogLine {
                    container: self.container.clone(),
                    stream: self.stream,
                    timestamp_ms: now_ms(),
                    message,
                },
                budget: self.budget.clone(),
            };
            // The shipper outlives every container of its task; if it is gone the task is
            // being torn down and the line has nowhere to go.
            let _ = self.tx.send(queued);
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
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
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if self.tx.is_closed() {
            return Err(StreamError::Closed);
        }
        Ok(self.budget.available())
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
            let room = self.out.budget.available();
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

    fn output() -> (GuestOutput, mpsc::UnboundedReceiver<QueuedLine>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (GuestOutput::new("web".into(), StdStream::Stdout, tx), rx)
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<QueuedLine>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|q| q.shipped().message)
            .collect()
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
        while out.check_write().unwrap() > 0 {
            out.write(line.clone()).unwrap();
        }
        assert_eq!(out.check_write().unwrap(), 0);
        let first = rx.try_recv().unwrap();
        first.shipped();
        assert!(out.check_write().unwrap() > 0);
    }

    #[test]
    fn long_lines_are_cut_into_events() {
        let (out, mut rx) = output();
        out.push(&vec![b'a'; MAX_LINE_BYTES * 2 + 5]);
        out.finish();
        let lens: Vec<usize> = drain(&mut rx).iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 5]);
    }
}
