use super::*;
use crate::testutil::*;
use crate::*;
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type, Ipv4HeaderSlice, UdpHeaderSlice};
use proptest::prelude::*;

fn caps() -> ChecksumCaps {
    ChecksumCaps::default()
}

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<MacAddr>()
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn vlan() -> impl Strategy<Value = Option<u16>> {
    proptest::option::of(0u16..4096)
}

/// IPv4 header checksum as etherparse computes it.
fn etherparse_ip_checksum(ip: &[u8]) -> u16 {
    Ipv4HeaderSlice::from_slice(ip)
        .unwrap()
        .to_header()
        .calc_header_checksum()
}

#[test]
fn eth_header_lengths() {
    let mut buf = [0u8; 18];
    assert_eq!(emit_eth(&mut buf, MAC_B, MAC_A, None, 0x0800), Some(14));
    assert_eq!(&buf[12..14], &[0x08, 0x00]);
    assert_eq!(
        emit_eth(&mut buf, MAC_B, MAC_A, Some(0xf123), 0x0806),
        Some(18)
    );
    assert_eq!(&buf[..6], &MAC_B);
    assert_eq!(&buf[6..12], &MAC_A);
    assert_eq!(&buf[12..18], &[0x81, 0x00, 0x01, 0x23, 0x08, 0x06]);
    assert_eq!(
        emit_eth(&mut buf[..17], MAC_B, MAC_A, Some(1), 0x0800),
        None
    );
    assert_eq!(emit_eth(&mut buf[..13], MAC_B, MAC_A, None, 0x0800), None);
}

#[test]
fn too_small_buffers_give_none() {
    let arp = Arp {
        op: ARP_REQUEST,
        sha: MAC_A,
        spa: IP_A,
        tha: [0; 6],
        tpa: IP_B,
    };
    let mut buf = [0u8; 2000];
    assert_eq!(emit_arp(&mut buf[..59], [0xff; 6], None, &arp), None);
    assert_eq!(emit_arp(&mut buf[..60], [0xff; 6], None, &arp), Some(60));
    let p = [0u8; 100];
    let need = 14 + 20 + 8 + 100;
    assert_eq!(
        emit_udp(
            &mut buf[..need - 1],
            MAC_B,
            MAC_A,
            None,
            IP_A,
            IP_B,
            64,
            1,
            2,
            &p
        ),
        None
    );
    assert_eq!(
        emit_udp(
            &mut buf[..need],
            MAC_B,
            MAC_A,
            None,
            IP_A,
            IP_B,
            64,
            1,
            2,
            &p
        ),
        Some(need)
    );
    let need = 18 + 20 + 8 + 100;
    assert_eq!(
        emit_icmp_echo(
            &mut buf[..need - 1],
            MAC_B,
            MAC_A,
            Some(2),
            IP_A,
            IP_B,
            true,
            1,
            2,
            &p
        ),
        None
    );
    assert_eq!(
        emit_icmp_echo(
            &mut buf[..need],
            MAC_B,
            MAC_A,
            Some(2),
            IP_A,
            IP_B,
            true,
            1,
            2,
            &p
        ),
        Some(need)
    );
    // Short frames need the whole 60 bytes.
    assert_eq!(
        emit_udp(
            &mut buf[..59],
            MAC_B,
            MAC_A,
            None,
            IP_A,
            IP_B,
            64,
            1,
            2,
            &[]
        ),
        None
    );
}

#[test]
fn oversized_payload_gives_none() {
    let mut buf = vec![0u8; 70_000];
    let p = vec![0u8; 65_535 - 28 + 1];
    assert_eq!(
        emit_udp(&mut buf, MAC_B, MAC_A, None, IP_A, IP_B, 64, 1, 2, &p),
        None
    );
    assert_eq!(
        emit_icmp_echo(&mut buf, MAC_B, MAC_A, None, IP_A, IP_B, true, 1, 2, &p),
        None
    );
    let n = emit_udp(&mut buf, MAC_B, MAC_A, None, IP_A, IP_B, 64, 1, 2, &p[1..]);
    assert_eq!(n, Some(14 + 65_535));
}

#[test]
fn padding_is_zeroed() {
    let mut buf = [0xeeu8; 64];
    let n = emit_udp(&mut buf, MAC_B, MAC_A, None, IP_A, IP_B, 64, 1, 2, b"a").unwrap();
    assert_eq!(n, 60);
    assert!(buf[43..60].iter().all(|&b| b == 0));
    assert_eq!(buf[60], 0xee, "nothing written past the frame");
}

proptest! {
    #[test]
    fn arp_round_trip(op in 1u16..=2, eth_dst in mac(), sha in mac(), tha in mac(),
                      spa in ip(), tpa in ip(), vlan in vlan()) {
        let arp = Arp { op, sha, spa, tha, tpa };
        let mut buf = [0u8; 80];
        let n = emit_arp(&mut buf, eth_dst, vlan, &arp).unwrap();
        prop_assert_eq!(n, 60);
        let p = parse(&buf[..n], caps()).unwrap();
        prop_assert_eq!(p.eth.dst, eth_dst);
        prop_assert_eq!(p.eth.src, sha);
        prop_assert_eq!(p.eth.vlan, vlan);
        prop_assert_eq!(p.l3, L3::Arp(arp));
        // etherparse agrees on the ARP packet.
        let ep = etherparse::ArpPacketSlice::from_slice(&buf[l3_offset(vlan)..n]).unwrap();
        prop_assert_eq!(ep.operation().0, op);
        prop_assert_eq!(ep.target_protocol_addr(), &tpa.octets()[..]);
    }

    #[test]
    fn udp_round_trip(eth_dst in mac(), eth_src in mac(), vlan in vlan(), src in ip(), dst in ip(),
                      ttl in any::<u8>(), sport in any::<u16>(), dport in any::<u16>(),
                      payload in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let mut buf = vec![0u8; 1500];
        let n = emit_udp(&mut buf, eth_dst, eth_src, vlan, src, dst, ttl, sport, dport, &payload)
            .unwrap();
        let l3 = l3_offset(vlan);
        prop_assert_eq!(n, (l3 + 28 + payload.len()).max(MIN_FRAME_LEN));
        let f = &buf[..n];
        let p = parse(f, caps()).unwrap();
        prop_assert_eq!((p.eth.dst, p.eth.src, p.eth.vlan), (eth_dst, eth_src, vlan));
        let L3::Ipv4(ip) = p.l3 else { panic!("not IPv4") };
        prop_assert_eq!((ip.src, ip.dst, ip.ttl, ip.protocol), (src, dst, ttl, IPPROTO_UDP));
        prop_assert_eq!(ip.total_len, 28 + payload.len());
        let L4::Udp(u) = ip.l4 else { panic!("not UDP") };
        prop_assert_eq!((u.src_port, u.dst_port), (sport, dport));
        prop_assert_eq!(u.payload, &payload[..]);

        // Checksums agree with etherparse's.
        let iph = Ipv4HeaderSlice::from_slice(&f[l3..]).unwrap();
        prop_assert_eq!(iph.header_checksum(), etherparse_ip_checksum(&f[l3..]));
        prop_assert!(iph.dont_fragment());
        prop_assert_eq!(iph.identification(), 0);
        let udp = UdpHeaderSlice::from_slice(&f[l3 + 20..]).unwrap();
        let expect = udp.to_header()
            .calc_checksum_ipv4_raw(src.octets(), dst.octets(), &payload)
            .unwrap();
        prop_assert_eq!(udp.checksum(), expect);
    }

    #[test]
    fn icmp_echo_round_trip(eth_dst in mac(), eth_src in mac(), vlan in vlan(), src in ip(),
                            dst in ip(), request in any::<bool>(), id in any::<u16>(),
                            seq in any::<u16>(),
                            data in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let mut buf = vec![0u8; 1500];
        let n = emit_icmp_echo(&mut buf, eth_dst, eth_src, vlan, src, dst, request, id, seq, &data)
            .unwrap();
        let l3 = l3_offset(vlan);
        prop_assert_eq!(n, (l3 + 28 + data.len()).max(MIN_FRAME_LEN));
        let f = &buf[..n];
        let p = parse(f, caps()).unwrap();
        prop_assert_eq!((p.eth.dst, p.eth.src, p.eth.vlan), (eth_dst, eth_src, vlan));
        let L3::Ipv4(ip) = p.l3 else { panic!("not IPv4") };
        prop_assert_eq!((ip.src, ip.dst, ip.protocol), (src, dst, IPPROTO_ICMP));
        let L4::Icmp(i) = ip.l4 else { panic!("not ICMP") };
        let ty = if request { ICMP_ECHO_REQUEST } else { ICMP_ECHO_REPLY };
        prop_assert_eq!((i.icmp_type, i.code), (ty, 0));
        let [a, b, c, d] = i.rest;
        prop_assert_eq!((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])), (id, seq));
        prop_assert_eq!(i.data, &data[..]);

        prop_assert_eq!(
            u16::from_be_bytes([f[l3 + 10], f[l3 + 11]]),
            etherparse_ip_checksum(&f[l3..])
        );
        let echo = IcmpEchoHeader { id, seq };
        let ty = if request { Icmpv4Type::EchoRequest(echo) } else { Icmpv4Type::EchoReply(echo) };
        let expect = Icmpv4Header::with_checksum(ty, &data).checksum;
        prop_assert_eq!(u16::from_be_bytes([f[l3 + 22], f[l3 + 23]]), expect);
    }
}
