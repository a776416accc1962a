//! Replication inside a core's TCP stack ([`super::repl`] has the messages
//! and the shared state): the primary's records and output commit, the
//! backup's answers, the takeover of a connection a client brings to the
//! backup, and the timers that find a backup too slow or gone.

use super::handoff::Handoff;
use super::heads::HeadEnc;
use super::refill::has_body;
use super::repl::{
    batch_frames, encode_record, push_batch, Msg, Resp, Stored, Tuple, PROBE_NS, RETRY_NS,
};
use super::OverlayShared;
use crate::arp::ArpCache;
use crate::fwd::{bare_tcp_frame, Addrs};
use crate::http::HttpConn;
use crate::stats::StreamCounters;
use crate::tcp::{App, Meta, TcpStack};
use anyedge_port::TxQueue;
use anyedge_tcp::table::{ConnId, FourTuple};
use anyedge_tcp::{Conn, Segment, State};
use anyedge_wire::tcp_flags::{ACK, RST, SYN};
use anyedge_wire::{MacAddr, TcpHeader, TcpOptions};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// How often a connection with data in flight refreshes its record (the
/// backup's copy of SND.UNA, cwnd, RTT and the timestamp clock).
const REFRESH_NS: u64 = 200_000_000;
/// How long a replication message may wait for others to share its
/// datagram while segments keep arriving (see `repl_maybe_flush`).
const BATCH_NS: u64 = 25_000;
/// Unconfirmed records remembered per connection.
const INFLIGHT: usize = 16;

/// A sent record awaiting confirmation.
#[derive(Clone, Copy, Debug)]
struct Sent {
    version: u32,
    rcv: u32,
    answered: u32,
    at: u64,
    /// The key the record's head went whole under ([`HeadEnc::Remember`]).
    head_key: Option<u64>,
}

/// The primary's replication state of one client connection.
#[derive(Debug)]
pub struct ReplSlot {
    version: u32,
    sent_rcv: u32,
    sent_answered: u32,
    resp: Option<Resp>,
    inflight: VecDeque<Sent>,
    confirmed_rcv: u32,
    confirmed_answered: u32,
    last_sent: u64,
    /// Since when a record has been waiting for its confirmation.
    wait_since: Option<u64>,
    /// Not replicated (the backup was down, or the state does not fit).
    off: bool,
}

impl ReplSlot {
    fn off() -> ReplSlot {
        ReplSlot {
            version: 0,
            sent_rcv: 0,
            sent_answered: 0,
            resp: None,
            inflight: VecDeque::new(),
            confirmed_rcv: 0,
            confirmed_answered: 0,
            last_sent: 0,
            wait_since: None,
            off: true,
        }
    }
}

fn tuple_of(c: &Conn) -> Tuple {
    (c.remote, c.local)
}

impl TcpStack {
    /// Queues a message for `to`; it leaves with the others of this poll
    /// ([`TcpStack::repl_flush`]).
    fn repl_send(&mut self, now: u64, to: SocketAddrV4, m: &Msg) -> bool {
        let mut body = std::mem::take(&mut self.repl_scratch);
        let sent = m.encode_into(&mut body) && self.repl_send_bytes(now, to, &body);
        self.repl_scratch = body;
        sent
    }

    /// Queues an encoded message for `to` (see [`TcpStack::repl_send`]).
    fn repl_send_bytes(&mut self, now: u64, to: SocketAddrV4, body: &[u8]) -> bool {
        if self.anycast.as_ref().is_none_or(|a| !a.channel()) {
            return false;
        }
        if body.len() + 2 > crate::anycast::peer::MAX_REPL {
            return false;
        }
        if let Some(i) = self.repl_batch.iter().position(|(d, _)| *d == to) {
            if push_batch(&mut self.repl_batch[i].1, body) {
                return true;
            }
            // Full: it goes now, and a new batch starts.
            let (d, b) = self.repl_batch.swap_remove(i);
            self.repl_seal(now, d, b);
        }
        let mut b = self
            .repl_bufs
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(crate::anycast::peer::MAX_REPL));
        b.clear();
        push_batch(&mut b, body);
        if self.repl_batch.is_empty() {
            self.repl_batch_since = now;
        }
        self.repl_batch.push((to, b));
        true
    }

    /// Signs a batch into a datagram for the outbox; the batch's buffer
    /// goes back to the pool, and the datagram's returns there once sent.
    fn repl_seal(&mut self, now: u64, to: SocketAddrV4, body: Vec<u8>) {
        let Some(a) = self.anycast.clone() else {
            return;
        };
        let mut out = self.repl_bufs.pop().unwrap_or_default();
        a.repl_message(self.unix_ms(now), &body, &mut out);
        self.repl_bufs.push(body);
        if !out.is_empty() {
            if let Some(ov) = self.overlay.as_ref() {
                ov.repl.counters.datagrams.inc();
            }
            self.outbox.push((to, out));
        }
    }

    /// At the end of a poll: sends the batches when nothing arrived since
    /// the last drain (no more messages are coming soon) or when the
    /// oldest message waited [`BATCH_NS`]. Under load the messages of a
    /// few polls share a datagram, one frame and one HMAC.
    pub(crate) fn repl_maybe_flush(&mut self, now: u64) {
        let seen = std::mem::take(&mut self.rx_seen);
        if !self.repl_batch.is_empty()
            && (seen == 0 || now.saturating_sub(self.repl_batch_since) >= BATCH_NS)
        {
            self.repl_flush(now);
        }
    }

    /// Signs this poll's batches into peer datagrams (one HMAC each).
    pub(crate) fn repl_flush(&mut self, now: u64) {
        for (to, b) in std::mem::take(&mut self.repl_batch) {
            self.repl_seal(now, to, b);
        }
    }

    /// After the HTTP service ran on `id`: a primary commits what changed
    /// to its backup, and holds the ACK and the response until confirmed.
    pub(crate) fn repl_after_serve(&mut self, now: u64, id: ConnId) {
        let Some(backup) = self.overlay.as_ref().and_then(|o| o.repl.backup) else {
            return;
        };
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        let (Some(c), Some(h)) = (self.table.get_mut(id), self.http[id].as_mut()) else {
            return;
        };
        if self.repl[id].is_none() {
            // A passive open is committed from SYN-RECEIVED on: its first
            // record covers the SYN, and the SYN-ACK waits for it
            // (`Conn::set_ack_limit`), so that a primary dying right after
            // the handshake leaves the backup able to continue.
            let handshake = c.state() == State::SynReceived;
            if !c.state().synchronized() && !handshake {
                return;
            }
            if !ov.repl.active() || !h.replicated {
                ov.repl.counters.unreplicated.inc();
                self.repl[id] = Some(ReplSlot::off());
                return;
            }
            // Nothing is confirmed yet: RCV.NXT less the SYN in SYN-RECEIVED
            // (IRS), else the first data byte (a SYN-cookie connection
            // starts in ESTABLISHED).
            let first = c.snapshot(now).irs.wrapping_add(u32::from(!handshake));
            self.repl[id] = Some(ReplSlot {
                confirmed_rcv: first,
                sent_rcv: first,
                ..ReplSlot::off()
            });
            self.repl[id].as_mut().expect("just set").off = false;
        }
        let slot = self.repl[id].as_mut().expect("slot");
        if !slot.off && !ov.repl.active() {
            slot.off = true;
        }
        if slot.off {
            c.set_ack_limit(None);
            h.hold = false;
            h.replicated = false;
            return;
        }
        let answered = h.answered();
        if answered != slot.sent_answered {
            // A new response, not yet pumped (hold): it starts at the end
            // of the stream, which is SND.UNA (the previous one is acked).
            // Written over the previous response's buffers: a keep-alive
            // connection replicates each response without allocating.
            let v = h.replica();
            let r = slot.resp.get_or_insert_with(|| Resp {
                seq: 0,
                key: String::new(),
                etag: String::new(),
                head: Vec::new(),
                chunks: Vec::new(),
                dict: HeadEnc::Plain,
            });
            r.seq = c.snd_una_raw().wrapping_add(c.unacked() as u32);
            r.key.clear();
            r.etag.clear();
            if let Some(o) = v.obj {
                r.key.push_str(v.key);
                r.etag.push_str(&o.etag);
            }
            r.head.clear();
            r.head.extend_from_slice(v.head);
            // Another head: its key is computed with its first record.
            r.dict = HeadEnc::Plain;
            r.chunks.clear();
            r.chunks.extend_from_slice(v.chunks);
        }
        let consumed = c.rcv_consumed();
        if slot.version == 0 || consumed != slot.sent_rcv || answered != slot.sent_answered {
            self.repl_record(now, id, backup, false);
        }
        let (Some(c), Some(h), Some(slot)) = (
            self.table.get_mut(id),
            self.http[id].as_mut(),
            self.repl[id].as_ref(),
        ) else {
            return;
        };
        if slot.off {
            c.set_ack_limit(None);
            h.hold = false;
            h.replicated = false;
        } else {
            c.set_ack_limit(Some(slot.confirmed_rcv));
            h.hold = h.answered() != slot.confirmed_answered;
        }
    }

    /// Sends the backup a new version of `id`'s record.
    fn repl_record(&mut self, now: u64, id: ConnId, backup: SocketAddrV4, retry: bool) {
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        let (Some(c), Some(h), Some(slot)) = (
            self.table.get(id),
            self.http[id].as_ref(),
            self.repl[id].as_mut(),
        ) else {
            return;
        };
        let consumed = c.rcv_consumed();
        let mut snap = c.snapshot(now);
        snap.fin_received &= consumed == snap.rcv_nxt;
        snap.rcv_nxt = consumed;
        let v = h.replica();
        let (inbuf, close_after) = (v.inbuf, v.close_after);
        slot.version = slot.version.wrapping_add(1);
        // The head goes by reference when the backup holds it.
        let mut head_key = None;
        if let Some(r) = slot.resp.as_mut() {
            // The key of this head, if an earlier record of it computed one.
            let known = match r.dict {
                HeadEnc::Remember(k) | HeadEnc::Ref(k, _) => Some(k),
                HeadEnc::Plain => None,
            };
            r.dict = self.repl_heads.choose(&r.head, known, retry);
            match r.dict {
                HeadEnc::Remember(k) => head_key = Some(k),
                HeadEnc::Ref(..) => ov.repl.counters.head_refs.inc(),
                HeadEnc::Plain => {}
            }
        }
        // Encoded straight from the live state into a reused buffer (no
        // Record is built: no copy of the head, the chunks or the request).
        let mut body = std::mem::take(&mut self.repl_scratch);
        body.clear();
        let encoded = encode_record(
            &mut body,
            &(c.remote, c.local),
            slot.version,
            &snap,
            close_after,
            inbuf,
            slot.resp.as_ref(),
        );
        let sent = Sent {
            version: slot.version,
            rcv: consumed,
            answered: h.answered(),
            at: now,
            head_key,
        };
        slot.sent_rcv = consumed;
        slot.sent_answered = sent.answered;
        slot.last_sent = now;
        if slot.inflight.len() == INFLIGHT {
            slot.inflight.pop_front();
        }
        slot.inflight.push_back(sent);
        slot.wait_since.get_or_insert(now);
        let queued = encoded && self.repl_send_bytes(now, backup, &body);
        self.repl_scratch = body;
        if !queued {
            // Too big for a datagram (or no channel): serve it unreplicated.
            ov.repl.counters.too_big.inc();
            if let Some(s) = self.repl[id].as_mut() {
                s.off = true;
            }
            return;
        }
        if retry {
            ov.repl.counters.record_retries.inc();
        } else {
            ov.repl.counters.records_sent.inc();
        }
    }

    /// A replication message from the peer at `src`.
    pub(crate) fn repl_on_msg(&mut self, now: u64, port: u16, src: SocketAddrV4, body: &[u8]) {
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        let Some(frames) = batch_frames(body) else {
            ov.repl.counters.malformed.inc();
            return;
        };
        // The messages before a malformed one (the batch is authenticated
        // as a whole, so that takes a bug at the peer) still count.
        for f in frames {
            let Some(m) = Msg::decode(f) else {
                ov.repl.counters.malformed.inc();
                return;
            };
            self.repl_one(now, port, src, m);
        }
    }

    fn repl_one(&mut self, now: u64, port: u16, src: SocketAddrV4, m: Msg) {
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        match m {
            Msg::Record(mut r) => {
                let (t, v) = ((r.client, r.vip), r.version);
                if let Some(resp) = r.resp.as_mut() {
                    match resp.dict {
                        HeadEnc::Remember(k) => ov.repl.heads.remember(src, k, &resp.head),
                        HeadEnc::Ref(k, n) => {
                            if !ov.repl.heads.resolve(src, k, n, &mut resp.head) {
                                // Not confirmed: the retry brings the head.
                                ov.repl.counters.head_misses.inc();
                                return;
                            }
                        }
                        HeadEnc::Plain => {}
                    }
                }
                if let Some(resp) = &r.resp {
                    self.repl_prefetch(port, resp);
                }
                match ov.repl.store(now, src, r) {
                    // A stale version is confirmed too: a newer one covers it.
                    Stored::New | Stored::Stale => self.repl_send(now, src, &Msg::Ack(t, v)),
                    // Never confirm what is not kept: the primary would
                    // acknowledge client bytes that nobody could continue.
                    Stored::Full => {
                        ov.repl.counters.standby_full.inc();
                        self.repl_send(now, src, &Msg::Refused(t))
                    }
                };
            }
            Msg::Ack(t, v) => {
                ov.repl.mark_up();
                self.repl_ack(now, &ov, t, v, false);
            }
            Msg::Taken(t) => self.repl_taken(&ov, t, false),
            Msg::Refused(t) => self.repl_refused(&ov, t, false),
            Msg::Closed(t) => ov.repl.forget(&t),
            Msg::Hello => {
                self.repl_send(now, src, &Msg::HelloAck);
            }
            Msg::HelloAck => ov.repl.mark_up(),
        }
    }

    /// The backup confirmed `t`'s records up to version `v`: open the
    /// gates they covered. A connection this core does not have is another
    /// core's: the message is handed on, unless it was handed here.
    fn repl_ack(&mut self, now: u64, ov: &OverlayShared, t: Tuple, v: u32, handed: bool) {
        let Some(id) = self.repl_lookup(&t) else {
            if !handed {
                ov.repl.handoffs.hand(self.core.index, Handoff::Ack(t, v));
            }
            return;
        };
        let Some(slot) = self.repl[id].as_mut() else {
            return;
        };
        let mut first_at = None;
        while slot.inflight.front().is_some_and(|s| s.version <= v) {
            let s = slot.inflight.pop_front().expect("front");
            if let (Some(k), true) = (s.head_key, s.version == v) {
                // That very record reached the backup with its head.
                self.repl_heads.confirmed(k);
            }
            first_at.get_or_insert(s.at);
            slot.confirmed_rcv = s.rcv;
            slot.confirmed_answered = s.answered;
        }
        slot.wait_since = slot.inflight.front().map(|s| s.at);
        let (rcv, answered) = (slot.confirmed_rcv, slot.confirmed_answered);
        if let Some(at) = first_at {
            ov.repl.counters.records_confirmed.inc();
            ov.repl.delay_sample(now.saturating_sub(at));
            // Open the gates now, so that the next service pass
            // sends the ACK and the response at once.
            if let Some(c) = self.table.get_mut(id) {
                c.set_ack_limit(Some(rcv));
            }
            if let Some(h) = self.http[id].as_mut() {
                h.hold = h.answered() != answered;
            }
            self.mark_pending(id);
        }
    }

    /// The backup took `t` over: forget it without a RST (handed on as
    /// [`TcpStack::repl_ack`] is).
    fn repl_taken(&mut self, ov: &OverlayShared, t: Tuple, handed: bool) {
        let Some(id) = self.repl_lookup(&t) else {
            if !handed {
                ov.repl.handoffs.hand(self.core.index, Handoff::Taken(t));
            }
            return;
        };
        if let Some(c) = self.table.get_mut(id) {
            c.vanish();
            ov.repl.counters.taken_over.inc();
        }
        self.repl[id] = None;
        self.mark_pending(id);
    }

    /// The backup cannot hold `t` (its standby table is full): `t` goes on
    /// unreplicated, its gates lifted (handed on as [`TcpStack::repl_ack`] is).
    fn repl_refused(&mut self, ov: &OverlayShared, t: Tuple, handed: bool) {
        let Some(id) = self.repl_lookup(&t) else {
            if !handed {
                ov.repl.handoffs.hand(self.core.index, Handoff::Refused(t));
            }
            return;
        };
        let Some(slot) = self.repl[id].as_mut() else {
            return;
        };
        if !slot.off {
            slot.off = true;
            ov.repl.counters.refused.inc();
        }
        self.lift_gates(id);
        self.mark_pending(id);
    }

    /// `id` goes on unreplicated: its ACKs and responses no longer wait.
    fn lift_gates(&mut self, id: ConnId) {
        if let Some(c) = self.table.get_mut(id) {
            c.set_ack_limit(None);
        }
        if let Some(h) = self.http[id].as_mut() {
            h.hold = false;
            h.replicated = false;
        }
    }

    /// Runs what other cores handed to this one; called once per poll.
    pub(crate) fn repl_handoffs(&mut self, now: u64) {
        let Some(ov) = self.overlay.as_ref() else {
            return;
        };
        let Some(first) = ov.repl.handoffs.take(self.core.index) else {
            return;
        };
        let ov = ov.clone();
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Handoff::Ack(t, v) => self.repl_ack(now, &ov, t, v, true),
                Handoff::Taken(t) => self.repl_taken(&ov, t, true),
                Handoff::Refused(t) => self.repl_refused(&ov, t, true),
            }
            next = ov.repl.handoffs.take(self.core.index);
        }
    }

    fn repl_lookup(&self, t: &Tuple) -> Option<ConnId> {
        self.table.lookup(&FourTuple {
            local: t.1,
            remote: t.0,
        })
    }

    /// Retries, the backup timeout, refreshes and probes.
    pub(crate) fn repl_timers(&mut self, now: u64, touched: &mut Vec<ConnId>) {
        self.repl_next = now + RETRY_NS / 2;
        let Some(ov) = self.overlay.clone() else {
            self.repl_next = u64::MAX;
            return;
        };
        let Some(backup) = ov.repl.backup else {
            self.repl_next = u64::MAX;
            return;
        };
        if !ov.repl.active() {
            // Probe a down backup once per PROBE_NS.
            if now >= self.repl_probe {
                self.repl_probe = now + PROBE_NS;
                self.repl_send(now, backup, &Msg::Hello);
            }
            return;
        }
        for id in 0..self.repl.len() {
            let Some(slot) = self.repl[id].as_ref() else {
                continue;
            };
            if slot.off {
                continue;
            }
            let unacked = self.table.get(id).map_or(0, |c| c.unacked());
            match slot.wait_since {
                Some(w) if now.saturating_sub(w) > ov.repl.timeout_ns => {
                    // Too slow or gone: every connection goes on unreplicated.
                    if ov.repl.mark_down() {
                        log::warn!(
                            "overlay: backup {backup} confirmed nothing for {} ms: replication off",
                            ov.repl.timeout_ns / 1_000_000
                        );
                    }
                    self.repl_off_all(touched);
                    return;
                }
                Some(_) if now.saturating_sub(slot.last_sent) >= RETRY_NS => {
                    self.repl_record(now, id, backup, true)
                }
                None if unacked > 0 && now.saturating_sub(slot.last_sent) >= REFRESH_NS => {
                    self.repl_record(now, id, backup, false)
                }
                _ => {}
            }
        }
    }

    /// The backup is down: lift every gate on this core.
    fn repl_off_all(&mut self, touched: &mut Vec<ConnId>) {
        for id in 0..self.repl.len() {
            let Some(slot) = self.repl[id].as_mut() else {
                continue;
            };
            if slot.off {
                continue;
            }
            slot.off = true;
            self.lift_gates(id);
            touched.push(id);
        }
    }

    /// `id` is being freed: the backup forgets its record.
    pub(crate) fn repl_reaped(&mut self, now: u64, id: ConnId) {
        let Some(slot) = self.repl[id].take() else {
            return;
        };
        let backup = self.overlay.as_ref().and_then(|o| o.repl.backup);
        if let (false, Some(b), Some(c)) = (slot.off, backup, self.table.get(id)) {
            let t = tuple_of(c);
            self.repl_send(now, b, &Msg::Closed(t));
        }
    }

    /// Backup: pokes the clients of silent primaries (see
    /// [`super::repl::ReplShared::to_poke`]) from `port`: a bare ACK one
    /// below the last SND.UNA we know, which the client answers with an
    /// ACK of where it is (RFC 9293 3.10.7.4: an unacceptable segment gets
    /// an ACK). That ACK reaches us once the route points here, and takes
    /// the connection over.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn repl_pokes<T: TxQueue>(
        &mut self,
        now: u64,
        port: u16,
        addrs: &Addrs,
        arp: &ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
    ) {
        if now < self.repl_poke_next {
            return;
        }
        self.repl_poke_next = now + RETRY_NS * 10;
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        let Some(view) = addrs.ports.get(port as usize) else {
            return;
        };
        let Some(net) = view.net else { return };
        for sb in ov.repl.to_poke(now) {
            let r = &sb.rec;
            if !addrs.vips.contains(r.vip.ip()) && *r.vip.ip() != net.addr {
                continue;
            }
            let s = &r.snap;
            let age_ms = (now.saturating_sub(sb.at) / 1_000_000) as u32;
            let h = TcpHeader {
                src_port: r.vip.port(),
                dst_port: r.client.port(),
                seq: s.snd_una.wrapping_sub(1),
                ack: s.rcv_nxt,
                flags: ACK,
                window: (s.snd_wnd >> s.rcv_shift).min(0xffff) as u16,
                options: TcpOptions {
                    timestamps: s
                        .ts_ok
                        .then(|| (s.ts_val.wrapping_add(age_ms + 1000), s.ts_recent)),
                    ..TcpOptions::default()
                },
            };
            let ends = (*r.vip.ip(), *r.client.ip());
            if let Some(b) = bare_tcp_frame(txq, counters, view, arp, ends, &h) {
                ov.repl.counters.pokes.inc();
                tx.push(b);
            }
        }
    }

    /// A segment for a connection we do not have: when we hold a standby
    /// record of it, continue it from the record (the segment is then
    /// dispatched to it as usual). Without one, nothing happens here and the
    /// segment gets the RFC 9293 3.10.7.1 answer.
    pub(crate) fn repl_takeover(
        &mut self,
        now: u64,
        port: u16,
        eth_src: MacAddr,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &Segment,
    ) {
        // Cheap checks first: this runs for every segment.
        let standby = self
            .overlay
            .as_ref()
            .is_some_and(|o| o.repl.standby_len() > 0);
        if !standby || seg.flags & (SYN | RST) != 0 {
            return;
        }
        let Some(ov) = self.overlay.clone() else {
            return;
        };
        let t = (remote, local);
        if self.table.lookup(&FourTuple { local, remote }).is_some() {
            return;
        }
        let Some(sb) = ov.repl.take(now, &t) else {
            return;
        };
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let rec = sb.rec;
        let missing = || ov.repl.counters.takeover_missing.inc();
        let (mut head, mut chunks, mut obj, mut skip) = (&[][..], &[][..], None, 0);
        // The object to fetch from our gateway first (`overlay::refill`).
        let mut refetch = None;
        if let Some(r) = &rec.resp {
            obj = cache.get(&r.key).filter(|o| o.etag == r.etag);
            skip = u64::from(seg.ack.wrapping_sub(r.seq));
            if skip > r.len() {
                return missing();
            }
            if has_body(r) && obj.is_none() {
                // Another version here, or no gateway: not the same bytes.
                if cache.contains(&r.key) || ov.gateway().is_none() {
                    return missing();
                }
                refetch = Some((&r.key, &r.etag));
            }
            (head, chunks) = (&r.head[..], &r.chunks[..]);
        }
        let cfg = self.table.conn_config();
        let age = now.saturating_sub(sb.at);
        let Some(mut c) = Conn::from_snapshot(cfg, local, remote, &rec.snap, age, seg, now) else {
            return missing();
        };
        // The primary's window, resumed with the site's policy.
        let policy = self.anycast.as_ref().map(|a| a.resume);
        let (cwnd, rtt) = (
            rec.snap.cwnd as usize,
            u64::from(rec.snap.min_rtt_us) * 1000,
        );
        match policy {
            Some(crate::config::ResumePolicy::Careful) => {
                c.resume(anyedge_tcp::resume::Policy::Careful, cwnd, rtt)
            }
            Some(crate::config::ResumePolicy::Jump) => {
                c.resume(anyedge_tcp::resume::Policy::Jump, cwnd, rtt)
            }
            _ => {}
        }
        let Some(id) = self.table.adopt(now, c) else {
            return missing();
        };
        let mut h = HttpConn::restore(now, &rec.inbuf, rec.close_after, head, chunks, obj, skip);
        if let Some((key, etag)) = refetch {
            h.refetch(key, etag);
        }
        self.http[id] = Some(h);
        self.meta[id] = Some(Meta::new(port, Some(eth_src), *remote.ip(), App::Http));
        self.repl[id] = None;
        if let Some((key, _)) = refetch {
            self.repl_refetch(id, key);
        }
        ov.repl.counters.takeovers.inc();
        log::info!("overlay: took over {remote} -> {local} from {}", sb.from);
        self.repl_send(now, sb.from, &Msg::Taken(t));
    }
}
