//! The connection table of one polling core.
//!
//! It is sized at start: a slab of connection slots, a 4-tuple index with
//! that capacity, and a timer wheel. It owns the listeners, chooses ISNs
//! (RFC 6528), answers segments that match no connection (RFC 9293
//! 3.10.7.1), rate-limits those resets, and falls back to SYN cookies
//! (RFC 4987 section 3.6) when the SYN backlog is full. A full table is a
//! counted refusal, never an allocation spike.

use crate::conn::{Conn, ConnConfig, Segment, State};
use crate::seq::Seq;
use anyedge_wire::tcp_flags::{ACK, FIN, RST, SYN};
use anyedge_wire::{TcpHeader, TcpOptions};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A connection's key: (local, remote).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddrV4,
    /// The peer's address and port.
    pub remote: SocketAddrV4,
}

/// Index of a connection in its table.
pub type ConnId = usize;

/// Table sizes and limits.
#[derive(Clone, Copy, Debug)]
pub struct TableConfig {
    /// Connection slots.
    pub capacity: usize,
    /// Connections in SYN-RECEIVED before SYN cookies take over.
    pub syn_backlog: usize,
    /// Resets for segments without a connection, per second (RFC 9293 3.10.7.1
    /// answers; the limit keeps a flood from being reflected).
    pub rst_per_sec: u32,
    /// Settings of each connection.
    pub conn: ConnConfig,
    /// Secret for ISNs and SYN cookies (RFC 6528's secretkey); seeded by the node.
    pub secret: u64,
    /// Answer with SYN cookies when the backlog is full (else refuse with RST).
    pub syn_cookies: bool,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            capacity: 4096,
            syn_backlog: 1024,
            rst_per_sec: 1000,
            conn: ConnConfig::default(),
            secret: 0x5eed_a11c_e5ca_1ab1,
            syn_cookies: true,
        }
    }
}

/// Table counters, for `show conn` and `show drops`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Connections opened (both directions).
    pub opened: u64,
    /// Connections that got the buffers of a freed one (`table::pool`).
    pub buffers_reused: u64,
    /// Buffer pairs kept for reuse now.
    pub buffers_spare: u64,
    /// Connections that reached CLOSED and were freed.
    pub closed: u64,
    /// RSTs sent for segments that matched no connection.
    pub rst_sent: u64,
    /// Of those, RSTs answering an ACK (`<SEQ=SEG.ACK><CTL=RST>`): the stray-ACK case.
    pub rst_stray_ack: u64,
    /// RSTs not sent at once because of the rate limit.
    pub rst_rate_limited: u64,
    /// Of those, RSTs sent later, when the limit allowed: the answer to the
    /// last stray segment of each 4-tuple is kept (see [`Table::poll_deferred_rst`]).
    pub rst_deferred: u64,
    /// RSTs received that matched no connection (dropped, RFC 9293).
    pub rst_ignored: u64,
    /// Segments with neither SYN nor ACK (nor RST) to a listening port:
    /// dropped without an answer (RFC 9293 3.10.7.2, LISTEN, "fourth").
    pub listen_dropped: u64,
    /// SYNs refused because the table was full.
    pub refused_full: u64,
    /// SYN cookies sent.
    pub cookies_sent: u64,
    /// Connections created from a valid cookie.
    pub cookies_accepted: u64,
    /// ACKs carrying an invalid cookie.
    pub cookies_invalid: u64,
    /// TIME-WAIT slots given to new connections (table full, or a new SYN
    /// for the same 4-tuple).
    pub time_wait_reused: u64,
    /// SYNs whose early-data proposal was verified and accepted (issue 7).
    pub early_accepted: u64,
    /// SYNs whose early-data proposal was refused (bad tag, a stranger, or
    /// a SYN cookie answer): handled as normal SYNs.
    pub early_rejected: u64,
    /// Early-data segments dropped on connections whose proposal was refused.
    pub early_dropped: u64,
}

/// What the table did with a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// It went to this connection (which may now have output).
    Conn(ConnId),
    /// A new connection was accepted from a SYN (or a cookie).
    Accepted(ConnId),
    /// Send this stateless answer (a RST or a SYN-cookie SYN-ACK).
    Reply(TcpHeader),
    /// Nothing to do (dropped, or answer rate-limited).
    Dropped,
}

/// A hashed timer wheel with lazy deletion: each connection is filed under
/// its next deadline; stale entries are skipped when their slot comes up.
#[derive(Debug)]
struct Wheel {
    slots: Vec<Vec<(u64, ConnId)>>,
    tick_ns: u64,
    /// Every deadline before this has been handled.
    done_until: u64,
}

impl Wheel {
    fn new(slots: usize, tick_ns: u64) -> Self {
        Wheel {
            slots: (0..slots).map(|_| Vec::with_capacity(8)).collect(),
            tick_ns,
            done_until: 0,
        }
    }

    fn slot(&self, t: u64) -> usize {
        ((t / self.tick_ns) % self.slots.len() as u64) as usize
    }

    fn insert(&mut self, deadline: u64, id: ConnId) {
        let d = deadline.max(self.done_until);
        let s = self.slot(d);
        self.slots[s].push((deadline, id));
    }

    /// Takes the (deadline, id) entries due at or before `now`.
    fn expire(&mut self, now: u64, out: &mut Vec<(u64, ConnId)>) {
        if now < self.done_until {
            return;
        }
        let n = self.slots.len() as u64;
        let first = self.done_until / self.tick_ns;
        let last = now / self.tick_ns;
        let ticks = (last - first + 1).min(n);
        for k in 0..ticks {
            let s = ((first + k) % n) as usize;
            self.slots[s].retain(|&(d, id)| {
                if d <= now {
                    out.push((d, id));
                    false
                } else {
                    true
                }
            });
        }
        self.done_until = now + 1;
    }
}

/// The connection table of one core.
#[derive(Debug)]
pub struct Table {
    cfg: TableConfig,
    slots: Vec<Option<Conn>>,
    free: Vec<ConnId>,
    /// 4-tuple to slot, the lookup of every segment. Hashed with foldhash,
    /// seeded at random per table: SipHash (std's default) was 5% of a
    /// receiving core in bench/tcp's bulk row. A random seed keeps a remote
    /// host from choosing colliding tuples in advance (hash flooding); the
    /// SYN queue limit and SYN cookies bound what it can insert at all.
    index: HashMap<FourTuple, ConnId, foldhash::fast::RandomState>,
    listeners: Vec<u16>,
    wheel: Wheel,
    expired: Vec<(u64, ConnId)>,
    /// The deadline each slot has filed in the wheel (`u64::MAX`: none), so
    /// that a connection keeps one live entry however often it is rearmed.
    filed: Vec<u64>,
    syn_received: usize,
    rst_window: (u64, u32),
    /// The rate-limited RST answer to the latest stray segment of each
    /// 4-tuple, sent when the limit allows (at most [`DEFERRED_RST_MAX`]).
    deferred_rst: HashMap<FourTuple, TcpHeader, foldhash::fast::RandomState>,
    stats: TableStats,
    pool: pool::BufPool,
}

/// Most 4-tuples with a deferred RST.
pub const DEFERRED_RST_MAX: usize = 1024;

/// MSS values a SYN cookie can encode (RFC 4987 3.6: a few common sizes).
const COOKIE_MSS: [u16; 4] = [536, 1220, 1440, 1460];
/// SYN cookie time counter period: 64 s.
const COOKIE_PERIOD_NS: u64 = 64_000_000_000;

impl Table {
    /// A table with every slot allocated now.
    pub fn new(cfg: TableConfig) -> Self {
        let cap = cfg.capacity.max(1);
        Table {
            cfg,
            slots: (0..cap).map(|_| None).collect(),
            free: (0..cap).rev().collect(),
            index: HashMap::with_capacity_and_hasher(cap, foldhash::fast::RandomState::default()),
            listeners: Vec::new(),
            wheel: Wheel::new(1024, 1_000_000),
            expired: Vec::with_capacity(cap),
            filed: vec![u64::MAX; cap],
            syn_received: 0,
            rst_window: (0, 0),
            deferred_rst: HashMap::default(),
            stats: TableStats::default(),
            pool: pool::BufPool::default(),
        }
    }

    /// Accepts connections on `port` (any local address).
    pub fn listen(&mut self, port: u16) {
        if !self.listeners.contains(&port) {
            self.listeners.push(port);
        }
    }

    /// Whether `port` has a listener.
    pub fn is_listening(&self, port: u16) -> bool {
        self.listeners.contains(&port)
    }

    /// Counters.
    pub fn stats(&self) -> TableStats {
        TableStats {
            buffers_reused: self.pool.reused,
            buffers_spare: self.pool.len() as u64,
            ..self.stats
        }
    }

    /// Connections in use.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no connection is in use.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Slot capacity.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// A connection.
    pub fn get(&self, id: ConnId) -> Option<&Conn> {
        self.slots.get(id).and_then(|c| c.as_ref())
    }

    /// A connection, writable.
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.slots.get_mut(id).and_then(|c| c.as_mut())
    }

    /// Every connection in use.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i, c)))
    }

    /// The connection of a 4-tuple.
    pub fn lookup(&self, t: &FourTuple) -> Option<ConnId> {
        self.index.get(t).copied()
    }

    /// RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock.
    pub fn isn(&self, now: u64, t: &FourTuple) -> u32 {
        let m = (now / 4_000) as u32;
        m.wrapping_add(self.keyed_hash(t, 0) as u32)
    }

    fn keyed_hash(&self, t: &FourTuple, extra: u64) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.cfg.secret.hash(&mut h);
        t.hash(&mut h);
        extra.hash(&mut h);
        h.finish()
    }

    fn insert(&mut self, t: FourTuple, mut c: Conn, now: u64) -> Option<ConnId> {
        let id = self.free.pop()?;
        self.pool.lend(&mut c);
        if c.state() == State::SynReceived {
            self.syn_received += 1;
        }
        self.slots[id] = Some(c);
        self.filed[id] = u64::MAX;
        self.index.insert(t, id);
        self.stats.opened += 1;
        self.rearm(id, now);
        Some(id)
    }

    /// Opens a connection to `remote` from `local` (active open).
    pub fn connect(
        &mut self,
        now: u64,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Option<ConnId> {
        let t = FourTuple { local, remote };
        if self.index.contains_key(&t) {
            return None;
        }
        let c = Conn::connect(self.cfg.conn, local, remote, self.isn(now, &t), now);
        self.insert(t, c, now)
    }

    /// Takes in a connection built elsewhere: a backup continuing a
    /// replicated connection (`Conn::from_snapshot`). `None` when the
    /// 4-tuple is in use or the table is full.
    pub fn adopt(&mut self, now: u64, c: Conn) -> Option<ConnId> {
        let t = FourTuple {
            local: c.local,
            remote: c.remote,
        };
        if self.index.contains_key(&t) {
            return None;
        }
        self.insert(t, c, now)
    }

    /// The settings new connections get.
    pub fn conn_config(&self) -> ConnConfig {
        self.cfg.conn
    }

    /// Keeps the SYN-RECEIVED count and the wheel in step after `id` changed
    /// (state `was` before the change).
    pub fn after_change(&mut self, id: ConnId, was: State, now: u64) {
        let is = self.get(id).map(|c| c.state());
        if was == State::SynReceived && is != Some(State::SynReceived) {
            self.syn_received = self.syn_received.saturating_sub(1);
        }
        self.rearm(id, now);
    }

    /// Files a connection's next deadline in the wheel (call after any change).
    pub fn rearm(&mut self, id: ConnId, _now: u64) {
        // Only an earlier deadline needs a new entry: a later one is found
        // when the filed entry comes due (and refiled then).
        if let Some(t) = self.get(id).and_then(|c| c.poll_timeout()) {
            if t < self.filed[id] {
                self.filed[id] = t;
                self.wheel.insert(t, id);
            }
        }
    }

    /// Dispatches a segment from `remote` to `local`, refusing every
    /// early-data proposal (see [`Table::handle_with`]).
    pub fn handle(
        &mut self,
        now: u64,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment,
    ) -> Dispatch {
        self.handle_with(now, local, remote, seg, &NoEarlyAuth)
    }

    /// Dispatches a segment from `remote` to `local`; `auth` decides whether
    /// a SYN's early-data proposal is from a configured overlay peer.
    pub fn handle_with<A: EarlyAuth + ?Sized>(
        &mut self,
        now: u64,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment,
        auth: &A,
    ) -> Dispatch {
        let t = FourTuple { local, remote };
        if let Some(id) = self.index.get(&t).copied() {
            // RFC 1122 4.2.2.13: a new SYN may reopen a connection in
            // TIME-WAIT when its sequence number is past the old one's.
            let reopen = self.slots[id].as_ref().is_some_and(|c| {
                c.state() == State::TimeWait && is_syn(seg) && Seq(seg.seq).gt(c.seqs().2)
            });
            if reopen {
                self.drop_slot(id);
                self.stats.time_wait_reused += 1;
            }
        }
        if let Some(id) = self.index.get(&t).copied() {
            if let Some(c) = self.slots[id].as_mut() {
                if c.is_rejected_early_data(seg) {
                    self.stats.early_dropped += 1;
                    return Dispatch::Dropped;
                }
                let was = c.state();
                c.handle_segment(now, seg);
                self.after_change(id, was, now);
                return Dispatch::Conn(id);
            }
        }
        if seg.flags & RST != 0 {
            // RFC 9293 3.10.7.1: an incoming RST with no connection is discarded.
            self.stats.rst_ignored += 1;
            return Dispatch::Dropped;
        }
        let listening = self.is_listening(local.port());
        if listening && seg.flags & (SYN | ACK) == 0 {
            // RFC 9293 3.10.7.2, LISTEN: a RST is ignored (above), any ACK
            // gets <SEQ=SEG.ACK><CTL=RST> (reset_for, below), a SYN opens a
            // connection; "fourth, other data or control ... drop the
            // segment and return". The CLOSED answer <SEQ=0><ACK=..><CTL=
            // RST,ACK> of 3.10.7.1 is only for a port nobody listens on.
            self.stats.listen_dropped += 1;
            return Dispatch::Dropped;
        }
        if listening && seg.flags & (SYN | ACK) == SYN {
            return self.on_syn(now, t, seg, auth);
        }
        if listening && seg.flags & (SYN | ACK) == ACK && self.cfg.syn_cookies {
            if let Some(d) = self.on_cookie_ack(now, t, seg) {
                return d;
            }
        }
        self.reset_for(now, t, seg)
    }

    /// The RFC 9293 3.10.7.1 answer to a segment that matches no connection,
    /// subject to the rate limit. The anycast takeover depends on the
    /// `<SEQ=SEG.ACK><CTL=RST>` form: it is what a node sends to a client that
    /// routing moved to it in the middle of a download.
    pub fn reset_for(&mut self, now: u64, t: FourTuple, seg: &Segment) -> Dispatch {
        if seg.flags & RST != 0 {
            self.stats.rst_ignored += 1;
            return Dispatch::Dropped;
        }
        let allowed = self.rst_allowed(now);
        if allowed {
            self.stats.rst_sent += 1;
        } else {
            self.stats.rst_rate_limited += 1;
        }
        let mut h = TcpHeader {
            src_port: t.local.port(),
            dst_port: t.remote.port(),
            ..TcpHeader::default()
        };
        if seg.flags & ACK != 0 {
            if allowed {
                self.stats.rst_stray_ack += 1;
            }
            h.seq = seg.ack;
            h.flags = RST;
        } else {
            h.seq = 0;
            h.ack = (Seq(seg.seq) + seg.len()).0;
            h.flags = RST | ACK;
        }
        if !allowed {
            // The latest answer per 4-tuple waits for the limit: a client
            // whose stray ACKs outran it would otherwise wait forever once
            // the old node stops sending (its last ACK got no RST).
            if self.deferred_rst.len() < DEFERRED_RST_MAX || self.deferred_rst.contains_key(&t) {
                self.deferred_rst.insert(t, h);
            }
            return Dispatch::Dropped;
        }
        self.deferred_rst.remove(&t);
        Dispatch::Reply(h)
    }

    /// A deferred RST (see [`Table::reset_for`]) once the rate limit
    /// allows one, for a 4-tuple that still has no connection: its
    /// 4-tuple and header. The node calls it each poll until `None`, and
    /// [`Table::deferred_rst_sent`] for each it sends.
    pub fn poll_deferred_rst(&mut self, now: u64) -> Option<(FourTuple, TcpHeader)> {
        if self.deferred_rst.is_empty() {
            return None;
        }
        while let Some(&t) = self.deferred_rst.keys().next() {
            if self.index.contains_key(&t) {
                self.deferred_rst.remove(&t);
                continue;
            }
            if !self.rst_allowed(now) {
                return None;
            }
            let h = self.deferred_rst.remove(&t).expect("key just seen");
            return Some((t, h));
        }
        None
    }

    /// The node sent a deferred RST it got from [`Table::poll_deferred_rst`]
    /// (it may not, when the client's next hop has no ARP entry).
    pub fn deferred_rst_sent(&mut self, h: &TcpHeader) {
        self.stats.rst_sent += 1;
        self.stats.rst_deferred += 1;
        if h.flags & ACK == 0 {
            self.stats.rst_stray_ack += 1;
        }
    }

    fn rst_allowed(&mut self, now: u64) -> bool {
        let (start, n) = self.rst_window;
        if now.saturating_sub(start) >= 1_000_000_000 {
            self.rst_window = (now, 1);
            true
        } else if n < self.cfg.rst_per_sec {
            self.rst_window.1 += 1;
            true
        } else {
            false
        }
    }

    fn on_syn<A: EarlyAuth + ?Sized>(
        &mut self,
        now: u64,
        t: FourTuple,
        seg: &Segment,
        auth: &A,
    ) -> Dispatch {
        if self.free.is_empty() {
            // A full table gives up a TIME-WAIT slot before refusing anyone
            // (the wait only guards against old duplicates of that 4-tuple).
            let tw = self
                .slots
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| c.state() == State::TimeWait));
            if let Some(id) = tw {
                self.drop_slot(id);
                self.stats.time_wait_reused += 1;
            }
        }
        let full = self.free.is_empty();
        if self.syn_received >= self.cfg.syn_backlog || full {
            if self.cfg.syn_cookies {
                return self.send_cookie(now, t, seg);
            }
            self.stats.refused_full += 1;
            return self.reset_for(now, t, seg);
        }
        let c = self.accept_syn(now, t, seg, auth);
        match self.insert(t, c, now) {
            Some(id) => Dispatch::Accepted(id),
            None => {
                self.stats.refused_full += 1;
                Dispatch::Dropped
            }
        }
    }

    fn cookie(&self, t: &FourTuple, counter: u64, mss_idx: u32, peer_isn: u32) -> u32 {
        let h = self.keyed_hash(t, counter << 32 | u64::from(peer_isn)) as u32 & 0x00ff_ffff;
        ((counter as u32 & 0x1f) << 27) | (mss_idx << 24) | h
    }

    /// RFC 4987 3.6: answer without state; the ISN carries what we need.
    fn send_cookie(&mut self, now: u64, t: FourTuple, seg: &Segment) -> Dispatch {
        let mss = seg.opts.mss.unwrap_or(536);
        let idx = COOKIE_MSS.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
        let counter = now / COOKIE_PERIOD_NS;
        let isn = self.cookie(&t, counter, idx, seg.seq);
        self.stats.cookies_sent += 1;
        if seg.opts.early_data.is_some() {
            // A cookie's ISN cannot be the proposed one: a normal handshake.
            self.stats.early_rejected += 1;
        }
        Dispatch::Reply(TcpHeader {
            src_port: t.local.port(),
            dst_port: t.remote.port(),
            seq: isn,
            ack: seg.seq.wrapping_add(1),
            flags: SYN | ACK,
            window: self.cfg.conn.recv_buf.min(0xffff) as u16,
            // Cookies carry only the MSS: no scaling, timestamps or SACK.
            options: TcpOptions {
                mss: Some(COOKIE_MSS[idx as usize]),
                ..TcpOptions::default()
            },
        })
    }

    fn on_cookie_ack(&mut self, now: u64, t: FourTuple, seg: &Segment) -> Option<Dispatch> {
        let isn = seg.ack.wrapping_sub(1);
        let peer_isn = seg.seq.wrapping_sub(1);
        let idx = (isn >> 24) & 0x3;
        let counter_now = now / COOKIE_PERIOD_NS;
        let valid = [counter_now, counter_now.saturating_sub(1)]
            .into_iter()
            .any(|c| self.cookie(&t, c, idx, peer_isn) == isn);
        if !valid {
            self.stats.cookies_invalid += 1;
            return None;
        }
        if self.free.is_empty() {
            self.stats.refused_full += 1;
            return None;
        }
        let mut cfg = self.cfg.conn;
        cfg.window_scale = false;
        cfg.timestamps = false;
        cfg.sack = false;
        let syn = Segment {
            seq: peer_isn,
            ack: 0,
            flags: SYN,
            window: seg.window,
            opts: TcpOptions {
                mss: Some(COOKIE_MSS[idx as usize]),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        let mut c = Conn::accept(cfg, t.local, t.remote, isn, &syn, now);
        // The SYN-ACK was sent statelessly: account for it, then take the ACK.
        let mut scratch = [0u8; 0];
        let _ = c.poll_transmit(now, &mut scratch);
        c.handle_segment(now, seg);
        self.stats.cookies_accepted += 1;
        let id = self.insert(t, c, now)?;
        Some(Dispatch::Accepted(id))
    }

    /// Runs every connection timer due at `now`; returns the ids touched
    /// (they may have output).
    pub fn handle_timeouts(&mut self, now: u64, touched: &mut Vec<ConnId>) {
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        self.wheel.expire(now, &mut expired);
        for &(d, id) in &expired {
            // A superseded entry (an earlier one was filed since): skip.
            if self.filed[id] != d {
                continue;
            }
            self.filed[id] = u64::MAX;
            let Some(c) = self.slots[id].as_mut() else {
                continue;
            };
            let was = c.state();
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
                touched.push(id);
            }
            self.after_change(id, was, now);
        }
        self.expired = expired;
    }

    /// Frees a slot whatever its connection's state (TIME-WAIT reuse).
    fn drop_slot(&mut self, id: ConnId) {
        if let Some(mut c) = self.slots[id].take() {
            self.index.remove(&FourTuple {
                local: c.local,
                remote: c.remote,
            });
            self.pool.reclaim(&mut c);
            self.free.push(id);
            self.stats.closed += 1;
        }
    }

    /// Frees a closed connection's slot. Returns whether it was freed.
    pub fn reap(&mut self, id: ConnId) -> bool {
        let closed = self.get(id).is_some_and(|c| c.is_closed());
        if !closed {
            return false;
        }
        if let Some(mut c) = self.slots[id].take() {
            self.index.remove(&FourTuple {
                local: c.local,
                remote: c.remote,
            });
            self.pool.reclaim(&mut c);
            self.free.push(id);
            self.stats.closed += 1;
        }
        true
    }

    /// A local address helper for tests and services.
    pub fn any_local(ip: Ipv4Addr, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(ip, port)
    }
}

/// Whether a segment opens a connection: SYN without ACK (for listeners).
pub fn is_syn(seg: &Segment) -> bool {
    seg.flags & (SYN | ACK | RST | FIN) == SYN
}

mod early;
mod pool;
pub use early::{EarlyAuth, NoEarlyAuth};
pub use pool::{POOL_BYTES, POOL_PAIRS};

#[cfg(test)]
mod tests;
