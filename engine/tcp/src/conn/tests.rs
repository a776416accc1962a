//! Scripted exchanges and a two-ended harness in virtual time, in the
//! spirit of smoltcp's socket tests and quinn-proto's `Pair`.

use super::*;
use anyedge_wire::tcp_flags::{ACK, FIN, RST, SYN};
use std::net::Ipv4Addr;

const MS: u64 = 1_000_000;

fn addr(last: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
}

fn cfg() -> ConnConfig {
    ConnConfig {
        send_buf: 64 * 1024,
        recv_buf: 64 * 1024,
        ..ConnConfig::default()
    }
}

/// A segment in flight: header and payload.
#[derive(Clone, Debug)]
struct Wire {
    at: u64,
    to_b: bool,
    hdr: TcpHeader,
    payload: Vec<u8>,
}

/// Decides which segments the wire loses (segment, running count).
type DropFilter = Box<dyn FnMut(&Wire, usize) -> bool>;

/// Two connections joined by a wire with a one-way delay and a drop filter.
struct Pair {
    a: Conn,
    b: Conn,
    now: u64,
    delay: u64,
    queue: Vec<Wire>,
    sent: Vec<Wire>,
    drop: DropFilter,
    count: usize,
    /// When each direction's wire is free again (12 us per segment, about
    /// 1 Gbit/s for full segments), so that bursts arrive spaced as on a link.
    busy: [u64; 2],
    /// Take segments with `poll_segment` + `copy_payload` (zero-copy TX)
    /// instead of `poll_transmit`.
    deferred: bool,
    /// The super-segment limit given to `poll_segment` (TSO), 0 for none.
    tso: usize,
    /// Extra delay per segment (reordering), after the link's spacing.
    extra: Box<dyn FnMut(&Wire) -> u64>,
}

impl Pair {
    fn new(a: Conn, b: Conn, delay: u64) -> Pair {
        Pair {
            a,
            b,
            now: 0,
            delay,
            queue: Vec::new(),
            sent: Vec::new(),
            drop: Box::new(|_, _| false),
            count: 0,
            busy: [0; 2],
            deferred: false,
            tso: 0,
            extra: Box::new(|_| 0),
        }
    }

    fn connected(delay: u64, ca: ConnConfig, cb: ConnConfig) -> Pair {
        let a = Conn::connect(ca, addr(1, 40000), addr(2, 80), 1000, 0);
        // b is made from a's SYN.
        let mut p = Pair::new(
            a,
            Conn::connect(cb, addr(2, 80), addr(1, 40000), 0, 0),
            delay,
        );
        let mut buf = [0u8; 2048];
        let syn = p.a.poll_transmit(0, &mut buf).unwrap();
        let s = seg(&syn.hdr, &[]);
        p.b = Conn::accept(cb, addr(2, 80), addr(1, 40000), 5000, &s, 0);
        p.sent.push(Wire {
            at: 0,
            to_b: true,
            hdr: syn.hdr,
            payload: Vec::new(),
        });
        p.run_until(
            |p| p.a.state() == State::Established && p.b.state() == State::Established,
            10_000 * MS,
        );
        p
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 65536];
        for to_b in [true, false] {
            loop {
                let c = if to_b { &mut self.a } else { &mut self.b };
                let o = if self.deferred {
                    c.poll_segment(self.now, buf.len(), self.tso)
                        .map(|(o, at)| {
                            assert_eq!(
                                c.copy_payload(at, &mut buf[..o.payload_len]),
                                o.payload_len
                            );
                            o
                        })
                } else {
                    c.poll_transmit(self.now, &mut buf)
                };
                let Some(o) = o else {
                    break;
                };
                let dir = usize::from(to_b);
                self.busy[dir] = self.busy[dir].max(self.now) + 12_000;
                let mut w = Wire {
                    at: self.busy[dir] + self.delay,
                    to_b,
                    hdr: o.hdr,
                    payload: buf[..o.payload_len].to_vec(),
                };
                w.at += (self.extra)(&w);
                self.count += 1;
                self.sent.push(w.clone());
                if !(self.drop)(&w, self.count) {
                    self.queue.push(w);
                }
            }
        }
    }

    fn step(&mut self) -> bool {
        self.flush();
        let next_q = self.queue.iter().map(|w| w.at).min();
        let next_t = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = [next_q, next_t].into_iter().flatten().min() else {
            return false;
        };
        self.now = self.now.max(next);
        let (due, rest): (Vec<Wire>, Vec<Wire>) =
            self.queue.drain(..).partition(|w| w.at <= self.now);
        self.queue = rest;
        for w in due {
            let s = seg(&w.hdr, &w.payload);
            if w.to_b {
                self.b.handle_segment(self.now, &s);
            } else {
                self.a.handle_segment(self.now, &s);
            }
        }
        for c in [&mut self.a, &mut self.b] {
            if c.poll_timeout().is_some_and(|t| t <= self.now) {
                c.handle_timeout(self.now);
            }
        }
        true
    }

    fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool, limit: u64) {
        while !done(self) {
            assert!(
                self.now <= limit,
                "not done by {} ms: a {:?} b {:?}",
                self.now / MS,
                self.a.state(),
                self.b.state()
            );
            if !self.step() {
                assert!(
                    done(self),
                    "stalled at {} ms: a {:?} b {:?}",
                    self.now / MS,
                    self.a.state(),
                    self.b.state()
                );
                return;
            }
        }
    }

    /// Sends `data` from a to b (and `back` from b to a), reading everything.
    fn transfer(&mut self, data: &[u8], back: &[u8], limit: u64) -> (Vec<u8>, Vec<u8>) {
        let (mut at_b, mut at_a) = (Vec::new(), Vec::new());
        let (mut sa, mut sb) = (0, 0);
        let mut buf = vec![0u8; 65536];
        self.run_until(
            |p| {
                sa += p.a.send(&data[sa..]);
                sb += p.b.send(&back[sb..]);
                loop {
                    let n = p.b.recv(&mut buf);
                    if n == 0 {
                        break;
                    }
                    at_b.extend_from_slice(&buf[..n]);
                }
                loop {
                    let n = p.a.recv(&mut buf);
                    if n == 0 {
                        break;
                    }
                    at_a.extend_from_slice(&buf[..n]);
                }
                at_b.len() == data.len() && at_a.len() == back.len()
            },
            limit,
        );
        (at_b, at_a)
    }
}

fn seg<'a>(h: &TcpHeader, payload: &'a [u8]) -> Segment<'a> {
    Segment {
        seq: h.seq,
        ack: h.ack,
        flags: h.flags,
        window: h.window,
        opts: h.options,
        payload,
    }
}

fn pattern(n: usize, k: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(k))
        .collect()
}

/// Reads everything `c` has received so far into `got`.
fn read_all(c: &mut Conn, buf: &mut [u8], got: &mut Vec<u8>) {
    loop {
        let n = c.recv(buf);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn handshake_negotiates_options_and_moves_to_established() {
    let p = Pair::connected(5 * MS, cfg(), cfg());
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
    let syn = &p.sent[0].hdr;
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.options.mss, Some(1460));
    assert!(
        syn.options.sack_permitted
            && syn.options.timestamps.is_some()
            && syn.options.window_scale.is_some()
    );
    assert_eq!(p.sent[1].hdr.flags, SYN | ACK);
    assert_eq!(p.sent[1].hdr.ack, syn.seq.wrapping_add(1));
    assert_eq!(p.a.eff_mss(), 1460 - 12, "timestamps take 12 bytes");
    assert!(p.a.sack_info().0);
    // The SYN's round trip is the first RTT sample.
    // (The SYN was handed over directly; the SYN-ACK crossed the wire.)
    assert_eq!(p.a.rtt().srtt(), Some(5 * MS + 12_000));
    // Pacing: twice cwnd per SRTT in slow start.
    let want = 2 * p.a.cc_info().0 as u64 * 1_000_000_000 / (5 * MS + 12_000);
    let got = p.a.pacing_rate().unwrap();
    assert!(got.abs_diff(want) <= want / 1000, "{got} vs {want}");
}

#[test]
fn bulk_transfer_both_ways_then_close_through_time_wait() {
    let mut p = Pair::connected(2 * MS, cfg(), cfg());
    let (d1, d2) = (pattern(1 << 20, 1), pattern(300_000, 2));
    let (got_b, got_a) = p.transfer(&d1, &d2, 60_000 * MS);
    assert_eq!(got_b, d1);
    assert_eq!(got_a, d2);
    p.a.close();
    assert_eq!(p.a.state(), State::FinWait1);
    p.run_until(
        |p| p.b.state() == State::CloseWait && p.a.state() == State::FinWait2,
        10_000 * MS,
    );
    assert!(p.b.poll_event_all().contains(&Event::PeerClosed));
    assert_eq!(p.a.state(), State::FinWait2);
    p.b.close();
    p.run_until(
        |p| p.b.state() == State::Closed && p.a.state() == State::TimeWait,
        10_000 * MS,
    );
    let tw_start = p.now;
    p.run_until(|p| p.a.state() == State::Closed, 200_000 * MS);
    // a entered TIME-WAIT one delay before b closed.
    assert!(
        p.now - tw_start + 5 * MS >= 2 * cfg().msl_ns,
        "TIME-WAIT lasts 2 MSL: {} ms",
        (p.now - tw_start) / MS
    );
    assert_eq!(p.a.stats().retransmits, 0);
}

#[test]
fn lost_segments_are_repaired_with_and_without_sack() {
    for sack in [true, false] {
        let c = ConnConfig { sack, ..cfg() };
        let mut p = Pair::connected(10 * MS, c, c);
        // Drop about one in 23 original data segments from a to b.
        let mut highest = 0u32;
        p.drop = Box::new(move |w, _| {
            let new = w.to_b && !w.payload.is_empty() && w.hdr.seq >= highest;
            if new {
                highest = w.hdr.seq + 1;
            }
            new && (w.hdr.seq / 1448) % 23 == 5
        });
        let data = pattern(2 << 20, 3);
        let (got, _) = p.transfer(&data, &[], 120_000 * MS);
        assert!(got == data, "byte-exact with sack={sack}");
        let s = p.a.stats();
        assert!(s.fast_retransmits > 0, "sack={sack}: {s:?}");
        assert!(s.retransmits > 0);
        assert_eq!(s.timeouts, 0, "repaired without RTO, sack={sack}: {s:?}");
    }
}

#[test]
fn deferred_payloads_and_shared_data_give_the_same_segments_as_copies() {
    // The same lossy transfer three ways: copied payloads, deferred ones
    // (poll_segment + copy_payload), and deferred with the data shared by
    // reference instead of written: the segments on the wire are the same.
    let data = pattern(1 << 20, 5);
    let shared: crate::buffer::Shared = std::sync::Arc::new(data.clone());
    let mut runs = Vec::new();
    for (deferred, by_ref) in [(false, false), (true, false), (true, true)] {
        let mut p = Pair::connected(5 * MS, cfg(), cfg());
        p.deferred = deferred;
        p.drop = Box::new(|w, n| w.to_b && !w.payload.is_empty() && n % 29 == 7);
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 65536];
        p.run_until(
            |p| {
                sent += if by_ref {
                    p.a.send_shared(&shared, sent, data.len() - sent)
                } else {
                    p.a.send(&data[sent..])
                };
                read_all(&mut p.b, &mut buf, &mut got);
                got.len() == data.len()
            },
            60_000 * MS,
        );
        assert!(
            got == data,
            "byte-exact (deferred {deferred}, shared {by_ref})"
        );
        assert!(p.a.stats().retransmits > 0);
        let wire: Vec<(u32, u8, Vec<u8>)> = p
            .sent
            .iter()
            .filter(|w| w.to_b)
            .map(|w| (w.hdr.seq, w.hdr.flags, w.payload.clone()))
            .collect();
        runs.push(wire);
    }
    assert!(runs[0] == runs[1], "deferred copies change nothing");
    assert!(runs[0] == runs[2], "shared data changes nothing");
}

#[test]
fn super_segments_carry_shared_data_and_retransmit_one_mss() {
    // A port with TSO takes up to 64 000 bytes per segment. Shared data
    // (a cached object) goes in whole-MSS super-segments; lost ones are
    // repaired one MSS at a time; the copied head before it stays MSS-sized.
    let data = pattern(3 << 20, 9);
    let shared: crate::buffer::Shared = std::sync::Arc::new(data.clone());
    let big = ConnConfig {
        recv_buf: 4 << 20,
        send_buf: 4 << 20,
        ..cfg()
    };
    let mut p = Pair::connected(5 * MS, big, big);
    p.deferred = true;
    p.tso = 64_000;
    p.drop = Box::new(|w, n| w.to_b && w.payload.len() > 10_000 && n % 17 == 5);
    let head = &data[..3000];
    let mut sent = p.a.send(head);
    assert_eq!(sent, 3000);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    p.run_until(
        |p| {
            sent += p.a.send_shared(&shared, sent, data.len() - sent);
            read_all(&mut p.b, &mut buf, &mut got);
            got.len() == data.len()
        },
        60_000 * MS,
    );
    assert!(got == data, "byte-exact");
    let mss = p.a.eff_mss();
    let sizes: Vec<usize> = p
        .sent
        .iter()
        .filter(|w| w.to_b && !w.payload.is_empty())
        .map(|w| w.payload.len())
        .collect();
    let supers = sizes.iter().filter(|&&n| n > mss).count();
    assert!(supers > 10, "super-segments sent: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 64_000));
    assert!(
        sizes[..2].iter().all(|&n| n <= mss),
        "copied head: {sizes:?}"
    );
    let last_new = p
        .sent
        .iter()
        .filter(|w| w.to_b && w.payload.len() > mss)
        .map(|w| w.hdr.seq.wrapping_add(w.payload.len() as u32))
        .max()
        .unwrap();
    for w in p.sent.iter().filter(|w| w.to_b && w.payload.len() > mss) {
        let end = w.hdr.seq.wrapping_add(w.payload.len() as u32);
        assert!(
            w.payload.len() % mss == 0 || end == last_new,
            "whole MSS unless the last: {}",
            w.payload.len()
        );
    }
    let s = p.a.stats();
    assert!(s.retransmits > 0, "{s:?}");
    // Every retransmission is at most one MSS (they are not new data).
    let mut seen = std::collections::HashSet::new();
    for w in p.sent.iter().filter(|w| w.to_b && !w.payload.is_empty()) {
        if !seen.insert(w.hdr.seq) {
            assert!(
                w.payload.len() <= mss,
                "a retransmission of {}",
                w.payload.len()
            );
        }
    }
}

#[test]
fn simultaneous_open_and_simultaneous_close() {
    let mut a = Conn::connect(cfg(), addr(1, 1111), addr(2, 2222), 100, 0);
    let mut b = Conn::connect(cfg(), addr(2, 2222), addr(1, 1111), 900, 0);
    let mut buf = [0u8; 2048];
    let sa = a.poll_transmit(0, &mut buf).unwrap();
    let sb = b.poll_transmit(0, &mut buf).unwrap();
    a.handle_segment(1, &seg(&sb.hdr, &[]));
    b.handle_segment(1, &seg(&sa.hdr, &[]));
    assert_eq!(
        (a.state(), b.state()),
        (State::SynReceived, State::SynReceived)
    );
    let mut p = Pair::new(a, b, MS);
    p.run_until(
        |p| p.a.state() == State::Established && p.b.state() == State::Established,
        10_000 * MS,
    );
    p.a.close();
    p.b.close();
    p.run_until(
        |p| p.a.state() == State::TimeWait && p.b.state() == State::TimeWait,
        10_000 * MS,
    );
    assert!(p.sent.iter().any(|w| w.hdr.flags & FIN != 0));
}

/// An established pair with a's view of b's next sequence number.
fn established() -> (Pair, u32) {
    let p = Pair::connected(MS, cfg(), cfg());
    let b_nxt = p.b.seqs().1 .0;
    (p, b_nxt)
}

fn ack_seg(seq: u32, ack: u32, flags: u8) -> TcpHeader {
    TcpHeader {
        src_port: 80,
        dst_port: 40000,
        seq,
        ack,
        flags,
        window: 1000,
        options: TcpOptions::default(),
    }
}

#[test]
fn rfc5961_rst_rules() {
    let (mut p, b_nxt) = established();
    let mut buf = [0u8; 64];
    let now = p.now;
    let a_una = p.a.seqs().0 .0;
    // In-window but not exact: challenge ACK, connection stays.
    p.a.handle_segment(now, &seg(&ack_seg(b_nxt + 100, 0, RST), &[]));
    assert_eq!(p.a.state(), State::Established);
    let o = p.a.poll_transmit(now, &mut buf).unwrap();
    assert_eq!(o.hdr.flags, ACK);
    assert_eq!(o.hdr.ack, b_nxt, "challenge ACK carries RCV.NXT");
    assert_eq!(p.a.stats().challenge_acks, 1);
    // Outside the window: dropped silently.
    p.a.handle_segment(
        now,
        &seg(&ack_seg(b_nxt.wrapping_sub(100_000), 0, RST), &[]),
    );
    assert!(p.a.poll_transmit(now, &mut buf).is_none());
    // Exact: reset.
    p.a.handle_segment(now, &seg(&ack_seg(b_nxt, a_una, RST), &[]));
    assert_eq!(p.a.state(), State::Closed);
    assert!(p.a.poll_event_all().contains(&Event::Reset));
}

#[test]
fn rfc5961_syn_and_ack_rules() {
    let (mut p, b_nxt) = established();
    let mut buf = [0u8; 64];
    let now = p.now;
    // A SYN on a synchronized connection: challenge ACK (RFC 5961 4.2).
    p.a.handle_segment(now, &seg(&ack_seg(b_nxt, 0, SYN), &[]));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.poll_transmit(now, &mut buf).unwrap().hdr.flags, ACK);
    // An ACK for data never sent: answered with an ACK, data dropped (RFC 5961 5.2).
    let (_, a_nxt, a_rcv) = p.a.seqs();
    p.a.handle_segment(now, &seg(&ack_seg(b_nxt, a_nxt.0 + 5000, ACK), b"hello"));
    assert_eq!(p.a.readable(), 0);
    assert_eq!(p.a.seqs().2, a_rcv);
    assert_eq!(p.a.poll_transmit(now, &mut buf).unwrap().hdr.ack, b_nxt);
    // Too old an ACK (below SND.UNA - MAX.SND.WND): challenge ACK, dropped.
    let before = p.a.stats().challenge_acks;
    p.a.handle_segment(
        now,
        &seg(&ack_seg(b_nxt, a_nxt.0.wrapping_sub(10_000_000), ACK), b"x"),
    );
    assert_eq!(p.a.stats().challenge_acks, before + 1);
    assert_eq!(p.a.readable(), 0);
    // Challenge ACKs are rate-limited.
    for _ in 0..1000 {
        p.a.handle_segment(now, &seg(&ack_seg(b_nxt + 7, 0, RST), &[]));
    }
    assert!(p.a.stats().challenge_acks <= u64::from(cfg().challenge_acks_per_sec) + 2);
}

#[test]
fn paws_drops_old_timestamps() {
    let (mut p, b_nxt) = established();
    let now = p.now;
    let (_, a_nxt, _) = p.a.seqs();
    let mut h = ack_seg(b_nxt, a_nxt.0, ACK);
    h.options.timestamps = Some((p.a.ts_recent.wrapping_sub(1000), 0));
    p.a.handle_segment(now, &seg(&h, b"stale"));
    assert_eq!(p.a.readable(), 0, "PAWS (RFC 7323 5.3)");
    h.options.timestamps = Some((p.a.ts_recent.wrapping_add(1), 0));
    p.a.handle_segment(now, &seg(&h, b"fresh"));
    assert_eq!(p.a.readable(), 5);
}

#[test]
fn rto_backs_off_and_gives_up() {
    let c = ConnConfig {
        max_retries: 4,
        ..cfg()
    };
    let mut p = Pair::connected(MS, c, c);
    p.drop = Box::new(|w, _| w.to_b);
    p.a.send(b"into the void");
    p.run_until(|p| p.a.state() == State::Closed, 600_000 * MS);
    p.flush();
    assert!(p.a.poll_event_all().contains(&Event::TimedOut));
    let times: Vec<u64> = p
        .sent
        .iter()
        .filter(|w| w.to_b && w.payload == b"into the void")
        .map(|w| w.at)
        .collect();
    // RFC 8985 7.2: the probe goes at the first RTO's time instead of it
    // (one segment in flight), then the RTO backs off as before.
    assert_eq!(p.a.stats().tlp_probes, 1);
    assert_eq!(
        times.len(),
        6,
        "original, a tail loss probe and four retransmissions"
    );
    for k in 3..times.len() {
        let (d1, d2) = (times[k - 1] - times[k - 2], times[k] - times[k - 1]);
        assert!(d2 >= 2 * d1 - MS, "exponential backoff: {d1} then {d2}");
    }
    assert!(
        p.sent.last().unwrap().hdr.flags & RST != 0,
        "gives up with a RST"
    );
}

#[test]
fn zero_window_is_probed_until_the_reader_catches_up() {
    let small = ConnConfig {
        recv_buf: 4096,
        ..cfg()
    };
    let mut p = Pair::connected(MS, cfg(), small);
    let data = pattern(20_000, 9);
    let mut sent = p.a.send(&data);
    // b does not read: the window closes.
    p.run_until(|p| p.b.readable() == 4096, 10_000 * MS);
    let t = p.now;
    for _ in 0..2000 {
        if !p.step() || p.now > t + 5_000 * MS {
            break;
        }
    }
    assert!(
        p.sent.iter().any(|w| w.to_b && w.payload.len() == 1),
        "a 1-byte window probe"
    );
    assert_eq!(
        p.a.state(),
        State::Established,
        "probing never gives up the connection"
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    p.run_until(
        |p| {
            sent += p.a.send(&data[sent..]);
            let n = p.b.recv(&mut buf);
            got.extend_from_slice(&buf[..n]);
            got.len() == data.len()
        },
        120_000 * MS,
    );
    assert!(got == data);
}

impl Conn {
    fn poll_event_all(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.poll_event()).collect()
    }
}

mod recovery;
mod resume;
mod takeover;
