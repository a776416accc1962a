//! The Internet checksum (RFC 1071), for the few places where a port
//! computes or checks one itself: the TAP's IPv4 header checksum (virtio
//! does not offload it) and the DPDK port's software check of frames its
//! driver could not judge. The engine's own fast-path sums are in
//! `anyedge_wire::checksum`; the port crate stays below the wire crate.

/// Adds the big-endian 16-bit words of `data` to `acc`; an odd last byte
/// is padded with zero on the right (RFC 1071 section 4.1).
pub(crate) fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

/// Folds the carries of `acc` back in (end-around carry): the
/// one's-complement sum in 16 bits. Over data that holds a correct
/// checksum it is 0xffff; the checksum to store is its complement.
pub(crate) fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}
