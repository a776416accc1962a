//! The table's answers to segments without a connection, listeners, SYN
//! cookies and limits.

use super::*;
use crate::conn::Segment;

const A: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const C: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

fn local() -> SocketAddrV4 {
    SocketAddrV4::new(A, 80)
}
fn remote() -> SocketAddrV4 {
    SocketAddrV4::new(C, 50000)
}

fn s(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
    Segment {
        seq,
        ack,
        flags,
        window: 65535,
        opts: TcpOptions::default(),
        payload,
    }
}

#[test]
fn no_connection_answers_follow_rfc9293_3_10_7_1() {
    let mut t = Table::new(TableConfig::default());
    // A stray ACK (the anycast case): <SEQ=SEG.ACK><CTL=RST>.
    let Dispatch::Reply(h) = t.handle(0, local(), remote(), &s(7000, 123_456, ACK, b"")) else {
        panic!()
    };
    assert_eq!(
        (h.seq, h.flags, h.src_port, h.dst_port),
        (123_456, RST, 80, 50000)
    );
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    let Dispatch::Reply(h) = t.handle(0, local(), remote(), &s(7000, 0, FIN, b"data")) else {
        panic!()
    };
    assert_eq!((h.seq, h.ack, h.flags), (0, 7005, RST | ACK));
    // A RST is dropped.
    assert_eq!(
        t.handle(0, local(), remote(), &s(7000, 0, RST, b"")),
        Dispatch::Dropped
    );
    let st = t.stats();
    assert_eq!((st.rst_sent, st.rst_stray_ack, st.rst_ignored), (2, 1, 1));
}

#[test]
fn listening_port_follows_rfc9293_3_10_7_2() {
    let mut t = Table::new(TableConfig::default());
    t.listen(80);
    // Neither SYN nor ACK ("fourth, other data or control"): dropped, no
    // answer; the CLOSED form <SEQ=0><ACK=..><CTL=RST,ACK> is not sent.
    for (flags, payload) in [(0, &b"data"[..]), (FIN, &b""[..]), (FIN, &b"data"[..])] {
        assert_eq!(
            t.handle(0, local(), remote(), &s(7000, 0, flags, payload)),
            Dispatch::Dropped,
            "flags {flags:#x}"
        );
    }
    // A RST: ignored.
    assert_eq!(
        t.handle(0, local(), remote(), &s(7000, 0, RST, b"")),
        Dispatch::Dropped
    );
    // Any ACK (with data, with FIN): <SEQ=SEG.ACK><CTL=RST>.
    for flags in [ACK, ACK | FIN] {
        let Dispatch::Reply(h) = t.handle(0, local(), remote(), &s(7000, 4242, flags, b"x")) else {
            panic!("flags {flags:#x}")
        };
        assert_eq!((h.seq, h.flags), (4242, RST));
    }
    let st = t.stats();
    assert_eq!(
        (
            st.listen_dropped,
            st.rst_ignored,
            st.rst_sent,
            st.rst_stray_ack,
            st.opened
        ),
        (3, 1, 2, 2, 0)
    );
    // The same segments to a port nobody listens on (CLOSED, 3.10.7.1).
    let closed = SocketAddrV4::new(A, 81);
    let Dispatch::Reply(h) = t.handle(0, closed, remote(), &s(7000, 0, FIN, b"data")) else {
        panic!()
    };
    assert_eq!((h.seq, h.ack, h.flags), (0, 7005, RST | ACK));
    assert_eq!(t.stats().listen_dropped, 3);
}

#[test]
fn resets_are_rate_limited() {
    let mut t = Table::new(TableConfig {
        rst_per_sec: 100,
        ..TableConfig::default()
    });
    let mut replies = 0;
    for i in 0..1000u32 {
        if let Dispatch::Reply(_) = t.handle(
            u64::from(i) * 100_000,
            local(),
            remote(),
            &s(1, i, ACK, b""),
        ) {
            replies += 1;
        }
    }
    // 1000 ACKs over 0.1 s: only 100 answers.
    assert_eq!(replies, 100);
    assert_eq!(t.stats().rst_rate_limited, 900);
    assert!(matches!(
        t.handle(2_000_000_000, local(), remote(), &s(1, 5, ACK, b"")),
        Dispatch::Reply(_)
    ));
}

#[test]
fn the_last_rate_limited_reset_of_a_tuple_is_sent_when_the_limit_allows() {
    let mut t = Table::new(TableConfig {
        rst_per_sec: 100,
        ..TableConfig::default()
    });
    for i in 0..1000u32 {
        t.handle(
            u64::from(i) * 100_000,
            local(),
            remote(),
            &s(1, i, ACK, b""),
        );
    }
    // Still inside the second that the limit counts.
    assert_eq!(t.poll_deferred_rst(500_000_000), None);
    // Once it allows: one RST, answering the latest stray ACK (SEQ=SEG.ACK).
    let (tuple, h) = t.poll_deferred_rst(1_000_000_000).expect("deferred RST");
    assert_eq!((tuple.local, tuple.remote), (local(), remote()));
    assert_eq!((h.seq, h.flags), (999, RST));
    t.deferred_rst_sent(&h);
    assert_eq!(t.poll_deferred_rst(1_000_000_001), None);
    let st = t.stats();
    assert_eq!((st.rst_deferred, st.rst_rate_limited), (1, 900));
}

#[test]
fn listener_accepts_and_table_indexes_the_connection() {
    let mut t = Table::new(TableConfig::default());
    t.listen(80);
    let Dispatch::Accepted(id) = t.handle(0, local(), remote(), &s(500, 0, SYN, b"")) else {
        panic!()
    };
    assert_eq!(t.get(id).unwrap().state(), State::SynReceived);
    let mut buf = [0u8; 64];
    let synack = t
        .get_mut(id)
        .unwrap()
        .poll_transmit(0, &mut buf)
        .unwrap()
        .hdr;
    assert_eq!((synack.flags, synack.ack), (SYN | ACK, 501));
    let d = t.handle(
        1,
        local(),
        remote(),
        &s(501, synack.seq.wrapping_add(1), ACK, b""),
    );
    assert_eq!(d, Dispatch::Conn(id));
    assert_eq!(t.get(id).unwrap().state(), State::Established);
    assert_eq!(t.len(), 1);
    // Another port has no listener: RST|ACK.
    let other = SocketAddrV4::new(A, 81);
    assert!(
        matches!(t.handle(2, other, remote(), &s(9, 0, SYN, b"")), Dispatch::Reply(h) if h.flags == RST | ACK)
    );
}

#[test]
fn syn_cookies_when_the_backlog_is_full() {
    let mut t = Table::new(TableConfig {
        syn_backlog: 0,
        ..TableConfig::default()
    });
    t.listen(80);
    let Dispatch::Reply(h) = t.handle(0, local(), remote(), &s(800, 0, SYN, b"")) else {
        panic!()
    };
    assert_eq!(h.flags, SYN | ACK);
    assert_eq!(t.len(), 0, "no state kept");
    // A forged ACK does not open a connection.
    assert!(matches!(
        t.handle(
            1,
            local(),
            remote(),
            &s(801, h.seq.wrapping_add(99), ACK, b"")
        ),
        Dispatch::Reply(_)
    ));
    assert_eq!(t.stats().cookies_invalid, 1);
    // The real ACK does, with data.
    let Dispatch::Accepted(id) = t.handle(
        2,
        local(),
        remote(),
        &s(801, h.seq.wrapping_add(1), ACK | PSH_FLAG, b"GET"),
    ) else {
        panic!()
    };
    let c = t.get(id).unwrap();
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.readable(), 3);
    assert_eq!(t.stats().cookies_accepted, 1);
}

const PSH_FLAG: u8 = anyedge_wire::tcp_flags::PSH;

#[test]
fn a_full_table_refuses_with_a_count_and_frees_slots_on_reap() {
    let mut t = Table::new(TableConfig {
        capacity: 2,
        syn_cookies: false,
        ..TableConfig::default()
    });
    t.listen(80);
    for port in [1, 2] {
        let r = SocketAddrV4::new(C, port);
        assert!(matches!(
            t.handle(0, local(), r, &s(1, 0, SYN, b"")),
            Dispatch::Accepted(_)
        ));
    }
    let r3 = SocketAddrV4::new(C, 3);
    assert!(
        matches!(t.handle(0, local(), r3, &s(1, 0, SYN, b"")), Dispatch::Reply(h) if h.flags & RST != 0)
    );
    assert_eq!(t.stats().refused_full, 1);
    let id = t
        .lookup(&FourTuple {
            local: local(),
            remote: SocketAddrV4::new(C, 1),
        })
        .unwrap();
    t.get_mut(id).unwrap().abort();
    assert!(t.reap(id));
    assert!(matches!(
        t.handle(0, local(), r3, &s(1, 0, SYN, b"")),
        Dispatch::Accepted(_)
    ));
}

#[test]
fn timers_fire_through_the_wheel() {
    let mut t = Table::new(TableConfig::default());
    let id = t
        .connect(0, SocketAddrV4::new(A, 40000), SocketAddrV4::new(C, 80))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(t.get_mut(id).unwrap().poll_transmit(0, &mut buf).is_some());
    t.rearm(id, 0);
    let mut touched = Vec::new();
    t.handle_timeouts(500_000_000, &mut touched);
    assert!(touched.is_empty());
    t.handle_timeouts(1_000_000_001, &mut touched);
    assert_eq!(touched, vec![id], "the SYN's 1 s RTO fired");
    let again = t
        .get_mut(id)
        .unwrap()
        .poll_transmit(1_000_000_001, &mut buf)
        .unwrap();
    assert_eq!(again.hdr.flags, SYN, "SYN retransmitted");
}

#[test]
fn time_wait_slots_are_reused_when_the_table_is_full() {
    let mut t = Table::new(TableConfig {
        capacity: 1,
        syn_cookies: false,
        ..TableConfig::default()
    });
    t.listen(80);
    let r1 = SocketAddrV4::new(C, 1);
    let Dispatch::Accepted(id) = t.handle(0, local(), r1, &s(100, 0, SYN, b"")) else {
        panic!()
    };
    let mut buf = [0u8; 64];
    let synack = t
        .get_mut(id)
        .unwrap()
        .poll_transmit(0, &mut buf)
        .unwrap()
        .hdr;
    t.handle(
        1,
        local(),
        r1,
        &s(101, synack.seq.wrapping_add(1), ACK, b""),
    );
    // We close first: FIN, its ACK, the peer's FIN: TIME-WAIT.
    t.get_mut(id).unwrap().close();
    let fin = t
        .get_mut(id)
        .unwrap()
        .poll_transmit(2, &mut buf)
        .unwrap()
        .hdr;
    t.handle(
        3,
        local(),
        r1,
        &s(101, fin.seq.wrapping_add(1), ACK | FIN, b""),
    );
    assert_eq!(t.get(id).unwrap().state(), State::TimeWait);
    // Another client: the TIME-WAIT slot makes room.
    let r2 = SocketAddrV4::new(C, 2);
    assert!(matches!(
        t.handle(4, local(), r2, &s(7, 0, SYN, b"")),
        Dispatch::Accepted(_)
    ));
    assert_eq!(t.stats().time_wait_reused, 1);
    assert_eq!(t.stats().refused_full, 0);
}

/// Accepts a connection from client port `port` and completes its
/// handshake; returns its id and the ACK number the client uses next.
fn established(t: &mut Table, port: u16, now: u64) -> (ConnId, u32) {
    let r = SocketAddrV4::new(C, port);
    let Dispatch::Accepted(id) = t.handle(now, local(), r, &s(500, 0, SYN, b"")) else {
        panic!("SYN refused")
    };
    let mut buf = [0u8; 64];
    let synack = t
        .get_mut(id)
        .unwrap()
        .poll_transmit(now, &mut buf)
        .unwrap()
        .hdr;
    let ack = synack.seq.wrapping_add(1);
    assert_eq!(
        t.handle(now, local(), r, &s(501, ack, ACK, b"")),
        Dispatch::Conn(id)
    );
    (id, ack)
}

#[test]
fn freed_connections_lend_their_buffers_to_the_next_ones_and_no_old_byte_shows() {
    let mut t = Table::new(TableConfig::default());
    t.listen(80);
    // A connection that never carried data has no buffer storage to give.
    let (id, _) = established(&mut t, 1000, 0);
    t.get_mut(id).unwrap().abort();
    assert!(t.reap(id));
    assert_eq!(t.stats().buffers_spare, 0);
    for (i, port) in (1001..1005).enumerate() {
        let (id, ack) = established(&mut t, port, 0);
        let secret = [b'0' + i as u8; 100];
        let r = SocketAddrV4::new(C, port);
        assert_eq!(
            t.handle(0, local(), r, &s(501, ack, ACK, &secret)),
            Dispatch::Conn(id)
        );
        let c = t.get_mut(id).unwrap();
        assert_eq!(c.readable(), 100, "only this connection's bytes");
        let mut out = [0u8; 200];
        assert_eq!(c.recv(&mut out[..50]), 50);
        assert_eq!(&out[..50], &secret[..50]);
        c.send(b"reply");
        c.abort();
        assert!(t.reap(id));
        assert_eq!(t.stats().buffers_spare, 1, "one pair kept");
        assert_eq!(t.stats().buffers_reused, i as u64);
    }
    // The next one starts empty, on recycled storage.
    let (id, _) = established(&mut t, 2000, 0);
    assert_eq!(t.stats().buffers_reused, 4);
    let c = t.get_mut(id).unwrap();
    assert_eq!(
        (c.readable(), c.send_room()),
        (0, ConnConfig::default().send_buf)
    );
}
