//! The `mem` backend: two ports joined back to back by in-process rings.
//!
//! What port A transmits on queue `q`, port B receives on queue `q`, and the
//! other way round. The rings are lock-free single-producer/single-consumer
//! queues of owned buffers, so the two ends may be polled by different threads.
//! This is the wire of the unit tests, the simulator (engine/sim) and the
//! benchmarks: frames cross it without a copy.
//!
//! With [`MemConfig::offload`] the pair behaves as Linux's loopback device
//! does: checksums are neither filled nor verified (the bytes never leave
//! the process, so there is nothing to protect them from: the kernel's
//! `CHECKSUM_UNNECESSARY`), payload goes by reference ([`Tail`]), and a TCP
//! frame may carry up to 64 KiB of payload, delivered whole as TSO
//! followed by GRO would deliver it. It is what makes a mem pair a fair
//! peer for a server on loopback (bench/http); the default keeps every
//! frame a real, checksummed, MTU-sized Ethernet frame.

use crate::buf::{BufPool, PktBuf, SharedBytes};
use crate::counters::QueueCounters;
use crate::{MacAddr, Port, PortCaps, PortInfo, RxQueue, TxQueue, TSO_MAX};
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
    /// Loopback offloads (see the module text): no checksums, payload by
    /// reference and 64 KiB TCP super-segments.
    pub offload: bool,
}

impl Default for MemConfig {
    fn default() -> Self {
        MemConfig {
            queues: 1,
            ring_size: 1024,
            pool_size: 4096,
            offload: false,
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
    let pa = MemPort::new(a, q, ba.clone(), ab.clone(), cfg);
    let pb = MemPort::new(b, q, ab, ba, cfg);
    (pa, pb)
}

impl MemPort {
    fn new(name: &str, q: usize, rx: Vec<Ring>, tx: Vec<Ring>, cfg: MemConfig) -> Self {
        let o = cfg.offload;
        MemPort {
            info: PortInfo {
                driver: "net_mem",
                name: name.to_string(),
                iface: None,
                mac: crate::mac_from_name(name),
                mtu: 1500,
                rxq: q as u16,
                txq: q as u16,
                caps: PortCaps {
                    rx_ipv4_csum: o,
                    rx_l4_csum: o,
                    tx_csum: o,
                    tx_multi_seg: o,
                    tx_tso: o,
                },
            },
            rx_rings: rx,
            tx_rings: tx,
            pool: BufPool::new(cfg.pool_size),
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
                offload: self.info.caps.tx_tso,
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
                    bytes += b.wire_len() as u64;
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
    offload: bool,
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
            bytes += b.wire_len() as u64;
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

    #[inline]
    fn zero_copy(&self) -> bool {
        self.offload
    }

    #[inline]
    fn tx_csum(&self) -> bool {
        self.offload
    }

    // request_tcp_csum keeps its default (nothing): the receiving end of an
    // offloaded pair verifies no checksum, as loopback does.

    #[inline]
    fn tso_max(&self) -> usize {
        if self.offload {
            TSO_MAX
        } else {
            0
        }
    }

    fn attach_tail(
        &mut self,
        buf: &mut PktBuf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        self.offload && buf.attach(data, off, len, &self.counters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameBuf;

    #[test]
    fn frames_cross_both_ways_and_full_ring_refuses() {
        let (mut a, mut b) = pair(
            "a",
            "b",
            MemConfig {
                queues: 1,
                ring_size: 4,
                pool_size: 16,
                offload: false,
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

    #[test]
    fn an_offloaded_pair_carries_tails_and_says_so() {
        let cfg = MemConfig {
            offload: true,
            ..MemConfig::default()
        };
        let (mut a, mut b) = pair("a", "b", cfg);
        let caps = a.info().caps;
        assert!(caps.tx_tso && caps.tx_csum && caps.rx_l4_csum && caps.rx_ipv4_csum);
        let (_arx, mut atx) = a.take_queues();
        let (mut brx, _btx) = b.take_queues();
        let tx = &mut atx[0];
        assert!(tx.zero_copy() && tx.tx_csum());
        assert_eq!(tx.tso_max(), 65455);
        let obj: SharedBytes = Arc::new(vec![7u8; 70_000]);
        let mut buf = tx.alloc().unwrap();
        buf.set_len(54);
        assert!(!tx.attach_tail(&mut buf, &obj, 0, 65_456), "past TSO_MAX");
        assert!(tx.attach_tail(&mut buf, &obj, 100, 64_000));
        let mut out = vec![buf];
        assert_eq!(tx.tx_burst(&mut out), 1);
        let mut got = Vec::with_capacity(4);
        assert_eq!(brx[0].rx_burst(&mut got, 4), 1);
        assert_eq!((got[0].len(), got[0].tail_data().len()), (54, 64_000));
        let s = a.queue_counters()[1].snapshot();
        assert_eq!((s.tx_bytes, s.tx_zero_copy), (64_054, 1));
        // Without the offloads a mem port takes no tails.
        let (mut c, _d) = pair("c", "d", MemConfig::default());
        let (_crx, mut ctx) = c.take_queues();
        let mut buf = ctx[0].alloc().unwrap();
        buf.set_len(54);
        assert!(!ctx[0].attach_tail(&mut buf, &obj, 0, 100));
        assert_eq!(ctx[0].tso_max(), 0);
    }
}
