//! The path-metrics table: what the site knows about each client's path.
//!
//! An entry per client prefix (/32 by default) holds the congestion window,
//! minimum and smoothed RTT, when it was learned and which node it came
//! from. Connections record into it while they run and when they close;
//! peers' entries arrive over the peer channel. A new connection whose first
//! request resumes a download (a Range not starting at 0) looks its client
//! up and, with a fresh entry, starts from the saved window
//! ([`anyedge_tcp::resume`]). Bounded: the least recently updated entry makes
//! room, and entries older than the lifetime are ignored.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// What is saved about one client path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathEntry {
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// Minimum RTT, microseconds.
    pub min_rtt_us: u32,
    /// Smoothed RTT, microseconds.
    pub srtt_us: u32,
    /// When it was updated (node clock, ns).
    pub updated: u64,
    /// Node that measured it.
    pub from: String,
    /// A connection is using it for a resume (one use at a time).
    pub in_use: bool,
}

/// The table.
#[derive(Debug)]
pub struct PathTable {
    entries: HashMap<u32, PathEntry>,
    cap: usize,
    prefix: u8,
    lifetime_ns: u64,
}

impl PathTable {
    /// A table of at most `cap` entries keyed by `prefix`-bit client
    /// prefixes, whose entries live `lifetime_ns`.
    pub fn new(cap: usize, prefix: u8, lifetime_ns: u64) -> Self {
        PathTable {
            entries: HashMap::with_capacity(cap.min(1 << 16)),
            cap: cap.max(1),
            prefix: prefix.clamp(8, 32),
            lifetime_ns,
        }
    }

    fn key(&self, ip: Ipv4Addr) -> u32 {
        let mask = if self.prefix == 32 {
            u32::MAX
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask
    }

    /// Records (or refreshes) the entry for `ip`.
    pub fn record(&mut self, ip: Ipv4Addr, e: PathEntry) {
        let k = self.key(ip);
        if !self.entries.contains_key(&k) && self.entries.len() >= self.cap {
            if let Some(old) = self
                .entries
                .iter()
                .min_by_key(|(_, v)| v.updated)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&old);
            }
        }
        let in_use = self.entries.get(&k).is_some_and(|x| x.in_use);
        self.entries.insert(k, PathEntry { in_use, ..e });
    }

    /// A fresh entry for `ip` that no other connection is resuming from;
    /// marks it in use.
    pub fn take(&mut self, ip: Ipv4Addr, now: u64) -> Option<PathEntry> {
        let k = self.key(ip);
        let life = self.lifetime_ns;
        let e = self.entries.get_mut(&k)?;
        if e.in_use || now.saturating_sub(e.updated) > life {
            return None;
        }
        e.in_use = true;
        Some(e.clone())
    }

    /// Ends a use of the entry of `ip`.
    pub fn release(&mut self, ip: Ipv4Addr) {
        let k = self.key(ip);
        if let Some(e) = self.entries.get_mut(&k) {
            e.in_use = false;
        }
    }

    /// Deletes the entry of `ip` (after a safe retreat).
    pub fn delete(&mut self, ip: Ipv4Addr) {
        let k = self.key(ip);
        self.entries.remove(&k);
    }

    /// Entries, for `show anycast`.
    pub fn entries(&self) -> impl Iterator<Item = (Ipv4Addr, &PathEntry)> {
        self.entries.iter().map(|(k, v)| (Ipv4Addr::from(*k), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(cwnd: u32, at: u64) -> PathEntry {
        PathEntry {
            cwnd,
            min_rtt_us: 50_000,
            srtt_us: 52_000,
            updated: at,
            from: "edge-a".into(),
            in_use: false,
        }
    }

    #[test]
    fn one_use_at_a_time_lifetime_and_lru() {
        let mut t = PathTable::new(2, 32, 1_000);
        let (a, b, c) = (
            Ipv4Addr::new(10, 0, 1, 2),
            Ipv4Addr::new(10, 0, 1, 3),
            Ipv4Addr::new(10, 0, 1, 4),
        );
        t.record(a, e(100, 10));
        assert_eq!(t.take(a, 20).unwrap().cwnd, 100);
        assert!(t.take(a, 20).is_none(), "in use");
        t.release(a);
        assert!(t.take(a, 2_000).is_none(), "expired");
        t.release(a);
        t.record(b, e(200, 30));
        t.record(c, e(300, 40));
        assert_eq!(t.len(), 2);
        assert!(t.take(a, 41).is_none(), "the oldest made room");
        t.delete(b);
        assert!(t.take(b, 41).is_none());
        let mut p = PathTable::new(8, 24, 1_000);
        p.record(a, e(1, 0));
        assert!(p.take(c, 1).is_some(), "same /24");
    }
}
