//! The benchmark harness: run anyedge and its peer in alternating rounds on
//! the same cores, take medians, print a table and one summary line.
//!
//! These machines are noisy, so each figure is the median of several rounds,
//! and the rounds of the two contenders alternate so that a slow minute hurts
//! both. The summary line is the contract of DESIGN.md section 3:
//! `NAME: ratio=X.XX (worst row: ...)`, where X is anyedge divided by the peer
//! for the row that comes out worst.

pub mod http_mem;
pub mod loadgen;

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Median of a set of figures (the mean of the two middle ones for an even count).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One row of a result table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// Unit of both figures.
    pub unit: &'static str,
    /// anyedge's rounds.
    pub ours: Vec<f64>,
    /// The peer's rounds.
    pub peer: Vec<f64>,
}

impl Row {
    /// anyedge's median divided by the peer's.
    pub fn ratio(&self) -> f64 {
        let p = median(&self.peer);
        if p == 0.0 {
            0.0
        } else {
            median(&self.ours) / p
        }
    }
}

/// Prints the table, the same table as Markdown, the command and, last, the
/// summary line; returns the Markdown table.
pub fn report(bench: &str, peer: &str, command: &str, rows: &[Row]) -> String {
    let mut md = format!(
        "| row | anyedge | {peer} | ratio | rounds (anyedge / {peer}) |\n|---|---|---|---|---|\n"
    );
    println!(
        "\n{:<34} {:>14} {:>14} {:>7}",
        "row", "anyedge", peer, "ratio"
    );
    for r in rows {
        let (o, p) = (median(&r.ours), median(&r.peer));
        println!(
            "{:<34} {:>10.2} {:<3} {:>10.2} {:<3} {:>7.2}",
            r.name,
            o,
            r.unit,
            p,
            r.unit,
            r.ratio()
        );
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        md += &format!(
            "| {} | {:.2} {} | {:.2} {} | {:.2} | {} / {} |\n",
            r.name,
            o,
            r.unit,
            p,
            r.unit,
            r.ratio(),
            fmt(&r.ours),
            fmt(&r.peer)
        );
    }
    let worst = rows.iter().min_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    // The Markdown table for bench/RESULTS.md, then the summary line last.
    println!("\n{md}");
    println!("command: {command}");
    match worst {
        Some(w) => println!("{bench}: ratio={:.2} (worst row: {})", w.ratio(), w.name),
        None => println!("{bench}: ratio=0.00 (worst row: none measured)"),
    }
    md
}

/// Path of the release `anyedge` binary next to this benchmark's own binary.
pub fn anyedge_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("ANYEDGE") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let p = me
        .parent()
        .context("benchmark binary has no directory")?
        .join("anyedge");
    if !p.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release -p anyedge-tools) or set ANYEDGE",
            p.display()
        );
    }
    Ok(p)
}

/// Path of the DPDK build of `anyedge`: `$ANYEDGE_DPDK`, else
/// `anyedge-dpdk` next to this benchmark's binary (tools/scripts/test-all.sh
/// makes it).
pub fn anyedge_dpdk_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("ANYEDGE_DPDK") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let p = me
        .parent()
        .context("benchmark binary has no directory")?
        .join("anyedge-dpdk");
    if !p.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release -p anyedge-tools --features dpdk && \
             cp target/release/anyedge target/release/anyedge-dpdk) or set ANYEDGE_DPDK",
            p.display()
        );
    }
    Ok(p)
}

/// A console program (testpmd or anyedge with `-i`) driven through its stdin.
pub struct Console {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<String>>,
}

impl Console {
    /// Starts `program args...` with piped stdin and captured output.
    pub fn spawn(program: &str, args: &[String]) -> Result<Console> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {program}"))?;
        let stdin = child.stdin.take().context("stdin")?;
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().context("stdout")?) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().context("stderr")?),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        Ok(Console { child, stdin, out })
    }

    /// Output so far.
    pub fn output(&self) -> String {
        self.out.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Waits (bounded) until the output contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.output().contains(needle) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "timed out waiting for '{needle}'; output:\n{}",
            tail(&self.output(), 30)
        )
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    /// Sends `quit` and waits (bounded) for the exit; kills on timeout.
    pub fn quit(mut self) -> Result<String> {
        let _ = self.send("quit");
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if self.child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        Ok(self.output())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first integer after `key` that follows `after` in `text` (for the
/// "Accumulated forward statistics" block that testpmd and anyedge both print).
pub fn number_after(text: &str, after: &str, key: &str) -> Option<u64> {
    let start = text.rfind(after)?;
    let rest = &text[start..];
    let k = rest.find(key)? + key.len();
    rest[k..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let r = Row {
            name: "x".into(),
            unit: "Mpps",
            ours: vec![2.0, 4.0, 3.0],
            peer: vec![6.0, 6.0, 6.0],
        };
        assert_eq!(r.ratio(), 0.5);
    }

    #[test]
    fn finds_the_accumulated_tx_count_of_both_programs() {
        let testpmd = "  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++\n  RX-packets: 68138112       RX-dropped: 0             RX-total: 68138112\n  TX-packets: 68138100       TX-dropped: 0";
        let ours = "  +++++++++++++++ Accumulated forward statistics for all ports +++++++++++++++\n  RX-packets: 49106432 TX-packets: 49106431 Answered: 0 Dropped: 0";
        assert_eq!(
            number_after(testpmd, "Accumulated forward statistics", "TX-packets:"),
            Some(68138100)
        );
        assert_eq!(
            number_after(ours, "Accumulated forward statistics", "TX-packets:"),
            Some(49106431)
        );
    }
}
