//! The anycast takeover (issue 6) as one reusable run, for the simulator
//! tests and `bench/takeover`.
//!
//! A client downloads an object from the VIP of a two-node site
//! ([`crate::scenario::site_with`]). When a fraction of it has arrived, the
//! router's /32 route for the VIP moves from edge-a to edge-b. The client's
//! next ACK reaches edge-b, which resets it (RFC 9293 3.10.7.1); the client
//! asks again with `Range: bytes=K-` and If-Range (RFC 9110 14.2, 13.1.5);
//! edge-b answers 206 and, under the `careful` or `jump` policy, starts from
//! the window edge-a measured and shared over the peer channel
//! (draft-ietf-tsvwg-careful-resume) instead of slow start (RFC 5681 3.1).
//!
//! [`Params`] set the resume policy, the object, the seed, the links (edge-b's
//! own link is the path after the flip, so it can be made slower or longer
//! than edge-a's) and an optional pause: the client drops its connection at
//! the flip point and comes back later, as `wget -c` does, which lets the
//! site's path entry age past its lifetime. [`run`] returns the figures the
//! tests and the benchmark read ([`TakeoverResult`]): times, a throughput
//! curve sampled every millisecond of virtual time, the download's events
//! and edge-b's `show anycast json`.

use crate::engine::EngineNode;
use crate::host::{pattern, Host};
use crate::link::LinkParams;
use crate::scenario::{flip_route, site_with, VIP};
use crate::Sim;
use anyedge_tcp::conn::ConnConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::SocketAddrV4;
use std::path::PathBuf;

const MS: u64 = 1_000_000;
/// The request path of the object.
const PATH: &str = "/obj.bin";
/// Progress is sampled this often (virtual time), finer than the
/// download's own once-per-MiB `progress`.
const SAMPLE_NS: u64 = MS;
/// A run gives up after this much virtual time.
const LIMIT_NS: u64 = 1_800_000 * MS;

/// TCP payload per full segment on the simulated paths: MTU 1500 less IPv4
/// and TCP headers and the 12-byte timestamp option (RFC 7323 3).
pub const MSS: u64 = 1448;
/// Bytes a full segment takes on a simulated link: the payload and its
/// 52 bytes of TCP/IP headers, 14 of Ethernet, and the 24 of preamble, FCS
/// and inter-frame gap that [`crate::link`] counts.
pub const WIRE_PER_SEGMENT: u64 = MSS + 52 + 14 + 24;

/// What a takeover run looks like.
#[derive(Clone, Debug)]
pub struct Params {
    /// edge-b's `[anycast] resume`: `off`, `careful` or `jump` (edge-a has the same).
    pub resume: String,
    /// Object length, bytes.
    pub len: usize,
    /// Seed of the simulation.
    pub seed: u64,
    /// Fraction of the object received when the route flips.
    pub flip_at: f64,
    /// The flip comes a seeded random time in `0..flip_jitter_ns` after
    /// `flip_at` of the object arrived, so that seeds catch edge-a's window
    /// and the client's ACKs in different phases (on clean links nothing
    /// else in a run is random).
    pub flip_jitter_ns: u64,
    /// Client to router.
    pub client_link: LinkParams,
    /// Router to edge-a: the path before the flip.
    pub a_link: LinkParams,
    /// Router to edge-b: the path after the flip.
    pub b_link: LinkParams,
    /// `None`: the route flips under a running download (RST, then Range).
    /// `Some(d)`: at the flip point the client aborts its connection (RST to
    /// edge-a), the route flips while it is away, and `d` nanoseconds later
    /// (at least 4 RTTs) it asks again with Range, now routed to edge-b; the
    /// site's entry for the client is then about `d` old.
    pub pause_ns: Option<u64>,
    /// The client's TCP settings.
    pub client_tcp: ConnConfig,
}

impl Params {
    /// The path: 50 ms RTT (four links of 12.5 ms), a 100 Mbit/s
    /// client link with a 1 MiB queue, 1 Gbit/s node links; flip at 30%.
    pub fn new(resume: &str, len: usize, seed: u64) -> Self {
        let node = LinkParams::new(12.5, 1000.0);
        Params {
            resume: resume.to_string(),
            len,
            seed,
            flip_at: 0.3,
            flip_jitter_ns: 50 * MS,
            client_link: LinkParams {
                queue_bytes: 1 << 20,
                ..LinkParams::new(12.5, 100.0)
            },
            a_link: node,
            b_link: node,
            pause_ns: None,
            client_tcp: ConnConfig {
                recv_buf: 4 << 20,
                ..ConnConfig::default()
            },
        }
    }

    /// The RTT of the path through edge-b without queueing, nanoseconds.
    pub fn rtt_b_ns(&self) -> u64 {
        2 * (self.client_link.delay_ns + self.b_link.delay_ns)
    }

    /// The bottleneck rate of the path through edge-b, bits per second.
    pub fn rate_b_bps(&self) -> u64 {
        [self.client_link.rate_bps, self.b_link.rate_bps]
            .into_iter()
            .filter(|&r| r > 0)
            .min()
            .unwrap_or(0)
    }

    /// The most payload the path through edge-b carries, bits per second.
    pub fn goodput_b_bps(&self) -> f64 {
        self.rate_b_bps() as f64 * MSS as f64 / WIRE_PER_SEGMENT as f64
    }
}

/// What a takeover run measured.
#[derive(Debug)]
pub struct TakeoverResult {
    /// Whether every byte arrived, in order and equal to the object.
    pub byte_exact: bool,
    /// When the route flipped (virtual ns).
    pub flip_at: u64,
    /// When the client sent its Range request.
    pub resumed_at: u64,
    /// The first byte the Range request asked for.
    pub resume_offset: usize,
    /// When the resumed response's head arrived: edge-b's data starts here.
    pub response_at: u64,
    /// When the last byte arrived.
    pub done_at: u64,
    /// Seconds from the Range request to the last byte.
    pub rest_s: f64,
    /// Seconds from the Range request until 8 MiB more had arrived (or the
    /// end): the part of the rest that slow start slows down most.
    pub first_8mib_s: f64,
    /// (virtual ns, bytes of the object received in order), every
    /// millisecond from the start of the download to its end.
    pub samples: Vec<(u64, usize)>,
    /// Every download event (requests, responses, resets), in time order.
    pub events: Vec<(u64, String)>,
    /// Connections reset (or aborted) under the client.
    pub resets: u32,
    /// HTTP requests the client sent.
    pub requests: u32,
    /// edge-b's `show anycast json` at the end (after its connection closed).
    pub anycast_b: serde_json::Value,
    /// edge-b's `show anycast json` as the resumed connection's SYN reaches
    /// it, a round trip before the Range request, with a pause; `None`
    /// without one.
    pub anycast_b_before: Option<serde_json::Value>,
}

impl TakeoverResult {
    /// Bytes received by time `t` (the last sample at or before it).
    pub fn bytes_at(&self, t: u64) -> usize {
        let i = self.samples.partition_point(|s| s.0 <= t);
        if i == 0 {
            0
        } else {
            self.samples[i - 1].1
        }
    }

    /// Throughput after `from`, in bins of `bin_ns`: (seconds since `from`
    /// at the bin's start, Mbit/s of object data in the bin), up to the last
    /// byte.
    pub fn curve(&self, from: u64, bin_ns: u64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < self.done_at && bin_ns > 0 {
            let end = (t + bin_ns).min(self.done_at);
            let bytes = self.bytes_at(end) - self.bytes_at(t);
            let mbps = bytes as f64 * 8.0 / ((end - t) as f64 / 1e9) / 1e6;
            out.push(((t - from) as f64 / 1e9, mbps));
            t += bin_ns;
        }
        out
    }

    /// RTTs until the path ran at `rate` bit/s of object data: the rank of
    /// the first RTT-long bin after the resumed response's head whose
    /// throughput is at least `rate` (1 = the first RTT of data). `None` if
    /// no bin got there.
    pub fn rtts_to_rate(&self, rtt_ns: u64, rate_bps: f64) -> Option<u32> {
        self.curve(self.response_at, rtt_ns)
            .iter()
            .position(|&(_, mbps)| mbps * 1e6 >= rate_bps)
            .map(|i| i as u32 + 1)
    }
}

/// A content directory with `obj.bin` of `len` pattern bytes
/// ([`crate::host::pattern`]). The same length always gives the same
/// directory; it is written once, through a rename, so that runs in
/// parallel never see half a file.
pub fn content(len: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anyedge-sim-content-{len}"));
    let f = d.join("obj.bin");
    if std::fs::metadata(&f).is_ok_and(|m| m.len() == len as u64) {
        return d;
    }
    std::fs::create_dir_all(&d).expect("content directory");
    let tmp = std::env::temp_dir().join(format!(
        "anyedge-sim-obj-{len}-{}-{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let data: Vec<u8> = (0..len).map(pattern).collect();
    std::fs::write(&tmp, data).expect("content file");
    std::fs::rename(&tmp, &f).expect("content rename");
    d
}

fn show_anycast(sim: &mut Sim, node: usize) -> serde_json::Value {
    let text = sim
        .device::<EngineNode>(node)
        .node
        .execute("show anycast json")
        .text;
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// Runs one takeover (see the module docs). It does not panic on a failed
/// download: `byte_exact` is false and the times run to the give-up point.
pub fn run(p: &Params) -> TakeoverResult {
    let dir = content(p.len);
    let mut sim = Sim::new(p.seed);
    let s = site_with(&mut sim, 2, p.client_link, p.a_link, Some(&dir), &p.resume);
    sim.link(s.node_links[1]).params = p.b_link;
    let vip = SocketAddrV4::new(VIP, 80);
    sim.device::<Host>(s.client)
        .download(vip, PATH, 10 * MS, p.client_tcp);
    let threshold = (p.len as f64 * p.flip_at) as usize;
    let jitter = ChaCha8Rng::seed_from_u64(p.seed).random_range(0..p.flip_jitter_ns.max(1));
    // When the flip (or the client's pause) happens, once known.
    let mut act_at = None;
    let mut samples = Vec::new();
    let mut flip_at = None;
    let mut before = None;
    // The download the client is running (a second one after a pause).
    let mut cur = 0;
    while sim.now() < LIMIT_NS {
        let t = sim.now() + SAMPLE_NS;
        sim.run_until(t);
        let h = sim.device::<Host>(s.client);
        let d = &mut h.downloads[cur];
        samples.push((t, d.data.len()));
        if let Some(end) = d.done_at {
            // The last byte came within this millisecond: date it exactly.
            if let Some(last) = samples.last_mut() {
                last.0 = end;
            }
            break;
        }
        if flip_at.is_some() || d.data.len() < threshold {
            continue;
        }
        if *act_at.get_or_insert(t + jitter) > t {
            continue;
        }
        let Some(pause) = p.pause_ns else {
            flip_at = Some(t + MS);
            flip_route(&mut sim, &s, t + MS, 1);
            continue;
        };
        // The client goes away: its RST closes edge-a's side, which records
        // the path and shares it with edge-b. The route moves while it is
        // away, and it comes back `pause` later.
        if let Some(c) = d.conn.as_mut() {
            c.abort();
        }
        let k = d.data.len();
        d.events.push((
            t,
            format!("client: aborts at byte {k}, back in {} ms", pause / MS),
        ));
        let (data, etag, total) = (std::mem::take(&mut d.data), d.etag.clone(), d.total);
        let back = t + pause.max(4 * p.rtt_b_ns());
        flip_route(&mut sim, &s, t + (back - t) / 2, 1);
        flip_at = Some(t + (back - t) / 2);
        samples.push((t, k));
        sim.run_until(back);
        let h = sim.device::<Host>(s.client);
        cur = h.download(vip, PATH, back, p.client_tcp);
        let d = &mut h.downloads[cur];
        d.data = data;
        d.etag = etag;
        d.total = total;
        samples.push((back, k));
        // edge-b's table as the client's SYN reaches it, a round trip before
        // the request: an idle node's clock stands still in the simulator, so
        // the entries' ages are only right once it runs again.
        while before.is_none() && sim.now() < back + 100 * p.rtt_b_ns() {
            let t = sim.now() + SAMPLE_NS;
            sim.run_until(t);
            samples.push((t, k));
            if sim.device::<EngineNode>(s.nodes[1]).node.tcp_busy() {
                before = Some(show_anycast(&mut sim, s.nodes[1]));
            }
        }
    }
    // Let edge-b's connection close, so that the resume's outcome (jumped,
    // validated, retreat, RTT mismatch) is counted.
    let settle = sim.now() + 10 * p.rtt_b_ns().max(50 * MS);
    while sim.now() < settle && sim.device::<EngineNode>(s.nodes[1]).node.tcp_busy() {
        let t = sim.now() + 10 * MS;
        sim.run_until(t);
    }
    let anycast_b = show_anycast(&mut sim, s.nodes[1]);
    let end = sim.now();
    let h = sim.device::<Host>(s.client);
    let mut events: Vec<(u64, String)> =
        h.downloads.iter().flat_map(|d| d.events.clone()).collect();
    events.sort_by_key(|e| e.0);
    let resets = h.downloads.iter().map(|d| d.resets).sum::<u32>()
        + u32::from(p.pause_ns.is_some() && flip_at.is_some());
    let requests = h.downloads.iter().map(|d| d.requests).sum();
    let d = &h.downloads[cur];
    let byte_exact = d.done()
        && d.data.len() == p.len
        && d.data.iter().enumerate().all(|(i, &b)| b == pattern(i));
    let done_at = d.done_at.unwrap_or(end);
    let resumed = events.iter().find(|e| e.1.contains("Range: bytes="));
    let resumed_at = resumed.map(|e| e.0).unwrap_or(done_at);
    let resume_offset = resumed
        .and_then(|e| e.1.split("bytes=").nth(1))
        .and_then(|x| x.split('-').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(p.len);
    let response_at = events
        .iter()
        .find(|e| e.0 >= resumed_at && e.1.contains("HTTP 206"))
        .map(|e| e.0)
        .unwrap_or(done_at);
    let eight = d
        .progress
        .iter()
        .find(|s| s.0 >= resumed_at && s.1 >= resume_offset + (8 << 20))
        .map(|s| s.0)
        .unwrap_or(done_at);
    TakeoverResult {
        byte_exact,
        flip_at: flip_at.unwrap_or(done_at),
        resumed_at,
        resume_offset,
        response_at,
        done_at,
        rest_s: done_at.saturating_sub(resumed_at) as f64 / 1e9,
        first_8mib_s: eight.saturating_sub(resumed_at) as f64 / 1e9,
        samples,
        events,
        resets,
        requests,
        anycast_b,
        anycast_b_before: before,
    }
}
