//! Ports: where frames enter and leave a node.
//!
//! A [`Port`] is split at start-up into receive and transmit queues ([`RxQueue`],
//! [`TxQueue`]). Each queue is owned by exactly one polling core for as long as
//! forwarding runs (DESIGN.md section 2, shared-nothing lcores), so the fast path
//! never locks. Frames move in bursts of owned buffers ([`FrameBuf`]): a pooled
//! fixed-size buffer on the `mem` and `tap` backends, an mbuf on the DPDK backend.
//! A buffer has headroom so that headers can be prepended in place, and dropping a
//! buffer gives it back to its pool. An empty pool is a counted drop, never an
//! allocation.
//!
//! Backends:
//! - [`mem`]: in-process queues between two ports, usable across threads; the wire
//!   for tests, the simulator and benchmarks;
//! - [`tap`]: a Linux TAP interface (`--vdev net_tap0,iface=NAME`);
//! - [`null`]: endless receive and free-on-transmit, as DPDK's net_null
//!   (`--vdev net_null0`), for forwarding benchmarks;
//! - `dpdk` (cargo feature `dpdk`): any DPDK ethdev (a NIC with `-a`, or the
//!   net_tap, net_null, net_ring and net_memif vdevs), with the mbuf as the
//!   frame buffer.
#![deny(unsafe_code)]

pub mod buf;
pub mod counters;
#[cfg(feature = "dpdk")]
#[allow(unsafe_code)] // FFI to DPDK: one of the two places unsafe lives (DESIGN.md section 2).
pub mod dpdk;
mod inet_csum;
pub mod mem;
pub mod null;
pub mod sw;
pub mod tap;

pub use buf::{BufPool, FrameBuf, PktBuf, SharedBytes, Tail, TxOffload};
pub use counters::{Counter, QueueCounters, QueueStats};

/// An Ethernet MAC address.
pub type MacAddr = [u8; 6];

/// What a port can do beyond plain frame I/O, read by the node at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCaps {
    /// The port verifies IPv4 header checksums on receive.
    pub rx_ipv4_csum: bool,
    /// The port verifies TCP/UDP checksums on receive.
    pub rx_l4_csum: bool,
    /// The port fills IPv4/TCP/UDP checksums on transmit.
    pub tx_csum: bool,
    /// The port sends chained (multi-segment) frames, e.g. a header buffer
    /// followed by zero-copy content.
    pub tx_multi_seg: bool,
    /// The port segments TCP in hardware (TSO).
    pub tx_tso: bool,
}

/// Static facts about a port, for `show port info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// Driver name in DPDK's spelling (`net_tap`, `net_mem`, ...).
    pub driver: &'static str,
    /// Device name as given on the command line (`net_tap0`).
    pub name: String,
    /// Kernel interface name, where there is one.
    pub iface: Option<String>,
    /// The MAC address the engine uses on this port.
    pub mac: MacAddr,
    /// Largest frame payload (L3) the port carries.
    pub mtu: u16,
    /// Number of receive queues.
    pub rxq: u16,
    /// Number of transmit queues.
    pub txq: u16,
    /// Offload capabilities.
    pub caps: PortCaps,
}

/// Memory that a port's device can read by DMA, handed out for the rest of
/// the process (the content cache's region, DESIGN.md section 2: zero-copy
/// content). On DPDK it is an EAL memzone: its IOVA is known to
/// `rte_mem_virt2iova` and the IOMMU (vfio) maps it, neither of which holds
/// for an anonymous mapping of the process.
pub struct DmaMemory {
    /// The bytes, exclusively the holder's.
    pub bytes: &'static mut [u8],
    /// Whether they lie on hugepages.
    pub huge: bool,
    /// What it is, for the log (`DPDK memzone ae_cache`).
    pub what: String,
}

impl std::fmt::Debug for DmaMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaMemory")
            .field("len", &self.bytes.len())
            .field("huge", &self.huge)
            .field("what", &self.what)
            .finish()
    }
}

/// A device that carries Ethernet frames, split into per-core queues.
///
/// The node is generic over its port type (`Node<P: Port>`), so every per-packet
/// call is statically dispatched.
pub trait Port: Send + 'static {
    /// The owned frame buffer this port receives into and transmits from.
    type Buf: FrameBuf;
    /// A receive queue.
    type Rx: RxQueue<Buf = Self::Buf>;
    /// A transmit queue.
    type Tx: TxQueue<Buf = Self::Buf>;

    /// Static facts about the port.
    fn info(&self) -> PortInfo;
    /// Whether the link is up now.
    fn link_up(&self) -> bool;
    /// Counters of every queue, in queue order (receive queues first, then transmit).
    fn queue_counters(&self) -> Vec<std::sync::Arc<QueueCounters>>;
    /// Hands out the receive and transmit queues. Called once; later calls return
    /// empty vectors because the queues are owned by the caller from then on.
    fn take_queues(&mut self) -> (Vec<Self::Rx>, Vec<Self::Tx>);
    /// Driver-specific extended statistics (`show port xstats all`), by name.
    /// Software ports have none beyond the queue counters.
    fn xstats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// `len` bytes that this port's device can read by DMA, for the content
    /// cache, or `None` when any process memory will do (software ports:
    /// the cache maps its own) or the port's allocator has no room (the
    /// cache then maps its own, and the port copies what it cannot point
    /// at). Asked once, at start.
    fn dma_memory(&self, len: usize) -> Option<DmaMemory> {
        let _ = len;
        None
    }
}

/// The receive side of one queue. Owned by one core.
pub trait RxQueue: Send + 'static {
    /// The frame buffer type.
    type Buf: FrameBuf;
    /// Appends up to `max` received frames to `out` and returns how many it added.
    /// `out` must have spare capacity for them: this call never allocates.
    fn rx_burst(&mut self, out: &mut Vec<Self::Buf>, max: usize) -> usize;
}

/// The transmit side of one queue. Owned by one core.
pub trait TxQueue: Send + 'static {
    /// The frame buffer type.
    type Buf: FrameBuf;
    /// Sends frames from the front of `bufs`, removes those it sent, and returns
    /// their number. Frames it could not send stay in `bufs`; the caller drops
    /// them and counts the drop (`tx_full`).
    fn tx_burst(&mut self, bufs: &mut Vec<Self::Buf>) -> usize;
    /// Takes an empty buffer from this queue's pool, or `None` (counted by the
    /// queue as `rx_nombuf`-style `alloc_failed`) when the pool is empty.
    fn alloc(&mut self) -> Option<Self::Buf>;

    /// Whether this queue sends payload by reference ([`TxQueue::attach_tail`]).
    /// The node asks once per segment and copies the payload when it is false.
    #[inline]
    fn zero_copy(&self) -> bool {
        false
    }

    /// Whether this queue fills IPv4 and TCP checksums on transmit
    /// ([`TxQueue::request_tcp_csum`], [`PortCaps::tx_csum`]).
    #[inline]
    fn tx_csum(&self) -> bool {
        false
    }

    /// Asks the port to fill the IPv4 header checksum and the TCP checksum of
    /// the frame in `buf` (headers of `l2_len` and `l3_len` bytes) on
    /// transmit. The TCP checksum field must hold the folded, uncomplemented
    /// sum of the pseudo header (RFC 9293 section 3.1), as DPDK's
    /// `rte_ipv4_phdr_cksum` gives. Only called when [`TxQueue::tx_csum`]
    /// is true; the default does nothing.
    #[inline]
    fn request_tcp_csum(&mut self, buf: &mut Self::Buf, l2_len: u8, l3_len: u16) {
        let _ = (buf, l2_len, l3_len);
    }

    /// Asks the port to cut the TCP payload of the frame in `buf` (headers
    /// of `l2_len`, `l3_len` and `l4_len` bytes) into segments of at most
    /// `mss` bytes on transmit (TSO, RFC 9293 section 3.7.1: no segment
    /// above the peer's MSS), each with its own IPv4 and TCP checksums.
    /// Called after [`TxQueue::request_tcp_csum`], for frames with more
    /// than `mss` payload bytes, only when [`TxQueue::tso_max`] is above
    /// zero; the default does nothing.
    #[inline]
    fn request_tso(&mut self, buf: &mut Self::Buf, l2_len: u8, l3_len: u16, l4_len: u16, mss: u16) {
        let _ = (buf, l2_len, l3_len, l4_len, mss);
    }

    /// The most TCP payload bytes one frame may carry for the port to cut
    /// into MSS-sized segments (TSO, [`PortCaps::tx_tso`]), or 0 when the
    /// port sends every frame as it is. Only payload attached by reference
    /// ([`TxQueue::attach_tail`]) goes in such super-segments.
    #[inline]
    fn tso_max(&self) -> usize {
        0
    }

    /// Appends `len` bytes of `data` from `off` to the frame in `buf` by
    /// reference, without copying them (zero-copy TX, DESIGN.md section 2): an
    /// external-buffer mbuf chained after the header mbuf on DPDK, the second
    /// iovec of a `writev` on TAP. The frame's own bytes must already be
    /// complete headers whose lengths and checksums cover the tail. The
    /// reference is held until the port is done with the frame. Returns false,
    /// leaving `buf` unchanged, when the queue does not take tails, the range
    /// is outside `data`, or no buffer is left for the tail.
    #[inline]
    fn attach_tail(
        &mut self,
        buf: &mut Self::Buf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        let _ = (buf, data, off, len);
        false
    }
}

/// Most TCP payload in one super-segment (TSO) on the software ports:
/// what an IPv4 total length of 65535 leaves after a 20-byte IPv4 header
/// and the largest TCP header (RFC 791, RFC 9293 section 3.1).
pub const TSO_MAX: usize = 65535 - 20 - 60;

/// Derives a stable locally administered unicast MAC from a name, so that an
/// engine port keeps its address across restarts (the kernel's neighbour tables
/// stay valid) and differs from the kernel side of a TAP.
pub fn mac_from_name(name: &str) -> MacAddr {
    // FNV-1a, 32 bits: stable across Rust versions, unlike DefaultHasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let b = h.to_be_bytes();
    [0x02, 0xae, b[0], b[1], b[2], b[3]]
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(mac: &MacAddr) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_from_name_is_stable_local_unicast() {
        let a = mac_from_name("ae0");
        assert_eq!(a, mac_from_name("ae0"));
        assert_ne!(a, mac_from_name("ae1"));
        assert_eq!(a[0] & 0x01, 0, "unicast");
        assert_eq!(a[0] & 0x02, 0x02, "locally administered");
        assert_eq!(fmt_mac(&[2, 0xae, 0, 1, 0x10, 0xff]), "02:ae:00:01:10:ff");
    }
}
