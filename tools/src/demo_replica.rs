//! The replication part of `anyedge demo` (issue 7): a client downloads
//! from the VIP on edge-a, which replicates the connection to edge-b; at
//! 40% edge-a dies and the route moves to edge-b, which carries on with the
//! same TCP connection. The same run without replication is shown next to
//! it: there the move costs a RST and a Range request.

use anyedge_sim::replica::{run, Params, ReplicaResult};
use anyhow::Result;

const MS: u64 = 1_000_000;

fn timeline(r: &ReplicaResult, failed: &str) {
    let mut rows: Vec<(u64, String)> = r.events.clone();
    rows.push((r.failed_at, failed.to_string()));
    rows.sort_by_key(|e| e.0);
    for (t, e) in rows {
        println!("  {:>9.1}  {e}", t as f64 / MS as f64);
    }
}

/// Runs both downloads and prints their timelines and figures.
pub fn replica_story(seed: u64, size_mib: usize) -> Result<()> {
    let len = size_mib.clamp(1, 64) << 20;
    println!(
        "\nreplicated connection: edge-a (primary) replicates every client connection to edge-b"
    );
    println!("  {size_mib} MiB from the VIP, 40 ms RTT; at 40% edge-a dies and the route moves to edge-b\n");
    let on = run(&Params::new(len, seed));
    println!("  {:>9}  with replication", "time ms");
    timeline(
        &on,
        "edge-a dies (link down); router: VIP/32 now via edge-b; edge-b continues the connection",
    );
    let a = &on.overlay_a["replication"];
    let b = &on.overlay_b["replication"];
    println!(
        "  -> {} ; client saw {} reset(s), {} request(s) on one connection; edge-b takeovers {}, pokes {}",
        if on.byte_exact { "byte-exact" } else { "NOT byte-exact" },
        on.resets,
        on.requests,
        b["takeovers"],
        b["pokes"]
    );
    println!(
        "     edge-a before it died: {} records confirmed, output-commit ACK delay p50 {} us, p99 {} us",
        a["records_confirmed"], a["ack_delay_us"]["p50"], a["ack_delay_us"]["p99"]
    );
    let off = run(&Params {
        replicate: false,
        ..Params::new(len, seed)
    });
    println!("\n  {:>9}  the same without replication", "time ms");
    timeline(
        &off,
        "edge-a dies; router: VIP/32 now via edge-b (no standby state)",
    );
    println!(
        "  -> {} ; client saw {} reset(s) and sent {} requests; done {:.0} ms after the failure (with replication: {:.0} ms)",
        if off.byte_exact { "byte-exact" } else { "NOT byte-exact" },
        off.resets,
        off.requests,
        off.done_at.saturating_sub(off.failed_at) as f64 / MS as f64,
        on.done_at.saturating_sub(on.failed_at) as f64 / MS as f64
    );
    if !on.byte_exact || on.resets != 0 || on.requests != 1 {
        anyhow::bail!("the backup did not carry the connection on");
    }
    Ok(())
}
