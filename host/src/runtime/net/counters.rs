//! Bytes and packets a task moved over its network, for its stats (`networks` in the
//! metadata endpoint's Docker-shaped stats). Counted where the host moves a guest's bytes:
//! its TCP streams, its datagrams and its outgoing wasi:http bodies. A "packet" is one
//! read, write or datagram (what the host sees), not a wire packet.

use std::sync::atomic::{AtomicU64, Ordering};

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
