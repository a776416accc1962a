use super::*;
use crate::emit::write_ipv4_header;
use crate::testutil::*;
use crate::*;
use proptest::prelude::*;

const NO_CAPS: ChecksumCaps = ChecksumCaps {
    ipv4_verified: false,
    l4_verified: false,
};

fn err(frame: &[u8]) -> DropReason {
    parse(frame, NO_CAPS).expect_err("frame should be dropped")
}

/// Ethernet + IPv4 (no options) carrying `l4` as protocol `proto`, padded.
fn raw_ip(proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut f = vec![0u8; (14 + total).max(MIN_FRAME_LEN)];
    emit_eth(&mut f, MAC_B, MAC_A, None, ETHERTYPE_IPV4).unwrap();
    write_ipv4_header(&mut f[14..], IP_A, IP_B, 64, proto, total as u16);
    f[34..34 + l4.len()].copy_from_slice(l4);
    f
}

fn tcp_of<'a>(f: &'a Frame<'a>) -> &'a Tcp<'a> {
    match &f.l3 {
        L3::Ipv4(Ipv4 { l4: L4::Tcp(t), .. }) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

// ---- accepted frames -------------------------------------------------------

#[test]
fn arp_untagged_and_tagged() {
    for vlan in [None, Some(100)] {
        let f = arp_frame(vlan, ARP_REQUEST);
        let p = parse(&f, NO_CAPS).unwrap();
        assert_eq!(p.eth.vlan, vlan);
        assert_eq!(p.eth.ethertype, ETHERTYPE_ARP);
        assert_eq!(p.eth.l3_offset, l3_offset(vlan));
        assert_eq!(p.eth.src, MAC_A);
        assert_eq!(
            p.l3,
            L3::Arp(Arp {
                op: ARP_REQUEST,
                sha: MAC_A,
                spa: IP_A,
                tha: [0; 6],
                tpa: IP_B
            })
        );
    }
}

#[test]
fn qinq_reports_outer_vid() {
    let inner = udp_frame(Some(20), b"hi");
    // Insert an 802.1ad outer tag with VID 10 in front of the 802.1Q tag.
    let mut f = inner[..12].to_vec();
    f.extend_from_slice(&[0x88, 0xa8, 0x00, 10]);
    f.extend_from_slice(&inner[12..]);
    let p = parse(&f, NO_CAPS).unwrap();
    assert_eq!(p.eth.vlan, Some(10));
    assert_eq!(p.eth.l3_offset, 22);
    assert_eq!(p.eth.ethertype, ETHERTYPE_IPV4);
    match p.l3 {
        L3::Ipv4(Ipv4 {
            l4: L4::Udp(u),
            l4_offset,
            ..
        }) => {
            assert_eq!(u.payload, b"hi");
            assert_eq!(l4_offset, 42);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn udp_padding_is_trimmed() {
    let f = udp_frame(None, b"abc");
    assert_eq!(f.len(), MIN_FRAME_LEN);
    let p = parse(&f, NO_CAPS).unwrap();
    let L3::Ipv4(ip) = p.l3 else { panic!() };
    assert_eq!(ip.total_len, 31);
    assert_eq!(ip.header_len, 20);
    assert_eq!(ip.l4_offset, 34);
    assert_eq!((ip.src, ip.dst, ip.ttl, ip.protocol), (IP_A, IP_B, 64, 17));
    let L4::Udp(u) = ip.l4 else { panic!() };
    assert_eq!((u.src_port, u.dst_port, u.payload), (1234, 53, &b"abc"[..]));
}

#[test]
fn udp_zero_checksum_accepted() {
    let mut f = udp_frame(None, b"no checksum");
    f[40..42].fill(0);
    assert!(parse(&f, NO_CAPS).is_ok());
}

#[test]
fn udp_payload_trimmed_to_udp_length() {
    let mut f = udp_frame(None, b"abcdef");
    f[38..40].copy_from_slice(&10u16.to_be_bytes());
    refresh_l4_checksum(&mut f, 14);
    let p = parse(&f, NO_CAPS).unwrap();
    let L3::Ipv4(Ipv4 { l4: L4::Udp(u), .. }) = p.l3 else {
        panic!()
    };
    assert_eq!(u.payload, b"ab");
}

#[test]
fn tcp_fields() {
    let opts = [2, 4, 0x05, 0xb4, 1, 3, 3, 7];
    let flags = tcp_flags::SYN | tcp_flags::ACK | tcp_flags::ECE;
    let f = tcp_frame(Some(7), flags, &opts, b"GET /");
    let p = parse(&f, NO_CAPS).unwrap();
    let t = tcp_of(&p);
    assert_eq!((t.src_port, t.dst_port), (40000, 80));
    assert_eq!((t.seq, t.ack), (0x0102_0304, 0x0a0b_0c0d));
    assert_eq!(t.flags, flags);
    assert_eq!((t.window, t.urgent, t.header_len), (65535, 7, 28));
    assert_eq!(t.options, &opts);
    assert_eq!(t.payload, b"GET /");
    let o = parse_tcp_options(t.options).unwrap();
    assert_eq!((o.mss, o.window_scale), (Some(1460), Some(7)));
}

#[test]
fn tcp_checksum_agrees_with_etherparse() {
    let f = tcp_frame(None, tcp_flags::PSH | tcp_flags::ACK, &[], b"hello world");
    let tcp = etherparse::TcpSlice::from_slice(&f[34..34 + 31]).unwrap();
    let expect = tcp
        .to_header()
        .calc_checksum_ipv4_raw(IP_A.octets(), IP_B.octets(), tcp.payload())
        .unwrap();
    assert_eq!(tcp.checksum(), expect);
}

#[test]
fn icmp_echo_fields() {
    let f = icmp_frame(None, 0x1234, 9, b"ping");
    let p = parse(&f, NO_CAPS).unwrap();
    let L3::Ipv4(Ipv4 {
        l4: L4::Icmp(i), ..
    }) = p.l3
    else {
        panic!()
    };
    assert_eq!((i.icmp_type, i.code), (ICMP_ECHO_REQUEST, 0));
    assert_eq!(i.rest, [0x12, 0x34, 0, 9]);
    assert_eq!(i.data, b"ping");
}

#[test]
fn icmp_timestamp_of_odd_length_accepted() {
    // etherparse's Icmpv4Slice insists on 20 bytes for type 13; we do not.
    let mut msg = [13u8, 0, 0, 0, 0, 1, 0, 1, 9, 9];
    let c = checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    assert!(parse(&raw_ip(IPPROTO_ICMP, &msg), NO_CAPS).is_ok());
}

#[test]
fn other_protocol_passed_through() {
    let f = raw_ip(47, b"gre!");
    let p = parse(&f, NO_CAPS).unwrap();
    let L3::Ipv4(ip) = p.l3 else { panic!() };
    assert_eq!(
        ip.l4,
        L4::Other {
            protocol: 47,
            payload: b"gre!"
        }
    );
}

#[test]
fn ip_options_accepted() {
    // IHL 6 with one NOP-padded option word in front of a UDP datagram.
    let udp = udp_frame(None, b"x");
    let mut f = udp[..34].to_vec();
    f.extend_from_slice(&[1, 1, 1, 0]);
    f.extend_from_slice(&udp[34..43]);
    f[14] = 0x46;
    f[16..18].copy_from_slice(&33u16.to_be_bytes());
    refresh_ip_checksum(&mut f, 14);
    refresh_l4_checksum(&mut f, 14);
    let p = parse(&f, NO_CAPS).unwrap();
    let L3::Ipv4(ip) = p.l3 else { panic!() };
    assert_eq!((ip.header_len, ip.l4_offset), (24, 38));
    assert!(matches!(ip.l4, L4::Udp(u) if u.payload == b"x"));
}

#[test]
fn caps_skip_offloaded_checksums() {
    let mut f = tcp_frame(None, tcp_flags::ACK, &[], b"data");
    f[24] ^= 0xff; // IP checksum
    f[50] ^= 0xff; // TCP checksum
    assert_eq!(err(&f), DropReason::BadIpChecksum);
    let ip_ok = ChecksumCaps {
        ipv4_verified: true,
        l4_verified: false,
    };
    assert_eq!(parse(&f, ip_ok).unwrap_err(), DropReason::BadTcpChecksum);
    let all = ChecksumCaps {
        ipv4_verified: true,
        l4_verified: true,
    };
    assert!(parse(&f, all).is_ok());
}

// ---- one test per drop reason ----------------------------------------------

#[test]
fn drop_truncated() {
    let udp = udp_frame(Some(5), b"");
    assert_eq!(err(&udp[..13]), DropReason::Truncated, "ethernet");
    assert_eq!(err(&udp[..17]), DropReason::Truncated, "vlan tag");
    let arp = arp_frame(None, ARP_REQUEST);
    assert_eq!(err(&arp[..14 + 27]), DropReason::Truncated, "arp body");
    assert_eq!(err(&arp[..14 + 7]), DropReason::Truncated, "arp fixed part");
    let plain = udp_frame(None, b"");
    assert_eq!(err(&plain[..14 + 19]), DropReason::Truncated, "ipv4");
    assert_eq!(err(&raw_ip(IPPROTO_TCP, &[0; 19])), DropReason::Truncated);
    assert_eq!(err(&raw_ip(IPPROTO_UDP, &[0; 7])), DropReason::Truncated);
    assert_eq!(err(&raw_ip(IPPROTO_ICMP, &[0; 7])), DropReason::Truncated);
}

#[test]
fn drop_unknown_ethertype() {
    let mut f = udp_frame(None, b"x");
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    assert_eq!(err(&f), DropReason::UnknownEtherType);
    // A third VLAN tag is not unwrapped.
    let mut f = udp_frame(Some(1), b"x");
    f[16..18].copy_from_slice(&0x8100u16.to_be_bytes());
    let mut g = f[..12].to_vec();
    g.extend_from_slice(&[0x88, 0xa8, 0, 2]);
    g.extend_from_slice(&f[12..]);
    assert_eq!(err(&g), DropReason::UnknownEtherType);
}

#[test]
fn drop_bad_ip_version() {
    let mut f = udp_frame(None, b"x");
    f[14] = 0x65;
    refresh_ip_checksum(&mut f, 14);
    assert_eq!(err(&f), DropReason::BadIpVersion);
}

#[test]
fn drop_bad_ihl() {
    let mut f = udp_frame(None, b"x");
    f[14] = 0x44;
    assert_eq!(err(&f), DropReason::BadIhl);
    // IHL 15 (60 bytes) in a frame with 46 bytes after Ethernet.
    f[14] = 0x4f;
    assert_eq!(err(&f), DropReason::BadIhl);
}

#[test]
fn drop_bad_ip_total_len() {
    let mut f = udp_frame(None, b"x");
    f[16..18].copy_from_slice(&19u16.to_be_bytes());
    refresh_ip_checksum(&mut f, 14);
    assert_eq!(err(&f), DropReason::BadIpTotalLen, "below header length");
    f[16..18].copy_from_slice(&47u16.to_be_bytes());
    refresh_ip_checksum(&mut f, 14);
    assert_eq!(err(&f), DropReason::BadIpTotalLen, "beyond the frame");
}

#[test]
fn drop_bad_ip_checksum() {
    let mut f = udp_frame(None, b"x");
    f[24] ^= 0x01;
    assert_eq!(err(&f), DropReason::BadIpChecksum);
}

#[test]
fn drop_ip_fragment() {
    let mut f = udp_frame(None, b"x");
    f[20] = 0x20; // MF
    refresh_ip_checksum(&mut f, 14);
    assert_eq!(err(&f), DropReason::IpFragment);
    f[20..22].copy_from_slice(&0x0001u16.to_be_bytes()); // offset 8 bytes
    refresh_ip_checksum(&mut f, 14);
    assert_eq!(err(&f), DropReason::IpFragment);
}

#[test]
fn drop_bad_tcp_data_offset() {
    let mut f = tcp_frame(None, tcp_flags::ACK, &[], b"");
    f[46] = 4 << 4;
    assert_eq!(err(&f), DropReason::BadTcpDataOffset, "below 5");
    f[46] = 6 << 4; // 24-byte header in a 20-byte segment
    assert_eq!(err(&f), DropReason::BadTcpDataOffset, "beyond the segment");
}

#[test]
fn drop_bad_tcp_checksum() {
    let mut f = tcp_frame(None, tcp_flags::ACK, &[], b"abc");
    f[54] ^= 0x80;
    assert_eq!(err(&f), DropReason::BadTcpChecksum);
}

#[test]
fn drop_bad_udp_length() {
    let mut f = udp_frame(None, b"abc");
    f[38..40].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(err(&f), DropReason::BadUdpLength, "below 8");
    f[38..40].copy_from_slice(&12u16.to_be_bytes());
    assert_eq!(err(&f), DropReason::BadUdpLength, "beyond the IP payload");
    f[38..40].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(err(&f), DropReason::BadUdpLength, "zero");
}

#[test]
fn drop_bad_udp_checksum() {
    let mut f = udp_frame(None, b"abc");
    f[42] ^= 0x01;
    assert_eq!(err(&f), DropReason::BadUdpChecksum);
}

#[test]
fn drop_bad_icmp_checksum() {
    let mut f = icmp_frame(None, 1, 1, b"abc");
    f[42] ^= 0x01;
    assert_eq!(err(&f), DropReason::BadIcmpChecksum);
}

#[test]
fn drop_bad_arp() {
    let cases: [(usize, u8); 5] = [(15, 6), (16, 0x86), (18, 8), (19, 16), (21, 3)];
    for (at, value) in cases {
        let mut f = arp_frame(None, ARP_REQUEST);
        f[at] = value;
        assert_eq!(err(&f), DropReason::BadArp, "byte {at} = {value}");
    }
    // A foreign layout is bad_arp even when the frame is short.
    let mut f = arp_frame(None, ARP_REQUEST);
    f[18] = 200;
    assert_eq!(err(&f[..30]), DropReason::BadArp);
}

#[test]
fn drop_bad_tcp_options() {
    // parse accepts the segment; the options decoder rejects the MSS length.
    let f = tcp_frame(None, tcp_flags::SYN, &[2, 3, 0, 1], b"");
    let p = parse(&f, NO_CAPS).unwrap();
    assert_eq!(
        parse_tcp_options(tcp_of(&p).options),
        Err(DropReason::BadTcpOptions)
    );
}

#[test]
fn every_reason_has_a_test_above() {
    // Keeps this file honest when a reason is added.
    assert_eq!(DropReason::COUNT, 14);
}

// ---- frames in two parts (parse_split) -----------------------------------

/// A TCP frame with a 301-byte payload, split after its headers.
fn split_tcp() -> (Vec<u8>, usize) {
    let payload: Vec<u8> = (0..301u32).map(|i| (i * 7) as u8).collect();
    (tcp_frame(None, tcp_flags::ACK, &[], &payload), 54)
}

#[test]
fn split_frame_gives_the_tail_as_payload() {
    let (f, at) = split_tcp();
    let (head, tail) = f.split_at(at);
    let p = parse_split(head, tail, NO_CAPS).unwrap();
    let t = tcp_of(&p);
    assert_eq!(t.payload, tail);
    assert!(
        std::ptr::eq(t.payload.as_ptr(), tail.as_ptr()),
        "not copied"
    );
    assert_eq!(parse_split(&f, &[], NO_CAPS), parse(&f, NO_CAPS));
}

#[test]
fn split_frame_checks_the_checksum_over_the_tail() {
    let (mut f, at) = split_tcp();
    let last = f.len() - 1;
    f[last] ^= 0x40;
    let (head, tail) = f.split_at(at);
    assert_eq!(
        parse_split(head, tail, NO_CAPS),
        Err(DropReason::BadTcpChecksum)
    );
    let caps = ChecksumCaps {
        ipv4_verified: true,
        l4_verified: true,
    };
    assert!(
        parse_split(head, tail, caps).is_ok(),
        "offloaded: not summed"
    );
}

#[test]
fn split_elsewhere_or_other_protocols_are_bad_lengths() {
    let (f, at) = split_tcp();
    for cut in [at - 1, at + 1, at + 100] {
        let (head, tail) = f.split_at(cut);
        let e = parse_split(head, tail, NO_CAPS);
        assert!(
            matches!(
                e,
                Err(DropReason::BadIpTotalLen
                    | DropReason::Truncated
                    | DropReason::BadTcpDataOffset)
            ),
            "cut {cut}: {e:?}"
        );
    }
    // A tail beyond the IPv4 total length.
    let (head, _) = f.split_at(at);
    let long = vec![0u8; 302];
    assert_eq!(
        parse_split(head, &long, NO_CAPS),
        Err(DropReason::BadIpTotalLen)
    );
    let u = udp_frame(None, b"hello");
    assert_eq!(
        parse_split(&u[..42], &u[42..47], NO_CAPS),
        Err(DropReason::BadIpTotalLen)
    );
    let a = arp_frame(None, ARP_REQUEST);
    assert_eq!(
        parse_split(&a, b"x", NO_CAPS),
        Err(DropReason::BadIpTotalLen)
    );
}

#[test]
fn a_super_segment_head_parses_with_its_tail() {
    // emit_tcp_head needs room for the headers only: the head of a 60 000
    // byte TSO segment fits in 128 bytes.
    let payload: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let h = TcpHeader {
        src_port: 80,
        dst_port: 40000,
        seq: 1,
        ack: 2,
        flags: tcp_flags::ACK,
        window: 512,
        options: TcpOptions::default(),
    };
    let mut head = [0u8; 128];
    let k = emit_tcp_head(
        &mut head,
        MAC_B,
        MAC_A,
        None,
        IP_A,
        IP_B,
        64,
        &h,
        &payload,
        TcpCsum::Software,
    )
    .unwrap();
    assert_eq!(k, 54);
    let p = parse_split(&head[..k], &payload, NO_CAPS).unwrap();
    assert_eq!(tcp_of(&p).payload.len(), 60_000);
    let long = vec![0u8; 65_536];
    assert!(
        emit_tcp_head(
            &mut head,
            MAC_B,
            MAC_A,
            None,
            IP_A,
            IP_B,
            64,
            &h,
            &long,
            TcpCsum::Software
        )
        .is_none(),
        "past the IPv4 total length"
    );
}

// ---- never panics ----------------------------------------------------------

fn valid_frames() -> Vec<Vec<u8>> {
    vec![
        arp_frame(None, ARP_REQUEST),
        arp_frame(Some(3), ARP_REPLY),
        udp_frame(None, &[7; 100]),
        udp_frame(Some(9), b""),
        icmp_frame(None, 1, 2, &[0xaa; 64]),
        tcp_frame(Some(4), tcp_flags::SYN, &[2, 4, 5, 0xb4], b""),
        tcp_frame(None, tcp_flags::ACK, &[], &[1; 300]),
    ]
}

/// Checks that an accepted frame's views lie inside the input.
fn check_invariants(bytes: &[u8], p: &Frame<'_>) {
    assert!(p.eth.l3_offset <= bytes.len());
    if let L3::Ipv4(ip) = &p.l3 {
        assert!(ip.header_len >= 20 && ip.header_len <= ip.total_len);
        assert!(p.eth.l3_offset + ip.total_len <= bytes.len());
        assert_eq!(ip.l4_offset, p.eth.l3_offset + ip.header_len);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000),
                                ipv4 in any::<bool>(), l4 in any::<bool>()) {
        let caps = ChecksumCaps { ipv4_verified: ipv4, l4_verified: l4 };
        if let Ok(p) = parse(&bytes, caps) {
            check_invariants(&bytes, &p);
        }
    }

    #[test]
    fn random_ethernet_ipv4_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200),
                                         proto in prop::sample::select(vec![1u8, 6, 17, 50])) {
        // Random bytes behind a plausible IPv4 start reach the L4 parsers.
        let mut f = raw_ip(proto, &[]);
        f.truncate(34);
        f.extend_from_slice(&tail);
        let total = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        refresh_ip_checksum(&mut f, 14);
        let caps = ChecksumCaps { ipv4_verified: false, l4_verified: true };
        if let Ok(p) = parse(&f, caps) {
            check_invariants(&f, &p);
        }
    }

    #[test]
    fn corrupted_valid_frames_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let frames = valid_frames();
        let mut f = frames[which.index(frames.len())].clone();
        for (at, v) in edits {
            let i = at.index(f.len());
            f[i] = v;
        }
        if do_cut {
            f.truncate(cut.index(f.len() + 1));
        }
        for caps in [NO_CAPS, ChecksumCaps { ipv4_verified: true, l4_verified: true }] {
            if let Ok(p) = parse(&f, caps) {
                check_invariants(&f, &p);
                if let L3::Ipv4(Ipv4 { l4: L4::Tcp(t), .. }) = p.l3 {
                    let _ = parse_tcp_options(t.options);
                }
            }
        }
    }

    #[test]
    fn split_frames_parse_as_the_whole_or_not_at_all(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        edit in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        let frames = valid_frames();
        let mut f = frames[which.index(frames.len())].clone();
        if let Some((at, v)) = edit {
            let i = at.index(f.len());
            f[i] = v;
        }
        let (head, tail) = f.split_at(cut.index(f.len() + 1));
        if let Ok(p) = parse_split(head, tail, NO_CAPS) {
            if !tail.is_empty() {
                let whole = parse(&f, NO_CAPS);
                prop_assert!(whole.is_ok(), "a split frame is valid whole");
                let t = tcp_of(&p);
                prop_assert_eq!(t.payload, tail);
                let w = whole.unwrap();
                prop_assert_eq!(tcp_of(&w).payload, tail);
            }
        }
    }

    #[test]
    fn tcp_options_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..60)) {
        if let Ok(o) = parse_tcp_options(&opts) {
            prop_assert!(o.sack_count <= 4);
            prop_assert!(o.window_scale.unwrap_or(0) <= 14);
        }
    }
}
