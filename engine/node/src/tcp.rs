//! The TCP side of a `cdn` core: the core's connection table, the services
//! bound to it, and the glue between segments, connections and frames.
//!
//! Segments addressed to the node go to [`TcpStack::on_segment`]; the table
//! answers what matches no connection (RFC 9293 3.10.7.1) and feeds the rest
//! to their connections. Each poll, [`TcpStack::run_timers`] fires due
//! timers and [`TcpStack::drain`] turns connection output into frames on the
//! stream's transmit queue, at most a burst per poll; connections with more
//! to send wait in a pending list for the next poll. A connection that got
//! segments is served once after the whole receive burst, not per segment:
//! one ACK then covers the burst (a stretch ACK, as from a Linux receiver
//! with GRO), and a sender takes all of a burst's ACKs before it sends
//! again. This halved the frames of a bulk transfer (bench/tcp).
//!
//! The parts: `services` (what each kind of connection does with its
//! bytes), `output` (segments and datagrams into frames), `anycast` (path
//! records, reset notices, the peer channel) and `rows` (`show conn`).
//!
//! Services (DESIGN.md issue 4, for testing the TCP on its own): discard
//! (RFC 863), echo (RFC 862) and chargen (RFC 864) on the ports of
//! `[services]`, and a sink that an active open (`tcp connect`) reads into.

use crate::arp::ArpCache;
use crate::config::{NodeConfig, Services};
use crate::fwd::{bare_tcp_frame, frame_from, Addrs};
use crate::stats::{NodeDrop, StreamCounters};
use anyedge_port::{MacAddr, TxQueue};
use anyedge_tcp::buffer::Shared;
use anyedge_tcp::conn::{ConnConfig, Event, Segment, State};
use anyedge_tcp::table::{ConnId, Dispatch, Table, TableConfig, TableStats};
use anyedge_wire::{
    emit_arp, emit_tcp, emit_tcp_head, emit_tcp_with, Arp, Ipv4Addr, TcpCsum, TcpHeader,
    ARP_REQUEST, MIN_HEAD_PAYLOAD,
};
use std::net::SocketAddrV4;
use std::sync::Arc;

mod anycast;
mod output;
mod rows;
mod services;

pub use rows::ConnRow;
pub use services::App;

/// What the node keeps per connection beside the TCP state: its port and
/// next hop, its service and where that service is in its stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub(crate) port: u16,
    peer_mac: Option<MacAddr>,
    next_hop: Ipv4Addr,
    pub(crate) app: App,
    chargen_pos: usize,
    /// How the connection ended, once it has.
    pub(crate) end: Option<Event>,
    /// When we last asked for the next hop's MAC.
    arp_at: Option<u64>,
    /// Pacing credit in bytes, and when it was last topped up.
    pace: (u64, u64),
}

impl Meta {
    /// A connection to `next_hop` on `port` serving `app`.
    pub(crate) fn new(port: u16, peer_mac: Option<MacAddr>, next_hop: Ipv4Addr, app: App) -> Meta {
        Meta {
            port,
            peer_mac,
            next_hop,
            app,
            chargen_pos: 0,
            end: None,
            arp_at: None,
            pace: (0, 0),
        }
    }
}

/// Closed connections remembered for `show conn`.
const RECENT: usize = 32;

/// Which of a node's polling cores a stack belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreSlot {
    /// This core's index, from 0.
    pub index: usize,
    /// The node's polling cores.
    pub count: usize,
}

impl CoreSlot {
    /// The only core of a single-core node.
    pub const ONE: CoreSlot = CoreSlot { index: 0, count: 1 };
}

/// First local port of active opens (the IANA dynamic range, RFC 6335).
const EPHEMERAL_FIRST: u16 = 49152;
/// Most spare datagram buffers a core keeps (`TcpStack::repl_bufs`).
const SPARE_BUFS: usize = 64;

/// A core's TCP stack.
#[derive(Debug)]
pub struct TcpStack {
    /// The connection table.
    pub table: Table,
    pub(crate) meta: Vec<Option<Meta>>,
    services: Services,
    pub(crate) scratch: Vec<u8>,
    touched: Vec<ConnId>,
    pub(crate) pending: Vec<ConnId>,
    /// Whether an id is in `pending` (by id), so that marking is O(1).
    in_pending: Vec<bool>,
    /// `pending`'s other buffer while [`TcpStack::drain`] walks it.
    spare_pending: Vec<ConnId>,
    /// Ids [`TcpStack::drain`] leaves for the next poll (kept allocated).
    keep: Vec<ConnId>,
    /// The next local port of an active open (see [`next_port`]).
    next_port: u16,
    /// Which polling core this stack runs on.
    pub(crate) core: CoreSlot,
    recent: std::collections::VecDeque<ConnRow>,
    pub(crate) http: Vec<Option<crate::http::HttpConn>>,
    pub(crate) cache: Option<std::sync::Arc<anyedge_cache::Cache>>,
    http_port: Option<u16>,
    limits: anyedge_http::Limits,
    http_counters: std::sync::Arc<crate::http::HttpCounters>,
    pub(crate) unix_base: u64,
    next_deadline_scan: u64,
    pub(crate) anycast: Option<std::sync::Arc<crate::anycast::shared::AnycastShared>>,
    /// Peer datagrams to send: (destination, payload).
    pub(crate) outbox: Vec<(SocketAddrV4, Vec<u8>)>,
    /// 4-tuples we already told the peers about (client, VIP).
    notified: std::collections::VecDeque<(SocketAddrV4, SocketAddrV4)>,
    next_record: u64,
    /// The overlay role of this node, if any (issue 7).
    pub(crate) overlay: Option<std::sync::Arc<crate::overlay::OverlayShared>>,
    /// Overlay state per connection slot.
    pub(crate) ov: Vec<Option<crate::overlay::stack::OvSlot>>,
    /// Idle edge-gateway connections.
    pub(crate) pool: Vec<ConnId>,
    /// Clients whose miss waits for a gateway connection: (client, key).
    pub(crate) fetch_wait: Vec<(ConnId, String)>,
    /// Backup edge: objects of replicated responses this node lacks, to
    /// fetch ahead of a takeover: (port, key).
    pub(crate) prefetch_wait: Vec<(u16, String)>,
    /// Keys of those prefetches, queued or in flight (at most one each).
    pub(crate) prefetching: Vec<String>,
    /// Edge: the gateway refused early data once; open normally from then on.
    pub(crate) early_off: bool,
    /// Gateway: edge connections whose handshake completed, waiting for
    /// their origin connection.
    pub(crate) relay_wait: Vec<ConnId>,
    /// Replication state per connection slot (a primary's client connections).
    pub(crate) repl: Vec<Option<crate::overlay::repl_stack::ReplSlot>>,
    /// When replication's retries, timeouts and probes next run.
    pub(crate) repl_next: u64,
    /// When a down backup is probed next.
    pub(crate) repl_probe: u64,
    /// When standby records are next checked for silent primaries.
    pub(crate) repl_poke_next: u64,
    /// Replication messages of this poll, per peer (one datagram each).
    pub(crate) repl_batch: Vec<(SocketAddrV4, Vec<u8>)>,
    /// A record being encoded (reused, so that encoding allocates nothing).
    /// Which response heads this core's backup holds (overlay::heads).
    pub(crate) repl_heads: crate::overlay::heads::PrimaryHeads,
    pub(crate) repl_scratch: Vec<u8>,
    /// Spare buffers for batches and peer datagrams (at most
    /// [`SPARE_BUFS`]): sent datagrams come back here, so a busy primary
    /// seals its batches without allocating.
    pub(crate) repl_bufs: Vec<Vec<u8>>,
    /// When the oldest message of `repl_batch` was queued.
    pub(crate) repl_batch_since: u64,
    /// Segments and datagrams handled since the last drain: while they
    /// keep coming, replication messages wait a little to share a datagram.
    pub(crate) rx_seen: u32,
}

/// How often serving connections record their path metrics.
const RECORD_NS: u64 = 1_000_000_000;

/// How often the HTTP header and idle deadlines are checked.
const DEADLINE_SCAN_NS: u64 = 100_000_000;

impl TcpStack {
    /// A stack sized from the node configuration for polling core `core`;
    /// the core's index seeds the ISN secret and picks its share of the
    /// local ports of active opens.
    pub fn new(
        cfg: &NodeConfig,
        mss: u16,
        core: CoreSlot,
        cache: Option<std::sync::Arc<anyedge_cache::Cache>>,
        http_counters: std::sync::Arc<crate::http::HttpCounters>,
        anycast: Option<std::sync::Arc<crate::anycast::shared::AnycastShared>>,
        overlay: Option<std::sync::Arc<crate::overlay::OverlayShared>>,
    ) -> Self {
        let t = &cfg.tcp;
        let table = Table::new(TableConfig {
            capacity: t.max_conns,
            syn_backlog: t.syn_backlog,
            rst_per_sec: t.rst_per_sec,
            conn: ConnConfig {
                mss,
                send_buf: t.send_buf,
                recv_buf: t.recv_buf,
                cc: t.cc,
                ..ConnConfig::default()
            },
            // RFC 6528 asks for a secret; the node name and core vary it per
            // process, and the 4-microsecond clock does the rest.
            secret: cfg
                .name
                .bytes()
                .fold(0x9e37_79b9_7f4a_7c15u64 ^ core.index as u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                }),
            syn_cookies: true,
        });
        let mut s = TcpStack {
            meta: vec![None; table.capacity()],
            in_pending: vec![false; table.capacity()],
            table,
            services: cfg.services,
            scratch: vec![0u8; 64 * 1024],
            touched: Vec::with_capacity(1024),
            pending: Vec::with_capacity(1024),
            spare_pending: Vec::with_capacity(1024),
            keep: Vec::with_capacity(1024),
            next_port: first_port(core),
            core,
            recent: std::collections::VecDeque::with_capacity(RECENT),
            http: Vec::new(),
            http_port: cache.as_ref().map(|_| cfg.http_port),
            cache,
            limits: anyedge_http::Limits::default(),
            http_counters,
            unix_base: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            next_deadline_scan: 0,
            anycast,
            outbox: Vec::new(),
            notified: std::collections::VecDeque::with_capacity(64),
            next_record: 0,
            overlay,
            ov: Vec::new(),
            pool: Vec::new(),
            fetch_wait: Vec::new(),
            prefetch_wait: Vec::new(),
            prefetching: Vec::new(),
            early_off: false,
            relay_wait: Vec::new(),
            repl: Vec::new(),
            repl_next: 0,
            repl_probe: 0,
            repl_poke_next: 0,
            repl_batch: Vec::new(),
            repl_bufs: Vec::new(),
            repl_scratch: Vec::with_capacity(crate::anycast::peer::MAX_REPL),
            repl_heads: Default::default(),
            repl_batch_since: 0,
            rx_seen: 0,
        };
        s.http = (0..s.table.capacity()).map(|_| None).collect();
        s.ov = (0..s.table.capacity()).map(|_| None).collect();
        s.repl = (0..s.table.capacity()).map(|_| None).collect();
        if let Some((_, p)) = s.overlay.as_ref().and_then(|o| o.origin()) {
            s.table.listen(p);
        }
        if let Some(p) = s.http_port {
            s.table.listen(p);
        }
        for p in [
            cfg.services.discard,
            cfg.services.echo,
            cfg.services.chargen,
        ]
        .into_iter()
        .flatten()
        {
            s.table.listen(p);
        }
        s
    }

    /// Table counters.
    pub fn stats(&self) -> TableStats {
        self.table.stats()
    }

    fn app_for(&self, port: u16) -> App {
        if self.overlay.as_ref().and_then(|o| o.origin()).map(|o| o.1) == Some(port) {
            App::GwDown
        } else if Some(port) == self.http_port {
            App::Http
        } else if Some(port) == self.services.echo {
            App::Echo
        } else if Some(port) == self.services.chargen {
            App::Chargen
        } else {
            App::Discard
        }
    }

    /// Handles a segment from `remote` (whose frame came from `eth_src`) to
    /// `local`, received on `port`; answers go into `tx`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_segment<T: TxQueue>(
        &mut self,
        now: u64,
        addrs: &Addrs,
        arp: &mut ArpCache,
        port: u16,
        eth_src: MacAddr,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
        burst: usize,
    ) {
        self.rx_seen = self.rx_seen.wrapping_add(1);
        // A client of a connection replicated to us whose primary is gone
        // (or whose route moved here): continue it instead of a RST.
        self.repl_takeover(now, port, eth_src, local, remote, seg);
        let dispatch = match self.overlay.as_deref().and_then(|o| o.early_gateway()) {
            // A gateway takes early data from edges that hold the site key.
            Some((key, listen)) => self.table.handle_with(
                now,
                local,
                remote,
                seg,
                &|t: &anyedge_tcp::table::FourTuple, iss: u32, isn: u32, tag: [u8; 8]| {
                    t.local.port() == listen
                        && crate::overlay::early::verify(key, t.remote, t.local, iss, isn, tag)
                },
            ),
            None => self.table.handle(now, local, remote, seg),
        };
        match dispatch {
            Dispatch::Reply(h) => {
                if h.flags == anyedge_wire::tcp_flags::RST {
                    self.notify_reset(now, remote, local, addrs);
                }
                let mac = addrs.mac(port);
                if let Some(b) = frame_from(txq, counters, |buf| {
                    emit_tcp(
                        buf,
                        eth_src,
                        mac,
                        None,
                        *local.ip(),
                        *remote.ip(),
                        64,
                        &h,
                        &[],
                    )
                }) {
                    counters.answered.inc();
                    tx.push(b);
                }
            }
            Dispatch::Dropped => counters.drop(NodeDrop::TcpRefused),
            Dispatch::Accepted(id) => {
                counters.consumed.inc();
                if self.app_for(local.port()) == App::Http {
                    let mut h = crate::http::HttpConn::new(now);
                    // Replicated from the first request on (overlay::repl).
                    h.replicated = self.overlay.as_ref().is_some_and(|o| o.repl.active());
                    self.http[id] = Some(h);
                }
                self.meta[id] = Some(Meta::new(
                    port,
                    Some(eth_src),
                    *remote.ip(),
                    self.app_for(local.port()),
                ));
                if self.app_for(local.port()) == App::GwDown {
                    self.ov[id] = Some(crate::overlay::stack::OvSlot::GwDown {
                        up: crate::overlay::stack::UP_PENDING,
                    });
                }
                if self.serve_and_drain(now, id, addrs, arp, counters, tx, txq, burst) {
                    self.mark_pending(id);
                }
            }
            Dispatch::Conn(id) => {
                counters.consumed.inc();
                if let Some(m) = self.meta[id].as_mut() {
                    m.peer_mac = Some(eth_src);
                }
                // Served and sent once after the whole burst ([`TcpStack::drain`]):
                // one ACK covers the burst's segments, and a sender takes
                // all the burst's ACKs before it sends again.
                self.mark_pending(id);
            }
        }
    }

    /// Opens a connection to `remote` from the address of `port` (the
    /// engine as a client); what arrives is read and dropped.
    pub fn connect(
        &mut self,
        now: u64,
        addrs: &Addrs,
        arp: &ArpCache,
        port: u16,
        remote: SocketAddrV4,
    ) -> Result<ConnId, String> {
        self.connect_with(now, addrs, arp, port, remote, None)
    }

    /// As [`TcpStack::connect`]; with `early_key`, the SYN proposes the
    /// peer's ISN and data may follow it at once (overlay early data).
    pub(crate) fn connect_with(
        &mut self,
        now: u64,
        addrs: &Addrs,
        arp: &ArpCache,
        port: u16,
        remote: SocketAddrV4,
        early_key: Option<&[u8]>,
    ) -> Result<ConnId, String> {
        let view = addrs.ports.get(port as usize).ok_or("no such port")?;
        let net = view.net.ok_or("the port has no address in the config")?;
        let next_hop = if net.contains(*remote.ip()) {
            *remote.ip()
        } else {
            view.gateway.ok_or_else(|| {
                format!("{} is off-link and port {port} has no gateway", remote.ip())
            })?
        };
        for _ in 0..16384 {
            let lport = self.next_port;
            self.next_port = next_port(self.core, lport);
            let local = SocketAddrV4::new(net.addr, lport);
            let opened = match early_key {
                Some(k) => self.table.connect_early(now, local, remote, |iss| {
                    crate::overlay::early::propose(k, local, remote, iss)
                }),
                None => self.table.connect(now, local, remote),
            };
            if let Some(id) = opened {
                self.meta[id] = Some(Meta::new(port, arp.lookup(next_hop), next_hop, App::Sink));
                self.mark_pending(id);
                return Ok(id);
            }
            if self.table.len() >= self.table.capacity() {
                return Err("connection table full".into());
            }
        }
        Err("no free local port".into())
    }

    /// Fires due timers; the connections they touched are drained by [`TcpStack::drain`].
    pub fn run_timers(&mut self, now: u64) {
        self.repl_handoffs(now);
        let mut touched = std::mem::take(&mut self.touched);
        self.table.handle_timeouts(now, &mut touched);
        if now >= self.repl_next {
            self.repl_timers(now, &mut touched);
        }
        if now >= self.next_record {
            self.next_record = now + RECORD_NS;
            let ids: Vec<ConnId> = self.table.iter().map(|(id, _)| id).collect();
            for id in ids {
                if self.meta[id].is_some_and(|m| m.app == App::Http) {
                    self.record_path(now, id);
                }
            }
        }
        if now >= self.next_deadline_scan {
            self.next_deadline_scan = now + DEADLINE_SCAN_NS;
            self.overlay_timers(now, &mut touched);
            for (id, h) in self.http.iter_mut().enumerate() {
                let Some(h) = h.as_mut() else { continue };
                if h.timed_out(now, &self.http_counters) {
                    if let Some(c) = self.table.get_mut(id) {
                        c.close();
                    }
                    touched.push(id);
                }
            }
        }
        for id in touched.drain(..) {
            self.mark_pending(id);
        }
        self.touched = touched;
    }

    /// Turns pending output of connections on `port` into frames, at most
    /// `burst` frames in `tx` (the rest waits for the next poll).
    #[allow(clippy::too_many_arguments)]
    pub fn drain<T: TxQueue>(
        &mut self,
        now: u64,
        port: u16,
        addrs: &Addrs,
        arp: &mut ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
        burst: usize,
    ) {
        self.repl_maybe_flush(now);
        if !self.prefetch_wait.is_empty() {
            self.start_fetches(now, addrs, arp);
        }
        self.flush_outbox(port, addrs, arp, counters, tx, txq);
        self.repl_pokes(now, port, addrs, arp, counters, tx, txq);
        self.deferred_rsts(now, port, addrs, arp, counters, tx, txq);
        // Marks made while serving go to the spare list (in `self.pending`).
        let spare = std::mem::take(&mut self.spare_pending);
        let mut pending = std::mem::replace(&mut self.pending, spare);
        for &id in &pending {
            self.in_pending[id] = false;
        }
        let mut keep = std::mem::take(&mut self.keep);
        for id in pending.drain(..) {
            if self.meta[id].is_some_and(|m| m.port != port) {
                keep.push(id);
                continue;
            }
            if self.serve_and_drain(now, id, addrs, arp, counters, tx, txq, burst) {
                keep.push(id);
            }
        }
        // Those left over join those marked while serving, each once.
        for id in keep.drain(..) {
            self.mark_pending(id);
        }
        self.keep = keep;
        self.spare_pending = pending;
    }

    /// Queues `id` for [`TcpStack::drain`] (once, however often marked).
    pub(crate) fn mark_pending(&mut self, id: ConnId) {
        if !self.in_pending[id] {
            self.in_pending[id] = true;
            self.pending.push(id);
        }
    }

    /// Runs the service of `id`, then sends its output. Returns true when it
    /// has more to send than fit in this burst.
    #[allow(clippy::too_many_arguments)]
    fn serve_and_drain<T: TxQueue>(
        &mut self,
        now: u64,
        id: ConnId,
        addrs: &Addrs,
        arp: &mut ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
        burst: usize,
    ) -> bool {
        self.serve(id, now);
        if !self.fetch_wait.is_empty() {
            self.start_fetches(now, addrs, arp);
        }
        if !self.relay_wait.is_empty() {
            self.start_relays(now, addrs, arp);
        }
        let more = self.send_output(now, id, addrs, arp, counters, tx, txq, burst);
        // Service again: sending may have freed room (chargen, HTTP) or the
        // connection may have ended.
        self.serve(id, now);
        self.table.rearm(id, now);
        if self.table.get(id).is_some_and(|c| c.is_closed()) {
            self.end_resume(id);
            if self.meta[id].is_some_and(|m| m.app == App::Http) {
                self.record_path(now, id);
            }
            if let Some(mut row) = self.row(usize::MAX, id) {
                row.state = match self.meta[id].and_then(|m| m.end) {
                    Some(Event::Reset) => "CLOSED (reset)",
                    Some(Event::TimedOut) => "CLOSED (timed out)",
                    _ => "CLOSED",
                };
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(row);
            }
            self.overlay_reaped(now, id);
            self.repl_reaped(now, id);
            self.table.reap(id);
            self.meta[id] = None;
            self.http[id] = None;
            return false;
        }
        more
    }
}

/// The first local port core `c` uses for active opens.
fn first_port(c: CoreSlot) -> u16 {
    EPHEMERAL_FIRST + (c.index % c.count.max(1)) as u16
}

/// The local port after `p` for core `c`. The cores of a node take turns
/// through the dynamic range (core i uses the ports congruent to i modulo
/// the core count), so two cores never open the same 4-tuple: each core
/// owns its connections, and a second core reusing a port would send a
/// peer a SYN for a connection that peer already has.
fn next_port(c: CoreSlot, p: u16) -> u16 {
    let step = c.count.max(1) as u16;
    match p.checked_add(step) {
        Some(n) => n,
        None => first_port(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_take_disjoint_local_ports_and_wrap_in_the_dynamic_range() {
        let mut seen = std::collections::HashSet::new();
        for index in 0..3 {
            let c = CoreSlot { index, count: 3 };
            let mut p = first_port(c);
            for _ in 0..20_000 {
                assert!(p >= EPHEMERAL_FIRST);
                assert_eq!(usize::from(p - EPHEMERAL_FIRST) % 3, index);
                seen.insert(p);
                p = next_port(c, p);
            }
        }
        assert_eq!(
            seen.len(),
            usize::from(u16::MAX - EPHEMERAL_FIRST) + 1,
            "every port, once per core"
        );
        assert_eq!(next_port(CoreSlot::ONE, u16::MAX), EPHEMERAL_FIRST);
    }
}
