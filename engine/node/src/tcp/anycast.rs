//! The anycast glue of a core's TCP stack: path records for resume,
//! reset notices to peers, and the peer channel's datagrams.

use super::*;

impl TcpStack {
    pub(crate) fn unix_ms(&self, now: u64) -> u64 {
        self.unix_base * 1000 + now / 1_000_000
    }

    /// Records the path of connection `id` (a client we serve) in the site's
    /// table, and queues the update for the peers.
    pub(super) fn record_path(&mut self, now: u64, id: ConnId) {
        let Some(a) = self.anycast.clone() else {
            return;
        };
        let Some(c) = self.table.get(id) else { return };
        let (Some(min_rtt), Some(srtt)) = (c.rtt().min_rtt(), c.rtt().srtt()) else {
            return;
        };
        // Only paths that carried real data say something about the path.
        if c.stats().bytes_out < 64 * 1024
            || c.resume_state()
                .is_some_and(|r| r.outcome == Some(anyedge_tcp::resume::Outcome::Retreated))
        {
            return;
        }
        let (cwnd, _, _) = c.cc_info();
        let client = *c.remote.ip();
        let mut msg = Vec::new();
        a.record(
            now,
            self.unix_ms(now),
            client,
            cwnd,
            min_rtt,
            srtt,
            &mut msg,
        );
        if !msg.is_empty() {
            for p in &a.peers {
                self.outbox.push((*p, msg.clone()));
            }
        }
    }

    /// Accounts a resumed connection's outcome when it ends: counters, and
    /// the entry released (or deleted after a safe retreat).
    pub(super) fn end_resume(&mut self, id: ConnId) {
        use anyedge_tcp::resume::Outcome;
        let (Some(a), Some(c)) = (self.anycast.as_deref(), self.table.get(id)) else {
            return;
        };
        let Some(r) = c.resume_state() else { return };
        let ac = &a.counters;
        let client = *c.remote.ip();
        if r.jump_cwnd > 0 {
            ac.jumped.inc();
        }
        match r.outcome {
            Some(Outcome::Validated) => ac.validated.inc(),
            Some(Outcome::RttMismatch) => ac.rtt_mismatch.inc(),
            Some(Outcome::Retreated) => ac.retreats.inc(),
            _ => {}
        }
        if let Ok(mut t) = a.table.lock() {
            if r.outcome == Some(Outcome::Retreated) {
                t.delete(client);
            } else {
                t.release(client);
            }
        }
    }

    /// We reset a stray ACK to a VIP: tell the peers which 4-tuple, so the
    /// node that had the connection terminates it at once (anycast issue).
    pub(super) fn notify_reset(
        &mut self,
        now: u64,
        client: SocketAddrV4,
        local: SocketAddrV4,
        addrs: &Addrs,
    ) {
        let Some(a) = self.anycast.clone() else {
            return;
        };
        if !addrs.vips.contains(local.ip()) || self.notified.contains(&(client, local)) {
            return;
        }
        if self.notified.len() == 64 {
            self.notified.pop_front();
        }
        self.notified.push_back((client, local));
        let mut msg = Vec::new();
        a.reset_notice(self.unix_ms(now), client, local, &mut msg);
        if !msg.is_empty() {
            for p in &a.peers {
                self.outbox.push((*p, msg.clone()));
            }
        }
    }

    /// A datagram to the peer-channel port from `src`. A reset notice
    /// terminates our connection to that client, if we have it; a
    /// replication message goes to the overlay (`overlay::repl`).
    pub fn on_peer_datagram(&mut self, now: u64, port: u16, src: SocketAddrV4, data: &[u8]) {
        use crate::anycast::shared::PeerEvent;
        self.rx_seen = self.rx_seen.wrapping_add(1);
        let Some(a) = self.anycast.clone() else {
            return;
        };
        let (client, vip) = match a.on_datagram(now, self.unix_ms(now), *src.ip(), data) {
            Some(PeerEvent::Reset { client, vip }) => (client, vip),
            Some(PeerEvent::Repl(body)) => return self.repl_on_msg(now, port, src, &body),
            None => return,
        };
        let key = anyedge_tcp::table::FourTuple {
            local: vip,
            remote: client,
        };
        if let Some(id) = self.table.lookup(&key) {
            if let Some(c) = self.table.get_mut(id) {
                c.abort();
                a.counters.terminated_by_notice.inc();
                self.mark_pending(id);
            }
        }
    }

    /// The replication port (`[overlay] replica_listen`), when this node
    /// has an overlay and a peer channel; it takes the same messages.
    pub fn repl_port(&self) -> Option<u16> {
        self.peer_port()
            .and(self.overlay.as_ref().map(|o| o.cfg.replica_listen))
    }

    /// The peer-channel port, when this node has one.
    pub fn peer_port(&self) -> Option<u16> {
        self.anycast
            .as_ref()
            .filter(|a| a.channel())
            .map(|a| a.listen)
    }
}
