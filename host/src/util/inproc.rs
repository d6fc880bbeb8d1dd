//! What this process serves itself, by socket address: the exact listening binds its
//! runtime holds for tasks, and the HTTP servers that take a request in-process.
//!
//! The load balancer asks here instead of reading the kernel's socket tables for each new
//! connection, and hands a request to an in-process server without loopback TCP. The
//! registries are process-wide: the key is an address this process holds an exact bind
//! on, which no other socket (of this process or another) can hold at the same time, so
//! two runtimes in one process (tests) cannot collide. An entry lives exactly as long as
//! its guard, which the owner keeps with the listening socket.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, RwLock};

use super::sync::{read, write};

/// Errors a streamed body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Why a body handed across in-process failed. A type of its own (not a bare
/// [`BoxError`]): hyper's servers want `Into<BoxError>` of it, which a boxed error only
/// meets for `'static`, and the compiler cannot prove that inside their futures.
#[derive(Debug)]
pub struct BodyError(pub BoxError);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// `e` as a [`BodyError`] (for the bodies' `map_err`).
pub fn body_error<E: Into<BoxError>>(e: E) -> BodyError {
    BodyError(e.into())
}

/// A request or response body handed across in-process.
pub type LocalBody = UnsyncBoxBody<Bytes, BodyError>;
/// The answer of an in-process server: `None` when it takes no new request any more (it
/// is stopping), which a caller treats like a refused connection.
pub type LocalAnswer = Pin<Box<dyn Future<Output = Option<Response<LocalBody>>> + Send>>;

/// An HTTP server that answers requests for its address in-process.
pub trait LocalServer: Send + Sync {
    /// Serves `req` as if it had arrived on the server's socket (origin-form URI, `Host`).
    fn serve(&self, req: Request<LocalBody>) -> LocalAnswer;
}

static LISTENING: LazyLock<RwLock<HashMap<SocketAddr, usize>>> = LazyLock::new(Default::default);
static SERVERS: LazyLock<RwLock<HashMap<SocketAddr, Arc<dyn LocalServer>>>> =
    LazyLock::new(Default::default);

/// IPv4-mapped IPv6 addresses are the IPv4 address (one key per socket).
fn key(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(addr, |v4| SocketAddr::new(IpAddr::V4(v4), addr.port())),
        IpAddr::V4(_) => addr,
    }
}

/// Records that this process listens (TCP) on exactly `addr` until the guard is dropped.
pub fn listening(addr: SocketAddr) -> Listening {
    let addr = key(addr);
    *write(&LISTENING).entry(addr).or_default() += 1;
    Listening(addr)
}

/// Whether this process listens (TCP) on exactly `addr` now.
pub fn is_listening(addr: SocketAddr) -> bool {
    read(&LISTENING).contains_key(&key(addr))
}

/// An exact listening bind, recorded while alive.
#[derive(Debug)]
pub struct Listening(SocketAddr);

impl Drop for Listening {
    fn drop(&mut self) {
        let mut map = write(&LISTENING);
        if let Some(n) = map.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.0);
            }
        }
    }
}

/// Serves requests for `addr` with `server` in-process until the guard is dropped. The
/// caller must hold an exact listening bind on `addr` meanwhile (it is also recorded as
/// listening).
pub fn serve(addr: SocketAddr, server: Arc<dyn LocalServer>) -> Served {
    let addr = key(addr);
    let listening = listening(addr);
    write(&SERVERS).insert(addr, server.clone());
    Served {
        addr,
        server,
        _listening: listening,
    }
}

/// The in-process server of `addr`, if there is one now.
pub fn server(addr: SocketAddr) -> Option<Arc<dyn LocalServer>> {
    read(&SERVERS).get(&key(addr)).cloned()
}

/// An in-process server's registration.
pub struct Served {
    addr: SocketAddr,
    server: Arc<dyn LocalServer>,
    _listening: Listening,
}

impl Drop for Served {
    fn drop(&mut self) {
        let mut map = write(&SERVERS);
        // Only our own entry (a later registration of the address replaced it).
        if map
            .get(&self.addr)
            .is_some_and(|s| Arc::ptr_eq(s, &self.server))
        {
            map.remove(&self.addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    struct Nobody;
    impl LocalServer for Nobody {
        fn serve(&self, _req: Request<LocalBody>) -> LocalAnswer {
            Box::pin(async { None })
        }
    }

    #[test]
    fn entries_live_as_long_as_their_guards() {
        let a = SocketAddr::from((Ipv4Addr::new(127, 99, 0, 1), 4242));
        let mapped = SocketAddr::new(
            IpAddr::V6(Ipv4Addr::new(127, 99, 0, 1).to_ipv6_mapped()),
            4242,
        );
        assert!(!is_listening(a));
        let one = listening(a);
        let two = listening(mapped);
        drop(one);
        assert!(is_listening(a), "still held by the second guard");
        drop(two);
        assert!(!is_listening(a));

        let served = serve(a, Arc::new(Nobody));
        assert!(server(mapped).is_some() && is_listening(a));
        drop(served);
        assert!(server(a).is_none() && !is_listening(a));
    }
}
