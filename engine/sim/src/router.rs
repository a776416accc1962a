//! The simulator's router: interfaces, a longest-prefix route table that a
//! scenario can change at any time (that is how anycast moves a client from
//! one node to another), ARP, and TTL handling (RFC 791, RFC 1812).

use crate::neigh::{on_arp, Neighbours};
use crate::Device;
use anyedge_node::config::Ipv4Net;
use anyedge_port::MacAddr;
use anyedge_wire::{checksum_update, parse, ChecksumCaps, Ipv4Addr, L3};
use std::any::Any;

/// One router interface.
#[derive(Clone, Copy, Debug)]
pub struct RouterIface {
    /// Its MAC.
    pub mac: MacAddr,
    /// Its address and subnet.
    pub net: Ipv4Net,
}

/// A route: traffic to `net` leaves by `iface`, to `via` (or directly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub net: Ipv4Net,
    /// Outgoing interface.
    pub iface: usize,
    /// Next hop; `None` for a connected subnet.
    pub via: Option<Ipv4Addr>,
}

/// A router.
pub struct Router {
    name: String,
    ifaces: Vec<RouterIface>,
    routes: Vec<Route>,
    neigh: Neighbours,
    out: Vec<(usize, Vec<u8>)>,
    /// Frames dropped: no route, TTL expired, or not parseable.
    pub dropped: u64,
    /// Frames forwarded.
    pub forwarded: u64,
}

impl Router {
    /// A router with connected routes for each interface.
    pub fn new(name: &str, ifaces: Vec<RouterIface>) -> Self {
        let routes = ifaces
            .iter()
            .enumerate()
            .map(|(i, f)| Route {
                net: f.net,
                iface: i,
                via: None,
            })
            .collect();
        Router {
            name: name.into(),
            ifaces,
            routes,
            neigh: Neighbours::default(),
            out: Vec::new(),
            dropped: 0,
            forwarded: 0,
        }
    }

    /// Adds or replaces the route for `net`.
    pub fn set_route(&mut self, net: Ipv4Net, iface: usize, via: Option<Ipv4Addr>) {
        self.routes.retain(|r| r.net != net);
        self.routes.push(Route { net, iface, via });
    }

    /// The route `dst` takes (longest prefix).
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Route> {
        self.routes
            .iter()
            .filter(|r| r.net.contains(dst))
            .max_by_key(|r| r.net.prefix)
            .copied()
    }

    fn forward(&mut self, now: u64, frame: &[u8], l3: usize, dst: Ipv4Addr, ttl: u8) {
        let Some(r) = self.lookup(dst) else {
            self.dropped += 1;
            return;
        };
        if ttl <= 1 {
            self.dropped += 1;
            return;
        }
        let mut f = frame.to_vec();
        // RFC 1812 5.3.1: decrement TTL; RFC 1624: update the checksum.
        let old = u16::from_be_bytes([f[l3 + 8], f[l3 + 9]]);
        f[l3 + 8] = ttl - 1;
        let new = u16::from_be_bytes([f[l3 + 8], f[l3 + 9]]);
        let ck = u16::from_be_bytes([f[l3 + 10], f[l3 + 11]]);
        f[l3 + 10..l3 + 12].copy_from_slice(&checksum_update(ck, old, new).to_be_bytes());
        let out_if = self.ifaces[r.iface];
        f[6..12].copy_from_slice(&out_if.mac);
        let hop = r.via.unwrap_or(dst);
        self.forwarded += 1;
        if let Some(x) = self
            .neigh
            .send(now, r.iface, hop, f, out_if.mac, out_if.net.addr)
        {
            self.out.push(x);
        }
    }
}

impl Device for Router {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, now: u64, port: usize, frame: &[u8]) {
        let Some(me) = self.ifaces.get(port).copied() else {
            return;
        };
        if frame.len() < 6 || (frame[..6] != me.mac && frame[..6] != [0xff; 6]) {
            return;
        }
        let Ok(f) = parse(frame, ChecksumCaps::default()) else {
            self.dropped += 1;
            return;
        };
        match f.l3 {
            L3::Arp(a) => {
                let out = on_arp(&mut self.neigh, port, &a, me.mac, me.net.addr);
                self.out.extend(out);
            }
            L3::Ipv4(ip) => {
                if self.ifaces.iter().any(|i| i.net.addr == ip.dst) {
                    return; // nothing is addressed to the router itself here
                }
                self.forward(now, frame, f.eth.l3_offset, ip.dst, ip.ttl);
            }
        }
    }

    fn poll(&mut self, _now: u64, out: &mut Vec<(usize, Vec<u8>)>) {
        out.append(&mut self.out);
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
