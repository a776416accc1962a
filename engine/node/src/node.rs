//! The control side of a node: ports, queues, polling cores, start and stop.
//!
//! A [`Node`] owns the ports and, while forwarding is stopped, every queue (the
//! "bank"). `start` pairs queues into streams for the chosen mode and hands them
//! to the cores over crossbeam channels; `stop` takes them back. The cores
//! drain their channel between bursts, so the control plane never locks the
//! fast path. With [`Workers::Manual`] the cores are stepped by the caller
//! ([`Node::poll`]) in virtual time: that is how the simulator runs the real
//! node code.

use crate::clock::{Clock, MonotonicClock};
use crate::config::NodeConfig;
use crate::fwd::{Addrs, FwdCtx, FwdMode, PortView};
use crate::lcore::{Lcore, Stream};
use crate::stats::{LcoreCounters, StreamCounters, StreamStats};
use anyedge_port::{MacAddr, Port, PortInfo, QueueStats};
use anyedge_wire::ChecksumCaps;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the control plane waits for a core to answer.
const CORE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How the node runs its cores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Threading {
    /// One pinned thread per entry (CPU ids).
    Threads(Vec<usize>),
    /// `n` cores stepped by [`Node::poll`] on the caller's thread.
    Manual(usize),
}

/// Start-up options from the command line.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cores.
    pub threading: Threading,
    /// Frames per burst.
    pub burst: usize,
    /// Initial forwarding mode.
    pub mode: FwdMode,
    /// Destination MAC per port for `mac` and `txonly` (testpmd `--eth-peer`);
    /// missing entries default to `02:00:00:00:00:<port>`.
    pub eth_peers: Vec<MacAddr>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threading: Threading::Manual(1),
            burst: 32,
            mode: FwdMode::Io,
            eth_peers: Vec::new(),
        }
    }
}

/// Live and recently closed connections of a core.
type ConnRows = (Vec<crate::tcp::ConnRow>, Vec<crate::tcp::ConnRow>);

/// A message to a polling core.
pub(crate) enum CoreCmd<P: Port> {
    Start(Vec<Stream<P>>, FwdMode),
    Stop(Sender<Vec<Stream<P>>>),
    Arp(Sender<Vec<crate::arp::ArpEntry>>),
    Conns(Sender<(ConnRows, anyedge_tcp::table::TableStats)>),
    Connect(std::net::SocketAddrV4, Sender<Result<String, String>>),
    Quit,
}

pub(crate) struct CoreHandle<P: Port> {
    pub(crate) cpu: usize,
    pub(crate) tx: Sender<CoreCmd<P>>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

/// The cores of a node.
pub enum Workers<P: Port> {
    /// Pinned threads.
    #[allow(private_interfaces)]
    Threads(Vec<CoreHandle<P>>),
    /// Stepped by the caller.
    Manual(Vec<Lcore<P>>),
}

/// A node: ports, queues, cores and counters.
pub struct Node<P: Port> {
    pub(crate) cfg: NodeConfig,
    pub(crate) ports: Vec<P>,
    pub(crate) infos: Vec<PortInfo>,
    pub(crate) addrs: Arc<Addrs>,
    pub(crate) mode: FwdMode,
    pub(crate) running: bool,
    rx_bank: Vec<Vec<Option<P::Rx>>>,
    tx_bank: Vec<Vec<Option<P::Tx>>>,
    pub(crate) stream_counters: Vec<Vec<Arc<StreamCounters>>>,
    pub(crate) lcore_counters: Vec<Arc<LcoreCounters>>,
    pub(crate) workers: Workers<P>,
    pub(crate) port_base: Vec<QueueStats>,
    pub(crate) stream_base: Vec<Vec<StreamStats>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: Option<Arc<anyedge_cache::Cache>>,
    pub(crate) http_counters: Vec<Arc<crate::http::HttpCounters>>,
    pub(crate) anycast: Option<Arc<crate::anycast::shared::AnycastShared>>,
    pub(crate) overlay: Option<Arc<crate::overlay::OverlayShared>>,
}

impl<P: Port> Node<P> {
    /// Builds a node over `ports`, with addresses from `cfg`, and creates its
    /// cores (threads are spawned and pinned here, idle until `start`).
    pub fn new(mut ports: Vec<P>, cfg: NodeConfig, opts: RunOptions) -> Result<Self, String> {
        if ports.is_empty() {
            return Err("no ports: give at least one --vdev or -a device".into());
        }
        if cfg.ports.len() > ports.len() {
            return Err(format!(
                "the config has {} [[port]] tables but only {} port(s) were given",
                cfg.ports.len(),
                ports.len()
            ));
        }
        let infos: Vec<PortInfo> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut info = p.info();
                if let Some(mac) = cfg.ports.get(i).and_then(|c| c.mac) {
                    info.mac = mac;
                }
                info
            })
            .collect();
        let addrs = Arc::new(Addrs {
            ports: infos
                .iter()
                .enumerate()
                .map(|(i, info)| PortView {
                    mac: info.mac,
                    net: cfg.ports.get(i).map(|c| c.net),
                    gateway: cfg.ports.get(i).and_then(|c| c.gateway),
                    eth_peer: opts
                        .eth_peers
                        .get(i)
                        .copied()
                        .unwrap_or([2, 0, 0, 0, 0, i as u8]),
                    caps: rx_checksum_caps(&info.caps),
                })
                .collect(),
            vips: cfg.anycast.vips.clone(),
            neigh: Default::default(),
        });
        let mut rx_bank = Vec::new();
        let mut tx_bank = Vec::new();
        let mut stream_counters = Vec::new();
        for p in ports.iter_mut() {
            let (rx, tx) = p.take_queues();
            stream_counters.push(
                (0..rx.len())
                    .map(|_| Arc::new(StreamCounters::default()))
                    .collect::<Vec<_>>(),
            );
            rx_bank.push(rx.into_iter().map(Some).collect::<Vec<_>>());
            tx_bank.push(tx.into_iter().map(Some).collect::<Vec<_>>());
        }
        let n_cores = match &opts.threading {
            Threading::Threads(cpus) => cpus.len(),
            Threading::Manual(n) => *n,
        };
        if n_cores == 0 {
            return Err("no forwarding cores: give -l with at least two lcores (the first is the main lcore)".into());
        }
        let lcore_counters: Vec<_> = (0..n_cores)
            .map(|_| Arc::new(LcoreCounters::default()))
            .collect();
        let http_counters: Vec<_> = (0..n_cores)
            .map(|_| Arc::new(crate::http::HttpCounters::default()))
            .collect();
        let anycast = crate::anycast::shared::AnycastShared::new(&cfg).map(Arc::new);
        let overlay = crate::overlay::OverlayShared::new(&cfg, n_cores).map(Arc::new);
        let cache = match &cfg.cache_dir {
            None => None,
            Some(dir) => {
                // The region is memory the port's device can read by DMA
                // where the port has such (a DPDK memzone), else a mapping
                // of the cache's own.
                let dma = ports
                    .first()
                    .and_then(|p| p.dma_memory(cfg.cache_size as usize));
                let c = match dma {
                    Some(m) => anyedge_cache::Cache::with_region(
                        anyedge_cache::region::Region::from_static(m.bytes, m.huge, &m.what),
                        Some(dir.clone()),
                    ),
                    None => anyedge_cache::Cache::new(cfg.cache_size, Some(dir.clone())),
                }
                .map_err(|e| e.0)?;
                let r = c.load_dir(dir).map_err(|e| e.0)?;
                log::info!(
                    "cache: {} object(s), {} bytes from {}; {} refused",
                    r.loaded,
                    r.bytes,
                    dir.display(),
                    r.refused.len()
                );
                Some(Arc::new(c))
            }
        };
        let make = |i: usize| {
            Lcore::<P>::new(
                i,
                FwdCtx::with_tcp(
                    addrs.clone(),
                    &cfg,
                    crate::tcp::CoreSlot {
                        index: i,
                        count: n_cores,
                    },
                    cache.clone(),
                    http_counters[i].clone(),
                    anycast.clone(),
                    overlay.clone(),
                ),
                opts.burst,
                lcore_counters[i].clone(),
            )
        };
        let workers = match &opts.threading {
            Threading::Manual(n) => Workers::Manual((0..*n).map(make).collect()),
            Threading::Threads(cpus) => Workers::Threads(
                cpus.iter()
                    .enumerate()
                    .map(|(i, &cpu)| spawn_core(make(i), cpu, cfg.poll_sleep_ns))
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        let nports = ports.len();
        Ok(Node {
            stream_base: stream_counters
                .iter()
                .map(|v| vec![StreamStats::default(); v.len()])
                .collect(),
            cfg,
            ports,
            infos,
            addrs,
            mode: opts.mode,
            running: false,
            rx_bank,
            tx_bank,
            stream_counters,
            lcore_counters,
            workers,
            port_base: vec![QueueStats::default(); nports],
            clock: Arc::new(MonotonicClock::new()),
            cache,
            http_counters,
            anycast,
            overlay,
        })
    }

    /// Replaces the clock (the simulator passes its virtual clock).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// The port paired with `p` for forwarding modes (testpmd's default
    /// topology: 0<->1, 2<->3, a lone last port to itself).
    pub fn peer_port(&self, p: usize) -> usize {
        let n = self.ports.len();
        let q = p ^ 1;
        if q < n {
            q
        } else {
            p
        }
    }

    /// Whether forwarding runs.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The current mode.
    pub fn mode(&self) -> FwdMode {
        self.mode
    }

    /// The validated configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    /// Port facts, in port order.
    pub fn port_infos(&self) -> &[PortInfo] {
        &self.infos
    }

    /// Sets the mode; only while stopped, as in testpmd.
    pub fn set_mode(&mut self, mode: FwdMode) -> Result<(), String> {
        if self.running {
            return Err("Please stop forwarding first".into());
        }
        self.mode = mode;
        Ok(())
    }

    /// Pairs the queues into streams and hands them to the cores.
    pub fn start(&mut self) -> Result<usize, String> {
        if self.running {
            return Err("Packet forwarding already started".into());
        }
        let mut streams: Vec<Stream<P>> = Vec::new();
        for p in 0..self.ports.len() {
            let txp = if self.mode.answers_in_place() {
                p
            } else {
                self.peer_port(p)
            };
            for q in 0..self.rx_bank[p].len() {
                if q >= self.tx_bank[txp].len() {
                    continue;
                }
                let (Some(rxq), Some(txq)) =
                    (self.rx_bank[p][q].take(), self.tx_bank[txp][q].take())
                else {
                    return Err(format!("queue {q} of port {p} or {txp} is missing"));
                };
                streams.push(Stream {
                    rx_port: p as u16,
                    queue: q as u16,
                    tx_port: txp as u16,
                    rxq,
                    txq,
                    counters: self.stream_counters[p][q].clone(),
                });
            }
        }
        let n = streams.len();
        let now = self.clock.now();
        let mode = self.mode;
        match &mut self.workers {
            Workers::Manual(cores) => {
                let mut per = distribute(streams, cores.len());
                for (c, s) in cores.iter_mut().zip(per.drain(..)) {
                    c.start(s, mode, now);
                }
            }
            Workers::Threads(cores) => {
                let mut per = distribute(streams, cores.len());
                for (c, s) in cores.iter().zip(per.drain(..)) {
                    c.tx.send(CoreCmd::Start(s, mode))
                        .map_err(|_| format!("core on cpu {} is gone", c.cpu))?;
                }
            }
        }
        self.running = true;
        Ok(n)
    }

    /// Takes the streams back from the cores and returns their queues to the bank.
    pub fn stop(&mut self) -> Result<(), String> {
        if !self.running {
            return Err("Packet forwarding not started".into());
        }
        let mut back: Vec<Stream<P>> = Vec::new();
        match &mut self.workers {
            Workers::Manual(cores) => cores.iter_mut().for_each(|c| back.extend(c.stop())),
            Workers::Threads(cores) => {
                for c in cores.iter() {
                    let (tx, rx) = bounded(1);
                    c.tx.send(CoreCmd::Stop(tx))
                        .map_err(|_| format!("core on cpu {} is gone", c.cpu))?;
                    back.extend(
                        rx.recv_timeout(CORE_REPLY_TIMEOUT).map_err(|_| {
                            format!("core on cpu {} did not answer within 5 s", c.cpu)
                        })?,
                    );
                }
            }
        }
        for s in back {
            self.rx_bank[s.rx_port as usize][s.queue as usize] = Some(s.rxq);
            self.tx_bank[s.tx_port as usize][s.queue as usize] = Some(s.txq);
        }
        self.running = false;
        Ok(())
    }

    /// Steps manual cores once at `now`; returns frames moved. Does nothing for
    /// threaded cores, which poll by themselves.
    pub fn poll(&mut self, now: u64) -> usize {
        match &mut self.workers {
            Workers::Manual(cores) => cores.iter_mut().map(|c| c.poll(now)).sum(),
            Workers::Threads(_) => 0,
        }
    }

    /// Whether a manual core has TCP connections (the simulator then keeps
    /// polling it for their timers). Threaded cores poll by themselves.
    pub fn tcp_busy(&self) -> bool {
        match &self.workers {
            Workers::Manual(cores) => cores.iter().any(|c| c.tcp_busy()),
            Workers::Threads(_) => false,
        }
    }

    /// Every core's ARP cache entries.
    pub fn arp_entries(&self) -> Vec<crate::arp::ArpEntry> {
        match &self.workers {
            Workers::Manual(cores) => cores
                .iter()
                .flat_map(|c| c.ctx().arp.entries().to_vec())
                .collect(),
            Workers::Threads(cores) => {
                let mut all = Vec::new();
                for c in cores {
                    let (tx, rx) = bounded(1);
                    if c.tx.send(CoreCmd::Arp(tx)).is_ok() {
                        if let Ok(v) = rx.recv_timeout(CORE_REPLY_TIMEOUT) {
                            all.extend(v);
                        }
                    }
                }
                all
            }
        }
    }

    /// Every core's connections and the sum of their tables' counters.
    pub fn conns(&self) -> (ConnRows, Vec<anyedge_tcp::table::TableStats>) {
        let (mut live, mut recent, mut stats) = (Vec::new(), Vec::new(), Vec::new());
        match &self.workers {
            Workers::Manual(cores) => {
                for c in cores {
                    let (l, r) = c.conn_rows();
                    live.extend(l);
                    recent.extend(r);
                    stats.push(c.tcp_stats());
                }
            }
            Workers::Threads(cores) => {
                for c in cores {
                    let (tx, rx) = bounded(1);
                    if c.tx.send(CoreCmd::Conns(tx)).is_ok() {
                        if let Ok(((l, r), s)) = rx.recv_timeout(CORE_REPLY_TIMEOUT) {
                            live.extend(l);
                            recent.extend(r);
                            stats.push(s);
                        }
                    }
                }
            }
        }
        ((live, recent), stats)
    }

    /// Opens a TCP connection from the first core to `remote` (the engine as
    /// a client); what the peer sends is read and dropped.
    pub fn tcp_connect(&mut self, remote: std::net::SocketAddrV4) -> Result<String, String> {
        if !self.running || self.mode != FwdMode::Cdn {
            return Err("tcp connect needs cdn forwarding started".into());
        }
        let now = self.clock.now();
        match &mut self.workers {
            Workers::Manual(cores) => cores[0].tcp_connect(now, remote),
            Workers::Threads(cores) => {
                let (tx, rx) = bounded(1);
                cores[0]
                    .tx
                    .send(CoreCmd::Connect(remote, tx))
                    .map_err(|_| "core 0 is gone".to_string())?;
                rx.recv_timeout(CORE_REPLY_TIMEOUT)
                    .map_err(|_| "core 0 did not answer".to_string())?
            }
        }
    }

    /// Port counters since the last clear.
    pub fn port_stats(&self, p: usize) -> QueueStats {
        let sum = self.ports[p]
            .queue_counters()
            .iter()
            .fold(QueueStats::default(), |a, c| a.plus(&c.snapshot()));
        sum.minus(&self.port_base[p])
    }

    /// Stream counters of (port, queue) since the last clear.
    pub fn stream_stats(&self, p: usize, q: usize) -> StreamStats {
        self.stream_counters[p][q]
            .snapshot()
            .minus(&self.stream_base[p][q])
    }

    /// Sum of every stream's counters since the last clear.
    pub fn total_stats(&self) -> StreamStats {
        let mut t = StreamStats::default();
        for p in 0..self.stream_counters.len() {
            for q in 0..self.stream_counters[p].len() {
                t = t.plus(&self.stream_stats(p, q));
            }
        }
        t
    }

    /// Zeroes the port and stream counters (by moving the baseline).
    pub fn clear_stats(&mut self) {
        for p in 0..self.ports.len() {
            self.port_base[p] = self.ports[p]
                .queue_counters()
                .iter()
                .fold(QueueStats::default(), |a, c| a.plus(&c.snapshot()));
            for q in 0..self.stream_counters[p].len() {
                self.stream_base[p][q] = self.stream_counters[p][q].snapshot();
            }
        }
    }

    /// Link state of port `p`.
    pub fn link_up(&self, p: usize) -> bool {
        self.ports[p].link_up()
    }

    /// Stops forwarding and ends the core threads.
    pub fn shutdown(&mut self) {
        if self.running {
            if let Err(e) = self.stop() {
                log::warn!("stop at shutdown: {e}");
            }
        }
        if let Workers::Threads(cores) = &mut self.workers {
            for c in cores.iter_mut() {
                let _ = c.tx.send(CoreCmd::Quit);
                if let Some(t) = c.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

impl<P: Port> Drop for Node<P> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Round-robin streams over `n` cores (testpmd's default stream distribution).
fn distribute<T>(streams: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut per: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (i, s) in streams.into_iter().enumerate() {
        per[i % n].push(s);
    }
    per
}

fn spawn_core<P: Port>(
    mut lcore: Lcore<P>,
    cpu: usize,
    sleep_ns: u64,
) -> Result<CoreHandle<P>, String> {
    let (tx, rx): (Sender<CoreCmd<P>>, Receiver<CoreCmd<P>>) = crossbeam_channel::unbounded();
    let thread = std::thread::Builder::new()
        .name(format!("lcore-{cpu}"))
        .spawn(move || {
            let pinned = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
            if !pinned {
                log::warn!("lcore {}: could not pin to cpu {cpu}", lcore.id);
            }
            if sleep_ns > 0 {
                log::info!(
                    "lcore {}: sleeps {} us after an empty poll ([node] poll_sleep_us)",
                    lcore.id,
                    sleep_ns / 1000
                );
            }
            core_loop(&mut lcore, &rx, sleep_ns);
        })
        .map_err(|e| format!("spawn lcore thread: {e}"))?;
    Ok(CoreHandle {
        cpu,
        tx,
        thread: Some(thread),
    })
}

/// The life of a core thread: block for commands while stopped, poll while running,
/// and drain commands between bursts.
fn core_loop<P: Port>(lcore: &mut Lcore<P>, rx: &Receiver<CoreCmd<P>>, sleep_ns: u64) {
    let clock = MonotonicClock::new();
    let counters = lcore.counters().clone();
    // The time since the last clock read goes to busy or idle by whether the
    // polls in it moved frames. In cdn the clock is read every poll; in the
    // other modes only when a poll's outcome differs from the run before it,
    // and every COARSE_POLLS polls, so a core under steady load (or steadily
    // idle) reads it rarely, and no poll is counted on the wrong side.
    let mut last = clock.now();
    let mut now = last;
    let mut last_busy = false;
    let mut polls: u32 = 0;
    loop {
        polls = polls.wrapping_add(1);
        let cmd = if lcore.is_running() {
            // Draining the channel every 16 polls keeps it off most bursts.
            if polls.is_multiple_of(16) {
                rx.try_recv().ok()
            } else {
                None
            }
        } else {
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        if let Some(cmd) = cmd {
            counters.ctl_msgs.inc();
            // Time up to the command goes where the polls before it went
            // (a stopped core's wait for the command is neither).
            let t = clock.now();
            if lcore.is_running() {
                add_time(&counters, last_busy, t.saturating_sub(last));
            }
            match cmd {
                CoreCmd::Start(s, mode) => lcore.start(s, mode, t),
                CoreCmd::Stop(reply) => {
                    let _ = reply.send(lcore.stop());
                }
                CoreCmd::Arp(reply) => {
                    let _ = reply.send(lcore.ctx().arp.entries().to_vec());
                }
                CoreCmd::Conns(reply) => {
                    let _ = reply.send((lcore.conn_rows(), lcore.tcp_stats()));
                }
                CoreCmd::Connect(remote, reply) => {
                    let _ = reply.send(lcore.tcp_connect(clock.now(), remote));
                }
                CoreCmd::Quit => return,
            }
            // The command's own time is not a poll's: it is left out.
            last = clock.now();
            now = last;
            continue;
        }
        let per_poll = lcore.mode().needs_time_per_poll();
        if per_poll {
            now = clock.now();
        }
        let busy = lcore.poll(now) > 0;
        if !per_poll && (busy != last_busy || polls.is_multiple_of(COARSE_POLLS)) {
            // The run of polls like the previous one ends here (give or take
            // this poll).
            now = clock.now();
        }
        if now != last {
            // The time since the previous read was that of polls like the
            // previous one.
            add_time(&counters, last_busy, now.saturating_sub(last));
            last = now;
        }
        last_busy = busy;
        if !busy && sleep_ns > 0 {
            // Counted as idle time by the next read, as it is.
            std::thread::sleep(std::time::Duration::from_nanos(sleep_ns));
        }
    }
}

/// Polls between clock reads of a core in a mode without TCP (see
/// [`FwdMode::needs_time_per_poll`]): about 50 µs at a full burst per poll.
const COARSE_POLLS: u32 = 64;

#[inline]
fn add_time(counters: &LcoreCounters, busy: bool, dt: u64) {
    if busy {
        counters.busy_ns.add(dt);
    } else {
        counters.idle_ns.add(dt);
    }
}

/// The control plane's view of a node, whatever its port type, for the
/// console and the control socket. This is not the fast path, so the tools
/// hold it as a trait object and one binary can run a node of either build.
pub trait Control: Send {
    /// Runs one console command.
    fn execute(&mut self, line: &str) -> crate::Reply;
    /// Stops forwarding and ends the core threads.
    fn shutdown(&mut self);
}

impl<P: Port> Control for Node<P> {
    fn execute(&mut self, line: &str) -> crate::Reply {
        Node::execute(self, line)
    }

    fn shutdown(&mut self) {
        Node::shutdown(self)
    }
}

/// The checksums a port has verified on receive ([`PortCaps`]), in the
/// form the parser skips them by ([`ChecksumCaps`]): the node, the `get`
/// client and the bench load generator read a port's frames alike.
pub fn rx_checksum_caps(caps: &anyedge_port::PortCaps) -> ChecksumCaps {
    ChecksumCaps {
        ipv4_verified: caps.rx_ipv4_csum,
        l4_verified: caps.rx_l4_csum,
    }
}
