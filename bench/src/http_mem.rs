//! bench/http's engine-to-engine rows (issue 5): the engine serves its cache
//! on one polling core, and the engine's own TCP in client mode
//! ([`crate::loadgen`]) loads it from the other core, the two joined by a
//! mem port pair (`anyedge_port::mem`: rings of preallocated frame buffers,
//! no copy on the way). Nothing of the kernel is on the path, so this is the
//! figure for the engine itself; wrk -> TAP -> engine is bench/http's
//! second figure, with the kernel's TCP on the client side.

use crate::loadgen::LoadGen;
use anyedge_node::{FwdMode, Node, NodeConfig, RunOptions, Threading};
use anyedge_port::mem::{self, MemConfig};
use anyhow::{bail, Result};
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::{Duration, Instant};

/// The server's address on the mem pair.
pub const SERVER_IP: [u8; 4] = [10, 0, 9, 1];
/// The load generator's address.
pub const CLIENT_IP: [u8; 4] = [10, 0, 9, 2];
/// Time before the measured window (connections open, caches warm).
const WARMUP: Duration = Duration::from_millis(300);

/// What one round measured.
#[derive(Debug, Clone, Copy)]
pub struct MemRound {
    /// Complete 200 responses per second.
    pub rps: f64,
    /// Response bytes (head and body) per second.
    pub bytes_per_s: f64,
    /// Latency percentiles p50, p99, p99.9, microseconds.
    pub lat_us: [f64; 3],
    /// Errors (non-200, broken responses, connections ended mid-response).
    pub errors: u64,
    /// The server core's busy share, percent.
    pub server_busy_pct: f64,
}

fn busy_pct(n: &mut Node<mem::MemPort>) -> Option<(u64, u64)> {
    let r = n.execute("show fwd stats all json");
    let v: serde_json::Value = serde_json::from_str(&r.text).ok()?;
    let c = v["cores"].as_array()?.first()?.clone();
    Some((c["busy_ns"].as_u64()?, c["idle_ns"].as_u64()?))
}

/// One round: the engine serving `dir` on `server_cpu`, `conns` client
/// connections asking for `/file` (one request per connection with
/// `close`) from `client_cpu`, measured over `secs`.
pub fn round(
    dir: &Path,
    file: &str,
    close: bool,
    conns: usize,
    secs: f64,
    server_cpu: usize,
    client_cpu: usize,
) -> Result<MemRound> {
    let (ps, pc) = mem::pair(
        "http-srv",
        "http-cli",
        MemConfig {
            queues: 1,
            ring_size: 8192,
            pool_size: 16384,
            // As nginx on loopback has: no checksums, 64 KiB segments.
            offload: true,
        },
    );
    let [a, b, c, d] = SERVER_IP;
    let text = format!(
        "[node]\nname = \"http-mem\"\n[[port]]\nip = \"{a}.{b}.{c}.{d}/24\"\n[http]\nport = 80\n\
         [cache]\ndir = \"{}\"\nsize = \"64MiB\"\n[tcp]\nmax_conns = 4096\n",
        dir.display()
    );
    let cfg = NodeConfig::parse(&text).map_err(|e| anyhow::anyhow!("server config: {e}"))?;
    let opts = RunOptions {
        threading: Threading::Threads(vec![server_cpu]),
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    let mut server =
        Node::new(vec![ps], cfg, opts).map_err(|e| anyhow::anyhow!("server node: {e}"))?;
    let r = server.execute("start");
    if !r.ok {
        bail!("server start: {}", r.text);
    }
    if !core_affinity::set_for_current(core_affinity::CoreId { id: client_cpu }) {
        eprintln!("warning: could not pin the load generator to cpu {client_cpu}");
    }
    let server_addr = SocketAddrV4::new(SERVER_IP.into(), 80);
    let mut lg = LoadGen::new(
        pc,
        CLIENT_IP.into(),
        server_addr,
        &format!("/{file}"),
        conns,
        close,
    )
    .map_err(|e| anyhow::anyhow!("load generator: {e}"))?;
    let clock = Instant::now();
    let now = || clock.elapsed().as_nanos() as u64;
    let deadline = WARMUP + Duration::from_secs_f64(secs);
    while clock.elapsed() < WARMUP {
        lg.poll(now());
    }
    if !lg.resolved() {
        bail!("the server did not answer ARP within {WARMUP:?}");
    }
    let b0 = busy_pct(&mut server);
    lg.measure(true);
    let t0 = now();
    while clock.elapsed() < deadline {
        lg.poll(now());
    }
    lg.measure(false);
    let dt = (now() - t0) as f64 / 1e9;
    let b1 = busy_pct(&mut server);
    let _ = server.execute("stop");
    let st = lg.stats;
    if st.requests == 0 {
        bail!(
            "no request completed ({} connections open, {} opened, {} errors, {} frames dropped)",
            lg.open(),
            st.opened,
            st.errors,
            st.tx_dropped
        );
    }
    let h = &lg.latency_us;
    let server_busy_pct = match (b0, b1) {
        (Some((b0, i0)), Some((b1, i1))) if (b1 + i1) > (b0 + i0) => {
            100.0 * (b1 - b0) as f64 / ((b1 + i1) - (b0 + i0)) as f64
        }
        _ => 0.0,
    };
    Ok(MemRound {
        rps: st.requests as f64 / dt,
        bytes_per_s: st.bytes as f64 / dt,
        lat_us: [0.5, 0.99, 0.999].map(|q| h.value_at_quantile(q) as f64),
        errors: st.errors,
        server_busy_pct,
    })
}
