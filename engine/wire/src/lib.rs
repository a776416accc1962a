//! Wire formats for the anyedge packet engine: parse, validate, emit.
//!
//! This crate is sans-IO and allocation-free on the per-packet path:
//!
//! * [`parse`] turns the bytes of one received Ethernet frame into borrowed,
//!   validated views ([`Frame`], [`L3`], [`L4`]) or a [`DropReason`] that an
//!   operator can count. Nothing a peer sends can make it panic.
//! * The `emit_*` functions write complete frames into a caller's `&mut [u8]`.
//! * [`arp_reply_in_place`] and [`icmp_echo_reply_in_place`] turn a received
//!   request into its answer without copying the payload.
//! * [`checksum`], [`sum_words`], [`fold`], [`pseudo_header_sum`] and
//!   [`checksum_update`] implement the Internet checksum (RFC 1071, RFC 1624).
//! * [`parse_tcp_options`] decodes the TCP options a TCP stack needs
//!   (RFC 9293, RFC 7323, RFC 2018).
//!
//! The header parsing itself is done with `etherparse`; this crate maps its
//! errors to [`DropReason`]s and adds the checks it does not make (total
//! length, checksums, fragments).
#![forbid(unsafe_code)]

mod checksum;
mod emit;
mod parse;
mod reply;
mod tcp_emit;
mod tcp_options;

#[cfg(test)]
mod testutil;

pub use checksum::{checksum, checksum_update, fold, pseudo_header_sum, sum_words};
pub use emit::{emit_arp, emit_eth, emit_icmp_echo, emit_udp};
pub use parse::{
    parse, parse_split, Arp, ChecksumCaps, EthInfo, Frame, Icmp, Ipv4, Tcp, Udp, L3, L4,
};
pub use reply::{arp_reply_in_place, icmp_echo_reply_in_place, set_macs, swap_macs};
pub use std::net::Ipv4Addr;
pub use tcp_emit::{
    emit_tcp, emit_tcp_head, emit_tcp_options, emit_tcp_with, TcpCsum, TcpHeader, MAX_TCP_OPTIONS,
    MIN_HEAD_PAYLOAD,
};
pub use tcp_options::{
    parse_tcp_options, EarlyData, TcpOptions, EARLY_DATA_EXID, EARLY_DATA_LEN, KIND_EXPERIMENTAL,
};

/// A 48-bit IEEE 802 MAC address, in wire order.
pub type MacAddr = [u8; 6];

/// EtherType of IPv4 (RFC 894 / IEEE 802.3), the only network layer we route.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP (RFC 826), answered so that peers can reach our IPs.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType (TPID) of an IEEE 802.1Q VLAN tag; the one our emitters write.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// TPID of an IEEE 802.1ad service tag (QinQ outer tag); accepted on receive.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;

/// IP protocol number of ICMP (RFC 792).
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP (RFC 9293).
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP (RFC 768).
pub const IPPROTO_UDP: u8 = 17;

/// Smallest Ethernet frame without its 4-byte FCS (IEEE 802.3: 64 bytes with
/// FCS). Emitters zero-pad shorter frames up to this length.
pub const MIN_FRAME_LEN: usize = 60;

/// ARP operation "request" (RFC 826 `ares_op$REQUEST`).
pub const ARP_REQUEST: u16 = 1;
/// ARP operation "reply" (RFC 826 `ares_op$REPLY`).
pub const ARP_REPLY: u16 = 2;

/// ICMP type of an echo reply (RFC 792).
pub const ICMP_ECHO_REPLY: u8 = 0;
/// ICMP type of an echo request (RFC 792).
pub const ICMP_ECHO_REQUEST: u8 = 8;

/// TCP header flag bits (RFC 9293 section 3.1, RFC 3168 for ECE/CWR), as
/// found in [`Tcp::flags`].
pub mod tcp_flags {
    /// No more data from sender (RFC 9293).
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers (RFC 9293).
    pub const SYN: u8 = 0x02;
    /// Reset the connection (RFC 9293).
    pub const RST: u8 = 0x04;
    /// Push function (RFC 9293).
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant (RFC 9293).
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant (RFC 9293).
    pub const URG: u8 = 0x20;
    /// ECN-Echo (RFC 3168).
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// Why a received frame was dropped. Every malformed input maps to one of
/// these, so the engine counts drops per reason instead of panicking.
///
/// [`DropReason::name`] gives the stable snake_case string used in the
/// operator's JSON; [`DropReason::index`] gives a dense index for counter
/// arrays of length [`DropReason::COUNT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame is shorter than a header it claims to carry.
    Truncated,
    /// EtherType is neither ARP nor IPv4 (IPv6 included).
    UnknownEtherType,
    /// IP version field is not 4 (RFC 791).
    BadIpVersion,
    /// IHL < 5, or the header it announces goes beyond the frame (RFC 791).
    BadIhl,
    /// IP total length < header length, or beyond the frame (RFC 791).
    BadIpTotalLen,
    /// IPv4 header checksum does not verify (RFC 791, RFC 1071).
    BadIpChecksum,
    /// MF set or fragment offset non-zero; fragments are not supported
    /// (RFC 791).
    IpFragment,
    /// TCP data offset < 5 or beyond the segment (RFC 9293).
    BadTcpDataOffset,
    /// TCP checksum does not verify (RFC 9293 section 3.1).
    BadTcpChecksum,
    /// UDP length field < 8 or beyond the IP payload (RFC 768).
    BadUdpLength,
    /// Non-zero UDP checksum that does not verify (RFC 768; zero means "no
    /// checksum" and is accepted).
    BadUdpChecksum,
    /// ICMP checksum does not verify (RFC 792).
    BadIcmpChecksum,
    /// Not Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4), or an
    /// operation other than request/reply (RFC 826).
    BadArp,
    /// Malformed TCP option length (RFC 9293 section 3.2); only returned by
    /// [`parse_tcp_options`], never by [`parse`].
    BadTcpOptions,
}

impl DropReason {
    /// Number of drop reasons; the length of a per-reason counter array.
    pub const COUNT: usize = 14;

    /// Every reason, in declaration order; `ALL[r.index()] == r`.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Truncated,
        DropReason::UnknownEtherType,
        DropReason::BadIpVersion,
        DropReason::BadIhl,
        DropReason::BadIpTotalLen,
        DropReason::BadIpChecksum,
        DropReason::IpFragment,
        DropReason::BadTcpDataOffset,
        DropReason::BadTcpChecksum,
        DropReason::BadUdpLength,
        DropReason::BadUdpChecksum,
        DropReason::BadIcmpChecksum,
        DropReason::BadArp,
        DropReason::BadTcpOptions,
    ];

    /// Stable snake_case name, as it appears in the operator's JSON.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::UnknownEtherType => "unknown_ethertype",
            DropReason::BadIpVersion => "bad_ip_version",
            DropReason::BadIhl => "bad_ihl",
            DropReason::BadIpTotalLen => "bad_ip_total_len",
            DropReason::BadIpChecksum => "bad_ip_checksum",
            DropReason::IpFragment => "ip_fragment",
            DropReason::BadTcpDataOffset => "bad_tcp_data_offset",
            DropReason::BadTcpChecksum => "bad_tcp_checksum",
            DropReason::BadUdpLength => "bad_udp_length",
            DropReason::BadUdpChecksum => "bad_udp_checksum",
            DropReason::BadIcmpChecksum => "bad_icmp_checksum",
            DropReason::BadArp => "bad_arp",
            DropReason::BadTcpOptions => "bad_tcp_options",
        }
    }

    /// Position in [`DropReason::ALL`], for indexing counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for DropReason {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order_and_names_are_unique() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        assert_eq!(DropReason::BadTcpOptions.to_string(), "bad_tcp_options");
    }
}
