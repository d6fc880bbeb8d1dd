//! An HTTP container's life: listen on `<task address>:<port>` for each tcp port mapping,
//! serve HTTP/1.1 connections until the task stops, then drain.
//!
//! Draining: the listeners close at once (the ports are free again), open connections finish
//! the request they are on (keep-alive is turned off), requests still running in instances
//! finish, then the container exits with 0. `stopTimeout` bounds all of it: past it the task
//! kills the container (137) and the instances are dropped with it.

use super::{HttpService, InFlight};
use crate::runtime::container::{Exit, Kill, Launch, Meters};
use crate::runtime::cpu::CpuBucket;
use crate::runtime::engine::GuestEngine;
use crate::runtime::fsquota::StorageQuota;
use crate::runtime::guest_state::GuestState;
use crate::runtime::limits::TaskMemory;
use crate::runtime::net::Proto;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// A client has this long to send a request's headers (slow-loris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the container until the task stops (then drains and returns exit 0), the task
/// kills it, or a request uses up its fuel budget. `started` fires once every port listens.
#[allow(clippy::too_many_arguments)]
pub(in crate::runtime) async fn serve(
    engine: &GuestEngine,
    pre: ProxyPre<GuestState>,
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
            Ok(l) => listeners.push(l),
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
        engine: engine.engine.clone(),
        fuel: engine.fuel,
        pre,
        ports,
        task_memory,
        quota,
        meters,
        in_flight: Arc::new(InFlight::default()),
        fatal,
        ended,
        launch,
    });
    task_http.register(&svc);
    // However this ends, siblings stop routing here (and the task ↔ service cycle is broken).
    let _registered = Deregister(&svc);
    started();

    let graceful = GracefulShutdown::new();
    let stopped = loop {
        let accept = futures::future::select_all(listeners.iter().map(|l| Box::pin(l.accept())));
        tokio::select! {
            (accepted, _, _) = accept => match accepted {
                Ok((stream, _peer)) => {
                    let watched = graceful.watch(connection(&svc, stream));
                    // A client that goes away mid-request is not the container's problem.
                    drop(svc.spawn(async move {
                        let _ = watched.await;
                    }));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("{}: accept failed: {e}", svc.name());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            stop = stopping(&mut kill) => break stop,
            fatal = fatal_reason(&mut fatal_rx) => break Stop::Killed(fatal),
        }
    };
    drop(listeners);

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

/// Resolves when the task kills the container (its stopTimeout ran out).
async fn killed(kill: &mut watch::Receiver<Kill>) -> String {
    loop {
        if let Kill::Now(reason) = &*kill.borrow_and_update() {
            return reason.clone();
        }
        if kill.changed().await.is_err() {
            return std::future::pending().await;
        }
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

/// One HTTP/1.1 connection; each request runs in its own instance.
fn connection(
    svc: &Arc<HttpService>,
    stream: tokio::net::TcpStream,
) -> impl hyper_util::server::graceful::GracefulConnection + Send + use<> {
    let _ = stream.set_nodelay(true);
    let svc = svc.clone();
    let service = hyper::service::service_fn(move |req| {
        let svc = svc.clone();
        async move { Ok::<_, Infallible>(svc.handle(req).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
}

struct Deregister<'a>(&'a Arc<HttpService>);

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.0.in_flight.close();
        self.0.launch.http.deregister(self.0);
    }
}
