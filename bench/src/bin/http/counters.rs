//! The servers' and the kernel's counters around a round.

use super::*;

/// A number at a dotted path of a JSON value (object keys, list indexes).
pub(super) fn num(v: &Value, path: &str) -> i64 {
    let mut v = v;
    for k in path.split('.') {
        v = match k.parse::<usize>() {
            Ok(i) if v.is_array() => &v[i],
            _ => &v[k],
        };
    }
    v.as_i64().unwrap_or(0)
}

/// What the engine counted, for one round.
pub(super) fn engine_snapshot(lab: &Lab, s: &Server) -> Result<Value> {
    let conn = s.ctl_json(lab, "show conn json")?;
    let mut states = BTreeMap::<String, u64>::new();
    for c in conn["conns"].as_array().into_iter().flatten() {
        *states
            .entry(c["state"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    Ok(serde_json::json!({
        "http": s.ctl_json(lab, "show http json")?,
        "drops": s.ctl_json(lab, "show drops json")?,
        "table": conn["table"],
        "fwd": s.ctl_json(lab, "show fwd stats all json")?,
        "states": states,
        "tap_tx_dropped": lab.tap_stat("tx.dropped"),
        "tap_rx_dropped": lab.tap_stat("rx.dropped"),
    }))
}

/// The engine's counters over the measured run, in one line.
pub(super) fn engine_delta(a: &Value, b: &Value, wrk_requests: Option<u64>) -> String {
    let d = |p: &str| num(b, p) - num(a, p);
    let mut out = Vec::new();
    let req = d("http.requests");
    let ok = d("http.status.200");
    let mut s = format!("http: {req} requests, {ok} x 200");
    if let Some(w) = wrk_requests {
        s += &format!(" (wrk counted {w})");
    }
    if let Some(st) = b["http"]["status"].as_object() {
        for (k, v) in st {
            let dv = v.as_i64().unwrap_or(0) - num(a, &format!("http.status.{k}"));
            if k != "200" && dv != 0 {
                s += &format!(", {dv} x {k}");
            }
        }
    }
    for t in ["header_timeouts", "idle_timeouts"] {
        let v = d(&format!("http.{t}"));
        if v != 0 {
            s += &format!(", {t} {v}");
        }
    }
    out.push(s);
    let mut drops = format!("drops: {}", d("drops.total"));
    if let Some(m) = b["drops"]["drops"].as_object() {
        let nz: Vec<String> = m
            .keys()
            .filter_map(|k| {
                let v = d(&format!("drops.drops.{k}"));
                (v != 0).then(|| format!("{k} {v}"))
            })
            .collect();
        if !nz.is_empty() {
            drops += &format!(" ({})", nz.join(", "));
        }
    }
    for k in ["rx_dropped", "rx_nombuf", "tx_dropped"] {
        let v = d(&format!("drops.ports.0.{k}"));
        if v != 0 {
            drops += &format!(", port {k} {v}");
        }
    }
    out.push(drops);
    let mut tcp = format!("tcp: opened {}", d("table.opened"));
    for k in [
        "rst_sent",
        "rst_ignored",
        "rst_stray_ack",
        "rst_rate_limited",
        "refused_full",
        "cookies_sent",
        "cookies_accepted",
        "cookies_invalid",
    ] {
        let v = d(&format!("table.{k}"));
        if v != 0 || k == "rst_sent" {
            tcp += &format!(", {k} {v}");
        }
    }
    out.push(tcp);
    if let Some(st) = b["states"].as_object() {
        let v: Vec<String> = st.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push(format!(
            "connections {} s after wrk: {}",
            SETTLE.as_secs(),
            if v.is_empty() {
                "none".into()
            } else {
                v.join(", ")
            }
        ));
    }
    let (mut busy, mut all) = (0i64, 0i64);
    if let Some(cores) = b["fwd"]["cores"].as_array() {
        for i in 0..cores.len() {
            let bz = d(&format!("fwd.cores.{i}.busy_ns"));
            busy += bz;
            all += bz + d(&format!("fwd.cores.{i}.idle_ns"));
        }
    }
    if all > 0 {
        out.push(format!(
            "polling core busy {:.0}%",
            100.0 * busy as f64 / all as f64
        ));
    }
    let tap = (d("tap_tx_dropped"), d("tap_rx_dropped"));
    out.push(format!(
        "{TAP} kernel tx_dropped {} rx_dropped {}",
        tap.0, tap.1
    ));
    out.join("; ")
}

/// The kernel's TCP counters in the namespace over the measured run.
pub(super) fn kernel_delta(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> String {
    let d = |k: &str| b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0);
    let keys = [
        ("Tcp.ActiveOpens", "active opens"),
        ("Tcp.OutRsts", "resets sent"),
        ("Tcp.EstabResets", "established reset"),
        ("Tcp.AttemptFails", "attempt fails"),
        ("Tcp.RetransSegs", "retransmitted segments"),
        ("TcpExt.ListenOverflows", "listen overflows"),
        ("TcpExt.TCPAbortOnData", "aborts on data"),
    ];
    let parts: Vec<String> = keys
        .iter()
        .map(|(k, n)| (n, d(k)))
        .filter(|(n, v)| *v != 0 || **n == "resets sent")
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    format!("kernel tcp: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let v = serde_json::json!({"a": {"b": [1, {"c": 5}]}});
        assert_eq!(num(&v, "a.b.1.c"), 5);
        assert_eq!(num(&v, "a.x"), 0);
    }
}
