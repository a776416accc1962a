//! bench/fwd: forwarding rate of 64-byte frames on one core, anyedge against
//! dpdk-testpmd, in the same run, on the same lcores (`-l 0-1`: main lcore 0,
//! forwarding lcore 1), the same vdev pair (net_null0 and net_null1), the same
//! burst and the same buffer count.
//!
//! Each round starts the program with `-i`, sends `start`, waits, sends
//! `stop`, and reads TX-packets from the "Accumulated forward statistics"
//! block both programs print. Rounds alternate between the two programs.
//! Every process gets its own `--file-prefix`, and its DPDK runtime
//! directory (and hugepage files) are removed after its round.
//!
//! Two builds of anyedge can be measured:
//! - the DPDK build (bench feature `dpdk`, or `ANYEDGE_DPDK=path` in the
//!   environment): anyedge runs DPDK's net_null with mbufs, exactly like
//!   testpmd, with `--no-huge` and on 2 MiB hugepages (the benchmark reserves
//!   256 pages on a private hugetlbfs with tools/scripts/hugepages.sh, as
//!   root, and releases them at the end). Rows: io and macswap, each without
//!   and with hugepages;
//! - otherwise the software build: anyedge forwards over its own net_null
//!   port (the pooled buffers of engine/port) and testpmd over DPDK's, both
//!   `--no-huge`. Rows: io and macswap.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin fwd [--features dpdk] [-- SECONDS ROUNDS]`

use anyedge_bench::{anyedge_bin, anyedge_dpdk_bin, number_after, report, Console, Row};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BURST: u32 = 32;
const MBUFS: u32 = 16384;
/// Hugepages reserved for the hugepage rows (2 MiB each): one process at a
/// time needs about 50 MiB.
const HUGEPAGES: u32 = 256;

/// Where the program's memory comes from.
#[derive(Clone, Debug)]
enum Mem {
    /// `--no-huge -m 512`
    NoHuge,
    /// `--huge-dir DIR` (2 MiB pages)
    Huge(PathBuf),
}

impl Mem {
    fn label(&self) -> &'static str {
        match self {
            Mem::NoHuge => "--no-huge",
            Mem::Huge(_) => "2 MiB hugepages",
        }
    }
}

fn eal(prefix: &str, mem: &Mem) -> Vec<String> {
    let mem = match mem {
        Mem::NoHuge => "--no-huge -m 512".to_string(),
        Mem::Huge(dir) => format!("--huge-dir {}", dir.display()),
    };
    format!("-l 0-1 {mem} --no-pci --file-prefix {prefix} --vdev net_null0 --vdev net_null1")
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn app(mode: &str) -> Vec<String> {
    format!("-i --forward-mode={mode} --burst={BURST} --total-num-mbufs={MBUFS}")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// A --file-prefix unique to this process and round.
fn prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "aebench{}r{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Removes what a finished DPDK process left: its runtime directory and its
/// hugepage files (which would otherwise keep their pages).
fn clean_prefix(prefix: &str, mem: &Mem) {
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(prefix));
    if let Mem::Huge(dir) = mem {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// One round: forwarded frames per second, in millions.
fn round(program: &str, pre: &[String], mode: &str, mem: &Mem, secs: f64) -> Result<f64> {
    let pfx = prefix();
    let r = round_inner(program, pre, mode, mem, &pfx, secs);
    clean_prefix(&pfx, mem);
    r
}

fn round_inner(
    program: &str,
    pre: &[String],
    mode: &str,
    mem: &Mem,
    pfx: &str,
    secs: f64,
) -> Result<f64> {
    let mut args: Vec<String> = pre.to_vec();
    args.extend(eal(pfx, mem));
    args.push("--".into());
    args.extend(app(mode));
    let mut c = Console::spawn(program, &args)?;
    // Both programs answer `show port info all` with a "MAC address" line once
    // their ports are up; commands sent earlier wait in the pipe.
    c.send("show port info all")?;
    c.wait_for("MAC address", Duration::from_secs(30))
        .with_context(|| format!("{program} did not come up"))?;
    c.send("start")?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    c.send("stop")?;
    let dt = t0.elapsed().as_secs_f64();
    c.wait_for("Accumulated forward statistics", Duration::from_secs(15))?;
    std::thread::sleep(Duration::from_millis(200));
    let out = c.quit()?;
    let tx = number_after(&out, "Accumulated forward statistics", "TX-packets:")
        .with_context(|| format!("no TX-packets in {program}'s stop output"))?;
    Ok(tx as f64 / dt / 1e6)
}

/// Hugepages reserved for the benchmark, released on drop (also on error).
struct Hugepages {
    dir: PathBuf,
}

fn hugepages_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/scripts/hugepages.sh")
}

impl Hugepages {
    fn reserve(pages: u32) -> Result<Hugepages> {
        let dir = std::env::temp_dir().join(format!("anyedge-bench-huge-{}", std::process::id()));
        let out = std::process::Command::new("bash")
            .arg(hugepages_script())
            .args(["reserve", &pages.to_string()])
            .arg(&dir)
            .output()
            .context("run tools/scripts/hugepages.sh")?;
        if !out.status.success() {
            bail!(
                "hugepages.sh reserve {pages} failed (root needed): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Hugepages { dir })
    }
}

impl Drop for Hugepages {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(hugepages_script())
            .arg("release")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if !(0.5..=60.0).contains(&secs) || !(1..=20).contains(&rounds) {
        bail!("usage: fwd [SECONDS 0.5..60] [ROUNDS 1..20]");
    }
    let dpdk = cfg!(feature = "dpdk") || std::env::var_os("ANYEDGE_DPDK").is_some();
    let ours = if dpdk {
        anyedge_dpdk_bin()?
    } else {
        anyedge_bin()?
    };
    let ours = ours.to_string_lossy().to_string();
    let testpmd = "dpdk-testpmd";
    if std::process::Command::new(testpmd)
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("dpdk-testpmd not found: apt-get install dpdk (package dpdk-dev on some releases)");
    }
    let huge = if dpdk {
        Some(Hugepages::reserve(HUGEPAGES)?)
    } else {
        None
    };
    let mut mems = vec![Mem::NoHuge];
    if let Some(h) = &huge {
        mems.push(Mem::Huge(h.dir.clone()));
    }
    let build = if dpdk { "DPDK port" } else { "software port" };
    println!("anyedge: {ours} ({build}); peer: {testpmd}; {rounds} rounds of {secs} s per row");
    let mut rows = Vec::new();
    for mem in &mems {
        for mode in ["io", "macswap"] {
            let mut row = Row {
                name: format!("{mode}, 64 B, 1 core, {}", mem.label()),
                unit: "Mpps",
                ours: Vec::new(),
                peer: Vec::new(),
            };
            for r in 0..rounds {
                let a = round(&ours, &["run".to_string()], mode, mem, secs)?;
                // stdbuf: testpmd's stdout is fully buffered on a pipe.
                let b = round(
                    "stdbuf",
                    &["-oL".to_string(), testpmd.to_string()],
                    mode,
                    mem,
                    secs,
                )?;
                println!(
                    "{} round {}: anyedge {a:.2} Mpps, testpmd {b:.2} Mpps",
                    row.name,
                    r + 1
                );
                row.ours.push(a);
                row.peer.push(b);
            }
            rows.push(row);
        }
    }
    drop(huge);
    let features = if cfg!(feature = "dpdk") {
        " --features dpdk"
    } else {
        ""
    };
    let env = if !cfg!(feature = "dpdk") && dpdk {
        "ANYEDGE_DPDK=target/release/anyedge-dpdk "
    } else {
        ""
    };
    let cmd =
        format!("{env}cargo run --release -p anyedge-bench --bin fwd{features} -- {secs} {rounds}");
    report("fwd", "testpmd", &cmd, &rows);
    Ok(())
}
