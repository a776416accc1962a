//! A small ARP cache (RFC 826), one per polling core.
//!
//! The node answers ARP requests for its addresses from the request itself, so
//! the cache is only needed for traffic the node originates (its gateway, the
//! peers and the overlay later). It is preallocated and bounded: when it is
//! full, the entry updated longest ago makes room.
//!
//! What one core learns is also posted on the node's [`NeighBoard`], where
//! the other cores find it when their own cache misses. ARP frames carry no
//! IP addresses or ports for RSS to hash, so a multi-queue port delivers them
//! to one queue (queue 0 on most NICs; any one on a multi-queue TAP): the
//! other cores would never learn their gateway's MAC, and their peer
//! datagrams (replication records, path metrics) were dropped as
//! `peer_no_arp` until the router happened to ARP on their queue.

use anyedge_port::MacAddr;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// Neighbours learned on any core of a node (see the module docs). Locked
/// only when a core learns from an ARP frame or misses in its own cache,
/// never per packet.
#[derive(Debug)]
pub struct NeighBoard(Mutex<ArpCache>);

impl Default for NeighBoard {
    fn default() -> Self {
        NeighBoard(Mutex::new(ArpCache::new(256)))
    }
}

impl NeighBoard {
    fn post(&self, e: ArpEntry) {
        if let Ok(mut c) = self.0.lock() {
            c.learn(e.ip, e.mac, e.port, e.updated_ns);
        }
    }

    fn find(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.0.lock().ok()?.lookup(ip)
    }
}

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
    board: Option<Arc<NeighBoard>>,
}

impl ArpCache {
    /// Creates an empty cache holding at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        ArpCache {
            entries: Vec::with_capacity(cap.max(1)),
            cap: cap.max(1),
            board: None,
        }
    }

    /// As [`ArpCache::new`], sharing what it learns on `board`, and finding
    /// there what the other cores learned.
    pub fn with_board(cap: usize, board: Arc<NeighBoard>) -> Self {
        ArpCache {
            board: Some(board),
            ..ArpCache::new(cap)
        }
    }

    /// The MAC of `ip`, if this core or (on a miss) another one knows it.
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.entries
            .iter()
            .find(|e| e.ip == ip)
            .map(|e| e.mac)
            .or_else(|| self.board.as_ref()?.find(ip))
    }

    /// RFC 826 "merge": updates an existing entry for `ip`. Returns whether there was one.
    pub fn refresh(&mut self, ip: Ipv4Addr, mac: MacAddr, port: u16, now: u64) -> bool {
        match self.entries.iter_mut().find(|e| e.ip == ip) {
            Some(e) => {
                e.mac = mac;
                e.port = port;
                e.updated_ns = now;
                let e = *e;
                if let Some(b) = &self.board {
                    b.post(e);
                }
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
        if let Some(b) = &self.board {
            b.post(e);
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

    #[test]
    fn a_core_finds_what_another_core_learned() {
        let board = Arc::new(NeighBoard::default());
        let (mut a, mut b) = (
            ArpCache::with_board(4, board.clone()),
            ArpCache::with_board(4, board),
        );
        let gw = Ipv4Addr::new(10, 0, 2, 1);
        assert_eq!(b.lookup(gw), None);
        a.learn(gw, [2, 0, 0, 0, 0, 1], 0, 10);
        assert_eq!(b.lookup(gw), Some([2, 0, 0, 0, 0, 1]), "from the board");
        // A refresh on one core moves the board too.
        assert!(a.refresh(gw, [2, 0, 0, 0, 0, 2], 0, 20));
        assert_eq!(b.lookup(gw), Some([2, 0, 0, 0, 0, 2]));
        // What a core learned itself comes first.
        b.learn(gw, [2, 0, 0, 0, 0, 3], 0, 30);
        assert_eq!(b.lookup(gw), Some([2, 0, 0, 0, 0, 3]));
        assert!(
            ArpCache::new(4).lookup(gw).is_none(),
            "no board, no sharing"
        );
    }
}
