//! The input side of a connection: segments in (RFC 9293 3.10.7), ACK
//! processing with RTT samples and congestion control, SACK scoreboard
//! updates (RFC 2018, RFC 6675), and received data into the reassembly
//! buffer. The RFC 5961 checks and PAWS (RFC 7323 5) sit at the top of
//! [`Conn::handle_segment`].

use super::*;

impl Conn {
    pub(super) fn ts_now(&self, now: u64) -> u32 {
        ((now / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// RFC 5961 section 7: challenge ACKs are rate-limited per connection.
    pub(super) fn challenge_ack(&mut self, now: u64) {
        let (start, count) = self.challenge_window;
        if now.saturating_sub(start) >= 1_000_000_000 {
            self.challenge_window = (now, 1);
        } else if count < self.cfg.challenge_acks_per_sec {
            self.challenge_window.1 += 1;
        } else {
            return;
        }
        self.stats.challenge_acks += 1;
        self.ack_now = true;
    }

    /// Processes one received segment (RFC 9293 3.10.7).
    pub fn handle_segment(&mut self, now: u64, seg: &Segment) {
        self.last_activity = now;
        self.keepalive_probes = 0;
        match self.state {
            State::Closed | State::Listen => return,
            State::SynSent if self.early_sending() => return self.on_early_syn_sent(now, seg),
            State::SynSent => return self.on_syn_sent(now, seg),
            _ => {}
        }
        if self.early_gateway_syn(seg) {
            return;
        }
        let seq = Seq(seg.seq);
        let rst = seg.flags & RST != 0;
        // RFC 7323 5.3 PAWS: drop a segment whose timestamp is older than TS.Recent.
        if self.ts_ok && !rst {
            if let Some((tsval, _)) = seg.opts.timestamps {
                if (tsval.wrapping_sub(self.ts_recent) as i32) < 0 {
                    self.stats.dropped += 1;
                    self.ack_now = true;
                    return;
                }
            }
        }
        // RFC 9293 3.10.7.4 first: sequence number acceptability.
        let wnd = self.rx.window();
        let len = seg.len();
        let in_wnd = |s: Seq| self.rcv_nxt.le(s) && s.lt(self.rcv_nxt + wnd);
        let acceptable = match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_wnd(seq),
            (_, 0) => false,
            (_, _) => in_wnd(seq) || in_wnd(seq + (len - 1)),
        };
        if !acceptable {
            self.stats.dropped += 1;
            if !rst {
                self.ack_now = true;
                // Old data again (a spurious retransmission): the ACK
                // reports it as a D-SACK (RFC 2883 4.1), which widens the
                // sender's RACK reordering window (RFC 8985 6.2).
                let data = seg.payload.len();
                if self.sack_ok && data > 0 && (seq + data).le(self.rcv_nxt) {
                    self.dsack = Some((seq, seq + data));
                }
            }
            // RFC 9293 3.10.7.4: with a zero window, valid ACKs are still processed.
            if wnd == 0 && seg.flags & ACK != 0 && !rst && self.state.synchronized() {
                self.process_ack(now, seg);
            }
            return;
        }
        // Second: RST (RFC 5961 3.2: exact match resets, else challenge).
        if rst {
            if seq == self.rcv_nxt {
                self.enter_closed(Some(Event::Reset));
            } else {
                self.challenge_ack(now);
            }
            return;
        }
        // Fourth: SYN on a synchronized connection (RFC 5961 4.2).
        if seg.flags & SYN != 0 {
            if self.state == State::SynReceived && seq == self.irs {
                // A retransmitted SYN: our SYN-ACK was lost.
                self.syn_pending = true;
                return;
            }
            self.challenge_ack(now);
            return;
        }
        // Fifth: ACK.
        if seg.flags & ACK == 0 {
            return;
        }
        self.early_gateway_ack(seg);
        if self.state == State::SynReceived {
            let ack = Seq(seg.ack);
            if self.snd_una.lt(ack) && ack.le(self.snd_max) {
                self.state = State::Established;
                self.snd_wnd = usize::from(seg.window) << self.snd_shift;
                self.max_snd_wnd = self.snd_wnd;
                self.snd_wl1 = seq;
                self.snd_wl2 = ack;
                self.push_event(Event::Connected);
                if self.fin_queued {
                    self.state = State::FinWait1;
                }
            } else {
                self.rst_pending = Some((ack, None));
                return;
            }
        }
        if !self.process_ack(now, seg) {
            return;
        }
        // Timestamps (RFC 7323 4.3): remember the peer's clock for echoes.
        if let (true, Some((tsval, _))) = (self.ts_ok, seg.opts.timestamps) {
            if seq.le(self.rcv_adv) {
                self.ts_recent = tsval;
            }
        }
        // Seventh: segment text.
        if !seg.payload.is_empty()
            && matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            self.take_data(now, seq, seg.payload);
        }
        // Eighth: FIN.
        if seg.flags & FIN != 0 {
            let fin_at = seq + seg.payload.len();
            if fin_at == self.rcv_nxt && !self.fin_received {
                self.fin_received = true;
                self.rcv_nxt = self.rcv_nxt + 1;
                self.ack_now = true;
                self.push_event(Event::PeerClosed);
                match self.state {
                    State::SynReceived | State::Established => self.state = State::CloseWait,
                    State::FinWait1 => {
                        if self.fin_acked() {
                            self.enter_time_wait(now);
                        } else {
                            self.state = State::Closing;
                        }
                    }
                    State::FinWait2 => self.enter_time_wait(now),
                    _ => {}
                }
            } else if self.state == State::TimeWait {
                // RFC 9293: a retransmitted FIN is acknowledged and restarts 2 MSL.
                self.ack_now = true;
                self.enter_time_wait(now);
            }
        }
    }

    pub(super) fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| (f + 1).le(self.snd_una))
    }

    pub(super) fn enter_time_wait(&mut self, now: u64) {
        self.state = State::TimeWait;
        self.timewait_at = Some(now + 2 * self.cfg.msl_ns);
        self.rto_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
    }

    /// SYN-SENT (RFC 9293 3.10.7.3).
    pub(super) fn on_syn_sent(&mut self, now: u64, seg: &Segment) {
        let ack = Seq(seg.ack);
        let has_ack = seg.flags & ACK != 0;
        if has_ack && (ack.le(self.iss) || ack.gt(self.snd_max)) {
            if seg.flags & RST == 0 {
                self.rst_pending = Some((ack, None));
            }
            return;
        }
        if seg.flags & RST != 0 {
            if has_ack {
                self.enter_closed(Some(Event::Reset));
            }
            return;
        }
        if seg.flags & SYN == 0 {
            return;
        }
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.negotiate(seg);
        if has_ack {
            if let Some((s, sent)) = self.rtt_probe.take() {
                if s.lt(ack) && self.retries == 0 {
                    self.rtt.sample(now - sent);
                }
            }
            self.snd_una = ack;
            self.log.ack(ack, |_| {});
            self.state = State::Established;
            self.snd_wnd = usize::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = Seq(seg.seq);
            self.snd_wl2 = ack;
            self.retries = 0;
            self.rto_at = None;
            self.ack_now = true;
            self.push_event(Event::Connected);
            if !seg.payload.is_empty() {
                self.take_data(now, Seq(seg.seq) + 1, seg.payload);
            }
        } else {
            // Simultaneous open: answer with SYN-ACK.
            self.state = State::SynReceived;
            self.snd_wnd = usize::from(seg.window);
            self.syn_pending = true;
            self.snd_nxt = self.iss;
        }
    }

    /// RFC 9293 3.10.7.4 fifth step for synchronized states, with RFC 5961 5.2.
    /// Returns false when the segment must be dropped.
    pub(super) fn process_ack(&mut self, now: u64, seg: &Segment) -> bool {
        let ack = Seq(seg.ack);
        let seq = Seq(seg.seq);
        if ack.gt(self.snd_max) && self.takeover.is_some() {
            self.ack_ahead(now, ack, seg);
        }
        if ack.gt(self.snd_max) {
            // Acknowledges data never sent.
            self.ack_now = true;
            return false;
        }
        let floor = Seq(self.snd_una.0.wrapping_sub(self.max_snd_wnd as u32));
        if ack.lt(floor) {
            self.challenge_ack(now);
            return false;
        }
        let mut delivery = super::rack::Delivery::default();
        let (una0, sacked0) = (self.snd_una, self.log.sacked());
        let mut dsack = None;
        if self.sack_ok && seg.opts.sack_count > 0 {
            dsack = self.take_sack(&seg.opts, ack, &mut delivery);
        }
        let window = usize::from(seg.window) << self.snd_shift;
        let advanced = self.snd_una.lt(ack);
        if advanced {
            let fack = self.rack.fack;
            self.log.ack(ack, |e| delivery.note(fack, e));
            self.on_new_ack(now, ack, seg);
        } else if ack == self.snd_una
            && seg.payload.is_empty()
            && seg.flags & (SYN | FIN) == 0
            && window == self.snd_wnd
            && self.snd_max.gt(self.snd_una)
        {
            self.on_dup_ack(now);
        }
        if self.sack_ok {
            self.rack_update(now, &delivery);
            self.rack_on_dsack(dsack.is_some());
            self.rack_detect(now);
            if self.recover.is_some() {
                // RFC 6937 DeliveredData: change in SND.UNA plus change in SACKed bytes.
                let delivered = ((self.snd_una - una0) + self.log.sacked()).saturating_sub(sacked0);
                self.prr_on_ack(delivered);
            }
            self.tlp_on_ack(now, ack, dsack);
            if advanced {
                self.arm_pto(now);
            }
        }
        // Window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule).
        if self.snd_wl1.lt(seq) || (self.snd_wl1 == seq && self.snd_wl2.le(ack)) {
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if window > 0 {
                self.persist_at = None;
            }
        }
        // Our FIN acknowledged?
        if self.fin_acked() {
            match self.state {
                State::FinWait1 => self.state = State::FinWait2,
                State::Closing => self.enter_time_wait(now),
                State::LastAck => {
                    self.enter_closed(Some(Event::Closed));
                    return false;
                }
                _ => {}
            }
        }
        true
    }

    pub(super) fn on_new_ack(&mut self, now: u64, ack: Seq, seg: &Segment) {
        let mut acked = ack - self.snd_una;
        if self.snd_una == self.iss {
            acked -= 1; // our SYN
        }
        if self.fin_seq.is_some_and(|f| f.lt(ack)) && !self.fin_acked() {
            acked = acked.saturating_sub(1); // our FIN
        }
        let flight_before = self.snd_max - self.snd_una;
        let data = acked.min(self.tx.len());
        self.tx.consume(data);
        self.stats.bytes_out += data as u64;
        self.snd_una = ack;
        if self.snd_nxt.lt(ack) {
            self.snd_nxt = ack;
        }
        self.retries = 0;
        // RTT: timestamps give a sample per ACK (RFC 7323 4.1); otherwise one
        // timed segment at a time, never a retransmitted one (Karn).
        // The timed segment gives a nanosecond sample; the timestamp echo
        // (millisecond clock) fills in between, when it can resolve the RTT.
        let mut sample = None;
        if let Some((s, sent)) = self.rtt_probe {
            if s.lt(ack) {
                sample = Some(now - sent);
                self.rtt_probe = None;
            }
        }
        if self.ts_ok && sample.is_none() {
            if let Some((_, tsecr)) = seg.opts.timestamps {
                let ms = self.ts_now(now).wrapping_sub(tsecr);
                // An echo of the primary's clock (after a takeover) times
                // the primary's copy, not ours.
                if tsecr != 0 && (1..600_000).contains(&ms) && self.echo_is_ours(tsecr) {
                    sample = Some(u64::from(ms) * 1_000_000);
                }
            }
        }
        if let Some(rtt) = sample {
            self.rtt.sample(rtt);
        }
        self.hystart(ack, sample);
        match self.recover {
            Some(r) if ack.lt(r) => {
                // Partial ACK (RFC 6582): retransmit the next hole. With
                // SACK the holes come from the log's loss marks.
                self.rexmit_next = ack;
            }
            Some(_) => {
                self.recover = None;
                self.prr = None;
                self.dupacks = 0;
                self.rack_recovery_ended();
            }
            None => {
                self.dupacks = 0;
                // RFC 7661: grow the window only while the sender uses it
                // (here: at least half of it was in flight), so an idle or
                // application-limited connection keeps a validated cwnd.
                if 2 * flight_before >= self.cc.cwnd() {
                    self.cc.on_ack(now, data, self.rtt.srtt());
                }
            }
        }
        self.resume_on_ack(ack);
        if self.rto_recover.is_some_and(|r| r.le(ack)) {
            self.rto_recover = None;
            self.rack_recovery_ended();
        }
        self.rto_at = if self.snd_una == self.snd_max {
            None
        } else {
            Some(now + self.rtt.rto())
        };
        if data > 0 && self.tx.free() > 0 {
            self.push_event(Event::Writable);
        }
    }

    /// The duplicate-ACK threshold: 3 (RFC 5681), lowered by early
    /// retransmit (RFC 5827) when fewer than four segments are outstanding and
    /// no new data can be sent, so small windows recover without an RTO.
    pub(super) fn dupthresh(&self) -> u32 {
        let mss = self.eff_mss();
        let segs = self.in_flight().div_ceil(mss) as u32;
        if segs < 4 && self.unsent() == 0 {
            segs.saturating_sub(1).max(1)
        } else {
            3
        }
    }

    /// RFC 9406 (HyStart++) delay increase: leave slow start when a
    /// round's minimum RTT rises by clamp(last/8, 4 ms, 16 ms) over the
    /// previous round's, instead of overshooting into a burst of losses.
    pub(super) fn hystart(&mut self, ack: Seq, sample: Option<u64>) {
        let (cwnd, ssthresh, _) = self.cc_info();
        if cwnd >= ssthresh {
            return;
        }
        if let Some(rtt) = sample {
            self.hs_cur_min = self.hs_cur_min.min(rtt);
            self.hs_samples += 1;
        }
        if ack.lt(self.hs_round_end) {
            return;
        }
        let eta = (self.hs_last_min / 8).clamp(4_000_000, 16_000_000);
        if self.hs_last_min != u64::MAX
            && self.hs_samples >= 8
            && cwnd >= 16 * self.eff_mss()
            && self.hs_cur_min >= self.hs_last_min.saturating_add(eta)
        {
            self.cc.set_window(cwnd, cwnd);
        }
        if self.hs_samples > 0 {
            self.hs_last_min = self.hs_cur_min;
        }
        self.hs_cur_min = u64::MAX;
        self.hs_samples = 0;
        self.hs_round_end = self.snd_max;
    }

    /// A duplicate ACK. Without SACK, DupThresh of them start NewReno's
    /// fast recovery (RFC 5681 3.2, RFC 6582); with SACK, RACK decides
    /// what is lost (`rack_detect`), and the count only feeds limited
    /// transmit (RFC 3042).
    pub(super) fn on_dup_ack(&mut self, now: u64) {
        self.dupacks += 1;
        let after_rto = self.rto_recover.is_some_and(|r| self.snd_una.lt(r));
        if !self.sack_ok && self.dupacks >= self.dupthresh() && self.recover.is_none() && !after_rto
        {
            self.enter_recovery(now);
        }
    }

    /// Takes an ACK's SACK blocks into the log (RFC 2018), noting what they
    /// deliver for RACK. Blocks outside what we sent are ignored; a first
    /// block at or below the cumulative ACK is a D-SACK (RFC 2883) and is
    /// returned.
    pub(super) fn take_sack(
        &mut self,
        o: &TcpOptions,
        ack: Seq,
        d: &mut super::rack::Delivery,
    ) -> Option<(Seq, Seq)> {
        let blocks = &o.sack_blocks[..o.sack_count.min(4)];
        let dsack = blocks
            .first()
            .map(|&(l, r)| (Seq(l), Seq(r)))
            .filter(|&(l, r)| l.lt(r) && r.le(ack));
        let mss = self.eff_mss();
        let fack = self.rack.fack;
        for &(l, r) in blocks {
            let (l, r) = (Seq(l), Seq(r));
            if l.lt(r) && r.gt(self.snd_max) {
                // After a takeover: the primary got this far.
                self.takeover_saw(r);
            }
            if !l.lt(r) || l.lt(self.snd_una) || r.gt(self.snd_max) {
                continue;
            }
            self.log.sack(l, r, mss, |e| d.note(fack, e));
        }
        dsack
    }

    pub(super) fn take_data(&mut self, now: u64, seq: Seq, payload: &[u8]) {
        let (off, data) = if seq.lt(self.rcv_nxt) {
            let skip = self.rcv_nxt - seq;
            if skip >= payload.len() {
                // A duplicate: reported in the next ACK (RFC 2883 D-SACK).
                if !payload.is_empty() {
                    self.dsack = Some((seq, seq + payload.len()));
                }
                self.ack_now = true;
                return;
            }
            (0, &payload[skip..])
        } else {
            (seq - self.rcv_nxt, payload)
        };
        let had_holes = !self.rx.ooo_ranges().is_empty();
        if off > 0 {
            self.last_ooo = Some(self.rcv_nxt + off);
        }
        let grew = self.rx.write_at(off, data);
        self.rcv_nxt = self.rcv_nxt + grew;
        self.stats.bytes_in += grew as u64;
        if grew > 0 {
            self.push_event(Event::Readable);
        }
        // RFC 9293 3.8.6.3 / RFC 5681 4.2: ACK at least every second full
        // segment, at once for out-of-order data or a filled hole; else delay.
        if off > 0 || had_holes || grew == 0 {
            self.ack_now = true;
            self.owed_acks = self.owed_acks.saturating_add(1).min(8);
        } else {
            self.unacked_segs += 1;
            if self.unacked_segs >= 2 {
                self.ack_now = true;
            } else if self.delack_at.is_none() {
                self.delack_at = Some(now + self.cfg.delayed_ack_ns);
            }
        }
    }
}
