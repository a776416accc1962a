//! Handing replication messages to the core that owns the connection.
//!
//! A node's cores share nothing on the fast path (DESIGN.md section 2): each
//! owns the connections whose frames its receive queue gets. The replication
//! channel, though, is one UDP flow per peer pair, and which core receives a
//! datagram of it is up to the port (RSS, or the TAP driver's flow steering,
//! which follows the core that last sent on the flow). When the datagram
//! confirms a record ([`Handoff::Ack`]), reports a takeover
//! ([`Handoff::Taken`]) or refuses a record ([`Handoff::Refused`]) for a
//! connection another core owns, the receiving
//! core hands the message to the others through bounded lock-free queues,
//! one per core, which each core drains once per poll. Only the owner finds
//! the connection; the others drop the message. A full queue loses the
//! message, counted: the primary resends an unconfirmed record every
//! `RETRY_NS`, so a lost confirmation only delays the output commit.
//!
//! With one core there is nobody to hand to, and nothing is queued.

use super::repl::Tuple;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages waiting per core; a poll drains them all.
const QUEUE: usize = 4096;

/// A replication message for a connection of another core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// The backup confirmed the connection's records up to this version.
    Ack(Tuple, u32),
    /// The backup took the connection over: forget it without a RST.
    Taken(Tuple),
    /// The backup cannot hold the connection: serve it unreplicated.
    Refused(Tuple),
}

/// The per-core queues of one node.
#[derive(Debug)]
pub struct Handoffs {
    queues: Vec<ArrayQueue<Handoff>>,
    /// Messages handed to other cores (one per message, however many
    /// cores it went to).
    pub handed: AtomicU64,
    /// Copies lost to a full queue.
    pub lost: AtomicU64,
}

impl Handoffs {
    /// Queues for `cores` cores (at least one).
    pub fn new(cores: usize) -> Handoffs {
        Handoffs {
            queues: (0..cores.max(1)).map(|_| ArrayQueue::new(QUEUE)).collect(),
            handed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    /// Whether the node has other cores to hand to.
    #[inline]
    pub fn shared(&self) -> bool {
        self.queues.len() > 1
    }

    /// Gives `m` to every core but `from`, which did not find the
    /// connection. Returns false when there is no other core.
    pub fn hand(&self, from: usize, m: Handoff) -> bool {
        if !self.shared() {
            return false;
        }
        for (i, q) in self.queues.iter().enumerate() {
            if i != from && q.push(m).is_err() {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.handed.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The next message handed to `core`, if any.
    #[inline]
    pub fn take(&self, core: usize) -> Option<Handoff> {
        self.queues.get(core)?.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(port: u16) -> Tuple {
        (
            format!("10.0.1.2:{port}").parse().unwrap(),
            "203.0.113.10:80".parse().unwrap(),
        )
    }

    #[test]
    fn a_message_reaches_every_other_core_once() {
        let h = Handoffs::new(3);
        assert!(h.hand(1, Handoff::Ack(t(1000), 7)));
        assert_eq!(h.take(0), Some(Handoff::Ack(t(1000), 7)));
        assert_eq!(h.take(2), Some(Handoff::Ack(t(1000), 7)));
        assert_eq!(h.take(1), None, "not back to the sender");
        assert_eq!((h.take(0), h.take(2)), (None, None));
        assert_eq!(h.handed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn one_core_hands_nothing() {
        let h = Handoffs::new(1);
        assert!(!h.hand(0, Handoff::Taken(t(1))));
        assert_eq!(h.take(0), None);
        assert_eq!(h.handed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_queue_loses_counted_never_blocks() {
        let h = Handoffs::new(2);
        for i in 0..QUEUE + 5 {
            h.hand(0, Handoff::Ack(t(1), i as u32));
        }
        assert_eq!(h.lost.load(Ordering::Relaxed), 5);
        let mut n = 0;
        while h.take(1).is_some() {
            n += 1;
        }
        assert_eq!(n, QUEUE);
    }
}
