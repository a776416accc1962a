//! `anyedge demo`: the main job on the built-in simulator.
//!
//! It brings up a simulated site (a client host, a router and two anyedge
//! nodes that serve one anycast VIP), runs the real engine code on mem ports
//! in virtual time, and prints what happens on the wire. At this stage the
//! story is the foundation: the nodes announce themselves with gratuitous
//! ARP, the client resolves its gateway and pings a node and the VIP, the
//! router's anycast route flips to the other node, and the pings carry on.
//! Later issues extend it to download, reset, resume and failover.

use anyedge_node::Node;
use anyedge_port::mem::MemPort;
use anyedge_sim::engine::EngineNode;
use anyedge_sim::host::Host;
use anyedge_sim::link::LinkParams;
use anyedge_sim::scenario::{flip_route, site, VIP};
use anyedge_sim::{Fate, Sim};
use anyhow::Result;
use clap::Args;

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
}

const MS: u64 = 1_000_000;

/// Runs the demo and prints its story.
pub fn main(a: DemoArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.loss) || a.delay_ms < 0.0 || a.delay_ms > 10_000.0 {
        anyhow::bail!("--loss must be within 0..1 and --delay-ms within 0..10000");
    }
    let mut sim = Sim::new(a.seed);
    sim.set_tracing(true);
    let client_link = LinkParams {
        loss: a.loss,
        ..LinkParams::new(a.delay_ms, 100.0)
    };
    let s = site(
        &mut sim,
        2,
        client_link,
        LinkParams::new(a.delay_ms, 1000.0),
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
    for (i, id) in s.nodes.iter().enumerate() {
        let node: &mut Node<MemPort> = &mut sim.device::<EngineNode>(*id).node;
        let t = node.total_stats();
        println!(
            "edge-{}: received {}, answered {}, dropped {} (show fwd stats all on the node)",
            (b'a' + i as u8) as char,
            t.rx,
            t.answered,
            t.dropped()
        );
    }
    Ok(())
}
