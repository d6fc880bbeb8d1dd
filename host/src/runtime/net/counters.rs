//! Bytes and packets a task moved over its network, for its stats (`networks` in the
//! metadata endpoint's Docker-shaped stats). Counted where the host moves a guest's bytes:
//! its TCP streams, its datagrams and its outgoing wasi:http bodies. A "packet" is one
//! read, write or datagram (what the host sees), not a wire packet.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamResult,
};

#[derive(Debug, Default)]
pub struct NetCounters {
    rx_bytes: AtomicU64,
    rx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_packets: AtomicU64,
}

/// One reading of a task's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetTotals {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

impl NetCounters {
    pub fn received(&self, bytes: usize) {
        if bytes > 0 {
            self.rx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            self.rx_packets.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn sent(&self, bytes: usize) {
        if bytes > 0 {
            self.tx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            self.tx_packets.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn totals(&self) -> NetTotals {
        NetTotals {
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
        }
    }
}

/// A guest's TCP input stream that counts what it reads.
pub(super) struct CountingInput {
    pub inner: DynInputStream,
    pub counters: Arc<NetCounters>,
}

/// A guest's TCP output stream that counts what it writes.
pub(super) struct CountingOutput {
    pub inner: DynOutputStream,
    pub counters: Arc<NetCounters>,
}

#[wasmtime_wasi::async_trait]
impl InputStream for CountingInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.inner.read(size)?;
        self.counters.received(bytes.len());
        Ok(bytes)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.inner.blocking_read(size).await?;
        self.counters.received(bytes.len());
        Ok(bytes)
    }

    fn skip(&mut self, nelem: usize) -> StreamResult<usize> {
        let n = self.inner.skip(nelem)?;
        self.counters.received(n);
        Ok(n)
    }

    async fn blocking_skip(&mut self, nelem: usize) -> StreamResult<usize> {
        let n = self.inner.blocking_skip(nelem).await?;
        self.counters.received(n);
        Ok(n)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountingInput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CountingOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let n = bytes.len();
        self.inner.write(bytes)?;
        self.counters.sent(n);
        Ok(())
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        let n = bytes.len();
        self.inner.blocking_write_and_flush(bytes).await?;
        self.counters.sent(n);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.inner.write_zeroes(nelem)?;
        self.counters.sent(nelem);
        Ok(())
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountingOutput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

/// Replaces a new TCP connection's streams in the table by counting ones, children of
/// the same socket (as wasmtime-wasi made them).
pub(super) fn count_streams<T: 'static>(
    table: &mut ResourceTable,
    socket: &Resource<T>,
    input: Resource<DynInputStream>,
    output: Resource<DynOutputStream>,
    counters: &Arc<NetCounters>,
) -> Result<
    (Resource<DynInputStream>, Resource<DynOutputStream>),
    wasmtime::component::ResourceTableError,
> {
    let inner = table.delete(input)?;
    let input: DynInputStream = Box::new(CountingInput {
        inner,
        counters: counters.clone(),
    });
    let input = table.push_child(input, socket)?;
    let inner = table.delete(output)?;
    let output: DynOutputStream = Box::new(CountingOutput {
        inner,
        counters: counters.clone(),
    });
    let output = table.push_child(output, socket)?;
    Ok((input, output))
}
