//! bench/takeover: the anycast takeover of issue 6 in the simulator, with
//! the three resume policies side by side in one run.
//!
//! Each run is [`anyedge_sim::takeover::run`]: a client downloads a 64 MiB
//! object from the VIP over a 50 ms RTT, 100 Mbit/s path (a 1 MiB queue at
//! the bottleneck); at 30% the router moves the VIP's /32 from edge-a to
//! edge-b; edge-b resets the client's stray ACK (RFC 9293 3.10.7.1), the
//! client resumes with `Range` and edge-b serves the rest under its
//! `[anycast] resume` policy: `off` (slow start from IW10, RFC 5681 3.1 and
//! RFC 6928), `careful` (draft-ietf-tsvwg-careful-resume: one RTT of
//! reconnaissance, then a paced jump to half the saved window) or `jump`
//! (the saved window at once, paced). The run is in virtual time, so the
//! figures do not depend on the machine; seeds change the random choices of
//! the simulation (ISNs, timing of the flip inside a millisecond).
//!
//! Per policy and seed it measures, from the client's side:
//! - **rest of object**: the Range request to the last byte (45 MiB);
//! - **first 8 MiB**: the Range request until 8 MiB more arrived, the part
//!   of the rest that slow start slows down most;
//! - **RTTs to full rate**: counting RTT-long bins from the first byte of
//!   the 206 response, the rank of the first bin whose goodput reaches 90%
//!   of the path's (100 Mbit/s x 1448/1538 bytes of payload per frame =
//!   94.1 Mbit/s); 1 would be the first RTT of data. Slow start should need
//!   about log2(BDP/IW) = log2(625 kB / 14.48 kB) = 5.4 RTTs, careful resume
//!   2 (reconnaissance, then the jump);
//! - the **throughput curve** after the flip, in 50 ms bins.
//!
//! The table is the harness's (`anyedge_bench::report`), with `careful` and
//! `jump` in the "anyedge" column and `off` as the peer. Each row is a
//! goodput (bytes of the rest, or 8 MiB, over the time), so that its ratio
//! is off's time divided by the policy's time: above 1 means the resume
//! finished sooner than slow start. The last line is the summary over the
//! rows. The curves of the first seed go to an SVG plot (bench/takeover.svg,
//! drawn with the plotters crate, SVG backend only: no font or image
//! library is needed).
//!
//! Usage: `cargo run --release -p anyedge-bench --bin takeover [-- SEEDS [LEN_MIB]]`

use anyedge_bench::{median, report, Row};
use anyedge_sim::takeover::{run, Params, TakeoverResult};
use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use std::path::Path;

const POLICIES: [&str; 3] = ["off", "careful", "jump"];
/// Width of the bins of the throughput curve, ns.
const BIN_NS: u64 = 50_000_000;
/// Fraction of the path's goodput that counts as "full rate".
const FULL: f64 = 0.9;
/// The initial window (RFC 6928) for 1448-byte segments.
const IW: f64 = 10.0 * 1448.0;

struct Figures {
    rest_s: Vec<f64>,
    eight_s: Vec<f64>,
    rtts: Vec<f64>,
    flip_to_data_rtts: Vec<f64>,
    rest_bytes: Vec<f64>,
}

fn check(policy: &str, seed: u64, r: &TakeoverResult) -> Result<()> {
    if !r.byte_exact {
        bail!(
            "{policy}, seed {seed}: the download is not byte-exact: {:?}",
            r.events
        );
    }
    let b = &r.anycast_b;
    let resumes = &b["resumes"];
    if b["rst_stray_ack"].as_u64().unwrap_or(0) == 0 {
        bail!("{policy}, seed {seed}: edge-b reset no stray ACK: {b}");
    }
    if policy != "off" && resumes[policy].as_u64() != Some(1) {
        bail!("{policy}, seed {seed}: edge-b did not resume: {resumes}");
    }
    Ok(())
}

/// Seconds of the goodput panel: the ramp and the first loss episodes.
const ZOOM_S: f64 = 2.0;

/// One policy's curves for the plot: goodput bins and (s, MiB) received
/// since the flip.
struct Curves {
    name: &'static str,
    goodput: Vec<(f64, f64)>,
    received: Vec<(f64, f64)>,
}

fn plot(path: &Path, curves: &[Curves], ceiling: f64) -> Result<()> {
    let colours = [RED, BLUE, GREEN];
    let root = SVGBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "anycast takeover after the route flip: 50 ms RTT, 100 Mbit/s, 64 MiB (seed 1)",
        ("sans-serif", 20),
    )?;
    let (top, bottom) = root.split_vertically(450);

    // Goodput in 50 ms bins, the first seconds.
    let y_max = curves
        .iter()
        .flat_map(|c| c.goodput.iter().map(|p| p.1))
        .fold(110.0, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(&top)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..ZOOM_S, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("seconds after the route flip")
        .y_desc("Mbit/s of object data, in order (50 ms bins)")
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, ceiling), (ZOOM_S, ceiling)],
        BLACK.mix(0.4),
    ))?;
    for (c, colour) in curves.iter().zip(colours) {
        let style = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                c.goodput.iter().copied().filter(|p| p.0 <= ZOOM_S),
                style,
            ))?
            .label(c.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    // Object data received since the flip, to the last byte.
    let x_max = curves
        .iter()
        .flat_map(|c| c.received.last().map(|p| p.0))
        .fold(0.0, f64::max);
    let mib_max = curves
        .iter()
        .flat_map(|c| c.received.last().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max * 1.02, 0.0..mib_max * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("seconds after the route flip")
        .y_desc("MiB received since the flip")
        .draw()?;
    for (c, colour) in curves.iter().zip(colours) {
        let style = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(c.received.iter().copied(), style))?
            .label(c.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds: u64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let len_mib: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(64);
    if !(1..=20).contains(&seeds) || !(8..=256).contains(&len_mib) {
        bail!("usage: takeover [SEEDS 1..20] [LEN_MIB 8..256]");
    }
    let len = len_mib << 20;
    let base = Params::new("off", len, 1);
    let rtt = base.rtt_b_ns();
    let goodput = base.goodput_b_bps();
    let bdp = base.rate_b_bps() as f64 / 8.0 * rtt as f64 / 1e9;
    println!(
        "takeover: simulator, {} ms RTT, {} Mbit/s, {len_mib} MiB, route flip at {:.0}%; \
         policies off / careful / jump; seeds 1..={seeds}",
        rtt / 1_000_000,
        base.rate_b_bps() / 1_000_000,
        base.flip_at * 100.0
    );

    let mut figs: Vec<Figures> = Vec::new();
    let mut curves = Vec::new();
    for policy in POLICIES {
        let mut f = Figures {
            rest_s: vec![],
            eight_s: vec![],
            rtts: vec![],
            flip_to_data_rtts: vec![],
            rest_bytes: vec![],
        };
        for seed in 1..=seeds {
            let r = run(&Params::new(policy, len, seed));
            check(policy, seed, &r)?;
            let ramp = r.rtts_to_rate(rtt, FULL * goodput);
            println!(
                "  {policy:<8} seed {seed}: rest {:.3} s, first 8 MiB {:.3} s, full rate in RTT {}, \
                 flip -> first byte {:.0} ms; edge-b {}",
                r.rest_s,
                r.first_8mib_s,
                ramp.map_or("never".into(), |n| n.to_string()),
                (r.response_at - r.flip_at) as f64 / 1e6,
                r.anycast_b["resumes"]
            );
            f.rest_s.push(r.rest_s);
            f.eight_s.push(r.first_8mib_s);
            f.rtts.push(ramp.map_or(f64::NAN, f64::from));
            f.flip_to_data_rtts
                .push((r.response_at - r.flip_at) as f64 / rtt as f64);
            f.rest_bytes.push((len - r.resume_offset) as f64);
            if seed == 1 {
                let at_flip = r.bytes_at(r.flip_at);
                let received = r
                    .samples
                    .iter()
                    .filter(|s| s.0 >= r.flip_at)
                    .step_by(10)
                    .chain(r.samples.last())
                    .map(|s| {
                        let t = (s.0 - r.flip_at) as f64 / 1e9;
                        (t, s.1.saturating_sub(at_flip) as f64 / (1 << 20) as f64)
                    })
                    .collect();
                curves.push(Curves {
                    name: policy,
                    goodput: r.curve(r.flip_at, BIN_NS),
                    received,
                });
            }
        }
        figs.push(f);
    }

    // Per policy: medians over the seeds.
    println!(
        "\n{:<8} {:>10} {:>13} {:>16} {:>20}",
        "policy", "rest (s)", "8 MiB (s)", "RTTs to full", "flip->data (RTTs)"
    );
    for (policy, f) in POLICIES.iter().zip(&figs) {
        println!(
            "{policy:<8} {:>10.3} {:>13.3} {:>16.1} {:>20.1}",
            median(&f.rest_s),
            median(&f.eight_s),
            median(&f.rtts),
            median(&f.flip_to_data_rtts)
        );
    }
    println!(
        "\nfull path rate ({:.0}% of {:.1} Mbit/s goodput) after the first byte of the 206: \
         careful in RTT {:.1}, jump in RTT {:.1}, off in RTT {:.1} (slow start: log2(BDP/IW) = \
         log2({:.0} kB / {:.2} kB) = {:.1} RTTs)",
        FULL * 100.0,
        goodput / 1e6,
        median(&figs[1].rtts),
        median(&figs[2].rtts),
        median(&figs[0].rtts),
        bdp / 1e3,
        IW / 1e3,
        (bdp / IW).log2()
    );

    // The first seed's goodput, in 50 ms bins from the flip.
    println!("\ngoodput after the flip, Mbit/s per 50 ms (seed 1):");
    let n = curves.iter().map(|c| c.goodput.len()).max().unwrap_or(0);
    let n = n.min((ZOOM_S * 1e9 / BIN_NS as f64) as usize);
    print!("{:>6}", "t (s)");
    for c in &curves {
        print!(" {:>8}", c.name);
    }
    println!();
    for i in 0..n {
        print!("{:>6.2}", i as f64 * BIN_NS as f64 / 1e9);
        for c in &curves {
            match c.goodput.get(i) {
                Some(v) => print!(" {:>8.1}", v.1),
                None => print!(" {:>8}", "-"),
            }
        }
        println!();
    }

    let svg = Path::new(env!("CARGO_MANIFEST_DIR")).join("takeover.svg");
    plot(&svg, &curves, goodput / 1e6).context("plot")?;
    println!("\nplot: {}", svg.display());

    // Goodput rows: ratio = off's time / the policy's time.
    let off = &figs[0];
    let mut rows = Vec::new();
    for (i, policy) in POLICIES.iter().enumerate().skip(1) {
        let f = &figs[i];
        let mbps = |bytes: &[f64], secs: &[f64]| -> Vec<f64> {
            bytes
                .iter()
                .zip(secs)
                .map(|(b, s)| b * 8.0 / s / 1e6)
                .collect()
        };
        let eight = vec![(8u64 << 20) as f64; f.eight_s.len()];
        rows.push(Row {
            name: format!("{policy}: rest of object (vs off)"),
            unit: "Mbps",
            ours: mbps(&f.rest_bytes, &f.rest_s),
            peer: mbps(&off.rest_bytes, &off.rest_s),
        });
        rows.push(Row {
            name: format!("{policy}: first 8 MiB after resume (vs off)"),
            unit: "Mbps",
            ours: mbps(&eight, &f.eight_s),
            peer: mbps(&eight, &off.eight_s),
        });
    }
    report(
        "takeover",
        "off",
        &format!("cargo run --release -p anyedge-bench --bin takeover -- {seeds} {len_mib}"),
        &rows,
    );
    Ok(())
}
