//! Replicated connections (issue 7, item 3): what a primary sends its backup
//! about a connection, the output-commit gate, and how the backup continues
//! the same connection when the client's segments reach it.
//!
//! - [`Conn::snapshot`] takes the transmission control block (RFC 9293
//!   3.3.1: sequence spaces, windows and the negotiated options of RFC 7323
//!   and RFC 2018) with the congestion state and the RTT.
//! - [`Conn::set_ack_limit`] is the output commit: the primary advertises
//!   RCV.NXT only as far as the backup confirmed holding the state that
//!   covers it, so a byte the client saw acknowledged is never lost with the
//!   primary. Pure ACKs wait while the limit holds them back; the window's
//!   right edge stays where RCV.NXT and the buffer put it (RFC 9293 3.8.6.2:
//!   the window must not shrink). The SYN-ACK is an ACK of the peer's SYN
//!   and waits too: a limit at IRS holds it until the backup has the
//!   connection, so a client never holds an open connection that only the
//!   primary knows of.
//! - [`Conn::from_snapshot`] rebuilds the connection in ESTABLISHED on the
//!   backup. The client's first segment there tells how far it got: its
//!   SEG.ACK becomes SND.UNA and SND.NXT, and the application regenerates the
//!   byte stream from that point. Our timestamps go on from the primary's
//!   clock plus the time since the snapshot and a margin, so that the client's
//!   PAWS check (RFC 7323 5) accepts them. The congestion window is not
//!   taken as is: the caller resumes the snapshot's window and RTT with
//!   the site's resume policy (draft-ietf-tsvwg-careful-resume), as for an
//!   anycast takeover, since a window measured by another node may not
//!   hold from this one.

use super::*;

/// Margin added to the timestamp clock on takeover: covers the snapshot's
/// age on the wire, so our TSval is never below the primary's last one.
const TS_MARGIN_MS: u32 = 1000;

/// What a backup knows of the primary's sending on a connection it took
/// over: the peer's ACKs and SACKs of bytes below `high`, and its echoes of
/// TSvals below `ts_from`, may be for the primary's copies. Taken as ours,
/// they gave RTT samples of a fraction of a millisecond (an ACK of the
/// primary's copy, still queued in the network, arriving just after we
/// sent the same bytes) and of a second (an echo of the primary's clock,
/// which ours runs ahead of by the margin), and RACK then marked our
/// segments lost by the hundred: the window fell to two segments and the
/// rest of an 8 MiB download took 15 s instead of half of one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Takeover {
    /// The highest sequence number the primary may have sent: the
    /// snapshot's SND.MAX, raised by the peer's ACKs and SACK blocks.
    pub(super) high: Seq,
    /// Our first TSval on the connection.
    pub(super) ts_from: u32,
}

/// The state of one connection, as replicated to a backup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Our initial send sequence number.
    pub iss: u32,
    /// The peer's initial sequence number.
    pub irs: u32,
    /// SND.UNA when the snapshot was taken.
    pub snd_una: u32,
    /// Highest sequence number sent.
    pub snd_max: u32,
    /// RCV.NXT (as far as the snapshot covers received data).
    pub rcv_nxt: u32,
    /// The peer's last window, unscaled bytes.
    pub snd_wnd: u32,
    /// The peer's MSS.
    pub peer_mss: u16,
    /// Window scaling in use, and both shifts (RFC 7323 2).
    pub ws_ok: bool,
    /// Shift the peer's window field is scaled by.
    pub snd_shift: u8,
    /// Shift we apply to our window field.
    pub rcv_shift: u8,
    /// Timestamps in use (RFC 7323 3).
    pub ts_ok: bool,
    /// TS.Recent.
    pub ts_recent: u32,
    /// Our TSval at the snapshot.
    pub ts_val: u32,
    /// SACK permitted (RFC 2018).
    pub sack_ok: bool,
    /// The peer's FIN was received.
    pub fin_received: bool,
    /// Congestion window and slow-start threshold, bytes.
    pub cwnd: u32,
    /// See `cwnd`.
    pub ssthresh: u32,
    /// Smoothed RTT and minimum RTT, microseconds (0: no sample yet).
    pub srtt_us: u32,
    /// See `srtt_us`.
    pub min_rtt_us: u32,
}

/// Encoded length of a [`Snapshot`].
pub const SNAPSHOT_LEN: usize = 4 * 7 + 2 + 1 + 1 + 1 + 4 + 4 + 1 + 4 * 4 + 1;

impl Snapshot {
    /// Appends the snapshot, big-endian, [`SNAPSHOT_LEN`] bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.iss,
            self.irs,
            self.snd_una,
            self.snd_max,
            self.rcv_nxt,
            self.snd_wnd,
            self.ts_recent,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.peer_mss.to_be_bytes());
        out.push(self.snd_shift);
        out.push(self.rcv_shift);
        out.push(self.ws_ok as u8 | (self.ts_ok as u8) << 1 | (self.sack_ok as u8) << 2);
        out.extend_from_slice(&self.ts_val.to_be_bytes());
        out.extend_from_slice(&self.cwnd.to_be_bytes());
        out.push(self.fin_received as u8);
        for v in [self.ssthresh, self.srtt_us, self.min_rtt_us, 0] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.push(0);
    }

    /// Decodes [`Snapshot::encode`]'s bytes; `None` if `b` is short.
    pub fn decode(b: &[u8]) -> Option<Snapshot> {
        if b.len() < SNAPSHOT_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let flags = b[32];
        Some(Snapshot {
            iss: u32_at(0),
            irs: u32_at(4),
            snd_una: u32_at(8),
            snd_max: u32_at(12),
            rcv_nxt: u32_at(16),
            snd_wnd: u32_at(20),
            ts_recent: u32_at(24),
            peer_mss: u16::from_be_bytes([b[28], b[29]]),
            snd_shift: b[30].min(14),
            rcv_shift: b[31].min(14),
            ws_ok: flags & 1 != 0,
            ts_ok: flags & 2 != 0,
            sack_ok: flags & 4 != 0,
            ts_val: u32_at(33),
            cwnd: u32_at(37),
            fin_received: b[41] != 0,
            ssthresh: u32_at(42),
            srtt_us: u32_at(46),
            min_rtt_us: u32_at(50),
        })
    }
}

impl Conn {
    /// The connection's replicable state at `now`.
    pub fn snapshot(&self, now: u64) -> Snapshot {
        let us = |ns: Option<u64>| ns.map_or(0, |v| (v / 1000).clamp(1, u32::MAX as u64) as u32);
        Snapshot {
            iss: self.iss.0,
            irs: self.irs.0,
            snd_una: self.snd_una.0,
            snd_max: self.snd_max.0,
            rcv_nxt: self.rcv_nxt.0,
            snd_wnd: self.snd_wnd.min(u32::MAX as usize) as u32,
            peer_mss: self.peer_mss.min(0xffff) as u16,
            ws_ok: self.ws_ok,
            snd_shift: self.snd_shift,
            rcv_shift: self.rcv_shift,
            ts_ok: self.ts_ok,
            ts_recent: self.ts_recent,
            ts_val: self.ts_now(now),
            sack_ok: self.sack_ok,
            fin_received: self.fin_received,
            cwnd: self.cc.cwnd().min(u32::MAX as usize) as u32,
            ssthresh: self.cc.ssthresh().min(u32::MAX as usize) as u32,
            srtt_us: us(self.rtt.srtt()),
            min_rtt_us: us(self.rtt.min_rtt()),
        }
    }

    /// The backup's side of a takeover: the connection of snapshot `s`,
    /// taken `age_ns` ago, continued in ESTABLISHED (CLOSE-WAIT if the peer
    /// had closed) from the peer's segment `seg`, whose acknowledgment
    /// number becomes SND.UNA. `None` when `seg` does not fit the snapshot
    /// (its ACK is outside what the primary can have sent): the caller
    /// treats it as a stray segment.
    pub fn from_snapshot(
        cfg: ConnConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        s: &Snapshot,
        age_ns: u64,
        seg: &Segment,
        now: u64,
    ) -> Option<Conn> {
        let ack = Seq(seg.ack);
        if seg.flags & ACK == 0 || seg.flags & (SYN | RST) != 0 || ack.lt(Seq(s.snd_una)) {
            return None;
        }
        let mut c = Conn::blank(cfg, local, remote, s.iss, now);
        c.state = if s.fin_received {
            State::CloseWait
        } else {
            State::Established
        };
        c.irs = Seq(s.irs);
        c.rcv_nxt = Seq(s.rcv_nxt);
        c.fin_received = s.fin_received;
        c.peer_mss = usize::from(s.peer_mss).max(64);
        c.ws_ok = s.ws_ok;
        c.snd_shift = s.snd_shift;
        c.rcv_shift = s.rcv_shift;
        c.ts_ok = s.ts_ok;
        c.ts_recent = s.ts_recent;
        c.sack_ok = s.sack_ok;
        // TSval(now) = the primary's TSval at the snapshot + its age + margin.
        let age_ms = (age_ns / 1_000_000) as u32;
        let want = s.ts_val.wrapping_add(age_ms).wrapping_add(TS_MARGIN_MS);
        c.ts_offset = want.wrapping_sub((now / 1_000_000) as u32);
        c.snd_una = ack;
        c.snd_nxt = ack;
        c.snd_max = ack;
        c.rexmit_next = ack;
        c.hs_round_end = ack;
        c.snd_wnd = usize::from(seg.window) << c.snd_shift;
        c.max_snd_wnd = c.snd_wnd.max(s.snd_wnd as usize);
        c.snd_wl1 = Seq(seg.seq);
        c.snd_wl2 = ack;
        // The window starts from the initial window: the saved one was
        // measured by another node and may not hold on this node's path;
        // the caller resumes it (`Conn::resume`, careful by default).
        let mss = c.eff_mss();
        c.cc = Cc::new(cfg.cc, mss);
        if s.srtt_us > 0 {
            c.rtt.seed(
                u64::from(s.srtt_us) * 1000,
                u64::from(s.min_rtt_us.max(1)) * 1000,
            );
        }
        c.rcv_adv = c.rcv_nxt + c.rx.window();
        c.takeover = Some(Takeover {
            high: Seq(s.snd_max).max(ack),
            ts_from: c.ts_now(now),
        });
        Some(c)
    }

    /// After a takeover: whether the primary may have sent the byte at
    /// `seq` (then our sending of it is a retransmission).
    pub(super) fn primary_may_have_sent(&self, seq: Seq) -> bool {
        self.takeover.is_some_and(|t| seq.lt(t.high))
    }

    /// After a takeover: the peer showed it holds bytes up to `right`
    /// (an ACK or a SACK block past SND.MAX), so the primary sent them.
    pub(super) fn takeover_saw(&mut self, right: Seq) {
        if let Some(t) = self.takeover.as_mut() {
            t.high = t.high.max(right);
        }
    }

    /// Whether a timestamp echo is of our own clock: after a takeover,
    /// echoes of the primary's TSvals (below our first) time the primary's
    /// segments, whose send times we do not know (RFC 7323 4.1).
    pub(super) fn echo_is_ours(&self, tsecr: u32) -> bool {
        self.takeover
            .is_none_or(|t| tsecr.wrapping_sub(t.ts_from) as i32 >= 0)
    }

    /// A taken-over connection's peer acknowledges past SND.MAX: it got
    /// those bytes from the primary (beyond a hole that we filled). The
    /// stream is the same, so they count as sent: what we queued is
    /// consumed, and the rest of the gap is skipped from the application's
    /// next writes. At most one send buffer's worth past what we queued is
    /// believed; anything further is treated as RFC 9293 says (dropped,
    /// answered with an ACK).
    pub(super) fn ack_ahead(&mut self, now: u64, ack: Seq, seg: &Segment) {
        self.takeover_saw(ack);
        let queued_end = self.snd_una + self.tx.len();
        if ack.le(queued_end) {
            self.snd_nxt = ack;
            self.snd_max = ack;
            return;
        }
        let extra = ack - queued_end;
        if extra > self.cfg.send_buf.max(1 << 20) * 64 {
            return;
        }
        if self.snd_una.lt(queued_end) {
            self.snd_nxt = queued_end;
            self.snd_max = queued_end;
            self.on_new_ack(now, queued_end, seg);
        }
        self.snd_una = ack;
        self.snd_nxt = ack;
        self.snd_max = ack;
        self.rexmit_next = ack;
        self.log.clear();
        self.skip_writes += extra;
    }

    /// The output commit of a replicated connection: acknowledge received
    /// data only up to `limit` (`None`: up to RCV.NXT, the normal rule).
    /// Lifting or raising the limit owes the peer an ACK for what it opens.
    pub fn set_ack_limit(&mut self, limit: Option<u32>) {
        let before = self.ack_field();
        self.ack_limit = limit.map(Seq);
        if self.ack_field() != before {
            self.ack_now = true;
        }
    }

    /// The acknowledgment number we send: RCV.NXT, held back to the
    /// output-commit limit when one is set.
    pub(super) fn ack_field(&self) -> Seq {
        // Only data is held back: a FIN after committed data carries no
        // state to lose, and holding its ACK would let our own close finish
        // (LAST-ACK) with the peer's FIN unacknowledged.
        let data_end = Seq(self.rcv_nxt.0.wrapping_sub(u32::from(self.fin_received)));
        match self.ack_limit {
            Some(l) if l.lt(data_end) => l,
            _ => self.rcv_nxt,
        }
    }

    /// Whether the output commit holds back part of what was received.
    pub fn ack_held(&self) -> bool {
        self.ack_field() != self.rcv_nxt
    }

    /// RCV.NXT less the bytes the application has not read yet: how far the
    /// application's own state covers the received stream.
    pub fn rcv_consumed(&self) -> u32 {
        let fin = u32::from(self.fin_received);
        (self.rcv_nxt.0)
            .wrapping_sub(self.rx.len() as u32)
            .wrapping_sub(if self.rx.is_empty() { 0 } else { fin })
    }

    /// Bytes queued and not yet acknowledged (in flight or waiting to go).
    pub fn unacked(&self) -> usize {
        self.tx.len()
    }

    /// SND.UNA as a raw sequence number.
    pub fn snd_una_raw(&self) -> u32 {
        self.snd_una.0
    }

    /// Forgets the connection without a RST: another node continues it
    /// (takeover) and the peer must not see it end.
    pub fn vanish(&mut self) {
        self.rst_pending = None;
        self.enter_closed(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips() {
        let s = Snapshot {
            iss: 1,
            irs: 2,
            snd_una: 3,
            snd_max: 4,
            rcv_nxt: 5,
            snd_wnd: 6,
            peer_mss: 1460,
            ws_ok: true,
            snd_shift: 7,
            rcv_shift: 9,
            ts_ok: true,
            ts_recent: 10,
            ts_val: 11,
            sack_ok: false,
            fin_received: true,
            cwnd: 12,
            ssthresh: 13,
            srtt_us: 14,
            min_rtt_us: 15,
        };
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(b.len(), SNAPSHOT_LEN);
        assert_eq!(Snapshot::decode(&b), Some(s));
        assert_eq!(Snapshot::decode(&b[..SNAPSHOT_LEN - 1]), None);
    }
}
