//! The engine as an HTTP client: one address behind a default gateway, ARP,
//! and the download client of [`download`] on the engine's own TCP.
//!
//! It is a host, not a node: there is no forwarding, no listener and no
//! lcore. `anyedge get` runs [`Fetcher`] on a real port (TAP, or any DPDK
//! port) in a polling loop, and the simulator's client hosts use the same
//! download client and [`HostLink::transmit`] in virtual time. That is the
//! client of the anycast takeover story (RFC 9293 reset, then a Range
//! request to the same VIP), tested against the engine and against nginx.

pub mod download;
pub mod neigh;
#[cfg(test)]
mod tests;

use crate::config::Ipv4Net;
use anyedge_port::{FrameBuf, MacAddr, Port, RxQueue, TxQueue};
use anyedge_tcp::conn::{Conn, Segment};
use anyedge_wire::{emit_tcp, parse_split, ChecksumCaps, Ipv4Addr, L3, L4};
use download::{Download, Sink};
use neigh::{on_arp, Neighbours};

/// A host's address, its subnet and its default gateway: what it needs to
/// address frames.
#[derive(Clone, Copy, Debug)]
pub struct HostLink {
    /// The host's MAC.
    pub mac: MacAddr,
    /// The host's address and subnet.
    pub net: Ipv4Net,
    /// Next hop for everything off the subnet.
    pub gateway: Ipv4Addr,
}

impl HostLink {
    /// The next hop for `dst`.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        if self.net.contains(dst) {
            dst
        } else {
            self.gateway
        }
    }

    /// Moves every segment `c` has to send into frames on `out` (as
    /// (port 0, frame)), through the neighbour table: a frame to an
    /// unresolved next hop is parked and an ARP request goes out instead.
    pub fn transmit(
        &self,
        c: &mut Conn,
        now: u64,
        payload: &mut [u8],
        neigh: &mut Neighbours,
        out: &mut Vec<(usize, Vec<u8>)>,
    ) {
        let (src, dst) = (*c.local.ip(), *c.remote.ip());
        while let Some(o) = c.poll_transmit(now, payload) {
            let mut buf = vec![0u8; 54 + 40 + o.payload_len];
            let n = emit_tcp(
                &mut buf,
                [0; 6],
                self.mac,
                None,
                src,
                dst,
                64,
                &o.hdr,
                &payload[..o.payload_len],
            )
            .unwrap_or(0);
            buf.truncate(n);
            if let Some(x) = neigh.send(now, 0, self.next_hop(dst), buf, self.mac, self.net.addr) {
                out.push(x);
            }
        }
    }
}

/// Counters of a [`Fetcher`], printed by `anyedge get -v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Frames received.
    pub rx: u64,
    /// Frames sent.
    pub tx: u64,
    /// Frames that failed to parse (bad checksum, truncated, ...).
    pub malformed: u64,
    /// Frames for another host or another connection.
    pub ignored: u64,
    /// Frames dropped because the port had no free buffer or a full queue.
    pub tx_dropped: u64,
}

/// One download on queue 0 of a port, polled by the caller's loop.
pub struct Fetcher<P: Port, S: Sink> {
    rx: P::Rx,
    tx: P::Tx,
    link: HostLink,
    /// Checksums the port verified already (see [`PortCaps`](anyedge_port::PortCaps)).
    caps: ChecksumCaps,
    neigh: Neighbours,
    /// The download.
    pub download: Download<S>,
    rx_bufs: Vec<P::Buf>,
    tx_bufs: Vec<P::Buf>,
    out: Vec<(usize, Vec<u8>)>,
    scratch: Vec<u8>,
    payload: Vec<u8>,
    /// Counters.
    pub stats: FetchStats,
}

impl<P: Port, S: Sink> Fetcher<P, S> {
    /// Takes queue 0 of `port` for `download` from `net` behind `gateway`.
    pub fn new(
        mut port: P,
        net: Ipv4Net,
        gateway: Ipv4Addr,
        download: Download<S>,
    ) -> Result<Self, String> {
        let info = port.info();
        let (mut rxs, mut txs) = port.take_queues();
        if rxs.is_empty() || txs.is_empty() {
            return Err("the port has no queues".into());
        }
        Ok(Fetcher {
            rx: rxs.swap_remove(0),
            tx: txs.swap_remove(0),
            link: HostLink {
                mac: info.mac,
                net,
                gateway,
            },
            caps: crate::node::rx_checksum_caps(&info.caps),
            neigh: Neighbours::default(),
            download,
            rx_bufs: Vec::with_capacity(32),
            tx_bufs: Vec::with_capacity(64),
            out: Vec::new(),
            scratch: vec![0u8; 256 * 1024],
            payload: vec![0u8; 65536],
            stats: FetchStats::default(),
        })
    }

    /// The host's MAC.
    pub fn mac(&self) -> MacAddr {
        self.link.mac
    }

    /// Receives a burst, runs the download and sends what it produced.
    /// Returns whether any frame moved (the caller may rest when none did).
    pub fn poll(&mut self, now: u64) -> bool {
        let got = self.rx.rx_burst(&mut self.rx_bufs, 32);
        self.stats.rx += got as u64;
        let bufs = std::mem::take(&mut self.rx_bufs);
        for b in &bufs {
            self.receive(now, b.data(), b.tail_data());
        }
        self.rx_bufs = bufs;
        self.rx_bufs.clear();
        self.download
            .run(now, self.link.net.addr, &mut self.scratch);
        if let Some(c) = self.download.conn.as_mut() {
            self.link
                .transmit(c, now, &mut self.payload, &mut self.neigh, &mut self.out);
        }
        let sent = !self.out.is_empty();
        self.flush();
        got > 0 || sent
    }

    /// One frame: its own bytes and what its sender attached by reference.
    fn receive(&mut self, now: u64, frame: &[u8], tail: &[u8]) {
        let mine = frame.len() >= 6 && (frame[..6] == self.link.mac || frame[..6] == [0xff; 6]);
        if !mine {
            self.stats.ignored += 1;
            return;
        }
        let Ok(f) = parse_split(frame, tail, self.caps) else {
            self.stats.malformed += 1;
            return;
        };
        match f.l3 {
            L3::Arp(a) => {
                let out = on_arp(&mut self.neigh, 0, &a, self.link.mac, self.link.net.addr);
                self.out.extend(out);
            }
            L3::Ipv4(ip) if ip.dst == self.link.net.addr => {
                let L4::Tcp(t) = ip.l4 else {
                    self.stats.ignored += 1;
                    return;
                };
                let Ok(seg) = Segment::from_wire(&t) else {
                    self.stats.malformed += 1;
                    return;
                };
                match self.download.conn.as_mut() {
                    Some(c)
                        if c.local.port() == t.dst_port
                            && *c.remote.ip() == ip.src
                            && c.remote.port() == t.src_port =>
                    {
                        c.handle_segment(now, &seg)
                    }
                    // An old connection's segment: a host without a matching
                    // socket would answer with a RST; staying silent is
                    // enough here because the server's own timers end it.
                    _ => self.stats.ignored += 1,
                }
            }
            L3::Ipv4(_) => self.stats.ignored += 1,
        }
    }

    fn flush(&mut self) {
        for (_, frame) in self.out.drain(..) {
            match self.tx.alloc() {
                Some(mut b) => {
                    if b.set_len(frame.len()) {
                        b.data_mut().copy_from_slice(&frame);
                        self.tx_bufs.push(b);
                    } else {
                        self.stats.tx_dropped += 1;
                    }
                }
                None => self.stats.tx_dropped += 1,
            }
        }
        while !self.tx_bufs.is_empty() {
            let n = self.tx.tx_burst(&mut self.tx_bufs);
            self.stats.tx += n as u64;
            if n == 0 {
                self.stats.tx_dropped += self.tx_bufs.len() as u64;
                self.tx_bufs.clear();
            }
        }
    }
}
