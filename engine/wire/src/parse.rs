//! Parsing a received frame into validated, borrowed views.
//!
//! Header slicing is done by `etherparse`; its errors are mapped to
//! [`DropReason`]s, and the checks it leaves to the caller (IP total length,
//! fragments, checksums, UDP length) are made here. No allocation, no panics.

use crate::checksum::{fold, pseudo_header_sum, sum_words};
use crate::{
    DropReason, MacAddr, ARP_REPLY, ARP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_QINQ,
    ETHERTYPE_VLAN, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
};
use etherparse::err::{ipv4::HeaderError as Ipv4HeaderError, ipv4::HeaderSliceError};
use etherparse::err::{tcp::HeaderSliceError as TcpSliceError, LenError};
use etherparse::{
    ArpPacketSlice, Ethernet2HeaderSlice, Ipv4HeaderSlice, SingleVlanHeaderSlice, TcpSlice,
    UdpHeaderSlice,
};
use std::net::Ipv4Addr;

/// Checksums a port has already verified in hardware (offload); [`parse`]
/// skips those so the CPU does not sum the bytes twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumCaps {
    /// The NIC verified the IPv4 header checksum (RFC 791).
    pub ipv4_verified: bool,
    /// The NIC verified the TCP/UDP checksum (ICMP is always checked in
    /// software since NICs do not offload it).
    pub l4_verified: bool,
}

/// The Ethernet II header of a frame, after any 802.1Q/802.1ad tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthInfo {
    /// Destination MAC address.
    pub dst: MacAddr,
    /// Source MAC address.
    pub src: MacAddr,
    /// VLAN ID (12 bits) of the outer IEEE 802.1Q / 802.1ad tag, if tagged.
    pub vlan: Option<u16>,
    /// The EtherType after the tags: what the payload is.
    pub ethertype: u16,
    /// Offset of the L3 header from the start of the frame: 14, 18 or 22.
    pub l3_offset: usize,
}

/// A parsed and validated frame, borrowing the received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The Ethernet header.
    pub eth: EthInfo,
    /// The network-layer packet.
    pub l3: L3<'a>,
}

/// The network-layer packets the engine handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3<'a> {
    /// An Ethernet/IPv4 ARP packet (RFC 826).
    Arp(Arp),
    /// An unfragmented IPv4 packet (RFC 791).
    Ipv4(Ipv4<'a>),
}

/// An Ethernet/IPv4 ARP packet (RFC 826); small enough to copy out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// Operation: [`ARP_REQUEST`] or [`ARP_REPLY`].
    pub op: u16,
    /// Sender hardware address.
    pub sha: MacAddr,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address (ignored in requests).
    pub tha: MacAddr,
    /// Target protocol address.
    pub tpa: Ipv4Addr,
}

/// A validated, unfragmented IPv4 packet (RFC 791).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4<'a> {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Protocol number of the payload (e.g. [`IPPROTO_TCP`]).
    pub protocol: u8,
    /// Header length in bytes (IHL * 4, 20..=60).
    pub header_len: usize,
    /// Total length field: header plus payload, without Ethernet padding.
    pub total_len: usize,
    /// Offset of the L4 header from the start of the frame.
    pub l4_offset: usize,
    /// The payload, parsed by protocol.
    pub l4: L4<'a>,
}

/// The transport-layer payload of an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    /// ICMP message (RFC 792).
    Icmp(Icmp<'a>),
    /// UDP datagram (RFC 768).
    Udp(Udp<'a>),
    /// TCP segment (RFC 9293).
    Tcp(Tcp<'a>),
    /// Any other protocol, passed through unparsed.
    Other {
        /// IP protocol number.
        protocol: u8,
        /// The IP payload (trimmed to the total length).
        payload: &'a [u8],
    },
}

/// An ICMP message (RFC 792) whose checksum verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp<'a> {
    /// Type, e.g. [`ICMP_ECHO_REQUEST`](crate::ICMP_ECHO_REQUEST).
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Bytes 4..8 of the header; identifier and sequence number for echo.
    pub rest: [u8; 4],
    /// Everything after the 8-byte header.
    pub data: &'a [u8],
}

/// A UDP datagram (RFC 768) whose length and checksum verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload, trimmed to the UDP length field.
    pub payload: &'a [u8],
}

/// A TCP segment (RFC 9293) whose data offset and checksum verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits, see [`tcp_flags`](crate::tcp_flags).
    pub flags: u8,
    /// Receive window (unscaled).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Header length in bytes (data offset * 4, 20..=60).
    pub header_len: usize,
    /// Raw options; decode with [`parse_tcp_options`](crate::parse_tcp_options).
    pub options: &'a [u8],
    /// Segment payload.
    pub payload: &'a [u8],
}

/// Parse and validate a whole frame. The IP payload is trimmed to total_len
/// (Ethernet padding ignored).
///
/// Validation order: Ethernet, up to two VLAN tags (0x8100 / 0x88a8, IEEE
/// 802.1Q/802.1ad), EtherType, then ARP (RFC 826) or IPv4 (RFC 791: length,
/// version, IHL, total length, header checksum, fragments) and the L4 header
/// by protocol (TCP RFC 9293, UDP RFC 768, ICMP RFC 792). The first failed
/// check gives the [`DropReason`]; checksums that `caps` marks as verified in
/// hardware are not recomputed.
pub fn parse(frame: &[u8], caps: ChecksumCaps) -> Result<Frame<'_>, DropReason> {
    parse_split(frame, &[], caps)
}

/// Parse a frame that arrives in two parts: `head`, the buffer's own bytes,
/// and `tail`, payload bytes that came by reference after it (a frame whose
/// sender attached its payload without a copy, as a TSO super-segment on a
/// mem port does). With an empty `tail` this is [`parse`].
///
/// A non-empty tail is only taken for TCP over IPv4 whose headers fill
/// `head` exactly, and whose IPv4 total length is `head`'s L3 part plus the
/// tail: anything else is [`DropReason::BadIpTotalLen`], since the lengths
/// do not describe the bytes that arrived. The TCP checksum (RFC 9293
/// section 3.1) is summed over the header and then the tail, which chains
/// because TCP headers are whole 32-bit words. The segment's payload is
/// then `tail` itself, never copied.
pub fn parse_split<'a>(
    head: &'a [u8],
    tail: &'a [u8],
    caps: ChecksumCaps,
) -> Result<Frame<'a>, DropReason> {
    let eth = parse_eth(head)?;
    let l3_bytes = head.get(eth.l3_offset..).unwrap_or(&[]);
    let l3 = match eth.ethertype {
        ETHERTYPE_ARP if tail.is_empty() => L3::Arp(parse_arp(l3_bytes)?),
        ETHERTYPE_IPV4 => L3::Ipv4(parse_ipv4(l3_bytes, tail, eth.l3_offset, caps)?),
        ETHERTYPE_ARP => return Err(DropReason::BadIpTotalLen),
        _ => return Err(DropReason::UnknownEtherType),
    };
    Ok(Frame { eth, l3 })
}

/// Ethernet II header plus at most two VLAN tags (IEEE 802.1Q, 802.1ad).
fn parse_eth(frame: &[u8]) -> Result<EthInfo, DropReason> {
    let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| DropReason::Truncated)?;
    let mut ethertype = eth.ether_type().0;
    let mut offset = eth.slice().len();
    let mut vlan = None;
    for _ in 0..2 {
        if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
            break;
        }
        let rest = frame.get(offset..).unwrap_or(&[]);
        let tag = SingleVlanHeaderSlice::from_slice(rest).map_err(|_| DropReason::Truncated)?;
        vlan.get_or_insert(tag.vlan_identifier().value());
        ethertype = tag.ether_type().0;
        offset += tag.slice().len();
    }
    Ok(EthInfo {
        dst: eth.destination(),
        src: eth.source(),
        vlan,
        ethertype,
        l3_offset: offset,
    })
}

/// ARP for Ethernet/IPv4 only (RFC 826 with RFC 5227 field sizes).
fn parse_arp(bytes: &[u8]) -> Result<Arp, DropReason> {
    // The fixed part decides the layout; check it before the length so that
    // a foreign ARP flavour counts as bad_arp rather than truncated.
    let fixed = bytes.first_chunk::<8>().ok_or(DropReason::Truncated)?;
    let htype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ptype = u16::from_be_bytes([fixed[2], fixed[3]]);
    let op = u16::from_be_bytes([fixed[6], fixed[7]]);
    if htype != 1 || ptype != ETHERTYPE_IPV4 || fixed[4] != 6 || fixed[5] != 4 {
        return Err(DropReason::BadArp);
    }
    if op != ARP_REQUEST && op != ARP_REPLY {
        return Err(DropReason::BadArp);
    }
    let arp = ArpPacketSlice::from_slice(bytes).map_err(|_| DropReason::Truncated)?;
    let mac = |s: &[u8]| MacAddr::try_from(s).map_err(|_| DropReason::BadArp);
    let ip = |s: &[u8]| {
        <[u8; 4]>::try_from(s)
            .map(Ipv4Addr::from)
            .map_err(|_| DropReason::BadArp)
    };
    Ok(Arp {
        op: arp.operation().0,
        sha: mac(arp.sender_hw_addr())?,
        spa: ip(arp.sender_protocol_addr())?,
        tha: mac(arp.target_hw_addr())?,
        tpa: ip(arp.target_protocol_addr())?,
    })
}

/// IPv4 header checks (RFC 791) then the L4 payload; `tail` as in
/// [`parse_split`].
fn parse_ipv4<'a>(
    bytes: &'a [u8],
    tail: &'a [u8],
    l3_offset: usize,
    caps: ChecksumCaps,
) -> Result<Ipv4<'a>, DropReason> {
    let hdr = Ipv4HeaderSlice::from_slice(bytes).map_err(|e| match e {
        HeaderSliceError::Len(LenError { required_len, .. }) if required_len <= 20 => {
            DropReason::Truncated
        }
        HeaderSliceError::Len(_) => DropReason::BadIhl,
        HeaderSliceError::Content(Ipv4HeaderError::UnexpectedVersion { .. }) => {
            DropReason::BadIpVersion
        }
        HeaderSliceError::Content(Ipv4HeaderError::HeaderLengthSmallerThanHeader { .. }) => {
            DropReason::BadIhl
        }
    })?;
    let header_len = hdr.slice().len();
    let total_len = usize::from(hdr.total_len());
    // The length must describe the bytes that arrived: within the frame
    // (padding allowed), or with a tail exactly head plus tail, TCP only.
    let fits = if tail.is_empty() {
        total_len <= bytes.len()
    } else {
        hdr.protocol().0 == IPPROTO_TCP && total_len == bytes.len() + tail.len()
    };
    if total_len < header_len || !fits {
        return Err(DropReason::BadIpTotalLen);
    }
    if !caps.ipv4_verified && fold(sum_words(hdr.slice(), 0)) != 0 {
        return Err(DropReason::BadIpChecksum);
    }
    if hdr.more_fragments() || hdr.fragments_offset().value() != 0 {
        return Err(DropReason::IpFragment);
    }
    let src = hdr.source_addr();
    let dst = hdr.destination_addr();
    let protocol = hdr.protocol().0;
    let payload = bytes
        .get(header_len..total_len.min(bytes.len()))
        .unwrap_or(&[]);
    let l4 = match protocol {
        IPPROTO_TCP => L4::Tcp(parse_tcp(payload, tail, src, dst, caps)?),
        IPPROTO_UDP => L4::Udp(parse_udp(payload, src, dst, caps)?),
        IPPROTO_ICMP => L4::Icmp(parse_icmp(payload)?),
        _ => L4::Other { protocol, payload },
    };
    Ok(Ipv4 {
        src,
        dst,
        ttl: hdr.ttl(),
        protocol,
        header_len,
        total_len,
        l4_offset: l3_offset + header_len,
        l4,
    })
}

/// Verifies an L4 checksum over the pseudo header and `segment` (RFC 9293
/// section 3.1, RFC 768).
fn l4_checksum_ok(segment: &[u8], src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> bool {
    // Callers pass at most an IP payload, so the length fits in u16.
    let len = u16::try_from(segment.len()).unwrap_or(u16::MAX);
    fold(sum_words(
        segment,
        pseudo_header_sum(src, dst, protocol, len),
    )) == 0
}

/// TCP header (RFC 9293 section 3.1); a non-empty `tail` is the payload
/// and `seg` must then be the header alone ([`parse_split`]).
fn parse_tcp<'a>(
    seg: &'a [u8],
    tail: &'a [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    caps: ChecksumCaps,
) -> Result<Tcp<'a>, DropReason> {
    let tcp = TcpSlice::from_slice(seg).map_err(|e| match e {
        TcpSliceError::Len(LenError { required_len, .. }) if required_len <= 20 => {
            DropReason::Truncated
        }
        TcpSliceError::Len(_) | TcpSliceError::Content(_) => DropReason::BadTcpDataOffset,
    })?;
    let header = tcp.header_slice();
    if !tail.is_empty() && header.len() != seg.len() {
        return Err(DropReason::BadIpTotalLen);
    }
    if !caps.l4_verified {
        // The sum chains from the header into the tail: the header is
        // whole 32-bit words (RFC 1071 section 2 (B)).
        let len = u16::try_from(seg.len() + tail.len()).unwrap_or(u16::MAX);
        let sum = sum_words(seg, pseudo_header_sum(src, dst, IPPROTO_TCP, len));
        if fold(sum_words(tail, sum)) != 0 {
            return Err(DropReason::BadTcpChecksum);
        }
    }
    let payload = if tail.is_empty() { tcp.payload() } else { tail };
    let flags = u8::from(tcp.fin())
        | u8::from(tcp.syn()) << 1
        | u8::from(tcp.rst()) << 2
        | u8::from(tcp.psh()) << 3
        | u8::from(tcp.ack()) << 4
        | u8::from(tcp.urg()) << 5
        | u8::from(tcp.ece()) << 6
        | u8::from(tcp.cwr()) << 7;
    Ok(Tcp {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        urgent: tcp.urgent_pointer(),
        header_len: header.len(),
        options: header.get(20..).unwrap_or(&[]),
        payload,
    })
}

/// UDP header (RFC 768). The length field must cover the header and fit in
/// the IP payload; a zero checksum means "not computed" and is accepted.
fn parse_udp(
    dgram: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    caps: ChecksumCaps,
) -> Result<Udp<'_>, DropReason> {
    let udp = UdpHeaderSlice::from_slice(dgram).map_err(|_| DropReason::Truncated)?;
    let len = usize::from(udp.length());
    if len < 8 || len > dgram.len() {
        return Err(DropReason::BadUdpLength);
    }
    let dgram = dgram.get(..len).unwrap_or(&[]);
    if !caps.l4_verified && udp.checksum() != 0 && !l4_checksum_ok(dgram, src, dst, IPPROTO_UDP) {
        return Err(DropReason::BadUdpChecksum);
    }
    Ok(Udp {
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        payload: dgram.get(8..).unwrap_or(&[]),
    })
}

/// ICMP header (RFC 792). Read directly: the 8-byte header layout is the same
/// for every type, and etherparse's `Icmpv4Slice` rejects timestamp messages
/// whose length is not exactly 20, which we would rather pass up.
fn parse_icmp(msg: &[u8]) -> Result<Icmp<'_>, DropReason> {
    let (hdr, data) = msg.split_first_chunk::<8>().ok_or(DropReason::Truncated)?;
    if fold(sum_words(msg, 0)) != 0 {
        return Err(DropReason::BadIcmpChecksum);
    }
    Ok(Icmp {
        icmp_type: hdr[0],
        code: hdr[1],
        rest: [hdr[4], hdr[5], hdr[6], hdr[7]],
        data,
    })
}

#[cfg(test)]
mod tests;
