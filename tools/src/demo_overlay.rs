//! The overlay part of `anyedge demo` (issue 7): a miss through edge ->
//! gateway -> origin, three real engines in the simulator
//! ([`anyedge_sim::overlay`]), once with early data (the edge's SYN
//! proposes the gateway's ISN, TCP option 253 ExID 0xAEDA, and the request
//! follows at once; US 2015/0381771) and once with a normal handshake. The
//! two timelines are printed side by side, in milliseconds from the
//! client's request, so that the round trip early data saves shows where
//! it is saved.

use anyedge_sim::overlay::{run, tcp_fields, OverlayResult, Params, GATEWAY_PORT};
use anyedge_sim::{Fate, TraceEntry};
use anyhow::{bail, Result};

/// Object size of the demo's miss: a few flights of slow start.
const LEN: usize = 100_000;

/// A step of the timeline (in the order of a normal handshake; early data
/// moves the GET and what follows it up by a round trip): what it is, and
/// how to find it in a trace:
/// (from, to, the frame's TCP fields) of the first frame that matches, and
/// whether the step is its sending (else its arrival).
struct Step {
    what: &'static str,
    from: &'static str,
    to: &'static str,
    sent: bool,
    tcp: fn((u16, u16, u8, usize)) -> bool,
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;

const STEPS: &[Step] = &[
    Step {
        what: "edge -> gateway: SYN (early: proposes the gateway's ISN)",
        from: "edge",
        to: "router",
        sent: true,
        tcp: |f| f.1 == GATEWAY_PORT && f.2 & SYN_ACK == SYN,
    },
    Step {
        what: "gateway: SYN arrives, SYN/ACK leaves",
        from: "router-gw",
        to: "gateway",
        sent: false,
        tcp: |f| f.1 == GATEWAY_PORT && f.2 & SYN_ACK == SYN,
    },
    Step {
        what: "edge: SYN/ACK arrives",
        from: "router",
        to: "edge",
        sent: false,
        tcp: |f| f.0 == GATEWAY_PORT && f.2 & SYN_ACK == SYN_ACK,
    },
    Step {
        what: "edge -> gateway: GET /obj.bin (early: right behind the SYN)",
        from: "edge",
        to: "router",
        sent: true,
        tcp: |f| f.1 == GATEWAY_PORT && f.3 > 0,
    },
    Step {
        what: "gateway: GET arrives (early: verified, taken at once)",
        from: "router-gw",
        to: "gateway",
        sent: false,
        tcp: |f| f.1 == GATEWAY_PORT && f.3 > 0,
    },
    Step {
        what: "gateway -> origin: SYN",
        from: "gateway",
        to: "router-gw",
        sent: true,
        tcp: |f| f.1 == 80 && f.2 & SYN_ACK == SYN,
    },
    Step {
        what: "gateway: first answer byte from the origin",
        from: "router-gw",
        to: "gateway",
        sent: false,
        tcp: |f| f.0 == 80 && f.3 > 0,
    },
    Step {
        what: "edge: first answer byte from the gateway",
        from: "router",
        to: "edge",
        sent: false,
        tcp: |f| f.0 == GATEWAY_PORT && f.3 > 0,
    },
];

/// When `s` happened in `trace`, ms after `t0`.
fn when(trace: &[TraceEntry], s: &Step, t0: u64) -> Option<f64> {
    trace
        .iter()
        .filter(|t| t.fate == Fate::Delivered && t.from == s.from && t.to == s.to)
        .find(|t| tcp_fields(&t.summary).is_some_and(s.tcp))
        .map(|t| if s.sent { t.sent } else { t.at })
        .map(|t| t.saturating_sub(t0) as f64 / 1e6)
}

fn check(what: &str, r: &OverlayResult, early: bool) -> Result<()> {
    let f = &r.fetches[0];
    if !f.byte_exact || r.used_early != early || r.origin_requests() != 1 {
        bail!(
            "overlay ({what}): byte-exact {}, early data used {}, origin requests {}: {:?}",
            f.byte_exact,
            r.used_early,
            r.origin_requests(),
            f.events
        );
    }
    Ok(())
}

/// Runs the miss with and without early data and prints both timelines.
pub fn overlay_story(seed: u64) -> Result<()> {
    let p = Params::new(true, LEN, seed);
    println!(
        "\n--- overlay: a miss through edge -> gateway -> origin, with and without early data ---"
    );
    println!(
        "  client -- edge (VIP {}, empty cache) -- {} ms RTT -- gateway -- origin (HTTP, {LEN} bytes)",
        anyedge_sim::scenario::VIP,
        p.edge_gateway_rtt_ns() / 1_000_000
    );
    let early = run(&p);
    let normal = run(&Params::new(false, LEN, seed));
    check("early data", &early, true)?;
    check("normal handshake", &normal, false)?;
    let (e, n) = (&early.fetches[0], &normal.fetches[0]);
    println!(
        "\n  {:>8} {:>8}  ms after the client's GET",
        "normal", "early"
    );
    let row = |what: &str, n: Option<f64>, e: Option<f64>| {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        println!("  {:>8} {:>8}  {what}", f(n), f(e));
    };
    row("client: GET /obj.bin leaves", Some(0.0), Some(0.0));
    for s in STEPS {
        row(
            s.what,
            when(&normal.trace, s, n.request_at),
            when(&early.trace, s, e.request_at),
        );
    }
    let ms = |ns: u64| Some(ns as f64 / 1e6);
    row(
        "client: first response byte (TTFB: the edge answers once the object is cached)",
        ms(n.ttfb_ns),
        ms(e.ttfb_ns),
    );
    row("client: last byte", ms(n.total_ns), ms(e.total_ns));
    let rtt = normal.edge_gateway_rtt_ns.unwrap_or(0) as f64 / 1e6;
    let saved = (n.ttfb_ns as f64 - e.ttfb_ns as f64) / 1e6;
    println!(
        "\n  TTFB {:.1} ms with early data against {:.1} ms with a normal handshake: {saved:.1} ms saved, \
         {:.2} edge-gateway RTTs ({rtt:.1} ms measured)",
        e.ttfb_ns as f64 / 1e6,
        n.ttfb_ns as f64 / 1e6,
        saved / rtt.max(1e-9)
    );
    println!(
        "  both byte-exact, one origin request each; edge: early data opened {}, accepted {}; gateway: accepted {}, dropped {}",
        early.edge_counter("edge.early.opened"),
        early.edge_counter("edge.early.accepted"),
        early.gateway_counter("gateway_relay.early.accepted"),
        early.gateway_counter("gateway_relay.early.dropped"),
    );
    Ok(())
}
