//! A replicated client connection (issue 7, item 3) as one reusable run,
//! for the simulator tests, `anyedge demo` and `bench/overlay`.
//!
//! Two nodes of a site serve the VIP from the same content; edge-a has
//! `[overlay] backup` pointing at edge-b, so every client connection it
//! serves is replicated there and its ACKs wait for edge-b's confirmation
//! (the output commit). When a fraction of the download has arrived, edge-a
//! dies (its link loses everything from then on), or stays up, and the
//! router's route for the VIP moves to edge-b. The client's next segment
//! reaches edge-b, which continues the same TCP connection from its standby
//! record: the client sees no RST, no new handshake and no gap.

use crate::engine::EngineNode;
use crate::host::{pattern, Host};
use crate::link::LinkParams;
use crate::scenario::{flip_route, site_cfg, VIP};
use crate::takeover::content;
use crate::Sim;
use anyedge_tcp::conn::{ConnConfig, State};
use std::net::SocketAddrV4;

const MS: u64 = 1_000_000;
const PATH: &str = "/obj.bin";
const LIMIT_NS: u64 = 600_000 * MS;

/// What a replication run looks like.
#[derive(Clone, Debug)]
pub struct Params {
    /// Object length, bytes.
    pub len: usize,
    /// Seed of the simulation.
    pub seed: u64,
    /// Fraction of the object received when edge-a fails (or the route moves).
    pub fail_at: f64,
    /// Whether edge-a dies (`true`) or only loses the route (`false`).
    pub kill: bool,
    /// edge-a fails as soon as the client's connection is ESTABLISHED
    /// (`fail_at` is then unused): the client's handshake ACK and request
    /// go to edge-b, which knows the connection only from its SYN-time
    /// record.
    pub fail_on_connect: bool,
    /// Whether edge-a replicates to edge-b at all (`false`: a plain node,
    /// for comparison; the move then ends in a RST and a Range request).
    pub replicate: bool,
    /// Time from edge-a's death to the route move (routing is slower than
    /// the failure: the client's ACKs in between are lost with edge-a, and
    /// it then waits for data and sends nothing).
    pub route_delay_ns: u64,
    /// edge-b is gone from the start: edge-a must find out and serve
    /// without replication (nothing fails over then).
    pub backup_dead: bool,
    /// Client to router.
    pub client_link: LinkParams,
    /// Router to each node.
    pub node_link: LinkParams,
    /// The edges start with empty caches: the object comes from an origin
    /// through a gateway (edge -> gateway -> origin), so edge-b has to
    /// fetch what edge-a relayed ([`anyedge_node`]'s `overlay::refill`).
    pub via_gateway: bool,
    /// With `via_gateway`: edge-b's copy is purged when edge-a fails, so the
    /// takeover has to wait for a fetch of its own.
    pub purge_backup: bool,
    /// A second download on its own connection starts with the first.
    pub second_download: bool,
    /// edge-b's `[overlay] standby_max` (records it keeps at most).
    pub backup_standby_max: Option<usize>,
    /// With `purge_backup`: the origin's object changes (same length, other
    /// bytes, so another ETag) when edge-a fails, so the fetch brings an
    /// object the primary never served.
    pub origin_changes: bool,
}

impl Params {
    /// 40 ms RTT, a 100 Mbit/s client link, 1 Gbit/s node links of 0.5 ms
    /// (the nodes of a site, and their replication channel, are close).
    pub fn new(len: usize, seed: u64) -> Params {
        Params {
            len,
            seed,
            fail_at: 0.4,
            kill: true,
            fail_on_connect: false,
            replicate: true,
            route_delay_ns: 0,
            backup_dead: false,
            client_link: LinkParams {
                queue_bytes: 1 << 20,
                ..LinkParams::new(19.5, 100.0)
            },
            node_link: LinkParams::new(0.5, 1000.0),
            via_gateway: false,
            purge_backup: false,
            origin_changes: false,
            second_download: false,
            backup_standby_max: None,
        }
    }
}

/// What a replication run measured.
#[derive(Debug)]
pub struct ReplicaResult {
    /// Whether every byte arrived, in order and equal to the object.
    pub byte_exact: bool,
    /// When edge-a failed (virtual ns).
    pub failed_at: u64,
    /// When the last byte arrived.
    pub done_at: u64,
    /// Resets the client's connection saw.
    pub resets: u32,
    /// HTTP requests the client sent (1: the same connection throughout).
    pub requests: u32,
    /// The download's events.
    pub events: Vec<(u64, String)>,
    /// edge-a's `show overlay json` just before it failed.
    pub overlay_a: serde_json::Value,
    /// edge-b's `show overlay json` at the end.
    pub overlay_b: serde_json::Value,
    /// edge-a's `show overlay json` at the end.
    pub overlay_a_end: serde_json::Value,
    /// edge-b's `show anycast json` at the end.
    pub anycast_b: serde_json::Value,
    /// Requests the origin answered (`via_gateway` runs; else 0).
    pub origin_requests: u64,
    /// edge-b's answer to `cache purge` (`purge_backup` runs).
    pub purge_reply: String,
    /// The origin's answer to `cache load` (`origin_changes` runs).
    pub reload_reply: String,
    /// Whether the client ended with the changed object, whole.
    pub got_new_version: bool,
    /// Whether every download (see `second_download`) arrived byte-exact.
    pub all_exact: bool,
}

fn show(sim: &mut Sim, node: usize, what: &str) -> serde_json::Value {
    let text = sim
        .device::<EngineNode>(node)
        .node
        .execute(&format!("show {what} json"))
        .text;
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// The `[overlay]` sections of the nodes. Both edges have a gateway
/// (unused when every request is a hit); edge-a replicates to edge-b's
/// peer-channel port. With `via_gateway`, node 2 (10.0.4.2) is the gateway
/// and node 3 (10.0.5.2) the origin.
fn overlays(replicate: bool, via_gateway: bool, standby_max: Option<usize>) -> Vec<String> {
    let gw = if via_gateway {
        "10.0.4.2:7800"
    } else {
        "10.0.9.9:7800"
    };
    let edge = format!("[overlay]\nrole = \"edge\"\ngateway = \"{gw}\"\n");
    let backup = if replicate {
        "backup = \"10.0.3.2:7900\"\n"
    } else {
        ""
    };
    let b_extra = standby_max.map_or(String::new(), |n| format!("standby_max = {n}\n"));
    let mut v = vec![format!("{edge}{backup}"), format!("{edge}{b_extra}")];
    if via_gateway {
        v.push("[overlay]\nrole = \"gateway\"\nlisten = 7800\norigin = \"10.0.5.2:80\"\n".into());
    }
    v
}

/// Runs one download across a primary's failure (see the module docs).
pub fn run(p: &Params) -> ReplicaResult {
    let dir = content(p.len);
    let empty = std::env::temp_dir().join("anyedge-sim-empty-cache");
    std::fs::create_dir_all(&empty).expect("empty cache directory");
    // An origin whose object changes gets a directory of its own.
    let origin_dir = match p.origin_changes {
        true => own_copy(&dir),
        false => dir.clone(),
    };
    let contents = if p.via_gateway {
        vec![Some(empty.as_path()), Some(&empty), None, Some(&origin_dir)]
    } else {
        vec![Some(dir.as_path()); 2]
    };
    let mut sim = Sim::new(p.seed);
    let s = site_cfg(
        &mut sim,
        contents.len(),
        p.client_link,
        p.node_link,
        &contents,
        "careful",
        &overlays(p.replicate, p.via_gateway, p.backup_standby_max),
    );
    let vip = SocketAddrV4::new(VIP, 80);
    let tcp = ConnConfig {
        recv_buf: 4 << 20,
        ..ConnConfig::default()
    };
    sim.device::<Host>(s.client)
        .download(vip, PATH, 10 * MS, tcp);
    if p.second_download {
        sim.device::<Host>(s.client)
            .download(vip, PATH, 10 * MS, tcp);
    }
    if p.backup_dead {
        sim.link(s.node_links[1]).params.loss = 1.0;
    }
    let threshold = (p.len as f64 * p.fail_at) as usize;
    let mut failed_at = None;
    let mut overlay_a = serde_json::Value::Null;
    let mut purge_reply = String::new();
    let mut reload_reply = String::new();
    while sim.now() < LIMIT_NS {
        let t = sim.now() + MS;
        sim.run_until(t);
        let h = sim.device::<Host>(s.client);
        if h.downloads.iter().all(|d| d.done_at.is_some()) {
            break;
        }
        let d = &h.downloads[0];
        let due = match p.fail_on_connect {
            true => d
                .conn
                .as_ref()
                .is_some_and(|c| c.state() == State::Established),
            false => d.data.len() >= threshold,
        };
        if failed_at.is_none() && due && !p.backup_dead {
            overlay_a = show(&mut sim, s.nodes[0], "overlay");
            if p.kill {
                // edge-a dies: nothing reaches it or leaves it any more.
                sim.link(s.node_links[0]).params.loss = 1.0;
            }
            flip_route(&mut sim, &s, t + p.route_delay_ns, 1);
            failed_at = Some(t);
            if p.purge_backup {
                purge_reply = sim
                    .device::<EngineNode>(s.nodes[1])
                    .node
                    .execute(&format!("cache purge {PATH}"))
                    .text;
            }
            if p.origin_changes {
                // A new version: same length, every byte 0x55.
                std::fs::write(origin_dir.join("obj.bin"), vec![0x55u8; p.len])
                    .expect("new version of the object");
                reload_reply = sim
                    .device::<EngineNode>(s.nodes[3])
                    .node
                    .execute(&format!("cache load {}", origin_dir.display()))
                    .text;
            }
        }
    }
    let end = sim.now();
    let overlay_b = show(&mut sim, s.nodes[1], "overlay");
    let overlay_a_end = show(&mut sim, s.nodes[0], "overlay");
    let anycast_b = show(&mut sim, s.nodes[1], "anycast");
    let origin_requests = match p.via_gateway {
        true => show(&mut sim, s.nodes[3], "http")["requests"]
            .as_u64()
            .unwrap_or(0),
        false => 0,
    };
    let h = sim.device::<Host>(s.client);
    let events: Vec<(u64, String)> = h.downloads.iter().flat_map(|d| d.events.clone()).collect();
    let d = &h.downloads[0];
    let exact = |d: &crate::download::Download| {
        d.done()
            && d.data.len() == p.len
            && d.data.iter().enumerate().all(|(i, &b)| b == pattern(i))
    };
    ReplicaResult {
        byte_exact: exact(d),
        failed_at: failed_at.unwrap_or(end),
        done_at: d.done_at.unwrap_or(end),
        resets: h.downloads.iter().map(|d| d.resets).sum(),
        requests: h.downloads.iter().map(|d| d.requests).sum(),
        events,
        overlay_a,
        overlay_b,
        overlay_a_end,
        anycast_b,
        origin_requests,
        purge_reply,
        reload_reply,
        got_new_version: d.done() && d.data.len() == p.len && d.data.iter().all(|&b| b == 0x55),
        all_exact: h.downloads.iter().all(exact),
    }
}

/// A private copy of a content directory's `obj.bin`, for a run that
/// changes it.
fn own_copy(dir: &std::path::Path) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "anyedge-sim-origin-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).expect("origin content directory");
    std::fs::copy(dir.join("obj.bin"), d.join("obj.bin")).expect("origin content file");
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN: usize = 8 << 20;

    fn check_same_connection(r: &ReplicaResult) {
        assert!(r.byte_exact, "byte-exact: {:?}", r.events);
        assert_eq!(
            r.resets, 0,
            "no RST reached the client: {:?}\na: {}\nb: {}",
            r.events, r.overlay_a, r.overlay_b
        );
        assert_eq!(r.requests, 1, "one request, one connection: {:?}", r.events);
        let rb = &r.overlay_b["replication"];
        assert_eq!(rb["takeovers"], 1, "{rb}");
        assert_eq!(rb["takeover_missing"], 0, "{rb}");
        assert_eq!(r.anycast_b["rst_stray_ack"], 0, "{}", r.anycast_b);
        let ra = &r.overlay_a["replication"];
        assert_eq!(ra["state"], "up", "{ra}");
        assert!(ra["records_confirmed"].as_u64().unwrap() >= 2, "{ra}");
        assert!(ra["ack_delay_us"]["count"].as_u64().unwrap() >= 2, "{ra}");
    }

    #[test]
    fn the_backup_finishes_a_download_when_the_primary_dies_at_40_percent() {
        for seed in [1, 2] {
            let r = run(&Params::new(LEN, seed));
            check_same_connection(&r);
            // Later records named the response's head by its key, and the
            // backup resolved them (overlay::heads).
            let (ra, rb) = (&r.overlay_a["replication"], &r.overlay_b["replication"]);
            assert!(ra["head_refs"].as_u64().unwrap() >= 1, "{ra}");
            assert_eq!(rb["head_misses"], 0, "{rb}");
            // The rest comes at the client link's rate, no slower than
            // after a RST and a Range request: the peer's ACKs of the
            // primary's copies once cut the window to two segments and
            // took 15 s (replica.rs in anyedge-tcp, `Takeover`).
            let plain = run(&Params {
                replicate: false,
                ..Params::new(LEN, seed)
            });
            let (rest, rest_plain) = (r.done_at - r.failed_at, plain.done_at - plain.failed_at);
            assert!(
                rest < rest_plain + 50 * MS,
                "rest {} ms, without replication {} ms",
                rest / MS,
                rest_plain / MS
            );
        }
    }

    /// edge-a dies right after its SYN-ACK: the client's handshake ACK and
    /// request reach edge-b, which continues from the SYN-time record (the
    /// SYN-ACK waited for it). Before that record existed, this cost the
    /// client a RST and a second connection.
    #[test]
    fn the_backup_continues_a_connection_whose_primary_died_after_the_handshake() {
        let r = run(&Params {
            fail_on_connect: true,
            ..Params::new(LEN, 8)
        });
        assert!(r.byte_exact, "byte-exact: {:?}", r.events);
        assert_eq!(r.resets, 0, "no RST: {:?}\nb: {}", r.events, r.overlay_b);
        assert_eq!(r.requests, 1, "one request, one connection: {:?}", r.events);
        let rb = &r.overlay_b["replication"];
        assert_eq!(rb["takeovers"], 1, "{rb}");
        assert_eq!(rb["takeover_missing"], 0, "{rb}");
        let ra = &r.overlay_a["replication"];
        assert_eq!(ra["records_confirmed"], 1, "only the SYN's record: {ra}");
        assert_eq!(r.anycast_b["rst_stray_ack"], 0, "{}", r.anycast_b);
    }

    #[test]
    fn a_relayed_object_the_backup_lacked_is_fetched_from_its_gateway_ahead_of_the_failure() {
        let r = run(&Params {
            via_gateway: true,
            ..Params::new(LEN, 6)
        });
        check_same_connection(&r);
        let rb = &r.overlay_b["replication"];
        assert_eq!(rb["prefetches"], 1, "one prefetch per object: {rb}");
        assert_eq!(rb["takeover_fetches"], 0, "it was there in time: {rb}");
        // edge-a's miss and edge-b's prefetch; the client asked once.
        assert_eq!(r.origin_requests, 2);
    }

    #[test]
    fn a_takeover_whose_object_was_purged_waits_for_a_fetch_and_goes_on() {
        let r = run(&Params {
            via_gateway: true,
            purge_backup: true,
            ..Params::new(LEN, 7)
        });
        assert_eq!(r.purge_reply, "purged /obj.bin");
        check_same_connection(&r);
        let rb = &r.overlay_b["replication"];
        assert_eq!(rb["takeover_fetches"], 1, "{rb}");
        assert_eq!(r.origin_requests, 3, "miss, prefetch, refetch");
    }

    /// The object changed at the origin between edge-a's miss and edge-b's
    /// fetch: edge-b must not continue the response with other bytes. It
    /// resets the connection and counts it (`takeover_missing`), and the
    /// client starts again on a new connection.
    #[test]
    fn a_takeover_whose_refetched_object_has_another_etag_is_reset() {
        let r = run(&Params {
            via_gateway: true,
            purge_backup: true,
            origin_changes: true,
            ..Params::new(LEN, 7)
        });
        assert_eq!(r.purge_reply, "purged /obj.bin");
        assert!(r.reload_reply.contains("loaded"), "{}", r.reload_reply);
        let rb = &r.overlay_b["replication"];
        assert_eq!(rb["takeovers"], 1, "{rb}");
        assert_eq!(rb["takeover_fetches"], 1, "{rb}");
        assert_eq!(rb["takeover_missing"], 1, "the ETag differed: {rb}");
        assert!(r.resets >= 1, "the client saw the reset: {:?}", r.events);
        assert!(r.requests >= 2, "and asked again: {:?}", r.events);
        // If-Range did not match at edge-b: a 200 with the new version,
        // which the client took whole instead of the old one's rest.
        assert!(r.got_new_version, "{:?}", r.events);
    }

    #[test]
    fn a_client_that_went_quiet_is_poked_when_the_route_moves_late() {
        let r = run(&Params {
            route_delay_ns: 1500 * MS,
            ..Params::new(LEN, 4)
        });
        check_same_connection(&r);
        assert!(r.overlay_b["replication"]["pokes"].as_u64().unwrap() >= 1);
    }

    #[test]
    fn a_route_move_to_the_backup_keeps_the_connection_and_the_primary_lets_go() {
        let r = run(&Params {
            kill: false,
            ..Params::new(LEN, 3)
        });
        check_same_connection(&r);
        // edge-a heard that edge-b took the connection and let it go
        // without a RST.
        assert_eq!(r.overlay_a_end["replication"]["taken_over"], 1);
    }

    #[test]
    fn a_gone_backup_is_detected_and_the_primary_serves_without_it() {
        let r = run(&Params {
            backup_dead: true,
            ..Params::new(LEN, 5)
        });
        assert!(r.byte_exact && r.resets == 0, "{:?}", r.events);
        let ra = &r.overlay_a_end["replication"];
        assert_eq!(ra["state"], "down", "{ra}");
        assert_eq!(ra["backup_timeouts"], 1, "{ra}");
        assert_eq!(ra["records_confirmed"], 0, "{ra}");
        // The stall is the timeout, once: the download's first byte comes
        // within about 200 ms of what an unreplicated node gives.
        let plain = run(&Params {
            replicate: false,
            fail_at: 2.0,
            ..Params::new(LEN, 5)
        });
        let first = |r: &ReplicaResult| {
            r.events
                .iter()
                .find(|e| e.1.contains("HTTP 200"))
                .unwrap()
                .0
        };
        let extra = first(&r) - first(&plain);
        assert!(
            (200 * MS..300 * MS).contains(&extra),
            "extra {} ms",
            extra / MS
        );
    }

    /// A backup whose standby table is full refuses the record instead of
    /// confirming it: the primary serves that connection unreplicated at
    /// once, and keeps replicating the others (no timeout, no stall).
    #[test]
    fn a_backup_with_a_full_standby_table_refuses_and_the_primary_goes_on() {
        let r = run(&Params {
            second_download: true,
            backup_standby_max: Some(1),
            fail_at: 2.0,
            ..Params::new(2 << 20, 9)
        });
        assert!(r.all_exact && r.resets == 0, "{:?}", r.events);
        let (ra, rb) = (&r.overlay_a_end["replication"], &r.overlay_b["replication"]);
        assert_eq!(ra["refused"], 1, "one connection refused: {ra}");
        assert_eq!(ra["state"], "up", "{ra}");
        assert_eq!(ra["backup_timeouts"], 0, "{ra}");
        assert!(rb["standby_full"].as_u64().unwrap() >= 1, "{rb}");
        assert!(
            ra["records_confirmed"].as_u64().unwrap() >= 1,
            "the other one: {ra}"
        );
    }

    #[test]
    fn without_replication_the_move_costs_a_reset_and_a_range_request() {
        // The control: the same move against a plain pair of nodes.
        let r = run(&Params {
            replicate: false,
            ..Params::new(LEN, 1)
        });
        assert!(r.byte_exact);
        assert!(r.resets >= 1 && r.requests >= 2, "{:?}", r.events);
        assert_eq!(r.overlay_b["replication"]["takeovers"], 0);
    }
}
