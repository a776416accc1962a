//! The receive side of checksum offload.
//!
//! When the port verifies IPv4 and TCP/UDP checksums, the node trusts it and
//! skips its own check ([`PortCaps`](crate::PortCaps) `rx_ipv4_csum`,
//! `rx_l4_csum`). This module keeps that trust sound, frame by frame: what
//! the driver marks bad is dropped (and counted by the port), and what it
//! could not judge (status "unknown": a parser that gave up, a VLAN it does
//! not know) is checked here in software. A frame whose headers are too
//! broken to check is passed on: the node drops it for the structural
//! reason (bad IHL, bad length, fragment) before any checksum would matter.
//! Checksums are the Internet checksum of RFC 1071 over the IPv4 header
//! (RFC 791) and over the pseudo-header and segment (RFC 9293 section
//! 3.1, RFC 768).

use crate::inet_csum::{fold, sum};
use dpdk_sys::mbuf_flags::{RX_IP_CKSUM_BAD, RX_IP_CKSUM_MASK, RX_L4_CKSUM_BAD, RX_L4_CKSUM_MASK};

/// What to do with a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it to the node.
    Pass,
    /// Drop: the IPv4 header checksum is wrong.
    BadIp,
    /// Drop: the TCP or UDP checksum is wrong.
    BadL4,
}

/// Judges a frame from the driver's `ol_flags`, in software where the
/// driver left the status unknown.
#[inline]
pub(crate) fn check(ol_flags: u64, frame: &[u8]) -> Verdict {
    let ip = ol_flags & RX_IP_CKSUM_MASK;
    let l4 = ol_flags & RX_L4_CKSUM_MASK;
    if ip == RX_IP_CKSUM_BAD {
        return Verdict::BadIp;
    }
    if l4 == RX_L4_CKSUM_BAD {
        return Verdict::BadL4;
    }
    if ip != 0 && l4 != 0 {
        return Verdict::Pass; // both judged good (or "none": valid by construction)
    }
    software(frame, ip == 0, l4 == 0)
}

#[cold]
fn software(frame: &[u8], ip_unknown: bool, l4_unknown: bool) -> Verdict {
    let mut l3 = 14;
    let Some(et) = frame.get(12..14) else {
        return Verdict::Pass;
    };
    let mut ethertype = u16::from_be_bytes([et[0], et[1]]);
    if ethertype == 0x8100 || ethertype == 0x88a8 {
        let Some(et) = frame.get(16..18) else {
            return Verdict::Pass;
        };
        ethertype = u16::from_be_bytes([et[0], et[1]]);
        l3 = 18;
    }
    if ethertype != 0x0800 {
        return Verdict::Pass;
    }
    let Some(&vihl) = frame.get(l3) else {
        return Verdict::Pass;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || frame.len() < l3 + ihl {
        return Verdict::Pass;
    }
    let hdr = &frame[l3..l3 + ihl];
    if ip_unknown && fold(sum(hdr, 0)) != 0xffff {
        return Verdict::BadIp;
    }
    if !l4_unknown {
        return Verdict::Pass;
    }
    let total = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    let frag = u16::from_be_bytes([hdr[6], hdr[7]]);
    if total < ihl || l3 + total > frame.len() || frag & 0x3fff != 0 {
        return Verdict::Pass;
    }
    let proto = hdr[9];
    let seg = &frame[l3 + ihl..l3 + total];
    let min = match proto {
        6 => 20,
        17 => 8,
        _ => return Verdict::Pass, // ICMP and others: the node checks them
    };
    if seg.len() < min || (proto == 17 && seg[6] == 0 && seg[7] == 0) {
        return Verdict::Pass; // too short (the node drops it), or UDP without checksum
    }
    let mut acc = sum(&hdr[12..20], 0);
    acc += u32::from(proto) + seg.len() as u32;
    if fold(sum(seg, acc)) != 0xffff {
        return Verdict::BadL4;
    }
    Verdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpdk_sys::mbuf_flags::{RX_IP_CKSUM_GOOD, RX_L4_CKSUM_GOOD};

    /// An Ethernet + IPv4 + UDP frame with correct checksums.
    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let payload = b"hello anyedge";
        let total = 20 + 8 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let c = !fold(sum(&ip, 0));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let ulen = (8 + payload.len()) as u16;
        let mut udp = vec![0x9c, 0x40, 0, 53];
        udp.extend_from_slice(&ulen.to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        let mut acc = sum(&ip[12..20], 0) + 17 + u32::from(ulen);
        acc = sum(&udp, acc);
        let c = !fold(acc);
        udp[6..8].copy_from_slice(&c.to_be_bytes());
        f.extend(ip);
        f.extend(udp);
        f
    }

    #[test]
    fn driver_verdicts_win_and_unknown_is_checked_in_software() {
        let good = udp_frame();
        let good_flags = RX_IP_CKSUM_GOOD | RX_L4_CKSUM_GOOD;
        assert_eq!(check(good_flags, &good), Verdict::Pass);
        assert_eq!(check(RX_IP_CKSUM_BAD, &good), Verdict::BadIp);
        assert_eq!(
            check(RX_IP_CKSUM_GOOD | RX_L4_CKSUM_BAD, &good),
            Verdict::BadL4
        );
        assert_eq!(check(0, &good), Verdict::Pass);

        let mut bad_ip = good.clone();
        bad_ip[14 + 10] ^= 0x55;
        assert_eq!(check(0, &bad_ip), Verdict::BadIp);
        assert_eq!(
            check(RX_IP_CKSUM_GOOD, &bad_ip),
            Verdict::Pass,
            "driver said good"
        );

        let mut bad_udp = good.clone();
        let n = bad_udp.len();
        bad_udp[n - 1] ^= 0x01;
        assert_eq!(check(RX_IP_CKSUM_GOOD, &bad_udp), Verdict::BadL4);

        let mut no_udp_sum = bad_udp.clone();
        no_udp_sum[14 + 20 + 6] = 0;
        no_udp_sum[14 + 20 + 7] = 0;
        assert_eq!(check(RX_IP_CKSUM_GOOD, &no_udp_sum), Verdict::Pass);

        // Too broken to check: passed on for the node's structural drop.
        let mut short_ihl = good.clone();
        short_ihl[14] = 0x43;
        assert_eq!(check(0, &short_ihl), Verdict::Pass);
        assert_eq!(check(0, &good[..20]), Verdict::Pass);
        assert_eq!(check(0, &[]), Verdict::Pass);
    }
}
