//! Writing TCP segments (RFC 9293 section 3.1) with their options and
//! checksum, inside an Ethernet + IPv4 frame.

use crate::checksum::{fold, pseudo_header_sum, sum_words};
use crate::emit::{ipv4_frame, IPV4_HEADER_LEN};
use crate::{MacAddr, TcpOptions, IPPROTO_TCP};
use std::net::Ipv4Addr;

/// Largest TCP options area (RFC 9293: data offset at most 15 words).
pub const MAX_TCP_OPTIONS: usize = 40;

/// The header fields of a segment to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Flags ([`crate::tcp_flags`]).
    pub flags: u8,
    /// Window field, already scaled down (RFC 7323 section 2.3).
    pub window: u16,
    /// Options to write; SACK blocks beyond what fits are left out.
    pub options: TcpOptions,
}

/// Writes the options area, padded with NOPs to a multiple of four bytes, in
/// the layout Linux uses (MSS; SACK-permitted + timestamps; window scale;
/// SACK blocks last, as many as fit), with the early-data option (16 bytes,
/// kind 253, RFC 6994) after the window scale. Returns its length.
///
/// Option space (RFC 9293: 40 bytes): an edge's SYN carries MSS (4),
/// SACK-permitted + timestamps (12), window scale (4) and early data (16),
/// 36 bytes, so nothing has to be dropped from the SYN to make room. SACK
/// blocks, which never ride on a SYN, get what is left.
pub fn emit_tcp_options(o: &TcpOptions, out: &mut [u8; MAX_TCP_OPTIONS]) -> usize {
    let mut n = 0;
    let mut put = |bytes: &[u8], n: &mut usize| {
        out[*n..*n + bytes.len()].copy_from_slice(bytes);
        *n += bytes.len();
    };
    if let Some(mss) = o.mss {
        let m = mss.to_be_bytes();
        put(&[2, 4, m[0], m[1]], &mut n);
    }
    match (o.sack_permitted, o.timestamps) {
        (true, Some((v, e))) => {
            put(&[4, 2, 8, 10], &mut n);
            put(&v.to_be_bytes(), &mut n);
            put(&e.to_be_bytes(), &mut n);
        }
        (false, Some((v, e))) => {
            put(&[1, 1, 8, 10], &mut n);
            put(&v.to_be_bytes(), &mut n);
            put(&e.to_be_bytes(), &mut n);
        }
        (true, None) => put(&[1, 1, 4, 2], &mut n),
        (false, None) => {}
    }
    if let Some(ws) = o.window_scale {
        put(&[1, 3, 3, ws.min(14)], &mut n);
    }
    if let Some(e) = o.early_data {
        let x = crate::EARLY_DATA_EXID.to_be_bytes();
        put(
            &[
                crate::KIND_EXPERIMENTAL,
                crate::EARLY_DATA_LEN as u8,
                x[0],
                x[1],
            ],
            &mut n,
        );
        put(&e.isn.to_be_bytes(), &mut n);
        put(&e.tag, &mut n);
    }
    let room = (MAX_TCP_OPTIONS - n).saturating_sub(4) / 8;
    let blocks = o.sack_count.min(4).min(room);
    if blocks > 0 {
        put(&[1, 1, 5, (2 + 8 * blocks) as u8], &mut n);
        for &(l, r) in &o.sack_blocks[..blocks] {
            put(&l.to_be_bytes(), &mut n);
            put(&r.to_be_bytes(), &mut n);
        }
    }
    n
}

/// Writes an Ethernet + IPv4 + TCP frame with `payload`, both checksums
/// filled in. Returns the frame length, or `None` when `buf` is too small.
#[allow(clippy::too_many_arguments)]
pub fn emit_tcp(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    h: &TcpHeader,
    payload: &[u8],
) -> Option<usize> {
    emit_tcp_with(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        ttl,
        h,
        payload.len(),
        |out| out.copy_from_slice(payload),
    )
}

/// As [`emit_tcp`], with the `payload_len` payload bytes written in place
/// by `fill` (which gets exactly that many bytes of the frame) before the
/// checksum is computed: a sender can copy its payload straight from where
/// it lies into the frame, with no staging buffer.
#[allow(clippy::too_many_arguments)]
pub fn emit_tcp_with(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    h: &TcpHeader,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Option<usize> {
    let (out, l4, hlen, seg_len) = write_tcp_headers(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        ttl,
        h,
        payload_len,
        false,
    )?;
    let seg = &mut out[l4..l4 + usize::from(seg_len)];
    fill(&mut seg[hlen..]);
    let sum = sum_words(seg, pseudo_header_sum(src, dst, IPPROTO_TCP, seg_len));
    seg[16..18].copy_from_slice(&fold(sum).to_be_bytes());
    Some(out.len())
}

/// Shortest payload [`emit_tcp_head`] takes: the headers alone are then at
/// least the 60-byte Ethernet minimum, so the frame needs no padding after
/// a payload that is sent from elsewhere.
pub const MIN_HEAD_PAYLOAD: usize = 64;

/// Who computes a TCP checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpCsum {
    /// We do: the field gets the full checksum (RFC 9293 section 3.1).
    Software,
    /// The port does on transmit: the field gets the folded, uncomplemented
    /// pseudo-header sum (as DPDK's `rte_ipv4_phdr_cksum`), the IPv4 header
    /// checksum is left zero, and the payload is never read.
    Offload,
}

/// Writes only the headers of an Ethernet + IPv4 + TCP frame whose payload
/// stays where it lies and is sent after them by reference (zero-copy TX:
/// an external mbuf on DPDK, the second iovec of a `writev` on TAP). The
/// IPv4 total length and the TCP checksum (RFC 9293 section 3.1) cover
/// `payload`, which is read only for a [`TcpCsum::Software`] checksum and
/// never copied. Only the headers need room in `buf`, so one call writes
/// the head of a TSO super-segment (up to 64 KiB of payload) as well.
/// Returns the header length, or `None` when `buf` has no room for the
/// headers or `payload` is shorter than [`MIN_HEAD_PAYLOAD`].
#[allow(clippy::too_many_arguments)]
pub fn emit_tcp_head(
    buf: &mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    h: &TcpHeader,
    payload: &[u8],
    csum: TcpCsum,
) -> Option<usize> {
    if payload.len() < MIN_HEAD_PAYLOAD {
        return None;
    }
    let (out, l4, hlen, seg_len) = write_tcp_headers(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        ttl,
        h,
        payload.len(),
        true,
    )?;
    let phdr = pseudo_header_sum(src, dst, IPPROTO_TCP, seg_len);
    if csum == TcpCsum::Offload {
        // The port computes both checksums: the IPv4 one over a zero field,
        // the TCP one starting from the pseudo-header sum.
        out[l4 - IPV4_HEADER_LEN + 10..l4 - IPV4_HEADER_LEN + 12].fill(0);
        let folded = !fold(phdr);
        out[l4 + 16..l4 + 18].copy_from_slice(&folded.to_be_bytes());
        return Some(l4 + hlen);
    }
    let head = &mut out[l4..l4 + hlen];
    // The header is a whole number of 32-bit words, so the payload's sum
    // chains onto it (RFC 1071: every chunk but the last of even length).
    let sum = sum_words(head, phdr);
    let sum = sum_words(payload, sum);
    head[16..18].copy_from_slice(&fold(sum).to_be_bytes());
    Some(l4 + hlen)
}

/// Writes the Ethernet, IPv4 and TCP headers (checksum field zero) of a
/// segment with `payload_len` payload bytes. Returns the frame, where the
/// TCP header starts, its length, and the TCP segment length.
#[allow(clippy::too_many_arguments)]
fn write_tcp_headers<'a>(
    buf: &'a mut [u8],
    eth_dst: MacAddr,
    eth_src: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    h: &TcpHeader,
    payload_len: usize,
    head_only: bool,
) -> Option<(&'a mut [u8], usize, usize, u16)> {
    let mut opts = [0u8; MAX_TCP_OPTIONS];
    let olen = emit_tcp_options(&h.options, &mut opts);
    let hlen = 20 + olen;
    let seg_len = u16::try_from(hlen + payload_len).ok()?;
    let (out, l4) = ipv4_frame(
        buf,
        eth_dst,
        eth_src,
        vlan,
        src,
        dst,
        ttl,
        IPPROTO_TCP,
        seg_len,
        head_only.then_some(hlen),
    )?;
    let seg = &mut out[l4..l4 + hlen];
    seg[0..2].copy_from_slice(&h.src_port.to_be_bytes());
    seg[2..4].copy_from_slice(&h.dst_port.to_be_bytes());
    seg[4..8].copy_from_slice(&h.seq.to_be_bytes());
    seg[8..12].copy_from_slice(&h.ack.to_be_bytes());
    seg[12] = ((hlen / 4) as u8) << 4;
    seg[13] = h.flags;
    seg[14..16].copy_from_slice(&h.window.to_be_bytes());
    seg[16..20].fill(0);
    seg[20..hlen].copy_from_slice(&opts[..olen]);
    Some((out, l4, hlen, seg_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, parse_tcp_options, tcp_flags, ChecksumCaps, L3, L4};
    use proptest::prelude::*;

    #[test]
    fn full_early_syn_fits_the_option_space() {
        let o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            early_data: Some(crate::EarlyData {
                isn: 7,
                tag: [1; 8],
            }),
            ..TcpOptions::default()
        };
        let mut out = [0u8; MAX_TCP_OPTIONS];
        let n = emit_tcp_options(&o, &mut out);
        assert_eq!(n, 36);
        assert_eq!(parse_tcp_options(&out[..n]).unwrap(), o);
    }

    proptest! {
        /// Headers written for a payload sent by reference, followed by that
        /// payload, are byte for byte the frame emit_tcp writes.
        #[test]
        fn head_plus_payload_is_the_whole_frame(
            seq: u32, ack: u32, ts: Option<(u32, u32)>, nblocks in 0usize..4,
            payload in proptest::collection::vec(any::<u8>(), 0..1460),
        ) {
            let mut o = TcpOptions { timestamps: ts, ..TcpOptions::default() };
            for i in 0..nblocks {
                o.sack_blocks[i] = (i as u32 * 100, i as u32 * 100 + 50);
            }
            o.sack_count = nblocks;
            let h = TcpHeader { src_port: 80, dst_port: 40000, seq, ack, flags: tcp_flags::ACK, window: 512, options: o };
            let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
            let mut whole = [0u8; 1600];
            let n = emit_tcp(&mut whole, [2; 6], [4; 6], None, a, b, 64, &h, &payload).unwrap();
            let mut head = [0xffu8; 1600];
            match emit_tcp_head(&mut head, [2; 6], [4; 6], None, a, b, 64, &h, &payload, TcpCsum::Software) {
                None => prop_assert!(payload.len() < MIN_HEAD_PAYLOAD),
                Some(k) => {
                    let mut joined = head[..k].to_vec();
                    joined.extend_from_slice(&payload);
                    prop_assert_eq!(&joined[..], &whole[..n]);
                    // With the checksums left to the port, what a port
                    // computes over the frame (the IPv4 one over its zero
                    // field, the TCP one from the pseudo-header sum in its
                    // field) gives the same frame.
                    let mut off = [0u8; 1600];
                    let k2 = emit_tcp_head(&mut off, [2; 6], [4; 6], None, a, b, 64, &h, &payload, TcpCsum::Offload).unwrap();
                    prop_assert_eq!(k2, k);
                    let mut joined = off[..k].to_vec();
                    joined.extend_from_slice(&payload);
                    let ip = crate::checksum::checksum(&joined[14..34]);
                    joined[24..26].copy_from_slice(&ip.to_be_bytes());
                    let tcp = crate::checksum::checksum(&joined[34..]);
                    joined[50..52].copy_from_slice(&tcp.to_be_bytes());
                    prop_assert_eq!(&joined[..], &whole[..n]);
                }
            }
        }

        #[test]
        fn emit_then_parse_round_trips(
            seq: u32, ack: u32, win: u16, flags in 0u8..0x3f,
            mss in proptest::option::of(536u16..9000), ws in proptest::option::of(0u8..15),
            sack_ok: bool, ts in proptest::option::of((any::<u32>(), any::<u32>())),
            nblocks in 0usize..5, payload in proptest::collection::vec(any::<u8>(), 0..1400),
            early in proptest::option::of((any::<u32>(), any::<[u8; 8]>())),
        ) {
            let early = early.map(|(isn, tag)| crate::EarlyData { isn, tag });
            let mut o = TcpOptions { mss, window_scale: ws, sack_permitted: sack_ok, timestamps: ts, early_data: early, ..TcpOptions::default() };
            for i in 0..nblocks {
                o.sack_blocks[i] = (i as u32 * 100, i as u32 * 100 + 50);
            }
            o.sack_count = nblocks;
            let h = TcpHeader { src_port: 80, dst_port: 40000, seq, ack, flags, window: win, options: o };
            let mut buf = [0u8; 1600];
            let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
            let n = emit_tcp(&mut buf, [2; 6], [4; 6], None, a, b, 64, &h, &payload).unwrap();
            let f = parse(&buf[..n], ChecksumCaps::default()).unwrap();
            let L3::Ipv4(ip) = f.l3 else { panic!() };
            let L4::Tcp(t) = ip.l4 else { panic!() };
            prop_assert_eq!((t.seq, t.ack, t.window, t.flags), (seq, ack, win, flags));
            prop_assert_eq!(t.payload, &payload[..]);
            let p = parse_tcp_options(t.options).unwrap();
            prop_assert_eq!((p.mss, p.window_scale, p.sack_permitted, p.timestamps), (mss, ws, sack_ok, ts));
            prop_assert_eq!(p.early_data, early);
            let used = 4 * usize::from(mss.is_some())
                + if ts.is_some() { 12 } else if sack_ok { 4 } else { 0 }
                + 4 * usize::from(ws.is_some())
                + 16 * usize::from(early.is_some());
            let fit = (MAX_TCP_OPTIONS - used).saturating_sub(4) / 8;
            prop_assert_eq!(p.sack_count, nblocks.min(fit));
            prop_assert!(t.options.len() <= MAX_TCP_OPTIONS);
            let _ = tcp_flags::SYN;
        }
    }
}
