//! bench/fwd: forwarding rate of 64-byte frames on one core, anyedge against
//! dpdk-testpmd, in the same run, on the same lcores (`-l 0-1`: main lcore 0,
//! forwarding lcore 1), the same vdev pair (net_null0 and net_null1), the same
//! burst and the same buffer count.
//!
//! Each round starts the program with `-i`, sends `start`, waits, sends
//! `stop`, and reads TX-packets from the "Accumulated forward statistics"
//! block both programs print. Rounds alternate between the two programs.
//!
//! Without the DPDK feature, anyedge forwards over its own net_null port (the
//! software pool of engine/port) while testpmd uses DPDK's net_null with
//! `--no-huge`; the DPDK port (issue 3) adds the mbuf-to-mbuf comparison and
//! the hugepage rows.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin fwd [-- SECONDS ROUNDS]`

use anyedge_bench::{anyedge_bin, number_after, report, Console, Row};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

const BURST: u32 = 32;
const MBUFS: u32 = 16384;

fn eal(prefix: &str) -> Vec<String> {
    format!(
        "-l 0-1 --no-huge -m 512 --no-pci --file-prefix {prefix} --vdev net_null0 --vdev net_null1"
    )
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

/// One round: forwarded frames per second, in millions.
fn round(program: &str, pre: &[String], mode: &str, secs: f64) -> Result<f64> {
    let mut args: Vec<String> = pre.to_vec();
    args.extend(eal(&format!("aebench{}", std::process::id())));
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

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if !(0.5..=60.0).contains(&secs) || !(1..=20).contains(&rounds) {
        bail!("usage: fwd [SECONDS 0.5..60] [ROUNDS 1..20]");
    }
    let ours = anyedge_bin()?;
    let ours = ours.to_string_lossy().to_string();
    let testpmd = "dpdk-testpmd";
    if std::process::Command::new(testpmd)
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("dpdk-testpmd not found: apt-get install dpdk (package dpdk-dev on some releases)");
    }
    let mut rows = Vec::new();
    for mode in ["io", "macswap"] {
        let mut row = Row {
            name: format!("{mode}, 64 B, 1 core, --no-huge"),
            unit: "Mpps",
            ours: Vec::new(),
            peer: Vec::new(),
        };
        for r in 0..rounds {
            let a = round(&ours, &["run".to_string()], mode, secs)?;
            // stdbuf: testpmd's stdout is fully buffered on a pipe.
            let b = round(
                "stdbuf",
                &["-oL".to_string(), testpmd.to_string()],
                mode,
                secs,
            )?;
            println!(
                "{mode} round {}: anyedge {a:.2} Mpps, testpmd {b:.2} Mpps",
                r + 1
            );
            row.ours.push(a);
            row.peer.push(b);
        }
        rows.push(row);
    }
    let cmd = format!("cargo run --release -p anyedge-bench --bin fwd -- {secs} {rounds}");
    let md = report("fwd", "testpmd", &cmd, &rows);
    println!("\n{md}");
    Ok(())
}
