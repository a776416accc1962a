//! Node tests on mem ports: the real lcore and mode code, driven by frames a
//! test host builds with the wire emitters.

use crate::config::NodeConfig;
use crate::fwd::FwdMode;
use crate::node::{Node, RunOptions, Threading};
use anyedge_port::mem::{pair, MemConfig, MemPort, MemRx, MemTx};
use anyedge_port::{FrameBuf, PktBuf, Port, RxQueue, TxQueue};
use anyedge_wire::{parse, Arp, ChecksumCaps, Ipv4Addr, ARP_REPLY, ARP_REQUEST, L3, L4};

const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

struct Host {
    rx: MemRx,
    tx: MemTx,
}

impl Host {
    fn new(mut p: MemPort) -> Host {
        let (mut rx, mut tx) = p.take_queues();
        Host {
            rx: rx.remove(0),
            tx: tx.remove(0),
        }
    }

    fn send(&mut self, build: impl FnOnce(&mut [u8]) -> Option<usize>) {
        let mut b = self.tx.alloc().unwrap();
        let cap = b.capacity();
        b.set_len(cap);
        let n = build(b.data_mut()).unwrap();
        b.set_len(n);
        let mut v = vec![b];
        assert_eq!(self.tx.tx_burst(&mut v), 1);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.send(|buf| {
            buf[..bytes.len()].copy_from_slice(bytes);
            Some(bytes.len())
        });
    }

    fn recv_all(&mut self) -> Vec<PktBuf> {
        let mut v = Vec::with_capacity(64);
        self.rx.rx_burst(&mut v, 64);
        v
    }
}

fn cdn_node() -> (Node<MemPort>, Host) {
    let (a, b) = pair("node0", "host0", MemConfig::default());
    let cfg = NodeConfig::parse(
        "[[port]]\nip = \"10.0.2.2/24\"\ngateway = \"10.0.2.1\"\n[anycast]\nvips = [\"203.0.113.10\"]\n",
    )
    .unwrap();
    let opts = RunOptions {
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    (Node::new(vec![a], cfg, opts).unwrap(), Host::new(b))
}

fn arp_request(target: Ipv4Addr) -> impl FnOnce(&mut [u8]) -> Option<usize> {
    move |buf| {
        anyedge_wire::emit_arp(
            buf,
            [0xff; 6],
            None,
            &Arp {
                op: ARP_REQUEST,
                sha: HOST_MAC,
                spa: HOST_IP,
                tha: [0; 6],
                tpa: target,
            },
        )
    }
}

#[test]
fn cdn_announces_answers_arp_and_ping_for_port_ip_and_vip() {
    let (mut node, mut host) = cdn_node();
    let node_mac = node.port_infos()[0].mac;
    node.start().unwrap();
    // Gratuitous ARP for the port address and the VIP.
    let garp = host.recv_all();
    assert_eq!(garp.len(), 2);
    for (g, ip) in garp.iter().zip([NODE_IP, VIP]) {
        let f = parse(g.data(), ChecksumCaps::default()).unwrap();
        let L3::Arp(a) = f.l3 else { panic!("not ARP") };
        assert_eq!((a.spa, a.tpa, a.sha), (ip, ip, node_mac));
    }
    for target in [NODE_IP, VIP] {
        host.send(arp_request(target));
        node.poll(1);
        let r = host.recv_all();
        assert_eq!(r.len(), 1);
        let f = parse(r[0].data(), ChecksumCaps::default()).unwrap();
        assert_eq!(f.eth.dst, HOST_MAC);
        let L3::Arp(a) = f.l3 else { panic!("not ARP") };
        assert_eq!(
            (a.op, a.sha, a.spa, a.tpa),
            (ARP_REPLY, node_mac, target, HOST_IP)
        );

        host.send(|buf| {
            anyedge_wire::emit_icmp_echo(
                buf, node_mac, HOST_MAC, None, HOST_IP, target, true, 7, 3, b"ping",
            )
        });
        node.poll(2);
        let r = host.recv_all();
        assert_eq!(r.len(), 1);
        let f = parse(r[0].data(), ChecksumCaps::default()).unwrap();
        let L3::Ipv4(ip) = f.l3 else { panic!("not IP") };
        assert_eq!(
            (ip.src, ip.dst),
            (target, HOST_IP),
            "the VIP is the source of its replies"
        );
        let L4::Icmp(i) = ip.l4 else {
            panic!("not ICMP")
        };
        assert_eq!((i.icmp_type, i.data), (0, &b"ping"[..]));
    }
    let arp = node.arp_entries();
    assert_eq!(arp[0].ip, HOST_IP);
    assert_eq!(arp[0].mac, HOST_MAC);
    let t = node.total_stats();
    assert_eq!((t.rx, t.answered, t.dropped()), (4, 4, 0));
}

#[test]
fn cdn_counts_every_frame_it_does_not_answer() {
    let (mut node, mut host) = cdn_node();
    let node_mac = node.port_infos()[0].mac;
    node.start().unwrap();
    host.recv_all();
    // Another host's unicast MAC, a short frame, an ARP for someone else,
    // a ping to another address, a UDP datagram with no service, a bad IP checksum.
    host.send(|buf| {
        anyedge_wire::emit_icmp_echo(
            buf,
            [2, 9, 9, 9, 9, 9],
            HOST_MAC,
            None,
            HOST_IP,
            NODE_IP,
            true,
            1,
            1,
            b"",
        )
    });
    host.send_raw(&[0xff; 8]);
    host.send(arp_request(Ipv4Addr::new(10, 0, 2, 77)));
    host.send(|buf| {
        anyedge_wire::emit_icmp_echo(
            buf,
            node_mac,
            HOST_MAC,
            None,
            HOST_IP,
            Ipv4Addr::new(10, 0, 2, 77),
            true,
            1,
            1,
            b"",
        )
    });
    host.send(|buf| {
        anyedge_wire::emit_udp(
            buf, node_mac, HOST_MAC, None, HOST_IP, NODE_IP, 64, 5, 53, b"q",
        )
    });
    let mut bad = vec![0u8; 64];
    let n = anyedge_wire::emit_icmp_echo(
        &mut bad, node_mac, HOST_MAC, None, HOST_IP, NODE_IP, true, 1, 1, b"",
    )
    .unwrap();
    bad[14 + 10] ^= 0xff;
    host.send_raw(&bad[..n]);
    node.poll(1);
    assert!(host.recv_all().is_empty());
    let r = node.execute("show drops json");
    let v: serde_json::Value = serde_json::from_str(&r.text).unwrap();
    for reason in [
        "not_for_us",
        "truncated",
        "arp_ignored",
        "not_our_ip",
        "no_service",
        "bad_ip_checksum",
    ] {
        assert_eq!(v["drops"][reason], 1, "{reason}: {v}");
    }
    assert_eq!(v["total"], 6);
    let t = node.total_stats();
    assert_eq!(
        t.rx,
        t.answered + t.consumed + t.dropped(),
        "every frame accounted"
    );
}

#[test]
fn io_and_macswap_forward_between_paired_ports() {
    let (a0, b0) = pair("p0", "h0", MemConfig::default());
    let (a1, b1) = pair("p1", "h1", MemConfig::default());
    let mut node = Node::new(vec![a0, a1], NodeConfig::default(), RunOptions::default()).unwrap();
    let (mut h0, mut h1) = (Host::new(b0), Host::new(b1));
    let frame: Vec<u8> = (0..100u8).collect();
    node.start().unwrap();
    h0.send_raw(&frame);
    node.poll(1);
    assert_eq!(h1.recv_all()[0].data(), &frame[..], "io leaves bytes alone");
    assert!(
        node.set_mode(FwdMode::MacSwap).is_err(),
        "mode changes only while stopped"
    );
    node.stop().unwrap();
    node.set_mode(FwdMode::MacSwap).unwrap();
    node.start().unwrap();
    // Several frames in one burst: each is swapped (the loop fetches ahead).
    let frames: Vec<Vec<u8>> = (0..5u8)
        .map(|k| frame.iter().map(|b| b.wrapping_add(k)).collect())
        .collect();
    for f in &frames {
        h1.send_raw(f);
    }
    node.poll(2);
    let got = h0.recv_all();
    assert_eq!(got.len(), frames.len());
    for (g, f) in got.iter().zip(&frames) {
        assert_eq!(&g.data()[..6], &f[6..12]);
        assert_eq!(&g.data()[6..12], &f[..6]);
        assert_eq!(&g.data()[12..], &f[12..]);
    }
}

#[test]
fn threaded_cores_start_stop_and_restart() {
    let (a0, b0) = pair("p0", "h0", MemConfig::default());
    let (a1, b1) = pair("p1", "h1", MemConfig::default());
    let opts = RunOptions {
        threading: Threading::Threads(vec![0]),
        ..RunOptions::default()
    };
    let mut node = Node::new(vec![a0, a1], NodeConfig::default(), opts).unwrap();
    let (mut h0, mut h1) = (Host::new(b0), Host::new(b1));
    for round in 0..2 {
        assert!(node.execute("start").ok);
        for _ in 0..100 {
            h0.send_raw(&[round; 60]);
        }
        let mut got = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got < 100 && std::time::Instant::now() < deadline {
            got += h1.recv_all().len();
            std::thread::yield_now();
        }
        assert_eq!(got, 100, "round {round}");
        let r = node.execute("stop");
        assert!(r.ok, "{}", r.text);
    }
    let v: serde_json::Value =
        serde_json::from_str(&node.execute("show port stats all json").text).unwrap();
    assert_eq!(v["ports"][0]["rx_packets"], 200);
    assert_eq!(v["ports"][1]["tx_packets"], 200);
    assert!(node.execute("clear port stats all").ok);
    let v: serde_json::Value =
        serde_json::from_str(&node.execute("show port stats all json").text).unwrap();
    assert_eq!(v["ports"][0]["rx_packets"], 0);
    assert!(node.execute("quit").quit);
}

#[test]
fn txonly_generates_valid_udp_and_rxonly_consumes() {
    let (a0, b0) = pair("p0", "h0", MemConfig::default());
    let opts = RunOptions {
        mode: FwdMode::TxOnly,
        burst: 8,
        ..RunOptions::default()
    };
    let mut node = Node::new(vec![a0], NodeConfig::default(), opts).unwrap();
    let mut h0 = Host::new(b0);
    node.start().unwrap();
    node.poll(1);
    let got = h0.recv_all();
    assert_eq!(got.len(), 8);
    let f = parse(got[0].data(), ChecksumCaps::default()).unwrap();
    assert!(matches!(f.l3, L3::Ipv4(ref ip) if matches!(ip.l4, L4::Udp(_))));
    assert_eq!(got[0].len(), 60);
    node.stop().unwrap();
    node.set_mode(FwdMode::RxOnly).unwrap();
    node.start().unwrap();
    h0.send_raw(&[1; 60]);
    node.poll(2);
    assert!(h0.recv_all().is_empty());
    assert_eq!(node.total_stats().consumed, 1);
}

#[test]
fn console_commands_answer_and_refuse_clearly() {
    let (mut node, _host) = cdn_node();
    let info: serde_json::Value =
        serde_json::from_str(&node.execute("show port info all json").text).unwrap();
    assert_eq!(info["ports"][0]["ip"], "10.0.2.2/24");
    assert_eq!(info["ports"][0]["driver"], "net_mem");
    assert!(node
        .execute("show port info all")
        .text
        .contains("10.0.2.2/24"));
    assert!(!node.execute("set fwd bogus").ok);
    assert!(!node.execute("frobnicate").ok);
    let r = node.execute("show overlay");
    assert!(!r.ok && r.text.contains("no overlay: set [overlay] role"));
    let v: serde_json::Value =
        serde_json::from_str(&node.execute("show anycast json").text).unwrap();
    assert_eq!(v["vips"][0], "203.0.113.10");
    assert_eq!(v["channel"], false, "no peers and no key in this config");
    let r = node.execute("show cache");
    assert!(
        !r.ok && r.text.contains("no cache: set [cache] dir"),
        "{}",
        r.text
    );
    let r = node.execute("tcp connect 10.0.2.1:80");
    assert!(
        !r.ok && r.text.contains("needs cdn forwarding started"),
        "{}",
        r.text
    );
    assert!(node.execute("set fwd icmpecho").ok);
    assert!(node.execute("start").ok);
    assert!(!node.execute("start").ok, "already started");
    assert!(node.execute("help").text.contains("show drops"));
    for cmd in [
        "show drops json",
        "show fwd stats all json",
        "show arp json",
        "show port stats all json",
    ] {
        let r = node.execute(cmd);
        assert!(
            serde_json::from_str::<serde_json::Value>(&r.text).is_ok(),
            "{cmd}: {}",
            r.text
        );
    }
}

/// Frames from the node to the test host, as TCP segments for a client `Conn`.
fn tcp_segments(frames: &[PktBuf]) -> Vec<(anyedge_wire::TcpHeader, Vec<u8>)> {
    let mut out = Vec::new();
    for f in frames {
        let Ok(p) = parse(f.data(), ChecksumCaps::default()) else {
            continue;
        };
        let L3::Ipv4(ip) = p.l3 else { continue };
        let L4::Tcp(t) = ip.l4 else { continue };
        let seg = anyedge_tcp::Segment::from_wire(&t).unwrap();
        let h = anyedge_wire::TcpHeader {
            src_port: t.src_port,
            dst_port: t.dst_port,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window,
            options: seg.opts,
        };
        out.push((h, t.payload.to_vec()));
    }
    out
}

/// A started `cdn` node on 10.0.2.2 (VIP 203.0.113.10) with one
/// `[services]` line, its MAC, and the host on the other end of its port.
fn service_node(service: &str) -> (Node<MemPort>, anyedge_port::MacAddr, Host) {
    let (a, b) = pair("node0", "host0", MemConfig::default());
    let cfg = NodeConfig::parse(&format!(
        "[[port]]\nip = \"10.0.2.2/24\"\n[anycast]\nvips = [\"203.0.113.10\"]\n[services]\n{service}\n"
    ))
    .unwrap();
    let opts = RunOptions {
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    let mut node = Node::new(vec![a], cfg, opts).unwrap();
    let node_mac = node.port_infos()[0].mac;
    let mut host = Host::new(b);
    node.start().unwrap();
    host.recv_all();
    (node, node_mac, host)
}

/// Hands a segment the node sent to the test's client connection.
fn feed(c: &mut anyedge_tcp::conn::Conn, now: u64, h: &anyedge_wire::TcpHeader, p: &[u8]) {
    let seg = anyedge_tcp::Segment {
        seq: h.seq,
        ack: h.ack,
        flags: h.flags,
        window: h.window,
        opts: h.options,
        payload: p,
    };
    c.handle_segment(now, &seg);
}

#[test]
fn cdn_serves_tcp_echo_and_resets_strays() {
    use anyedge_tcp::conn::{Conn, ConnConfig, State};
    use anyedge_wire::tcp_flags::{ACK, RST, SYN};
    use std::net::SocketAddrV4;
    let (mut node, node_mac, mut host) = service_node("echo = 7");
    let local = SocketAddrV4::new(HOST_IP, 40001);
    let remote = SocketAddrV4::new(VIP, 7);
    let mut c = Conn::connect(ConnConfig::default(), local, remote, 777, 0);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut buf = vec![0u8; 65536];
    let mut now = 0u64;
    for _ in 0..10_000 {
        now += 100_000;
        sent += c.send(&data[sent..]);
        while let Some(o) = c.poll_transmit(now, &mut buf) {
            let payload = buf[..o.payload_len].to_vec();
            host.send(|f| {
                anyedge_wire::emit_tcp(
                    f, node_mac, HOST_MAC, None, HOST_IP, VIP, 64, &o.hdr, &payload,
                )
            });
        }
        node.poll(now);
        for (h, p) in tcp_segments(&host.recv_all()) {
            feed(&mut c, now, &h, &p);
        }
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
        }
        loop {
            let n = c.recv(&mut buf);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert_eq!(c.state(), State::Established);
    assert!(
        got == data,
        "echoed byte-exact ({} of {})",
        got.len(),
        data.len()
    );
    let v: serde_json::Value = serde_json::from_str(&node.execute("show conn json").text).unwrap();
    assert_eq!(v["conns"][0]["app"], "echo");
    assert_eq!(v["conns"][0]["remote"], "10.0.2.1:40001");
    // A stray ACK (the anycast case) and a SYN to a closed port.
    let stray = anyedge_wire::TcpHeader {
        src_port: 40002,
        dst_port: 80,
        seq: 5,
        ack: 424_242,
        flags: ACK,
        window: 100,
        ..Default::default()
    };
    host.send(|f| {
        anyedge_wire::emit_tcp(f, node_mac, HOST_MAC, None, HOST_IP, VIP, 64, &stray, &[])
    });
    let syn = anyedge_wire::TcpHeader {
        src_port: 40003,
        dst_port: 81,
        seq: 9,
        flags: SYN,
        window: 100,
        ..Default::default()
    };
    host.send(|f| anyedge_wire::emit_tcp(f, node_mac, HOST_MAC, None, HOST_IP, VIP, 64, &syn, &[]));
    node.poll(now + 1);
    let answers = tcp_segments(&host.recv_all());
    assert_eq!((answers[0].0.seq, answers[0].0.flags), (424_242, RST));
    assert_eq!(
        (answers[1].0.seq, answers[1].0.ack, answers[1].0.flags),
        (0, 10, RST | ACK)
    );
    let v: serde_json::Value = serde_json::from_str(&node.execute("show conn json").text).unwrap();
    assert_eq!(v["table"]["rst_stray_ack"], 1);
    assert_eq!(v["table"]["rst_sent"], 2);
}

/// A burst of data segments that one poll reads gets one ACK for all of
/// them, sent after the burst (as a Linux receiver with GRO does): the
/// sender then takes one ACK per burst instead of one per two segments.
#[test]
fn cdn_acks_a_receive_burst_once() {
    use anyedge_tcp::conn::{Conn, ConnConfig, State};
    use anyedge_wire::tcp_flags::ACK;
    use std::net::SocketAddrV4;
    let (mut node, node_mac, mut host) = service_node("discard = 9");
    let local = SocketAddrV4::new(HOST_IP, 40009);
    let mut c = Conn::connect(
        ConnConfig::default(),
        local,
        SocketAddrV4::new(VIP, 9),
        1000,
        0,
    );
    let mut buf = vec![0u8; 65536];
    let mut exchange = |c: &mut Conn, host: &mut Host, now: u64| -> Vec<(u32, u8, usize)> {
        let mut sent = 0;
        while let Some(o) = c.poll_transmit(now, &mut buf) {
            let payload = buf[..o.payload_len].to_vec();
            host.send(|f| {
                anyedge_wire::emit_tcp(
                    f, node_mac, HOST_MAC, None, HOST_IP, VIP, 64, &o.hdr, &payload,
                )
            });
            sent += 1;
        }
        assert!(sent < 32, "one poll reads the whole burst");
        node.poll(now);
        let mut seen = Vec::new();
        for (h, p) in tcp_segments(&host.recv_all()) {
            seen.push((h.ack, h.flags, p.len()));
            feed(c, now, &h, &p);
        }
        seen
    };
    exchange(&mut c, &mut host, 1_000_000);
    assert_eq!(c.state(), State::Established);
    exchange(&mut c, &mut host, 2_000_000);
    // Ten full segments (the initial window) in one burst.
    let data = vec![7u8; 10 * 1448];
    assert_eq!(c.send(&data), data.len());
    let acks = exchange(&mut c, &mut host, 3_000_000);
    assert_eq!(
        acks,
        vec![(1001 + data.len() as u32, ACK, 0)],
        "one ACK, for the whole burst"
    );
}
