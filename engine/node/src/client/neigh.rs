//! Neighbour resolution for the simulator's own hosts and router (RFC 826):
//! a table, and frames parked until their next hop answers.

use anyedge_port::MacAddr;
use anyedge_wire::{emit_arp, Arp, Ipv4Addr, ARP_REPLY, ARP_REQUEST};
use std::collections::HashMap;

/// Frames parked per unresolved next hop, at most.
const MAX_PARKED: usize = 64;

/// A neighbour table with parked frames.
#[derive(Debug, Default)]
pub struct Neighbours {
    table: HashMap<Ipv4Addr, MacAddr>,
    parked: Vec<(Ipv4Addr, usize, Vec<u8>)>,
    asked: HashMap<Ipv4Addr, u64>,
}

/// Interval between ARP requests for one address (RFC 1122 2.3.2.1: at most
/// one per second).
const ARP_RETRY_NS: u64 = 1_000_000_000;

impl Neighbours {
    /// The MAC of `ip`, if known.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.table.get(&ip).copied()
    }

    /// Learns a mapping and returns the frames that were waiting for it, with
    /// their destination MAC filled in, as (port, frame).
    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr) -> Vec<(usize, Vec<u8>)> {
        self.table.insert(ip, mac);
        let mut out = Vec::new();
        self.parked.retain_mut(|(hop, port, frame)| {
            if *hop == ip {
                frame[..6].copy_from_slice(&mac);
                out.push((*port, std::mem::take(frame)));
                false
            } else {
                true
            }
        });
        out
    }

    /// Sends `frame` to `hop` on `port`: fills the destination MAC when known,
    /// otherwise parks the frame and returns an ARP request to send instead.
    pub fn send(
        &mut self,
        now: u64,
        port: usize,
        hop: Ipv4Addr,
        mut frame: Vec<u8>,
        my_mac: MacAddr,
        my_ip: Ipv4Addr,
    ) -> Option<(usize, Vec<u8>)> {
        if let Some(mac) = self.lookup(hop) {
            frame[..6].copy_from_slice(&mac);
            return Some((port, frame));
        }
        if self.parked.len() < MAX_PARKED {
            self.parked.push((hop, port, frame));
        }
        // Ask again if the last request (or its answer) may have been lost.
        let due = self
            .asked
            .get(&hop)
            .is_none_or(|&t| now >= t + ARP_RETRY_NS);
        if !due {
            return None;
        }
        self.asked.insert(hop, now);
        Some((
            port,
            arp_frame(ARP_REQUEST, my_mac, my_ip, [0xff; 6], [0; 6], hop),
        ))
    }
}

/// Builds an ARP frame.
pub fn arp_frame(
    op: u16,
    sha: MacAddr,
    spa: Ipv4Addr,
    eth_dst: MacAddr,
    tha: MacAddr,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let n = emit_arp(
        &mut buf,
        eth_dst,
        None,
        &Arp {
            op,
            sha,
            spa,
            tha,
            tpa,
        },
    )
    .unwrap_or(0);
    buf.truncate(n);
    buf
}

/// Answers an ARP request for `my_ip`, learning the sender; returns the
/// reply and any frames released by learning.
pub fn on_arp(
    n: &mut Neighbours,
    port: usize,
    a: &Arp,
    my_mac: MacAddr,
    my_ip: Ipv4Addr,
) -> Vec<(usize, Vec<u8>)> {
    if a.tpa != my_ip {
        return Vec::new();
    }
    let mut out = n.learn(a.spa, a.sha);
    if a.op == ARP_REQUEST {
        out.push((
            port,
            arp_frame(ARP_REPLY, my_mac, my_ip, a.sha, a.sha, a.spa),
        ));
    }
    out
}
