//! bench/overlay: the split-TCP overlay of issue 7 in the simulator, each
//! feature against the same engine with it turned off, in alternating
//! rounds.
//!
//! Sections (each a function that prints its own figures and returns rows
//! for the harness table):
//! - **early data, miss TTFB** ([`ttfb_section`]): a client fetches an object
//!   the edge does not hold, through edge -> gateway -> origin
//!   ([`anyedge_sim::overlay::run`]: three real engines, 30 ms RTT between
//!   edge and gateway, 3 ms client-edge, 2 ms gateway-origin). With early
//!   data (US 2015/0381771) the edge's SYN proposes the gateway's ISN and
//!   the request follows at once; without it the request waits for the
//!   SYN/ACK. The TTFB is the client's request segment leaving the client
//!   to the first response byte arriving (the edge answers once the whole
//!   object is in its cache, so the object's transfer over the 30 ms path
//!   is part of it). The saving should be one edge-gateway RTT whatever the
//!   size.
//! - replication on/off (req/s) and the ACK delay it adds (p50/p99) come in
//!   their own section, added separately.
//!
//! The runs are in virtual time, so the figures do not depend on the
//! machine. On clean links nothing is random and every seed gives the same
//! run; the seeds matter in the case with random loss on the long link,
//! where each picks other frames to lose (the median then carries the
//! retransmission timers of some rounds).
//!
//! The harness table (`anyedge_bench::report`) has the feature on in the
//! "anyedge" column and off as the peer. TTFB rows are rates (misses per
//! second of TTFB, 1/TTFB) so that the ratio is the off-TTFB divided by
//! the on-TTFB: above 1 means early data answered sooner.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin overlay [-- SEEDS]`

use anyedge_bench::{median, report, Row};
use anyedge_sim::overlay::{run, OverlayResult, Params};
use anyhow::{bail, Result};

/// Cases of the TTFB section: (object bytes, random loss on the long link
/// each way). One segment, a few flights of slow start, a megabyte, and the
/// few flights again with 1% loss, where the seeds differ.
const CASES: [(usize, f64); 4] = [
    (1_000, 0.0),
    (100_000, 0.0),
    (1 << 20, 0.0),
    (100_000, 0.01),
];

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The checks each TTFB run must pass before its figure counts.
fn check(what: &str, early: bool, r: &OverlayResult) -> Result<()> {
    let f = &r.fetches[0];
    if !f.byte_exact {
        bail!("{what}: the fetch is not byte-exact: {:?}", f.events);
    }
    if r.used_early != early {
        bail!(
            "{what}: early data used: {}, expected {early}: {}",
            r.used_early,
            r.edge["edge"]["early"]
        );
    }
    if r.origin_requests() != 1 {
        bail!("{what}: the origin served {} requests", r.origin_requests());
    }
    Ok(())
}

/// Early data on and off, alternating, per size and seed: miss TTFB.
fn ttfb_section(seeds: u64) -> Result<Vec<Row>> {
    println!(
        "--- early data: miss TTFB through edge -> gateway -> origin, {} ms edge-gateway RTT ---",
        Params::new(true, 1, 1).edge_gateway_rtt_ns() / 1_000_000
    );
    println!(
        "{:>16} {:>6} {:>14} {:>14} {:>10} {:>10}",
        "object", "seed", "TTFB off (ms)", "TTFB on (ms)", "saved", "RTT (ms)"
    );
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for (len, loss) in CASES {
        let case = if loss > 0.0 {
            format!("{len} B, {}% loss", loss * 100.0)
        } else {
            format!("{len} B")
        };
        let (mut on, mut off, mut rtts) = (vec![], vec![], vec![]);
        for seed in 1..=seeds {
            // Alternate which one runs first.
            let order = if seed % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            let mut got = [0u64; 2];
            for early in order {
                let mut p = Params::new(early, len, seed);
                p.wan_link.loss = loss;
                let r = run(&p);
                check(&format!("{case}, seed {seed}, early {early}"), early, &r)?;
                got[usize::from(early)] = r.fetches[0].ttfb_ns;
                if !early {
                    rtts.push(ms(r.edge_gateway_rtt_ns.unwrap_or(0)));
                }
            }
            println!(
                "{case:>16} {seed:>6} {:>14.3} {:>14.3} {:>10.3} {:>10.3}",
                ms(got[0]),
                ms(got[1]),
                ms(got[0]) - ms(got[1]),
                rtts.last().copied().unwrap_or(0.0)
            );
            off.push(ms(got[0]));
            on.push(ms(got[1]));
        }
        let (mon, moff, rtt) = (median(&on), median(&off), median(&rtts));
        summary.push((case.clone(), moff, mon, rtt));
        let rate = |v: &[f64]| v.iter().map(|t| 1e3 / t).collect::<Vec<f64>>();
        rows.push(Row {
            name: format!("miss 1/TTFB, {case} (early data)"),
            unit: "1/s",
            ours: rate(&on),
            peer: rate(&off),
        });
    }
    println!(
        "\n{:>16} {:>16} {:>16} {:>12} {:>14} {:>8}",
        "object", "median TTFB off", "median TTFB on", "saved (ms)", "saved (RTTs)", "off/on"
    );
    for (case, off, on, rtt) in &summary {
        println!(
            "{case:>16} {off:>13.3} ms {on:>13.3} ms {:>12.3} {:>14.2} {:>8.2}",
            off - on,
            (off - on) / rtt,
            off / on
        );
    }
    Ok(rows)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds: u64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(10);
    if !(1..=50).contains(&seeds) {
        bail!("usage: overlay [SEEDS 1..50]");
    }
    println!("overlay: simulator, early data and the like on vs off; seeds 1..={seeds}\n");
    let rows = ttfb_section(seeds)?;
    // Further sections (replication on/off req/s, its ACK delay p50/p99)
    // go here: each prints its figures and appends its rows before the one
    // report below.
    report(
        "overlay",
        "off",
        &format!("cargo run --release -p anyedge-bench --bin overlay -- {seeds}"),
        &rows,
    );
    Ok(())
}
