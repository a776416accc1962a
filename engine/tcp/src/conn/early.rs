//! Early data on overlay edge -> gateway connections (issue 7, the scheme of
//! US 2015/0381771): the edge proposes the gateway's ISN on its SYN, fakes
//! the receipt of a SYN-ACK with that ISN, and sends its request at once,
//! half a round trip before a normal handshake would let it.
//!
//! Edge ([`Conn::connect_early`]): the connection stays in SYN-SENT (its SYN
//! is not acknowledged) but sends data after the SYN, numbered from ISS+1,
//! with ACK set and SEG.ACK = proposed IRS + 1. Until the real SYN-ACK
//! arrives it assumes what a SYN-ACK would have told it, conservatively:
//! the default MSS of 536 (RFC 9293 3.7.1), no window scaling, SACK or
//! timestamps (RFC 7323 2.2 and 3.2, RFC 2018 2: they hold only once the
//! SYN-ACK carries them), an unscaled peer window of 65535 bytes (the
//! largest a SYN-ACK could announce unscaled), and the RFC 6928 initial
//! window for that MSS. Then:
//! - a SYN-ACK with SEQ = the proposed ISN: accepted; the options are
//!   negotiated and the connection is ESTABLISHED, the data it acknowledges
//!   done and the rest left to the normal retransmission rules;
//! - a SYN-ACK with another SEQ: the peer does not speak the scheme (it
//!   dropped or reset our data, whose ACK it found unacceptable, RFC 9293
//!   3.10.7.4): adopt its ISN and send all the data again, as normal data;
//! - a RST acknowledging our SYN: [`Event::Reset`], and
//!   [`Conn::early_outcome`] says `Refused` so that the caller can retry
//!   without early data;
//! - an ACK of our SYN numbered from the proposed ISN, but no SYN-ACK: the
//!   gateway took the proposal and its SYN-ACK was lost; the SYN is sent
//!   again at once (once), without the data, and the gateway repeats its
//!   SYN-ACK;
//! - nothing: the SYN and the data are retransmitted on each RTO, and after
//!   `syn_retries` the connection ends with [`Event::TimedOut`].
//!
//! [`Conn::close`] in the early phase queues the FIN, which leaves once the
//! SYN-ACK has come (a FIN is not part of the early data); [`Conn::abort`]
//! sends a RST, since the gateway may already be established by our data.
//!
//! Gateway ([`Conn::accept_early`]): the SYN's proposal becomes our ISS.
//! RFC 9293 3.10.7.4 queues data in SYN-RECEIVED once the ACK is acceptable,
//! i.e. acknowledges our SYN-ACK; here SEG.ACK = ISS + 1 is acceptable by
//! construction, since the peer could only know ISS from its own proposal.
//! So such a segment, even before our SYN-ACK leaves, makes the connection
//! ESTABLISHED: its data is queued and handed over in order, and the SYN-ACK
//! still owed goes out next, acknowledging that data. The application can
//! answer at once. If the SYN-ACK is lost, the edge's repeated SYN (SEQ =
//! IRS exactly) brings it again, with our unacknowledged data behind it.
//! Data that arrives before the SYN (reordered, or its SYN lost) finds no
//! connection and is dropped: the table answers <SEQ=SEG.ACK><CTL=RST>
//! (RFC 9293 3.10.7.2), which the edge in SYN-SENT ignores for want of an
//! ACK bit (3.10.7.3), and the edge retransmits the data with its SYN.

use super::*;
use anyedge_wire::EarlyData;

/// How an edge's early-data proposal fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyOutcome {
    /// No SYN-ACK or RST yet.
    Pending,
    /// The SYN-ACK used the proposed ISN: the early data was accepted.
    Accepted,
    /// The SYN-ACK chose another ISN (a peer without the scheme): the data
    /// was sent again after a normal handshake.
    FellBack,
    /// A RST refused the SYN: the caller may reconnect without early data.
    Refused,
}

/// A connection's part in the scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Early {
    /// Edge: what we proposed and how it went.
    Edge {
        proposal: EarlyData,
        outcome: EarlyOutcome,
        /// A repeated SYN is owed (the SYN-ACK was lost), and whether one
        /// was already sent for that reason (once per connection).
        syn_owed: bool,
        syn_repeated: bool,
    },
    /// Gateway with a proposal accepted: whether a SYN-ACK is owed outside
    /// the normal SYN-RECEIVED output (the connection is already
    /// ESTABLISHED by construction, or the edge retransmitted its SYN).
    Gateway { syn_ack_owed: bool },
    /// Gateway that refused a proposal (bad tag, stranger): a normal
    /// connection, whose early data is dropped and counted by the table.
    Rejected { proposed: Seq },
}

/// The peer window an edge assumes before the real SYN-ACK: the largest
/// unscaled window field (RFC 7323 2.2: a SYN's window is never scaled).
pub const ASSUMED_PEER_WINDOW: usize = 65535;

impl Conn {
    /// Edge active open with early data: the SYN carries the proposal
    /// (`proposed_irs`, `tag`) and, as if a SYN-ACK with SEQ = `proposed_irs`
    /// had been received, [`Conn::send`] data goes out right after the SYN,
    /// within the initial window and [`ASSUMED_PEER_WINDOW`]. See the module
    /// documentation for what happens next.
    pub fn connect_early(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: u32,
        proposed_irs: u32,
        tag: [u8; 8],
        now: u64,
    ) -> Conn {
        let mut c = Conn::connect(cfg, local, remote, iss, now);
        c.irs = Seq(proposed_irs);
        c.rcv_nxt = c.irs + 1;
        c.snd_wnd = ASSUMED_PEER_WINDOW;
        c.max_snd_wnd = ASSUMED_PEER_WINDOW;
        c.early = Some(Early::Edge {
            proposal: EarlyData {
                isn: proposed_irs,
                tag,
            },
            outcome: EarlyOutcome::Pending,
            syn_owed: false,
            syn_repeated: false,
        });
        c
    }

    /// Gateway passive open from a SYN whose proposal the caller has
    /// verified: ISS = the proposed ISN (a SYN without the option gives a
    /// normal [`Conn::accept`] with ISS 0; callers check first).
    pub fn accept_early(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &Segment,
        now: u64,
    ) -> Conn {
        let iss = syn.opts.early_data.map_or(0, |e| e.isn);
        let mut c = Conn::accept(cfg, local, remote, iss, syn, now);
        if syn.opts.early_data.is_some() {
            c.early = Some(Early::Gateway {
                syn_ack_owed: false,
            });
        }
        c
    }

    /// Marks a connection accepted normally from a SYN whose proposal was
    /// refused: its early data (SEG.ACK = proposal + 1) is to be dropped.
    pub(crate) fn mark_early_rejected(&mut self, proposed: u32) {
        self.early = Some(Early::Rejected {
            proposed: Seq(proposed),
        });
    }

    /// Whether `seg` is early data for a refused proposal, which the table
    /// drops and counts (instead of the RST that an unacceptable ACK in
    /// SYN-RECEIVED would get, RFC 9293 3.10.7.4).
    pub(crate) fn is_rejected_early_data(&self, seg: &Segment) -> bool {
        matches!(self.early, Some(Early::Rejected { proposed })
            if self.state == State::SynReceived
                && seg.flags & (SYN | RST | ACK) == ACK
                && Seq(seg.ack) == proposed + 1
                && proposed != self.iss)
    }

    /// The edge's early-data outcome (`None` on other connections).
    pub fn early_outcome(&self) -> Option<EarlyOutcome> {
        match self.early {
            Some(Early::Edge { outcome, .. }) => Some(outcome),
            _ => None,
        }
    }

    /// Whether a RST refused this edge's early-data SYN: the caller may
    /// retry with a normal [`Conn::connect`].
    pub fn early_refused(&self) -> bool {
        self.early_outcome() == Some(EarlyOutcome::Refused)
    }

    /// Whether this is a gateway connection that accepted early data.
    pub fn early_accepted(&self) -> bool {
        matches!(self.early, Some(Early::Gateway { .. }))
    }

    /// Edge in SYN-SENT with its proposal out: data may be sent.
    pub(super) fn early_sending(&self) -> bool {
        self.state == State::SynSent
            && matches!(
                self.early,
                Some(Early::Edge {
                    outcome: EarlyOutcome::Pending,
                    ..
                })
            )
    }

    /// The proposal to put on our SYN.
    pub(super) fn early_syn_option(&self) -> Option<EarlyData> {
        match self.early {
            Some(Early::Edge { proposal, .. }) if self.state == State::SynSent => Some(proposal),
            _ => None,
        }
    }

    /// Sequence space of our SYN while it is unacknowledged (data starts
    /// after it): 1 in SYN-SENT and SYN-RECEIVED, else 0.
    pub(super) fn syn_unacked(&self) -> usize {
        usize::from(
            matches!(self.state, State::SynSent | State::SynReceived) && self.snd_una == self.iss,
        )
    }

    fn set_outcome(&mut self, o: EarlyOutcome) {
        if let Some(Early::Edge { outcome, .. }) = self.early.as_mut() {
            *outcome = o;
        }
    }

    /// SYN-SENT with early data out (RFC 9293 3.10.7.3, adapted as the
    /// module documentation says).
    pub(super) fn on_early_syn_sent(&mut self, now: u64, seg: &Segment) {
        let ack = Seq(seg.ack);
        let has_ack = seg.flags & ACK != 0;
        let ack_ok = has_ack && self.iss.lt(ack) && ack.le(self.snd_max);
        if seg.flags & RST != 0 {
            // Only a RST that acknowledges our SYN counts (RFC 9293
            // 3.10.7.3); a non-speaker's <SEQ=SEG.ACK><CTL=RST> answer to
            // our early data has no ACK and is dropped here.
            if ack_ok {
                self.set_outcome(EarlyOutcome::Refused);
                self.enter_closed(Some(Event::Reset));
            }
            return;
        }
        if seg.flags & (SYN | ACK) == ACK && ack_ok {
            self.early_lost_syn_ack(seg);
            return;
        }
        if seg.flags & (SYN | ACK) != SYN | ACK {
            // Neither a SYN-ACK nor a RST: nothing we can take before the
            // handshake (a simultaneous open is not part of the scheme).
            return;
        }
        if !ack_ok {
            self.rst_pending = Some((ack, None));
            return;
        }
        let accepted = seg.seq == self.irs.0;
        self.set_outcome(if accepted {
            EarlyOutcome::Accepted
        } else {
            EarlyOutcome::FellBack
        });
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.negotiate(seg);
        if let Some((s, sent)) = self.rtt_probe.take() {
            if s.lt(ack) && self.retries == 0 {
                self.rtt.sample(now - sent);
            }
        }
        let acked = (ack - self.iss).saturating_sub(1).min(self.tx.len());
        self.tx.consume(acked);
        self.stats.bytes_out += acked as u64;
        self.snd_una = ack;
        self.log.ack(ack, |_| {});
        self.state = State::Established;
        // RFC 7323 2.2: the SYN-ACK's window is not scaled.
        self.snd_wnd = usize::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = ack;
        self.retries = 0;
        self.rexmit_next = ack;
        self.hs_round_end = self.snd_max;
        if accepted {
            if self.snd_nxt.lt(ack) {
                self.snd_nxt = ack;
            }
        } else {
            // The non-speaker kept none of our data: send it all again.
            self.snd_nxt = ack;
            self.rtt_probe = None;
        }
        self.rto_at = (self.snd_una != self.snd_max).then(|| now + self.rtt.rto());
        self.ack_now = true;
        self.push_event(Event::Connected);
        if self.fin_queued {
            // The application closed during the early phase.
            self.state = State::FinWait1;
        }
        if acked > 0 {
            self.push_event(Event::Writable);
        }
        if !seg.payload.is_empty() {
            self.take_data(now, self.irs + 1, seg.payload);
        }
    }

    /// Edge in SYN-SENT: an ACK of our SYN numbered from the proposed ISN
    /// (a pure ACK of our early data, or the gateway's answer) shows that
    /// the gateway took the proposal and that its SYN-ACK was lost. Rather
    /// than wait for the RTO, repeat the SYN once, so that the gateway
    /// repeats its SYN-ACK; the data is not sent again. The segment itself
    /// is dropped, as any non-SYN segment in SYN-SENT (RFC 9293 3.10.7.3).
    fn early_lost_syn_ack(&mut self, seg: &Segment) {
        let from = self.irs + 1;
        let seq = Seq(seg.seq);
        let plausible = from.le(seq) && seq.lt(from + (1 << 30));
        if let Some(Early::Edge {
            syn_owed,
            syn_repeated,
            ..
        }) = self.early.as_mut()
        {
            if plausible && !*syn_repeated {
                *syn_repeated = true;
                *syn_owed = true;
            }
        }
    }

    /// Gateway, before the RFC 9293 3.10.7.4 checks: a SYN with SEQ = IRS
    /// exactly is the edge retransmitting because our SYN-ACK was lost:
    /// owe it again (only an edge that made the proposal knows IRS and
    /// repeats it, so a blind attacker gets nothing in 2^32 tries). The edge,
    /// still in SYN-SENT, dropped whatever we sent after that SYN-ACK, so
    /// our unacknowledged data follows the SYN-ACK again at once instead of
    /// waiting for a backed-off RTO. Returns whether the segment was consumed.
    pub(super) fn early_gateway_syn(&mut self, seg: &Segment) -> bool {
        let Some(Early::Gateway { syn_ack_owed }) = self.early.as_mut() else {
            return false;
        };
        if seg.flags & (SYN | ACK | RST) != SYN || seg.seq != self.irs.0 {
            return false;
        }
        if self.state == State::SynReceived {
            self.syn_pending = true;
        } else if self.state.synchronized() && self.state != State::TimeWait {
            *syn_ack_owed = true;
            self.snd_nxt = self.snd_una;
            self.rexmit_next = self.snd_una;
        }
        true
    }

    /// Gateway in SYN-RECEIVED, before its SYN-ACK has left: a segment with
    /// SEG.ACK = ISS + 1 is acceptable by construction (module
    /// documentation), so the connection becomes ESTABLISHED now and owes
    /// its SYN-ACK, which then acknowledges the data queued meanwhile.
    pub(super) fn early_gateway_ack(&mut self, seg: &Segment) {
        let Some(Early::Gateway { syn_ack_owed }) = self.early.as_mut() else {
            return;
        };
        let ack = Seq(seg.ack);
        if self.state != State::SynReceived
            || seg.flags & (ACK | SYN | RST) != ACK
            || ack != self.iss + 1
            || self.snd_max != self.iss
        {
            return;
        }
        *syn_ack_owed = true;
        self.syn_pending = false;
        self.state = State::Established;
        self.snd_una = ack;
        self.snd_nxt = ack;
        self.snd_max = ack;
        self.rexmit_next = ack;
        self.hs_round_end = ack;
        self.snd_wnd = usize::from(seg.window) << self.snd_shift;
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = Seq(seg.seq);
        self.snd_wl2 = ack;
        self.rto_at = None;
        self.push_event(Event::Connected);
    }

    /// A SYN or SYN-ACK owed outside the normal handshake output: the
    /// edge's repeated SYN ([`Conn::early_lost_syn_ack`]), or the gateway's
    /// SYN-ACK (SEQ = ISS, the options agreed on the edge's SYN, the current
    /// RCV.NXT). Neither changes a send variable: the data after them is
    /// where it was.
    pub(super) fn poll_early_control(&mut self, now: u64) -> Option<Outgoing> {
        let (edge_syn, gw_syn_ack) = match self.early.as_mut() {
            Some(Early::Edge { syn_owed, .. }) => (std::mem::take(syn_owed), false),
            Some(Early::Gateway { syn_ack_owed }) => (false, std::mem::take(syn_ack_owed)),
            _ => (false, false),
        };
        if edge_syn && self.early_sending() {
            let (nxt, max) = (self.snd_nxt, self.snd_max);
            let o = self.send_syn(now);
            (self.snd_nxt, self.snd_max) = (nxt, max);
            // Karn (RFC 6298 3): the SYN-ACK will answer an ambiguous SYN.
            self.rtt_probe = None;
            return Some(o);
        }
        (gw_syn_ack && self.state.synchronized()).then(|| self.early_syn_ack(now))
    }

    fn early_syn_ack(&mut self, now: u64) -> Outgoing {
        let opts = TcpOptions {
            mss: Some(self.cfg.mss),
            window_scale: self.ws_ok.then(|| shift_for(self.cfg.recv_buf)),
            sack_permitted: self.sack_ok,
            timestamps: self.ts_ok.then(|| (self.ts_now(now), self.ts_recent)),
            ..TcpOptions::default()
        };
        let hdr = self.header(now, self.iss, SYN | ACK, opts);
        Outgoing {
            hdr,
            payload_len: 0,
        }
    }
}

#[cfg(test)]
mod tests;
