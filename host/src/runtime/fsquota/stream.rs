//! Output streams over files (`write-via-stream`, `append-via-stream`) that reserve quota
//! for every chunk before handing it to wasmtime-wasi's file stream.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamError, StreamResult,
};

use super::quota::{BLOCK, Reservation, StorageQuota, growth};

/// How a stream's writes map to newly allocated blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charging {
    /// Writes at a position that advances: a block shared with the previous write is
    /// charged once, so small sequential writes cost their size, not a block each.
    At { pos: u64, charged_to: Option<u64> },
    /// Appends: the file's end is unknown, but `total` appended bytes allocate at most
    /// `ceil(total / BLOCK)` new blocks whatever the starting size.
    Append { total: u64 },
}

impl Charging {
    pub(crate) fn at(offset: u64) -> Self {
        Charging::At {
            pos: offset,
            charged_to: None,
        }
    }

    pub(crate) fn append() -> Self {
        Charging::Append { total: 0 }
    }

    /// Bytes to reserve for writing `len` more bytes, and the state once they are written.
    pub(crate) fn next(self, len: usize) -> (u64, Charging) {
        let len = len as u64;
        match self {
            Charging::At { pos, charged_to } => {
                let end = pos.saturating_add(len);
                if len == 0 {
                    return (0, self);
                }
                let (first, last) = (pos / BLOCK, (end - 1) / BLOCK);
                let start = match charged_to {
                    Some(done) if done >= first => done + 1,
                    _ => first,
                };
                let charge = match last.checked_sub(start) {
                    Some(n) => (n + 1).saturating_mul(BLOCK),
                    None => 0,
                };
                let charged_to = Some(charged_to.map_or(last, |done| done.max(last)));
                (
                    charge,
                    Charging::At {
                        pos: end,
                        charged_to,
                    },
                )
            }
            Charging::Append { total } => {
                let after = total.saturating_add(len);
                (growth(total, after), Charging::Append { total: after })
            }
        }
    }
}

/// A write accepted by the sync `write` that must wait for a re-measure, which only the
/// async `ready` may perform.
struct Deferred {
    bytes: Bytes,
    charge: u64,
    after: Charging,
    flush: bool,
}

/// Wraps the file stream wasmtime-wasi created; keeps its semantics and errors, and fails
/// with [`no_space`] when the task's quota refuses a chunk.
pub(crate) struct QuotaOutputStream {
    inner: DynOutputStream,
    quota: Arc<StorageQuota>,
    charging: Charging,
    /// Reservation for the write the inner stream is performing; kept once it completes.
    writing: Option<Reservation>,
    deferred: Option<Deferred>,
    /// An error to report on the next call, after which the stream is closed (as a failed
    /// wasmtime-wasi file stream does).
    failure: Option<StreamError>,
    closed: bool,
}

impl QuotaOutputStream {
    pub(crate) fn new(
        inner: DynOutputStream,
        quota: Arc<StorageQuota>,
        charging: Charging,
    ) -> Self {
        Self {
            inner,
            quota,
            charging,
            writing: None,
            deferred: None,
            failure: None,
            closed: false,
        }
    }

    fn check_failed(&mut self) -> StreamResult<()> {
        if let Some(e) = self.failure.take() {
            self.closed = true;
            return Err(e);
        }
        if self.closed {
            return Err(StreamError::Closed);
        }
        Ok(())
    }

    fn start_write(
        &mut self,
        bytes: Bytes,
        reservation: Reservation,
        after: Charging,
    ) -> StreamResult<()> {
        let len = bytes.len() as u64;
        match self.inner.write(bytes) {
            Ok(()) => {
                self.quota.note_written(len);
                self.charging = after;
                self.writing = Some(reservation);
                Ok(())
            }
            Err(e) => {
                reservation.release();
                Err(e)
            }
        }
    }
}

/// The refusal as a stream error: wasmtime-wasi's `filesystem-error-code` maps it to
/// `insufficient-space` (ENOSPC). Guests built with the wasip1 adapter (Rust's std file I/O)
/// never ask and report any stream failure as EIO.
pub(crate) fn no_space() -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::from(std::io::Error::from_raw_os_error(
        libc::ENOSPC,
    )))
}

#[wasmtime_wasi::async_trait]
impl OutputStream for QuotaOutputStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.check_failed()?;
        if self.deferred.is_some() {
            return Err(StreamError::trap(
                "write not permitted: check_write not called first",
            ));
        }
        let (charge, after) = self.charging.next(bytes.len());
        match self.quota.try_reserve(charge) {
            Some(reservation) => self.start_write(bytes, reservation, after),
            None => {
                self.deferred = Some(Deferred {
                    bytes,
                    charge,
                    after,
                    flush: false,
                });
                Ok(())
            }
        }
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.ready().await;
        self.check_failed()?;
        let (charge, after) = self.charging.next(bytes.len());
        let Some(reservation) = self.quota.reserve(charge).await else {
            self.closed = true;
            return Err(no_space());
        };
        self.charging = after;
        // Kept even on error: a failed stream write may have partly landed.
        let _reservation = reservation;
        let len = bytes.len() as u64;
        let written = self.inner.blocking_write_and_flush(bytes).await;
        if written.is_ok() {
            self.quota.note_written(len);
        }
        written
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.check_failed()?;
        match &mut self.deferred {
            Some(deferred) => {
                deferred.flush = true;
                Ok(())
            }
            None => self.inner.flush(),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.check_failed()?;
        if self.deferred.is_some() {
            return Ok(0);
        }
        let permit = self.inner.check_write();
        if !matches!(permit, Ok(0)) {
            // The previous write finished (or failed): its charge stays.
            self.writing = None;
        }
        permit
    }

    async fn cancel(&mut self) {
        self.deferred = None;
        self.inner.cancel().await;
        self.writing = None;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for QuotaOutputStream {
    async fn ready(&mut self) {
        // `ready` may be cancelled (a `poll` on several pollables), so the deferred write is
        // only taken once the quota has answered.
        if let Some(charge) = self.deferred.as_ref().map(|d| d.charge) {
            let outcome = self.quota.reserve(charge).await;
            match (self.deferred.take(), outcome) {
                (Some(deferred), Some(reservation)) => {
                    let started = self.start_write(deferred.bytes, reservation, deferred.after);
                    let flushed = started.and_then(|()| match deferred.flush {
                        true => self.inner.flush(),
                        false => Ok(()),
                    });
                    self.failure = flushed.err();
                }
                (Some(_), None) => self.failure = Some(no_space()),
                // Not reachable while we hold `&mut self`; give the space back regardless.
                (None, reservation) => reservation.into_iter().for_each(Reservation::release),
            }
        }
        self.inner.ready().await;
        self.writing = None;
    }
}

/// Wraps the file stream of `read-via-stream` to count the bytes it hands the guest.
pub(crate) struct CountedInputStream {
    inner: DynInputStream,
    quota: Arc<StorageQuota>,
}

impl CountedInputStream {
    pub(crate) fn new(inner: DynInputStream, quota: Arc<StorageQuota>) -> Self {
        Self { inner, quota }
    }

    fn count(&self, read: StreamResult<Bytes>) -> StreamResult<Bytes> {
        if let Ok(bytes) = &read {
            self.quota.note_read(bytes.len() as u64);
        }
        read
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for CountedInputStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let read = self.inner.read(size);
        self.count(read)
    }

    async fn blocking_read(&mut self, size: usize) -> StreamResult<Bytes> {
        let read = self.inner.blocking_read(size).await;
        self.count(read)
    }

    // Skipped bytes are not handed to the guest: not counted.
    fn skip(&mut self, nelem: usize) -> StreamResult<usize> {
        self.inner.skip(nelem)
    }

    async fn blocking_skip(&mut self, nelem: usize) -> StreamResult<usize> {
        self.inner.blocking_skip(nelem).await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountedInputStream {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_writes_charge_each_block_once() {
        let c = Charging::at(0);
        let (a, c) = c.next(100);
        let (b, c) = c.next(100);
        let (d, c) = c.next(4000);
        assert_eq!((a, b, d), (BLOCK, 0, BLOCK));
        assert_eq!(
            c,
            Charging::At {
                pos: 4200,
                charged_to: Some(1)
            }
        );
        let (e, _) = c.next(1 << 20);
        assert_eq!(e, 1 << 20);
    }

    #[test]
    fn unaligned_start_charges_partial_blocks() {
        let (charge, _) = Charging::at(BLOCK - 1).next(2);
        assert_eq!(charge, 2 * BLOCK);
        let (charge, _) = Charging::at(5).next(0);
        assert_eq!(charge, 0);
    }

    #[test]
    fn appends_charge_ceil_of_total() {
        let c = Charging::append();
        let (a, c) = c.next(10);
        let (b, c) = c.next(10);
        let (d, _) = c.next(BLOCK as usize);
        assert_eq!((a, b, d), (BLOCK, 0, BLOCK));
    }
}
