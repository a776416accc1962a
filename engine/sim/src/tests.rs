//! Simulator runs with fixed seeds: the real node code answers a simulated
//! client through a simulated router, over impaired links.

use crate::engine::EngineNode;
use crate::host::Host;
use crate::link::LinkParams;
use crate::scenario::{flip_route, site, VIP};
use crate::{Fate, Sim};

const MS: u64 = 1_000_000;

#[test]
fn client_pings_node_and_vip_through_the_router() {
    let mut sim = Sim::new(1);
    sim.set_tracing(true);
    let s = site(
        &mut sim,
        1,
        LinkParams::new(5.0, 100.0),
        LinkParams::new(5.0, 1000.0),
    );
    let node_ip = s.node_ips[0];
    sim.device::<Host>(s.client).ping(node_ip, 5, 100 * MS, 0);
    sim.device::<Host>(s.client).ping(VIP, 5, 100 * MS, 50 * MS);
    sim.run_until(2_000 * MS);
    let h = sim.device::<Host>(s.client);
    for p in &h.pings {
        assert_eq!(p.replies.len(), 5, "{:?}", p.target);
        // Four links of 5 ms each, plus serialization: a little over 20 ms.
        for &(_, rtt) in &p.replies[1..] {
            assert!((20 * MS..21 * MS).contains(&rtt), "rtt {rtt}");
        }
    }
    let trace = sim.take_trace();
    assert!(trace
        .iter()
        .any(|t| t.from == "edge-a" && t.summary.starts_with("ARP announce 10.0.2.2")));
    assert!(trace.iter().any(|t| t.from == "edge-a"
        && t.summary
            .contains("203.0.113.10 > 10.0.1.2: ICMP echo reply")));
    let n = sim.device::<EngineNode>(s.nodes[0]);
    let st = n.node.total_stats();
    assert_eq!(st.answered, 10 + 1, "ten echoes and the router's ARP");
}

#[test]
fn lossy_links_lose_the_same_pings_for_the_same_seed() {
    let run = |seed| {
        let mut sim = Sim::new(seed);
        let lossy = LinkParams {
            loss: 0.2,
            ..LinkParams::new(1.0, 1000.0)
        };
        let s = site(&mut sim, 1, lossy, LinkParams::new(1.0, 1000.0));
        sim.device::<Host>(s.client).ping(VIP, 100, 10 * MS, 0);
        sim.run_until(3_000 * MS);
        let p = &sim.device::<Host>(s.client).pings[0];
        let mut got: Vec<u16> = p.replies.iter().map(|r| r.0).collect();
        got.sort();
        got
    };
    let a = run(42);
    assert_eq!(a, run(42), "same seed, same run");
    assert_ne!(a, run(43));
    // Two crossings of a 20% link: about 64% come back.
    assert!((45..85).contains(&a.len()), "{}", a.len());
}

#[test]
fn a_route_flip_moves_the_vip_to_the_other_node() {
    let mut sim = Sim::new(7);
    sim.set_tracing(true);
    let s = site(
        &mut sim,
        2,
        LinkParams::new(2.0, 1000.0),
        LinkParams::new(2.0, 1000.0),
    );
    sim.device::<Host>(s.client).ping(VIP, 20, 50 * MS, 0);
    flip_route(&mut sim, &s, 500 * MS, 1);
    sim.run_until(2_000 * MS);
    assert_eq!(sim.device::<Host>(s.client).pings[0].replies.len(), 20);
    let a = sim
        .device::<EngineNode>(s.nodes[0])
        .node
        .total_stats()
        .answered;
    let b = sim
        .device::<EngineNode>(s.nodes[1])
        .node
        .total_stats()
        .answered;
    // Pings at 0..450 ms go to edge-a, 500..950 ms to edge-b (plus one ARP each).
    assert_eq!((a, b), (10 + 1, 10 + 1));
    let trace = sim.take_trace();
    assert!(trace.iter().all(|t| t.fate == Fate::Delivered));
}

mod tcp {
    use super::*;
    use crate::link::LinkParams;
    use anyedge_tcp::conn::ConnConfig;
    use std::net::SocketAddrV4;

    const MIB: usize = 1 << 20;

    /// Echo `bytes` through the VIP over a client link with `client` and a
    /// node link with `node`; returns (seconds of virtual time, retransmits seen by the client).
    pub(super) fn echo(
        seed: u64,
        bytes: usize,
        client: LinkParams,
        node: LinkParams,
    ) -> (f64, u64) {
        let mut sim = Sim::new(seed);
        let s = site(&mut sim, 1, client, node);
        let cfg = ConnConfig {
            send_buf: 16 * MIB,
            recv_buf: 16 * MIB,
            ..ConnConfig::default()
        };
        sim.device::<Host>(s.client)
            .tcp_echo(SocketAddrV4::new(VIP, 7), bytes, 10 * MS, cfg);
        let limit = 1_800_000 * MS;
        while sim.now() < limit {
            let t = sim.now() + 1_000 * MS;
            sim.run_until(t);
            let j = &sim.device::<Host>(s.client).echoes[0];
            if j.done_at.is_some() {
                break;
            }
        }
        let end = sim.now() / 1_000_000_000;
        let h = sim.device::<Host>(s.client);
        let j = &h.echoes[0];
        assert_eq!(j.mismatch, None, "byte-exact");
        assert_eq!(j.received, bytes, "all {bytes} bytes came back by {end} s");
        let c = j.conn.as_ref().unwrap();
        let secs = (j.done_at.unwrap() - j.start_at) as f64 / 1e9;
        eprintln!(
            "echo {bytes} B: {secs:.2} s virtual, client {:?}",
            c.stats()
        );
        (secs, c.stats().retransmits)
    }

    fn lossy(loss: f64) -> LinkParams {
        LinkParams {
            loss,
            queue_bytes: 4 * MIB as u64,
            ..LinkParams::new(5.0, 1000.0)
        }
    }

    #[test]
    fn echo_64mib_clean_and_with_loss() {
        let clean = LinkParams::new(5.0, 1000.0);
        let (t0, r0) = echo(1, 64 * MIB, clean, clean);
        assert_eq!(r0, 0);
        let (t1, r1) = echo(2, 64 * MIB, lossy(0.01), clean);
        assert!(r1 > 0);
        assert!(t1 > t0);
    }

    #[test]
    fn echo_64mib_with_10_percent_loss() {
        let (_, r) = echo(3, 64 * MIB, lossy(0.10), LinkParams::new(5.0, 1000.0));
        assert!(r > 1000);
    }

    #[test]
    fn echo_64mib_with_reordering_and_duplication() {
        let reorder = LinkParams {
            reorder: 0.05,
            reorder_delay_ns: 3 * MS,
            ..LinkParams::new(5.0, 1000.0)
        };
        echo(4, 64 * MIB, reorder, LinkParams::new(5.0, 1000.0));
        let dup = LinkParams {
            duplicate: 0.05,
            ..LinkParams::new(5.0, 1000.0)
        };
        echo(5, 64 * MIB, dup, dup);
    }

    #[test]
    fn echo_64mib_at_100ms_rtt_and_1gbps() {
        // Four 12.5 ms links: 100 ms RTT; 1 Gbit/s.
        let long = LinkParams {
            queue_bytes: 16 * MIB as u64,
            ..LinkParams::new(25.0, 1000.0)
        };
        let (t, _) = echo(6, 64 * MIB, long, LinkParams::new(0.0, 10_000.0));
        // 128 MiB over 1 Gbit/s is 1.07 s at line rate; slow start to a
        // 12.5 MB window takes about 10 RTTs. Allow generous headroom.
        assert!(t < 6.0, "took {t} s");
    }
}

mod takeover {
    use super::*;
    use crate::host::pattern;
    use crate::link::LinkParams;
    use crate::scenario::site_with;
    use anyedge_tcp::conn::ConnConfig;
    use std::net::SocketAddrV4;

    /// A content directory with `obj.bin` of `len` pattern bytes.
    pub(crate) fn content(len: usize) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("anyedge-sim-content-{}-{len}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let data: Vec<u8> = (0..len).map(pattern).collect();
        std::fs::write(d.join("obj.bin"), data).unwrap();
        d
    }

    /// A download of `len` bytes from the VIP over a 50 ms RTT, 100 Mbit/s
    /// path; the route flips at 30%. Returns the seconds from the resumed
    /// request to the last byte, the download, and edge-b's `show anycast`.
    pub fn takeover(
        resume: &str,
        len: usize,
        seed: u64,
    ) -> (f64, crate::download::Download, serde_json::Value) {
        let dir = content(len);
        let mut sim = Sim::new(seed);
        let client = LinkParams {
            queue_bytes: 1 << 20,
            ..LinkParams::new(12.5, 100.0)
        };
        let s = site_with(
            &mut sim,
            2,
            client,
            LinkParams::new(12.5, 1000.0),
            Some(&dir),
            resume,
        );
        let cfg = ConnConfig {
            recv_buf: 4 << 20,
            ..ConnConfig::default()
        };
        sim.device::<Host>(s.client)
            .download(SocketAddrV4::new(VIP, 80), "/obj.bin", 10 * MS, cfg);
        let mut flipped = false;
        while sim.now() < 600_000 * MS {
            let t = sim.now() + 10 * MS;
            sim.run_until(t);
            let d = &sim.device::<Host>(s.client).downloads[0];
            if d.done() {
                break;
            }
            if !flipped && d.data.len() >= len * 3 / 10 {
                flipped = true;
                let at = sim.now() + MS;
                flip_route(&mut sim, &s, at, 1);
            }
        }
        let b: serde_json::Value = serde_json::from_str(
            &sim.device::<EngineNode>(s.nodes[1])
                .node
                .execute("show anycast json")
                .text,
        )
        .unwrap();
        let h = sim.device::<Host>(s.client);
        let d = std::mem::replace(
            &mut h.downloads[0],
            crate::download::Download::new(
                SocketAddrV4::new(VIP, 80),
                "/",
                0,
                ConnConfig::default(),
                1,
            ),
        );
        assert!(d.done(), "finished: {:?}", d.events);
        assert_eq!(d.data.len(), len);
        assert!(
            d.data.iter().enumerate().all(|(i, &b)| b == pattern(i)),
            "byte-exact"
        );
        let resumed_at = d
            .events
            .iter()
            .find(|e| e.1.contains("Range: bytes="))
            .map(|e| e.0)
            .expect("a Range request");
        // Time from the resumed request until 8 MiB more arrived: the part
        // of the rest that slow start slows down.
        let from = d
            .events
            .iter()
            .find(|e| e.1.contains("Range: bytes="))
            .map(|e| e.1.clone())
            .unwrap_or_default();
        let k: usize = from
            .split("bytes=")
            .nth(1)
            .and_then(|x| x.split('-').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let at = d
            .progress
            .iter()
            .find(|p| p.1 >= k + (8 << 20))
            .map(|p| p.0)
            .unwrap_or(d.done_at.unwrap());
        let rest = (at - resumed_at) as f64 / 1e9;
        (rest, d, b)
    }

    #[test]
    fn a_route_flip_mid_download_resets_and_the_client_resumes_with_range() {
        let (_, d, b) = takeover("off", 8 << 20, 11);
        assert!(d.resets >= 1 && d.requests >= 2, "{:?}", d.events);
        assert!(b["rst_stray_ack"].as_u64().unwrap() >= 1, "{b}");
        assert_eq!(b["resumes"]["careful"], 0);
    }

    #[test]
    fn careful_and_jump_resume_beat_slow_start_after_the_flip() {
        let len = 64 << 20;
        let (off, _, _) = takeover("off", len, 5);
        let (careful, _, bc) = takeover("careful", len, 5);
        let (jump, _, bj) = takeover("jump", len, 5);
        eprintln!("8 MiB after the resumed request: off {off:.3} s, careful {careful:.3} s, jump {jump:.3} s");
        eprintln!("edge-b careful: {}", bc["resumes"]);
        assert!(
            bc["peer"]["entries_learned"].as_u64().unwrap() >= 1,
            "edge-b learned edge-a's path: {bc}"
        );
        assert_eq!(bc["resumes"]["careful"], 1, "{bc}");

        assert_eq!(bj["resumes"]["jump"], 1, "{bj}");
        // Slow start from IW10 to the path's window (100 Mbit/s x 50 ms =
        // 625 kB, about 43 segments) takes about log2(43/10) = 2 RTTs more
        // than starting near it.
        assert!(careful + 0.05 < off, "careful {careful} vs off {off}");
        assert!(jump + 0.05 < off, "jump {jump} vs off {off}");
    }
}
