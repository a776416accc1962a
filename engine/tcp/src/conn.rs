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
//! probes (3.8.6.1) and keep-alives (3.8.4). Nagle is off.

use crate::buffer::{RecvBuf, SendBuf};
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
}

/// Most SACK scoreboard blocks kept.
const MAX_SACKED: usize = 256;
/// Most events queued for the application.
const MAX_EVENTS: usize = 16;
/// Keep-alive probes before giving up (Linux's default).
const KEEPALIVE_PROBES: u32 = 9;

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
    /// Highest sequence number SACKed so far (RFC 6675 HighData side).
    high_sack: Seq,
    /// Left edge of the last out-of-order segment received (its block goes
    /// first in our SACK option, RFC 2018 section 4).
    last_ooo: Option<Seq>,
    sacked: Vec<(Seq, Seq)>,
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
            high_sack: iss,
            rto_recover: None,
            hs_round_end: iss,
            hs_cur_min: u64::MAX,
            hs_last_min: u64::MAX,
            hs_samples: 0,
            last_ooo: None,
            sacked: Vec::with_capacity(MAX_SACKED + 4),
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
        }
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
        (self.sack_ok, self.sacked.len())
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
                self.tx.write(data)
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
        if self.state.synchronized() || self.state == State::SynReceived {
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

    // ------------------------------------------------------------ input side

    fn ts_now(&self, now: u64) -> u32 {
        ((now / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// RFC 5961 section 7: challenge ACKs are rate-limited per connection.
    fn challenge_ack(&mut self, now: u64) {
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
            State::SynSent => return self.on_syn_sent(now, seg),
            _ => {}
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

    fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| (f + 1).le(self.snd_una))
    }

    fn enter_time_wait(&mut self, now: u64) {
        self.state = State::TimeWait;
        self.timewait_at = Some(now + 2 * self.cfg.msl_ns);
        self.rto_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
    }

    /// SYN-SENT (RFC 9293 3.10.7.3).
    fn on_syn_sent(&mut self, now: u64, seg: &Segment) {
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
    fn process_ack(&mut self, now: u64, seg: &Segment) -> bool {
        let ack = Seq(seg.ack);
        let seq = Seq(seg.seq);
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
        if self.sack_ok && seg.opts.sack_count > 0 {
            self.take_sack(&seg.opts);
        }
        let window = usize::from(seg.window) << self.snd_shift;
        if self.snd_una.lt(ack) {
            self.on_new_ack(now, ack, seg);
        } else if ack == self.snd_una
            && seg.payload.is_empty()
            && seg.flags & (SYN | FIN) == 0
            && window == self.snd_wnd
            && self.snd_max.gt(self.snd_una)
        {
            self.on_dup_ack(now);
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

    fn on_new_ack(&mut self, now: u64, ack: Seq, seg: &Segment) {
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
        self.sacked.retain(|b| b.1.gt(ack));
        for b in self.sacked.iter_mut() {
            b.0 = b.0.max(ack);
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
                if tsecr != 0 && (1..600_000).contains(&ms) {
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
                // Partial ACK (RFC 6582 / RFC 6675): retransmit the next hole.
                self.rexmit_next = self.rexmit_next.max(ack);
                if !self.sack_ok {
                    self.rexmit_next = ack;
                }
            }
            Some(_) => {
                self.recover = None;
                self.dupacks = 0;
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
    fn dupthresh(&self) -> u32 {
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
    fn hystart(&mut self, ack: Seq, sample: Option<u64>) {
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

    fn on_dup_ack(&mut self, now: u64) {
        self.dupacks += 1;
        let sacked_bytes: usize = self.sacked.iter().map(|b| b.1 - b.0).sum();
        let thresh = self.dupthresh();
        let lost = self.dupacks >= thresh
            || (self.sack_ok && sacked_bytes >= thresh as usize * self.eff_mss());
        let after_rto = self.rto_recover.is_some_and(|r| self.snd_una.lt(r));
        if lost && self.recover.is_none() && !after_rto {
            // Fast retransmit (RFC 5681 3.2, RFC 6675 5): one decrease per window.
            self.stats.fast_retransmits += 1;
            self.cc.on_congestion(now, self.in_flight());
            self.resume_on_loss();
            self.recover = Some(self.snd_max);
            self.rexmit_next = self.snd_una;
        }
    }

    fn take_sack(&mut self, o: &TcpOptions) {
        for &(l, r) in &o.sack_blocks[..o.sack_count.min(4)] {
            let (l, r) = (Seq(l), Seq(r));
            // RFC 2018: ignore blocks outside what we sent.
            if !l.lt(r) || l.lt(self.snd_una) || r.gt(self.snd_max) {
                continue;
            }
            self.sacked.push((l, r));
            self.high_sack = self.high_sack.max(r);
        }
        self.sacked.sort_unstable_by(|a, b| {
            if a.0 == b.0 {
                std::cmp::Ordering::Equal
            } else if a.0.lt(b.0) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        let mut merged: Vec<(Seq, Seq)> = Vec::with_capacity(self.sacked.len());
        for &(l, r) in &self.sacked {
            match merged.last_mut() {
                Some(m) if l.le(m.1) => m.1 = m.1.max(r),
                _ => merged.push((l, r)),
            }
        }
        merged.truncate(MAX_SACKED);
        self.sacked = merged;
    }

    fn is_sacked(&self, s: Seq) -> Option<Seq> {
        self.sacked
            .iter()
            .find(|b| b.0.le(s) && s.lt(b.1))
            .map(|b| b.1)
    }

    fn take_data(&mut self, now: u64, seq: Seq, payload: &[u8]) {
        let (off, data) = if seq.lt(self.rcv_nxt) {
            let skip = self.rcv_nxt - seq;
            if skip >= payload.len() {
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

    // --------------------------------------------------------------- timers

    /// When [`Conn::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        [
            self.rto_at,
            self.delack_at,
            self.timewait_at,
            self.persist_at,
            self.keepalive_at,
        ]
        .into_iter()
        .flatten()
        .min()
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
        if self.rto_at.is_some_and(|t| t <= now) {
            self.on_rto(now);
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

    fn on_rto(&mut self, now: u64) {
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

    fn unsent(&self) -> usize {
        let sent = self.snd_nxt - self.snd_una;
        self.tx.len().saturating_sub(sent)
    }

    fn window_field(&self, syn: bool) -> u16 {
        let w = self.rx.window();
        if syn {
            w.min(0xffff) as u16
        } else {
            (w >> self.rcv_shift).min(0xffff) as u16
        }
    }

    fn base_options(&self, now: u64) -> TcpOptions {
        TcpOptions {
            timestamps: self.ts_ok.then(|| (self.ts_now(now), self.ts_recent)),
            ..TcpOptions::default()
        }
    }

    fn header(&mut self, _now: u64, seq: Seq, flags: u8, opts: TcpOptions) -> TcpHeader {
        let syn = flags & SYN != 0;
        let window = self.window_field(syn);
        if flags & ACK != 0 {
            self.rcv_adv =
                self.rcv_nxt + (usize::from(window) << if syn { 0 } else { self.rcv_shift });
            self.ack_now = false;
            self.delack_at = None;
            self.unacked_segs = 0;
        }
        TcpHeader {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags & ACK != 0 { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            options: opts,
        }
    }

    /// The next segment to send, with its payload copied into `payload`
    /// (which should hold at least one MSS). `None` when there is nothing to send.
    pub fn poll_transmit(&mut self, now: u64, payload: &mut [u8]) -> Option<Outgoing> {
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
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.syn_pending => {
                return Some(self.send_syn(now))
            }
            State::SynSent => return None,
            _ => {}
        }
        if let Some(o) = self.send_data(now, payload) {
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
        if self.ack_now || self.owed_acks > 0 {
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

    fn send_syn(&mut self, now: u64) -> Outgoing {
        self.syn_pending = false;
        let ack = self.state == State::SynReceived;
        let opts = TcpOptions {
            mss: Some(self.cfg.mss),
            window_scale: (self.cfg.window_scale && (!ack || self.ws_ok))
                .then(|| shift_for(self.cfg.recv_buf)),
            sack_permitted: self.cfg.sack && (!ack || self.sack_ok),
            timestamps: (self.cfg.timestamps && (!ack || self.ts_ok))
                .then(|| (self.ts_now(now), if ack { self.ts_recent } else { 0 })),
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

    fn add_sack_blocks(&self, o: &mut TcpOptions) {
        if !self.sack_ok {
            return;
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
        for (k, i) in order.take(4).enumerate() {
            let (off, len) = ranges[i];
            let l = self.rcv_nxt + off;
            o.sack_blocks[k] = (l.0, (l + len).0);
            o.sack_count = k + 1;
        }
    }

    fn can_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::LastAck
                | State::Closing
        )
    }

    fn send_data(&mut self, now: u64, payload: &mut [u8]) -> Option<Outgoing> {
        if !self.can_send_data() {
            return None;
        }
        let mss = self.eff_mss().min(payload.len());
        let cwnd = self.cc.cwnd();
        // In recovery with SACK, retransmit the first hole first (RFC 6675 NextSeg rule 1).
        if self.recover.is_some() {
            if let Some(o) = self.retransmit_hole(now, payload, mss, cwnd) {
                return Some(o);
            }
        }
        let flight = if self.recover.is_some() {
            self.pipe()
        } else {
            self.snd_nxt - self.snd_una
        };
        let wnd_edge = self.snd_una + self.snd_wnd;
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
        let room = room_wnd.min((cwnd + limited).saturating_sub(flight));
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
        let len = if probe { 1 } else { unsent.min(mss).min(room) };
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
            match self.is_sacked(self.snd_nxt) {
                Some(end) => self.snd_nxt = end.min(self.snd_max),
                None => break,
            }
        }
        let seq = self.snd_nxt;
        let offset = seq - self.snd_una;
        let n = self.tx.copy_at(offset, &mut payload[..len]);
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
        if !retransmission && self.rtt_probe.is_none() && n > 0 {
            self.rtt_probe = Some((seq, now));
        }
        self.arm_keepalive(now);
        Some(Outgoing {
            hdr: h,
            payload_len: n,
        })
    }

    /// RFC 6675 "pipe", simplified: bytes in flight that are not SACKed (a
    /// retransmitted hole counts once, as the lost original no longer does).
    fn pipe(&self) -> usize {
        let sacked: usize = self.sacked.iter().map(|b| b.1 - b.0).sum();
        (self.snd_max - self.snd_una)
            .saturating_sub(sacked)
            .saturating_sub(self.lost_pending())
    }

    /// SACKed bytes inside [from, to).
    fn sacked_between(&self, from: Seq, to: Seq) -> usize {
        self.sacked
            .iter()
            .filter(|b| b.0.lt(to) && from.lt(b.1))
            .map(|b| b.1.min(to) - b.0.max(from))
            .sum()
    }

    /// RFC 6675 IsLost, approximated with the highest SACKed sequence: data
    /// with DupThresh segments of sequence space SACKed above it is lost.
    fn lost_edge(&self) -> Seq {
        let span = self.dupthresh() as usize * self.eff_mss();
        if self.high_sack.gt(self.snd_una) && self.high_sack - self.snd_una > span {
            Seq(self.high_sack.0.wrapping_sub(span as u32))
        } else {
            self.snd_una
        }
    }

    /// Bytes deemed lost and not yet retransmitted: they leave the pipe.
    fn lost_pending(&self) -> usize {
        if self.recover.is_none() || !self.sack_ok {
            return 0;
        }
        let from = self.rexmit_next.max(self.snd_una);
        let to = self.lost_edge();
        if !from.lt(to) {
            return 0;
        }
        (to - from).saturating_sub(self.sacked_between(from, to))
    }

    fn retransmit_hole(
        &mut self,
        now: u64,
        payload: &mut [u8],
        mss: usize,
        cwnd: usize,
    ) -> Option<Outgoing> {
        let recover = self.recover?;
        let mut s = self.rexmit_next.max(self.snd_una);
        while let Some(end) = self.is_sacked(s) {
            s = end;
        }
        if !s.lt(recover) || !s.lt(self.snd_max) {
            return None;
        }
        // RFC 6675 IsLost: a hole counts as lost once DupThresh segments
        // above it are SACKed; the first retransmission (at SND.UNA) is
        // always allowed on entering recovery.
        if self.sack_ok && s != self.snd_una && !s.lt(self.lost_edge()) {
            return None;
        }
        // Without SACK (NewReno) one retransmission per partial ACK; with
        // SACK, as many holes as the pipe allows.
        if self.sack_ok && self.pipe() >= cwnd && s != self.snd_una {
            return None;
        }
        if !self.sack_ok && s != self.snd_una {
            return None;
        }
        let next_sacked = self
            .sacked
            .iter()
            .filter(|b| s.lt(b.0))
            .map(|b| b.0)
            .fold(self.snd_max, |a, b| a.min(b));
        let data_end = self.snd_una + self.tx.len();
        let hole_end = next_sacked.min(data_end);
        if !s.lt(hole_end) {
            return None;
        }
        let len = (hole_end - s).min(mss);
        let n = self.tx.copy_at(s - self.snd_una, &mut payload[..len]);
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

    fn arm_keepalive(&mut self, now: u64) {
        if let Some(idle) = self.cfg.keepalive_ns {
            self.keepalive_at = Some(now + idle);
        }
    }
}

#[cfg(test)]
mod tests;
