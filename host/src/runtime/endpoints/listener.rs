//! The endpoints' door for wasi:sockets: a listener on `<task address>:51679`, opened
//! when one of the task's containers first connects to (or binds) that port
//! ([`EndpointDoor`]) and kept until the task stops, so an idle task that never asks holds
//! no descriptor for it. Only connections from the task's own address are served (every guest
//! socket connecting over loopback is bound to it; another task's or a host process's
//! source is not), at most [`MAX_CONNECTIONS`] at once, with a small request head read
//! in [`HEADER_TIMEOUT`] and each connection closed after [`CONNECTION_LIFETIME`].

use super::{PORT, TaskEndpoints};
use crate::runtime::net::{OnDemandServer, PortGuard, Proto, TaskNetwork};
use crate::util::sync::lock;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

/// Connections one task may hold open to its endpoints; more are closed at once.
pub const MAX_CONNECTIONS: usize = 8;
/// A request head must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection (keep-alive included) lasts at most this.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Bytes of request head buffered per connection.
const MAX_BUF: usize = 16 * 1024;

/// What the task's sockets door is at a moment.
enum DoorState {
    /// Nothing connected to the port yet: no listener.
    Idle,
    Open(EndpointServer),
    /// It could not listen (said once); wasi:http still answers.
    Failed,
    /// The task is stopping: never opened again.
    Shut,
}

/// The task's on-demand listener: registered with the task's network, which calls
/// [`OnDemandServer::wanted`] when a container first connects to `<its address>:51679`.
pub struct EndpointDoor {
    endpoints: Arc<TaskEndpoints>,
    network: Weak<TaskNetwork>,
    /// The runtime the listener runs on (the guest's call may come from another context).
    runtime: tokio::runtime::Handle,
    state: Mutex<DoorState>,
    /// Says once why the listener could not be opened.
    notice: Box<dyn Fn(String) + Send + Sync>,
}

impl EndpointDoor {
    /// Registers the door with the task's network; call from within a tokio runtime.
    pub fn new(
        endpoints: Arc<TaskEndpoints>,
        network: &Arc<TaskNetwork>,
        notice: Box<dyn Fn(String) + Send + Sync>,
    ) -> Arc<Self> {
        let door = Arc::new(Self {
            endpoints,
            network: Arc::downgrade(network),
            runtime: tokio::runtime::Handle::current(),
            state: Mutex::new(DoorState::Idle),
            notice,
        });
        let weak: Weak<dyn OnDemandServer> = Arc::downgrade(&door) as Weak<dyn OnDemandServer>;
        network.serve_on_demand(PORT, weak);
        door
    }

    /// Whether the listener is open now.
    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        matches!(*lock(&self.state), DoorState::Open(_))
    }

    /// Closes the listener, if it was opened, and waits until it is closed; the door stays
    /// shut after this.
    pub async fn close(&self) {
        let state = std::mem::replace(&mut *lock(&self.state), DoorState::Shut);
        if let DoorState::Open(server) = state {
            server.close().await;
        }
    }
}

impl OnDemandServer for EndpointDoor {
    fn wanted(&self) {
        let mut state = lock(&self.state);
        if !matches!(*state, DoorState::Idle) {
            return;
        }
        let Some(network) = self.network.upgrade() else {
            return;
        };
        let _runtime = self.runtime.enter();
        *state = match EndpointServer::start(self.endpoints.clone(), &network) {
            Ok(server) => DoorState::Open(server),
            Err(e) => {
                (self.notice)(format!(
                    "the task's metadata endpoint cannot listen on {}:{PORT} ({e}); it answers wasi:http requests only",
                    network.address()
                ));
                DoorState::Failed
            }
        };
    }
}

/// The task's listener; dropping it closes the listener and every connection.
pub struct EndpointServer {
    accept: JoinHandle<()>,
    _port: PortGuard,
}

impl Drop for EndpointServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl EndpointServer {
    /// Closes the listener and waits until it is closed: `abort` alone closes it whenever
    /// the runtime next gets to it, and the task's address (and with it port 51679) may by
    /// then be leased to the next task, whose own listener would fail to bind.
    pub async fn close(mut self) {
        self.accept.abort();
        let _ = (&mut self.accept).await;
    }

    /// Listens on the task's address; an error leaves the task with the in-process door
    /// only (wasi:http), which the caller says once.
    pub fn start(
        endpoints: Arc<TaskEndpoints>,
        network: &Arc<TaskNetwork>,
    ) -> std::io::Result<Self> {
        let own = network.address();
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from((own, PORT)))?;
        let listener = socket.listen(MAX_CONNECTIONS as u32)?;
        // The task's own sockets may connect here (the policy's "a container listens").
        let port = network.open_port(Proto::Tcp, PORT);
        let accept = tokio::spawn(accept_loop(listener, endpoints, IpAddr::V4(own)));
        Ok(Self {
            accept,
            _port: port,
        })
    }
}

async fn accept_loop(listener: TcpListener, endpoints: Arc<TaskEndpoints>, own: IpAddr) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Dropped (every connection aborted) when the task drops the server.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors for a moment: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if peer.ip() != own {
                    // Not one of this task's containers: nothing to say to it.
                    continue;
                }
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    continue;
                };
                let endpoints = endpoints.clone();
                connections.spawn(async move {
                    let _slot = slot;
                    let svc = service_fn(move |req: hyper::Request<Incoming>| {
                        let resp = endpoints.respond(req.method(), req.uri().path(), req.headers());
                        async move { Ok::<_, Infallible>(resp.map(|b: Full<bytes::Bytes>| b)) }
                    });
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(MAX_BUF)
                        .serve_connection(TokioIo::new(stream), svc);
                    let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
                });
            }
        }
    }
}
