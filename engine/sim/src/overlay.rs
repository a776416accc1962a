//! The split-TCP overlay (issue 7) as one reusable run, for the simulator
//! tests, `bench/overlay` and `anyedge demo`.
//!
//! ```text
//! client -- router -- edge                     (VIP 203.0.113.10, HTTP 80, empty cache)
//!             |
//!             +---- 14 ms ---- router-gw -- gateway  (listen 7800)
//!                                  |
//!                                  +------- origin   (HTTP 80 from the object's directory)
//! ```
//!
//! All three nodes are the real engine in `cdn` mode. The client asks the
//! edge for `/obj.bin`; the edge misses, sends `GET /obj.bin` to the gateway
//! over an edge-gateway TCP connection, the gateway relays it to the origin
//! over its own connection, and the answer fills the edge's cache before
//! the client is answered from it. "30 ms between edge and gateway" is the
//! edge-gateway round trip: 0.5 + 14 + 0.5 ms one way ([`Params::new`]), so
//! RTT 30 ms, while client-edge and gateway-origin are 3 ms and 2 ms round
//! trips. [`OverlayResult::edge_gateway_rtt_ns`] is the handshake round trip
//! the run measured, which the tests compare savings against.
//!
//! With `early_data` (and the site key on edge and gateway) the edge's SYN
//! proposes the gateway's ISN (TCP option 253, ExID 0xAEDA) and the request
//! follows it at once, before the SYN/ACK (US 2015/0381771): the miss should
//! cost one edge-gateway RTT less. [`Params::drops`] lose one chosen frame
//! of that handshake on the long link ([`crate::link::Link::drop_once`]).
//!
//! [`run`] returns, per fetch, the TTFB (the client's request segment
//! leaving the client to the first response byte arriving) and the total
//! time, byte-exactness, and at the end the nodes' counters (`show overlay
//! json` of edge and gateway, `show http json` of the origin) and the frame
//! trace.

use crate::engine::EngineNode;
use crate::host::{pattern, Host};
use crate::link::LinkParams;
use crate::router::{Router, RouterIface};
use crate::scenario::{CLIENT_IP, VIP};
use crate::takeover::content;
use crate::{Fate, Sim, TraceEntry};
use anyedge_node::config::{parse_net, Ipv4Net};
use anyedge_node::{FwdMode, NodeConfig};
use anyedge_tcp::conn::ConnConfig;
use anyedge_wire::{parse, tcp_flags, ChecksumCaps, Ipv4Addr, L3, L4};
use std::net::SocketAddrV4;

const MS: u64 = 1_000_000;
/// The request path of the object.
pub const PATH: &str = "/obj.bin";
/// The edge's address.
pub const EDGE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The gateway's address.
pub const GATEWAY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 5, 2);
/// The origin's address.
pub const ORIGIN_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 6, 2);
/// The TCP port the gateway takes edge connections on (`[overlay] listen`).
pub const GATEWAY_PORT: u16 = 7800;
/// When the first fetch starts: after the warm-up pings have filled every
/// ARP cache, so that no fetch waits for address resolution.
const START_NS: u64 = 200 * MS;
/// Pause between the end of one fetch and the start of the next.
const GAP_NS: u64 = 50 * MS;
/// A run gives up after this much virtual time.
const LIMIT_NS: u64 = 60_000 * MS;

/// One frame of the edge-gateway handshake that a run can lose, once, on
/// the long link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// The edge's first SYN to the gateway (with the proposal, when early
    /// data is on).
    EdgeSyn,
    /// The edge's first data segment to the gateway: the early data when
    /// early data is on, the request after the handshake otherwise.
    EarlyData,
    /// The gateway's first SYN/ACK.
    GatewaySynAck,
}

impl Drop {
    /// Which side of the long link (0: towards the gateway) carries the frame.
    fn side(self) -> usize {
        match self {
            Drop::EdgeSyn | Drop::EarlyData => 0,
            Drop::GatewaySynAck => 1,
        }
    }

    /// Whether `frame` is the one to lose.
    fn matches(self, frame: &[u8]) -> bool {
        let Ok(f) = parse(frame, ChecksumCaps::default()) else {
            return false;
        };
        let L3::Ipv4(ip) = f.l3 else { return false };
        let L4::Tcp(t) = ip.l4 else { return false };
        let syn_ack = tcp_flags::SYN | tcp_flags::ACK;
        match self {
            Drop::EdgeSyn => t.dst_port == GATEWAY_PORT && t.flags & syn_ack == tcp_flags::SYN,
            Drop::EarlyData => t.dst_port == GATEWAY_PORT && !t.payload.is_empty(),
            Drop::GatewaySynAck => t.src_port == GATEWAY_PORT && t.flags & syn_ack == syn_ack,
        }
    }
}

/// What an overlay run looks like.
#[derive(Clone, Debug)]
pub struct Params {
    /// `[overlay] early_data` on edge and gateway (both hold the site key).
    pub early_data: bool,
    /// Object length, bytes.
    pub len: usize,
    /// Seed of the simulation: it drives the links' random loss,
    /// duplication and reordering. On clean links nothing is random and
    /// every seed gives the same run (the nodes' timers run relative to
    /// the events, so shifting the start changes nothing either).
    pub seed: u64,
    /// Frames to lose once each.
    pub drops: Vec<Drop>,
    /// Fetches of the object, one after the other (the second is a hit).
    pub fetches: usize,
    /// Client to router.
    pub client_link: LinkParams,
    /// Router to edge.
    pub edge_link: LinkParams,
    /// Router to router-gw: the long way between edge and gateway.
    pub wan_link: LinkParams,
    /// Router-gw to gateway.
    pub gateway_link: LinkParams,
    /// Router-gw to origin.
    pub origin_link: LinkParams,
}

impl Params {
    /// The issue's overlay: edge and gateway 30 ms apart (RTT; 0.5 + 14 +
    /// 0.5 ms one way), the client 1.5 ms from the edge and the origin 1 ms
    /// from the gateway; 1 Gbit/s links, a 100 Mbit/s client link; one fetch.
    pub fn new(early_data: bool, len: usize, seed: u64) -> Self {
        Params {
            early_data,
            len,
            seed,
            drops: Vec::new(),
            fetches: 1,
            client_link: LinkParams::new(1.0, 100.0),
            edge_link: LinkParams::new(0.5, 1000.0),
            wan_link: LinkParams::new(14.0, 1000.0),
            gateway_link: LinkParams::new(0.5, 1000.0),
            origin_link: LinkParams::new(0.5, 1000.0),
        }
    }

    /// The edge-gateway round trip without queueing or serialization, ns.
    pub fn edge_gateway_rtt_ns(&self) -> u64 {
        2 * (self.edge_link.delay_ns + self.wan_link.delay_ns + self.gateway_link.delay_ns)
    }
}

/// One fetch of the object by the client.
#[derive(Clone, Debug)]
pub struct FetchResult {
    /// When the client's request segment left the client (virtual ns).
    pub request_at: u64,
    /// When the first response byte reached the client.
    pub first_byte_at: u64,
    /// When the last byte arrived.
    pub done_at: u64,
    /// `first_byte_at - request_at`.
    pub ttfb_ns: u64,
    /// `done_at - request_at`.
    pub total_ns: u64,
    /// Whether every byte arrived, in order and equal to the object.
    pub byte_exact: bool,
    /// The download's events (request, response head, end).
    pub events: Vec<(u64, String)>,
}

/// What an overlay run measured.
#[derive(Debug)]
pub struct OverlayResult {
    /// The fetches, in order.
    pub fetches: Vec<FetchResult>,
    /// The edge's `show overlay json` at the end.
    pub edge: serde_json::Value,
    /// The gateway's `show overlay json` at the end.
    pub gateway: serde_json::Value,
    /// The origin's `show http json` at the end.
    pub origin_http: serde_json::Value,
    /// Whether the edge's gateway connection carried the request as early
    /// data that the gateway took (edge and gateway `early.accepted`).
    pub used_early: bool,
    /// The round trip of the first edge-gateway handshake as measured on
    /// the wire: the edge's last SYN leaving the edge to the SYN/ACK
    /// arriving there; `None` if no SYN/ACK arrived.
    pub edge_gateway_rtt_ns: Option<u64>,
    /// When each of [`Params::drops`] took its frame (`None`: never matched).
    pub drops_fired: Vec<Option<u64>>,
    /// Every frame of the run, from the first fetch on.
    pub trace: Vec<TraceEntry>,
}

impl OverlayResult {
    /// Requests the origin served.
    pub fn origin_requests(&self) -> u64 {
        self.origin_http["requests"].as_u64().unwrap_or(0)
    }

    /// A counter of the edge's `show overlay json`, by path (`edge.fetches`).
    pub fn edge_counter(&self, path: &str) -> u64 {
        counter(&self.edge, path)
    }

    /// A counter of the gateway's `show overlay json`, by path.
    pub fn gateway_counter(&self, path: &str) -> u64 {
        counter(&self.gateway, path)
    }
}

fn counter(v: &serde_json::Value, path: &str) -> u64 {
    path.split('.').fold(v, |v, k| &v[k]).as_u64().unwrap_or(0)
}

/// The TCP fields of a trace summary ([`crate::trace::summarize`]):
/// (source port, destination port, flags, payload length).
pub fn tcp_fields(summary: &str) -> Option<(u16, u16, u8, usize)> {
    let rest = summary.split(": TCP ").nth(1)?;
    let w: Vec<&str> = rest.split_whitespace().collect();
    // "SP > DP seq S ack A flags 0xFF len N"
    if w.len() < 11 {
        return None;
    }
    let flags = u8::from_str_radix(w[8].trim_start_matches("0x"), 16).ok()?;
    Some((
        w[0].parse().ok()?,
        w[2].parse().ok()?,
        flags,
        w[10].parse().ok()?,
    ))
}

fn net(s: &str) -> Ipv4Net {
    parse_net(s).expect("static address")
}

fn node(sim: &mut Sim, text: &str) -> usize {
    let cfg = NodeConfig::parse(text).expect("static config");
    sim.add(EngineNode::new(cfg, FwdMode::Cdn).expect("node"))
}

fn show(sim: &mut Sim, id: usize, cmd: &str) -> serde_json::Value {
    let text = sim.device::<EngineNode>(id).node.execute(cmd).text;
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// Ids of the devices of the overlay topology (see the module docs).
struct Topology {
    client: usize,
    edge: usize,
    gateway: usize,
    origin: usize,
    wan: usize,
}

fn build(sim: &mut Sim, p: &Params) -> Topology {
    let client = sim.add(Host::new(
        "client",
        [2, 0xc1, 0, 0, 0, 2],
        net(&format!("{CLIENT_IP}/24")),
        Ipv4Addr::new(10, 0, 1, 1),
    ));
    let iface = |mac: u8, n: &str| RouterIface {
        mac: [2, 0x70, 0, 0, 0, mac],
        net: net(n),
    };
    let mut r1 = Router::new(
        "router",
        vec![
            iface(1, "10.0.1.1/24"),
            iface(2, "10.0.2.1/24"),
            iface(3, "10.0.9.1/30"),
        ],
    );
    r1.set_route(net(&format!("{VIP}/32")), 1, Some(EDGE_IP));
    for n in ["10.0.5.0/24", "10.0.6.0/24"] {
        r1.set_route(net(n), 2, Some(Ipv4Addr::new(10, 0, 9, 2)));
    }
    let mut r2 = Router::new(
        "router-gw",
        vec![
            iface(4, "10.0.9.2/30"),
            iface(5, "10.0.5.1/24"),
            iface(6, "10.0.6.1/24"),
        ],
    );
    for n in ["10.0.1.0/24", "10.0.2.0/24", &format!("{VIP}/32")] {
        r2.set_route(net(n), 0, Some(Ipv4Addr::new(10, 0, 9, 1)));
    }
    let (r1, r2) = (sim.add(r1), sim.add(r2));
    let key = "[anycast]\nkey = \"site-secret\"\n";
    let empty = std::env::temp_dir().join("anyedge-sim-empty-cache");
    std::fs::create_dir_all(&empty).expect("empty cache directory");
    let cache_mib = 64 + 2 * (p.len >> 20);
    let edge = node(
        sim,
        &format!(
            "[node]\nname = \"edge\"\n[[port]]\nip = \"{EDGE_IP}/24\"\ngateway = \"10.0.2.1\"\n\
             {key}vips = [\"{VIP}\"]\n[http]\nport = 80\n[cache]\ndir = \"{}\"\nsize = \"{cache_mib}MiB\"\n\
             [overlay]\nrole = \"edge\"\ngateway = \"{GATEWAY_IP}:{GATEWAY_PORT}\"\nearly_data = {}\n",
            empty.display(),
            p.early_data
        ),
    );
    let gateway = node(
        sim,
        &format!(
            "[node]\nname = \"gateway\"\n[[port]]\nip = \"{GATEWAY_IP}/24\"\ngateway = \"10.0.5.1\"\n\
             {key}[overlay]\nrole = \"gateway\"\nlisten = {GATEWAY_PORT}\norigin = \"{ORIGIN_IP}:80\"\n\
             early_data = {}\n",
            p.early_data
        ),
    );
    let origin = node(
        sim,
        &format!(
            "[node]\nname = \"origin\"\n[[port]]\nip = \"{ORIGIN_IP}/24\"\ngateway = \"10.0.6.1\"\n\
             [http]\nport = 80\n[cache]\ndir = \"{}\"\nsize = \"{cache_mib}MiB\"\n",
            content(p.len).display()
        ),
    );
    sim.connect((client, 0), (r1, 0), p.client_link);
    sim.connect((r1, 1), (edge, 0), p.edge_link);
    let wan = sim.connect((r1, 2), (r2, 0), p.wan_link);
    sim.connect((r2, 1), (gateway, 0), p.gateway_link);
    sim.connect((r2, 2), (origin, 0), p.origin_link);
    Topology {
        client,
        edge,
        gateway,
        origin,
        wan,
    }
}

/// When a fetch's request segment left the client and its first response
/// byte arrived, from the fetch's part of the trace.
fn wire_times(trace: &[TraceEntry], client_port: u16) -> (Option<u64>, Option<u64>) {
    let tcp = |t: &TraceEntry| tcp_fields(&t.summary).filter(|_| t.fate == Fate::Delivered);
    let request = trace
        .iter()
        .find(|t| t.from == "client" && tcp(t).is_some_and(|f| f.0 == client_port && f.3 > 0))
        .map(|t| t.sent);
    let first = trace
        .iter()
        .find(|t| t.to == "client" && tcp(t).is_some_and(|f| f.1 == client_port && f.3 > 0))
        .map(|t| t.at);
    (request, first)
}

fn handshake_rtt(trace: &[TraceEntry]) -> Option<u64> {
    let syn_ack = trace.iter().find(|t| {
        t.to == "edge"
            && t.fate == Fate::Delivered
            && tcp_fields(&t.summary).is_some_and(|f| f.0 == GATEWAY_PORT && f.2 & 0x12 == 0x12)
    })?;
    let syn = trace.iter().rev().find(|t| {
        t.from == "edge"
            && t.sent <= syn_ack.at
            && tcp_fields(&t.summary).is_some_and(|f| f.1 == GATEWAY_PORT && f.2 & 0x12 == 0x02)
    })?;
    Some(syn_ack.at - syn.sent)
}

/// Runs the overlay scenario (see the module docs). It does not panic on a
/// failed fetch: `byte_exact` is false and its times run to the give-up point.
pub fn run(p: &Params) -> OverlayResult {
    let mut sim = Sim::new(p.seed);
    let t = build(&mut sim, p);
    let drop_ids: Vec<usize> = p
        .drops
        .iter()
        .map(|&d| sim.link(t.wan).drop_once(d.side(), move |f| d.matches(f)))
        .collect();
    // Warm-up: pings through every router fill the ARP caches of the
    // routers and the nodes (each learns its router from the ARP request).
    {
        let h = sim.device::<Host>(t.client);
        for ip in [VIP, GATEWAY_IP, ORIGIN_IP] {
            h.ping(ip, 2, 20 * MS, 0);
        }
    }
    sim.run_until(START_NS - 10 * MS);
    sim.set_tracing(true);
    let vip = SocketAddrV4::new(VIP, 80);
    let tcp = ConnConfig {
        recv_buf: 4 << 20,
        ..ConnConfig::default()
    };
    let mut start = START_NS;
    let mut fetches = Vec::new();
    for _ in 0..p.fetches.max(1) {
        let idx = sim.device::<Host>(t.client).download(vip, PATH, start, tcp);
        while sim.now() < LIMIT_NS && !sim.device::<Host>(t.client).downloads[idx].finished() {
            let to = sim.now() + MS;
            sim.run_until(to);
        }
        let end = sim.now();
        let d = &sim.device::<Host>(t.client).downloads[idx];
        let done_at = d.done_at.unwrap_or(end);
        let byte_exact = d.done()
            && d.data.len() == p.len
            && d.data.iter().enumerate().all(|(k, &b)| b == pattern(k));
        let events = d.events.clone();
        let port = d.conns.first().map_or(0, |a| a.port());
        let trace = sim.take_trace();
        let (request_at, first) = wire_times(&trace, port);
        let request_at = request_at.unwrap_or(start);
        let first_byte_at = first.unwrap_or(done_at);
        fetches.push((
            FetchResult {
                request_at,
                first_byte_at,
                done_at,
                ttfb_ns: first_byte_at.saturating_sub(request_at),
                total_ns: done_at.saturating_sub(request_at),
                byte_exact,
                events,
            },
            trace,
        ));
        start = sim.now() + GAP_NS;
        sim.run_until(start);
    }
    // Let the client's connection close; the edge's pooled gateway
    // connection stays open, so its cores never go idle: a bounded wait.
    let settle = sim.now() + 200 * MS;
    sim.run_until(settle);
    let mut trace: Vec<TraceEntry> = Vec::new();
    let mut out = Vec::new();
    for (f, tr) in fetches {
        trace.extend(tr);
        out.push(f);
    }
    trace.extend(sim.take_trace());
    let edge = show(&mut sim, t.edge, "show overlay json");
    let gateway = show(&mut sim, t.gateway, "show overlay json");
    let origin_http = show(&mut sim, t.origin, "show http json");
    let used_early = counter(&edge, "edge.early.accepted") > 0
        && counter(&gateway, "gateway_relay.early.accepted") > 0;
    let drops_fired = drop_ids
        .iter()
        .map(|&id| sim.link(t.wan).drop_fired(id))
        .collect();
    OverlayResult {
        fetches: out,
        edge,
        gateway,
        origin_http,
        used_early,
        edge_gateway_rtt_ns: handshake_rtt(&trace),
        drops_fired,
        trace,
    }
}

#[cfg(test)]
mod tests;
