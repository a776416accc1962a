//! The overlay inside a core's TCP stack: which connection relays to
//! which, the edge's pool of gateway connections, and the timeouts that
//! turn a silent next hop into a 504.
//!
//! Gateway: an accepted edge connection (`GwDown`) gets its own active open
//! to the origin (`GwUp`); bytes move both ways as far as the other side's
//! send buffer has room, so a slow reader holds back its writer through
//! the TCP windows and nothing is buffered without bound. If the origin
//! refuses, resets or stays silent before the first answer byte, the edge
//! gets a 502 or 504 and the connection closes.
//!
//! Edge: a miss parks the client's request (see `HttpConn::take_miss`) and
//! sends `GET /key` on an idle pooled gateway connection or a new one
//! (`EdgeUp`). The whole answer enters the cache, and the client's request
//! is answered again from it; a failure answers it with the failure's
//! status.

use super::fetch::{Fetch, Outcome};
use super::{Failure, CONNECT_TIMEOUT_NS, FETCH_TIMEOUT_NS, POOL_MAX};
use crate::arp::ArpCache;
use crate::fwd::Addrs;
use crate::tcp::{App, TcpStack};
use anyedge_tcp::conn::{EarlyOutcome, Event, State};
use anyedge_tcp::table::ConnId;
use std::net::SocketAddrV4;

/// `GwDown::up` while the edge connection's handshake is not complete.
pub const UP_PENDING: ConnId = usize::MAX - 1;
/// `GwDown::up` once the origin side is gone.
const UP_GONE: ConnId = usize::MAX;

/// Overlay state of one connection slot.
#[derive(Debug)]
pub enum OvSlot {
    /// Gateway: from an edge; `up` is its origin connection.
    GwDown {
        /// The origin connection.
        up: ConnId,
    },
    /// Gateway: to the origin for the edge connection `down`.
    GwUp {
        /// The edge connection.
        down: ConnId,
        /// Whether any answer byte went to the edge.
        answered: bool,
        /// Whether the handshake with the origin completed.
        established: bool,
        /// When the handshake must have completed.
        deadline: Option<u64>,
    },
    /// Edge: to the gateway.
    EdgeUp(EdgeUp),
}

/// An edge-gateway connection: busy with one fetch, or idle in the pool.
#[derive(Debug)]
pub struct EdgeUp {
    /// The waiting client (slot and address, to recognise a reused slot).
    pub client: Option<(ConnId, SocketAddrV4)>,
    /// The fetch in progress.
    pub fetch: Option<Fetch>,
    /// Whether the handshake with the gateway completed.
    pub established: bool,
    /// When the handshake must have completed.
    pub deadline: Option<u64>,
    /// Whether this fetch reuses a pooled connection (which the gateway
    /// may have been closing as the request left).
    pub reused: bool,
}

impl TcpStack {
    fn ov_counters(&self) -> Option<&super::OverlayCounters> {
        self.overlay.as_deref().map(|o| &o.counters)
    }

    /// Moves what `from` received into `to`'s send buffer, as far as it
    /// has room; returns the bytes moved.
    fn relay(&mut self, from: ConnId, to: ConnId) -> usize {
        let mut moved = 0;
        loop {
            let room = self
                .table
                .get(to)
                .map_or(0, |c| c.send_room())
                .min(self.scratch.len());
            if room == 0 {
                break;
            }
            let n = match self.table.get_mut(from) {
                Some(c) => c.recv(&mut self.scratch[..room]),
                None => 0,
            };
            if n == 0 {
                break;
            }
            if let Some(c) = self.table.get_mut(to) {
                c.send(&self.scratch[..n]);
            }
            moved += n;
        }
        if moved > 0 {
            // New data for `to`, and a window update for `from`.
            self.mark_pending(to);
            self.mark_pending(from);
        }
        moved
    }

    /// Answers `down` with `status` and closes it (RFC 9110 15.6.3/15.6.5).
    fn answer_status(&mut self, now: u64, down: ConnId, status: u16) {
        let mut head = Vec::with_capacity(256);
        anyedge_http::write_simple(
            status,
            self.unix_base + now / 1_000_000_000,
            false,
            false,
            &mut head,
        );
        if let Some(c) = self.table.get_mut(down) {
            c.send(&head);
            c.close();
        }
        self.mark_pending(down);
    }

    /// Gateway: opens the origin connections of edge connections whose
    /// handshake completed (not at the SYN: a SYN alone, which anyone can
    /// send, must not make the gateway open connections to the origin).
    pub(crate) fn start_relays(&mut self, now: u64, addrs: &Addrs, arp: &ArpCache) {
        for down in std::mem::take(&mut self.relay_wait) {
            let port = self.meta[down].map(|m| m.port);
            let waiting = matches!(self.ov[down], Some(OvSlot::GwDown { up: UP_PENDING }));
            if let (Some(port), true) = (port, waiting) {
                self.gw_accept(now, down, addrs, arp, port);
            }
        }
    }

    fn gw_accept(&mut self, now: u64, down: ConnId, addrs: &Addrs, arp: &ArpCache, port: u16) {
        let Some((origin, _)) = self.overlay.as_ref().and_then(|o| o.origin()) else {
            return;
        };
        if let Some(c) = self.ov_counters() {
            c.relays.inc();
        }
        match self.connect(now, addrs, arp, port, origin) {
            Ok(up) => {
                if let Some(m) = self.meta[up].as_mut() {
                    m.app = App::GwUp;
                }
                self.ov[down] = Some(OvSlot::GwDown { up });
                self.ov[up] = Some(OvSlot::GwUp {
                    down,
                    answered: false,
                    established: false,
                    deadline: Some(now + CONNECT_TIMEOUT_NS),
                });
            }
            Err(e) => {
                log::warn!("overlay: cannot open a connection to the origin {origin}: {e}");
                if let Some(c) = self.ov_counters() {
                    c.fail(Failure::Refused);
                }
                self.answer_status(now, down, 502);
            }
        }
    }

    /// Runs the overlay side of connection `id` after its segments.
    pub(crate) fn overlay_serve(&mut self, now: u64, id: ConnId) {
        let Some(slot) = self.ov[id].take() else {
            return;
        };
        self.ov[id] = match slot {
            OvSlot::GwDown { up } => self.gw_down(id, up),
            OvSlot::GwUp {
                down,
                answered,
                established,
                deadline,
            } => self.gw_up(now, id, down, answered, established, deadline),
            OvSlot::EdgeUp(e) => self.edge_up(now, id, e),
        };
    }

    /// Whether `up` is still the origin connection of `down` (`up` is
    /// [`UP_GONE`] once the origin side is gone).
    fn linked_up(&self, down: ConnId, up: ConnId) -> bool {
        matches!(self.ov.get(up), Some(Some(OvSlot::GwUp { down: d, .. })) if *d == down)
    }

    fn gw_down(&mut self, id: ConnId, up: ConnId) -> Option<OvSlot> {
        if up == UP_PENDING {
            // The origin connection waits for the edge's handshake.
            let state = self.table.get(id).map(|c| c.state());
            if state == Some(State::Established) && !self.relay_wait.contains(&id) {
                self.relay_wait.push(id);
            } else if state != Some(State::SynReceived) {
                if let Some(c) = self.table.get_mut(id) {
                    c.close();
                }
            }
            return Some(OvSlot::GwDown { up });
        }
        if !self.linked_up(id, up) {
            if let Some(c) = self.table.get_mut(id) {
                c.close();
            }
            return Some(OvSlot::GwDown { up: UP_GONE });
        }
        let n = self.relay(id, up);
        if let Some(c) = self.ov_counters() {
            c.relayed_up.add(n as u64);
        }
        // Answer bytes that waited for room on this side.
        let back = self.relay(up, id);
        if back > 0 {
            if let Some(OvSlot::GwUp { answered, .. }) = self.ov[up].as_mut() {
                *answered = true;
            }
            if let Some(c) = self.ov_counters() {
                c.relayed_down.add(back as u64);
            }
        }
        let (eof, end) = (
            self.table.get(id).is_some_and(|c| c.at_eof()),
            self.meta[id].and_then(|m| m.end),
        );
        if let Some(u) = self.table.get_mut(up) {
            match end {
                Some(Event::Reset) | Some(Event::TimedOut) => u.abort(),
                _ if eof => u.close(),
                _ => {}
            }
        }
        if eof || end.is_some() {
            self.mark_pending(up);
        }
        Some(OvSlot::GwDown { up })
    }

    fn gw_up(
        &mut self,
        now: u64,
        id: ConnId,
        down: ConnId,
        mut answered: bool,
        mut established: bool,
        mut deadline: Option<u64>,
    ) -> Option<OvSlot> {
        let linked = matches!(self.ov.get(down), Some(Some(OvSlot::GwDown { up })) if *up == id);
        if !linked {
            // The edge side is gone: nothing to answer.
            if let Some(c) = self.table.get_mut(id) {
                while c.recv_discard(usize::MAX) > 0 {}
                c.close();
            }
            return None;
        }
        if self
            .table
            .get(id)
            .is_some_and(|c| c.state() == State::Established)
        {
            established = true;
            deadline = None;
        }
        let n = self.relay(id, down);
        if n > 0 {
            answered = true;
            if let Some(c) = self.ov_counters() {
                c.relayed_down.add(n as u64);
            }
        }
        let up_n = self.relay(down, id);
        if let Some(c) = self.ov_counters() {
            c.relayed_up.add(up_n as u64);
        }
        let (eof, readable, end) = match self.table.get(id) {
            Some(c) => (c.at_eof(), c.readable(), self.meta[id].and_then(|m| m.end)),
            None => (true, 0, None),
        };
        match end {
            Some(Event::Reset) | Some(Event::TimedOut) if !answered => {
                let f = match (end, established) {
                    (Some(Event::TimedOut), _) => Failure::Timeout,
                    (_, false) => Failure::Refused,
                    _ => Failure::Reset,
                };
                if let Some(c) = self.ov_counters() {
                    c.fail(f);
                }
                self.answer_status(now, down, f.status());
                answered = true;
            }
            Some(Event::Reset) | Some(Event::TimedOut) => {
                // Mid-answer: the edge must see the break, not a short body.
                if let Some(c) = self.ov_counters() {
                    c.fail(Failure::Reset);
                }
                if let Some(d) = self.table.get_mut(down) {
                    d.abort();
                }
                self.mark_pending(down);
            }
            _ if eof && readable == 0 => {
                if let Some(d) = self.table.get_mut(down) {
                    d.close();
                }
                self.mark_pending(down);
            }
            _ => {}
        }
        Some(OvSlot::GwUp {
            down,
            answered,
            established,
            deadline,
        })
    }

    /// Edge: opens or reuses gateway connections for the misses waiting.
    pub(crate) fn start_fetches(&mut self, now: u64, addrs: &Addrs, arp: &ArpCache) {
        let Some(gw) = self.overlay.as_ref().and_then(|o| o.gateway()) else {
            self.fetch_wait.clear();
            return;
        };
        let max = self.cache.as_ref().map_or(0, |c| c.usage().0);
        let early_key: Option<Vec<u8>> = match self.early_off {
            true => None,
            false => self
                .overlay
                .as_ref()
                .and_then(|o| o.early_edge().map(<[u8]>::to_vec)),
        };
        let mut todo = Vec::new();
        for (client, key) in std::mem::take(&mut self.fetch_wait) {
            let (Some(addr), Some(port)) = (
                self.table.get(client).map(|c| c.remote),
                self.meta[client].map(|m| m.port),
            ) else {
                continue;
            };
            todo.push((Some((client, addr)), port, key));
        }
        // A backup's prefetches (`overlay::refill`): no client waits.
        for (port, key) in std::mem::take(&mut self.prefetch_wait) {
            todo.push((None, port, key));
        }
        for (client, port, key) in todo {
            if let Some(c) = self.ov_counters() {
                c.fetches.inc();
            }
            let pooled = loop {
                match self.pool.pop() {
                    Some(u)
                        if self
                            .table
                            .get(u)
                            .is_some_and(|c| c.state() == State::Established)
                            && matches!(&self.ov[u], Some(OvSlot::EdgeUp(e)) if e.fetch.is_none()) =>
                    {
                        break Some(u)
                    }
                    Some(_) => continue,
                    None => break None,
                }
            };
            let (up, established) = match pooled {
                Some(u) => {
                    if let Some(c) = self.ov_counters() {
                        c.pool_reuse.inc();
                    }
                    (u, true)
                }
                None => match self.connect_with(now, addrs, arp, port, gw, early_key.as_deref()) {
                    Ok(u) => {
                        if let Some(c) = self.ov_counters() {
                            c.upstream_opened.inc();
                            if early_key.is_some() {
                                c.early_opened.inc();
                            }
                        }
                        if let Some(m) = self.meta[u].as_mut() {
                            m.app = App::EdgeUp;
                        }
                        (u, false)
                    }
                    Err(e) => {
                        log::warn!("overlay: cannot open a connection to the gateway {gw}: {e}");
                        if let Some(c) = self.ov_counters() {
                            c.fail(Failure::Refused);
                        }
                        self.prefetch_done(&key);
                        self.wake_client(now, client, Some(502));
                        continue;
                    }
                },
            };
            let f = Fetch::new(&key, max, now + FETCH_TIMEOUT_NS);
            if let Some(c) = self.table.get_mut(up) {
                c.send(f.request(&gw.to_string()).as_bytes());
            }
            self.ov[up] = Some(OvSlot::EdgeUp(EdgeUp {
                client,
                fetch: Some(f),
                established,
                deadline: (!established).then_some(now + CONNECT_TIMEOUT_NS),
                reused: pooled.is_some(),
            }));
            self.mark_pending(up);
        }
    }

    fn edge_up(&mut self, now: u64, id: ConnId, mut e: EdgeUp) -> Option<OvSlot> {
        let end = self.meta[id].and_then(|m| m.end);
        let c = self.table.get_mut(id)?;
        if c.state() == State::Established && !e.established {
            e.established = true;
            e.deadline = None;
            if let Some(k) = self.overlay.as_deref().map(|o| &o.counters) {
                match c.early_outcome() {
                    Some(EarlyOutcome::Accepted) => k.early_accepted.inc(),
                    Some(EarlyOutcome::FellBack) => k.early_fallback.inc(),
                    _ => {}
                }
            }
        }
        let refused_early = c.early_refused();
        let Some(f) = e.fetch.as_mut() else {
            // Idle in the pool: the gateway closing it ends it here too.
            while c.recv_discard(usize::MAX) > 0 {}
            if c.at_eof() || end.is_some() {
                c.close();
                self.pool.retain(|&u| u != id);
            }
            return Some(OvSlot::EdgeUp(e));
        };
        let mut outcome = None;
        while outcome.is_none() {
            let n = c.recv(&mut self.scratch);
            if n == 0 {
                break;
            }
            outcome = f.take(&self.scratch[..n]);
        }
        if outcome.is_none() && c.at_eof() {
            outcome = Some(f.eof());
        }
        if outcome.is_none() {
            outcome = match end {
                Some(Event::TimedOut) => Some(Outcome::Failed(Failure::Timeout)),
                Some(Event::Reset) if e.established => Some(Outcome::Failed(Failure::Reset)),
                Some(Event::Reset) => Some(Outcome::Failed(Failure::Refused)),
                _ => None,
            };
        }
        // A pooled connection that broke before any answer byte: the
        // gateway closed it as the request left. GET is idempotent (RFC
        // 9110 9.2.2), so it goes again on a fresh connection.
        let broke = matches!(
            outcome,
            Some(Outcome::Failed(Failure::Reset | Failure::Refused))
        );
        if broke && refused_early {
            // The gateway refused the SYN with early data: ask again with a
            // plain handshake, and keep early data off on this core.
            self.early_off = true;
            if let Some(c) = self.ov_counters() {
                c.early_refused.inc();
            }
        }
        if broke && (e.reused || refused_early) && !f.started() {
            match (e.client.take(), e.fetch.take()) {
                (Some((client, _)), Some(f)) => {
                    self.fetch_wait.push((client, f.key));
                    self.mark_pending(client);
                }
                (None, Some(f)) => {
                    let port = self.meta[id].map_or(0, |m| m.port);
                    self.prefetch_wait.push((port, f.key));
                }
                _ => {}
            }
            if let Some(c) = self.ov_counters() {
                c.pool_retry.inc();
            }
            if let Some(c) = self.table.get_mut(id) {
                c.abort();
            }
            self.mark_pending(id);
            return Some(OvSlot::EdgeUp(e));
        }
        match outcome {
            Some(o) => self.finish_fetch(now, id, e, o),
            None => Some(OvSlot::EdgeUp(e)),
        }
    }

    /// Ends the fetch on `up`: fills the cache, wakes the client, and pools
    /// or closes the connection.
    fn finish_fetch(&mut self, now: u64, up: ConnId, mut e: EdgeUp, o: Outcome) -> Option<OvSlot> {
        let key = e.fetch.take().map(|f| f.key).unwrap_or_default();
        self.prefetch_done(&key);
        let (status, reusable) = match o {
            Outcome::Object { body, reusable } => {
                let unix = self.unix_base + now / 1_000_000_000;
                match self.cache.as_ref().map(|c| c.insert(&key, &body, unix)) {
                    Some(Ok(_)) => {
                        if let Some(c) = self.ov_counters() {
                            c.fills.inc();
                            c.fill_bytes.add(body.len() as u64);
                        }
                        (None, reusable)
                    }
                    _ => {
                        log::warn!(
                            "overlay: /{key} ({} bytes) does not fit the cache",
                            body.len()
                        );
                        if let Some(c) = self.ov_counters() {
                            c.fail(Failure::BadResponse);
                        }
                        (Some(502), reusable)
                    }
                }
            }
            Outcome::NotFound { reusable } => {
                if let Some(c) = self.ov_counters() {
                    c.not_found.inc();
                }
                (Some(404), reusable)
            }
            Outcome::Failed(f) => {
                if let Some(c) = self.ov_counters() {
                    c.fail(f);
                }
                (Some(f.status()), false)
            }
        };
        self.wake_client(now, e.client.take(), status);
        let open = self
            .table
            .get(up)
            .is_some_and(|c| c.state() == State::Established);
        if reusable && open && self.pool.len() < POOL_MAX {
            self.pool.push(up);
        } else if let Some(c) = self.table.get_mut(up) {
            if reusable {
                c.close();
            } else {
                c.abort();
            }
            self.mark_pending(up);
        }
        Some(OvSlot::EdgeUp(e))
    }

    /// Hands a fetch's end to the client still waiting for it (the slot
    /// may have been reused by then: the address tells).
    fn wake_client(
        &mut self,
        now: u64,
        client: Option<(ConnId, SocketAddrV4)>,
        status: Option<u16>,
    ) {
        let Some((id, addr)) = client else { return };
        if self.table.get(id).is_none_or(|c| c.remote != addr) {
            return;
        }
        if self.refill_done(id, status) {
            self.mark_pending(id);
            return;
        }
        if let Some(h) = self.http[id].as_mut() {
            if h.fetching() {
                h.fetch_done(status, now);
                self.mark_pending(id);
            }
        }
    }

    /// A connection is about to leave the table: its partner learns.
    pub(crate) fn overlay_reaped(&mut self, now: u64, id: ConnId) {
        match self.ov[id].take() {
            Some(OvSlot::GwDown { up }) if self.linked_up(id, up) => {
                if let Some(c) = self.table.get_mut(up) {
                    c.close();
                }
                self.ov[up] = None;
                self.mark_pending(up);
            }
            Some(OvSlot::GwUp { down, .. }) => {
                if matches!(self.ov.get(down), Some(Some(OvSlot::GwDown { up })) if *up == id) {
                    if let Some(c) = self.table.get_mut(down) {
                        c.close();
                    }
                    self.ov[down] = Some(OvSlot::GwDown { up: UP_GONE });
                    self.mark_pending(down);
                }
            }
            Some(OvSlot::EdgeUp(e)) => {
                self.pool.retain(|&u| u != id);
                if let Some(f) = &e.fetch {
                    self.prefetch_done(&f.key);
                    if let Some(c) = self.ov_counters() {
                        c.fail(Failure::Reset);
                    }
                    self.wake_client(now, e.client, Some(502));
                }
            }
            _ => {}
        }
    }

    /// Connect and fetch timeouts (a silent next hop becomes a 504).
    pub(crate) fn overlay_timers(&mut self, now: u64, touched: &mut Vec<ConnId>) {
        if self.overlay.is_none() {
            return;
        }
        for id in 0..self.ov.len() {
            let due = match &self.ov[id] {
                Some(OvSlot::GwUp {
                    deadline: Some(d),
                    established: false,
                    ..
                }) => *d <= now,
                Some(OvSlot::EdgeUp(e)) => {
                    e.deadline.is_some_and(|d| d <= now)
                        || e.fetch.as_ref().is_some_and(|f| f.deadline <= now)
                }
                _ => false,
            };
            if !due {
                continue;
            }
            match self.ov[id].take() {
                Some(OvSlot::GwUp { down, .. }) => {
                    if let Some(c) = self.ov_counters() {
                        c.fail(Failure::Timeout);
                    }
                    self.answer_status(now, down, 504);
                    self.ov[id] = Some(OvSlot::GwUp {
                        down,
                        answered: true,
                        established: false,
                        deadline: None,
                    });
                    touched.push(down);
                }
                Some(OvSlot::EdgeUp(e)) => {
                    self.ov[id] = self.finish_fetch(now, id, e, Outcome::Failed(Failure::Timeout));
                }
                other => self.ov[id] = other,
            }
            if let Some(c) = self.table.get_mut(id) {
                c.abort();
            }
            touched.push(id);
        }
    }
}
