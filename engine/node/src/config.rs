//! The node configuration file (`--config node.toml`, DESIGN.md section 3).
//!
//! The file is read into [`RawConfig`] (serde, unknown keys refused) and then
//! validated into [`NodeConfig`], whose fields are typed. Every problem is
//! reported as one line that names the file, the key and the bad value, because
//! an operator reads it in a terminal or a log.

use anyedge_port::MacAddr;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// The file as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[node]`
    #[serde(default)]
    pub node: RawNode,
    /// `[[port]]`, one table per port in port-id order.
    #[serde(default)]
    pub port: Vec<RawPort>,
    /// `[anycast]`
    pub anycast: Option<RawAnycast>,
    /// `[http]`
    pub http: Option<RawHttp>,
    /// `[cache]`
    pub cache: Option<RawCache>,
    /// `[overlay]`
    pub overlay: Option<RawOverlay>,
    /// `[tcp]`
    pub tcp: Option<RawTcp>,
    /// `[services]`
    pub services: Option<RawServices>,
}

/// `[tcp]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTcp {
    /// Connection slots per core.
    pub max_conns: Option<usize>,
    /// Send buffer per connection, e.g. `"256KiB"`.
    pub send_buf: Option<String>,
    /// Receive buffer per connection.
    pub recv_buf: Option<String>,
    /// `cubic | reno`
    pub cc: Option<String>,
    /// Connections in SYN-RECEIVED before SYN cookies.
    pub syn_backlog: Option<usize>,
    /// Resets per second for segments without a connection.
    pub rst_per_sec: Option<u32>,
}

/// `[services]` as written: the test services of RFC 862, 863 and 864.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    /// Discard (RFC 863) port.
    pub discard: Option<u16>,
    /// Echo (RFC 862) port.
    pub echo: Option<u16>,
    /// Character generator (RFC 864) port.
    pub chargen: Option<u16>,
}

/// `[node]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    /// Node name, shown in `show` output and peer messages.
    pub name: Option<String>,
    /// Microseconds a polling core sleeps after a poll that moved nothing
    /// (0, the default: busy polling).
    pub poll_sleep_us: Option<u64>,
}

/// `[[port]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    /// `"A.B.C.D/len"`
    pub ip: String,
    /// Default gateway on this port's subnet.
    pub gateway: Option<String>,
    /// MAC override (`"02:ae:00:00:00:01"`).
    pub mac: Option<String>,
}

/// `[anycast]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnycast {
    /// Anycast addresses served on every node of the site.
    #[serde(default)]
    pub vips: Vec<String>,
    /// The other nodes of the site, `ip:port`.
    #[serde(default)]
    pub peers: Vec<String>,
    /// UDP port of the peer channel.
    pub listen: Option<u16>,
    /// `careful | jump | off`
    pub resume: Option<String>,
    /// Shared key for peer and overlay messages.
    pub key: Option<String>,
    /// Prefix length that groups clients into one path entry (32: per address).
    pub prefix: Option<u8>,
    /// Seconds an entry may be used for a resume after its last update.
    pub entry_lifetime: Option<u64>,
    /// Path entries kept, at most (LRU beyond).
    pub entries: Option<usize>,
}

/// `[http]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// TCP port of the HTTP server.
    pub port: Option<u16>,
}

/// `[cache]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Directory loaded at start.
    pub dir: Option<String>,
    /// Region size, e.g. `"512MiB"`.
    pub size: Option<String>,
}

/// `[overlay]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverlay {
    /// `edge | gateway`
    pub role: String,
    /// Edge: where misses go.
    pub gateway: Option<String>,
    /// Gateway: the origin HTTP server.
    pub origin: Option<String>,
    /// Node that keeps replicas of client connections.
    pub backup: Option<String>,
    /// Gateway: TCP port that edges connect to (default 7800).
    pub listen: Option<u16>,
    /// Early data on edge-gateway connections (default on; needs `[anycast] key`).
    pub early_data: Option<bool>,
    /// UDP port on which this node takes replication records (default 7900).
    pub replica_listen: Option<u16>,
    /// Standby records (client connections of other primaries) kept at
    /// most; a record beyond is refused, not confirmed (default 65536).
    pub standby_max: Option<usize>,
}

/// An IPv4 address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Net {
    /// Whether `ip` is on this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(self.addr) & mask == u32::from(ip) & mask
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One port's addressing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortAddr {
    /// Address and subnet.
    pub net: Ipv4Net,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// MAC override.
    pub mac: Option<MacAddr>,
}

/// How a resumed download starts its congestion window (anycast issue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumePolicy {
    /// draft-ietf-tsvwg-careful-resume.
    Careful,
    /// Start at the saved cwnd (the patent's literal reading).
    Jump,
    /// Plain slow start.
    Off,
}

/// Overlay role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayRole {
    /// Serves clients, sends misses to the gateway.
    Edge,
    /// Relays to the origin.
    Gateway,
}

/// `[anycast]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anycast {
    /// Anycast VIPs.
    pub vips: Vec<Ipv4Addr>,
    /// Peer nodes.
    pub peers: Vec<SocketAddrV4>,
    /// Peer channel UDP port.
    pub listen: u16,
    /// Resume policy.
    pub resume: ResumePolicy,
    /// Shared key.
    pub key: Option<String>,
    /// Client prefix length of a path entry (8..=32).
    pub prefix: u8,
    /// Entry lifetime, nanoseconds.
    pub entry_lifetime_ns: u64,
    /// Path-table capacity.
    pub entries: usize,
}

/// `[overlay]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    /// Role of this node.
    pub role: OverlayRole,
    /// Edge: the gateway.
    pub gateway: Option<SocketAddrV4>,
    /// Gateway: the origin.
    pub origin: Option<SocketAddrV4>,
    /// Backup node for replicated connections.
    pub backup: Option<SocketAddrV4>,
    /// Gateway: TCP port that edges connect to.
    pub listen: u16,
    /// Early data on edge-gateway connections.
    pub early_data: bool,
    /// UDP port for replication messages (besides `[anycast] listen`).
    pub replica_listen: u16,
    /// Standby records kept at most.
    pub standby_max: usize,
}

/// `[tcp]`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSettings {
    /// Connection slots per core.
    pub max_conns: usize,
    /// Send buffer per connection, bytes.
    pub send_buf: usize,
    /// Receive buffer per connection, bytes.
    pub recv_buf: usize,
    /// Congestion control.
    pub cc: anyedge_tcp::cc::CcKind,
    /// SYN-RECEIVED connections before SYN cookies.
    pub syn_backlog: usize,
    /// Resets per second for segments without a connection.
    pub rst_per_sec: u32,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            max_conns: 4096,
            send_buf: 256 << 10,
            recv_buf: 256 << 10,
            cc: anyedge_tcp::cc::CcKind::Cubic,
            syn_backlog: 1024,
            rst_per_sec: 1000,
        }
    }
}

/// `[services]`, validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Services {
    /// Discard (RFC 863).
    pub discard: Option<u16>,
    /// Echo (RFC 862).
    pub echo: Option<u16>,
    /// Chargen (RFC 864).
    pub chargen: Option<u16>,
}

/// The validated node configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Node name.
    pub name: String,
    /// How long a polling core sleeps after an empty poll, ns (0: busy
    /// polling, the line-rate default). A node that shares its cores, a
    /// standby backup say, sets it so that idle polling does not take the
    /// cpu from its neighbours (VPP's `poll-sleep-usec`); each sleep adds up
    /// to that much latency to the next frame.
    pub poll_sleep_ns: u64,
    /// Per-port addressing, in port-id order.
    pub ports: Vec<PortAddr>,
    /// Anycast section (VIPs are empty when absent).
    pub anycast: Anycast,
    /// HTTP port.
    pub http_port: u16,
    /// Content directory.
    pub cache_dir: Option<PathBuf>,
    /// Content region size in bytes.
    pub cache_size: u64,
    /// Overlay section.
    pub overlay: Option<Overlay>,
    /// TCP settings.
    pub tcp: TcpSettings,
    /// Test services.
    pub services: Services,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name: "anyedge".into(),
            poll_sleep_ns: 0,
            ports: Vec::new(),
            anycast: Anycast {
                vips: Vec::new(),
                peers: Vec::new(),
                listen: 7700,
                resume: ResumePolicy::Careful,
                key: None,
                prefix: 32,
                entry_lifetime_ns: 600_000_000_000,
                entries: 65_536,
            },
            http_port: 80,
            cache_dir: None,
            cache_size: 512 << 20,
            overlay: None,
            tcp: TcpSettings::default(),
            services: Services::default(),
        }
    }
}

/// A configuration problem, as one line of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl NodeConfig {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("config {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| ConfigError(format!("config {}: {}", path.display(), e.0)))
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().replace('\n', " ");
            match line {
                Some(l) => ConfigError(format!("line {l}: {msg}")),
                None => ConfigError(msg),
            }
        })?;
        Self::validate(raw)
    }

    /// Turns the raw file into typed values, naming the first bad one.
    pub fn validate(raw: RawConfig) -> Result<NodeConfig, ConfigError> {
        let mut cfg = NodeConfig::default();
        if let Some(n) = raw.node.name {
            if n.is_empty() || n.len() > 64 || n.chars().any(|c| c.is_whitespace()) {
                return Err(err("[node] name", &n, "1 to 64 characters without spaces"));
            }
            cfg.name = n;
        }
        if let Some(us) = raw.node.poll_sleep_us {
            if us > MAX_POLL_SLEEP_US {
                return Err(err(
                    "[node] poll_sleep_us",
                    &us.to_string(),
                    "0 (busy polling) to 10000 microseconds",
                ));
            }
            cfg.poll_sleep_ns = us * 1000;
        }
        for (i, p) in raw.port.iter().enumerate() {
            let key = |k: &str| format!("[[port]] #{i} {k}");
            let net = parse_net(&p.ip).ok_or_else(|| {
                err(
                    &key("ip"),
                    &p.ip,
                    "an IPv4 address with prefix, like 10.0.2.2/24",
                )
            })?;
            let gateway = match &p.gateway {
                None => None,
                Some(g) => {
                    let gw: Ipv4Addr = g
                        .parse()
                        .map_err(|_| err(&key("gateway"), g, "an IPv4 address"))?;
                    if !net.contains(gw) || gw == net.addr {
                        return Err(err(
                            &key("gateway"),
                            g,
                            &format!("another address on {net}"),
                        ));
                    }
                    Some(gw)
                }
            };
            let mac =
                match &p.mac {
                    None => None,
                    Some(m) => Some(parse_mac(m).ok_or_else(|| {
                        err(&key("mac"), m, "a unicast MAC like 02:ae:00:00:00:01")
                    })?),
                };
            cfg.ports.push(PortAddr { net, gateway, mac });
        }
        if let Some(a) = raw.anycast {
            for v in &a.vips {
                let ip: Ipv4Addr = v
                    .parse()
                    .map_err(|_| err("[anycast] vips", v, "an IPv4 address"))?;
                if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
                    return Err(err("[anycast] vips", v, "a unicast IPv4 address"));
                }
                cfg.anycast.vips.push(ip);
            }
            for p in &a.peers {
                cfg.anycast.peers.push(
                    p.parse()
                        .map_err(|_| err("[anycast] peers", p, "ip:port"))?,
                );
            }
            if let Some(l) = a.listen {
                if l == 0 {
                    return Err(err("[anycast] listen", "0", "a UDP port 1..65535"));
                }
                cfg.anycast.listen = l;
            }
            if let Some(r) = a.resume {
                cfg.anycast.resume = match r.as_str() {
                    "careful" => ResumePolicy::Careful,
                    "jump" => ResumePolicy::Jump,
                    "off" => ResumePolicy::Off,
                    _ => return Err(err("[anycast] resume", &r, "careful, jump or off")),
                };
            }
            if let Some(k) = a.key {
                if k.len() < 8 {
                    return Err(err("[anycast] key", "(hidden)", "at least 8 characters"));
                }
                cfg.anycast.key = Some(k);
            }
            if let Some(p) = a.prefix {
                if !(8..=32).contains(&p) {
                    return Err(err(
                        "[anycast] prefix",
                        &p.to_string(),
                        "a prefix length 8..32",
                    ));
                }
                cfg.anycast.prefix = p;
            }
            if let Some(t) = a.entry_lifetime {
                if !(1..=86_400).contains(&t) {
                    return Err(err(
                        "[anycast] entry_lifetime",
                        &t.to_string(),
                        "seconds, 1..86400",
                    ));
                }
                cfg.anycast.entry_lifetime_ns = t * 1_000_000_000;
            }
            if let Some(n) = a.entries {
                if !(1..=16_777_216).contains(&n) {
                    return Err(err("[anycast] entries", &n.to_string(), "1..16777216"));
                }
                cfg.anycast.entries = n;
            }
        }
        if let Some(h) = raw.http {
            if let Some(p) = h.port {
                if p == 0 {
                    return Err(err("[http] port", "0", "a TCP port 1..65535"));
                }
                cfg.http_port = p;
            }
        }
        if let Some(c) = raw.cache {
            cfg.cache_dir = c.dir.map(PathBuf::from);
            if let Some(s) = c.size {
                cfg.cache_size = parse_size(&s).ok_or_else(|| {
                    err("[cache] size", &s, "a size like 512MiB, 2GiB or 1048576")
                })?;
            }
        }
        if let Some(t) = raw.tcp {
            let s = &mut cfg.tcp;
            if let Some(n) = t.max_conns {
                if !(1..=1 << 22).contains(&n) {
                    return Err(err("[tcp] max_conns", &n.to_string(), "1..4194304"));
                }
                s.max_conns = n;
            }
            for (key, v, dst) in [
                ("send_buf", &t.send_buf, &mut s.send_buf),
                ("recv_buf", &t.recv_buf, &mut s.recv_buf),
            ] {
                if let Some(v) = v {
                    let n = parse_size(v)
                        .filter(|n| (4096..=(1 << 30)).contains(n))
                        .ok_or_else(|| {
                            err(&format!("[tcp] {key}"), v, "a size from 4KiB to 1GiB")
                        })?;
                    *dst = n as usize;
                }
            }
            if let Some(c) = t.cc {
                s.cc = match c.as_str() {
                    "cubic" => anyedge_tcp::cc::CcKind::Cubic,
                    "reno" => anyedge_tcp::cc::CcKind::Reno,
                    _ => return Err(err("[tcp] cc", &c, "cubic or reno")),
                };
            }
            if let Some(b) = t.syn_backlog {
                s.syn_backlog = b;
            }
            if let Some(r) = t.rst_per_sec {
                s.rst_per_sec = r;
            }
        }
        if let Some(sv) = raw.services {
            let ports = [
                ("discard", sv.discard),
                ("echo", sv.echo),
                ("chargen", sv.chargen),
            ];
            for (k, p) in ports {
                if p == Some(0) {
                    return Err(err(&format!("[services] {k}"), "0", "a TCP port 1..65535"));
                }
            }
            let mut seen: Vec<u16> = ports.iter().filter_map(|p| p.1).collect();
            seen.sort();
            if seen.windows(2).any(|w| w[0] == w[1]) {
                return Err(ConfigError("[services]: two services share a port".into()));
            }
            cfg.services = Services {
                discard: sv.discard,
                echo: sv.echo,
                chargen: sv.chargen,
            };
        }
        if let Some(o) = raw.overlay {
            let role = match o.role.as_str() {
                "edge" => OverlayRole::Edge,
                "gateway" => OverlayRole::Gateway,
                _ => return Err(err("[overlay] role", &o.role, "edge or gateway")),
            };
            let sock = |k: &str, v: &Option<String>| -> Result<Option<SocketAddrV4>, ConfigError> {
                v.as_ref()
                    .map(|s| {
                        s.parse()
                            .map_err(|_| err(&format!("[overlay] {k}"), s, "ip:port"))
                    })
                    .transpose()
            };
            let ov = Overlay {
                role,
                gateway: sock("gateway", &o.gateway)?,
                origin: sock("origin", &o.origin)?,
                backup: sock("backup", &o.backup)?,
                listen: match o.listen {
                    Some(0) => return Err(err("[overlay] listen", "0", "a TCP port 1..65535")),
                    Some(p) => p,
                    None => 7800,
                },
                early_data: o.early_data.unwrap_or(true),
                replica_listen: match o.replica_listen {
                    Some(0) => {
                        return Err(err("[overlay] replica_listen", "0", "a UDP port 1..65535"))
                    }
                    Some(p) => p,
                    None => 7900,
                },
                standby_max: match o.standby_max {
                    Some(0) => {
                        return Err(err(
                            "[overlay] standby_max",
                            "0",
                            "a record count of at least 1",
                        ))
                    }
                    Some(n) => n,
                    None => crate::overlay::repl::STANDBY_MAX,
                },
            };
            if role == OverlayRole::Edge && ov.gateway.is_none() {
                return Err(ConfigError(
                    "[overlay] gateway: an edge needs a gateway (ip:port)".into(),
                ));
            }
            if role == OverlayRole::Gateway && ov.origin.is_none() {
                return Err(ConfigError(
                    "[overlay] origin: a gateway needs an origin (ip:port)".into(),
                ));
            }
            if let Some(b) = ov.backup {
                // Records travel on the site's authenticated peer channel.
                let a = &cfg.anycast;
                if a.vips.is_empty() || a.key.is_none() || !a.peers.iter().any(|p| p.ip() == b.ip())
                {
                    return Err(ConfigError(format!(
                        "[overlay] backup: replication to {b} runs on the peer channel: set [anycast] vips, key, and {} among [anycast] peers",
                        b.ip()
                    )));
                }
            }
            cfg.overlay = Some(ov);
        }
        Ok(cfg)
    }
}

/// The longest sleep after an empty poll: 10 ms, still well below every
/// protocol timer (the 200 ms minimum RTO of RFC 6298 as used here).
const MAX_POLL_SLEEP_US: u64 = 10_000;

fn err(key: &str, value: &str, want: &str) -> ConfigError {
    ConfigError(format!("{key}: '{value}' is not valid, expected {want}"))
}

/// Parses `A.B.C.D/len`.
pub fn parse_net(s: &str) -> Option<Ipv4Net> {
    let (a, p) = s.split_once('/')?;
    let addr: Ipv4Addr = a.parse().ok()?;
    let prefix: u8 = p.parse().ok()?;
    if prefix > 32 || addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
        return None;
    }
    Some(Ipv4Net { addr, prefix })
}

/// Parses `aa:bb:cc:dd:ee:ff` (unicast only).
pub fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    if parts.next().is_some() || mac[0] & 1 == 1 || mac == [0; 6] {
        return None;
    }
    Some(mac)
}

/// Parses a size: a number of bytes, or with KiB/MiB/GiB (also K/M/G, KB/MB/GB
/// taken as powers of 1024, as operators write them for memory).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let idx = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(idx);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    let v = n.checked_mul(mult)?;
    (v > 0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[node]
name = "edge-a"

[[port]]
ip = "10.0.2.2/24"
gateway = "10.0.2.1"

[anycast]
vips = ["203.0.113.10"]
peers = ["10.0.3.2:7700"]
listen = 7700
resume = "careful"
key = "site-secret"

[http]
port = 80

[cache]
dir = "/srv/content"
size = "512MiB"

[overlay]
role = "edge"
gateway = "10.0.5.2:7800"
backup = "10.0.3.2:7900"
"#;

    #[test]
    fn anycast_path_table_keys_read_and_default() {
        let c = NodeConfig::parse("[anycast]\nvips = [\"203.0.113.10\"]\nprefix = 24\nentry_lifetime = 30\nentries = 1000\n").unwrap();
        assert_eq!(c.anycast.prefix, 24);
        assert_eq!(c.anycast.entry_lifetime_ns, 30_000_000_000);
        assert_eq!(c.anycast.entries, 1000);
        let d = NodeConfig::parse("[anycast]\nvips = [\"203.0.113.10\"]\n").unwrap();
        assert_eq!(
            (
                d.anycast.prefix,
                d.anycast.entry_lifetime_ns,
                d.anycast.entries
            ),
            (32, 600_000_000_000, 65_536)
        );
    }

    #[test]
    fn the_design_example_is_accepted() {
        let c = NodeConfig::parse(FULL).unwrap();
        assert_eq!(c.name, "edge-a");
        assert_eq!(c.ports[0].net.to_string(), "10.0.2.2/24");
        assert_eq!(c.ports[0].gateway, Some(Ipv4Addr::new(10, 0, 2, 1)));
        assert_eq!(c.anycast.vips, vec![Ipv4Addr::new(203, 0, 113, 10)]);
        assert_eq!(c.anycast.resume, ResumePolicy::Careful);
        assert_eq!(c.cache_size, 512 << 20);
        let o = c.overlay.unwrap();
        assert_eq!(o.role, OverlayRole::Edge);
        assert_eq!(o.backup, Some("10.0.3.2:7900".parse().unwrap()));
        assert_eq!(o.replica_listen, 7900);
    }

    #[test]
    fn a_backup_needs_the_peer_channel() {
        let no_key = FULL.replace("key = \"site-secret\"\n", "");
        let e = NodeConfig::parse(&no_key).unwrap_err().to_string();
        assert!(
            e.starts_with("[overlay] backup:") && !e.contains('\n'),
            "{e}"
        );
        let not_a_peer = FULL.replace("backup = \"10.0.3.2:7900\"", "backup = \"10.0.4.2:7900\"");
        let e = NodeConfig::parse(&not_a_peer).unwrap_err().to_string();
        assert!(e.contains("10.0.4.2 among [anycast] peers"), "{e}");
        let zero = FULL.replace(
            "backup = \"10.0.3.2:7900\"",
            "backup = \"10.0.3.2:7900\"\nreplica_listen = 0",
        );
        assert!(NodeConfig::parse(&zero).is_err());
        let none = FULL.replace(
            "backup = \"10.0.3.2:7900\"",
            "backup = \"10.0.3.2:7900\"\nstandby_max = 0",
        );
        let e = NodeConfig::parse(&none).unwrap_err().to_string();
        assert!(
            e.starts_with("[overlay] standby_max") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_named_in_one_line() {
        let cases = [
            (
                "[[port]]\nip = \"10.0.2.2/33\"\n",
                "[[port]] #0 ip: '10.0.2.2/33'",
            ),
            ("[[port]]\nip = \"10.0.2.2\"\n", "[[port]] #0 ip"),
            (
                "[[port]]\nip = \"10.0.2.2/24\"\ngateway = \"10.9.9.9\"\n",
                "[[port]] #0 gateway: '10.9.9.9'",
            ),
            ("[anycast]\nvips = [\"1.2.3\"]\n", "[anycast] vips: '1.2.3'"),
            ("[anycast]\nresume = \"fast\"\n", "[anycast] resume: 'fast'"),
            ("[anycast]\nprefix = 40\n", "[anycast] prefix: '40'"),
            (
                "[anycast]\nentry_lifetime = 0\n",
                "[anycast] entry_lifetime: '0'",
            ),
            ("[anycast]\nentries = 0\n", "[anycast] entries: '0'"),
            (
                "[cache]\nsize = \"12 parsecs\"\n",
                "[cache] size: '12 parsecs'",
            ),
            ("[overlay]\nrole = \"edge\"\n", "[overlay] gateway"),
            ("[node]\nnmae = \"x\"\n", "line 2: unknown field `nmae`"),
            (
                "[node]\npoll_sleep_us = 20000\n",
                "[node] poll_sleep_us: '20000'",
            ),
            ("[tcp]\ncc = \"bbr\"\n", "[tcp] cc: 'bbr'"),
            ("[tcp]\nsend_buf = \"1KiB\"\n", "[tcp] send_buf: '1KiB'"),
            (
                "[services]\necho = 7\ndiscard = 7\n",
                "[services]: two services share a port",
            ),
            ("[[port]\n", "line 1"),
        ];
        for (text, want) in cases {
            let e = NodeConfig::parse(text).unwrap_err().0;
            assert!(e.starts_with(want), "{text:?} gave {e:?}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }

    #[test]
    fn poll_sleep_defaults_to_busy_polling() {
        assert_eq!(NodeConfig::parse("").unwrap().poll_sleep_ns, 0);
        let c = NodeConfig::parse("[node]\npoll_sleep_us = 20\n").unwrap();
        assert_eq!(c.poll_sleep_ns, 20_000);
    }

    #[test]
    fn sizes_and_macs_and_nets() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_mac("02:ae:00:00:00:01"), Some([2, 0xae, 0, 0, 0, 1]));
        assert_eq!(parse_mac("01:00:5e:00:00:01"), None, "multicast refused");
        let n = parse_net("10.0.2.2/24").unwrap();
        assert!(n.contains(Ipv4Addr::new(10, 0, 2, 200)));
        assert!(!n.contains(Ipv4Addr::new(10, 0, 3, 1)));
        assert!(parse_net("0.0.0.0/0").is_none());
    }
}
