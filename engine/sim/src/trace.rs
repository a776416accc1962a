//! One-line summaries of frames, for the simulator's timeline.

use anyedge_wire::{parse, ChecksumCaps, ARP_REQUEST, L3, L4};

/// Describes a frame the way tcpdump would, in one short line.
pub fn summarize(frame: &[u8]) -> String {
    match parse(frame, ChecksumCaps::default()) {
        Err(r) => format!("malformed ({})", r.name()),
        Ok(f) => match f.l3 {
            L3::Arp(a) if a.op == ARP_REQUEST && a.spa == a.tpa => {
                format!(
                    "ARP announce {} is-at {}",
                    a.spa,
                    anyedge_port::fmt_mac(&a.sha)
                )
            }
            L3::Arp(a) if a.op == ARP_REQUEST => format!("ARP who-has {} tell {}", a.tpa, a.spa),
            L3::Arp(a) => format!(
                "ARP reply {} is-at {}",
                a.spa,
                anyedge_port::fmt_mac(&a.sha)
            ),
            L3::Ipv4(ip) => {
                let what = match ip.l4 {
                    L4::Icmp(i) => {
                        let seq = u16::from_be_bytes([i.rest[2], i.rest[3]]);
                        match i.icmp_type {
                            8 => format!("ICMP echo request seq {seq}"),
                            0 => format!("ICMP echo reply seq {seq}"),
                            t => format!("ICMP type {t}"),
                        }
                    }
                    L4::Udp(u) => format!(
                        "UDP {} > {} len {}",
                        u.src_port,
                        u.dst_port,
                        u.payload.len()
                    ),
                    L4::Tcp(t) => format!(
                        "TCP {} > {} seq {} ack {} flags {:#04x} len {}",
                        t.src_port,
                        t.dst_port,
                        t.seq,
                        t.ack,
                        t.flags,
                        t.payload.len()
                    ),
                    L4::Other { protocol, .. } => format!("IP proto {protocol}"),
                };
                format!("{} > {}: {what}", ip.src, ip.dst)
            }
        },
    }
}
