//! The `null` backend, after DPDK's net_null: receive always returns a full
//! burst of fixed-size frames from the port's pool, and transmit frees what it
//! is given. It measures the forwarding engine alone, with no wire and no peer,
//! exactly as `dpdk-testpmd --vdev net_null0 --vdev net_null1` does; the fwd
//! benchmark runs both side by side.
//!
//! As in net_null without `copy=1`, the frame bytes are not written on receive:
//! a frame holds whatever its buffer held before.

use crate::buf::{BufPool, PktBuf};
use crate::counters::QueueCounters;
use crate::{FrameBuf, Port, PortCaps, PortInfo, RxQueue, TxQueue};
use std::sync::Arc;

/// Frame length net_null reports by default (its `size` argument).
pub const DEFAULT_SIZE: usize = 64;

/// A null port.
pub struct NullPort {
    info: PortInfo,
    pool: BufPool,
    size: usize,
    counters: Vec<Arc<QueueCounters>>,
    taken: bool,
}

impl NullPort {
    /// A null port named `name` with `queues` queues, frames of `size` bytes and
    /// `pool_size` buffers.
    pub fn new(name: &str, queues: u16, size: usize, pool_size: usize) -> Self {
        let q = queues.max(1);
        NullPort {
            info: PortInfo {
                driver: "net_null",
                name: name.to_string(),
                iface: None,
                mac: crate::mac_from_name(name),
                mtu: 1500,
                rxq: q,
                txq: q,
                caps: PortCaps::default(),
            },
            pool: BufPool::new(pool_size),
            size: size.clamp(14, crate::buf::MAX_FRAME),
            counters: (0..2 * q as usize)
                .map(|_| Arc::new(QueueCounters::default()))
                .collect(),
            taken: false,
        }
    }
}

impl Port for NullPort {
    type Buf = PktBuf;
    type Rx = NullRx;
    type Tx = NullTx;

    fn info(&self) -> PortInfo {
        self.info.clone()
    }

    fn link_up(&self) -> bool {
        true
    }

    fn queue_counters(&self) -> Vec<Arc<QueueCounters>> {
        self.counters.clone()
    }

    fn take_queues(&mut self) -> (Vec<NullRx>, Vec<NullTx>) {
        if self.taken {
            return (Vec::new(), Vec::new());
        }
        self.taken = true;
        let q = self.info.rxq as usize;
        let rx = (0..q)
            .map(|i| NullRx {
                pool: self.pool.clone(),
                size: self.size,
                counters: self.counters[i].clone(),
            })
            .collect();
        let tx = (0..q)
            .map(|i| NullTx {
                pool: self.pool.clone(),
                counters: self.counters[q + i].clone(),
            })
            .collect();
        (rx, tx)
    }
}

/// Receive queue of a null port.
pub struct NullRx {
    pool: BufPool,
    size: usize,
    counters: Arc<QueueCounters>,
}

impl RxQueue for NullRx {
    type Buf = PktBuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<PktBuf>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(mut b) = self.pool.alloc() else {
                self.counters.alloc_failed.inc();
                break;
            };
            b.set_len(self.size);
            out.push(b);
            n += 1;
        }
        self.counters.rx_packets.add(n as u64);
        self.counters.rx_bytes.add((n * self.size) as u64);
        n
    }
}

/// Transmit queue of a null port.
pub struct NullTx {
    pool: BufPool,
    counters: Arc<QueueCounters>,
}

impl TxQueue for NullTx {
    type Buf = PktBuf;

    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<PktBuf>) -> usize {
        let n = bufs.len();
        let bytes: usize = bufs.iter().map(|b| b.len()).sum();
        bufs.clear();
        self.counters.tx_packets.add(n as u64);
        self.counters.tx_bytes.add(bytes as u64);
        n
    }

    #[inline]
    fn alloc(&mut self) -> Option<PktBuf> {
        let b = self.pool.alloc();
        if b.is_none() {
            self.counters.alloc_failed.inc();
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receives_full_bursts_and_frees_on_transmit() {
        let mut p = NullPort::new("net_null0", 1, 64, 64);
        let (mut rx, mut tx) = p.take_queues();
        let mut v = Vec::with_capacity(32);
        assert_eq!(rx[0].rx_burst(&mut v, 32), 32);
        assert!(v.iter().all(|b| b.len() == 64));
        assert_eq!(tx[0].tx_burst(&mut v), 32);
        assert!(v.is_empty());
        assert_eq!(rx[0].rx_burst(&mut v, 100), 64, "bounded by the pool");
        let s = p.queue_counters()[0].snapshot();
        assert_eq!((s.rx_packets, s.alloc_failed), (96, 1));
    }
}
