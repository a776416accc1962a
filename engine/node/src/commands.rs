//! Console commands (DESIGN.md section 3), shared by the interactive prompt,
//! `--cmdline-file` scripts and the control socket.
//!
//! Each command answers with a [`Reply`]. Every `show` accepts a trailing `json`
//! and then answers with exactly one JSON object, for scripts and tests.
//! Commands that belong to capabilities not built yet answer that they are not
//! yet available, so a script can tell "unknown" from "coming".

use crate::fwd::FwdMode;
use crate::node::Node;
use crate::stats::Reason;
use anyedge_port::{fmt_mac, Port};
use anyedge_tcp::table::TableStats;
use serde_json::{json, Value};

/// The answer to one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Whether the command succeeded.
    pub ok: bool,
    /// What to print (text, or one JSON object).
    pub text: String,
    /// Whether the engine should exit.
    pub quit: bool,
}

impl Reply {
    fn ok(text: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            text: text.into(),
            quit: false,
        }
    }

    fn err(text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            text: text.into(),
            quit: false,
        }
    }

    fn json(v: Value) -> Reply {
        Reply::ok(v.to_string())
    }
}

/// Command names and their help text, next to each other as in testpmd.
pub const HELP: &[(&str, &str)] = &[
    ("start", "start packet forwarding on the forwarding cores"),
    ("stop", "stop packet forwarding and print the forward stats"),
    ("quit", "stop forwarding and exit"),
    (
        "set fwd MODE",
        "io|mac|macswap|rxonly|txonly|icmpecho|cdn (while stopped)",
    ),
    ("set loglevel LEVEL", "error|warn|info|debug|trace"),
    (
        "show port info all [json]",
        "driver, MAC, address, queues, link of each port",
    ),
    (
        "show port stats all [json]",
        "packets, bytes and drops of each port",
    ),
    (
        "show port xstats all [json]",
        "driver extended statistics of each port",
    ),
    ("clear port stats all", "zero the port and forward counters"),
    (
        "show fwd stats all [json]",
        "per-stream and per-core forward counters",
    ),
    ("show drops [json]", "counted drops by reason"),
    ("show arp [json]", "neighbours learned by the cores"),
    (
        "show conn [json]",
        "TCP connections: state, cwnd, srtt, bytes, retransmits, SACK",
    ),
    (
        "tcp connect IP:PORT",
        "open a connection from the engine and read what the peer sends",
    ),
    ("show cache [json]", "content cache (cache issue)"),
    (
        "cache load DIR",
        "load a directory into the cache (cache issue)",
    ),
    (
        "cache purge /PATH",
        "drop one object from the cache (served copies finish first)",
    ),
    (
        "show anycast [json]",
        "VIPs, peers, path metrics, resets, resumes (anycast issue)",
    ),
    (
        "show overlay [json]",
        "overlay role, peers and replication (overlay issue)",
    ),
    ("help", "this list"),
];

impl<P: Port> Node<P> {
    /// Runs one console command line.
    pub fn execute(&mut self, line: &str) -> Reply {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let json =
            words.len() > 1 && words.first() == Some(&"show") && words.last() == Some(&"json");
        if json {
            words.pop();
        }
        match words.as_slice() {
            [] => Reply::ok(""),
            ["help"] => Reply::ok(
                HELP.iter()
                    .map(|(c, h)| format!("  {c:<30} {h}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            ["start"] => match self.start() {
                Ok(n) => Reply::ok(format!(
                    "{} packet forwarding started: {n} stream(s) on {} core(s)",
                    self.mode.name(),
                    self.lcore_counters.len()
                )),
                Err(e) => Reply::err(e),
            },
            ["stop"] => match self.stop() {
                Ok(()) => Reply::ok(format!(
                    "Telling cores to stop...\n{}",
                    self.fwd_stats_text()
                )),
                Err(e) => Reply::err(e),
            },
            ["quit"] => {
                let _ = self.stop();
                Reply {
                    ok: true,
                    text: "Bye...".into(),
                    quit: true,
                }
            }
            ["set", "fwd", m] => match FwdMode::parse(m) {
                None => Reply::err(format!(
                    "unknown forwarding mode '{m}': one of {}",
                    FwdMode::ALL.map(|m| m.name()).join(", ")
                )),
                Some(mode) => match self.set_mode(mode) {
                    Ok(()) => Reply::ok(format!("Set {} packet forwarding mode", mode.name())),
                    Err(e) => Reply::err(e),
                },
            },
            ["set", "loglevel", l] => match l.parse::<log::LevelFilter>() {
                Ok(lv) => {
                    log::set_max_level(lv);
                    Reply::ok(format!("log level set to {lv}"))
                }
                Err(_) => Reply::err(format!(
                    "unknown log level '{l}': error|warn|info|debug|trace|off"
                )),
            },
            ["show", "port", "info", "all"] => self.show_port_info(json),
            ["show", "port", "stats", "all"] => self.show_port_stats(json),
            ["show", "port", "xstats", "all"] => self.show_port_xstats(json),
            ["clear", "port", "stats", "all"] => {
                self.clear_stats();
                Reply::ok("port and forward statistics cleared")
            }
            ["show", "fwd", "stats", "all"] => {
                if json {
                    Reply::json(self.fwd_stats_json())
                } else {
                    Reply::ok(self.fwd_stats_text())
                }
            }
            ["show", "drops"] => self.show_drops(json),
            ["show", "arp"] => self.show_arp(json),
            ["show", "conn"] => self.show_conn(json),
            ["tcp", "connect", target] => match target.parse::<std::net::SocketAddrV4>() {
                Ok(remote) => match self.tcp_connect(remote) {
                    Ok(t) => Reply::ok(t),
                    Err(e) => Reply::err(e),
                },
                Err(_) => Reply::err(format!("tcp connect {target}: expected IP:PORT")),
            },
            ["show", "cache"] => self.show_cache(json),
            ["show", "http"] => self.show_http(json),
            ["cache", "load", dir] => self.cache_load(dir),
            ["cache", "purge", path] => self.cache_purge(path),
            ["show", "anycast"] => self.show_anycast(json),
            ["show", "overlay"] => self.show_overlay(json),
            _ => Reply::err(format!("unknown command '{}': type help", line.trim())),
        }
    }

    fn show_port_info(&self, json: bool) -> Reply {
        let ports: Vec<Value> = self
            .infos
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let addr = self.cfg.ports.get(i);
                json!({
                    "id": i,
                    "driver": p.driver,
                    "name": p.name,
                    "iface": p.iface,
                    "mac": fmt_mac(&p.mac),
                    "ip": addr.map(|a| a.net.to_string()),
                    "gateway": addr.and_then(|a| a.gateway).map(|g| g.to_string()),
                    "mtu": p.mtu,
                    "rxq": p.rxq,
                    "txq": p.txq,
                    "link_up": self.link_up(i),
                    "rx_csum_offload": p.caps.rx_ipv4_csum && p.caps.rx_l4_csum,
                    "tx_csum_offload": p.caps.tx_csum,
                    "tso_offload": p.caps.tx_tso,
                })
            })
            .collect();
        if json {
            return Reply::json(
                json!({ "ports": ports, "vips": self.addrs.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>() }),
            );
        }
        let mut out = String::new();
        for p in &ports {
            out += &format!(
                "********************* Infos for port {}  *********************\n\
                 Driver name: {}\nDevice: {}  Interface: {}\nMAC address: {}\n\
                 Address: {}  Gateway: {}\nMTU: {}\nRX queues: {}  TX queues: {}\nLink status: {}\n\
                 Offloads: rx csum {}, tx csum {}, TSO {}\n",
                p["id"],
                p["driver"].as_str().unwrap_or("-"),
                p["name"].as_str().unwrap_or("-"),
                p["iface"].as_str().unwrap_or("-"),
                p["mac"].as_str().unwrap_or("-"),
                p["ip"].as_str().unwrap_or("-"),
                p["gateway"].as_str().unwrap_or("-"),
                p["mtu"],
                p["rxq"],
                p["txq"],
                if p["link_up"] == true { "up" } else { "down" },
                p["rx_csum_offload"],
                p["tx_csum_offload"],
                p["tso_offload"],
            );
        }
        if !self.addrs.vips.is_empty() {
            out += &format!(
                "Anycast VIPs: {}\n",
                self.addrs
                    .vips
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        Reply::ok(out.trim_end())
    }

    fn show_port_stats(&self, json: bool) -> Reply {
        let ports: Vec<Value> = (0..self.ports.len())
            .map(|i| {
                let s = self.port_stats(i);
                json!({
                    "id": i,
                    "rx_packets": s.rx_packets,
                    "rx_bytes": s.rx_bytes,
                    "rx_dropped": s.rx_dropped,
                    "rx_nombuf": s.alloc_failed,
                    "tx_packets": s.tx_packets,
                    "tx_bytes": s.tx_bytes,
                    "tx_dropped": s.tx_dropped,
                    "tx_zero_copy": s.tx_zero_copy,
                })
            })
            .collect();
        if json {
            return Reply::json(json!({ "ports": ports }));
        }
        let mut out = String::new();
        for p in &ports {
            out += &format!(
                "  ######################## NIC statistics for port {}  ########################\n  \
                 RX-packets: {:<12} RX-missed: {:<12} RX-bytes:  {}\n  RX-nombuf:  {}\n  \
                 TX-packets: {:<12} TX-errors: {:<12} TX-bytes:  {}\n  \
                 TX-zero-copy: {} (frames with their payload sent by reference)\n",
                p["id"], p["rx_packets"], p["rx_dropped"], p["rx_bytes"], p["rx_nombuf"],
                p["tx_packets"], p["tx_dropped"], p["tx_bytes"], p["tx_zero_copy"],
            );
        }
        Reply::ok(out.trim_end())
    }

    fn show_port_xstats(&self, json: bool) -> Reply {
        let ports: Vec<Value> = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x: serde_json::Map<String, Value> =
                    p.xstats().into_iter().map(|(k, v)| (k, json!(v))).collect();
                json!({ "id": i, "xstats": x })
            })
            .collect();
        if json {
            return Reply::json(json!({ "ports": ports }));
        }
        let mut out = String::new();
        for p in &ports {
            out += &format!(
                "###### NIC extended statistics for port {}
",
                p["id"]
            );
            for (k, v) in p["xstats"].as_object().into_iter().flatten() {
                out += &format!("{k}: {v}\n");
            }
        }
        Reply::ok(out.trim_end())
    }

    fn fwd_stats_json(&self) -> Value {
        let mut streams = Vec::new();
        for p in 0..self.stream_counters.len() {
            for q in 0..self.stream_counters[p].len() {
                let s = self.stream_stats(p, q);
                streams.push(json!({
                    "rx_port": p, "queue": q, "rx": s.rx, "tx": s.tx,
                    "answered": s.answered, "consumed": s.consumed, "dropped": s.dropped(),
                }));
            }
        }
        let cores: Vec<Value> = self
            .lcore_counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (b, idle) = (c.busy_ns.get(), c.idle_ns.get());
                let pct = if b + idle > 0 { 100.0 * b as f64 / (b + idle) as f64 } else { 0.0 };
                json!({ "core": i, "busy_ns": b, "idle_ns": idle, "busy_pct": (pct * 10.0).round() / 10.0, "polls": c.polls.get() })
            })
            .collect();
        let t = self.total_stats();
        json!({
            "mode": self.mode.name(), "running": self.running, "streams": streams, "cores": cores,
            "total": { "rx": t.rx, "tx": t.tx, "answered": t.answered, "consumed": t.consumed, "dropped": t.dropped() },
        })
    }

    fn fwd_stats_text(&self) -> String {
        let v = self.fwd_stats_json();
        let mut out = format!("Forwarding mode: {}\n", self.mode.name());
        for s in v["streams"].as_array().into_iter().flatten() {
            out += &format!(
                "  ------- Forward Stats for RX Port={:>2}/Queue={:>2} -------\n  \
                 RX-packets: {:<10} TX-packets: {:<10} Answered: {:<10} Consumed: {:<10} Dropped: {}\n",
                s["rx_port"], s["queue"], s["rx"], s["tx"], s["answered"], s["consumed"], s["dropped"]
            );
        }
        for c in v["cores"].as_array().into_iter().flatten() {
            out += &format!(
                "  core {}: busy {} ns, idle {} ns ({}% busy), {} polls\n",
                c["core"], c["busy_ns"], c["idle_ns"], c["busy_pct"], c["polls"]
            );
        }
        let t = &v["total"];
        out += &format!(
            "  +++++++++++++++ Accumulated forward statistics for all ports +++++++++++++++\n  \
             RX-packets: {:<10} TX-packets: {:<10} Answered: {:<10} Dropped: {}",
            t["rx"], t["tx"], t["answered"], t["dropped"]
        );
        out
    }

    fn show_drops(&self, json: bool) -> Reply {
        let t = self.total_stats();
        let mut map = serde_json::Map::new();
        for r in Reason::all() {
            map.insert(r.name().into(), json!(t.drops[r.index()]));
        }
        let ports: Vec<Value> = (0..self.ports.len())
            .map(|i| {
                let s = self.port_stats(i);
                json!({"id": i, "rx_dropped": s.rx_dropped, "rx_nombuf": s.alloc_failed, "tx_dropped": s.tx_dropped})
            })
            .collect();
        if json {
            return Reply::json(json!({ "total": t.dropped(), "drops": map, "ports": ports }));
        }
        let mut out = format!("Drops by reason (total {}):\n", t.dropped());
        for r in Reason::all() {
            out += &format!("  {:<22} {}\n", r.name(), t.drops[r.index()]);
        }
        for p in &ports {
            out += &format!(
                "  port {}: rx_dropped {} rx_nombuf {} tx_dropped {}\n",
                p["id"], p["rx_dropped"], p["rx_nombuf"], p["tx_dropped"]
            );
        }
        Reply::ok(out.trim_end())
    }

    fn show_conn(&self, json: bool) -> Reply {
        let ((rows, recent), stats) = self.conns();
        let sum = stats.iter().fold(TableStats::default(), |a, s| TableStats {
            opened: a.opened + s.opened,
            buffers_reused: a.buffers_reused + s.buffers_reused,
            buffers_spare: a.buffers_spare + s.buffers_spare,
            closed: a.closed + s.closed,
            rst_sent: a.rst_sent + s.rst_sent,
            rst_stray_ack: a.rst_stray_ack + s.rst_stray_ack,
            rst_rate_limited: a.rst_rate_limited + s.rst_rate_limited,
            rst_deferred: a.rst_deferred + s.rst_deferred,
            rst_ignored: a.rst_ignored + s.rst_ignored,
            listen_dropped: a.listen_dropped + s.listen_dropped,
            refused_full: a.refused_full + s.refused_full,
            cookies_sent: a.cookies_sent + s.cookies_sent,
            cookies_accepted: a.cookies_accepted + s.cookies_accepted,
            cookies_invalid: a.cookies_invalid + s.cookies_invalid,
            time_wait_reused: a.time_wait_reused + s.time_wait_reused,
            early_accepted: a.early_accepted + s.early_accepted,
            early_rejected: a.early_rejected + s.early_rejected,
            early_dropped: a.early_dropped + s.early_dropped,
        });
        let to_json = |r: &crate::tcp::ConnRow| {
            json!({
                "core": r.core, "local": r.local.to_string(), "remote": r.remote.to_string(),
                "state": r.state, "app": r.app, "cc": r.cc, "cwnd": r.cwnd,
                "ssthresh": if r.ssthresh == usize::MAX { None } else { Some(r.ssthresh) },
                "srtt_us": r.srtt_us, "pacing_bps": r.pacing_bps, "rttvar_us": r.rttvar_us, "bytes_in": r.bytes_in,
                "bytes_out": r.bytes_out, "retransmits": r.retransmits, "sack": r.sack,
                "sack_blocks": r.sack_blocks, "timeouts": r.timeouts, "tlp_probes": r.tlp_probes, "rack_lost": r.rack_lost,
            })
        };
        let conns: Vec<Value> = rows.iter().map(to_json).collect();
        let closed: Vec<Value> = recent.iter().map(to_json).collect();
        let table = json!({
            "opened": sum.opened, "closed": sum.closed, "rst_sent": sum.rst_sent,
            "rst_stray_ack": sum.rst_stray_ack, "rst_rate_limited": sum.rst_rate_limited,
            "rst_deferred": sum.rst_deferred,
            "rst_ignored": sum.rst_ignored, "listen_dropped": sum.listen_dropped,
            "refused_full": sum.refused_full,
            "cookies_sent": sum.cookies_sent, "cookies_accepted": sum.cookies_accepted,
            "cookies_invalid": sum.cookies_invalid, "time_wait_reused": sum.time_wait_reused,
            "buffers_reused": sum.buffers_reused, "buffers_spare": sum.buffers_spare,
        });
        if json {
            return Reply::json(json!({ "conns": conns, "recent": closed, "table": table }));
        }
        let mut out = format!(
            "{:<22} {:<22} {:<12} {:<8} {:>9} {:>9} {:>9} {:>12} {:>12} {:>6} sack\n",
            "local",
            "remote",
            "state",
            "app",
            "cwnd",
            "ssthresh",
            "srtt_us",
            "bytes_in",
            "bytes_out",
            "rexmit"
        );
        for r in rows.iter().chain(recent.iter()) {
            let ssthresh = if r.ssthresh == usize::MAX {
                "-".to_string()
            } else {
                r.ssthresh.to_string()
            };
            let srtt = r
                .srtt_us
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into());
            let sack = if r.sack {
                format!(
                    "on ({} blocks, {} tlp, {} B rack-lost)",
                    r.sack_blocks, r.tlp_probes, r.rack_lost
                )
            } else {
                "off".into()
            };
            out += &format!(
                "{:<22} {:<22} {:<12} {:<8} {:>9} {:>9} {:>9} {:>12} {:>12} {:>6} {}\n",
                r.local.to_string(),
                r.remote.to_string(),
                r.state,
                r.app,
                r.cwnd,
                ssthresh,
                srtt,
                r.bytes_in,
                r.bytes_out,
                r.retransmits,
                sack,
            );
        }
        out += &format!(
            "{} connection(s), {} recently closed; table: {table}",
            rows.len(),
            recent.len()
        );
        Reply::ok(out)
    }

    fn show_anycast(&self, json: bool) -> Reply {
        let Some(a) = &self.anycast else {
            return Reply::err("no anycast VIPs: set [anycast] vips in the node config");
        };
        let ((_, _), stats) = self.conns();
        let stray: u64 = stats.iter().map(|s| s.rst_stray_ack).sum();
        let rst_sent: u64 = stats.iter().map(|s| s.rst_sent).sum();
        let now = self.clock.now();
        let entries: Vec<Value> = a
            .table
            .lock()
            .map(|t| {
                t.entries()
                    .map(|(ip, e)| json!({"client": ip.to_string(), "cwnd": e.cwnd, "min_rtt_us": e.min_rtt_us,
                        "srtt_us": e.srtt_us, "age_ms": now.saturating_sub(e.updated) / 1_000_000, "from": e.from, "in_use": e.in_use}))
                    .collect()
            })
            .unwrap_or_default();
        let c = &a.counters;
        let v = json!({
            "vips": self.addrs.vips.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "peers": a.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "listen": a.listen,
            "channel": a.channel(),
            "resume": format!("{:?}", a.resume).to_lowercase(),
            "entries": entries,
            "rst_stray_ack": stray,
            "rst_sent": rst_sent,
            "resumes": {"careful": c.resumes_careful.get(), "jump": c.resumes_jump.get(), "no_entry": c.resumes_no_entry.get(),
                "jumped": c.jumped.get(), "validated": c.validated.get(), "rtt_mismatch": c.rtt_mismatch.get(), "retreats": c.retreats.get()},
            "peer": {"tx": c.peer_tx.get(), "rx": c.peer_rx.get(), "unknown": c.peer_unknown.get(), "malformed": c.peer_malformed.get(),
                "version": c.peer_version.get(), "stale": c.peer_stale.get(), "forged": c.peer_forged.get(),
                "entries_learned": c.entries_learned.get(), "no_arp": c.peer_no_arp.get()},
            "notices": {"sent": c.notices_sent.get(), "received": c.notices_received.get(), "terminated": c.terminated_by_notice.get()},
        });
        if json {
            return Reply::json(v);
        }
        Reply::ok(format!(
            "VIPs {}; peers {} (UDP {}, channel {}); resume {}\nRSTs to stray ACKs: {}\nresumes: {}\npeer channel: {}\nnotices: {}\n{} path entries",
            v["vips"], v["peers"], v["listen"], if a.channel() { "on" } else { "off: needs peers and a key" }, v["resume"],
            stray, v["resumes"], v["peer"], v["notices"], entries.len()
        ))
    }

    fn show_cache(&self, json: bool) -> Reply {
        let Some(cache) = &self.cache else {
            return Reply::err("no cache: set [cache] dir in the node config");
        };
        let (size, used, huge) = cache.usage();
        let objs = cache.objects();
        let rows: Vec<Value> = objs
            .iter()
            .map(|o| json!({"key": o.key, "len": o.len(), "etag": o.etag, "content_type": o.content_type, "last_modified": o.last_modified}))
            .collect();
        let st = &cache.stats;
        let (hits, misses, evictions) = (
            st.hits.load(std::sync::atomic::Ordering::Relaxed),
            st.misses.load(std::sync::atomic::Ordering::Relaxed),
            st.evictions.load(std::sync::atomic::Ordering::Relaxed),
        );
        if json {
            return Reply::json(json!({
                "objects": rows, "count": objs.len(), "region_bytes": size, "used_bytes": used,
                "free_bytes": size - used, "hugepages": huge, "region": cache.backing(), "hits": hits, "misses": misses,
                "evictions": evictions, "dir": cache.root().map(|p| p.display().to_string()),
            }));
        }
        let mut out = format!(
            "{} object(s); region {} bytes in {} on {}, {} used, {} free; hits {hits}, misses {misses}, evictions {evictions}\n",
            objs.len(), size, cache.backing(), if huge { "2 MiB hugepages" } else { "normal pages" }, used, size - used
        );
        for o in objs.iter().take(100) {
            out += &format!(
                "  /{:<40} {:>12}  {}  {}\n",
                o.key,
                o.len(),
                o.etag,
                o.content_type
            );
        }
        Reply::ok(out.trim_end())
    }

    fn cache_load(&self, dir: &str) -> Reply {
        let Some(cache) = &self.cache else {
            return Reply::err("no cache: set [cache] dir in the node config");
        };
        match cache.load_dir(std::path::Path::new(dir)) {
            Ok(r) => {
                let mut out = format!(
                    "loaded {} object(s), {} bytes, evicted {}, refused {}",
                    r.loaded,
                    r.bytes,
                    r.evicted,
                    r.refused.len()
                );
                for line in &r.refused {
                    out += &format!("\n  refused: {line}");
                }
                Reply::ok(out)
            }
            Err(e) => Reply::err(e.0),
        }
    }

    fn cache_purge(&self, path: &str) -> Reply {
        let Some(cache) = &self.cache else {
            return Reply::err("no cache: set [cache] dir in the node config");
        };
        let mut key = String::new();
        if anyedge_http::cache_key(path, &mut key).is_err() {
            return Reply::err(format!("cache purge {path}: not an object path (/a/b.bin)"));
        }
        match cache.purge(&key) {
            Ok(true) => Reply::ok(format!("purged /{key}")),
            Ok(false) => Reply::err(format!("cache purge {path}: not cached")),
            Err(e) => Reply::err(e.0),
        }
    }

    fn show_overlay(&self, json: bool) -> Reply {
        let Some(o) = &self.overlay else {
            return Reply::err("no overlay: set [overlay] role in the node config");
        };
        let c = &o.counters;
        let (_, stats) = self.conns();
        let early_acc: u64 = stats.iter().map(|s| s.early_accepted).sum();
        let early_rej: u64 = stats.iter().map(|s| s.early_rejected).sum();
        let early_drop: u64 = stats.iter().map(|s| s.early_dropped).sum();
        let v = json!({
            "role": format!("{:?}", o.cfg.role).to_lowercase(),
            "gateway": o.cfg.gateway.map(|a| a.to_string()),
            "origin": o.cfg.origin.map(|a| a.to_string()),
            "listen": (o.cfg.role == crate::config::OverlayRole::Gateway).then_some(o.cfg.listen),
            "backup": o.cfg.backup.map(|a| a.to_string()),
            "edge": {"fetches": c.fetches.get(), "fills": c.fills.get(), "fill_bytes": c.fill_bytes.get(),
                "not_found": c.not_found.get(), "pool_reuse": c.pool_reuse.get(), "pool_retry": c.pool_retry.get(), "upstream_opened": c.upstream_opened.get(),
                "early": {"on": o.early_edge().is_some(), "opened": c.early_opened.get(), "accepted": c.early_accepted.get(),
                    "fallback": c.early_fallback.get(), "refused": c.early_refused.get()}},
            "gateway_relay": {"relays": c.relays.get(), "bytes_down": c.relayed_down.get(), "bytes_up": c.relayed_up.get(),
                "early": {"on": o.early_gateway().is_some(), "accepted": early_acc, "rejected": early_rej, "dropped": early_drop}},
            "failures": {"refused": c.refused.get(), "reset": c.reset.get(), "timeout": c.timeout.get(),
                "bad_response": c.bad_response.get(), "upstream_5xx": c.upstream_5xx.get()},
            "replication": repl_json(&o.repl),
        });
        if json {
            return Reply::json(v);
        }
        let r = &v["replication"];
        Reply::ok(format!(
            "overlay role {} (gateway {}, origin {}, listen {})\nedge: {}\ngateway: {}\nfailures: {}\nreplication to {}: {}{}\n  {}",
            v["role"], v["gateway"], v["origin"], v["listen"], v["edge"], v["gateway_relay"], v["failures"],
            r["backup"], r["state"],
            if r["state"] == "down" { " (backup too slow or gone: serving without replication)" } else { "" },
            r
        ))
    }

    fn show_http(&self, json: bool) -> Reply {
        let sum = |f: &dyn Fn(&crate::http::HttpCounters) -> u64| -> u64 {
            self.http_counters.iter().map(|c| f(c)).sum()
        };
        let mut by_status = serde_json::Map::new();
        for (i, s) in crate::http::STATUSES.iter().enumerate() {
            by_status.insert(s.to_string(), json!(sum(&|c| c.status[i].get())));
        }
        let v = json!({
            "requests": sum(&|c| c.requests.get()),
            "status": by_status,
            "body_bytes": sum(&|c| c.body_bytes.get()),
            "header_timeouts": sum(&|c| c.header_timeouts.get()),
            "idle_timeouts": sum(&|c| c.idle_timeouts.get()),
            "port": self.cache.as_ref().map(|_| self.cfg.http_port),
        });
        if json {
            return Reply::json(v);
        }
        Reply::ok(format!(
            "HTTP on port {}: {} requests, {} body bytes, timeouts: header {} idle {}\nby status: {}",
            v["port"], v["requests"], v["body_bytes"], v["header_timeouts"], v["idle_timeouts"], v["status"]
        ))
    }

    fn show_arp(&self, json: bool) -> Reply {
        let entries = self.arp_entries();
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| json!({"ip": e.ip.to_string(), "mac": fmt_mac(&e.mac), "port": e.port}))
            .collect();
        if json {
            return Reply::json(json!({ "entries": rows }));
        }
        let mut out = format!("{:<16} {:<18} port\n", "address", "mac");
        for e in &entries {
            out += &format!(
                "{:<16} {:<18} {}\n",
                e.ip.to_string(),
                fmt_mac(&e.mac),
                e.port
            );
        }
        Reply::ok(out.trim_end())
    }
}

/// `show overlay`'s replication part: the backup and its state, the
/// records and their confirmations, takeovers both ways, and the delay the
/// output commit adds to the ACK of a client's segment.
fn repl_json(r: &crate::overlay::repl::ReplShared) -> serde_json::Value {
    let c = &r.counters;
    let (p50, p99, n) = r.delay_figures();
    json!({
        "backup": r.backup.map(|a| a.to_string()),
        "state": r.state_name(),
        "records_sent": c.records_sent.get(),
        "datagrams": c.datagrams.get(),
        "records_confirmed": c.records_confirmed.get(),
        "record_retries": c.record_retries.get(),
        "backup_timeouts": c.backup_timeouts.get(),
        "too_big": c.too_big.get(),
        "unreplicated": c.unreplicated.get(),
        "taken_over": c.taken_over.get(),
        "standby": r.standby_len(),
        "records_stored": c.records_stored.get(),
        "head_refs": c.head_refs.get(),
        "head_misses": c.head_misses.get(),
        "standby_full": c.standby_full.get(),
        "refused": c.refused.get(),
        "takeovers": c.takeovers.get(),
        "takeover_missing": c.takeover_missing.get(),
        "prefetches": c.prefetches.get(),
        "takeover_fetches": c.takeover_fetches.get(),
        "malformed": c.malformed.get(),
        "pokes": c.pokes.get(),
        "handoffs": r.handoffs.handed.load(std::sync::atomic::Ordering::Relaxed),
        "handoffs_lost": r.handoffs.lost.load(std::sync::atomic::Ordering::Relaxed),
        "ack_delay_us": {"p50": p50, "p99": p99, "count": n},
    })
}
