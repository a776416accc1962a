//! The overlay in the simulator (issue 7, items 1 and 2): early data's
//! TTFB against a normal handshake, the loss of each frame of the early
//! handshake, and hits. Fixed seeds.

use super::*;

/// On clean links a run does not depend on its seed (nothing is random),
/// so the clean tests run one; the lossy one runs several.
const SEED: u64 = 1;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The checks every miss shares: byte-exact, one fetch at the edge, one
/// relay at the gateway, one request at the origin (no duplicate).
fn assert_one_clean_miss(what: &str, r: &OverlayResult) {
    assert!(
        r.fetches.iter().all(|f| f.byte_exact),
        "{what}: not byte-exact: {:?}",
        r.fetches.iter().map(|f| &f.events).collect::<Vec<_>>()
    );
    assert_eq!(r.edge_counter("edge.fetches"), 1, "{what}: {}", r.edge);
    assert_eq!(r.edge_counter("edge.fills"), 1, "{what}: {}", r.edge);
    assert_eq!(
        r.edge_counter("edge.upstream_opened"),
        1,
        "{what}: {}",
        r.edge
    );
    assert_eq!(
        r.gateway_counter("gateway_relay.relays"),
        1,
        "{what}: {}",
        r.gateway
    );
    assert_eq!(r.origin_requests(), 1, "{what}: {}", r.origin_http);
}

#[test]
fn early_data_saves_one_edge_gateway_round_trip_on_a_miss() {
    // One segment (the answer's round trips only) and 100 kB (four flights
    // of slow start behind them).
    for len in [1_000, 100_000] {
        let seed = SEED;
        let normal = run(&Params::new(false, len, seed));
        let early = run(&Params::new(true, len, seed));
        let what = format!("{len} bytes, seed {seed}");
        assert_one_clean_miss(&format!("normal, {what}"), &normal);
        assert_one_clean_miss(&format!("early, {what}"), &early);
        // The normal run had no early data anywhere ...
        assert!(!normal.used_early, "{what}");
        assert_eq!(normal.edge_counter("edge.early.opened"), 0, "{what}");
        assert_eq!(
            normal.gateway_counter("gateway_relay.early.accepted"),
            0,
            "{what}"
        );
        // ... and the early run's proposal was taken by the gateway.
        assert!(early.used_early, "{what}: {} {}", early.edge, early.gateway);
        assert_eq!(early.edge_counter("edge.early.opened"), 1, "{what}");
        assert_eq!(early.edge_counter("edge.early.accepted"), 1, "{what}");
        assert_eq!(early.edge_counter("edge.early.fallback"), 0, "{what}");
        assert_eq!(
            early.gateway_counter("gateway_relay.early.dropped"),
            0,
            "{what}"
        );
        // The round trip as the handshake measured it: 30 ms plus
        // serialization.
        let rtt = normal.edge_gateway_rtt_ns.expect("a SYN/ACK");
        let nominal = Params::new(false, len, seed).edge_gateway_rtt_ns();
        assert!((nominal..nominal + MS).contains(&rtt), "{what}: rtt {rtt}");
        let (tn, te) = (normal.fetches[0].ttfb_ns, early.fetches[0].ttfb_ns);
        let saving = tn as f64 - te as f64;
        assert!(
            (saving - rtt as f64).abs() <= 0.2 * rtt as f64,
            "{what}: TTFB normal {:.3} ms, early {:.3} ms: saved {:.3} ms, RTT {:.3} ms",
            ms(tn),
            ms(te),
            saving / 1e6,
            ms(rtt)
        );
        if len == 1_000 {
            // The whole miss is then one edge-gateway round trip (and
            // the short ones around it) instead of two.
            assert!(te < rtt + 10 * MS, "{what}: early TTFB {:.3} ms", ms(te));
            assert!(tn > 2 * rtt, "{what}: normal TTFB {:.3} ms", ms(tn));
        }
    }
}

#[test]
fn a_lost_syn_early_data_or_syn_ack_ends_byte_exact_with_one_origin_request() {
    for early_data in [true, false] {
        let seed = SEED;
        let clean = run(&Params::new(early_data, 100_000, seed));
        let rtt = clean.edge_gateway_rtt_ns.expect("a SYN/ACK");
        for drop in [Drop::EdgeSyn, Drop::EarlyData, Drop::GatewaySynAck] {
            let mut p = Params::new(early_data, 100_000, seed);
            p.drops = vec![drop];
            let r = run(&p);
            let what = format!("early data {early_data}, {drop:?} lost, seed {seed}");
            assert!(r.drops_fired[0].is_some(), "{what}: nothing was dropped");
            assert_one_clean_miss(&what, &r);
            assert_eq!(r.used_early, early_data, "{what}: {}", r.edge);
            let (t, t0) = (r.fetches[0].ttfb_ns, clean.fetches[0].ttfb_ns);
            assert!(t > t0, "{what}: the loss cost nothing?");
            // The early scheme's own recovery: the gateway's data,
            // which acknowledges the proposal, makes the edge repeat its
            // SYN at once, so a lost SYN/ACK costs about one round trip
            // and not the 1 s SYN timeout (RFC 6298 2.1).
            if early_data && drop == Drop::GatewaySynAck {
                assert!(
                    t < t0 + 2 * rtt,
                    "{what}: TTFB {:.3} ms against {:.3} ms without loss",
                    ms(t),
                    ms(t0)
                );
            }
            // Everything else waits for a retransmission timer, once.
            assert!(t < t0 + 1_100 * MS, "{what}: TTFB {:.3} ms", ms(t));
        }
    }
}

#[test]
fn a_second_fetch_of_the_object_is_a_hit() {
    for early_data in [true, false] {
        let mut p = Params::new(early_data, 100_000, SEED);
        p.fetches = 2;
        let r = run(&p);
        // Still one fetch, one fill, one relay and one origin request.
        assert_one_clean_miss(&format!("early data {early_data}"), &r);
        assert_eq!(r.edge_counter("edge.pool_reuse"), 0, "{}", r.edge);
        let (miss, hit) = (&r.fetches[0], &r.fetches[1]);
        let rtt = r.edge_gateway_rtt_ns.expect("a SYN/ACK");
        assert!(
            hit.ttfb_ns < rtt / 2 && hit.ttfb_ns < miss.ttfb_ns,
            "hit TTFB {:.3} ms, miss {:.3} ms",
            ms(hit.ttfb_ns),
            ms(miss.ttfb_ns)
        );
    }
}

#[test]
fn the_drop_predicates_pick_the_frames_they_name() {
    let mut p = Params::new(true, 1_000, SEED);
    p.drops = vec![Drop::EdgeSyn, Drop::EarlyData, Drop::GatewaySynAck];
    let r = run(&p);
    let dropped: Vec<&TraceEntry> = r.trace.iter().filter(|t| t.fate == Fate::Dropped).collect();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    let f: Vec<(u16, u16, u8, usize)> = dropped
        .iter()
        .map(|t| tcp_fields(&t.summary).expect("TCP"))
        .collect();
    assert!(f.iter().all(|x| x.0 == GATEWAY_PORT || x.1 == GATEWAY_PORT));
    assert!(
        f.iter().any(|x| x.1 == GATEWAY_PORT && x.2 == 0x02),
        "SYN: {f:?}"
    );
    assert!(
        f.iter().any(|x| x.1 == GATEWAY_PORT && x.3 > 0),
        "data: {f:?}"
    );
    assert!(
        f.iter().any(|x| x.0 == GATEWAY_PORT && x.2 == 0x12),
        "SYN/ACK: {f:?}"
    );
    assert_one_clean_miss("all three lost", &r);
}

#[test]
fn random_loss_on_the_long_link_never_costs_a_byte_or_a_second_origin_request() {
    for early_data in [true, false] {
        for seed in 1..=10 {
            let mut p = Params::new(early_data, 100_000, seed);
            p.wan_link.loss = 0.03;
            let r = run(&p);
            let what = format!("3% loss, early data {early_data}, seed {seed}");
            assert_one_clean_miss(&what, &r);
            assert_eq!(r.used_early, early_data, "{what}: {}", r.edge);
        }
    }
}
