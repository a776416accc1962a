use super::*;
use crate::testutil::*;
use crate::*;
use proptest::prelude::*;

const OUR_MAC: MacAddr = [0x02, 0xed, 0, 0, 0, 1];

fn request(sha: MacAddr, spa: Ipv4Addr, tpa: Ipv4Addr, vlan: Option<u16>) -> Vec<u8> {
    let arp = Arp {
        op: ARP_REQUEST,
        sha,
        spa,
        tha: [0; 6],
        tpa,
    };
    let mut buf = vec![0u8; 60];
    let n = emit_arp(&mut buf, [0xff; 6], vlan, &arp).unwrap();
    buf.truncate(n);
    buf
}

fn eth_of(f: &[u8]) -> EthInfo {
    parse(f, ChecksumCaps::default()).unwrap().eth
}

#[test]
fn arp_reply_unpadded_buffer_keeps_length() {
    let mut f = request(MAC_A, IP_A, IP_B, None);
    f.truncate(42); // e.g. from a tap device that strips padding
    let eth = eth_of(&f);
    assert_eq!(arp_reply_in_place(&mut f, &eth, OUR_MAC), 42);
    assert!(parse(&f, ChecksumCaps::default()).is_ok());
}

#[test]
fn arp_reply_zeroes_padding() {
    let mut f = request(MAC_A, IP_A, IP_B, None);
    f[50..60].fill(0xaa);
    let eth = eth_of(&f);
    assert_eq!(arp_reply_in_place(&mut f, &eth, OUR_MAC), 60);
    assert!(f[42..60].iter().all(|&b| b == 0));
}

#[test]
fn short_frames_are_left_alone() {
    let eth = eth_of(&request(MAC_A, IP_A, IP_B, None));
    let mut short = vec![1u8; 30];
    assert_eq!(arp_reply_in_place(&mut short, &eth, OUR_MAC), 0);
    assert_eq!(icmp_echo_reply_in_place(&mut short, &eth, OUR_MAC), 0);
    assert!(short.iter().all(|&b| b == 1));
    let mut empty: [u8; 0] = [];
    assert_eq!(icmp_echo_reply_in_place(&mut empty, &eth, OUR_MAC), 0);
}

#[test]
fn icmp_reply_all_zero_message_verifies() {
    // RFC 1624 eqn 3 gives 0x0000 here; the reply must carry 0xffff.
    let mut f = icmp_frame(None, 0, 0, &[]);
    let eth = eth_of(&f);
    let n = icmp_echo_reply_in_place(&mut f, &eth, OUR_MAC);
    assert_eq!(n, 60);
    assert_eq!(&f[36..38], &[0xff, 0xff]);
    assert!(parse(&f[..n], ChecksumCaps::default()).is_ok());
}

#[test]
fn mac_rewrites() {
    let mut f = udp_frame(None, b"x");
    swap_macs(&mut f);
    assert_eq!((&f[..6], &f[6..12]), (&MAC_A[..], &MAC_B[..]));
    set_macs(&mut f, OUR_MAC, MAC_B);
    assert_eq!((&f[..6], &f[6..12]), (&OUR_MAC[..], &MAC_B[..]));
    let mut short = [1u8, 2, 3];
    swap_macs(&mut short);
    set_macs(&mut short, OUR_MAC, MAC_B);
    assert_eq!(short, [1, 2, 3]);
}

proptest! {
    /// The word-wise swap is a plain swap of bytes 0..6 and 6..12, and
    /// touches nothing else.
    #[test]
    fn swap_macs_swaps_the_two_addresses_only(f in proptest::collection::vec(any::<u8>(), 12..80)) {
        let mut got = f.clone();
        swap_macs(&mut got);
        let mut want = f.clone();
        want[..6].copy_from_slice(&f[6..12]);
        want[6..12].copy_from_slice(&f[..6]);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn arp_reply_parses_back(sha in any::<MacAddr>(), spa in any::<u32>(), tpa in any::<u32>(),
                             vlan in proptest::option::of(0u16..4096)) {
        let (spa, tpa) = (Ipv4Addr::from(spa), Ipv4Addr::from(tpa));
        let mut f = request(sha, spa, tpa, vlan);
        let eth = eth_of(&f);
        let n = arp_reply_in_place(&mut f, &eth, OUR_MAC);
        prop_assert_eq!(n, 60);
        let p = parse(&f[..n], ChecksumCaps::default()).unwrap();
        prop_assert_eq!((p.eth.dst, p.eth.src, p.eth.vlan), (sha, OUR_MAC, vlan));
        let want = Arp { op: ARP_REPLY, sha: OUR_MAC, spa: tpa, tha: sha, tpa: spa };
        prop_assert_eq!(p.l3, L3::Arp(want));
    }

    #[test]
    fn icmp_reply_parses_back(id in any::<u16>(), seq in any::<u16>(),
                              data in proptest::collection::vec(any::<u8>(), 0..1400),
                              vlan in proptest::option::of(0u16..4096),
                              padding in 0usize..8) {
        let mut f = icmp_frame(vlan, id, seq, &data);
        let frame_len = f.len();
        f.extend(std::iter::repeat_n(0x5a, padding)); // trailing junk ignored by parse
        let eth = eth_of(&f);
        let n = icmp_echo_reply_in_place(&mut f, &eth, OUR_MAC);
        let l3 = l3_offset(vlan);
        prop_assert_eq!(n, frame_len);
        let p = parse(&f[..n], ChecksumCaps::default()).unwrap();
        prop_assert_eq!((p.eth.dst, p.eth.src, p.eth.vlan), (MAC_A, OUR_MAC, vlan));
        let L3::Ipv4(ip) = p.l3 else { panic!("not IPv4") };
        prop_assert_eq!((ip.src, ip.dst, ip.ttl), (IP_B, IP_A, 64));
        let L4::Icmp(i) = ip.l4 else { panic!("not ICMP") };
        prop_assert_eq!((i.icmp_type, i.code), (ICMP_ECHO_REPLY, 0));
        let [a, b, c, d] = i.rest;
        prop_assert_eq!((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])), (id, seq));
        prop_assert_eq!(i.data, &data[..]);
        // The incremental ICMP checksum equals a full recompute.
        let msg = &mut f[l3 + 20..l3 + 28 + data.len()];
        let got = u16::from_be_bytes([msg[2], msg[3]]);
        msg[2..4].fill(0);
        prop_assert_eq!(got, checksum(msg));
    }
}
