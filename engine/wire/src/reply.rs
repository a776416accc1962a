//! In-place rewrites of a received frame into its answer, so that ARP and
//! ICMP echo replies cost no copy of the payload, plus the MAC rewrites of
//! testpmd's forwarding modes.
//!
//! VLAN tags, if any, are kept as they are. The functions do not panic on
//! inputs that `parse` did not accept: they return 0 and leave the frame as it
//! was when it is too short for what `eth` claims.

use crate::checksum::{checksum, checksum_update};
use crate::emit::{ARP_LEN, IPV4_HEADER_LEN};
use crate::{EthInfo, MacAddr, ARP_REPLY, ICMP_ECHO_REPLY, MIN_FRAME_LEN};

/// TTL of the replies we originate (RFC 1700 default, as Linux uses).
const REPLY_TTL: u8 = 64;

/// Turns a received ARP request (accepted by `parse`) into our reply
/// (RFC 826): Ethernet dst = requester's sha, Ethernet src = `our_mac`,
/// op = 2, sha = `our_mac`, spa = old tpa, tha = old sha, tpa = old spa.
///
/// Returns the reply's length: L3 offset + 28, padded to 60 bytes when the
/// frame buffer allows, with the padding zeroed so that no stale bytes leak
/// (the "Etherleak" problem). Returns 0 if `frame` is too short for `eth`.
pub fn arp_reply_in_place(frame: &mut [u8], eth: &EthInfo, our_mac: MacAddr) -> usize {
    let l3 = eth.l3_offset;
    let end = l3 + ARP_LEN;
    if l3 < 14 || frame.len() < end {
        return 0;
    }
    let mut sha = [0u8; 6];
    let mut spa = [0u8; 4];
    let mut tpa = [0u8; 4];
    let a = &mut frame[l3..end];
    sha.copy_from_slice(&a[8..14]);
    spa.copy_from_slice(&a[14..18]);
    tpa.copy_from_slice(&a[24..28]);
    a[6..8].copy_from_slice(&ARP_REPLY.to_be_bytes());
    a[8..14].copy_from_slice(&our_mac);
    a[14..18].copy_from_slice(&tpa);
    a[18..24].copy_from_slice(&sha);
    a[24..28].copy_from_slice(&spa);
    set_macs(frame, sha, our_mac);
    pad(frame, end)
}

/// Turns a received ICMP echo request (accepted by `parse`) into the echo
/// reply (RFC 792): Ethernet dst = old src, Ethernet src = `our_mac`, IP
/// addresses swapped, TTL 64, IP header checksum recomputed (RFC 1071), ICMP
/// type 8 -> 0 with the checksum updated incrementally (RFC 1624 eqn 3).
/// IP options, identifier and data are left untouched.
///
/// Returns the reply's length: L3 offset + IP total length, padded to 60
/// bytes (zeroed) when the frame buffer allows. Returns 0 if `frame` is too
/// short for the headers it claims.
pub fn icmp_echo_reply_in_place(frame: &mut [u8], eth: &EthInfo, our_mac: MacAddr) -> usize {
    let l3 = eth.l3_offset;
    let Some(first) = frame.get(l3..l3 + IPV4_HEADER_LEN) else {
        return 0;
    };
    let header_len = usize::from(first[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([first[2], first[3]]));
    let end = l3 + total_len;
    if l3 < 14 || header_len < IPV4_HEADER_LEN || total_len < header_len + 8 || frame.len() < end {
        return 0;
    }
    let old_src = MacAddr::try_from(&frame[6..12]).unwrap_or_default();
    set_macs(frame, old_src, our_mac);

    let (ip, icmp) = frame[l3..end].split_at_mut(header_len);
    let mut addr = [0u8; 4];
    addr.copy_from_slice(&ip[12..16]);
    ip.copy_within(16..20, 12);
    ip[16..20].copy_from_slice(&addr);
    ip[8] = REPLY_TTL;
    ip[10..12].fill(0);
    let ip_cks = checksum(ip);
    ip[10..12].copy_from_slice(&ip_cks.to_be_bytes());

    let old_word = u16::from_be_bytes([icmp[0], icmp[1]]);
    let new_word = u16::from_be_bytes([ICMP_ECHO_REPLY, icmp[1]]);
    let old_cks = u16::from_be_bytes([icmp[2], icmp[3]]);
    icmp[0] = ICMP_ECHO_REPLY;
    let mut cks = checksum_update(old_cks, old_word, new_word);
    if cks == 0 {
        // RFC 1624 section 3: eqn 3 yields 0x0000 where a full sum yields
        // 0xffff iff the message is all zeros; recompute on this rare path.
        icmp[2..4].fill(0);
        cks = checksum(icmp);
    }
    icmp[2..4].copy_from_slice(&cks.to_be_bytes());
    pad(frame, end)
}

/// Swaps destination and source MAC addresses (testpmd "macswap" mode).
/// No-op on frames shorter than 12 bytes.
pub fn swap_macs(frame: &mut [u8]) {
    if let Some(macs) = frame.get_mut(..12) {
        // One 8-byte and one 4-byte load, a few shifts, two stores (no
        // temporary copy and no overlapping move): bytes 0..6 are the
        // destination, 6..12 the source, little-endian in the words.
        let (lo, hi) = macs.split_at_mut(8);
        let x = u64::from_le_bytes(lo.try_into().expect("8 bytes"));
        let y = u64::from(u32::from_le_bytes(hi.try_into().expect("4 bytes")));
        let dst = x & 0xffff_ffff_ffff;
        let src = (x >> 48) | (y << 16);
        lo.copy_from_slice(&(src | (dst << 48)).to_le_bytes());
        hi.copy_from_slice(&((dst >> 16) as u32).to_le_bytes());
    }
}

/// Overwrites destination and source MAC addresses (testpmd "mac" mode).
/// No-op on frames shorter than 12 bytes.
pub fn set_macs(frame: &mut [u8], dst: MacAddr, src: MacAddr) {
    if let Some(macs) = frame.get_mut(..12) {
        macs[..6].copy_from_slice(&dst);
        macs[6..].copy_from_slice(&src);
    }
}

/// Zeroes `frame[len..]` up to [`MIN_FRAME_LEN`] (as far as the buffer
/// reaches) and returns the resulting frame length.
fn pad(frame: &mut [u8], len: usize) -> usize {
    let padded = len.max(MIN_FRAME_LEN.min(frame.len()));
    if let Some(p) = frame.get_mut(len..padded) {
        p.fill(0);
    }
    padded
}

#[cfg(test)]
mod tests;
