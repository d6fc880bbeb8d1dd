//! Connection admission for the host's HTTP listeners (the load balancer's listeners and
//! the API): a cap on open connections and two deadlines per connection, so that clients
//! which connect and then stall cannot pile up.
//!
//! - *Header deadline*: a connection with no request in progress (just opened, or idle
//!   between keep-alive requests) is closed `header_timeout` after it became so. A client
//!   that trickles its headers (slowloris) or sends nothing never starts a request.
//! - *Idle deadline*: a connection over which no byte moved either way for `idle_timeout`
//!   is closed, even mid-request (a body that stalls, a reader that stopped reading).
//! - *Cap*: past `max_connections`, a new connection takes the place of the one that has
//!   gone longest without a request in progress (the stalled ones go first); when every
//!   connection has a request in progress, the new one is closed at once.
//!
//! A request is "in progress" from the moment its headers were read (the service is
//! called) until its response body was sent: [`Tracker::request`] counts it.

use crate::util::sync::lock;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Why a connection was closed by its listener rather than by its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No complete request headers within the header timeout.
    HeaderTimeout,
    /// Nothing sent or received within the idle timeout.
    IdleTimeout,
    /// Made room for a newer connection at the cap.
    Evicted,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::HeaderTimeout => "no complete request headers within the header timeout",
            Self::IdleTimeout => "nothing sent or received within the idle timeout",
            Self::Evicted => "closed to make room for a new connection at the connection cap",
        })
    }
}

/// The open connections of one listener.
pub struct Conns {
    shared: Arc<Shared>,
}

struct Shared {
    limits: ConnLimits,
    /// Timestamps are milliseconds since this instant, so they fit in atomics.
    base: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<State>>>,
    refused: AtomicU64,
    evicted: AtomicU64,
}

struct State {
    id: u64,
    in_flight: AtomicUsize,
    /// When the connection last had no request in progress (opened, or a response ended).
    quiet_since: AtomicU64,
    /// When a byte last moved either way.
    last_io: AtomicU64,
    evict: AtomicBool,
    /// Wakes the watchdog: eviction, or a request ended (the header deadline restarts).
    wake: Notify,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Conns {
    pub fn new(limits: ConnLimits) -> Self {
        Self {
            shared: Arc::new(Shared {
                limits,
                base: Instant::now(),
                next_id: AtomicU64::new(0),
                open: Mutex::new(HashMap::new()),
                refused: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
            }),
        }
    }

    /// Admits a just-accepted connection, evicting a quiet one at the cap; `None` when the
    /// cap is reached and every connection has a request in progress (close the new one).
    pub fn admit(&self, what: &str) -> Option<Conn> {
        let shared = &self.shared;
        let now = shared.now_ms();
        let mut open = lock(&shared.open);
        if open.len() >= shared.limits.max_connections.max(1) {
            let victim = open
                .values()
                .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|s| s.quiet_since.load(Ordering::Acquire))
                .cloned();
            let Some(victim) = victim else {
                drop(open);
                let n = shared.refused.fetch_add(1, Ordering::Relaxed) + 1;
                // Powers of two only: an attack is visible without flooding the log.
                if n.is_power_of_two() {
                    tracing::warn!(
                        "{what}: {n} connection(s) refused so far: {} connections are open \
                         (the cap), each with a request in progress",
                        shared.limits.max_connections
                    );
                }
                return None;
            };
            open.remove(&victim.id);
            victim.evict.store(true, Ordering::Release);
            victim.wake.notify_one();
            let n = shared.evicted.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    "{what}: {n} idle or stalled connection(s) closed so far to admit new ones \
                     ({} connections is the cap)",
                    shared.limits.max_connections
                );
            }
        }
        let state = Arc::new(State {
            id: shared.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            quiet_since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            evict: AtomicBool::new(false),
            wake: Notify::new(),
        });
        open.insert(state.id, state.clone());
        Some(Conn {
            state,
            shared: shared.clone(),
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        lock(&self.shared.open).len()
    }
}

/// One admitted connection; leaves the count when dropped.
pub struct Conn {
    state: Arc<State>,
    shared: Arc<Shared>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        lock(&self.shared.open).remove(&self.state.id);
    }
}

impl Conn {
    /// The connection's socket, recording when bytes move.
    pub fn io<T>(&self, io: T) -> Watched<T> {
        Watched {
            io,
            tracker: self.tracker(),
        }
    }

    /// Counts the connection's requests (for its service).
    pub fn tracker(&self) -> Tracker {
        Tracker {
            state: self.state.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Runs the connection until it ends, or until a deadline passes or it is evicted
    /// (then it is dropped, which closes the socket).
    pub async fn run<F: Future>(self, conn: F) -> Result<F::Output, Closed> {
        tokio::select! {
            out = conn => Ok(out),
            why = self.watchdog() => Err(why),
        }
    }

    async fn watchdog(&self) -> Closed {
        let (state, shared) = (&self.state, &self.shared);
        let header_ms = millis(shared.limits.header_timeout);
        let idle_ms = millis(shared.limits.idle_timeout);
        loop {
            let wake = state.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if state.evict.load(Ordering::Acquire) {
                return Closed::Evicted;
            }
            let now = shared.now_ms();
            let mut deadline = state
                .last_io
                .load(Ordering::Acquire)
                .saturating_add(idle_ms);
            let mut why = Closed::IdleTimeout;
            if state.in_flight.load(Ordering::Acquire) == 0 {
                let header = state
                    .quiet_since
                    .load(Ordering::Acquire)
                    .saturating_add(header_ms);
                if header <= deadline {
                    (deadline, why) = (header, Closed::HeaderTimeout);
                }
            }
            if now >= deadline {
                return why;
            }
            let at = shared.base + Duration::from_millis(deadline);
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = wake => {}
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Counts one connection's requests in progress.
#[derive(Clone)]
pub struct Tracker {
    state: Arc<State>,
    shared: Arc<Shared>,
}

impl Tracker {
    /// A request's headers were read; it is in progress until the guard is dropped (keep
    /// it with the response body).
    pub fn request(&self) -> RequestGuard {
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard {
            tracker: self.clone(),
        }
    }

    fn touch(&self) {
        self.state
            .last_io
            .store(self.shared.now_ms(), Ordering::Release);
    }
}

/// One request in progress on a connection.
pub struct RequestGuard {
    tracker: Tracker,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let state = &self.tracker.state;
        state
            .quiet_since
            .store(self.tracker.shared.now_ms(), Ordering::Release);
        if state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Quiet again: the watchdog moves to the header deadline.
            state.wake.notify_one();
        }
    }
}

/// A socket that records when bytes move (for the idle deadline).
pub struct Watched<T> {
    io: T,
    tracker: Tracker,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.tracker.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.tracker.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.tracker.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, header_ms: u64, idle_ms: u64) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            header_timeout: Duration::from_millis(header_ms),
            idle_timeout: Duration::from_millis(idle_ms),
        }
    }

    fn pending() -> std::future::Pending<()> {
        std::future::pending()
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_quiet_connection_makes_room() {
        let conns = Conns::new(limits(2, 60_000, 60_000));
        let first = conns.admit("test").expect("first");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = conns.admit("test").expect("second");
        // A request in progress protects `first`: `second` is evicted instead.
        let busy = first.tracker().request();
        let third = conns.admit("test").expect("third");
        assert_eq!(conns.open(), 2);
        assert_eq!(second.run(pending()).await, Err(Closed::Evicted));
        // Both left have requests in progress: a fourth is refused.
        let _busy3 = third.tracker().request();
        assert!(conns.admit("test").is_none());
        drop(busy);
        assert!(conns.admit("test").is_some(), "first is quiet again");
    }

    #[tokio::test]
    async fn a_quiet_connection_is_closed_at_the_header_deadline() {
        let conns = Conns::new(limits(4, 50, 60_000));
        let c = conns.admit("test").expect("admit");
        assert_eq!(c.run(pending()).await, Err(Closed::HeaderTimeout));
        assert_eq!(conns.open(), 0);
    }

    #[tokio::test]
    async fn a_request_in_progress_is_held_to_the_idle_deadline_only() {
        // Header deadline short, idle long: a request in progress outlives the header
        // deadline; once it ends the connection is quiet and the header deadline closes it.
        let conns = Conns::new(limits(4, 50, 60_000));
        let c = conns.admit("test").expect("admit");
        let guard = c.tracker().request();
        let out = c
            .run(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(guard);
            })
            .await;
        assert_eq!(out, Ok(()));

        let c = conns.admit("test").expect("admit");
        let guard = c.tracker().request();
        let out = c
            .run(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(guard);
                pending().await
            })
            .await;
        assert_eq!(out, Err(Closed::HeaderTimeout));

        // Idle short: a request that moves no byte is closed.
        let conns = Conns::new(limits(4, 60_000, 50));
        let c = conns.admit("test").expect("admit");
        let _stuck = c.tracker().request();
        assert_eq!(c.run(pending()).await, Err(Closed::IdleTimeout));
    }

    #[tokio::test]
    async fn bytes_moving_keep_a_request_alive() {
        let conns = Conns::new(limits(4, 60_000, 100));
        let c = conns.admit("test").expect("admit");
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = c.io(a);
        let _req = c.tracker().request();
        let out = c
            .run(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // 20 × 25 ms: longer than the idle timeout in all, never idle that long.
                for _ in 0..20 {
                    a.write_all(b"x").await.expect("write");
                    let mut one = [0u8; 1];
                    b.read_exact(&mut one).await.expect("read");
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
            .await;
        assert_eq!(out, Ok(()));
    }
}
