//! Drives one TCP connection (an established pair's server side, or a fresh
//! SYN-SENT client; either of them with overlay early data) with arbitrary segments, timeouts and application calls,
//! and checks that it never panics and that its invariants hold:
//! SND.UNA <= SND.NXT, buffers within their sizes, timers in the future,
//! the sender's log of sent runs (SACK scoreboard, RACK) consistent.
//! Output is taken copied, or deferred with a TSO limit (`poll_segment`):
//! a super-segment never passes the limit and always lies in shared bytes.
#![no_main]

use anyedge_tcp::conn::{Conn, ConnConfig, Segment};
use anyedge_wire::{EarlyData, TcpOptions};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddrV4};

fn u32_at(d: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    for (k, x) in b.iter_mut().enumerate() {
        *x = d.get(i + k).copied().unwrap_or(0);
    }
    u32::from_be_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let cfg = ConnConfig {
        send_buf: 8192,
        recv_buf: 8192,
        ..ConnConfig::default()
    };
    let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 4000);
    let kind = data.first().map_or(0, |x| x % 4);
    let mut c = if kind == 1 {
        Conn::connect(cfg, a, b, 1000, 0)
    } else if kind == 3 {
        Conn::connect_early(cfg, a, b, 1000, 7000, [7; 8], 0)
    } else {
        let syn = Segment {
            seq: 5000,
            ack: 0,
            flags: 0x02,
            window: 1000,
            opts: TcpOptions {
                mss: Some(1000),
                window_scale: Some(2),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                early_data: Some(EarlyData { isn: 1000, tag: [7; 8] }),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        if kind == 2 {
            Conn::accept_early(cfg, a, b, &syn, 0)
        } else {
            Conn::accept(cfg, a, b, 1000, &syn, 0)
        }
    };
    let mut now = 0u64;
    let mut out = [0u8; 2048];
    let shared: anyedge_tcp::buffer::Shared = std::sync::Arc::new(vec![0xc3; 20_000]);
    let mut tso = 0;
    // Each 16-byte record is one step.
    for chunk in data.get(1..).unwrap_or(&[]).chunks(16) {
        let mut r = [0u8; 16];
        r[..chunk.len()].copy_from_slice(chunk);
        let rec = &r;
        let op = rec[0] % 8;
        now += u64::from(rec.get(1).copied().unwrap_or(0)) * 1_000_000;
        match op {
            0..=4 => {
                let plen = usize::from(rec.get(2).copied().unwrap_or(0)) % 64;
                let payload = vec![0x5a; plen];
                // Sequence numbers near the connection's own, so most segments matter.
                let (una, nxt, rcv) = c.seqs();
                let seq = rcv.0.wrapping_add(u32_at(rec, 4) % 20000).wrapping_sub(10000);
                let ack = if rec[3] & 0x80 != 0 { una.0.wrapping_add(u32_at(rec, 8) % 4000) } else { nxt.0.wrapping_sub(u32_at(rec, 8) % 4000) };
                let mut opts = TcpOptions::default();
                if rec[3] & 0x40 != 0 {
                    opts.timestamps = Some((u32_at(rec, 12), 0));
                }
                if rec[3] & 0x20 != 0 {
                    opts.sack_blocks[0] = (ack.wrapping_add(100), ack.wrapping_add(2000));
                    opts.sack_count = 1;
                }
                let seg = Segment { seq, ack, flags: rec[2] & 0x3f, window: u16::from(rec[3]) << 4, opts, payload: &payload };
                c.handle_segment(now, &seg);
            }
            5 if rec[2] & 1 == 1 => {
                let off = usize::from(rec[3]) * 64;
                c.send_shared(&shared, off, 6000);
            }
            5 => {
                c.send(&[0xa5; 3000]);
            }
            6 => {
                let mut sink = [0u8; 4096];
                c.recv(&mut sink);
                if rec[2] & 1 == 1 {
                    c.close();
                }
            }
            _ => {
                if let Some(t) = c.poll_timeout() {
                    now = now.max(t);
                    c.handle_timeout(now);
                }
            }
        }
        if op == 7 {
            tso = if rec[2] & 2 == 2 { 4000 } else { 0 };
        }
        for _ in 0..64 {
            if tso == 0 {
                if c.poll_transmit(now, &mut out).is_none() {
                    break;
                }
                continue;
            }
            let Some((o, at)) = c.poll_segment(now, out.len(), tso) else {
                break;
            };
            assert!(o.payload_len <= tso.max(out.len()), "segment of {}", o.payload_len);
            if o.payload_len > out.len() {
                assert!(c.payload_shared(at, o.payload_len).is_some(), "a super-segment is shared");
            } else {
                c.copy_payload(at, &mut out[..o.payload_len]);
            }
        }
        while c.poll_event().is_some() {}
        let (una, nxt, _) = c.seqs();
        assert!(una.le(nxt), "SND.UNA {una:?} <= SND.NXT {nxt:?}");
        let (txb, rxb) = c.buffered();
        assert!(txb <= 8192 && rxb <= 8192, "buffers bounded: {txb} {rxb}");
        assert!(c.in_flight() <= 8192 + 2, "in flight within the send buffer plus SYN/FIN");
        if let Err(e) = c.check_scoreboard() {
            panic!("scoreboard: {e}");
        }
    }
});
