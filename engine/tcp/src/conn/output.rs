//! The output side of a connection: timers (RTO per RFC 6298, delayed ACK,
//! zero-window probe, keep-alive, TIME-WAIT), and segments out: the SYN,
//! new data within the congestion and peer windows, SACK-based
//! retransmission of holes (RFC 6675 NextSeg) and the window and option
//! fields of every header.

use super::seglog::RETX;
use super::*;

impl Conn {
    /// When [`Conn::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        // Called after every segment: a min over sentinels compiles to a
        // few conditional moves, where a min over the options branches.
        let t = |o: Option<u64>| o.unwrap_or(u64::MAX);
        let m = t(self.rto_at)
            .min(t(self.delack_at))
            .min(t(self.timewait_at))
            .min(t(self.persist_at))
            .min(t(self.keepalive_at))
            .min(t(self.rack_at))
            .min(t(self.pto_at));
        (m != u64::MAX).then_some(m)
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.timewait_at.is_some_and(|t| t <= now) {
            self.enter_closed(Some(Event::Closed));
            return;
        }
        if self.delack_at.is_some_and(|t| t <= now) {
            self.delack_at = None;
            self.ack_now = true;
        }
        // A probe due with the RTO goes instead of it (RFC 8985 7.2: the
        // PTO is at most the RTO; the RTO is re-armed after the probe).
        if self.pto_at.is_some_and(|t| t <= now) {
            self.on_pto();
            if self.tlp_probe && self.rto_at.is_some_and(|t| t <= now) {
                self.rto_at = Some(now + self.rtt.rto());
            }
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.on_rto(now);
        }
        if self.rack_at.is_some_and(|t| t <= now) {
            self.rack_at = None;
            self.rack_detect(now);
        }
        if self.persist_at.is_some_and(|t| t <= now) {
            self.persist_at = None;
            if self.snd_wnd == 0 && self.unsent() > 0 {
                self.persist_probe = true;
                self.rtt.back_off();
            }
        }
        if let (Some(t), Some(idle)) = (self.keepalive_at, self.cfg.keepalive_ns) {
            if t <= now {
                if self.keepalive_probes >= KEEPALIVE_PROBES {
                    self.rst_pending = Some((self.snd_nxt, None));
                    self.enter_closed(Some(Event::TimedOut));
                    return;
                }
                self.keepalive_probes += 1;
                self.keepalive_probe = true;
                self.keepalive_at = Some(now + idle / 10);
            }
        }
    }

    pub(super) fn on_rto(&mut self, now: u64) {
        self.retries += 1;
        self.stats.timeouts += 1;
        let limit = match self.state {
            State::SynSent | State::SynReceived => self.cfg.syn_retries,
            _ => self.cfg.max_retries,
        };
        if self.retries > limit {
            if self.state.synchronized() {
                self.rst_pending = Some((self.snd_nxt, None));
            }
            self.enter_closed(Some(Event::TimedOut));
            return;
        }
        self.rtt.back_off();
        self.rtt_probe = None;
        self.pto_at = None;
        self.tlp_probe = false;
        self.tlp_end = None;
        self.rack_at = None;
        match self.state {
            State::SynSent | State::SynReceived => {
                self.syn_pending = true;
                self.snd_nxt = self.iss;
            }
            _ => {
                // RFC 5681 (4) and RFC 6298 5.4: loss window, go back to SND.UNA.
                self.cc.on_timeout(now, self.in_flight());
                self.resume_on_loss();
                self.rto_recover = Some(self.snd_max);
                self.recover = None;
                self.prr = None;
                self.dupacks = 0;
                // The scoreboard is kept (RFC 6675 5.1): going back to
                // SND.UNA resends only what the receiver has not SACKed.
                self.snd_nxt = self.snd_una;
                self.rexmit_next = self.snd_una;
            }
        }
        self.rto_at = Some(now + self.rtt.rto());
    }

    // --------------------------------------------------------------- output

    pub(super) fn unsent(&self) -> usize {
        // Data starts after our SYN while it is unacknowledged (early data).
        let sent = (self.snd_nxt - self.snd_una).saturating_sub(self.syn_unacked());
        self.tx.len().saturating_sub(sent)
    }

    pub(super) fn window_field(&self, syn: bool) -> u16 {
        // Under an output-commit limit the ACK field is behind RCV.NXT; the
        // window counts from it, so the right edge stays put.
        let w = self.rx.window() + (self.rcv_nxt - self.ack_field());
        if syn {
            w.min(0xffff) as u16
        } else {
            (w >> self.rcv_shift).min(0xffff) as u16
        }
    }

    pub(super) fn base_options(&self, now: u64) -> TcpOptions {
        TcpOptions {
            timestamps: self.ts_ok.then(|| (self.ts_now(now), self.ts_recent)),
            ..TcpOptions::default()
        }
    }

    pub(super) fn header(&mut self, _now: u64, seq: Seq, flags: u8, opts: TcpOptions) -> TcpHeader {
        let syn = flags & SYN != 0;
        let window = self.window_field(syn);
        if flags & ACK != 0 {
            self.rcv_adv =
                self.ack_field() + (usize::from(window) << if syn { 0 } else { self.rcv_shift });
            self.ack_now = false;
            self.delack_at = None;
            self.unacked_segs = 0;
        }
        TcpHeader {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags & ACK != 0 {
                self.ack_field().0
            } else {
                0
            },
            flags,
            window,
            options: opts,
        }
    }

    /// The next segment to send, with its payload copied into `payload`
    /// (which should hold at least one MSS). `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, now: u64, payload: &mut [u8]) -> Option<Outgoing> {
        self.transmit(now, &mut Sink::Copy(payload))
    }

    /// As [`Conn::poll_transmit`] without copying the payload: returns the
    /// segment (at most `max_payload` payload bytes) and where its payload
    /// starts in the send buffer (bytes after SND.UNA). The caller copies it
    /// with [`Conn::copy_payload`] straight into its frame, before anything
    /// else happens to the connection (zero-copy TX: the bytes go from
    /// where they lie, a cached object say, to the frame).
    ///
    /// With `tso_max` above the MSS (a port that segments in hardware,
    /// TSO) new data that lies wholly in one shared range (a cached
    /// object) may go as one super-segment of up to `tso_max` bytes, a
    /// whole number of MSS unless it ends the data: the port cuts it into
    /// MSS-sized segments, each within what RFC 9293 section 3.7.1 allows.
    /// Such a segment's payload is always found by
    /// [`Conn::payload_shared`]. Retransmissions and probes stay one MSS.
    pub fn poll_segment(
        &mut self,
        now: u64,
        max_payload: usize,
        tso_max: usize,
    ) -> Option<(Outgoing, usize)> {
        let mut sink = Sink::Defer {
            max: max_payload,
            at: 0,
            tso: tso_max,
        };
        let o = self.transmit(now, &mut sink)?;
        let at = match sink {
            Sink::Defer { at, .. } => at,
            Sink::Copy(_) => 0,
        };
        Some((o, at))
    }

    /// Copies the payload of the segment [`Conn::poll_segment`] returned
    /// (`offset` from it, `out` as long as its `payload_len`).
    pub fn copy_payload(&self, offset: usize, out: &mut [u8]) -> usize {
        self.tx.copy_at(offset, out)
    }

    /// The payload of the segment [`Conn::poll_segment`] returned, by
    /// reference, when it lies wholly in shared bytes (a cached object): the
    /// bytes and the index of its first byte in them. A port that sends
    /// payload by reference then needs no copy; otherwise use
    /// [`Conn::copy_payload`].
    pub fn payload_shared(
        &self,
        offset: usize,
        len: usize,
    ) -> Option<(&crate::buffer::Shared, usize)> {
        self.tx.shared_at(offset, len)
    }

    fn transmit(&mut self, now: u64, payload: &mut Sink<'_>) -> Option<Outgoing> {
        if let Some((seq, ack)) = self.rst_pending.take() {
            let mut h = self.header(now, seq, RST, TcpOptions::default());
            if let Some(a) = ack {
                h.ack = a.0;
                h.flags |= ACK;
            }
            return Some(Outgoing {
                hdr: h,
                payload_len: 0,
            });
        }
        if let Some(o) = self.poll_early_control(now) {
            return Some(o);
        }
        match self.state {
            State::Closed | State::Listen => return None,
            // The SYN-ACK acknowledges the peer's SYN: under the output
            // commit it waits, as any ACK does, until the backup confirms
            // the state that covers the SYN (replica.rs).
            State::SynReceived if self.syn_pending && self.ack_held() => return None,
            State::SynSent | State::SynReceived if self.syn_pending => {
                return Some(self.send_syn(now))
            }
            // Early data follows the SYN before the SYN-ACK (conn/early.rs).
            State::SynSent if !self.early_sending() => return None,
            _ => {}
        }
        if self.tlp_probe {
            self.tlp_probe = false;
            if let Some(o) = self.send_probe(now, payload) {
                return Some(o);
            }
        }
        if let Some(o) = self.send_data(now, payload, false) {
            return Some(o);
        }
        if self.keepalive_probe {
            // RFC 9293 3.8.4: a segment with SEG.SEQ = SND.NXT - 1 and no data.
            self.keepalive_probe = false;
            let h = self.header(
                now,
                Seq(self.snd_max.0.wrapping_sub(1)),
                ACK,
                self.base_options(now),
            );
            return Some(Outgoing {
                hdr: h,
                payload_len: 0,
            });
        }
        // A pure ACK held back by the output commit goes once the backup
        // confirms (replica.rs); the flags stay set until then.
        if (self.ack_now || self.owed_acks > 0) && !self.ack_held() {
            self.owed_acks = self.owed_acks.saturating_sub(1);
            let mut o = self.base_options(now);
            self.add_sack_blocks(&mut o);
            // Pure ACKs carry the highest sequence number sent: after a
            // go-back-N retransmission SND.NXT is behind what the peer has
            // already received, and an ACK numbered below its RCV.NXT would
            // fail the acceptability test and be dropped (RFC 9293 3.10.7.4).
            let h = self.header(now, self.snd_max, ACK, o);
            return Some(Outgoing {
                hdr: h,
                payload_len: 0,
            });
        }
        None
    }

    pub(super) fn send_syn(&mut self, now: u64) -> Outgoing {
        self.syn_pending = false;
        let ack = self.state == State::SynReceived;
        let opts = TcpOptions {
            mss: Some(self.cfg.mss),
            window_scale: (self.cfg.window_scale && (!ack || self.ws_ok))
                .then(|| shift_for(self.cfg.recv_buf)),
            sack_permitted: self.cfg.sack && (!ack || self.sack_ok),
            timestamps: (self.cfg.timestamps && (!ack || self.ts_ok))
                .then(|| (self.ts_now(now), if ack { self.ts_recent } else { 0 })),
            early_data: self.early_syn_option(),
            ..TcpOptions::default()
        };
        if !ack {
            // Our own shift, used once the peer shows it scales too.
            self.rcv_shift = shift_for(self.cfg.recv_buf);
        }
        let flags = if ack { SYN | ACK } else { SYN };
        let h = self.header(now, self.iss, flags, opts);
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        if self.retries == 0 && self.rtt_probe.is_none() {
            self.rtt_probe = Some((self.iss, now));
        }
        Outgoing {
            hdr: h,
            payload_len: 0,
        }
    }

    pub(super) fn add_sack_blocks(&mut self, o: &mut TcpOptions) {
        if !self.sack_ok {
            return;
        }
        // RFC 2883: a duplicate segment received is reported first.
        let mut k0 = 0;
        if let Some((l, r)) = self.dsack.take() {
            o.sack_blocks[0] = (l.0, r.0);
            o.sack_count = 1;
            k0 = 1;
        }
        // RFC 2018 4: the block holding the most recently received segment
        // first, then the others from the lowest up.
        let ranges = self.rx.ooo_ranges();
        let recent = self.last_ooo.and_then(|s| {
            ranges.iter().position(|&(off, len)| {
                let l = self.rcv_nxt + off;
                l.le(s) && s.lt(l + len)
            })
        });
        let order = recent
            .into_iter()
            .chain((0..ranges.len()).filter(|&i| Some(i) != recent));
        for (k, i) in order.take(4 - k0).enumerate() {
            let (off, len) = ranges[i];
            let l = self.rcv_nxt + off;
            o.sack_blocks[k0 + k] = (l.0, (l + len).0);
            o.sack_count = k0 + k + 1;
        }
    }

    pub(super) fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::LastAck
                | State::Closing
        ) || self.early_sending()
    }

    /// New data within the windows, or after a timeout the next bytes the
    /// peer has not SACKed; `probe` (a tail loss probe) sends one segment
    /// whatever cwnd says.
    pub(super) fn send_data(
        &mut self,
        now: u64,
        payload: &mut Sink<'_>,
        probe_tail: bool,
    ) -> Option<Outgoing> {
        if !self.can_send_data() {
            return None;
        }
        let mss = self.eff_mss().min(payload.max());
        let cwnd = self.cc.cwnd();
        // In recovery with SACK, retransmit the first hole first (RFC 6675 NextSeg rule 1).
        if self.recover.is_some() && !probe_tail {
            if let Some(o) = self.retransmit_hole(now, payload, mss, cwnd) {
                return Some(o);
            }
        }
        // An unacknowledged SYN (early data) counts in neither window.
        let syn = self.syn_unacked();
        let flight = if self.recover.is_some() {
            self.pipe()
        } else {
            (self.snd_nxt - self.snd_una).saturating_sub(syn)
        };
        let wnd_edge = self.snd_una + syn + self.snd_wnd;
        let room_wnd = if self.snd_nxt.lt(wnd_edge) {
            wnd_edge - self.snd_nxt
        } else {
            0
        };
        // RFC 3042 limited transmit: each of the first two duplicate ACKs
        // lets one new segment out, so that a small window still produces
        // enough duplicate ACKs for fast retransmit.
        let limited = if self.recover.is_none() && (1..=2).contains(&self.dupacks) {
            self.dupacks as usize * mss
        } else {
            0
        };
        let room = if let (false, Some(budget)) = (probe_tail, self.prr_budget()) {
            room_wnd.min(budget)
        } else if !probe_tail {
            room_wnd.min((cwnd + limited).saturating_sub(flight))
        } else if self.snd_nxt == self.snd_max {
            room_wnd
        } else {
            mss
        };
        let mut unsent = self.unsent();
        let mut probe = false;
        if self.persist_probe && unsent > 0 {
            // Zero-window probe: one byte past the window (RFC 9293 3.8.6.1).
            self.persist_probe = false;
            probe = true;
        } else if self.snd_wnd == 0 && unsent > 0 && self.snd_una == self.snd_max {
            if self.persist_at.is_none() {
                self.persist_at = Some(now + self.rtt.rto());
            }
            return None;
        }
        let len = if probe {
            1
        } else if self.snd_nxt == self.snd_max && !probe_tail {
            self.new_data_len(payload, unsent, mss, room)
        } else {
            unsent.min(mss).min(room)
        };
        unsent = unsent.saturating_sub(len);
        let fin_due = self.fin_queued
            && unsent == 0
            && (self.fin_seq.is_none() || self.fin_seq == Some(self.snd_nxt + len))
            && matches!(
                self.state,
                State::FinWait1 | State::LastAck | State::Closing
            );
        if len == 0 && !fin_due {
            return None;
        }
        // After a timeout, skip what the receiver already SACKed.
        while self.snd_nxt.lt(self.snd_max) {
            match self.log.sacked_end(self.snd_nxt) {
                Some(end) => self.snd_nxt = end.min(self.snd_max),
                None => break,
            }
        }
        let seq = self.snd_nxt;
        let offset = (seq - self.snd_una) - self.syn_unacked();
        let n = payload.take(&self.tx, offset, len);
        // After a takeover the primary may have sent these bytes: the peer's
        // ACK may be for its copy (Karn's rule, RFC 6298 3; RFC 8985 6.2).
        let ambiguous = self.primary_may_have_sent(seq);
        self.log
            .sent_as(seq, seq + n, now, if ambiguous { RETX } else { 0 });
        self.prr_sent(n);
        let mut flags = ACK;
        if n > 0 && unsent == 0 {
            flags |= PSH;
        }
        if fin_due {
            flags |= FIN;
            self.fin_seq = Some(seq + n);
        }
        let retransmission = seq.lt(self.snd_max);
        if retransmission {
            self.stats.retransmits += 1;
        }
        let mut opts = self.base_options(now);
        self.add_sack_blocks(&mut opts);
        let h = self.header(now, seq, flags, opts);
        self.snd_nxt = seq + n + usize::from(flags & FIN != 0);
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        if !retransmission && !ambiguous && self.rtt_probe.is_none() && n > 0 {
            self.rtt_probe = Some((seq, now));
        }
        if !retransmission && n > 0 && !probe_tail {
            self.arm_pto(now);
        }
        self.arm_keepalive(now);
        Some(Outgoing {
            hdr: h,
            payload_len: n,
        })
    }

    /// How much new data the next segment carries: one MSS, or for a
    /// super-segment ([`Conn::poll_segment`]) the shared run at SND.NXT up
    /// to the port's limit, cut to whole MSS unless it takes the rest.
    fn new_data_len(&self, sink: &Sink<'_>, unsent: usize, mss: usize, room: usize) -> usize {
        let one = unsent.min(mss).min(room);
        let Sink::Defer { tso, .. } = *sink else {
            return one;
        };
        if tso <= mss || room <= mss || unsent <= mss {
            return one;
        }
        let offset = (self.snd_nxt - self.snd_una) - self.syn_unacked();
        let run = self.tx.shared_run(offset).min(tso).min(room);
        if run >= unsent {
            return unsent;
        }
        // Whole MSS, so that the port's last segment is not a short one.
        (run / mss * mss).max(one)
    }

    /// RFC 6675 "pipe": bytes in flight that are neither SACKed nor lost
    /// (a retransmitted hole counts once, as the lost original no longer
    /// does).
    pub(super) fn pipe(&self) -> usize {
        (self.snd_max - self.snd_una)
            .saturating_sub(self.log.sacked())
            .saturating_sub(self.log.lost())
    }

    fn retransmit_hole(
        &mut self,
        now: u64,
        payload: &mut Sink<'_>,
        mss: usize,
        cwnd: usize,
    ) -> Option<Outgoing> {
        let recover = self.recover?;
        let (s, run_end) = if self.sack_ok {
            // RFC 6675 NextSeg rule 1, with the loss marks of RACK (RFC
            // 8985): the first lost run not retransmitted since. As many
            // as the pipe allows; the one at SND.UNA always goes.
            let (s, e) = self.log.first_lost()?;
            let room = self
                .prr_budget()
                .unwrap_or(cwnd.saturating_sub(self.pipe()));
            if room == 0 && s != self.snd_una {
                return None;
            }
            (s, e)
        } else {
            // NewReno: one retransmission per partial ACK, at SND.UNA.
            let s = self.rexmit_next.max(self.snd_una);
            if s != self.snd_una || !s.lt(recover) || !s.lt(self.snd_max) {
                return None;
            }
            (s, self.snd_max)
        };
        let data_end = self.snd_una + self.tx.len();
        let hole_end = run_end.min(data_end);
        if !s.lt(hole_end) {
            return None;
        }
        let len = (hole_end - s).min(mss);
        let n = payload.take(&self.tx, s - self.snd_una, len);
        self.log.sent(s, s + n, now);
        self.prr_sent(n);
        let mut opts = self.base_options(now);
        self.add_sack_blocks(&mut opts);
        let h = self.header(now, s, ACK, opts);
        self.rexmit_next = s + n.max(1);
        if !self.sack_ok {
            // NewReno: the next retransmission waits for the next partial ACK.
            self.rexmit_next = recover;
        }
        self.stats.retransmits += 1;
        self.rtt_probe = None;
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        Some(Outgoing {
            hdr: h,
            payload_len: n,
        })
    }

    pub(super) fn arm_keepalive(&mut self, now: u64) {
        if let Some(idle) = self.cfg.keepalive_ns {
            self.keepalive_at = Some(now + idle);
        }
    }
}

/// Where a segment's payload goes: copied into the caller's buffer, or
/// only located in the send buffer for the caller to copy later
/// ([`Conn::poll_segment`]; `tso`: its super-segment limit, 0 for none).
pub(super) enum Sink<'a> {
    Copy(&'a mut [u8]),
    Defer { max: usize, at: usize, tso: usize },
}

impl Sink<'_> {
    /// Most payload bytes a segment may carry.
    pub(super) fn max(&self) -> usize {
        match self {
            Sink::Copy(b) => b.len(),
            Sink::Defer { max, .. } => *max,
        }
    }

    /// Takes `len` bytes at `offset` of `tx` as the payload; returns how
    /// many there are.
    fn take(&mut self, tx: &crate::buffer::SendBuf, offset: usize, len: usize) -> usize {
        match self {
            Sink::Copy(b) => tx.copy_at(offset, &mut b[..len]),
            Sink::Defer { at, .. } => {
                *at = offset;
                len.min(tx.len().saturating_sub(offset))
            }
        }
    }
}
