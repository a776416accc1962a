//! Frame builders shared by the unit tests.

use crate::checksum::{checksum, fold, pseudo_header_sum, sum_words};
use crate::emit::write_ipv4_header;
use crate::*;

pub const MAC_A: MacAddr = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: MacAddr = [0x02, 0, 0, 0, 0, 0x0b];
pub const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub fn l3_offset(vlan: Option<u16>) -> usize {
    if vlan.is_some() {
        18
    } else {
        14
    }
}

pub fn arp_frame(vlan: Option<u16>, op: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let arp = Arp {
        op,
        sha: MAC_A,
        spa: IP_A,
        tha: [0; 6],
        tpa: IP_B,
    };
    let n = emit_arp(&mut buf, [0xff; 6], vlan, &arp).unwrap();
    buf.truncate(n);
    buf
}

pub fn udp_frame(vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let n = emit_udp(
        &mut buf, MAC_B, MAC_A, vlan, IP_A, IP_B, 64, 1234, 53, payload,
    )
    .unwrap();
    buf.truncate(n);
    buf
}

pub fn icmp_frame(vlan: Option<u16>, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let n = emit_icmp_echo(
        &mut buf, MAC_B, MAC_A, vlan, IP_A, IP_B, true, id, seq, data,
    )
    .unwrap();
    buf.truncate(n);
    buf
}

/// Ethernet + IPv4 + TCP with the given flags, options (a multiple of 4
/// bytes) and payload.
pub fn tcp_frame(vlan: Option<u16>, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let l3 = l3_offset(vlan);
    let thl = 20 + options.len();
    let total = 20 + thl + payload.len();
    let mut f = vec![0u8; (l3 + total).max(MIN_FRAME_LEN)];
    emit_eth(&mut f, MAC_B, MAC_A, vlan, ETHERTYPE_IPV4).unwrap();
    write_ipv4_header(&mut f[l3..], IP_A, IP_B, 64, IPPROTO_TCP, total as u16);
    let t = &mut f[l3 + 20..l3 + total];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    t[8..12].copy_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    t[12] = ((thl / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[18..20].copy_from_slice(&7u16.to_be_bytes());
    t[20..thl].copy_from_slice(options);
    t[thl..].copy_from_slice(payload);
    refresh_l4_checksum(&mut f, l3);
    f
}

/// Recomputes the IPv4 header checksum of the packet at `l3`.
pub fn refresh_ip_checksum(f: &mut [u8], l3: usize) {
    let hl = usize::from(f[l3] & 0xf) * 4;
    f[l3 + 10..l3 + 12].fill(0);
    let c = checksum(&f[l3..l3 + hl]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the TCP/UDP/ICMP checksum of the packet at `l3` (header
/// fields as currently in the frame; UDP over its length field).
pub fn refresh_l4_checksum(f: &mut [u8], l3: usize) {
    let hl = usize::from(f[l3] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]));
    let proto = f[l3 + 9];
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(&f[l3 + 12..l3 + 16]).unwrap());
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&f[l3 + 16..l3 + 20]).unwrap());
    let seg = &mut f[l3 + hl..l3 + total];
    match proto {
        IPPROTO_TCP => {
            seg[16..18].fill(0);
            let c = fold(sum_words(
                seg,
                pseudo_header_sum(src, dst, proto, seg.len() as u16),
            ));
            seg[16..18].copy_from_slice(&c.to_be_bytes());
        }
        IPPROTO_UDP => {
            let len = usize::from(u16::from_be_bytes([seg[4], seg[5]]));
            let seg = &mut seg[..len];
            seg[6..8].fill(0);
            let c = fold(sum_words(
                seg,
                pseudo_header_sum(src, dst, proto, len as u16),
            ));
            seg[6..8].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
        }
        IPPROTO_ICMP => {
            seg[2..4].fill(0);
            let c = checksum(seg);
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
}
