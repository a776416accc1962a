//! Writing complete frames into a caller's buffer (no allocation).
//!
//! Every emitter returns `Some(frame_len)`, or `None` when `buf` is too small
//! (or the payload cannot fit in one IPv4 packet). Frames shorter than
//! [`MIN_FRAME_LEN`] are zero-padded up to it (IEEE 802.3 minimum frame).

use crate::checksum::{checksum, fold, pseudo_header_sum, sum_words};
use crate::{
    Arp, MacAddr, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN, ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST, IPPROTO_ICMP, IPPROTO_UDP, MIN_FRAME_LEN,
};
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options (RFC 791).
pub(crate) const IPV4_HEADER_LEN: usize = 20;
/// Length of an Ethernet/IPv4 ARP packet (RFC 826).
pub(crate) const ARP_LEN: usize = 28;

/// Writes an Ethernet II header with one IEEE 802.1Q tag (TPID 0x8100, PCP 0,
/// VID = the low 12 bits of `vlan`) when `vlan` is `Some`, and returns the
/// header length (14 or 18), or `None` if `buf` is shorter than that.
pub fn emit_eth(
    buf: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    vlan: Option<u16>,
    ethertype: u16,
) -> Option<usize> {
    let len = if vlan.is_some() { 18 } else { 14 };
    let out = buf.get_mut(..len)?;
    out[0..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    match vlan {
        Some(vid) => {
            out[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            out[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
            out[16..18].copy_from_slice(&ethertype.to_be_bytes());
        }
        None => out[12..14].copy_from_slice(&ethertype.to_be_bytes()),
    }
    Some(len)
}

/// Writes an Ethernet/IPv4 ARP packet (RFC 826: htype 1, ptype 0x0800,
/// hlen 6, plen 4) with Ethernet source `arp.sha`, padded to 60 bytes.
pub fn emit_arp(buf: &mut [u8], eth_dst: MacAddr, vlan: Option<u16>, arp: &Arp) -> Option<usize> {
    let l3 = eth_len(vlan);
    let frame_len = (l3 + ARP_LEN).max(MIN_FRAME_LEN);
    let out = buf.get_mut(..frame_len)?;
    emit_eth(out, eth_dst, arp.sha, vlan, ETHERTYPE_ARP)?;
    let a = &mut out[l3..l3 + ARP_LEN];
    a[0..2].copy_from_slice(&1u16.to_be_bytes());
    a[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&arp.op.to_be_bytes());
    a[8..14].copy_from_slice(&arp.sha);
    a[14..18].copy_from_slice(&arp.spa.octets());
    a[18..24].copy_from_slice(&arp.tha);
    a[24..28].copy_from_slice(&arp.tpa.octets());
    out[l3 + ARP_LEN..].fill(0);
    Some(frame_len)
}

/// Writes an Ethernet + IPv4 + UDP frame: IP identification 0 and DF set
/// (RFC 791; no fragmentation, so RFC 6864 allows a constant ID), both
/// checksums filled in; a computed UDP checksum of 0 is sent as 0xffff
/// (RFC 768).
#[allow(clippy::too_many_arguments)]
pub fn emit_udp(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Option<usize> {
    let udp_len = u16::try_from(8 + payload.len()).ok()?;
    let (out, l4) = ipv4_frame(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        ttl,
        IPPROTO_UDP,
        udp_len,
        None,
    )?;
    let seg = &mut out[l4..l4 + usize::from(udp_len)];
    seg[0..2].copy_from_slice(&src_port.to_be_bytes());
    seg[2..4].copy_from_slice(&dst_port.to_be_bytes());
    seg[4..6].copy_from_slice(&udp_len.to_be_bytes());
    seg[6..8].fill(0);
    seg[8..].copy_from_slice(payload);
    let sum = sum_words(seg, pseudo_header_sum(src, dst, IPPROTO_UDP, udp_len));
    let cks = match fold(sum) {
        0 => 0xffff,
        c => c,
    };
    seg[6..8].copy_from_slice(&cks.to_be_bytes());
    Some(out.len())
}

/// Writes an Ethernet + IPv4 + ICMP echo request (`request`) or echo reply
/// (RFC 792) with the given identifier, sequence number and data. The IP
/// header is as in [`emit_udp`] with TTL 64.
#[allow(clippy::too_many_arguments)]
pub fn emit_icmp_echo(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    request: bool,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Option<usize> {
    let icmp_len = u16::try_from(8 + data.len()).ok()?;
    let (out, l4) = ipv4_frame(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        64,
        IPPROTO_ICMP,
        icmp_len,
        None,
    )?;
    let msg = &mut out[l4..l4 + usize::from(icmp_len)];
    msg[0] = if request {
        ICMP_ECHO_REQUEST
    } else {
        ICMP_ECHO_REPLY
    };
    msg[1] = 0;
    msg[2..4].fill(0);
    msg[4..6].copy_from_slice(&id.to_be_bytes());
    msg[6..8].copy_from_slice(&seq.to_be_bytes());
    msg[8..].copy_from_slice(data);
    let cks = checksum(msg);
    msg[2..4].copy_from_slice(&cks.to_be_bytes());
    Some(out.len())
}

/// Ethernet header length for an optional single tag.
fn eth_len(vlan: Option<u16>) -> usize {
    if vlan.is_some() {
        18
    } else {
        14
    }
}

/// Writes Ethernet and IPv4 headers for an `l4_len`-byte payload, zeroes the
/// padding, and returns the (padded) frame slice and the L4 offset. With
/// `l4_head = Some(n)` only the first `n` bytes of the L4 part need room in
/// `buf` and are returned (the rest of the payload is sent from elsewhere,
/// by reference), and nothing is padded.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ipv4_frame(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    protocol: u8,
    l4_len: u16,
    l4_head: Option<usize>,
) -> Option<(&mut [u8], usize)> {
    let total_len = u16::try_from(IPV4_HEADER_LEN + usize::from(l4_len)).ok()?;
    let l3 = eth_len(vlan);
    let end = l3 + usize::from(total_len);
    let frame_len = match l4_head {
        Some(n) => l3 + IPV4_HEADER_LEN + n.min(usize::from(l4_len)),
        None => end.max(MIN_FRAME_LEN),
    };
    let end = end.min(frame_len);
    let out = buf.get_mut(..frame_len)?;
    emit_eth(out, eth_dst, eth_src, vlan, ETHERTYPE_IPV4)?;
    write_ipv4_header(
        &mut out[l3..l3 + IPV4_HEADER_LEN],
        src,
        dst,
        ttl,
        protocol,
        total_len,
    );
    out[end..].fill(0);
    Some((out, l3 + IPV4_HEADER_LEN))
}

/// Writes a 20-byte IPv4 header (RFC 791): version 4, IHL 5, TOS 0, ID 0,
/// DF, the given TTL/protocol/addresses, and its checksum.
pub(crate) fn write_ipv4_header(
    h: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    protocol: u8,
    total_len: u16,
) {
    let Some(h) = h.get_mut(..IPV4_HEADER_LEN) else {
        return;
    };
    h[0] = 0x45;
    h[1] = 0;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[4..6].fill(0);
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    h[8] = ttl;
    h[9] = protocol;
    h[10..12].fill(0);
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let cks = checksum(h);
    h[10..12].copy_from_slice(&cks.to_be_bytes());
}

#[cfg(test)]
mod tests;
