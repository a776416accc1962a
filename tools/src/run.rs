//! `anyedge run [EAL args] -- [app args]`: the engine, driven like dpdk-testpmd.
//!
//! The main lcore (the first of `-l`) runs the console and the control socket;
//! every other lcore gets a pinned polling thread. A supervisor loop prints
//! `--stats-period` statistics and ends the process cleanly on `quit`,
//! SIGINT or SIGTERM.

use crate::{console, ctl, eal};
#[cfg(not(feature = "dpdk"))]
use anyedge_node::Node;
use anyedge_node::{Control, FwdMode, NodeConfig, Reply, RunOptions, Threading};
#[cfg(not(feature = "dpdk"))]
use anyedge_port::{
    null::NullPort,
    sw::SwPort,
    tap::{TapConfig, TapPort},
};
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Application arguments, after the `--` (testpmd's names).
#[derive(Parser, Debug)]
#[command(
    no_binary_name = true,
    about = "anyedge application arguments (after --)"
)]
pub struct AppArgs {
    /// Interactive console with the prompt `anyedge> `.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Start forwarding at once.
    #[arg(short = 'a', long = "auto-start")]
    pub auto_start: bool,
    /// Print port statistics every N seconds.
    #[arg(long, value_name = "N")]
    pub stats_period: Option<u64>,
    /// Run the console commands in FILE at start.
    #[arg(long, value_name = "FILE")]
    pub cmdline_file: Option<PathBuf>,
    /// Number of forwarding cores (at most the lcores after the main one).
    #[arg(long, value_name = "N")]
    pub nb_cores: Option<usize>,
    /// Receive queues per port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub rxq: u16,
    /// Transmit queues per port.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub txq: u16,
    /// Frames per burst.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub burst: u16,
    /// io|mac|macswap|rxonly|txonly|icmpecho|cdn
    #[arg(long = "forward-mode", default_value = "io", value_name = "MODE")]
    pub forward_mode: String,
    /// Node configuration (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Control socket for `anyedge ctl`.
    #[arg(long, value_name = "PATH")]
    pub ctl_socket: Option<PathBuf>,
    /// Destination MAC for mac/txonly modes: `PORT,XX:XX:XX:XX:XX:XX` (repeatable).
    #[arg(long = "eth-peer", value_name = "PORT,MAC")]
    pub eth_peer: Vec<String>,
    /// Frame buffers per port; on the DPDK build, mbufs in the shared pool
    /// (testpmd's meaning), raised to what the queues need.
    #[arg(long = "total-num-mbufs", default_value_t = 8192, value_name = "N")]
    pub total_num_mbufs: usize,
}

/// The running engine, shared by the console, the control socket and the supervisor.
#[derive(Clone)]
pub struct Engine {
    node: Arc<Mutex<Box<dyn Control>>>,
    /// Set to end the process.
    pub quit: Arc<AtomicBool>,
}

impl Engine {
    /// Runs one console command.
    pub fn execute(&self, line: &str) -> Reply {
        match self.node.lock() {
            Ok(mut n) => n.execute(line),
            Err(p) => p.into_inner().execute(line),
        }
    }
}

/// Splits `EAL -- APP` and runs the engine until it is told to quit.
pub fn run(args: Vec<String>) -> Result<()> {
    let (eal_args, app_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let eal = eal::parse(eal_args)?;
    let app =
        AppArgs::try_parse_from(app_args).map_err(|e| anyhow!("{}", e.to_string().trim_end()))?;
    let mode = FwdMode::parse(&app.forward_mode).ok_or_else(|| {
        anyhow!(
            "--forward-mode={}: unknown mode, one of {}",
            app.forward_mode,
            FwdMode::ALL.map(|m| m.name()).join(", ")
        )
    })?;
    let cfg = match &app.config {
        Some(p) => NodeConfig::load(p)?,
        None => NodeConfig::default(),
    };
    let eth_peers = parse_eth_peers(&app.eth_peer, eal.devices.len())?;
    let cores = forwarding_cores(&eal, app.nb_cores)?;
    log::info!(
        "{}: {} device(s), forwarding cores {:?}, mode {}, burst {}",
        cfg.name,
        eal.devices.len(),
        cores,
        mode.name(),
        app.burst
    );
    let opts = RunOptions {
        threading: Threading::Threads(cores),
        burst: app.burst as usize,
        mode,
        eth_peers,
    };
    #[cfg(feature = "dpdk")]
    let (node, dpdk) = crate::run_dpdk::build_node(&eal, &app, cfg, opts)?;
    #[cfg(not(feature = "dpdk"))]
    let node: Box<dyn Control> = {
        let ports = open_ports(&eal, &app)?;
        log::info!("frame buffers in process memory: no hugepages without the DPDK port");
        Box::new(Node::new(ports, cfg, opts).map_err(|e| anyhow!(e))?)
    };
    let engine = Engine {
        node: Arc::new(Mutex::new(node)),
        quit: Arc::new(AtomicBool::new(false)),
    };
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, engine.quit.clone()).context("install signal handler")?;
    }
    if let Some(path) = &app.ctl_socket {
        ctl::serve(path, engine.clone())?;
    }
    if app.auto_start {
        console::run_line(&engine, "start");
    }
    if let Some(f) = &app.cmdline_file {
        console::cmdline_file(&engine, f)?;
    }
    let sup = {
        let engine = engine.clone();
        let period = app.stats_period.map(Duration::from_secs);
        std::thread::Builder::new()
            .name("supervisor".into())
            .spawn(move || supervise(&engine, period))?
    };
    if app.interactive {
        console::interactive(&engine);
    }
    let _ = sup.join();
    let mut node = engine.node.lock().unwrap_or_else(|p| p.into_inner());
    node.shutdown();
    #[cfg(feature = "dpdk")]
    dpdk.close();
    if let Some(path) = &app.ctl_socket {
        let _ = std::fs::remove_file(path);
    }
    console::say("Bye...");
    Ok(())
}

/// Waits for the quit flag, printing statistics every `period`.
fn supervise(engine: &Engine, period: Option<Duration>) {
    let mut next = period.map(|p| Instant::now() + p);
    while !engine.quit.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if let (Some(at), Some(p)) = (next, period) {
            if Instant::now() >= at {
                console::say(&engine.execute("show port stats all").text);
                next = Some(at + p);
            }
        }
    }
}

#[cfg(not(feature = "dpdk"))]
fn open_ports(eal: &eal::Eal, app: &AppArgs) -> Result<Vec<SwPort>> {
    if eal.devices.is_empty() {
        bail!("no ports: give a device, e.g. --vdev net_tap0,iface=ae0");
    }
    let queues = app.rxq.max(app.txq);
    let mut ports = Vec::new();
    for d in &eal.devices {
        match d {
            eal::Device::Tap { name, iface } => ports.push(SwPort::Tap(
                TapPort::open(&TapConfig {
                    name: name.clone(),
                    iface: iface.clone(),
                    queues,
                    pool_size: app.total_num_mbufs.max(64 * queues as usize),
                    mac: None,
                })
                .with_context(|| format!("open {name} (iface {iface}); TAP ports need root or CAP_NET_ADMIN"))?,
            )),
            eal::Device::Null { name, size } => ports.push(SwPort::Null(NullPort::new(
                name,
                queues,
                *size,
                app.total_num_mbufs.max(64 * queues as usize),
            ))),
            eal::Device::Dpdk(dev) => bail!(
                "device '{dev}' needs the DPDK build (cargo build --release -p anyedge-tools --features dpdk); \
                 this build has only --vdev net_tap<N>,iface=NAME"
            ),
        }
    }
    Ok(ports)
}

/// The forwarding cores: the lcores after the main one, at most `nb_cores`.
fn forwarding_cores(eal: &eal::Eal, nb_cores: Option<usize>) -> Result<Vec<usize>> {
    let all = match &eal.lcores {
        Some(l) => l.clone(),
        None => (0..std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1))
            .collect(),
    };
    let mut fwd: Vec<usize> = all.iter().skip(1).copied().collect();
    if fwd.is_empty() {
        log::warn!(
            "only one lcore: the forwarding core shares cpu {} with the console",
            all[0]
        );
        fwd = vec![all[0]];
    }
    if let Some(n) = nb_cores {
        if n == 0 || n > fwd.len() {
            bail!(
                "--nb-cores={n}: must be 1..={} (the lcores after the main one)",
                fwd.len()
            );
        }
        fwd.truncate(n);
    }
    Ok(fwd)
}

fn parse_eth_peers(args: &[String], nports: usize) -> Result<Vec<anyedge_port::MacAddr>> {
    let mut peers: Vec<_> = (0..nports).map(|i| [2, 0, 0, 0, 0, i as u8]).collect();
    for a in args {
        let bad = || anyhow!("--eth-peer {a}: expected PORT,XX:XX:XX:XX:XX:XX");
        let (p, m) = a.split_once(',').ok_or_else(bad)?;
        let p: usize = p.parse().map_err(|_| bad())?;
        let mac = anyedge_node::config::parse_mac(m).ok_or_else(bad)?;
        if p >= nports {
            bail!("--eth-peer {a}: there is no port {p}");
        }
        peers[p] = mac;
    }
    Ok(peers)
}
