//! The virtio-net header (`struct virtio_net_hdr`, virtio 1.0 section
//! 5.1.6) that a TAP opened with `IFF_VNET_HDR` puts in front of every
//! frame, both ways. It is how the engine hands the kernel a TCP checksum
//! to finish and a super-segment to cut (TSO), as a virtio NIC would.
//!
//! The engine does not set `TUNSETOFFLOAD`, so the kernel sends it only
//! complete, checksummed, MTU-sized frames: the header of a received frame
//! asks for nothing. The fields are in the host's byte order, as the kernel
//! reads a legacy header (`tun_is_little_endian`).

use crate::buf::TxOffload;
use crate::inet_csum::{fold, sum};

/// Length of the header (`sizeof(struct virtio_net_hdr)`, the TAP's
/// default `TUNSETVNETHDRSZ`).
pub(super) const LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start +
/// csum_offset` holds the pseudo-header sum; the rest is left to the taker.
const F_NEEDS_CSUM: u8 = 1;

/// `VIRTIO_NET_HDR_GSO_TCPV4`: cut into TCP/IPv4 segments of `gso_size`.
const GSO_TCPV4: u8 = 1;

/// The header for a frame sent with offloads `o`.
pub(super) fn encode(o: &TxOffload) -> [u8; LEN] {
    let mut h = [0u8; LEN];
    if o.csum_start != 0 {
        h[0] = F_NEEDS_CSUM;
        h[6..8].copy_from_slice(&o.csum_start.to_ne_bytes());
        h[8..10].copy_from_slice(&o.csum_offset.to_ne_bytes());
    }
    if o.gso_size != 0 {
        h[1] = GSO_TCPV4;
        h[2..4].copy_from_slice(&o.hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&o.gso_size.to_ne_bytes());
    }
    h
}

/// Whether a received frame's header asks for nothing (no checksum left to
/// finish, no segmentation): the only kind the engine takes, since it
/// offered the kernel no offload.
pub(super) fn plain(h: &[u8; LEN]) -> bool {
    h[0] & F_NEEDS_CSUM == 0 && h[1] == 0
}

/// Fills the IPv4 header checksum (RFC 791, RFC 1071) of the header at
/// `l3` of `frame` (`len` bytes, checksum field first zeroed). virtio has
/// no IPv4 checksum offload: the kernel verifies this one on receive, and
/// recomputes it per segment when it cuts a super-segment.
pub(super) fn fill_ipv4_checksum(frame: &mut [u8], l3: usize, len: usize) {
    let Some(h) = frame.get_mut(l3..l3 + len) else {
        return;
    };
    if len < 20 {
        return;
    }
    h[10..12].fill(0);
    let c = !fold(sum(h, 0));
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_super_segment_header_asks_for_both_offloads() {
        let o = TxOffload {
            csum_start: 34,
            csum_offset: 16,
            gso_size: 1448,
            hdr_len: 66,
        };
        let h = encode(&o);
        assert_eq!((h[0], h[1]), (F_NEEDS_CSUM, GSO_TCPV4));
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 66);
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 1448);
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 34);
        assert_eq!(u16::from_ne_bytes([h[8], h[9]]), 16);
        assert!(!plain(&h));
        assert_eq!(encode(&TxOffload::default()), [0; LEN]);
        assert!(plain(&[0; LEN]));
    }

    #[test]
    fn the_ipv4_checksum_verifies() {
        // RFC 1071's property: summed with its checksum, a header folds to
        // 0xffff. An example header from a capture (checksum 0xb861).
        let mut f = vec![0u8; 14];
        f.extend_from_slice(&[
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xaa, 0xaa, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ]);
        fill_ipv4_checksum(&mut f, 14, 20);
        assert_eq!(&f[24..26], &[0xb8, 0x61]);
    }
}
