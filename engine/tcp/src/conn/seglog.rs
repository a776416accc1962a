//! The sender's log of transmitted data: one entry per run of bytes sent at
//! the same instant, with its send time and whether it was retransmitted,
//! SACKed or deemed lost. It is the SACK scoreboard (RFC 6675) and the
//! per-segment send times that RACK needs (RFC 8985 section 5.2).
//!
//! Entries are sorted by sequence number and never overlap. Bytes sent in
//! one burst merge into one entry; a SACK block or a retransmission that
//! covers part of an entry splits it. The log is bounded by the data in
//! flight, not by a fixed number of SACK blocks: the scoreboard of 256
//! blocks it replaces dropped the highest blocks after a large loss burst,
//! so the sender resent data the peer already had and recovered for
//! seconds. Splits beyond [`SegLog::split_cap`] entries are refused (a SACK
//! block that would need one is ignored), so a peer cannot grow the log
//! without bound with byte-sized blocks.

use crate::seq::Seq;
use std::collections::VecDeque;

/// The entry's bytes were sent more than once.
pub const RETX: u8 = 1;
/// The peer SACKed the entry's bytes.
pub const SACKED: u8 = 2;
/// Deemed lost and not retransmitted since (RFC 8985 6.2, RFC 6675 IsLost).
pub const LOST: u8 = 4;

/// A run of sent bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// First sequence number.
    pub start: Seq,
    /// One past the last.
    pub end: Seq,
    /// When the bytes were last sent (ns).
    pub xmit: u64,
    /// [`RETX`], [`SACKED`], [`LOST`].
    pub flags: u8,
}

impl Sent {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// The log, with running byte counts of SACKed and lost entries.
#[derive(Debug, Default)]
pub struct SegLog {
    q: VecDeque<Sent>,
    sacked: usize,
    lost: usize,
}

impl SegLog {
    /// Bytes SACKed and not yet cumulatively acknowledged.
    pub fn sacked(&self) -> usize {
        self.sacked
    }

    /// Bytes deemed lost and not retransmitted since.
    pub fn lost(&self) -> usize {
        self.lost
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether nothing is logged.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Number of SACKed runs (the size of the scoreboard, for `show conn`).
    pub fn sacked_runs(&self) -> usize {
        let mut n = 0;
        let mut prev: Option<Seq> = None;
        for e in self.q.iter().filter(|e| e.flags & SACKED != 0) {
            if prev != Some(e.start) {
                n += 1;
            }
            prev = Some(e.end);
        }
        n
    }

    /// Forgets everything (the sequence space was reset).
    pub fn clear(&mut self) {
        self.q.clear();
        self.sacked = 0;
        self.lost = 0;
    }

    /// Most entries a split may lead to: a few per segment in flight.
    fn split_cap(&self, mss: usize) -> usize {
        let flight = match (self.q.front(), self.q.back()) {
            (Some(f), Some(b)) => b.end - f.start,
            _ => 0,
        };
        64 + 3 * flight / mss.max(1)
    }

    /// Index of the first entry ending after `s`.
    fn after(&self, s: Seq) -> usize {
        self.q.partition_point(|e| e.end.le(s))
    }

    /// Makes `s` an entry boundary if it falls inside one; false when that
    /// would pass `cap` entries.
    fn split_at(&mut self, s: Seq, cap: usize) -> bool {
        let i = self.after(s);
        match self.q.get(i) {
            Some(e) if e.start.lt(s) => {
                if self.q.len() >= cap {
                    return false;
                }
                let mut right = *e;
                right.start = s;
                self.q[i].end = s;
                self.q.insert(i + 1, right);
                true
            }
            _ => true,
        }
    }

    /// Records that [start, end) left at `now` (new data or a
    /// retransmission of logged bytes).
    pub fn sent(&mut self, start: Seq, end: Seq, now: u64) {
        self.sent_as(start, end, now, 0)
    }

    /// As [`SegLog::sent`], with `flags` ([`RETX`] or 0) on the entry of
    /// bytes new to the log: a backup's first sending of bytes the primary
    /// may have sent is a retransmission for Karn's rule and RACK.
    pub fn sent_as(&mut self, start: Seq, end: Seq, now: u64, flags: u8) {
        if !start.lt(end) {
            return;
        }
        let tail = self.q.back().map(|b| b.end);
        let new_from = match tail {
            None => start,
            Some(t) if t.le(start) => start,
            Some(t) => {
                // Retransmission of logged bytes, up to the log's end.
                let to = end.min(t);
                // Our own retransmissions may always split: they are
                // bounded by what we send, not by the peer.
                let cap = usize::MAX;
                self.split_at(start, cap);
                self.split_at(to, cap);
                let (i, j) = (
                    self.after(start),
                    self.q.partition_point(|e| e.start.lt(to)),
                );
                for k in i..j {
                    let e = &mut self.q[k];
                    if e.flags & LOST != 0 {
                        self.lost -= e.len();
                    }
                    e.flags = (e.flags | RETX) & !LOST;
                    e.xmit = now;
                }
                t
            }
        };
        if !new_from.lt(end) {
            return;
        }
        if let Some(b) = self.q.back_mut() {
            if b.end == new_from && b.xmit == now && b.flags == flags {
                b.end = end;
                return;
            }
        }
        self.q.push_back(Sent {
            start: new_from,
            end,
            xmit: now,
            flags,
        });
    }

    /// The cumulative ACK reached `una`: drops what it covers, calling
    /// `delivered` for each entry it delivers that was not SACKed before.
    pub fn ack(&mut self, una: Seq, mut delivered: impl FnMut(&Sent)) {
        while let Some(f) = self.q.front_mut() {
            if f.end.le(una) {
                let e = self.q.pop_front().expect("front");
                self.forget(&e, e.len());
                if e.flags & SACKED == 0 {
                    delivered(&e);
                }
            } else {
                if f.start.lt(una) {
                    let cut = una - f.start;
                    let e = *f;
                    f.start = una;
                    self.forget(&e, cut);
                    if e.flags & SACKED == 0 {
                        delivered(&Sent { end: una, ..e });
                    }
                }
                break;
            }
        }
    }

    fn forget(&mut self, e: &Sent, n: usize) {
        if e.flags & SACKED != 0 {
            self.sacked -= n;
        }
        if e.flags & LOST != 0 {
            self.lost -= n;
        }
    }

    /// The peer SACKed [l, r): marks the entries inside it, calling
    /// `delivered` for each newly SACKed one. A block that would need a
    /// split past the cap is ignored.
    pub fn sack(&mut self, l: Seq, r: Seq, mss: usize, mut delivered: impl FnMut(&Sent)) {
        let cap = self.split_cap(mss);
        if !self.split_at(l, cap) || !self.split_at(r, cap) {
            return;
        }
        let (i, j) = (self.after(l), self.q.partition_point(|e| e.start.lt(r)));
        for k in i..j {
            let e = self.q[k];
            if e.flags & SACKED != 0 {
                continue;
            }
            self.sacked += e.len();
            if e.flags & LOST != 0 {
                self.lost -= e.len();
            }
            self.q[k].flags = (e.flags | SACKED) & !LOST;
            delivered(&e);
        }
    }

    /// If `s` lies in a SACKed entry: the end of the SACKed run from it.
    pub fn sacked_end(&self, s: Seq) -> Option<Seq> {
        let mut i = self.after(s);
        let mut end = None;
        while let Some(e) = self.q.get(i) {
            if e.flags & SACKED == 0 || e.start.gt(end.unwrap_or(s)) {
                break;
            }
            end = Some(e.end);
            i += 1;
        }
        end
    }

    /// Start of the first SACKed entry after `s`, if any.
    pub fn next_sacked(&self, s: Seq) -> Option<Seq> {
        self.q
            .range(self.after(s)..)
            .find(|e| e.flags & SACKED != 0)
            .map(|e| e.start.max(s))
    }

    /// The first lost run not yet retransmitted: [start, end).
    pub fn first_lost(&self) -> Option<(Seq, Seq)> {
        if self.lost == 0 {
            return None;
        }
        let i = self.q.iter().position(|e| e.flags & LOST != 0)?;
        let mut end = self.q[i].end;
        for e in self.q.range(i + 1..) {
            if e.flags & LOST == 0 || e.start != end {
                break;
            }
            end = e.end;
        }
        Some((self.q[i].start, end))
    }

    /// Marks the entry holding `s` lost (the fast retransmit of RFC 6675
    /// on entering recovery), unless SACKed or already lost.
    pub fn mark_lost_at(&mut self, s: Seq) {
        let i = self.after(s);
        if let Some(e) = self.q.get_mut(i) {
            if e.start.le(s) && e.flags & (SACKED | LOST) == 0 {
                e.flags |= LOST;
                self.lost += e.end - e.start;
            }
        }
    }

    /// RFC 8985 6.2 step 5 (RACK_detect_loss): every entry neither SACKed
    /// nor lost that was sent before the most recently delivered one
    /// (`rack_xmit`, `rack_end`) is lost once `wait` has passed since its
    /// send time. Returns whether any became lost, and the earliest time
    /// one of the others will be due (the reordering timer). When the
    /// delivered segment was an original transmission (`!rack_retx`), the
    /// scan stops at it: originals after it were sent later.
    pub fn detect_lost(
        &mut self,
        now: u64,
        rack_xmit: u64,
        rack_end: Seq,
        rack_retx: bool,
        wait: u64,
    ) -> (bool, Option<u64>) {
        let (mut any, mut timer) = (false, None::<u64>);
        for e in self.q.iter_mut() {
            if !rack_retx && e.start.ge(rack_end) {
                break;
            }
            if e.flags & (SACKED | LOST) != 0 {
                continue;
            }
            let older = e.xmit < rack_xmit || (e.xmit == rack_xmit && e.end.le(rack_end));
            if !older {
                continue;
            }
            let due = e.xmit.saturating_add(wait);
            if due <= now {
                e.flags |= LOST;
                self.lost += e.end - e.start;
                any = true;
            } else {
                timer = Some(timer.map_or(due, |t| t.min(due)));
            }
        }
        (any, timer)
    }

    /// Checks the invariants: sorted, non-overlapping, counts consistent.
    pub fn check(&self) -> Result<(), String> {
        let (mut s, mut l) = (0, 0);
        for (i, e) in self.q.iter().enumerate() {
            if !e.start.lt(e.end) {
                return Err(format!("empty entry {i}: {e:?}"));
            }
            if i > 0 && e.start.lt(self.q[i - 1].end) {
                return Err(format!("overlap at {i}: {:?} {e:?}", self.q[i - 1]));
            }
            if e.flags & SACKED != 0 {
                s += e.len();
            }
            if e.flags & LOST != 0 {
                l += e.len();
            }
        }
        if (s, l) != (self.sacked, self.lost) {
            return Err(format!(
                "counts {}/{} against entries {s}/{l}",
                self.sacked, self.lost
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn log_of(bursts: &[(u32, u32, u64)]) -> SegLog {
        let mut g = SegLog::default();
        for &(a, b, t) in bursts {
            g.sent(Seq(a), Seq(b), t);
        }
        g
    }

    #[test]
    fn a_burst_is_one_entry_and_sacks_split_it() {
        let mut g = log_of(&[(0, 100, 1), (100, 1000, 1), (1000, 1500, 2)]);
        assert_eq!(g.len(), 2);
        let mut got = Vec::new();
        g.sack(Seq(300), Seq(500), 100, |e| got.push((e.start.0, e.end.0)));
        assert_eq!(got, vec![(300, 500)]);
        assert_eq!((g.len(), g.sacked()), (4, 200));
        assert_eq!(g.sacked_end(Seq(350)), Some(Seq(500)));
        assert_eq!(g.sacked_end(Seq(200)), None);
        assert_eq!(g.next_sacked(Seq(0)), Some(Seq(300)));
        g.check().unwrap();
        // The cumulative ACK delivers the un-SACKed bytes below it only.
        let mut d = Vec::new();
        g.ack(Seq(700), |e| d.push((e.start.0, e.end.0)));
        assert_eq!(d, vec![(0, 300), (500, 700)]);
        assert_eq!(g.sacked(), 0);
        g.check().unwrap();
    }

    #[test]
    fn rack_marks_older_segments_lost_and_retransmission_clears_it() {
        let mut g = log_of(&[(0, 100, 10), (100, 200, 20), (200, 300, 30)]);
        let mut newest = None;
        g.sack(Seq(200), Seq(300), 100, |e| newest = Some((e.xmit, e.end)));
        let (x, end) = newest.unwrap();
        // Not yet: the wait has not passed for the one sent at 20.
        let (any, timer) = g.detect_lost(25, x, end, false, 10);
        assert!(any);
        assert_eq!(timer, Some(30));
        assert_eq!(g.first_lost(), Some((Seq(0), Seq(100))));
        g.sent(Seq(0), Seq(100), 40);
        assert_eq!(g.lost(), 0);
        // A later delivery of new data shows the retransmission lost too.
        g.sent(Seq(300), Seq(400), 50);
        let (any, _) = g.detect_lost(70, 50, Seq(400), false, 10);
        assert!(any);
        assert_eq!(g.first_lost(), Some((Seq(0), Seq(200))));
        g.check().unwrap();
    }

    #[test]
    fn splits_are_capped() {
        let mut g = log_of(&[(0, 10_000, 1)]);
        for k in 0..1000u32 {
            g.sack(Seq(k * 10 + 1), Seq(k * 10 + 2), 1000, |_| {});
        }
        assert!(g.len() <= g.split_cap(1000), "{}", g.len());
        g.check().unwrap();
    }

    proptest! {
        /// Any mix of sends, SACKs, ACKs and loss marking keeps the log
        /// sorted with consistent counts, and SACKed bytes stay SACKed.
        #[test]
        fn invariants_hold(ops in proptest::collection::vec((0u8..5, 0u32..4000, 1u32..600), 1..200)) {
            let mut g = SegLog::default();
            let (mut una, mut max, mut now) = (Seq(u32::MAX - 2000), Seq(u32::MAX - 2000), 0u64);
            for (op, a, n) in ops {
                now += 1;
                match op {
                    0 => { let e = max + n as usize; g.sent(max, e, now); max = e; }
                    1 => { let span = (max - una) as u32; if span > 0 {
                        let s = una + (a % span) as usize; g.sent(s, (s + n as usize).min(max), now); } }
                    2 => { let span = (max - una) as u32; if span > 0 {
                        let l = una + (a % span) as usize; let r = (l + n as usize).min(max);
                        g.sack(l, r, 100, |_| {});
                        if l.lt(r) { prop_assert!(g.sacked_end(l).is_some() || g.len() >= g.split_cap(100)); } } }
                    3 => { let span = (max - una) as u32; if span > 0 {
                        una = una + (a % (span + 1)) as usize; g.ack(una, |_| {}); } }
                    _ => { g.detect_lost(now, now, max, true, 3); }
                }
                prop_assert!(g.check().is_ok(), "{:?}", g.check());
                prop_assert!(g.sacked() + g.lost() <= max - una);
            }
        }
    }
}
