//! Early data on edge-gateway connections (issue 7, item 2; the scheme of
//! US 2015/0381771): the edge proposes the gateway's ISN in its SYN and
//! sends the request at once, before the real SYN/ACK.
//!
//! Only configured overlay peers may do this: the proposal carries a tag,
//! HMAC-SHA256 under the site key (`[anycast] key`, the key of the peer
//! channel) over the 4-tuple, the edge's ISS and the proposed ISN, cut to
//! 8 bytes. The proposed ISN itself is keyed too (like RFC 6528's ISN
//! function), so it is not predictable to an off-path stranger and needs no
//! random source. A gateway that cannot verify the tag treats the SYN as a
//! normal one and drops (and counts) the early data behind it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddrV4;

fn mac(key: &[u8], what: &[u8], edge: SocketAddrV4, gw: SocketAddrV4, seq: u32) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(what);
    m.update(&edge.ip().octets());
    m.update(&edge.port().to_be_bytes());
    m.update(&gw.ip().octets());
    m.update(&gw.port().to_be_bytes());
    m.update(&seq.to_be_bytes());
    m
}

/// The tag of a proposal of `isn` on the SYN `iss` from `edge` to `gw`.
pub fn tag(key: &[u8], edge: SocketAddrV4, gw: SocketAddrV4, iss: u32, isn: u32) -> [u8; 8] {
    let mut m = mac(key, b"anyedge-early-tag", edge, gw, iss);
    m.update(&isn.to_be_bytes());
    let d = m.finalize().into_bytes();
    let mut t = [0u8; 8];
    t.copy_from_slice(&d[..8]);
    t
}

/// The edge's proposal for a SYN with ISS `iss`: the gateway's ISN and its tag.
pub fn propose(key: &[u8], edge: SocketAddrV4, gw: SocketAddrV4, iss: u32) -> (u32, [u8; 8]) {
    let d = mac(key, b"anyedge-early-isn", edge, gw, iss)
        .finalize()
        .into_bytes();
    let isn = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    (isn, tag(key, edge, gw, iss, isn))
}

/// The gateway's check of a proposal (constant-time, through hmac).
pub fn verify(
    key: &[u8],
    edge: SocketAddrV4,
    gw: SocketAddrV4,
    iss: u32,
    isn: u32,
    t: [u8; 8],
) -> bool {
    let mut m = mac(key, b"anyedge-early-tag", edge, gw, iss);
    m.update(&isn.to_be_bytes());
    m.verify_truncated_left(&t).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proposal_verifies_only_with_the_same_key_tuple_and_syn() {
        let e: SocketAddrV4 = "10.0.2.2:49152".parse().unwrap();
        let g: SocketAddrV4 = "10.0.5.2:7800".parse().unwrap();
        let (isn, t) = propose(b"site-secret", e, g, 1234);
        assert!(verify(b"site-secret", e, g, 1234, isn, t));
        assert!(!verify(b"other-secret", e, g, 1234, isn, t), "key");
        assert!(!verify(b"site-secret", e, g, 1235, isn, t), "another SYN");
        assert!(
            !verify(b"site-secret", e, g, 1234, isn ^ 1, t),
            "another ISN"
        );
        let e2: SocketAddrV4 = "10.0.2.3:49152".parse().unwrap();
        assert!(!verify(b"site-secret", e2, g, 1234, isn, t), "another edge");
        assert_ne!(propose(b"site-secret", e, g, 1235).0, isn, "keyed per SYN");
    }
}
