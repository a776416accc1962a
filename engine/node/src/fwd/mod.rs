//! Forwarding modes, in dpdk-testpmd's sense and with its names.
//!
//! Each mode is a small file with one `process` function that turns a received
//! burst into a burst to transmit (testpmd's `packet_fwd`). The lcore calls the
//! mode once per burst through a `match`, so there is no dynamic dispatch per
//! packet. io has no file: it touches no frame, and the lcore receives its
//! bursts straight into the transmit vector. Modes that forward (io, mac, macswap, txonly) send on the paired port
//! (0<->1, 2<->3, a lone last port to itself); modes that answer (icmpecho, cdn)
//! send on the port they received on.

pub mod cdn;
pub mod icmpecho;
pub mod mac;
pub mod macswap;
pub mod rxonly;
pub mod txonly;

use crate::arp::ArpCache;
use crate::config::Ipv4Net;
use crate::stats::StreamCounters;
use anyedge_port::{MacAddr, TxQueue};
use anyedge_wire::ChecksumCaps;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A forwarding mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwdMode {
    /// Frames go out unchanged on the paired port.
    Io,
    /// Source MAC set to the TX port's, destination to its peer's.
    Mac,
    /// Source and destination MAC swapped.
    MacSwap,
    /// Frames are received and freed.
    RxOnly,
    /// UDP frames are generated; received frames are freed.
    TxOnly,
    /// ARP and ICMP echo are answered; nothing else.
    IcmpEcho,
    /// The full stack: ARP, ICMP, TCP, HTTP, anycast, overlay.
    Cdn,
}

impl FwdMode {
    /// Every mode, in the order `show` lists them.
    pub const ALL: [FwdMode; 7] = [
        FwdMode::Io,
        FwdMode::Mac,
        FwdMode::MacSwap,
        FwdMode::RxOnly,
        FwdMode::TxOnly,
        FwdMode::IcmpEcho,
        FwdMode::Cdn,
    ];

    /// testpmd's name for the mode.
    pub fn name(self) -> &'static str {
        match self {
            FwdMode::Io => "io",
            FwdMode::Mac => "mac",
            FwdMode::MacSwap => "macswap",
            FwdMode::RxOnly => "rxonly",
            FwdMode::TxOnly => "txonly",
            FwdMode::IcmpEcho => "icmpecho",
            FwdMode::Cdn => "cdn",
        }
    }

    /// Parses a mode name.
    pub fn parse(s: &str) -> Option<FwdMode> {
        FwdMode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether the mode answers on the receiving port (rather than the paired one).
    pub fn answers_in_place(self) -> bool {
        matches!(self, FwdMode::IcmpEcho | FwdMode::Cdn)
    }

    /// Whether the mode needs the time of every poll. TCP's timers, RTT
    /// samples and timestamps (cdn) do; the other modes only stamp ARP
    /// entries, which a time some polls old serves as well, so their cores
    /// read the clock less often (a clock read per poll was 3% of io
    /// forwarding on net_null).
    pub fn needs_time_per_poll(self) -> bool {
        matches!(self, FwdMode::Cdn)
    }
}

/// What a core knows about one port.
#[derive(Clone, Copy, Debug)]
pub struct PortView {
    /// The engine's MAC on the port.
    pub mac: MacAddr,
    /// Address and subnet, when configured.
    pub net: Option<Ipv4Net>,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Destination MAC for `mac` and `txonly` modes (testpmd's `--eth-peer`).
    pub eth_peer: MacAddr,
    /// Checksums the port verifies in hardware.
    pub caps: ChecksumCaps,
}

impl PortView {
    /// The next hop toward `dst` from this port: `dst` itself on the
    /// port's subnet, the gateway otherwise (`None` without either).
    pub fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        match self.net {
            Some(n) if n.contains(dst) => Some(dst),
            Some(_) => self.gateway,
            None => None,
        }
    }
}

/// The node's addresses, shared read-only by every core.
#[derive(Clone, Debug, Default)]
pub struct Addrs {
    /// Per port, in port-id order.
    pub ports: Vec<PortView>,
    /// Anycast VIPs, served on every port.
    pub vips: Vec<Ipv4Addr>,
    /// Neighbours any core learned (`crate::arp`).
    pub neigh: Arc<crate::arp::NeighBoard>,
}

impl Addrs {
    /// Whether `ip` is one of ours on `port`: the port address or a VIP.
    #[inline]
    pub fn is_local(&self, port: u16, ip: Ipv4Addr) -> bool {
        let own = self
            .ports
            .get(port as usize)
            .and_then(|p| p.net)
            .is_some_and(|n| n.addr == ip);
        own || self.vips.contains(&ip)
    }

    /// The MAC of a port (zero for an unknown port).
    #[inline]
    pub fn mac(&self, port: u16) -> MacAddr {
        self.ports
            .get(port as usize)
            .map(|p| p.mac)
            .unwrap_or_default()
    }
}

/// Per-core state the modes share.
#[derive(Debug)]
pub struct FwdCtx {
    /// The node's addresses.
    pub addrs: Arc<Addrs>,
    /// Neighbours learned on this core.
    pub arp: ArpCache,
    /// Time of the current poll, nanoseconds.
    pub now: u64,
    /// Frames per burst.
    pub burst: usize,
    /// The core's TCP stack (`cdn` mode).
    pub tcp: Option<crate::tcp::TcpStack>,
}

impl FwdCtx {
    /// A context for a core.
    pub fn new(addrs: Arc<Addrs>) -> Self {
        FwdCtx {
            arp: ArpCache::with_board(256, addrs.neigh.clone()),
            addrs,
            now: 0,
            burst: 32,
            tcp: None,
        }
    }

    /// A context with a TCP stack sized from `cfg`, serving HTTP from
    /// `cache` when there is one.
    pub fn with_tcp(
        addrs: Arc<Addrs>,
        cfg: &crate::config::NodeConfig,
        core: crate::tcp::CoreSlot,
        cache: Option<Arc<anyedge_cache::Cache>>,
        http: Arc<crate::http::HttpCounters>,
        anycast: Option<Arc<crate::anycast::shared::AnycastShared>>,
        overlay: Option<Arc<crate::overlay::OverlayShared>>,
    ) -> Self {
        let mut c = FwdCtx::new(addrs);
        c.tcp = Some(crate::tcp::TcpStack::new(
            cfg, 1460, core, cache, http, anycast, overlay,
        ));
        c
    }
}

/// What a mode needs to know about the stream it serves.
#[derive(Clone, Copy, Debug)]
pub struct StreamMeta {
    /// Receiving port.
    pub rx_port: u16,
    /// Transmitting port.
    pub tx_port: u16,
}

/// A frame with a bare TCP segment `h` (no payload) from `src` to `dst`
/// out of `view`'s port, to the next hop's MAC from `arp`: the segments a
/// node sends on its own rather than in answer to a frame (replication
/// pokes, deferred RSTs). `None` without an ARP entry or a buffer.
pub(crate) fn bare_tcp_frame<T: TxQueue>(
    txq: &mut T,
    counters: &StreamCounters,
    view: &PortView,
    arp: &crate::arp::ArpCache,
    (src, dst): (Ipv4Addr, Ipv4Addr),
    h: &anyedge_wire::TcpHeader,
) -> Option<T::Buf> {
    let mac = view.next_hop(dst).and_then(|hop| arp.lookup(hop))?;
    frame_from(txq, counters, |buf| {
        anyedge_wire::emit_tcp(buf, mac, view.mac, None, src, dst, 64, h, &[])
    })
}

/// Moves `bufs` frames into a fresh buffer from `txq` and fills it with `bytes`.
/// Counts `no_buffer` when the pool is empty.
pub(crate) fn frame_from<T: TxQueue>(
    txq: &mut T,
    counters: &StreamCounters,
    build: impl FnOnce(&mut [u8]) -> Option<usize>,
) -> Option<T::Buf> {
    use anyedge_port::FrameBuf;
    let Some(mut b) = txq.alloc() else {
        counters.drop(crate::stats::NodeDrop::NoBuffer);
        return None;
    };
    let cap = b.capacity();
    b.set_len(cap);
    match build(b.data_mut()) {
        Some(len) => {
            b.set_len(len);
            Some(b)
        }
        None => {
            counters.drop(crate::stats::NodeDrop::NoBuffer);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_their_names() {
        for m in FwdMode::ALL {
            assert_eq!(FwdMode::parse(m.name()), Some(m));
        }
        assert_eq!(FwdMode::parse("5tswap"), None);
    }
}
