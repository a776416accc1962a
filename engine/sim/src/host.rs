//! The simulator's own client host: an address, a default gateway, ARP,
//! `ping`, and TCP clients built on the engine's sans-IO TCP core (an echo
//! transfer that checks every byte that comes back).

use crate::neigh::{on_arp, Neighbours};
use crate::Device;
use anyedge_node::client::HostLink;
use anyedge_node::config::Ipv4Net;
use anyedge_port::MacAddr;
use anyedge_tcp::conn::{Conn, ConnConfig, Segment};
use anyedge_wire::{emit_icmp_echo, parse, ChecksumCaps, Ipv4Addr, ICMP_ECHO_REPLY, L3, L4};
use std::any::Any;
use std::net::SocketAddrV4;

/// The byte at `i` of a transfer's data (a pattern the receiver can check).
pub fn pattern(i: usize) -> u8 {
    ((i as u64).wrapping_mul(2_654_435_761) >> 11) as u8
}

/// A TCP client that sends `bytes` to an echo service and checks what comes back.
#[derive(Debug)]
pub struct EchoJob {
    /// The connection, once started.
    pub conn: Option<Conn>,
    cfg: ConnConfig,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    /// When the connection opens.
    pub start_at: u64,
    /// Bytes to send.
    pub bytes: usize,
    /// Bytes sent so far.
    pub sent: usize,
    /// Bytes received and checked so far.
    pub received: usize,
    /// Offset of the first byte that did not match, if any.
    pub mismatch: Option<usize>,
    /// When every byte came back.
    pub done_at: Option<u64>,
}

/// One `ping` run and its results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// Target address.
    pub target: Ipv4Addr,
    /// ICMP identifier.
    pub id: u16,
    /// Echo requests to send.
    pub count: u16,
    /// Interval between them, nanoseconds.
    pub interval_ns: u64,
    /// When the next one goes out.
    pub next_at: u64,
    /// Requests sent so far.
    pub sent: u16,
    /// Send time of each sequence number.
    pub sent_at: Vec<u64>,
    /// (sequence, round-trip time in ns) of each reply.
    pub replies: Vec<(u16, u64)>,
}

/// A client host.
pub struct Host {
    name: String,
    mac: MacAddr,
    net: Ipv4Net,
    gateway: Ipv4Addr,
    neigh: Neighbours,
    out: Vec<(usize, Vec<u8>)>,
    /// Ping runs, in the order started.
    pub pings: Vec<Ping>,
    /// TCP echo transfers.
    pub echoes: Vec<EchoJob>,
    /// HTTP downloads.
    pub downloads: Vec<crate::download::Download>,
    scratch: Vec<u8>,
    payload: Vec<u8>,
}

impl Host {
    /// A host on `net` behind `gateway`.
    pub fn new(name: &str, mac: MacAddr, net: Ipv4Net, gateway: Ipv4Addr) -> Self {
        Host {
            name: name.into(),
            mac,
            net,
            gateway,
            neigh: Neighbours::default(),
            out: Vec::new(),
            pings: Vec::new(),
            echoes: Vec::new(),
            downloads: Vec::new(),
            scratch: vec![0u8; 65536],
            payload: vec![0u8; 65536],
        }
    }

    /// Starts an echo transfer of `bytes` to `remote` at `at`; returns its index.
    pub fn tcp_echo(
        &mut self,
        remote: SocketAddrV4,
        bytes: usize,
        at: u64,
        cfg: ConnConfig,
    ) -> usize {
        let local = SocketAddrV4::new(self.net.addr, 40000 + self.echoes.len() as u16);
        self.echoes.push(EchoJob {
            conn: None,
            cfg,
            local,
            remote,
            start_at: at,
            bytes,
            sent: 0,
            received: 0,
            mismatch: None,
            done_at: None,
        });
        self.echoes.len() - 1
    }

    fn run_echoes(&mut self, now: u64) {
        let link = self.link();
        for i in 0..self.echoes.len() {
            let j = &mut self.echoes[i];
            if j.conn.is_none() && now >= j.start_at && j.done_at.is_none() {
                j.conn = Some(Conn::connect(
                    j.cfg,
                    j.local,
                    j.remote,
                    0x1000 + i as u32,
                    now,
                ));
            }
            let Some(c) = j.conn.as_mut() else { continue };
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
            // Send what fits, read and check what came back.
            while j.sent < j.bytes {
                let n = (j.bytes - j.sent)
                    .min(self.scratch.len())
                    .min(c.send_room());
                if n == 0 {
                    break;
                }
                for (k, b) in self.scratch[..n].iter_mut().enumerate() {
                    *b = pattern(j.sent + k);
                }
                j.sent += c.send(&self.scratch[..n]);
            }
            loop {
                let n = c.recv(&mut self.scratch);
                if n == 0 {
                    break;
                }
                for (k, &b) in self.scratch[..n].iter().enumerate() {
                    if j.mismatch.is_none() && b != pattern(j.received + k) {
                        j.mismatch = Some(j.received + k);
                    }
                }
                j.received += n;
            }
            if j.received >= j.bytes && j.done_at.is_none() {
                j.done_at = Some(now);
                c.close();
            }
            link.transmit(c, now, &mut self.payload, &mut self.neigh, &mut self.out);
        }
    }

    /// Starts an HTTP download of `path` from `remote` at `at` (resuming with
    /// Range after a reset); returns its index.
    pub fn download(
        &mut self,
        remote: SocketAddrV4,
        path: &str,
        at: u64,
        cfg: ConnConfig,
    ) -> usize {
        let first_port = 50000 + 100 * self.downloads.len() as u16;
        self.downloads.push(crate::download::Download::new(
            remote, path, at, cfg, first_port,
        ));
        self.downloads.len() - 1
    }

    fn run_downloads(&mut self, now: u64) {
        let link = self.link();
        for d in self.downloads.iter_mut() {
            d.run(now, self.net.addr, &mut self.scratch);
            if let Some(c) = d.conn.as_mut() {
                link.transmit(c, now, &mut self.payload, &mut self.neigh, &mut self.out);
            }
        }
    }

    /// Starts `ping -c count -i interval target` at `at`; returns its index.
    pub fn ping(&mut self, target: Ipv4Addr, count: u16, interval_ns: u64, at: u64) -> usize {
        self.pings.push(Ping {
            target,
            id: 0x4000 + self.pings.len() as u16,
            count,
            interval_ns,
            next_at: at,
            sent: 0,
            sent_at: Vec::new(),
            replies: Vec::new(),
        });
        self.pings.len() - 1
    }

    fn link(&self) -> HostLink {
        HostLink {
            mac: self.mac,
            net: self.net,
            gateway: self.gateway,
        }
    }

    fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.link().next_hop(dst)
    }
}

impl Device for Host {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, now: u64, port: usize, frame: &[u8]) {
        if frame.len() < 6 || (frame[..6] != self.mac && frame[..6] != [0xff; 6]) {
            return;
        }
        let Ok(f) = parse(frame, ChecksumCaps::default()) else {
            return;
        };
        match f.l3 {
            L3::Arp(a) => {
                let out = on_arp(&mut self.neigh, port, &a, self.mac, self.net.addr);
                self.out.extend(out);
            }
            L3::Ipv4(ip) if ip.dst == self.net.addr => {
                if let L4::Tcp(t) = ip.l4 {
                    let Ok(seg) = Segment::from_wire(&t) else {
                        return;
                    };
                    let conns = self
                        .echoes
                        .iter_mut()
                        .filter_map(|j| j.conn.as_mut())
                        .chain(self.downloads.iter_mut().filter_map(|d| d.conn.as_mut()));
                    for c in conns {
                        {
                            if c.local.port() == t.dst_port
                                && *c.remote.ip() == ip.src
                                && c.remote.port() == t.src_port
                            {
                                c.handle_segment(now, &seg);
                            }
                        }
                    }
                    return;
                }
                if let L4::Icmp(i) = ip.l4 {
                    if i.icmp_type != ICMP_ECHO_REPLY {
                        return;
                    }
                    let id = u16::from_be_bytes([i.rest[0], i.rest[1]]);
                    let seq = u16::from_be_bytes([i.rest[2], i.rest[3]]);
                    if let Some(p) = self
                        .pings
                        .iter_mut()
                        .find(|p| p.id == id && p.target == ip.src)
                    {
                        if let Some(&t) = p.sent_at.get(seq as usize) {
                            if !p.replies.iter().any(|r| r.0 == seq) {
                                p.replies.push((seq, now - t));
                            }
                        }
                    }
                }
            }
            L3::Ipv4(_) => {}
        }
    }

    fn poll(&mut self, now: u64, out: &mut Vec<(usize, Vec<u8>)>) {
        for i in 0..self.pings.len() {
            let p = &self.pings[i];
            if p.sent >= p.count || p.next_at > now {
                continue;
            }
            let (target, id, seq) = (p.target, p.id, p.sent);
            let mut buf = vec![0u8; 128];
            let payload = *b"anyedge-sim-ping";
            let n = emit_icmp_echo(
                &mut buf,
                [0; 6],
                self.mac,
                None,
                self.net.addr,
                target,
                true,
                id,
                seq,
                &payload,
            )
            .unwrap_or(0);
            buf.truncate(n);
            let hop = self.next_hop(target);
            if let Some(x) = self.neigh.send(now, 0, hop, buf, self.mac, self.net.addr) {
                self.out.push(x);
            }
            let p = &mut self.pings[i];
            p.sent_at.push(now);
            p.sent += 1;
            p.next_at = now + p.interval_ns;
        }
        self.run_echoes(now);
        self.run_downloads(now);
        out.append(&mut self.out);
    }

    fn next_wakeup(&self, now: u64) -> Option<u64> {
        let pings = self
            .pings
            .iter()
            .filter(|p| p.sent < p.count)
            .map(|p| p.next_at.max(now + 1));
        let tcp = self.echoes.iter().filter_map(|j| match &j.conn {
            None if j.done_at.is_none() => Some(j.start_at.max(now + 1)),
            None => None,
            Some(c) => c.poll_timeout().map(|t| t.max(now + 1)),
        });
        let dl = self.downloads.iter().filter_map(|d| d.next_wakeup(now));
        pings.chain(tcp).chain(dl).min()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
