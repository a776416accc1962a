//! wrk: running it in the lab and reading what it printed.

use super::*;

/// What one wrk run reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Wrk {
    pub(super) requests: u64,
    pub(super) rps: f64,
    pub(super) bytes_per_s: f64,
    /// 50, 75, 90, 99 % latencies in microseconds.
    pub(super) lat_us: [f64; 4],
    /// Mean and max latency ("Thread Stats" line) in microseconds.
    pub(super) mean_us: f64,
    pub(super) max_us: f64,
    pub(super) socket_errors: [u64; 4],
    pub(super) non2xx: u64,
}

impl Wrk {
    /// Connections that were completing requests on average (Little's law:
    /// requests/s x mean latency). wrk only records the latency of requests
    /// that complete, so connections that stall show up here, not in the
    /// percentiles.
    pub(super) fn busy_conns(&self) -> f64 {
        self.rps * self.mean_us / 1e6
    }

    /// Why this run does not count, if it does not.
    pub(super) fn problem(&self) -> Option<String> {
        let mut p = Vec::new();
        if self.requests == 0 {
            p.push("no request completed".to_string());
        }
        if self.socket_errors.iter().any(|&e| e > 0) {
            let [c, r, w, t] = self.socket_errors;
            p.push(format!(
                "socket errors: connect {c}, read {r}, write {w}, timeout {t}"
            ));
        }
        if self.non2xx > 0 {
            p.push(format!("{} non-2xx/3xx responses", self.non2xx));
        }
        (!p.is_empty()).then(|| p.join("; "))
    }
}

/// A wrk duration ("420.00us", "1.23ms", "2.00s", "1.00m", "1.00h") in µs.
pub(super) fn parse_time_us(s: &str) -> Option<f64> {
    let i = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, u) = s.split_at(i);
    let n: f64 = n.parse().ok()?;
    let f = match u {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(n * f)
}

/// A wrk byte rate ("512.00B", "30.00MB", "1.17GB"; binary prefixes) in bytes.
pub(super) fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.strip_suffix('B')?;
    let (n, f) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1024f64),
        'M' => (&s[..s.len() - 1], 1024f64.powi(2)),
        'G' => (&s[..s.len() - 1], 1024f64.powi(3)),
        'T' => (&s[..s.len() - 1], 1024f64.powi(4)),
        'P' => (&s[..s.len() - 1], 1024f64.powi(5)),
        _ => (s, 1.0),
    };
    Some(n.parse::<f64>().ok()? * f)
}

/// Parses wrk's `--latency` output.
pub(super) fn parse_wrk(text: &str) -> Result<Wrk> {
    let mut w = Wrk::default();
    let mut lat = [None; 4];
    let mut in_dist = false;
    let (mut have_rps, mut have_tps, mut have_req) = (false, false, false);
    for line in text.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        if t.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            if let [p, v] = words[..] {
                if let Some(p) = p.strip_suffix('%') {
                    let i = match p {
                        "50" => 0,
                        "75" => 1,
                        "90" => 2,
                        "99" => 3,
                        _ => continue,
                    };
                    lat[i] = parse_time_us(v);
                    continue;
                }
            }
            in_dist = false;
        }
        if let ["Latency", mean, _stdev, max, _] = words[..] {
            w.mean_us = parse_time_us(mean).context("mean latency")?;
            w.max_us = parse_time_us(max).context("max latency")?;
        } else if words.len() >= 3 && words[1] == "requests" && words[2] == "in" {
            w.requests = words[0].parse().context("requests count")?;
            have_req = true;
        } else if let Some(r) = t.strip_prefix("Socket errors:") {
            // " connect 0, read 12, write 0, timeout 0"
            for part in r.split(',') {
                let kv: Vec<&str> = part.split_whitespace().collect();
                if let [k, v] = kv[..] {
                    let i = match k {
                        "connect" => 0,
                        "read" => 1,
                        "write" => 2,
                        "timeout" => 3,
                        _ => continue,
                    };
                    w.socket_errors[i] = v.parse().context("socket errors")?;
                }
            }
        } else if let Some(r) = t.strip_prefix("Non-2xx or 3xx responses:") {
            w.non2xx = r.trim().parse().context("non-2xx count")?;
        } else if let Some(r) = t.strip_prefix("Requests/sec:") {
            w.rps = r.trim().parse().context("Requests/sec")?;
            have_rps = true;
        } else if let Some(r) = t.strip_prefix("Transfer/sec:") {
            w.bytes_per_s = parse_bytes(r.trim()).context("Transfer/sec")?;
            have_tps = true;
        }
    }
    if !(have_rps && have_tps && have_req) {
        bail!("no 'N requests in', 'Requests/sec' or 'Transfer/sec' line in wrk's output");
    }
    for (i, l) in lat.iter().enumerate() {
        w.lat_us[i] = l.context("no latency distribution (50/75/90/99%) in wrk's output")?;
    }
    Ok(w)
}

/// Runs wrk in the namespace on cpu WRK_CPU; Err is a failed round, with
/// wrk's output.
pub(super) fn run_wrk(lab: &Lab, url: &str, secs: u32, close: bool) -> Result<Wrk> {
    let cpu = WRK_CPU.to_string();
    let conns = format!("-c{CONNS}");
    let dur = format!("-d{secs}s");
    let mut args = vec!["-c", &cpu, "wrk", "-t1", &conns, &dur, "--latency"];
    if close {
        args.extend(["-H", "Connection: close"]);
    }
    args.push(url);
    let o = run_bounded(
        "wrk",
        &mut lab.exec("taskset", &args),
        Duration::from_secs(u64::from(secs) + 30),
    )?;
    let text = o.both();
    if !o.status.success() {
        bail!("wrk exited with {}:\n{}", o.status, text.trim_end());
    }
    let w = parse_wrk(&text).with_context(|| format!("wrk's output:\n{}", text.trim_end()))?;
    if let Some(p) = w.problem() {
        bail!("{p}; wrk's output:\n{}", text.trim_end());
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Running 5s test @ http://127.0.0.1/1k.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  200.00us   9.87ms   90.00%
    Req/Sec    58.00k     2.00k   60.00k    80.00%
  Latency Distribution
     50%  980.00us
     75%    1.20ms
     90%    1.50ms
     99%    2.00s
  290000 requests in 5.00s, 350.00MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  58000.50
Transfer/sec:      1.17GB
";

    #[test]
    fn parses_wrk_output() {
        let w = parse_wrk(OUT).unwrap();
        assert_eq!(w.requests, 290000);
        assert_eq!(w.rps, 58000.5);
        assert_eq!(w.bytes_per_s, 1.17 * 1024f64.powi(3));
        assert_eq!(w.lat_us, [980.0, 1200.0, 1500.0, 2e6]);
        assert_eq!((w.mean_us, w.max_us), (1100.0, 9870.0));
        assert!((w.busy_conns() - 63.8).abs() < 0.1);
        assert_eq!(w.socket_errors, [0, 12, 0, 3]);
        assert_eq!(w.non2xx, 7);
        let p = w.problem().unwrap();
        assert!(p.contains("read 12") && p.contains("7 non-2xx"), "{p}");
        let clean: String = OUT
            .lines()
            .filter(|l| !l.contains("Socket errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_wrk(&clean).unwrap().problem(), None);
        assert!(parse_wrk("unable to connect to 10.0.2.2:80 Connection refused").is_err());
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_bytes("512.00B"), Some(512.0));
        assert_eq!(parse_bytes("30.00MB"), Some(30.0 * 1048576.0));
        assert_eq!(parse_bytes("2.00KB"), Some(2048.0));
        assert_eq!(parse_time_us("420.00us"), Some(420.0));
        assert_eq!(parse_time_us("1.00m"), Some(60e6));
        assert_eq!(parse_time_us("abc"), None);
    }
}
