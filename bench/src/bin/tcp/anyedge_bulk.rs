//! The anyedge bulk rounds: two engine nodes on a mem port pair.

use super::*;

pub(super) fn node_config(name: &str, ip: &str, chargen: bool) -> Result<NodeConfig> {
    let services = if chargen {
        format!("[services]\nchargen = {CHARGEN}\n")
    } else {
        String::new()
    };
    let text = format!(
        "[node]\nname = \"{name}\"\n[[port]]\nip = \"{ip}\"\n{services}[tcp]\nsend_buf = \"4MiB\"\nrecv_buf = \"4MiB\"\n"
    );
    NodeConfig::parse(&text).map_err(|e| anyhow::anyhow!("node config {name}: {e}"))
}

pub(super) fn node(port: MemPort, cfg: NodeConfig, cpu: usize) -> Result<Node<MemPort>> {
    let opts = RunOptions {
        threading: Threading::Threads(vec![cpu]),
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    Node::new(vec![port], cfg, opts).map_err(|e| anyhow::anyhow!("node on cpu {cpu}: {e}"))
}

pub(super) fn exec_json(n: &mut Node<MemPort>, cmd: &str) -> Result<Value> {
    let r = n.execute(cmd);
    if !r.ok {
        bail!("'{cmd}' failed: {}", r.text);
    }
    serde_json::from_str(&r.text).with_context(|| format!("'{cmd}' answered {}", r.text))
}

/// The client's sink connection on node B, from `show conn json`.
pub(super) fn sink_conn(b: &mut Node<MemPort>) -> Result<Option<Value>> {
    let v = exec_json(b, "show conn json")?;
    Ok(v["conns"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["app"] == "sink").cloned()))
}

pub(super) fn diag(a: &mut Node<MemPort>, b: &mut Node<MemPort>) -> String {
    let mut s = String::new();
    for (name, n) in [("A", a), ("B", b)] {
        let conn = exec_json(n, "show conn json").unwrap_or(Value::Null);
        let drops = exec_json(n, "show drops json").unwrap_or(Value::Null);
        let arp = exec_json(n, "show arp json").unwrap_or(Value::Null);
        s += &format!(
            "\n  node {name}: conn {conn}\n  node {name}: drops {drops}\n  node {name}: arp {arp}"
        );
    }
    s
}

/// One anyedge bulk round: Gbps received by node B over `secs`, and a
/// one-line summary of the connection's health.
pub(super) fn anyedge_bulk(secs: f64) -> Result<(f64, String)> {
    let (pa, pb) = mem::pair(
        "bench-a",
        "bench-b",
        MemConfig {
            queues: 1,
            ring_size: RING,
            pool_size: POOL,
            // Like the smoltcp pair: MTU-sized, checksummed frames.
            offload: false,
        },
    );
    let mut a = node(pa, node_config("a", "10.0.9.1/24", true)?, SERVER_CPU)?;
    let mut b = node(pb, node_config("b", "10.0.9.2/24", false)?, CLIENT_CPU)?;
    for n in [&mut a, &mut b] {
        let r = n.execute("start");
        if !r.ok {
            bail!("start: {}", r.text);
        }
    }
    let r = b.execute(&format!("tcp connect {IP_A}:{CHARGEN}"));
    if !r.ok {
        bail!("tcp connect: {}", r.text);
    }
    // ARP (B asks for A) and the handshake: ESTABLISHED within 5 s.
    let t = Instant::now();
    loop {
        if let Some(c) = sink_conn(&mut b)? {
            if c["state"] == "ESTABLISHED" {
                break;
            }
        }
        if t.elapsed() > Duration::from_secs(5) {
            bail!(
                "anyedge: the connection from B to {IP_A}:{CHARGEN} did not reach ESTABLISHED within 5 s{}",
                diag(&mut a, &mut b)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let bytes = |b: &mut Node<MemPort>| -> Result<u64> {
        let c = sink_conn(b)?.context("anyedge: the sink connection on B went away")?;
        c["bytes_in"].as_u64().context("bytes_in")
    };
    let (t0, b0) = (Instant::now(), bytes(&mut b)?);
    if std::env::var_os("TCP_BENCH_TRACE").is_some() {
        // Investigation aid: both ends' connection rows every 100 ms.
        while t0.elapsed().as_secs_f64() + 0.1 < secs {
            std::thread::sleep(Duration::from_millis(100));
            let (ca, cb) = (
                exec_json(&mut a, "show conn json")?,
                exec_json(&mut b, "show conn json")?,
            );
            eprintln!(
                "{:>6.2}s A {}\n        B {}",
                t0.elapsed().as_secs_f64(),
                ca["conns"],
                cb["conns"]
            );
        }
        std::thread::sleep(Duration::from_secs_f64(secs).saturating_sub(t0.elapsed()));
    } else {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
    let (b1, dt) = (bytes(&mut b)?, t0.elapsed().as_secs_f64());
    let server = exec_json(&mut a, "show conn json")?;
    let sc = &server["conns"][0];
    let drops_a = exec_json(&mut a, "show drops json")?;
    let drops_b = exec_json(&mut b, "show drops json")?;
    // Busy share of each node's polling core (a poll that moved frames),
    // since its start: which end limits the transfer.
    // With the frames each sent and the polls that moved them: B's frames
    // per A frame is the ACK ratio, frames per busy poll the burst size.
    let busy = |n: &mut Node<MemPort>| -> Result<String> {
        let v = exec_json(n, "show fwd stats all json")?;
        Ok(format!(
            "{}% (rx {} tx {} polls {})",
            v["cores"][0]["busy_pct"], v["total"]["rx"], v["total"]["tx"], v["cores"][0]["polls"]
        ))
    };
    let (busy_a, busy_b) = (busy(&mut a)?, busy(&mut b)?);
    // Non-zero drop reasons, e.g. tx_full or no_buffer from small rings/pools.
    let nonzero = |d: &Value| -> String {
        let v: Vec<String> = d["drops"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect()
            })
            .unwrap_or_default();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    };
    let info = format!(
        "server cwnd {} ssthresh {} srtt {} us, retransmits {}; busy A {busy_a} B {busy_b}; drops A {} B {}",
        sc["cwnd"],
        sc["ssthresh"],
        sc["srtt_us"],
        sc["retransmits"],
        nonzero(&drops_a),
        nonzero(&drops_b)
    );
    a.shutdown();
    b.shutdown();
    Ok(((b1 - b0) as f64 * 8.0 / dt / 1e9, info))
}
