//! Keep-alive HTTP/1.1 connections to one target, reused request after request.
//!
//! A connection goes back to the pool from its response body, when the body has ended and
//! is dropped: no task per request (hyper's pooled client spawns one to wait for that).
//! Each new connection is checked first (`served`): the target's task may have stopped
//! serving the port since it was registered.

use super::proxy::{MAX_BUF, ProxyBody};
use super::served;
use crate::util::inproc::body_error;
use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::util::sync::lock;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per target at most (more are closed as they come back).
const MAX_IDLE: usize = 128;

/// The idle connections to one target.
pub(super) struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<SendRequest<ProxyBody>>>,
}

impl Pool {
    pub(super) fn new(addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            addr,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `req` (origin-form URI) on an idle connection, or a new one; the error says
    /// why no response came.
    pub(super) async fn request(
        self: &Arc<Self>,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, String> {
        if !req.headers().contains_key(header::HOST)
            && let Ok(v) = header::HeaderValue::from_str(&self.addr.to_string())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        // Idle connections first. One the target closed meanwhile gives the request back
        // unsent, and the next is tried.
        while let Some(mut send) = self.take() {
            if send.ready().await.is_err() {
                continue;
            }
            match send.try_send_request(req).await {
                Ok(resp) => return Ok(self.returning(send, resp)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(chain(e.error())),
                },
            }
        }
        let mut send = self.connect().await?;
        match send.send_request(req).await {
            Ok(resp) => Ok(self.returning(send, resp)),
            Err(e) => Err(chain(&e)),
        }
    }

    fn take(&self) -> Option<SendRequest<ProxyBody>> {
        let mut idle = lock(&self.idle);
        while let Some(send) = idle.pop() {
            if !send.is_closed() {
                return Some(send);
            }
        }
        None
    }

    fn give_back(&self, send: SendRequest<ProxyBody>) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE && !send.is_closed() {
            idle.push(send);
        }
    }

    async fn connect(&self) -> Result<SendRequest<ProxyBody>, String> {
        let addr = self.addr;
        // A task of this host: a map lookup. Another listener: a read of /proc, off the
        // async workers.
        if !served::known(addr) {
            tokio::task::spawn_blocking(move || served::proc_check(addr))
                .await
                .map_err(|e| format!("checking target {addr}: {e}"))??;
        }
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))?
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (send, conn) = http1::Builder::new()
            .max_buf_size(MAX_BUF)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| chain(&e))?;
        // The connection's own task (one per connection, not per request); it ends when
        // the target closes it or its last `SendRequest` is dropped.
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, "load balancer target connection: {e}");
            }
        });
        Ok(send)
    }

    /// The response, its body giving the connection back once it has ended.
    fn returning(
        self: &Arc<Self>,
        send: SendRequest<ProxyBody>,
        resp: Response<Incoming>,
    ) -> Response<ProxyBody> {
        let pool = self.clone();
        resp.map(|body| {
            Returning {
                body,
                send: Some(send),
                pool,
            }
            .map_err(body_error)
            .boxed_unsync()
        })
    }
}

/// A response body that returns its connection to the pool when it is done with it.
struct Returning {
    body: Incoming,
    send: Option<SendRequest<ProxyBody>>,
    pool: Arc<Pool>,
}

impl Returning {
    fn done(&mut self) {
        if let Some(send) = self.send.take() {
            self.pool.give_back(send);
        }
    }
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.done(),
            // A broken body: the connection is not reused.
            Poll::Ready(Some(Err(_))) => self.send = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        // Read to its end (or empty from the start, e.g. a HEAD answer): reusable. A body
        // dropped half-read leaves the connection mid-message: it is closed instead.
        if self.body.is_end_stream() {
            self.done();
        }
    }
}

/// An error with its causes: hyper's own message says little.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn empty() -> ProxyBody {
        Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync()
    }

    /// A target that counts the connections it accepted and answers `ok`.
    async fn target() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }),
                ));
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_was_read() {
        let (addr, accepted) = target().await;
        let pool = Pool::new(addr);
        for _ in 0..5 {
            let resp = pool
                .request(Request::get("/").body(empty()).expect("request"))
                .await
                .expect("response");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one keep-alive connection"
        );

        // Two at once need two connections; both are kept afterwards.
        let a = pool
            .request(Request::get("/").body(empty()).expect("request"))
            .await
            .expect("a");
        let b = pool
            .request(Request::get("/").body(empty()).expect("request"))
            .await
            .expect("b");
        drop((a.into_body().collect().await, b.into_body().collect().await));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(lock(&pool.idle).len(), 2);
    }

    #[tokio::test]
    async fn a_body_dropped_half_read_does_not_return_its_connection() {
        let (addr, accepted) = target().await;
        let pool = Pool::new(addr);
        let resp = pool
            .request(Request::get("/").body(empty()).expect("request"))
            .await
            .expect("response");
        drop(resp);
        assert!(lock(&pool.idle).is_empty());
        let resp = pool
            .request(Request::get("/").body(empty()).expect("request"))
            .await
            .expect("response");
        drop(resp.into_body().collect().await);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
