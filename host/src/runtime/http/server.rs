//! An HTTP container's life: listen on `<task address>:<port>` for each tcp port mapping,
//! serve HTTP/1.1 connections until the task stops, then drain.
//!
//! Draining: the listeners close at once (the ports are free again), open connections finish
//! the request they are on (keep-alive is turned off), requests still running in instances
//! finish, then the container exits with 0. `stopTimeout` bounds all of it: past it the task
//! kills the container (137) and the instances are dropped with it.
//!
//! Slow or greedy clients: each port keeps at most `[http] max_connections_per_port`
//! connections open (more are answered 503 and closed as they arrive); a connection has
//! `header_read_timeout_seconds` to send a request's headers (also the idle time allowed
//! between keep-alive requests), and a request body that sends nothing for
//! `body_read_timeout_seconds` is cut.

use super::admission::{Admission, RefusalLog};
use super::reuse::IDLE_TIMEOUT;
use super::{HttpService, InFlight};
use crate::runtime::artifacts::Upgrade;
use crate::runtime::cpu::CpuBucket;
use crate::runtime::engine::GuestEngine;
use crate::runtime::exit::Exit;
use crate::runtime::fsquota::StorageQuota;
use crate::runtime::guest_state::GuestState;
use crate::runtime::launch::{Kill, Launch, Meters, killed};
use crate::runtime::limits::TaskMemory;
use crate::runtime::net::Proto;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// Serves the container until the task stops (then drains and returns exit 0), the task
/// kills it, or a request uses up its fuel budget. `started` fires once every port listens.
#[allow(clippy::too_many_arguments)]
pub(in crate::runtime) async fn serve(
    engine: &GuestEngine,
    pre: ProxyPre<GuestState>,
    upgrade: Option<Upgrade>,
    launch: Launch,
    ports: Vec<u16>,
    task_memory: Arc<TaskMemory>,
    quota: Arc<StorageQuota>,
    meters: Arc<Meters>,
    mut kill: watch::Receiver<Kill>,
    started: impl FnOnce(),
) -> Exit {
    let task_http = launch.http.clone();
    let mut listeners = Vec::with_capacity(ports.len());
    for &port in &ports {
        let addr = SocketAddr::new(task_http.address(), port);
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(Port::new(l, port, &engine.http)),
            Err(e) => {
                return Exit::failed(format!(
                    "CannotStartContainerError: cannot listen on {addr} (containerPort {port}): {e}"
                ));
            }
        }
    }
    // The task's rules let siblings connect to ports a container of the task listens on.
    let _open: Vec<_> = ports
        .iter()
        .map(|&p| task_http.net.open_port(Proto::Tcp, p))
        .collect();
    let (fatal, mut fatal_rx) = watch::channel(None);
    let (ended, _) = watch::channel(false);
    let svc = Arc::new(HttpService {
        memory: TaskMemory::new(launch.memory_limit_bytes.unwrap_or(u64::MAX)),
        cpu: CpuBucket::new(launch.share),
        fuel: engine.meters_fuel(launch.fuel_budget),
        pre,
        upgrade,
        ports,
        task_memory,
        quota,
        meters,
        in_flight: Arc::new(InFlight::default()),
        admission: Admission::new(
            &engine.http,
            engine.http_shares.clone(),
            task_http.instances.clone(),
        ),
        limits: engine.http.clone(),
        idle: Default::default(),
        fatal,
        ended,
        launch,
    });
    task_http.register(&svc);
    // However this ends, siblings stop routing here (and the task ↔ service cycle is broken).
    let _registered = Deregister(&svc);
    // The load balancer of this process hands requests over in-process while the ports listen.
    let local: Vec<_> = svc
        .ports
        .iter()
        .map(|&p| {
            let addr = SocketAddr::new(task_http.address(), p);
            crate::util::inproc::serve(addr, Arc::new(super::local::Local(svc.clone())))
        })
        .collect();
    started();

    let graceful = GracefulShutdown::new();
    let reuse = svc.launch.instance_reuse.is_on();
    let mut sweep = tokio::time::interval(IDLE_TIMEOUT);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopped = loop {
        let accept =
            futures::future::select_all(listeners.iter().map(|l| Box::pin(l.listener.accept())));
        tokio::select! {
            (accepted, i, _) = accept => match accepted {
                Ok((stream, _peer)) => {
                    let Some(port) = listeners.get(i) else { continue };
                    let Some(open) = port.admit(&svc, stream) else { continue };
                    let (stream, permit) = open;
                    let watched = graceful.watch(connection(&svc, stream));
                    // A client that goes away mid-request is not the container's problem.
                    drop(svc.spawn(async move {
                        let _open = permit;
                        let _ = watched.await;
                    }));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("{}: accept failed: {e}", svc.name());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Idle instances give their memory and pool slots back after a while.
            now = sweep.tick(), if reuse => svc.idle.expire(now),
            stop = stopping(&mut kill) => break stop,
            fatal = fatal_reason(&mut fatal_rx) => break Stop::Killed(fatal),
        }
    };
    drop(listeners);
    drop(local);
    svc.idle.clear();

    let exit = match stopped {
        Stop::Killed(reason) => Exit::killed(reason),
        Stop::Drain => {
            let drained = async {
                graceful.shutdown().await;
                // Connections are done; in-process calls from siblings may still run.
                svc.in_flight.idle().await;
                svc.in_flight.close();
                svc.in_flight.idle().await;
            };
            tokio::select! {
                _ = drained => Exit::code(0),
                reason = killed(&mut kill) => Exit::killed(reason),
            }
        }
    };
    svc.in_flight.close();
    // Whatever still runs (after a kill) is dropped now, with its store.
    svc.ended.send_replace(true);
    svc.idle.clear();
    svc.launch.stdout.finish();
    svc.launch.stderr.finish();
    exit
}

/// Resolves with the reason once a request made the container's end unavoidable.
async fn fatal_reason(rx: &mut watch::Receiver<Option<String>>) -> String {
    let reason = rx
        .wait_for(Option::is_some)
        .await
        .map(|r| r.clone().unwrap_or_default());
    match reason {
        Ok(reason) => reason,
        Err(_) => std::future::pending().await,
    }
}

enum Stop {
    /// The task is stopping: finish what is in flight.
    Drain,
    /// Drop everything now.
    Killed(String),
}

/// Resolves when the task asks the container to stop (`Drain`) or kills it.
async fn stopping(kill: &mut watch::Receiver<Kill>) -> Stop {
    loop {
        match &*kill.borrow_and_update() {
            Kill::No => {}
            Kill::Stopping => return Stop::Drain,
            Kill::Now(reason) => return Stop::Killed(reason.clone()),
        }
        if kill.changed().await.is_err() {
            // The task is gone without a word: nothing is left to serve for.
            return Stop::Drain;
        }
    }
}

/// One listening port and its cap on open connections.
struct Port {
    listener: TcpListener,
    port: u16,
    open: Arc<Semaphore>,
    limit: u32,
    refusals: RefusalLog,
}

impl Port {
    fn new(listener: TcpListener, port: u16, limits: &crate::config::HttpConfig) -> Self {
        let limit = limits.max_connections_per_port.max(1);
        Self {
            listener,
            port,
            open: Arc::new(Semaphore::new((limit as usize).min(Semaphore::MAX_PERMITS))),
            limit,
            refusals: RefusalLog::default(),
        }
    }

    /// The connection with its place among the port's open ones; or, past the cap, a 503
    /// written if the socket takes it at once (never waited for) and the connection closed.
    fn admit(
        &self,
        svc: &HttpService,
        stream: TcpStream,
    ) -> Option<(TcpStream, OwnedSemaphorePermit)> {
        if let Ok(permit) = self.open.clone().try_acquire_owned() {
            return Some((stream, permit));
        }
        let why = format!(
            "port {} has its limit of {} open connections ([http] max_connections_per_port)",
            self.port, self.limit
        );
        let body = format!("503 Service Unavailable: {why}; retry later\n");
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.try_write(answer.as_bytes());
        if let Some(n) = self.refusals.note() {
            svc.launch.stderr.host_line(&format!(
                "wasmgate: connection refused with 503: {why} ({n} refused since the last such line)"
            ));
        }
        None
    }
}

/// One HTTP/1.1 connection; each request runs in its own instance.
fn connection(
    svc: &Arc<HttpService>,
    stream: TcpStream,
) -> impl hyper_util::server::graceful::GracefulConnection + Send + use<> {
    let _ = stream.set_nodelay(true);
    let header_timeout = Duration::from_secs(svc.limits.header_read_timeout_seconds.max(1));
    let body_timeout = Duration::from_secs(svc.limits.body_read_timeout_seconds.max(1));
    let svc = svc.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let svc = svc.clone();
        let req = req.map(|body| TimedBody::new(body, body_timeout));
        async move { Ok::<_, Infallible>(svc.handle(req).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // hyper starts this clock whenever it waits for a request head, so it also closes a
        // connection that stays idle (or silent from the start) that long.
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
}

/// A request body that fails with `ConnectionReadTimeout` once its reader waited `timeout`
/// for the next frame (a client that stops sending must not hold an instance forever).
/// The clock runs only while someone waits: a guest that reads late is not cut.
pub(super) struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: bool,
}

impl<B> TimedBody<B> {
    pub(super) fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            wait: None,
            timed_out: false,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.wait = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let wait = this
                    .wait
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match wait.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out = true;
                        this.wait = None;
                        Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

struct Deregister<'a>(&'a Arc<HttpService>);

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.0.in_flight.close();
        self.0.launch.http.deregister(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn a_body_that_sends_nothing_is_cut_after_the_timeout() {
        let silent =
            StreamBody::new(futures::stream::pending::<Result<Frame<Bytes>, hyper::Error>>());
        let mut body = TimedBody::new(silent, Duration::from_millis(20));
        match body.frame().await {
            Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)) => {}
            other => panic!("want a read timeout, got {other:?}"),
        }
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_body_that_keeps_sending_is_passed_through() {
        let chunks = futures::stream::iter(
            ["a", "b"].map(|c| Ok::<_, hyper::Error>(Frame::data(Bytes::from(c)))),
        );
        let body = TimedBody::new(StreamBody::new(chunks), Duration::from_secs(5));
        let all = body.collect().await.expect("no error").to_bytes();
        assert_eq!(&all[..], b"ab");
    }
}
