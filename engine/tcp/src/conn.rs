//! One TCP connection (RFC 9293), sans-IO.
//!
//! Call order, as in quinn-proto: feed input with [`Conn::handle_segment`]
//! and [`Conn::handle_timeout`]; then drain output with
//! [`Conn::poll_transmit`] until it returns `None`, read events with
//! [`Conn::poll_event`], and sleep until [`Conn::poll_timeout`]. The
//! application side is [`Conn::send`], [`Conn::recv`], [`Conn::close`] and
//! [`Conn::abort`].
//!
//! What it implements: every state of RFC 9293 3.3.2 including simultaneous
//! open and close and TIME-WAIT (2 MSL); the RFC 5961 defences (exact-RST
//! rule with challenge ACKs, SYN on a synchronized connection, ACK
//! acceptability), rate-limited; MSS, window scaling, timestamps with PAWS
//! (RFC 7323) and SACK (RFC 2018, both directions); RTO per RFC 6298 with
//! Karn's rule and backoff; fast retransmit with SACK-based loss recovery
//! (RFC 6675, the NextSeg hole rule) and NewReno partial ACKs (RFC 6582)
//! when the peer has no SACK; delayed ACKs (RFC 9293 3.8.6.3), zero-window
//! probes (3.8.6.1) and keep-alives (3.8.4). Nagle is off. Overlay early
//! data (issue 7: data before the SYN-ACK, on a proposed ISN) is in [`early`].

use crate::buffer::{RecvBuf, SendBuf, Shared};
use crate::cc::{Cc, CcKind, Congestion};
use crate::rtt::RttEstimator;
use crate::seq::Seq;
use anyedge_wire::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use anyedge_wire::{parse_tcp_options, DropReason, TcpHeader, TcpOptions};
use std::collections::VecDeque;
use std::net::SocketAddrV4;

/// Connection states, named as in RFC 9293 section 3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN (held by the table, not by a `Conn`).
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received and answered.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We closed; our FIN is queued or sent.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for our FIN's ACK.
    Closing,
    /// The peer closed, then we did; waiting for our FIN's ACK.
    LastAck,
    /// Both sides done; waiting 2 MSL for stray segments.
    TimeWait,
}

impl State {
    /// RFC 9293 name, as `show conn` prints it.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// Whether both SYNs have been exchanged (RFC 9293 "synchronized").
    pub fn synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

/// Per-connection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    /// MSS we announce (port MTU minus 40, RFC 9293 3.7.1).
    pub mss: u16,
    /// Send buffer bytes.
    pub send_buf: usize,
    /// Receive buffer bytes (the largest window we offer).
    pub recv_buf: usize,
    /// Congestion control algorithm.
    pub cc: CcKind,
    /// Offer window scaling (RFC 7323).
    pub window_scale: bool,
    /// Offer timestamps (RFC 7323).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Delayed-ACK timeout (RFC 9293 3.8.6.3: under 0.5 s).
    pub delayed_ack_ns: u64,
    /// Maximum segment lifetime; TIME-WAIT lasts twice this.
    pub msl_ns: u64,
    /// Retransmissions of a SYN or SYN-ACK before giving up.
    pub syn_retries: u32,
    /// Retransmissions of data before giving up (RFC 9293 3.8.3 R2).
    pub max_retries: u32,
    /// Idle time before keep-alive probes; `None` disables them.
    pub keepalive_ns: Option<u64>,
    /// Challenge ACKs allowed per second (RFC 5961 section 7).
    pub challenge_acks_per_sec: u32,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            mss: 1460,
            send_buf: 256 * 1024,
            recv_buf: 256 * 1024,
            cc: CcKind::Cubic,
            window_scale: true,
            timestamps: true,
            sack: true,
            delayed_ack_ns: 40_000_000,
            msl_ns: 30_000_000_000,
            syn_retries: 6,
            max_retries: 15,
            keepalive_ns: None,
            challenge_acks_per_sec: 100,
        }
    }
}

/// A received segment, as the connection sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: u8,
    /// Window field as received (not yet scaled).
    pub window: u16,
    /// Parsed options.
    pub opts: TcpOptions,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// From a parsed wire view; malformed options give `BadTcpOptions`.
    pub fn from_wire(t: &anyedge_wire::Tcp<'a>) -> Result<Segment<'a>, DropReason> {
        Ok(Segment {
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            opts: parse_tcp_options(t.options)?,
            payload: t.payload,
        })
    }

    /// Sequence space the segment occupies (data plus SYN and FIN).
    pub fn len(&self) -> usize {
        self.payload.len() + usize::from(self.flags & SYN != 0) + usize::from(self.flags & FIN != 0)
    }

    /// Whether the segment occupies no sequence space.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the connection tells its application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// New data can be read.
    Readable,
    /// Send buffer space was freed.
    Writable,
    /// The peer sent FIN: no more data will come.
    PeerClosed,
    /// The connection ended normally.
    Closed,
    /// The peer reset the connection (or refused it).
    Reset,
    /// Retransmissions ran out.
    TimedOut,
}

/// A segment to send: the header and how many payload bytes were written
/// into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Header (ports included).
    pub hdr: TcpHeader,
    /// Payload bytes written at the start of the caller's buffer.
    pub payload_len: usize,
}

/// Counters of one connection, for `show conn`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Payload bytes received in order.
    pub bytes_in: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_out: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Fast retransmits (recovery episodes).
    pub fast_retransmits: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Segments dropped as unacceptable or by PAWS.
    pub dropped: u64,
    /// Tail loss probes sent (RFC 8985 section 7).
    pub tlp_probes: u64,
    /// Bytes RACK deemed lost (RFC 8985 6.2), lost retransmissions included.
    pub rack_lost: u64,
}

/// The worst-case delayed-ACK time a tail loss probe allows for when one
/// segment is in flight (RFC 8985 7.2, WCDelAckT).
const WC_DELACK_NS: u64 = 200_000_000;
/// Slack added to a probe timeout of more than one segment in flight (see
/// `Conn::arm_pto`), as Linux's TCP_TIMEOUT_MIN.
const PTO_SLACK_NS: u64 = 2_000_000;
/// Most events queued for the application.
const MAX_EVENTS: usize = 16;
/// Keep-alive probes before giving up (Linux's default).
const KEEPALIVE_PROBES: u32 = 9;

/// RACK's state (RFC 8985 5.2): the most recently sent segment that was
/// delivered, its RTT, and whether the peer reorders.
#[derive(Clone, Copy, Debug, Default)]
struct Rack {
    /// A delivered segment has been seen.
    seen: bool,
    xmit: u64,
    end: Seq,
    rtt: u64,
    retx: bool,
    /// Highest end of a delivered segment (RACK.fack).
    fack: Option<Seq>,
    reordering_seen: bool,
    /// RACK.reo_wnd_mult - 1: quarters of min-RTT added to the reordering
    /// window, one per round trip with a D-SACK (RFC 8985 6.2 step 4).
    reo_wnd_extra: u32,
    /// Recoveries left before the window shrinks back (RACK.reo_wnd_persist).
    reo_wnd_persist: u32,
    /// SND.NXT when the last D-SACK widened the window (RACK.dsack_round).
    dsack_round: Option<Seq>,
}

/// PRR's state for one recovery episode (RFC 6937 section 3).
#[derive(Clone, Copy, Debug, Default)]
struct Prr {
    /// Bytes the peer received since recovery began (prr_delivered).
    delivered: usize,
    /// Bytes sent since recovery began (prr_out).
    out: usize,
    /// Flight when recovery began (RecoverFS).
    recover_fs: usize,
    /// What may be sent until the next ACK (sndcnt).
    budget: usize,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Conn {
    /// Our address.
    pub local: SocketAddrV4,
    /// The peer's address.
    pub remote: SocketAddrV4,
    state: State,
    cfg: ConnConfig,
    // Send sequence space (RFC 9293 3.3.1).
    iss: Seq,
    snd_una: Seq,
    snd_nxt: Seq,
    snd_max: Seq,
    snd_wnd: usize,
    max_snd_wnd: usize,
    snd_wl1: Seq,
    snd_wl2: Seq,
    // Receive sequence space.
    irs: Seq,
    rcv_nxt: Seq,
    rcv_adv: Seq,
    tx: SendBuf,
    rx: RecvBuf,
    /// The application closed: a FIN follows the data.
    fin_queued: bool,
    /// Sequence number of our FIN, once sent.
    fin_seq: Option<Seq>,
    /// The peer's FIN was received.
    fin_received: bool,
    // Options.
    peer_mss: usize,
    ws_ok: bool,
    snd_shift: u8,
    rcv_shift: u8,
    ts_ok: bool,
    ts_recent: u32,
    ts_offset: u32,
    sack_ok: bool,
    // Loss recovery.
    rtt: RttEstimator,
    rtt_probe: Option<(Seq, u64)>,
    cc: Cc,
    dupacks: u32,
    recover: Option<Seq>,
    rexmit_next: Seq,
    /// HyStart++ (RFC 9406) rounds: end of the current round, and the
    /// minimum RTT of this round and of the last one.
    hs_round_end: Seq,
    hs_cur_min: u64,
    hs_last_min: u64,
    hs_samples: u32,
    /// After a timeout, the highest sequence sent then: duplicate ACKs below
    /// it start no new fast recovery (RFC 6582 3.2, the "recover" check).
    rto_recover: Option<Seq>,
    /// Left edge of the last out-of-order segment received (its block goes
    /// first in our SACK option, RFC 2018 section 4).
    last_ooo: Option<Seq>,
    /// What was sent and when: the SACK scoreboard and RACK's send times.
    log: seglog::SegLog,
    /// RACK's most recently delivered segment (RFC 8985 5.2).
    rack: Rack,
    /// RACK's reordering timer (RFC 8985 6.2 step 5).
    rack_at: Option<u64>,
    /// The tail loss probe timer (RFC 8985 7.2).
    pto_at: Option<u64>,
    /// A probe is due at the next transmit.
    tlp_probe: bool,
    /// The outstanding probe: TLP.end_seq and whether it was a
    /// retransmission (RFC 8985 7.3).
    tlp_end: Option<(Seq, bool)>,
    /// Proportional rate reduction during SACK recovery (RFC 6937).
    prr: Option<Prr>,
    /// A duplicate segment received: reported first in our next SACK
    /// option (RFC 2883 D-SACK).
    dsack: Option<(Seq, Seq)>,
    retries: u32,
    // Timers, absolute nanoseconds.
    rto_at: Option<u64>,
    delack_at: Option<u64>,
    timewait_at: Option<u64>,
    persist_at: Option<u64>,
    keepalive_at: Option<u64>,
    keepalive_probes: u32,
    // Output flags.
    ack_now: bool,
    syn_pending: bool,
    rst_pending: Option<(Seq, Option<Seq>)>,
    persist_probe: bool,
    keepalive_probe: bool,
    unacked_segs: u32,
    /// Immediate ACKs owed for out-of-order segments: one each, so that the
    /// sender sees its duplicate ACKs even when segments arrive in a burst
    /// (RFC 5681 4.2).
    owed_acks: u8,
    challenge_window: (u64, u32),
    last_activity: u64,
    events: VecDeque<Event>,
    stats: ConnStats,
    resume: Option<crate::resume::Resume>,
    /// Early data on overlay connections ([`early`]), if in use.
    early: Option<early::Early>,
    /// Output commit of a replicated connection ([`replica`]): the highest
    /// acknowledgment number we may send.
    ack_limit: Option<Seq>,
    /// A backup's takeover ([`replica`]): the peer may acknowledge bytes
    /// the primary sent and we have not (see `Conn::ack_ahead`), and its
    /// ACKs and echoes of the primary's copies must not pass for ours.
    takeover: Option<replica::Takeover>,
    /// Bytes of the application's next writes that the peer already has.
    skip_writes: usize,
}

/// Shift so that `buf` bytes fit the 16-bit window field (RFC 7323 2.3, at most 14).
fn shift_for(buf: usize) -> u8 {
    let mut s = 0;
    while s < 14 && (buf >> s) > 0xffff {
        s += 1;
    }
    s
}

impl Conn {
    fn blank(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: u32,
        now: u64,
    ) -> Conn {
        let iss = Seq(iss);
        Conn {
            local,
            remote,
            state: State::Closed,
            cfg,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: iss,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_adv: Seq(0),
            tx: SendBuf::new(cfg.send_buf),
            rx: RecvBuf::new(cfg.recv_buf),
            fin_queued: false,
            fin_seq: None,
            fin_received: false,
            peer_mss: 536,
            ws_ok: false,
            snd_shift: 0,
            rcv_shift: 0,
            ts_ok: false,
            ts_recent: 0,
            ts_offset: iss.0.rotate_left(13),
            sack_ok: false,
            rtt: RttEstimator::default(),
            rtt_probe: None,
            cc: Cc::new(cfg.cc, 536),
            dupacks: 0,
            recover: None,
            rexmit_next: iss,
            rto_recover: None,
            hs_round_end: iss,
            hs_cur_min: u64::MAX,
            hs_last_min: u64::MAX,
            hs_samples: 0,
            last_ooo: None,
            log: seglog::SegLog::default(),
            rack: Rack::default(),
            rack_at: None,
            pto_at: None,
            tlp_probe: false,
            tlp_end: None,
            prr: None,
            dsack: None,
            retries: 0,
            rto_at: None,
            delack_at: None,
            timewait_at: None,
            persist_at: None,
            keepalive_at: None,
            keepalive_probes: 0,
            ack_now: false,
            syn_pending: false,
            rst_pending: None,
            persist_probe: false,
            keepalive_probe: false,
            unacked_segs: 0,
            owed_acks: 0,
            challenge_window: (0, 0),
            last_activity: now,
            events: VecDeque::with_capacity(MAX_EVENTS),
            stats: ConnStats::default(),
            resume: None,
            early: None,
            ack_limit: None,
            takeover: None,
            skip_writes: 0,
        }
    }

    /// Swaps this connection's buffers with `tx` and `rx` (the table's
    /// buffer pool, `table::pool`).
    pub(crate) fn swap_buffers(&mut self, tx: &mut SendBuf, rx: &mut RecvBuf) {
        std::mem::swap(&mut self.tx, tx);
        std::mem::swap(&mut self.rx, rx);
    }

    /// Empty buffers of this connection's sizes (no storage).
    pub(crate) fn fresh_buffers(&self) -> (SendBuf, RecvBuf) {
        (
            SendBuf::new(self.cfg.send_buf),
            RecvBuf::new(self.cfg.recv_buf),
        )
    }

    /// Whether `tx` and `rx` have this connection's sizes and it has not
    /// used its own buffers yet (so they can be swapped in).
    pub(crate) fn takes_buffers(&self, tx: &SendBuf, rx: &RecvBuf) -> bool {
        !self.tx.has_storage()
            && !self.rx.has_storage()
            && tx.capacity() == self.tx.capacity()
            && rx.capacity() == self.rx.capacity()
    }

    /// Active open (RFC 9293 3.10.1): the SYN goes out on the next `poll_transmit`.
    pub fn connect(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: u32,
        now: u64,
    ) -> Conn {
        let mut c = Conn::blank(cfg, local, remote, iss, now);
        c.state = State::SynSent;
        c.syn_pending = true;
        c
    }

    /// Passive open from a SYN that reached a listener (RFC 9293 3.10.7.2):
    /// the connection is in SYN-RECEIVED and its SYN-ACK goes out next.
    pub fn accept(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: u32,
        syn: &Segment,
        now: u64,
    ) -> Conn {
        let mut c = Conn::blank(cfg, local, remote, iss, now);
        c.state = State::SynReceived;
        c.irs = Seq(syn.seq);
        c.rcv_nxt = c.irs + 1;
        c.negotiate(syn);
        c.snd_wnd = usize::from(syn.window);
        c.snd_wl1 = c.irs;
        c.syn_pending = true;
        c
    }

    /// RFC 9293 3.7.1, RFC 7323 1.3 and RFC 2018 2: take the peer's options
    /// from its SYN; scaling and timestamps only when both sides offer them.
    fn negotiate(&mut self, syn: &Segment) {
        let our_mss = usize::from(self.cfg.mss);
        self.peer_mss = usize::from(syn.opts.mss.unwrap_or(536)).clamp(64, our_mss.max(64));
        match (self.cfg.window_scale, syn.opts.window_scale) {
            (true, Some(s)) => {
                self.ws_ok = true;
                self.snd_shift = s.min(14);
                self.rcv_shift = shift_for(self.cfg.recv_buf);
            }
            _ => {
                self.ws_ok = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        if let (true, Some((tsval, _))) = (self.cfg.timestamps, syn.opts.timestamps) {
            self.ts_ok = true;
            self.ts_recent = tsval;
        }
        self.sack_ok = self.cfg.sack && syn.opts.sack_permitted;
        let mss = self.eff_mss();
        self.cc = Cc::new(self.cfg.cc, mss);
    }

    /// Bytes of payload per segment after options (RFC 9293 3.7.1 "effective MSS").
    pub fn eff_mss(&self) -> usize {
        self.peer_mss
            .saturating_sub(if self.ts_ok { 12 } else { 0 })
            .max(32)
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> ConnStats {
        self.stats
    }

    /// Congestion window, slow-start threshold, algorithm name.
    pub fn cc_info(&self) -> (usize, usize, &'static str) {
        (self.cc.cwnd(), self.cc.ssthresh(), self.cc.name())
    }

    /// The congestion controller, for resume logic (anycast issue).
    pub fn cc_mut(&mut self) -> &mut Cc {
        &mut self.cc
    }

    /// The RTT estimator.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// SACK in use, and the scoreboard size.
    pub fn sack_info(&self) -> (bool, usize) {
        (self.sack_ok, self.log.sacked_runs())
    }

    /// The rate at which a port should pace this connection's segments, in
    /// bytes per second: cwnd / SRTT, times 2 in slow start and 1.2 after it
    /// (the factors Linux uses), so that a window is spread over the RTT
    /// instead of leaving in one burst. `None` before the first RTT sample.
    pub fn pacing_rate(&self) -> Option<u64> {
        let srtt = self.rtt.srtt()?.max(1_000);
        let cwnd = self.cc.cwnd() as u128;
        let factor = if self.cc.cwnd() < self.cc.ssthresh() {
            20
        } else {
            12
        };
        Some((cwnd * 1_000_000_000 * factor / 10 / srtt as u128).min(u64::MAX as u128) as u64)
    }

    /// Starts resuming a path's saved congestion state (see [`crate::resume`]):
    /// `saved_cwnd` bytes and `saved_rtt` nanoseconds, from the site's
    /// path-metrics entry for this client. Call once, before the response
    /// is sent; a connection resumes at most once.
    pub fn resume(&mut self, policy: crate::resume::Policy, saved_cwnd: usize, saved_rtt: u64) {
        use crate::resume::{Outcome, Phase, Policy, Resume};
        if self.resume.is_some() || saved_cwnd == 0 || saved_rtt == 0 {
            return;
        }
        let mut r = Resume {
            policy,
            saved_cwnd,
            saved_rtt,
            phase: Phase::Reconnaissance,
            mark: self.snd_una + self.cc.cwnd(),
            jump_cwnd: 0,
            outcome: None,
        };
        if policy == Policy::Jump {
            let w = saved_cwnd.max(self.cc.cwnd());
            self.cc.set_window(w, w);
            r.phase = Phase::Unvalidated;
            r.jump_cwnd = w;
            r.mark = self.snd_max + w;
            r.outcome = Some(Outcome::Jumped);
        }
        self.resume = Some(r);
    }

    /// Whether the port should pace this connection now (the unvalidated
    /// jump of a resume must be spread over the RTT).
    pub fn pacing_required(&self) -> bool {
        self.resume.is_some_and(|r| r.pacing())
    }

    /// The resume state, if this connection resumed.
    pub fn resume_state(&self) -> Option<crate::resume::Resume> {
        self.resume
    }

    /// Called on each new ACK: moves the resume through its phases (one ACK
    /// can end more than one phase, e.g. the last one of a transfer).
    fn resume_on_ack(&mut self, ack: Seq) {
        for _ in 0..3 {
            let before = self.resume.map(|r| r.phase);
            self.resume_step(ack);
            if self.resume.map(|r| r.phase) == before {
                break;
            }
        }
    }

    fn resume_step(&mut self, ack: Seq) {
        use crate::resume::{Outcome, Phase};
        let srtt = self.rtt.min_rtt();
        let (cwnd, flight, snd_max) = (self.cc.cwnd(), self.in_flight(), self.snd_max);
        let Some(r) = self.resume.as_mut() else {
            return;
        };
        if ack.lt(r.mark) {
            return;
        }
        match r.phase {
            Phase::Reconnaissance => match srtt {
                Some(rtt) if r.rtt_matches(rtt) => {
                    let w = (r.saved_cwnd / 2).max(cwnd);
                    r.jump_cwnd = w;
                    r.phase = Phase::Unvalidated;
                    r.mark = snd_max + w.saturating_sub(flight);
                    r.outcome = Some(Outcome::Jumped);
                    // Slow start may go on from the jump up to the saved window.
                    self.cc.set_window(w, r.saved_cwnd);
                }
                _ => {
                    r.phase = Phase::Normal;
                    r.outcome = Some(Outcome::RttMismatch);
                }
            },
            Phase::Unvalidated => {
                r.phase = Phase::Validating;
                r.mark = snd_max;
            }
            Phase::Validating => {
                r.phase = Phase::Normal;
                r.outcome = Some(Outcome::Validated);
            }
            Phase::Normal | Phase::SafeRetreat => {}
        }
    }

    /// Called on a loss: a safe retreat after the jump (cwnd at most half
    /// the flight size), or the end of reconnaissance before it.
    fn resume_on_loss(&mut self) {
        use crate::resume::{Outcome, Phase};
        let flight = self.in_flight();
        let mss = self.eff_mss();
        let Some(r) = self.resume.as_mut() else {
            return;
        };
        if r.at_risk() {
            r.phase = Phase::SafeRetreat;
            r.outcome = Some(Outcome::Retreated);
            let w = (flight / 2).max(mss).min(self.cc.cwnd());
            self.cc.set_window(w, w);
        } else if r.phase == Phase::Reconnaissance {
            r.phase = Phase::Normal;
            r.outcome = Some(Outcome::LostInReconnaissance);
        }
    }

    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.snd_max - self.snd_una
    }

    /// Checks the sender's log (the SACK scoreboard and RACK's send
    /// times): sorted runs with consistent counts, SACKed and lost bytes
    /// within the flight. For the fuzz target and tests.
    pub fn check_scoreboard(&self) -> Result<(), String> {
        self.log.check()?;
        let (s, l) = (self.log.sacked(), self.log.lost());
        if s + l > self.in_flight() {
            return Err(format!(
                "sacked {s} + lost {l} > in flight {}",
                self.in_flight()
            ));
        }
        Ok(())
    }

    /// SND.UNA, SND.NXT, RCV.NXT (for invariants and tests).
    pub fn seqs(&self) -> (Seq, Seq, Seq) {
        (self.snd_una, self.snd_nxt, self.rcv_nxt)
    }

    /// Bytes queued in the send and receive buffers.
    pub fn buffered(&self) -> (usize, usize) {
        (self.tx.len(), self.rx.len())
    }

    /// Whether the connection is over and can be freed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    fn push_event(&mut self, e: Event) {
        // Events are level-like: one pending copy of each is enough, so the
        // queue never fills however long the application waits.
        if !self.events.contains(&e) && self.events.len() < MAX_EVENTS {
            self.events.push_back(e);
        }
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---------------------------------------------------------------- app side

    /// Queues bytes to send; returns how many fit in the send buffer.
    pub fn send(&mut self, data: &[u8]) -> usize {
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.fin_queued =>
            {
                // After a takeover the peer may hold bytes we have not queued yet.
                let k = self.skip_writes.min(data.len());
                self.skip_writes -= k;
                k + self.tx.write(&data[k..])
            }
            _ => 0,
        }
    }

    /// Queues `len` bytes of `data` from `start` by reference, without
    /// copying them (the send buffer holds `data` until the bytes are
    /// acknowledged, and segments are cut from it); returns how many fit.
    pub fn send_shared(&mut self, data: &Shared, start: usize, len: usize) -> usize {
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.fin_queued =>
            {
                let k = self.skip_writes.min(len);
                self.skip_writes -= k;
                k + self.tx.write_shared(data, start + k, len - k)
            }
            _ => 0,
        }
    }

    /// Room in the send buffer.
    pub fn send_room(&self) -> usize {
        if self.fin_queued {
            0
        } else {
            self.tx.free()
        }
    }

    /// Reads received bytes. Announces a window update when reading opens the
    /// window by at least two segments from under one (RFC 9293 3.8.6.2.2,
    /// receiver-side silly window avoidance).
    pub fn recv(&mut self, out: &mut [u8]) -> usize {
        let before = self.rx.window();
        let n = self.rx.read(out);
        self.after_read(before);
        n
    }

    /// Appends up to `max` received bytes to `out` (no staging buffer to
    /// zero first, as [`Conn::recv`] needs); returns how many.
    pub fn recv_append(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        let before = self.rx.window();
        let n = self.rx.read_append(out, max);
        self.after_read(before);
        n
    }

    /// Drops up to `n` received bytes unread (a discard service).
    pub fn recv_discard(&mut self, n: usize) -> usize {
        let before = self.rx.window();
        let k = self.rx.discard(n);
        self.after_read(before);
        k
    }

    fn after_read(&mut self, before: usize) {
        let mss = self.eff_mss();
        let after = self.rx.window();
        let advertised = self.rcv_adv - self.rcv_nxt;
        if after >= advertised + 2 * mss.min(self.rx.capacity() / 2) && before < after {
            self.ack_now = true;
        }
    }

    /// Bytes waiting to be read.
    pub fn readable(&self) -> usize {
        self.rx.len()
    }

    /// Whether the peer has closed its side and everything was read.
    pub fn at_eof(&self) -> bool {
        self.fin_received && self.rx.is_empty()
    }

    /// Closes our side: a FIN follows the queued data (RFC 9293 3.10.4).
    pub fn close(&mut self) {
        match self.state {
            // Early data is out: the FIN follows it once the SYN-ACK comes.
            State::SynSent if self.early_sending() => self.fin_queued = true,
            State::SynSent => self.state = State::Closed,
            State::SynReceived | State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => {}
        }
    }

    /// Aborts: sends a RST and forgets the connection (RFC 9293 3.10.5).
    pub fn abort(&mut self) {
        // An edge with early data out may have a gateway established by it.
        if self.state.synchronized() || self.state == State::SynReceived || self.early_sending() {
            self.rst_pending = Some((self.snd_nxt, None));
        }
        self.enter_closed(None);
    }

    fn enter_closed(&mut self, e: Option<Event>) {
        self.state = State::Closed;
        self.rto_at = None;
        self.delack_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.timewait_at = None;
        if let Some(e) = e {
            self.push_event(e);
        }
    }
}

pub mod early;
mod input;
mod output;
mod rack;
pub mod replica;
pub mod seglog;

pub use early::EarlyOutcome;
pub use replica::Snapshot;

#[cfg(test)]
mod tests;
