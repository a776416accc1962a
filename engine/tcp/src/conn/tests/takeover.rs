//! Replicated connections (replica.rs): the output-commit gate, and a
//! backup continuing a stream from a snapshot and the peer's next ACK.

use super::*;

#[test]
fn ack_limit_holds_back_the_ack_field_but_not_the_window_edge() {
    let (mut p, _) = established();
    let rcv = p.b.seqs().2;
    p.b.set_ack_limit(Some(rcv.0));
    p.a.send(b"GET / HTTP/1.1\r\n\r\n");
    p.run_until(|p| p.b.readable() == 18, 100 * MS);
    let mut buf = [0u8; 2048];
    // The pure ACK owed for the request waits for the backup.
    assert!(p.b.ack_held());
    assert!(p.b.poll_transmit(p.now, &mut buf).is_none());
    // Data still goes out, acknowledging only what is committed, with
    // the right edge where RCV.NXT puts it.
    p.b.send(b"x");
    let o = p.b.poll_transmit(p.now, &mut buf).unwrap();
    assert_eq!(o.hdr.ack, rcv.0);
    let edge = o
        .hdr
        .ack
        .wrapping_add(u32::from(o.hdr.window) << p.b.rcv_shift);
    assert!(edge.wrapping_sub(p.b.seqs().2 .0) as i32 >= 0);
    // The confirmation opens it: the ACK goes at once.
    p.b.set_ack_limit(Some(p.b.seqs().2 .0));
    let o = p.b.poll_transmit(p.now, &mut buf).unwrap();
    assert_eq!(o.hdr.ack, p.b.seqs().2 .0);
    // The peer's FIN after committed data is not held back.
    let committed = p.b.seqs().2 .0;
    p.a.close();
    p.run_until(|p| p.b.state() == State::CloseWait, 100 * MS);
    p.b.set_ack_limit(Some(committed));
    assert!(!p.b.ack_held());
    assert_eq!(p.b.ack_field().0, committed.wrapping_add(1));
}

/// The SYN-ACK acknowledges the SYN: with the limit at IRS it waits
/// (also for a retransmitted SYN), and it goes once the limit covers
/// the SYN. A backup holding the SYN-RECEIVED snapshot continues the
/// connection from the client's handshake ACK, without a RST.
#[test]
fn the_syn_ack_waits_for_the_backup_and_a_backup_continues_from_the_handshake() {
    let mut buf = [0u8; 2048];
    let mut a = Conn::connect(cfg(), addr(1, 40000), addr(2, 80), 1000, 0);
    let syn = a.poll_transmit(0, &mut buf).unwrap();
    let s = seg(&syn.hdr, &[]);
    let mut b = Conn::accept(cfg(), addr(2, 80), addr(1, 40000), 5000, &s, 0);
    let irs = b.seqs().2 .0.wrapping_sub(1);
    b.set_ack_limit(Some(irs));
    assert!(b.ack_held());
    assert!(b.poll_transmit(0, &mut buf).is_none(), "SYN-ACK held");
    assert_eq!(
        b.poll_timeout(),
        None,
        "nothing sent, nothing to retransmit"
    );
    b.handle_segment(MS, &s);
    assert!(b.poll_transmit(MS, &mut buf).is_none(), "still held");
    let snap = b.snapshot(MS);
    b.set_ack_limit(Some(irs.wrapping_add(1)));
    let sa = b.poll_transmit(MS, &mut buf).unwrap();
    assert_eq!(sa.hdr.flags, SYN | ACK);
    assert_eq!(sa.hdr.ack, irs.wrapping_add(1));
    // The primary is gone now; the client's ACK reaches the backup.
    a.handle_segment(2 * MS, &seg(&sa.hdr, &[]));
    assert_eq!(a.state(), State::Established);
    a.send(b"GET / HTTP/1.1\r\n\r\n");
    let o = a.poll_transmit(2 * MS, &mut buf).unwrap();
    let req = seg(&o.hdr, &buf[..o.payload_len]);
    let mut c = Conn::from_snapshot(cfg(), addr(2, 80), addr(1, 40000), &snap, MS, &req, 3 * MS)
        .expect("the handshake ACK fits the snapshot");
    assert_eq!(c.state(), State::Established);
    c.handle_segment(3 * MS, &req);
    assert_eq!(c.readable(), 18, "the request is taken in order");
    c.send(b"HTTP/1.1 200 OK\r\n\r\n");
    let r = c.poll_transmit(3 * MS, &mut buf).unwrap();
    assert_eq!(r.hdr.seq, 5001, "the stream starts after our SYN");
    a.handle_segment(4 * MS, &seg(&r.hdr, &buf[..r.payload_len]));
    assert_eq!(a.readable(), 19);
    assert_eq!(a.state(), State::Established, "no RST at the client");
}

#[test]
fn a_backup_continues_the_stream_from_the_peers_ack() {
    let (mut p, _) = established();
    let data = pattern(300_000, 7);
    // SND.UNA of the established pair: the first byte of the stream.
    let iss = p.b.seqs().0 .0;
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    p.run_until(
        |p| {
            sent += p.b.send(&data[sent..]);
            read_all(&mut p.a, &mut buf, &mut got);
            got.len() >= 100_000
        },
        10_000 * MS,
    );
    // The primary dies here; the backup holds a snapshot from a moment ago.
    let snap = p.b.snapshot(p.now);
    let old_ts = snap.ts_val;
    p.queue.retain(|w| !w.to_b);
    p.a.ack_now = true;
    let o = p.a.poll_transmit(p.now, &mut buf).unwrap();
    let s = seg(&o.hdr, &[]);
    let cfg_b = p.b.cfg;
    let mut b = Conn::from_snapshot(cfg_b, p.b.local, p.b.remote, &snap, 5 * MS, &s, p.now)
        .expect("the ACK fits the snapshot");
    assert_eq!(b.state(), State::Established);
    b.handle_segment(p.now, &s);
    // Our timestamps go on past the primary's (the peer's PAWS, RFC 7323 5).
    assert!(b.ts_now(p.now).wrapping_sub(old_ts) as i32 > 0);
    // The application resumes at the peer's ACK.
    let mut at = o.hdr.ack.wrapping_sub(iss) as usize;
    p.b = b;
    p.run_until(
        |p| {
            at += p.b.send(&data[at..]);
            read_all(&mut p.a, &mut buf, &mut got);
            got.len() == data.len()
        },
        20_000 * MS,
    );
    assert!(got == data, "the stream is byte-exact across the takeover");
    assert_eq!(p.a.state(), State::Established);
}

/// After a takeover the peer's ACKs may be for the primary's copies of
/// the bytes we resend (still in the network), and its echoes are of
/// the primary's clock: neither gives an RTT sample (RFC 6298 3, Karn;
/// RFC 7323 4.1), and RACK does not take such a delivery as timing our
/// segments (RFC 8985 6.2 step 2).
#[test]
fn after_a_takeover_acks_of_the_primarys_copies_give_no_rtt_sample() {
    let (mut p, _) = established();
    let data = pattern(200_000, 3);
    let mut sent = 0;
    let mut buf = vec![0u8; 65536];
    p.run_until(
        |p| {
            sent += p.b.send(&data[sent..]);
            while p.a.recv(&mut buf) > 0 {}
            p.b.seqs().0 .0.wrapping_sub(p.b.iss.0) > 50_000
        },
        10_000 * MS,
    );
    let snap = p.b.snapshot(p.now);
    p.queue.clear();
    p.a.ack_now = true;
    let o = p.a.poll_transmit(p.now, &mut buf).unwrap();
    let primary_ts = o.hdr.options.timestamps.unwrap().1;
    let s = seg(&o.hdr, &[]);
    let mut b =
        Conn::from_snapshot(p.b.cfg, p.b.local, p.b.remote, &snap, MS, &s, p.now).expect("fits");
    b.handle_segment(p.now, &s);
    let srtt = b.rtt.srtt();
    assert!(srtt.is_some(), "seeded from the snapshot");
    let at = sent - (snap.snd_max.wrapping_sub(o.hdr.ack) as usize);
    b.send(&data[at.min(data.len())..]);
    let out = b.poll_transmit(p.now, &mut buf).unwrap();
    assert!(out.payload_len > 0);
    // 100 us later the peer acknowledges that segment: the primary's
    // copy reached it, with the primary's TSval to echo.
    let mut h = ack_seg(
        o.hdr.seq,
        out.hdr.seq.wrapping_add(out.payload_len as u32),
        ACK,
    );
    h.src_port = 40000;
    h.dst_port = 80;
    h.window = o.hdr.window;
    h.options.timestamps = Some((o.hdr.options.timestamps.unwrap().0, primary_ts));
    b.handle_segment(p.now + 100_000, &seg(&h, &[]));
    assert_eq!(b.seqs().0 .0, h.ack, "the ACK is taken");
    assert_eq!(b.rtt.srtt(), srtt, "no sample from the primary's copy");
    assert!(!b.rack.seen, "RACK did not time it either");
}

#[test]
fn a_segment_that_does_not_fit_the_snapshot_is_refused() {
    let (p, _) = established();
    let snap = p.b.snapshot(p.now);
    let h = ack_seg(snap.rcv_nxt, snap.snd_una.wrapping_sub(10), ACK);
    let s = seg(&h, &[]);
    assert!(Conn::from_snapshot(p.b.cfg, p.b.local, p.b.remote, &snap, 0, &s, p.now).is_none());
    let h = ack_seg(snap.rcv_nxt, snap.snd_una, SYN);
    assert!(Conn::from_snapshot(
        p.b.cfg,
        p.b.local,
        p.b.remote,
        &snap,
        0,
        &seg(&h, &[]),
        p.now
    )
    .is_none());
}

#[test]
fn a_peer_that_got_more_from_the_primary_is_believed_within_the_stream() {
    let (p, _) = established();
    let snap = p.b.snapshot(p.now);
    let h = ack_seg(snap.rcv_nxt, snap.snd_una, ACK);
    let mut b = Conn::from_snapshot(
        p.b.cfg,
        p.b.local,
        p.b.remote,
        &snap,
        0,
        &seg(&h, &[]),
        p.now,
    )
    .unwrap();
    assert_eq!(b.send(&[1u8; 100]), 100);
    // The peer acknowledges 100 queued bytes and 1000 more it got from
    // the primary: those are skipped from the application's next writes.
    let h = ack_seg(snap.rcv_nxt, snap.snd_una.wrapping_add(1100), ACK);
    b.handle_segment(p.now, &seg(&h, &[]));
    assert_eq!(b.seqs().0 .0, snap.snd_una.wrapping_add(1100));
    assert_eq!(b.unacked(), 0);
    assert_eq!(b.send(&[2u8; 1500]), 1500);
    assert_eq!(b.unacked(), 500, "the first 1000 bytes were skipped");
}
