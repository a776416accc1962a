//! Loss bursts with more holes than the SACK scoreboard keeps, and the
//! loss of a flight's last segment.

use super::resume::big;
use super::*;
use crate::resume::Policy;

/// A jump to an 8 MiB window into a 200 Mbit/s bottleneck with a
/// 100-segment queue: the queue drops most of the first flight, then
/// retransmissions and new data alike whenever it overflows.
#[test]
fn an_overshoot_into_a_small_bottleneck_queue_recovers_without_stalling() {
    let mut p = Pair::connected(5 * MS, big(), big());
    p.a.resume(Policy::Jump, 8 << 20, 10 * MS);
    let mut free = 0u64;
    p.drop = Box::new(move |w, _| {
        if !w.to_b {
            return false;
        }
        let ser = 60_000 * (w.payload.len() as u64 + 52) / 1500;
        if free > w.at + 100 * 60_000 {
            return true;
        }
        free = free.max(w.at) + ser;
        false
    });
    let data = pattern(12 << 20, 9);
    let start = p.now;
    let (got, _) = p.transfer(&data, &[], 60_000 * MS);
    assert!(got == data);
    let took = (p.now - start) / MS;
    let s = p.a.stats();
    eprintln!("bottleneck: took {took} ms, {s:?}");
    // 12 MiB at 200 Mbit/s is 503 ms.
    assert!(took < 1500, "took {took} ms: {s:?}");
}

#[test]
fn a_burst_of_more_holes_than_the_scoreboard_holds_is_repaired_quickly() {
    let mut p = Pair::connected(5 * MS, big(), big());
    // A jump to an 8 MiB window: one flight of about 5800 segments.
    p.a.resume(Policy::Jump, 8 << 20, 10 * MS);
    // Lose every other original segment from the 200th to the 2200th:
    // 1000 holes, well past MAX_SACKED.
    let (mut n, mut highest) = (0usize, 0u32);
    let base = p.a.snd_max.0;
    p.drop = Box::new(move |w, _| {
        let off = w.hdr.seq.wrapping_sub(base);
        if !w.to_b || w.payload.is_empty() || off < highest {
            return false;
        }
        highest = off + 1;
        n += 1;
        (200..5200).contains(&n) && n % 3 != 0
    });
    let data = pattern(12 << 20, 9);
    let start = p.now;
    let (got, _) = p.transfer(&data, &[], 60_000 * MS);
    assert!(got == data);
    let took = (p.now - start) / MS;
    let s = p.a.stats();
    eprintln!("took {took} ms, {s:?}");
    assert_eq!(s.timeouts, 0, "repaired without an RTO: {s:?}");
    assert!(took < 400, "took {took} ms: {s:?}");
}

/// The last three segments of a response are lost: the tail loss
/// probe (the last segment again) brings a SACK, RACK marks the other
/// two lost, and fast recovery repairs them, with no RTO.
#[test]
fn a_lost_tail_is_repaired_by_a_probe_not_a_timeout() {
    for sack in [true, false] {
        let c = ConnConfig { sack, ..big() };
        let mut p = Pair::connected(5 * MS, c, c);
        let data = pattern(200_000, 4);
        let mss = p.a.eff_mss();
        let last = (data.len() - 1) / mss;
        let base = p.a.snd_max.0;
        let mut seen = std::collections::HashSet::new();
        p.drop = Box::new(move |w, _| {
            let k = (w.hdr.seq.wrapping_sub(base) as usize) / mss;
            w.to_b && !w.payload.is_empty() && k + 3 > last && seen.insert(k)
        });
        let start = p.now;
        let (got, _) = p.transfer(&data, &[], 10_000 * MS);
        assert!(got == data);
        let took = (p.now - start) / MS;
        let s = p.a.stats();
        eprintln!("tail, sack={sack}: took {took} ms, {s:?}");
        if sack {
            assert_eq!(s.timeouts, 0, "{s:?}");
            assert!(s.tlp_probes >= 1, "{s:?}");
            assert!(took < 150, "took {took} ms: {s:?}");
        } else {
            // Without SACK there is no RACK-TLP: the RTO repairs it.
            assert!(s.timeouts >= 1 && s.tlp_probes == 0, "{s:?}");
        }
    }
}

/// A path that holds back every 2000th data segment by 2 ms: RACK
/// resends some of them before the original arrives, the receiver
/// reports each late duplicate as a D-SACK (RFC 2883; such a segment
/// fails the acceptability test, and it used to be dropped without
/// one), and the sender widens its reordering window (RFC 8985 6.2
/// step 4). The transfer ends byte-exact with no RTO.
#[test]
fn reordering_brings_d_sacks_that_widen_the_reordering_window() {
    const HOLD: u64 = 2 * MS;
    const EVERY: usize = 2000;
    let c = big();
    let mut p = Pair::connected(5 * MS, c, c);
    let mut n = 0usize;
    p.extra = Box::new(move |w| {
        if !w.to_b || w.payload.is_empty() {
            return 0;
        }
        n += 1;
        if n.is_multiple_of(EVERY) {
            HOLD
        } else {
            0
        }
    });
    let data = pattern(32 << 20, 6);
    let (got, _) = p.transfer(&data, &[], 100_000 * MS);
    assert!(got == data);
    let s = p.a.stats();
    eprintln!("reordering: {:?}, {s:?}", p.a.rack);
    assert_eq!(s.timeouts, 0, "{s:?}");
    assert!(
        s.retransmits > 0,
        "the reordering was taken for loss at first"
    );
    assert!(
        p.a.rack.reo_wnd_persist > 0,
        "D-SACKs arrived and widened the window: {:?}",
        p.a.rack
    );
}

/// RFC 8985 6.2 step 4: one widening per round trip of D-SACKs, by a
/// quarter of min-RTT each (at most SRTT), back to one quarter after
/// 16 recoveries without a new D-SACK.
#[test]
fn the_reordering_window_grows_per_d_sack_round_and_persists_16_recoveries() {
    let mut p = Pair::connected(20 * MS, cfg(), cfg());
    p.transfer(&pattern(200_000, 1), &[], 10_000 * MS);
    let a = &mut p.a;
    a.rack.reordering_seen = true;
    let quarter = a.rtt.min_rtt().unwrap() / 4;
    assert_eq!(a.rack_reo_wnd(), quarter);
    a.snd_max = a.snd_una + 10_000;
    a.rack_on_dsack(true);
    a.rack_on_dsack(true);
    assert_eq!(a.rack_reo_wnd(), 2 * quarter, "one widening per round trip");
    a.snd_una = a.rack.dsack_round.unwrap();
    a.rack_on_dsack(false);
    a.rack_on_dsack(true);
    assert_eq!(a.rack_reo_wnd(), 3 * quarter);
    for _ in 0..15 {
        a.rack_recovery_ended();
    }
    assert_eq!(a.rack_reo_wnd(), 3 * quarter);
    a.rack_recovery_ended();
    assert_eq!(a.rack_reo_wnd(), quarter, "back after 16 recoveries");
    a.rack.reo_wnd_extra = 1000;
    assert_eq!(a.rack_reo_wnd(), a.rtt.srtt().unwrap(), "at most SRTT");
}
