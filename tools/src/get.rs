//! `anyedge get [EAL args] -- [options] URL`: download one object over the
//! engine's own TCP, and resume it with `Range: bytes=K-` (and `If-Range`)
//! after a connection reset, as wget does (RFC 9110 14.2, 13.1.5).
//!
//! It is the client of the anycast takeover: when routing moves it from node
//! A to node B, B answers its next ACK with a RST (RFC 9293 3.10.7.1), and
//! the client asks the same VIP again for the rest. The port is the same as
//! `anyedge run`'s (`--vdev net_tap0,iface=NAME` on either build, any DPDK
//! device on the DPDK build); the client is one host with `--ip` behind
//! `--gateway`. It prints one summary line and exits 0 when every byte
//! arrived.

use crate::eal;
use anyedge_node::client::download::{Download, FileSink};
use anyedge_node::client::Fetcher;
use anyedge_node::clock::{Clock, MonotonicClock};
use anyedge_node::config::{parse_net, parse_size};
use anyedge_port::Port;
use anyedge_tcp::conn::ConnConfig;
use anyedge_tcp::State;
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// How long a finished download waits for the server's side of the close.
const LINGER_NS: u64 = 3_000_000_000;

/// Options after the `--`.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, about = "anyedge get options (after --)")]
pub struct GetArgs {
    /// The client's address and prefix on the port, e.g. 10.0.4.2/24.
    #[arg(long, value_name = "CIDR")]
    pub ip: String,
    /// Next hop for addresses off the subnet.
    #[arg(long, value_name = "IP")]
    pub gateway: Option<Ipv4Addr>,
    /// Output file (default: the last part of the URL's path).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep the bytes already in the output file and ask for the rest, as
    /// `wget -c` and `curl -C -` do.
    #[arg(short = 'c', long = "continue")]
    pub resume: bool,
    /// Read at most RATE bytes per second (k/m/g suffixes are powers of 1024).
    #[arg(long = "limit-rate", value_name = "RATE")]
    pub limit_rate: Option<String>,
    /// Connections in a row without a body byte before giving up.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,
    /// Give up after this many seconds in all.
    #[arg(long = "max-time", value_name = "S", default_value_t = 600)]
    pub max_time: u64,
    /// Print the timeline of the download (requests, resets, responses).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// http://ADDRESS[:PORT]/PATH (an IPv4 address: the engine has no resolver).
    pub url: String,
}

/// Splits `http://A.B.C.D[:PORT]/PATH`.
pub fn parse_url(url: &str) -> Result<(SocketAddrV4, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| anyhow!("{url}: bad port '{p}'"))?,
        ),
        None => (authority, 80),
    };
    let ip: Ipv4Addr = host.parse().map_err(|_| {
        anyhow!("{url}: '{host}' is not an IPv4 address (the engine does no DNS; give the address)")
    })?;
    Ok((SocketAddrV4::new(ip, port), path.to_string()))
}

/// Parses `--limit-rate` the way wget does: bytes, or k/m/g (powers of 1024).
fn parse_rate(s: &str) -> Result<u64> {
    parse_size(s)
        .ok_or_else(|| anyhow!("--limit-rate {s}: expected bytes per second, e.g. 500k or 20m"))
}

/// Runs `anyedge get`; returns the exit code.
pub fn get(args: Vec<String>) -> Result<i32> {
    let (eal_args, app_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => bail!("usage: anyedge get [EAL args] -- --ip CIDR [--gateway IP] [-o FILE] URL"),
    };
    let eal = eal::parse(eal_args)?;
    let a =
        GetArgs::try_parse_from(app_args).map_err(|e| anyhow!("{}", e.to_string().trim_end()))?;
    let (remote, path) = parse_url(&a.url)?;
    let net = parse_net(&a.ip).ok_or_else(|| anyhow!("--ip {}: expected A.B.C.D/LEN", a.ip))?;
    let gateway = match a.gateway {
        Some(g) => g,
        None if net.contains(*remote.ip()) => *remote.ip(),
        None => bail!("{} is off {}: give --gateway", remote.ip(), a.ip),
    };
    let output = match &a.output {
        Some(p) => p.clone(),
        None => PathBuf::from(
            path.rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or("index.html"),
        ),
    };
    let sink = FileSink::open(&output, a.resume)
        .with_context(|| format!("open output {}", output.display()))?;
    let clock = MonotonicClock::new();
    let (port, _eal) = open_port(&eal)?;
    // MSS from the port's MTU (RFC 9293 3.7.1: MTU less the IPv4 and TCP headers).
    let cfg = ConnConfig {
        recv_buf: 4 << 20,
        mss: port
            .info()
            .mtu
            .saturating_sub(40)
            .min(ConnConfig::default().mss),
        ..ConnConfig::default()
    };
    // A random ISN base (RFC 6528) and ephemeral port (RFC 6056), so a new
    // run never looks like an old connection to the server.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ (u64::from(std::process::id()) << 32);
    let first_port = 32768 + (seed % 28000) as u16;
    let mut dl = Download::with_sink(remote, &path, clock.now(), cfg, first_port, sink);
    dl.isn_base = (seed >> 16) as u32;
    dl.tries = a.tries;
    dl.rate_limit = a.limit_rate.as_deref().map(parse_rate).transpose()?;
    let deadline = Duration::from_secs(a.max_time);
    let code = fetch(port, net, gateway, dl, &clock, deadline, &a, &output)?;
    Ok(code)
}

#[cfg(not(feature = "dpdk"))]
fn open_port(eal: &eal::Eal) -> Result<(anyedge_port::tap::TapPort, ())> {
    use anyedge_port::tap::{TapConfig, TapPort};
    let (name, iface) = match eal.devices.as_slice() {
        [eal::Device::Tap { name, iface }] => (name, iface),
        [] => bail!("no port: give --vdev net_tap0,iface=NAME"),
        _ => bail!(
            "anyedge get takes exactly one TAP device on this build (--vdev net_tapN,iface=NAME)"
        ),
    };
    let port = TapPort::open(&TapConfig {
        name: name.clone(),
        iface: iface.clone(),
        queues: 1,
        pool_size: 1024,
        mac: None,
    })
    .with_context(|| {
        format!("open {name} (iface {iface}); TAP ports need root or CAP_NET_ADMIN")
    })?;
    Ok((port, ()))
}

#[cfg(feature = "dpdk")]
fn open_port(eal: &eal::Eal) -> Result<(anyedge_port::dpdk::DpdkPort, anyedge_port::dpdk::Eal)> {
    use anyedge_port::dpdk::{DpdkConfig, DpdkPort, Eal};
    let e = Eal::init(&eal.raw).map_err(|e| anyhow!(e))?;
    let cfg = DpdkConfig {
        rxq: 1,
        txq: 1,
        cores: 1,
        ..DpdkConfig::default()
    };
    let mut ports = DpdkPort::open_all(&e, &cfg)
        .map_err(|e| anyhow!(e))
        .context("DPDK port setup")?;
    if ports.is_empty() {
        bail!("DPDK probed no port: give a device, e.g. --vdev net_tap0,iface=ag0");
    }
    Ok((ports.swap_remove(0), e))
}

/// Polls the download until it ends; prints the summary line.
#[allow(clippy::too_many_arguments)]
fn fetch<P: Port>(
    port: P,
    net: anyedge_node::config::Ipv4Net,
    gateway: Ipv4Addr,
    mut dl: Download<FileSink>,
    clock: &MonotonicClock,
    deadline: Duration,
    a: &GetArgs,
    output: &std::path::Path,
) -> Result<i32> {
    // The kernel side of a TAP comes up when the operator (or a test)
    // configures it: wait for that before the first SYN.
    let t0 = std::time::Instant::now();
    while !port.link_up() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    dl.start_at = clock.now();
    let mut f = Fetcher::new(port, net, gateway, dl).map_err(|e| anyhow!(e))?;
    let start = clock.now();
    let mut idle = 0u32;
    let mut finished_at = None;
    loop {
        let now = clock.now();
        let busy = f.poll(now);
        // Done once the close handshake is over from our side: TIME-WAIT
        // (RFC 9293 3.6) only guards the 4-tuple against old duplicates,
        // and the next run picks another port. A peer that never finishes
        // the close gets a bounded wait.
        let d = &f.download;
        if d.finished() {
            let closing = d
                .conn
                .as_ref()
                .is_some_and(|c| !c.is_closed() && c.state() != State::TimeWait);
            let since = *finished_at.get_or_insert(now);
            if !closing || now - since > LINGER_NS {
                break;
            }
        }
        if now - start > deadline.as_nanos() as u64 {
            f.download.error = Some(format!("--max-time {} s reached", deadline.as_secs()));
            break;
        }
        // Busy-poll while frames move; rest briefly when the wire is quiet
        // so the client does not take a whole core from the peers it tests.
        if busy {
            idle = 0;
        } else {
            idle += 1;
            if idle > 64 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
    let d = &f.download;
    let secs = (clock.now() - start) as f64 / 1e9;
    if a.verbose {
        for (t, e) in &d.events {
            eprintln!("{:>9.3} s  {e}", t.saturating_sub(start) as f64 / 1e9);
        }
        eprintln!("port: {:?}", f.stats);
    }
    let got = anyedge_node::client::download::Sink::len(&d.data);
    let line = format!(
        "{} bytes of {} in {secs:.2} s ({:.1} MB/s), {} request(s), {} reset(s), to {}",
        got,
        d.total.map(|t| t.to_string()).unwrap_or("?".into()),
        got as f64 / secs.max(1e-9) / 1e6,
        d.requests,
        d.resets,
        output.display()
    );
    match &d.error {
        None if d.done() => {
            println!("anyedge get: {line}");
            Ok(0)
        }
        None => bail!("incomplete: {line}"),
        Some(e) => bail!("{e}: {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        let (a, p) = parse_url("http://203.0.113.10/big.bin").unwrap();
        assert_eq!(a, "203.0.113.10:80".parse().unwrap());
        assert_eq!(p, "/big.bin");
        let (a, p) = parse_url("http://10.0.0.1:8080").unwrap();
        assert_eq!(a.port(), 8080);
        assert_eq!(p, "/");
        assert!(parse_url("https://10.0.0.1/").is_err());
        assert!(parse_url("http://example.com/").is_err());
        assert!(parse_url("http://10.0.0.1:99999/").is_err());
    }

    #[test]
    fn rates_read_like_wget() {
        assert_eq!(parse_rate("500k").unwrap(), 500 << 10);
        assert_eq!(parse_rate("20m").unwrap(), 20 << 20);
        assert!(parse_rate("fast").is_err());
    }
}
