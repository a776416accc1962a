//! Fuzz `anyedge_wire::parse`: arbitrary bytes must never panic, and the
//! in-place ARP / ICMP echo replies to accepted requests must parse again.
//! The same bytes in two parts (`parse_split`, a frame with a tail sent by
//! reference) parse only when the whole frame does, to the same segment.
//!
//! Each input is tried as-is and once more with its IPv4 and L4 checksums
//! fixed up, so that the fuzzer reaches the paths behind checksum checks.
#![no_main]

use anyedge_wire::{
    arp_reply_in_place, checksum, fold, icmp_echo_reply_in_place, parse, parse_tcp_options,
    parse_split, pseudo_header_sum, sum_words, ChecksumCaps, Ipv4Addr, ARP_REPLY, ARP_REQUEST, ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, L3, L4,
};
use libfuzzer_sys::fuzz_target;

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut fixed = data.to_vec();
    if fix_checksums(&mut fixed) {
        check(&fixed);
    }
});

fn check(data: &[u8]) {
    check_split(data);
    for caps in [
        ChecksumCaps::default(),
        ChecksumCaps {
            ipv4_verified: true,
            l4_verified: true,
        },
    ] {
        let Ok(frame) = parse(data, caps) else {
            continue;
        };
        match frame.l3 {
            L3::Arp(arp) if arp.op == ARP_REQUEST => {
                let mut copy = data.to_vec();
                let n = arp_reply_in_place(&mut copy, &frame.eth, OUR_MAC);
                let reply =
                    parse(&copy[..n], ChecksumCaps::default()).expect("ARP reply must parse");
                let L3::Arp(r) = reply.l3 else {
                    panic!("reply not ARP")
                };
                assert_eq!(
                    (r.op, r.spa, r.tpa, r.tha),
                    (ARP_REPLY, arp.tpa, arp.spa, arp.sha)
                );
            }
            L3::Arp(_) => {}
            L3::Ipv4(ip) => match ip.l4 {
                L4::Icmp(icmp) if icmp.icmp_type == ICMP_ECHO_REQUEST => {
                    let mut copy = data.to_vec();
                    let n = icmp_echo_reply_in_place(&mut copy, &frame.eth, OUR_MAC);
                    // The reply recomputes the IP checksum, so verify fully
                    // even when the request was accepted on caps.
                    let reply = parse(&copy[..n], ChecksumCaps::default())
                        .expect("ICMP echo reply must parse");
                    let L3::Ipv4(rip) = reply.l3 else {
                        panic!("reply not IPv4")
                    };
                    let L4::Icmp(r) = rip.l4 else {
                        panic!("reply not ICMP")
                    };
                    assert_eq!(r.icmp_type, ICMP_ECHO_REPLY);
                    assert_eq!((r.code, r.rest, r.data), (icmp.code, icmp.rest, icmp.data));
                    assert_eq!((rip.src, rip.dst, rip.ttl), (ip.dst, ip.src, 64));
                }
                L4::Tcp(tcp) => {
                    let _ = parse_tcp_options(tcp.options);
                }
                _ => {}
            },
        }
    }
}

/// Splits `data` at a point its last byte picks and, where the whole frame
/// is TCP, right after the headers: a split parse must agree with the
/// whole one.
fn check_split(data: &[u8]) {
    let whole = parse(data, ChecksumCaps::default());
    let mut cuts = vec![usize::from(data.last().copied().unwrap_or(0)) % (data.len() + 1)];
    if let Ok(f) = &whole {
        if let L3::Ipv4(ip) = f.l3 {
            if let L4::Tcp(t) = ip.l4 {
                // Exactly the headers in front, no padding behind.
                if ip.l4_offset + t.header_len + t.payload.len() == data.len() {
                    cuts.push(ip.l4_offset + t.header_len);
                }
            }
        }
    }
    for cut in cuts {
        let (head, tail) = data.split_at(cut);
        let Ok(split) = parse_split(head, tail, ChecksumCaps::default()) else {
            continue;
        };
        if tail.is_empty() {
            assert_eq!(Ok(split), whole);
            continue;
        }
        let (Ok(w), L3::Ipv4(sip)) = (&whole, split.l3) else {
            panic!("a split frame parsed that is not valid whole");
        };
        let (L3::Ipv4(wip), L4::Tcp(st)) = (w.l3, sip.l4) else {
            panic!("a split frame that is not TCP");
        };
        let L4::Tcp(wt) = wip.l4 else {
            panic!("whole frame not TCP")
        };
        assert_eq!((st.seq, st.payload), (wt.seq, wt.payload));
    }
}

/// Recomputes the IPv4 header checksum and the TCP/UDP/ICMP checksum of a
/// plausible frame in place. Returns false when there was nothing to fix.
fn fix_checksums(f: &mut [u8]) -> bool {
    let mut l3 = 12;
    let mut ethertype = 0;
    for _ in 0..3 {
        let Some(t) = f.get(l3..l3 + 2) else {
            return false;
        };
        ethertype = u16::from_be_bytes([t[0], t[1]]);
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            l3 += 4;
        } else {
            break;
        }
    }
    l3 += 2;
    if ethertype != 0x0800 {
        return false;
    }
    let Some(&vihl) = f.get(l3) else {
        return false;
    };
    let hl = usize::from(vihl & 0x0f) * 4;
    let Some(h) = f.get(l3..l3 + 4) else {
        return false;
    };
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if hl < 20 || total < hl {
        return false;
    }
    let Some(ip) = f.get_mut(l3..l3 + total) else {
        return false;
    };
    let (hdr, l4) = ip.split_at_mut(hl);
    hdr[10..12].fill(0);
    let c = checksum(hdr);
    hdr[10..12].copy_from_slice(&c.to_be_bytes());
    let src = Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15]);
    let dst = Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19]);
    let (at, seg) = match hdr[9] {
        IPPROTO_ICMP if l4.len() >= 8 => (2, &mut l4[..]),
        IPPROTO_TCP if l4.len() >= 20 => (16, &mut l4[..]),
        IPPROTO_UDP if l4.len() >= 8 => {
            let len = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
            match l4.get_mut(..len) {
                Some(seg) if len >= 8 => (6, seg),
                _ => return true,
            }
        }
        _ => return true,
    };
    seg[at..at + 2].fill(0);
    let init = match hdr[9] {
        IPPROTO_ICMP => 0,
        proto => pseudo_header_sum(src, dst, proto, seg.len() as u16),
    };
    let c = fold(sum_words(seg, init));
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}
