//! The simulator's own client host: an address, a default gateway, ARP, and
//! `ping`. Later issues give it a TCP client built on the engine's TCP core.

use crate::neigh::{on_arp, Neighbours};
use crate::Device;
use anyedge_node::config::Ipv4Net;
use anyedge_port::MacAddr;
use anyedge_wire::{emit_icmp_echo, parse, ChecksumCaps, Ipv4Addr, ICMP_ECHO_REPLY, L3, L4};
use std::any::Any;

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

    fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        if self.net.contains(dst) {
            dst
        } else {
            self.gateway
        }
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
            if let Some(x) = self.neigh.send(0, hop, buf, self.mac, self.net.addr) {
                self.out.push(x);
            }
            let p = &mut self.pings[i];
            p.sent_at.push(now);
            p.sent += 1;
            p.next_at = now + p.interval_ns;
        }
        out.append(&mut self.out);
    }

    fn next_wakeup(&self, now: u64) -> Option<u64> {
        self.pings
            .iter()
            .filter(|p| p.sent < p.count)
            .map(|p| p.next_at.max(now + 1))
            .min()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
