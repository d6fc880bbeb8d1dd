//! Sends a guest's request over a connection to exactly the address the rules passed.
//!
//! wasmtime-wasi-http's `default_send_request` connects to the URL's authority, so a name
//! would be resolved a second time after the check (and could answer differently: DNS
//! rebinding). Here the TCP connection goes to the checked address and TLS verifies the
//! certificate against the name the guest wrote. Timeouts follow the guest's request
//! options as wasmtime-wasi-http's do.

use crate::runtime::descriptors::Descriptor;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, timeout};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// wasmtime-wasi-http's default for each timeout the guest does not set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The future `send_request` hands back for the connection's I/O.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `req` to `addr`; over TLS for `server_name` if given. `descriptor` is the
/// container's count of the connection, given back when the connection ends.
pub async fn send_to(
    mut req: http::Request<WasiBody>,
    addr: SocketAddr,
    server_name: Option<ServerName<'static>>,
    options: Option<RequestOptions>,
    descriptor: Descriptor,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let between_bytes_timeout = options
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
        // tokio cannot sleep for zero; 1 ns is as good.
        .max(Duration::from_nanos(1));

    let tcp = timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let stream: Box<dyn Stream> = match server_name {
        Some(name) => {
            let tls = tokio_rustls::TlsConnector::from(tls_config()?);
            let handshake = timeout(connect_timeout, tls.connect(name, tcp))
                .await
                .map_err(|_| Error::ConnectionTimeout)?;
            Box::new(handshake.map_err(Error::Tls)?)
        }
        None => Box::new(tcp),
    };
    let (mut sender, conn) = timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The URI carried the scheme and authority for routing; on the wire (not to a proxy)
    // only the path goes, the `Host` header says the rest.
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *req.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    // Drive the connection while waiting for the response head.
    let mut conn = Box::pin(conn);
    let mut conn_done = false;
    let send = timeout(first_byte_timeout, sender.send_request(req));
    tokio::pin!(send);
    let head = loop {
        tokio::select! {
            head = &mut send => break head,
            ended = &mut conn, if !conn_done => {
                conn_done = true;
                ended?;
            }
        }
    };
    let head = head.map_err(|_| Error::ConnectionReadTimeout)??;
    let response = head.map(|incoming| {
        TimedBody {
            incoming,
            every: between_bytes_timeout,
            sleep: Box::pin(tokio::time::sleep(between_bytes_timeout)),
        }
        .boxed_unsync()
    });
    let io = async move {
        let _descriptor = descriptor;
        if conn_done {
            return Ok(());
        }
        conn.await.map_err(|e| {
            if e.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                e.into()
            }
        })
    };
    Ok((response, Box::new(io)))
}

/// The web's roots, as wasmtime-wasi-http trusts them; built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        })
        .clone()
        .ok_or(Error::ConfigurationError)
}

/// A response body that fails when no bytes come for `every`.
struct TimedBody {
    incoming: Incoming,
    every: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + self.every;
                self.sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsConfig;
    use crate::runtime::descriptors::{DescriptorQuota, HostDescriptors};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    #[tokio::test]
    async fn connects_to_the_given_address_not_the_name_and_gives_the_descriptor_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push(line.trim_end().to_owned());
            }
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await
                .unwrap();
            head
        });

        let limits = LimitsConfig::default();
        let host = Arc::new(HostDescriptors::new(100, &limits).unwrap());
        let quota = DescriptorQuota::new("sockets", "k", 4, host);
        // A name that cannot resolve: only the pinned address can be reached.
        let req = http::Request::builder()
            .uri("http://pinned.invalid:9/path?q=1")
            .header("host", "pinned.invalid:9")
            .body(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap();
        let (resp, io) = send_to(req, addr, None, None, quota.try_take().unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(quota.in_use(), 1, "held while the connection lasts");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        Pin::from(io).await.unwrap();
        assert_eq!(quota.in_use(), 0);

        let head = server.await.unwrap();
        assert_eq!(head[0], "GET /path?q=1 HTTP/1.1");
        assert!(
            head.contains(&"host: pinned.invalid:9".to_owned()),
            "{head:?}"
        );
    }
}
