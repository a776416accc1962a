//! A small ARP cache (RFC 826), one per polling core.
//!
//! The node answers ARP requests for its addresses from the request itself, so
//! the cache is only needed for traffic the node originates (its gateway, the
//! peers and the overlay later). It is preallocated and bounded: when it is
//! full, the entry updated longest ago makes room.

use anyedge_port::MacAddr;
use std::net::Ipv4Addr;

/// One learned neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpEntry {
    /// Neighbour address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
    /// Port it was learned on.
    pub port: u16,
    /// When it was last confirmed (clock nanoseconds).
    pub updated_ns: u64,
}

/// A bounded neighbour table.
#[derive(Debug)]
pub struct ArpCache {
    entries: Vec<ArpEntry>,
    cap: usize,
}

impl ArpCache {
    /// Creates an empty cache holding at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        ArpCache {
            entries: Vec::with_capacity(cap.max(1)),
            cap: cap.max(1),
        }
    }

    /// The MAC of `ip`, if known.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries.iter().find(|e| e.ip == ip).map(|e| e.mac)
    }

    /// RFC 826 "merge": updates an existing entry for `ip`. Returns whether there was one.
    pub fn refresh(&mut self, ip: Ipv4Addr, mac: MacAddr, port: u16, now: u64) -> bool {
        match self.entries.iter_mut().find(|e| e.ip == ip) {
            Some(e) => {
                e.mac = mac;
                e.port = port;
                e.updated_ns = now;
                true
            }
            None => false,
        }
    }

    /// RFC 826: when the target is us, add the sender (after the merge step).
    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr, port: u16, now: u64) {
        if ip.is_unspecified() || mac[0] & 1 == 1 || self.refresh(ip, mac, port, now) {
            return;
        }
        let e = ArpEntry {
            ip,
            mac,
            port,
            updated_ns: now,
        };
        if self.entries.len() < self.cap {
            self.entries.push(e);
        } else if let Some(old) = self.entries.iter_mut().min_by_key(|e| e.updated_ns) {
            *old = e;
        }
    }

    /// Every entry.
    pub fn entries(&self) -> &[ArpEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_merges_and_evicts_the_oldest() {
        let mut c = ArpCache::new(2);
        let ip = |n| Ipv4Addr::new(10, 0, 0, n);
        c.learn(ip(1), [2, 0, 0, 0, 0, 1], 0, 10);
        c.learn(ip(2), [2, 0, 0, 0, 0, 2], 0, 20);
        assert!(c.refresh(ip(1), [2, 0, 0, 0, 0, 9], 0, 30));
        assert!(!c.refresh(ip(3), [2, 0, 0, 0, 0, 3], 0, 30));
        c.learn(ip(3), [2, 0, 0, 0, 0, 3], 0, 40);
        assert_eq!(c.lookup(ip(2)), None, "oldest evicted");
        assert_eq!(c.lookup(ip(1)), Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(c.entries().len(), 2);
        c.learn(ip(4), [1, 0, 0, 0, 0, 1], 0, 50);
        assert_eq!(c.lookup(ip(4)), None, "multicast MAC never learned");
    }
}
