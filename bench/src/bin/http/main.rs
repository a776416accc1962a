//! bench/http: HTTP/1.1 from the engine's cache against nginx, in the same
//! run, on the same cores, with the same load generator.
//!
//! What is compared, each against the same nginx rounds:
//!
//! - **anyedge (engine client, mem)**, the first figure: the
//!   engine serving its cache on one polling core (cpu 1) and the engine's
//!   own TCP in client mode as the load generator on the other (cpu 0;
//!   `anyedge_bench::loadgen`, 64 connections, keep-alive or a new
//!   connection per request, latency in hdrhistogram), joined by a mem port
//!   pair (`anyedge_bench::http_mem`): no kernel on the path.
//! - **anyedge (wrk -> TAP)**, the second figure: the engine runs in cdn
//!   mode on a
//!   TAP port it creates (`aeb0`) in a network namespace of its own, as
//!   10.0.2.2 (`-l 0-1`: it polls on cpu 1), serving its cache, loaded from
//!   a tmpfs directory; the kernel side of the TAP is 10.0.2.1/24. Every
//!   frame costs the engine a read(2) or write(2) on the TAP and a copy, and
//!   the kernel side runs Linux's TCP for wrk.
//! - **nginx**: `wrk -> loopback -> nginx`, Debian's nginx-light with one
//!   worker pinned to cpu 1 (`worker_cpu_affinity 10`), `sendfile on`,
//!   `keepalive_requests 100000`, listening on 127.0.0.1:80 in the same
//!   namespace, serving the same files from the same tmpfs directory.
//!
//! The load generator of the TAP and nginx rounds is `taskset -c 0 wrk -t1
//! -c64 -dSECONDSs --latency URL`, run in the namespace with `ip netns
//! exec`. The mem rounds cannot use wrk (it needs the kernel's TCP); the
//! engine's client does what wrk does (one request per connection in
//! flight, the next once the whole response is in).
//!
//! Rows (rounds alternate: nginx, anyedge, nginx, ...; every round starts
//! its server, checks one response byte for byte with curl, measures, and
//! stops the server, so that the engine's busy-polling core never competes
//! with nginx, and every engine round starts with an empty connection
//! table). There is no wrk warm-up run: when wrk stops it closes its
//! connections in the middle of responses, and what a server does with
//! those (the engine keeps them in CLOSE-WAIT, see bench/RESULTS.md) would
//! weigh on the measured run.
//!
//! - **1 KiB keep-alive**: requests/s for a 1 KiB file over 64 keep-alive
//!   connections;
//! - **1 KiB new connection per request**: the same with `-H "Connection:
//!   close"`: wrk opens a connection for every request (the server closes);
//! - **1 MiB keep-alive**: Gbps (wrk's Transfer/sec, headers included) for a
//!   1 MiB file over 64 keep-alive connections.
//!
//! wrk's p50 and p99 latencies are printed for every round and, as medians,
//! in a table before the summary. wrk records the latency of completed
//! requests only: a connection that stalls does not show in them. Every
//! keep-alive round therefore also prints how many of the 64 connections
//! were busy on average (Little's law: requests/s x mean latency), flagged
//! when it is under half. A round in which wrk reports socket errors
//! (connect, read, write, timeout), non-2xx/3xx responses or no request at
//! all is a failed round: it is reported with wrk's output, left out of the
//! medians, and the benchmark exits with status 1 after the summary line.
//! After every engine round the benchmark prints what the engine counted
//! (responses by status, drops by reason, resets, refused connections, the
//! polling core's busy share, the connections still open 1 s after wrk
//! ended) and, for both servers, the kernel's TCP counters in the namespace
//! (resets sent, established connections reset, failed connection
//! attempts, retransmissions), from just before wrk starts to 1 s after it
//! ends.
//!
//! Everything lives in a namespace `aebench-http-PID` and a directory
//! `/dev/shm/anyedge-bench-http-PID`; a guard removes both (and kills every
//! process left in the namespace) when the benchmark ends, also on error. As
//! the release profile aborts on panic (no unwinding, no Drop), and a signal
//! does not run Drop either, a watchdog shell in its own process group waits
//! on a pipe from the benchmark and does the same cleanup when the pipe
//! closes, however the benchmark ends.
//!
//! Needs root, iproute2, util-linux (taskset), wrk, curl and nginx-light.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin http [-- SECONDS ROUNDS]`
//! (defaults 10 s, 3 rounds).

use anyedge_bench::{anyedge_bin, median, report, tail, Row};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// nginx from Debian's nginx-light.
const NGINX: &str = "/usr/sbin/nginx";
/// wrk's connections (one thread).
const CONNS: u32 = 64;
/// Pause after wrk ends before the counters are read (closing handshakes).
const SETTLE: Duration = Duration::from_secs(1);
/// The TAP interface the engine creates.
const TAP: &str = "aeb0";
/// The engine's address (port 0) and the kernel side of the TAP.
const ENGINE_IP: &str = "10.0.2.2";
const HOST_IP: &str = "10.0.2.1";
/// nginx's address in the namespace.
const NGINX_IP: &str = "127.0.0.1";
/// CPU of wrk; the engine polls on and nginx's worker is pinned to the other.
const WRK_CPU: u32 = 0;
/// Bounds of every wait.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const CMD_TIMEOUT: Duration = Duration::from_secs(15);

/// One row of the table.
struct Case {
    name: &'static str,
    unit: &'static str,
    file: &'static str,
    close: bool,
    gbps: bool,
}

const CASES: [Case; 3] = [
    Case {
        name: "1 KiB keep-alive",
        unit: "req/s",
        file: "1k.bin",
        close: false,
        gbps: false,
    },
    Case {
        name: "1 KiB new connection per request",
        unit: "req/s",
        file: "1k.bin",
        close: true,
        gbps: false,
    },
    Case {
        name: "1 MiB keep-alive",
        unit: "Gbps",
        file: "1m.bin",
        close: false,
        gbps: true,
    },
];

const FILES: [(&str, usize); 2] = [("1k.bin", 1 << 10), ("1m.bin", 1 << 20)];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Nginx,
    Anyedge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Anyedge => "anyedge",
        }
    }

    fn url(self, file: &str) -> String {
        match self {
            Kind::Nginx => format!("http://{NGINX_IP}/{file}"),
            Kind::Anyedge => format!("http://{ENGINE_IP}/{file}"),
        }
    }
}

mod command;
mod counters;
mod lab;
mod servers;
mod wrk;

use command::*;
use counters::*;
use lab::*;
use servers::*;
use wrk::*;

// ------------------------------------------------------------ rounds

/// A measured round.
struct Meas {
    value: f64,
    wrk: Wrk,
}

/// One round of one server: Ok(Err(msg)) is a failed round (wrk errors),
/// Err an infrastructure failure that ends the benchmark.
fn round(
    lab: &mut Lab,
    kind: Kind,
    case: &Case,
    secs: u32,
) -> Result<std::result::Result<Meas, String>> {
    let s = match kind {
        Kind::Nginx => start_nginx(lab, case.file)?,
        Kind::Anyedge => start_engine(lab, case.file)?,
    };
    let url = kind.url(case.file);
    let r = measure(lab, &s, &url, case, secs);
    let stopped = stop(lab, s);
    let r = r?;
    stopped?;
    Ok(r)
}

fn measure(
    lab: &Lab,
    s: &Server,
    url: &str,
    case: &Case,
    secs: u32,
) -> Result<std::result::Result<Meas, String>> {
    let k0 = lab.kernel_tcp();
    let e0 = match s.kind {
        Kind::Anyedge => Some(engine_snapshot(lab, s)?),
        Kind::Nginx => None,
    };
    let w = run_wrk(lab, url, secs, case.close);
    std::thread::sleep(SETTLE);
    let k1 = lab.kernel_tcp();
    let mut notes = vec![kernel_delta(&k0, &k1)];
    if let Some(e0) = &e0 {
        let e1 = engine_snapshot(lab, s)?;
        notes.push(engine_delta(e0, &e1, w.as_ref().ok().map(|w| w.requests)));
    }
    for n in &notes {
        println!("    {}: {n}", s.kind.name());
    }
    Ok(match w {
        Ok(w) => Ok(Meas {
            value: if case.gbps {
                w.bytes_per_s * 8.0 / 1e9
            } else {
                w.rps
            },
            wrk: w,
        }),
        Err(e) => Err(format!("{e:#}\n    {}", notes.join("\n    "))),
    })
}

fn fmt_us(us: f64) -> String {
    if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// Median p50 and p99 of the rounds that counted.
fn lat_medians(v: &[[f64; 4]]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let p50: Vec<f64> = v.iter().map(|l| l[0]).collect();
    let p99: Vec<f64> = v.iter().map(|l| l[3]).collect();
    Some((median(&p50), median(&p99)))
}

fn preflight() -> Result<PathBuf> {
    let uid = run_ok("id -u", &mut cmd("id", &["-u"]))?;
    if uid.trim() != "0" {
        bail!("bench/http must run as root (network namespace, TAP device)");
    }
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("taskset", "util-linux"),
        ("wrk", "wrk"),
        ("curl", "curl"),
    ] {
        let ok = run_bounded("which", &mut cmd("which", &[tool]), CMD_TIMEOUT)
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            bail!("{tool} not found: apt-get install {pkg}");
        }
    }
    if !Path::new(NGINX).exists() {
        bail!("{NGINX} not found: apt-get install nginx-light");
    }
    let engine = anyedge_bin()?;
    // The TAP port built into the software build; the DPDK build would
    // hand net_tap to DPDK and need EAL memory options.
    let ldd = run_bounded(
        "ldd",
        &mut cmd("ldd", &[&engine.to_string_lossy()]),
        CMD_TIMEOUT,
    )
    .map(|o| o.stdout)
    .unwrap_or_default();
    if ldd.contains("librte_eal") {
        bail!(
            "{} is the DPDK build; bench/http runs the software build (its own TAP port): \
             cargo build --release -p anyedge-tools, or set ANYEDGE",
            engine.display()
        );
    }
    Ok(engine)
}

type Outcome = (
    Vec<Row>,
    Vec<(String, Option<(f64, f64)>, Option<(f64, f64)>)>,
    Vec<String>,
);

fn run_all(lab: &mut Lab, secs: u32, rounds: usize) -> Result<Outcome> {
    let mut rows = Vec::new();
    let mut lat = Vec::new();
    let mut failed = Vec::new();
    for case in &CASES {
        let mut row = Row {
            name: format!("{} (wrk -> TAP)", case.name),
            unit: case.unit,
            ours: Vec::new(),
            peer: Vec::new(),
        };
        let mut mem_row = Row {
            name: format!("{} (engine client, mem)", case.name),
            ..row.clone()
        };
        let (mut lat_ours, mut lat_peer, mut lat_mem) = (Vec::new(), Vec::new(), Vec::new());
        for r in 1..=rounds {
            match mem_round(&lab.dir.join("content"), case, secs) {
                Ok(m) => {
                    println!(
                        "{} round {r}: anyedge, engine client over mem ports: {:.2} {} ({:.0} req/s, \
                         {:.1} MiB/s; latency p50 {}, p99 {}, p99.9 {}; server core busy {:.0}%)",
                        case.name,
                        m.value,
                        case.unit,
                        m.round.rps,
                        m.round.bytes_per_s / (1u64 << 20) as f64,
                        fmt_us(m.round.lat_us[0]),
                        fmt_us(m.round.lat_us[1]),
                        fmt_us(m.round.lat_us[2]),
                        m.round.server_busy_pct,
                    );
                    mem_row.ours.push(m.value);
                    lat_mem.push([m.round.lat_us[0], 0.0, 0.0, m.round.lat_us[1]]);
                }
                Err(e) => {
                    println!("{} round {r}: anyedge (mem) FAILED: {e:#}", case.name);
                    failed.push(format!("{} round {r}: anyedge (mem)", case.name));
                }
            }
            for kind in [Kind::Nginx, Kind::Anyedge] {
                match round(lab, kind, case, secs)? {
                    Ok(m) => {
                        // Little's law only holds with keep-alive: with a
                        // new connection per request wrk's latency leaves
                        // out the handshake.
                        let busy = if case.close {
                            String::new()
                        } else {
                            let n = m.wrk.busy_conns();
                            format!(
                                "; ~{n:.1} of {CONNS} connections busy{}",
                                if n < f64::from(CONNS) / 2.0 {
                                    " (!): fewer than half were completing requests on average \
                                     (stalled connections, or wrk saturated); wrk's percentiles \
                                     count only requests that completed"
                                } else {
                                    ""
                                }
                            )
                        };
                        println!(
                            "{} round {r}: {} {:.2} {} ({:.0} req/s, {:.1} MiB/s; latency p50 {}, \
                             p75 {}, p90 {}, p99 {}, mean {}, max {}{busy})",
                            case.name,
                            kind.name(),
                            m.value,
                            case.unit,
                            m.wrk.rps,
                            m.wrk.bytes_per_s / (1u64 << 20) as f64,
                            fmt_us(m.wrk.lat_us[0]),
                            fmt_us(m.wrk.lat_us[1]),
                            fmt_us(m.wrk.lat_us[2]),
                            fmt_us(m.wrk.lat_us[3]),
                            fmt_us(m.wrk.mean_us),
                            fmt_us(m.wrk.max_us),
                        );
                        match kind {
                            Kind::Anyedge => {
                                row.ours.push(m.value);
                                lat_ours.push(m.wrk.lat_us);
                            }
                            Kind::Nginx => {
                                row.peer.push(m.value);
                                lat_peer.push(m.wrk.lat_us);
                            }
                        }
                    }
                    Err(msg) => {
                        let m = format!("{} round {r}: {} FAILED: {msg}", case.name, kind.name());
                        println!("{m}");
                        failed.push(format!("{} round {r}: {}", case.name, kind.name()));
                    }
                }
            }
        }
        mem_row.peer = row.peer.clone();
        lat.push((
            mem_row.name.clone(),
            lat_medians(&lat_mem),
            lat_medians(&lat_peer),
        ));
        lat.push((
            row.name.clone(),
            lat_medians(&lat_ours),
            lat_medians(&lat_peer),
        ));
        rows.push(mem_row);
        rows.push(row);
    }
    Ok((rows, lat, failed))
}

/// A mem-pair round's figure and its details.
struct MemMeas {
    value: f64,
    round: anyedge_bench::http_mem::MemRound,
}

/// One engine-to-engine round (`anyedge_bench::http_mem`): the server on
/// cpu 1 like nginx's worker, the load generator (CONNS connections) on
/// cpu WRK_CPU like wrk, in a thread of its own so that this thread's cpu
/// affinity stays as it was.
fn mem_round(dir: &Path, case: &Case, secs: u32) -> Result<MemMeas> {
    let (dir, file, close) = (dir.to_path_buf(), case.file, case.close);
    let r = std::thread::spawn(move || {
        anyedge_bench::http_mem::round(
            &dir,
            file,
            close,
            CONNS as usize,
            f64::from(secs),
            1,
            WRK_CPU as usize,
        )
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the mem round panicked"))??;
    if r.errors > 0 {
        bail!("{} errors (non-200 or broken responses)", r.errors);
    }
    Ok(MemMeas {
        value: if case.gbps {
            r.bytes_per_s * 8.0 / 1e9
        } else {
            r.rps
        },
        round: r,
    })
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u32 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if !(1..=600).contains(&secs) || !(1..=20).contains(&rounds) {
        bail!("usage: http [SECONDS 1..600] [ROUNDS 1..20]");
    }
    let engine = preflight()?;
    println!(
        "http: anyedge ({}) against nginx ({NGINX}); wrk -t1 -c{CONNS} on cpu {WRK_CPU}, \
         {rounds} rounds of {secs} s per row",
        engine.display()
    );
    println!(
        "  anyedge: wrk -> TAP {TAP} -> engine at {ENGINE_IP} (cdn mode, -l 0-1, polling on cpu 1); \
         the TAP costs the engine a syscall and a copy per frame"
    );
    println!(
        "  nginx:   wrk -> loopback -> nginx at {NGINX_IP} (1 worker pinned to cpu 1, sendfile)"
    );
    println!(
        "  anyedge (engine client, mem): the engine serving on cpu 1, the engine's own TCP as the \
         load generator ({CONNS} connections) on cpu {WRK_CPU}, joined by mem ports (no kernel)"
    );
    let load0 = loadavg();
    let outcome = {
        let mut lab = Lab::new(engine)?;
        println!(
            "  namespace {}, content in {}; load average {load0}",
            lab.ns,
            lab.dir.display()
        );
        run_all(&mut lab, secs, rounds)
        // lab dropped here: processes killed, namespace and directory removed
    };
    let (rows, lat, failed) = outcome?;
    println!(
        "\nload average (1, 5, 15 min) at the start: {load0}; at the end: {} \
         (anything else running on the 2 cpus weighs on both contenders)",
        loadavg()
    );

    println!(
        "\nlatency (wrk --latency, or the engine client's hdrhistogram; medians of the rounds \
         that counted; 64 connections):"
    );
    let mut md = String::from(
        "| row | anyedge p50 | anyedge p99 | nginx p50 | nginx p99 |\n|---|---|---|---|---|\n",
    );
    for (name, ours, peer) in &lat {
        let f = |x: &Option<(f64, f64)>, i: usize| {
            x.map(|v| fmt_us(if i == 0 { v.0 } else { v.1 }))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "  {name:<34} anyedge p50 {:>10} p99 {:>10}   nginx p50 {:>10} p99 {:>10}",
            f(ours, 0),
            f(ours, 1),
            f(peer, 0),
            f(peer, 1)
        );
        md += &format!(
            "| {name} | {} | {} | {} | {} |\n",
            f(ours, 0),
            f(ours, 1),
            f(peer, 0),
            f(peer, 1)
        );
    }
    println!("\n{md}");
    if !failed.is_empty() {
        println!(
            "{} failed round(s), left out of the medians: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    let cmd = format!("cargo run --release -p anyedge-bench --bin http -- {secs} {rounds}");
    report("http", "nginx", &cmd, &rows);
    if !failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
