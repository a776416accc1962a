//! RACK-TLP loss detection (RFC 8985) for connections with SACK.
//!
//! RACK marks a segment lost when a segment sent after it was delivered
//! and a reordering window has passed, by send time rather than by counting
//! duplicate ACKs. It finds lost retransmissions, which the DupThresh rule
//! of RFC 6675 can only leave to the RTO. The tail loss probe (TLP) sends
//! one segment when ACKs stop for two SRTTs, so that a lost tail is
//! repaired by fast recovery instead of a retransmission timeout. The send
//! times live in [`super::seglog`].

use super::output::Sink;
use super::seglog::{Sent, RETX};
use super::*;

/// Recoveries a widened reordering window lasts without a new D-SACK
/// (RFC 8985 6.2 step 4, RACK.reo_wnd_persist).
const REO_WND_PERSIST: u32 = 16;

/// What one ACK delivered (RFC 8985 6.2 steps 1-3).
#[derive(Default)]
pub(super) struct Delivery {
    /// The most recently sent of the delivered segments.
    newest: Option<Sent>,
    /// Highest end delivered.
    max_end: Option<Seq>,
    /// An original transmission below RACK.fack was delivered: reordering.
    reordered: bool,
}

/// RFC 8985 RACK_sent_after: whether (t1, e1) was sent after (t2, e2).
fn sent_after(t1: u64, e1: Seq, t2: u64, e2: Seq) -> bool {
    t1 > t2 || (t1 == t2 && e1.gt(e2))
}

impl Delivery {
    /// Notes one delivered entry against RACK.fack.
    pub(super) fn note(&mut self, fack: Option<Seq>, e: &Sent) {
        if e.flags & RETX == 0 && fack.is_some_and(|f| e.end.lt(f)) {
            self.reordered = true;
        }
        self.max_end = Some(self.max_end.map_or(e.end, |m| m.max(e.end)));
        if self
            .newest
            .is_none_or(|n| sent_after(e.xmit, e.end, n.xmit, n.end))
        {
            self.newest = Some(*e);
        }
    }
}

impl Conn {
    /// RFC 8985 6.2 steps 2 and 3: updates the RACK segment and RTT, and
    /// notes reordering.
    pub(super) fn rack_update(&mut self, now: u64, d: &Delivery) {
        if let Some(e) = d.newest {
            let rtt = now.saturating_sub(e.xmit);
            let retx = e.flags & RETX != 0;
            // A retransmission acknowledged sooner than the minimum RTT was
            // delivered by its original: no sample (step 2).
            let ambiguous = retx && self.rtt.min_rtt().is_some_and(|m| rtt < m);
            if !ambiguous
                && (!self.rack.seen || sent_after(e.xmit, e.end, self.rack.xmit, self.rack.end))
            {
                self.rack.seen = true;
                self.rack.xmit = e.xmit;
                self.rack.end = e.end;
                self.rack.rtt = rtt;
                self.rack.retx = retx;
            }
        }
        self.rack.reordering_seen |= d.reordered;
        if let Some(m) = d.max_end {
            self.rack.fack = Some(self.rack.fack.map_or(m, |f| f.max(m)));
        }
    }

    /// RFC 8985 6.2 step 4, its first half, on each ACK: a D-SACK says a
    /// retransmission was spurious, so the reordering window widens by a
    /// quarter of min-RTT, at most once per round trip (RACK.dsack_round),
    /// and stays wide for [`REO_WND_PERSIST`] recoveries.
    pub(super) fn rack_on_dsack(&mut self, dsack: bool) {
        if self.rack.dsack_round.is_some_and(|r| r.le(self.snd_una)) {
            self.rack.dsack_round = None;
        }
        // A D-SACK also counts as reordering seen (our choice; step 3 only
        // looks at originals): it proves the original of a retransmission
        // arrived. Without it, a path whose reordering RACK always resends
        // in time never delivers an original late, and the window stays 0.
        self.rack.reordering_seen |= dsack;
        if dsack && self.rack.dsack_round.is_none() {
            self.rack.dsack_round = Some(self.snd_max);
            self.rack.reo_wnd_extra = self.rack.reo_wnd_extra.saturating_add(1);
            self.rack.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// RFC 8985 6.2 step 4, on leaving fast or RTO recovery: after
    /// [`REO_WND_PERSIST`] recoveries without a D-SACK, the window is one
    /// quarter of min-RTT again.
    pub(super) fn rack_recovery_ended(&mut self) {
        if self.rack.reo_wnd_persist > 0 {
            self.rack.reo_wnd_persist -= 1;
            if self.rack.reo_wnd_persist == 0 {
                self.rack.reo_wnd_extra = 0;
            }
        }
    }

    /// RFC 8985 6.2 step 4: no window before reordering was seen once in
    /// recovery or with DupThresh segments SACKed; otherwise
    /// RACK.reo_wnd_mult quarters of the minimum RTT, at most SRTT.
    pub(super) fn rack_reo_wnd(&self) -> u64 {
        let in_recovery = self.recover.is_some() || self.rto_recover.is_some();
        if !self.rack.reordering_seen && (in_recovery || self.log.sacked() >= 3 * self.eff_mss()) {
            return 0;
        }
        let mult = u64::from(self.rack.reo_wnd_extra) + 1;
        let wnd = (self.rtt.min_rtt().unwrap_or(0) / 4).saturating_mul(mult);
        wnd.min(self.rtt.srtt().unwrap_or(wnd))
    }

    /// RFC 8985 6.2 step 5 and the reordering timer; starts fast recovery
    /// (RFC 6675) when something is lost outside of it.
    pub(super) fn rack_detect(&mut self, now: u64) {
        if !self.sack_ok || !self.rack.seen {
            return;
        }
        let before = self.log.lost();
        let wait = self.rack.rtt + self.rack_reo_wnd();
        let (_, timer) =
            self.log
                .detect_lost(now, self.rack.xmit, self.rack.end, self.rack.retx, wait);
        self.rack_at = timer;
        self.stats.rack_lost += self.log.lost().saturating_sub(before) as u64;
        let after_rto = self.rto_recover.is_some_and(|r| self.snd_una.lt(r));
        if self.log.lost() > 0 && self.recover.is_none() && !after_rto {
            self.enter_recovery(now);
        }
    }

    /// Fast retransmit and the start of recovery (RFC 5681 3.2, RFC 6675
    /// 5): one decrease per window. Without SACK (NewReno, RFC 6582 3.2
    /// step 2) the first unacknowledged segment is lost. With SACK, RACK
    /// started it and has marked what is lost (RFC 8985 6.2 step 5); SND.UNA
    /// is not lost unless it did, for its segment may be a retransmission
    /// still in flight (a probe's, or an earlier recovery's), and resending
    /// it again would be spurious.
    pub(super) fn enter_recovery(&mut self, now: u64) {
        self.stats.fast_retransmits += 1;
        self.cc.on_congestion(now, self.in_flight());
        self.resume_on_loss();
        self.recover = Some(self.snd_max);
        self.rexmit_next = self.snd_una;
        if self.sack_ok {
            self.prr = Some(Prr {
                recover_fs: self.in_flight().max(1),
                ..Prr::default()
            });
        } else {
            self.log.mark_lost_at(self.snd_una);
        }
        self.pto_at = None;
        self.tlp_probe = false;
    }

    /// RFC 8985 7.2: (re)arms the probe timeout after new data left or an
    /// ACK advanced, at two SRTTs (plus the worst-case delayed ACK with
    /// one segment in flight) and at most the RTO, unless a probe is
    /// outstanding or the connection is in recovery.
    pub(super) fn arm_pto(&mut self, now: u64) {
        self.pto_at = None;
        if !self.sack_ok
            || self.recover.is_some()
            || self.rto_recover.is_some()
            || self.tlp_end.is_some()
            || self.snd_max == self.snd_una
            || !self.can_send_data()
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        let mut pto = 2 * srtt;
        if self.in_flight() <= self.eff_mss() {
            pto += WC_DELACK_NS;
        } else {
            // Linux adds the same 2 ms (TCP_TIMEOUT_MIN): with sub-ms RTTs,
            // two SRTTs are shorter than a scheduling hiccup of either end,
            // and each such probe was spurious and cut cwnd (RFC 8985 7.4).
            pto += PTO_SLACK_NS;
        }
        // At most the RTO: a probe then goes instead of a timeout.
        self.pto_at = Some(self.rto_at.map_or(now + pto, |r| r.min(now + pto)));
    }

    /// The probe timer fired: a probe goes at the next transmit.
    pub(super) fn on_pto(&mut self) {
        self.pto_at = None;
        if self.recover.is_none()
            && self.rto_recover.is_none()
            && self.tlp_end.is_none()
            && self.snd_max != self.snd_una
        {
            self.tlp_probe = true;
        }
    }

    /// RFC 8985 7.3: one new segment if the peer's window allows, else
    /// the last segment sent again; either ignores cwnd.
    pub(super) fn send_probe(&mut self, now: u64, payload: &mut Sink<'_>) -> Option<Outgoing> {
        let syn = self.syn_unacked();
        let wnd_edge = self.snd_una + syn + self.snd_wnd;
        let new_data =
            self.snd_nxt == self.snd_max && self.unsent() > 0 && self.snd_nxt.lt(wnd_edge);
        if !new_data {
            let fin = usize::from(self.fin_seq.is_some_and(|f| f.lt(self.snd_max)));
            let last = Seq(self.snd_max.0.wrapping_sub(fin as u32));
            let first = self.snd_una + syn;
            let back = (last - first).min(self.eff_mss().min(payload.max()));
            let start = Seq(last.0.wrapping_sub(back as u32));
            if !first.le(start) || self.log.sacked_end(start).is_some() {
                return None;
            }
            self.snd_nxt = start;
        }
        let o = self.send_data(now, payload, true)?;
        self.stats.tlp_probes += 1;
        self.tlp_end = Some((self.snd_max, !new_data));
        self.pto_at = None;
        self.rto_at = Some(now + self.rtt.rto());
        Some(o)
    }

    /// RFC 8985 7.4: an ACK past the probe. A probe of new data, or a
    /// retransmission the peer reports as a duplicate (D-SACK, RFC 2883),
    /// repaired nothing; a retransmitted probe acknowledged beyond its end
    /// without a D-SACK repaired a loss, which costs one window decrease.
    pub(super) fn tlp_on_ack(&mut self, now: u64, ack: Seq, dsack: Option<(Seq, Seq)>) {
        let Some((end, retx)) = self.tlp_end else {
            return;
        };
        if ack.lt(end) {
            return;
        }
        if !retx || dsack.is_some_and(|(l, r)| l.lt(end) && end.le(r)) {
            self.tlp_end = None;
        } else if ack.gt(end) {
            self.tlp_end = None;
            self.cc.on_congestion(now, self.in_flight());
            self.resume_on_loss();
        }
    }

    /// RFC 6937 on each ACK in recovery: `delivered` bytes reached the
    /// peer (cumulatively or SACKed). While the pipe is above ssthresh the
    /// sender sends ssthresh/RecoverFS of what was delivered (proportional
    /// rate reduction); below it, it grows back towards ssthresh by at most
    /// one segment more than was delivered (slow-start reduction bound).
    /// Without it a large flight lost at once left a pipe far below the
    /// reduced cwnd, and the whole difference went out in one burst into
    /// the queue that had just overflowed.
    pub(super) fn prr_on_ack(&mut self, delivered: usize) {
        let (pipe, ssthresh, mss) = (self.pipe(), self.cc.ssthresh(), self.eff_mss());
        let Some(p) = self.prr.as_mut() else {
            return;
        };
        p.delivered += delivered;
        p.budget = if pipe > ssthresh {
            (p.delivered * ssthresh)
                .div_ceil(p.recover_fs)
                .saturating_sub(p.out)
        } else {
            let limit = p.delivered.saturating_sub(p.out).max(delivered) + mss;
            (ssthresh - pipe).min(limit)
        };
    }

    /// What PRR lets out now (`None`: not in SACK recovery, cwnd rules).
    pub(super) fn prr_budget(&self) -> Option<usize> {
        self.prr.map(|p| p.budget)
    }

    /// `n` bytes left during recovery (prr_out).
    pub(super) fn prr_sent(&mut self, n: usize) {
        if let Some(p) = self.prr.as_mut() {
            p.out += n;
            p.budget = p.budget.saturating_sub(n);
        }
    }
}
