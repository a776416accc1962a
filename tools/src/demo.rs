//! `anyedge demo`: the main job on the built-in simulator.
//!
//! It brings up a simulated site (a client host, a router and two anyedge
//! nodes that serve one anycast VIP from their caches), runs the real engine
//! code on mem ports in virtual time, and prints what happens:
//! 1. the nodes announce themselves with gratuitous ARP, and the client pings
//!    a node and the VIP;
//! 2. the client downloads an object from the VIP over HTTP; at 30% the
//!    router's anycast route flips to the other node, which answers the
//!    client's next ACK with a RST (RFC 9293 3.10.7.1); the client asks again
//!    with `Range` and `If-Range`, the other node answers 206 with the rest,
//!    and the download ends byte-exact;
//! 3. the overlay: a miss through edge -> gateway -> origin with early data
//!    (the request rides behind the edge's SYN) next to the same miss with
//!    a normal handshake, as two timelines; the TTFB differs by one
//!    edge-gateway round trip ([`crate::demo_overlay`]).
//!
//! 4. a replicated connection: the primary dies at 40% of a download and
//!    the route moves; the backup carries on with the same TCP connection,
//!    next to the same failure without replication, which costs a RST and
//!    a Range request ([`crate::demo_replica`]).

use anyedge_node::Node;
use anyedge_port::mem::MemPort;
use anyedge_sim::engine::EngineNode;
use anyedge_sim::host::pattern;
use anyedge_sim::host::Host;
use anyedge_sim::link::LinkParams;
use anyedge_sim::scenario::{flip_route, site_with, Site, VIP};
use anyedge_sim::{Fate, Sim};
use anyedge_tcp::conn::ConnConfig;
use anyhow::Result;
use clap::Args;
use std::net::SocketAddrV4;

/// Options of `anyedge demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seed for every random choice of the simulator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// One-way delay of each link, milliseconds (the RTT is four of them).
    #[arg(long, default_value_t = 12.5)]
    pub delay_ms: f64,
    /// Loss probability on the client's link, 0..1.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Pings before and after the route flip.
    #[arg(long, default_value_t = 4)]
    pub count: u16,
    /// Print the full frame timeline, not only the first lines of each phase.
    #[arg(long)]
    pub verbose: bool,
    /// Size of the downloaded object, MiB.
    #[arg(long, default_value_t = 8)]
    pub size_mib: usize,
    /// How the node that takes over starts: careful | jump | off.
    #[arg(long, default_value = "careful")]
    pub resume: String,
}

const MS: u64 = 1_000_000;

/// Runs the demo and prints its story.
pub fn main(a: DemoArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.loss) || a.delay_ms < 0.0 || a.delay_ms > 10_000.0 {
        anyhow::bail!("--loss must be within 0..1 and --delay-ms within 0..10000");
    }
    if !["careful", "jump", "off"].contains(&a.resume.as_str()) {
        anyhow::bail!("--resume must be careful, jump or off");
    }
    if !(1..=1024).contains(&a.size_mib) {
        anyhow::bail!("--size-mib must be within 1..1024");
    }
    let content = std::env::temp_dir().join(format!("anyedge-demo-{}", std::process::id()));
    std::fs::create_dir_all(&content)?;
    let len = a.size_mib << 20;
    std::fs::write(
        content.join("obj.bin"),
        (0..len).map(pattern).collect::<Vec<u8>>(),
    )?;
    // The story's parts in order: the anycast takeover, the overlay's miss
    // with early data, then the replicated connection (the primary dies,
    // the backup carries on), which follows here.
    let result = story(&a, &content, len)
        .and_then(|_| crate::demo_overlay::overlay_story(a.seed))
        .and_then(|_| crate::demo_replica::replica_story(a.seed, a.size_mib.min(8)));
    let _ = std::fs::remove_dir_all(&content);
    result
}

fn story(a: &DemoArgs, content: &std::path::Path, len: usize) -> Result<()> {
    let mut sim = Sim::new(a.seed);
    sim.set_tracing(true);
    let client_link = LinkParams {
        loss: a.loss,
        ..LinkParams::new(a.delay_ms, 100.0)
    };
    let s = site_with(
        &mut sim,
        2,
        client_link,
        LinkParams::new(a.delay_ms, 1000.0),
        Some(content),
        &a.resume,
    );
    println!(
        "anyedge demo: a simulated site in virtual time (seed {})",
        a.seed
    );
    println!(
        "  client 10.0.1.2 -- router -- edge-a {} and edge-b {}, both serving VIP {VIP}",
        s.node_ips[0], s.node_ips[1]
    );
    println!(
        "  links: {} ms one way each, client link 100 Mbit/s with {}% loss; nodes run the real engine on mem ports\n",
        a.delay_ms,
        a.loss * 100.0
    );
    let interval = 200 * MS;
    let phase = interval * a.count as u64;
    let flip_at = 100 * MS + phase;
    {
        let h = sim.device::<Host>(s.client);
        h.ping(s.node_ips[0], a.count, interval, 100 * MS);
        h.ping(VIP, 2 * a.count, interval, 150 * MS);
    }
    flip_route(&mut sim, &s, flip_at, 1);
    sim.run_until(flip_at + phase + 1_000 * MS);

    println!("{:>10}  {:<22} frame", "time ms", "link");
    let trace = sim.take_trace();
    let mut flipped = false;
    for (i, t) in trace.iter().enumerate() {
        if !flipped && t.at >= flip_at {
            flipped = true;
            println!(
                "{:>10.3}  -- router: route {VIP}/32 now via edge-b ({}) --",
                flip_at as f64 / 1e6,
                s.node_ips[1]
            );
        }
        if a.verbose || i < 24 || (t.at >= flip_at && t.at < flip_at + 2 * interval) {
            let fate = if t.fate == Fate::Dropped {
                "  [lost]"
            } else {
                ""
            };
            println!(
                "{:>10.3}  {:<22} {}{fate}",
                t.at as f64 / 1e6,
                format!("{} -> {}", t.from, t.to),
                t.summary
            );
        }
    }
    if !a.verbose {
        println!(
            "   ... ({} frames in all; --verbose prints every one)",
            trace.len()
        );
    }
    println!();
    let pings = sim.device::<Host>(s.client).pings.clone();
    for p in &pings {
        let rtts: Vec<f64> = p.replies.iter().map(|r| r.1 as f64 / 1e6).collect();
        let (min, max) = rtts
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let avg = rtts.iter().sum::<f64>() / rtts.len().max(1) as f64;
        println!(
            "ping {:<15} {}/{} replies, rtt min/avg/max {:.3}/{:.3}/{:.3} ms",
            p.target.to_string(),
            p.replies.len(),
            p.sent,
            if rtts.is_empty() { 0.0 } else { min },
            avg,
            max
        );
    }
    println!();
    download_phase(&mut sim, &s, a, len)?;
    println!();
    for (i, id) in s.nodes.iter().enumerate() {
        let node: &mut Node<MemPort> = &mut sim.device::<EngineNode>(*id).node;
        let t = node.total_stats();
        let http: serde_json::Value = serde_json::from_str(&node.execute("show http json").text)?;
        let conn: serde_json::Value = serde_json::from_str(&node.execute("show conn json").text)?;
        println!(
            "edge-{}: frames in {}, answered {}, dropped {}; HTTP 200: {}, 206: {}, body bytes {}; RSTs to stray ACKs: {}",
            (b'a' + i as u8) as char,
            t.rx,
            t.answered,
            t.dropped(),
            http["status"]["200"],
            http["status"]["206"],
            http["body_bytes"],
            conn["table"]["rst_stray_ack"],
        );
    }
    Ok(())
}

/// Phase 2: an HTTP download from the VIP, the route flip at 30%, the reset,
/// and the Range resume on the other node.
fn download_phase(sim: &mut Sim, s: &Site, a: &DemoArgs, len: usize) -> Result<()> {
    println!(
        "--- download {} MiB from http://{VIP}/obj.bin; the route flips at 30% ---",
        a.size_mib
    );
    let start = sim.now() + 100 * MS;
    // The VIP goes back to edge-a for the download.
    flip_route(sim, s, start - 50 * MS, 0);
    let cfg = ConnConfig {
        recv_buf: 4 << 20,
        ..ConnConfig::default()
    };
    sim.device::<Host>(s.client)
        .download(SocketAddrV4::new(VIP, 80), "/obj.bin", start, cfg);
    let mut flip_at = None;
    let mut trace = Vec::new();
    let limit = start + 600_000 * MS;
    while sim.now() < limit {
        let t = sim.now() + 5 * MS;
        sim.run_until(t);
        let now = sim.now();
        let d = &sim.device::<Host>(s.client).downloads[0];
        if d.done() {
            break;
        }
        if flip_at.is_none() && d.data.len() >= len * 3 / 10 {
            let at = now + MS;
            flip_at = Some((at, d.data.len()));
            flip_route(sim, s, at, 1);
            sim.set_tracing(true);
        }
        if let Some((at, _)) = flip_at {
            if sim.now() > at + 2_000 * MS {
                sim.set_tracing(false);
            }
            trace.extend(sim.take_trace());
        }
    }
    sim.set_tracing(false);
    let d = &sim.device::<Host>(s.client).downloads[0];
    let mut lines: Vec<(u64, String)> = d.events.clone();
    if let Some((at, _)) = flip_at {
        lines.push((at, format!("router: route {VIP}/32 now via edge-b")));
    }
    // The wire's view of the takeover: edge-b's reset, and the new handshake.
    let (mut rsts, mut first_rst) = (0, 0);
    for t in trace
        .iter()
        .filter(|t| t.fate == Fate::Delivered && t.from == "edge-b")
    {
        if t.summary.contains("flags 0x04") {
            rsts += 1;
            if rsts == 1 {
                first_rst = t.at;
                lines.push((
                    t.at,
                    format!("edge-b -> router: {} (RST for a stray ACK)", t.summary),
                ));
            }
        } else if t.summary.contains("flags 0x12") {
            lines.push((t.at, format!("edge-b -> router: {} (SYN-ACK)", t.summary)));
        }
    }
    if rsts > 1 {
        let at = first_rst + 1;
        lines.push((
            at,
            format!(
                "edge-b: {} more RSTs while edge-a's data kept the client ACKing; \
                 the client takes the one whose SEQ matches exactly (RFC 5961)",
                rsts - 1
            ),
        ));
    }
    lines.sort_by_key(|l| l.0);
    lines.dedup_by(|x, y| x.1 == y.1);
    println!("{:>10}  event", "time ms");
    for (t, e) in &lines {
        println!("{:>10.3}  {e}", *t as f64 / 1e6);
    }
    let Some(done) = d.done_at else {
        anyhow::bail!("the download did not finish: {:?}", d.events);
    };
    let exact = d.data.len() == len && d.data.iter().enumerate().all(|(i, &b)| b == pattern(i));
    println!(
        "\nbyte-exact: {}; {} bytes in {:.3} s, {} connection(s), {} reset(s)",
        if exact { "yes" } else { "NO" },
        d.data.len(),
        (done - start) as f64 / 1e9,
        d.conns.len(),
        d.resets
    );
    if let Some((at, got)) = flip_at {
        let before = got as f64 * 8.0 / ((at - start) as f64 / 1e9) / 1e6;
        let after = (len - got) as f64 * 8.0 / ((done - at) as f64 / 1e9) / 1e6;
        println!(
            "rate before the flip {before:.1} Mbit/s (edge-a), for the rest {after:.1} Mbit/s (edge-b, resume: {})",
            a.resume
        );
    }
    if !exact {
        anyhow::bail!("the download is not byte-exact");
    }
    // Let the connections close, then read what edge-b did.
    let t = sim.now() + 1_000 * MS;
    sim.run_until(t);
    let b: serde_json::Value = serde_json::from_str(
        &sim.device::<EngineNode>(s.nodes[1])
            .node
            .execute("show anycast json")
            .text,
    )?;
    println!(
        "edge-b: resume policy {}; learned {} path update(s) from edge-a over the peer channel; resumes {}",
        b["resume"], b["peer"]["entries_learned"], b["resumes"]
    );
    let a_: serde_json::Value = serde_json::from_str(
        &sim.device::<EngineNode>(s.nodes[0])
            .node
            .execute("show anycast json")
            .text,
    )?;
    println!(
        "edge-a: reset notices from edge-b {}, connections terminated on notice {}",
        a_["notices"]["received"], a_["notices"]["terminated"]
    );
    Ok(())
}
