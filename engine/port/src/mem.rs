//! The `mem` backend: two ports joined back to back by in-process rings.
//!
//! What port A transmits on queue `q`, port B receives on queue `q`, and the
//! other way round. The rings are lock-free single-producer/single-consumer
//! queues of owned buffers, so the two ends may be polled by different threads.
//! This is the wire of the unit tests, the simulator (engine/sim) and the
//! benchmarks: frames cross it without a copy.

use crate::buf::{BufPool, PktBuf};
use crate::counters::QueueCounters;
use crate::{FrameBuf, MacAddr, Port, PortCaps, PortInfo, RxQueue, TxQueue};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

type Ring = Arc<ArrayQueue<PktBuf>>;

/// Sizes of a mem port pair.
#[derive(Clone, Copy, Debug)]
pub struct MemConfig {
    /// Queues in each direction (rx and tx count alike).
    pub queues: u16,
    /// Frames each ring holds.
    pub ring_size: usize,
    /// Buffers in each port's pool.
    pub pool_size: usize,
}

impl Default for MemConfig {
    fn default() -> Self {
        MemConfig {
            queues: 1,
            ring_size: 1024,
            pool_size: 4096,
        }
    }
}

/// One end of a mem port pair.
pub struct MemPort {
    info: PortInfo,
    rx_rings: Vec<Ring>,
    tx_rings: Vec<Ring>,
    pool: BufPool,
    counters: Vec<Arc<QueueCounters>>,
    taken: bool,
}

/// Creates two ports joined back to back; `a` and `b` name them (and their
/// MACs are derived from the names).
pub fn pair(a: &str, b: &str, cfg: MemConfig) -> (MemPort, MemPort) {
    let q = cfg.queues.max(1) as usize;
    let ab: Vec<Ring> = (0..q)
        .map(|_| Arc::new(ArrayQueue::new(cfg.ring_size.max(1))))
        .collect();
    let ba: Vec<Ring> = (0..q)
        .map(|_| Arc::new(ArrayQueue::new(cfg.ring_size.max(1))))
        .collect();
    let pa = MemPort::new(a, q, ba.clone(), ab.clone(), cfg.pool_size);
    let pb = MemPort::new(b, q, ab, ba, cfg.pool_size);
    (pa, pb)
}

impl MemPort {
    fn new(name: &str, q: usize, rx: Vec<Ring>, tx: Vec<Ring>, pool_size: usize) -> Self {
        MemPort {
            info: PortInfo {
                driver: "net_mem",
                name: name.to_string(),
                iface: None,
                mac: crate::mac_from_name(name),
                mtu: 1500,
                rxq: q as u16,
                txq: q as u16,
                caps: PortCaps::default(),
            },
            rx_rings: rx,
            tx_rings: tx,
            pool: BufPool::new(pool_size),
            counters: (0..2 * q)
                .map(|_| Arc::new(QueueCounters::default()))
                .collect(),
            taken: false,
        }
    }

    /// Overrides the MAC address (the simulator gives hosts fixed addresses).
    pub fn set_mac(&mut self, mac: MacAddr) {
        self.info.mac = mac;
    }

    /// The pool this port allocates from.
    pub fn pool(&self) -> &BufPool {
        &self.pool
    }
}

impl Port for MemPort {
    type Buf = PktBuf;
    type Rx = MemRx;
    type Tx = MemTx;

    fn info(&self) -> PortInfo {
        self.info.clone()
    }

    fn link_up(&self) -> bool {
        true
    }

    fn queue_counters(&self) -> Vec<Arc<QueueCounters>> {
        self.counters.clone()
    }

    fn take_queues(&mut self) -> (Vec<MemRx>, Vec<MemTx>) {
        if self.taken {
            return (Vec::new(), Vec::new());
        }
        self.taken = true;
        let q = self.rx_rings.len();
        let rx = self
            .rx_rings
            .iter()
            .enumerate()
            .map(|(i, r)| MemRx {
                ring: r.clone(),
                counters: self.counters[i].clone(),
            })
            .collect();
        let tx = self
            .tx_rings
            .iter()
            .enumerate()
            .map(|(i, r)| MemTx {
                ring: r.clone(),
                pool: self.pool.clone(),
                counters: self.counters[q + i].clone(),
            })
            .collect();
        (rx, tx)
    }
}

/// Receive queue of a mem port.
pub struct MemRx {
    ring: Ring,
    counters: Arc<QueueCounters>,
}

impl RxQueue for MemRx {
    type Buf = PktBuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<PktBuf>, max: usize) -> usize {
        let mut n = 0;
        let mut bytes = 0;
        while n < max {
            match self.ring.pop() {
                Some(b) => {
                    bytes += b.len() as u64;
                    out.push(b);
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.counters.rx_packets.add(n as u64);
            self.counters.rx_bytes.add(bytes);
        }
        n
    }
}

/// Transmit queue of a mem port.
pub struct MemTx {
    ring: Ring,
    pool: BufPool,
    counters: Arc<QueueCounters>,
}

impl TxQueue for MemTx {
    type Buf = PktBuf;

    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<PktBuf>) -> usize {
        // Single producer: the free room can only grow while we push.
        let room = self.ring.capacity() - self.ring.len();
        let n = room.min(bufs.len());
        let mut bytes = 0;
        for b in bufs.drain(..n) {
            bytes += b.len() as u64;
            // Cannot fail (see above); a failure would drop the buffer.
            let _ = self.ring.push(b);
        }
        if n > 0 {
            self.counters.tx_packets.add(n as u64);
            self.counters.tx_bytes.add(bytes);
        }
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
    fn frames_cross_both_ways_and_full_ring_refuses() {
        let (mut a, mut b) = pair(
            "a",
            "b",
            MemConfig {
                queues: 1,
                ring_size: 4,
                pool_size: 16,
            },
        );
        let (_arx, mut atx) = a.take_queues();
        let (mut brx, _btx) = b.take_queues();
        assert!(a.take_queues().0.is_empty(), "queues are handed out once");
        let mut out: Vec<PktBuf> = Vec::with_capacity(8);
        for i in 0..6u8 {
            let mut buf = atx[0].alloc().unwrap();
            buf.set_len(60);
            buf.data_mut()[0] = i;
            out.push(buf);
        }
        assert_eq!(atx[0].tx_burst(&mut out), 4);
        assert_eq!(out.len(), 2, "unsent frames stay with the caller");
        let mut got = Vec::with_capacity(8);
        assert_eq!(brx[0].rx_burst(&mut got, 32), 4);
        assert_eq!(got[3].data()[0], 3);
        let s = a.queue_counters()[1].snapshot();
        assert_eq!((s.tx_packets, s.tx_bytes), (4, 240));
        assert_eq!(b.queue_counters()[0].snapshot().rx_packets, 4);
    }
}
