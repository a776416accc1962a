//! Drop reasons and the per-stream and per-lcore counters.
//!
//! Every frame a core receives ends in exactly one of: forwarded or answered,
//! consumed (it updated state, such as an ARP reply), or dropped with a reason.
//! The reasons are the wire parser's ([`anyedge_wire::DropReason`]) followed by
//! the node's own ([`NodeDrop`]); `show drops` lists them all by name.

use anyedge_port::Counter;
use anyedge_wire::DropReason;
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter every core of a node may write: the node-wide counters of the
/// anycast site and the overlay (`show anycast`, `show overlay`). Unlike
/// [`Counter`] (one writer, a plain load and store), an increment is an
/// atomic add, so that two cores counting at once lose nothing. These
/// counters count events (a fetch, a takeover, a record), not frames.
#[derive(Debug, Default)]
pub struct SharedCounter(AtomicU64);

impl SharedCounter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Reads the current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Drop reasons decided by the node, after a frame parsed cleanly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeDrop {
    /// Destination MAC is neither ours nor broadcast.
    NotForUs,
    /// IPv4 destination is neither a port address nor a VIP.
    NotOurIp,
    /// ARP that asks for, or announces, an address that is not ours.
    ArpIgnored,
    /// ICMP other than an echo request to us.
    IcmpIgnored,
    /// TCP or UDP to us for which no service listens.
    NoService,
    /// The transmit queue refused the frame.
    TxFull,
    /// No buffer was free to build a frame.
    NoBuffer,
    /// A TCP segment the table dropped: a RST without a connection, a reset
    /// held back by the rate limit, or a SYN refused by a full table.
    TcpRefused,
}

impl NodeDrop {
    /// Every node reason, in counter order.
    pub const ALL: [NodeDrop; 8] = [
        NodeDrop::NotForUs,
        NodeDrop::NotOurIp,
        NodeDrop::ArpIgnored,
        NodeDrop::IcmpIgnored,
        NodeDrop::NoService,
        NodeDrop::TxFull,
        NodeDrop::NoBuffer,
        NodeDrop::TcpRefused,
    ];

    /// Name used in `show drops` and its JSON.
    pub fn name(self) -> &'static str {
        match self {
            NodeDrop::NotForUs => "not_for_us",
            NodeDrop::NotOurIp => "not_our_ip",
            NodeDrop::ArpIgnored => "arp_ignored",
            NodeDrop::IcmpIgnored => "icmp_ignored",
            NodeDrop::NoService => "no_service",
            NodeDrop::TxFull => "tx_full",
            NodeDrop::NoBuffer => "no_buffer",
            NodeDrop::TcpRefused => "tcp_refused",
        }
    }
}

/// Any drop reason: from the parser or from the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The frame failed validation.
    Wire(DropReason),
    /// The node had no use for the frame.
    Node(NodeDrop),
}

/// Number of distinct reasons.
pub const N_REASONS: usize = DropReason::COUNT + NodeDrop::ALL.len();

impl Reason {
    /// Position in a counter array.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Reason::Wire(r) => r.index(),
            Reason::Node(n) => DropReason::COUNT + n as usize,
        }
    }

    /// Name used in `show drops`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Wire(r) => r.name(),
            Reason::Node(n) => n.name(),
        }
    }

    /// Every reason in counter order.
    pub fn all() -> impl Iterator<Item = Reason> {
        DropReason::ALL
            .into_iter()
            .map(Reason::Wire)
            .chain(NodeDrop::ALL.into_iter().map(Reason::Node))
    }
}

impl From<DropReason> for Reason {
    fn from(r: DropReason) -> Self {
        Reason::Wire(r)
    }
}

impl From<NodeDrop> for Reason {
    fn from(r: NodeDrop) -> Self {
        Reason::Node(r)
    }
}

/// Counters of one forwarding stream (one receive queue), written by the core
/// that owns the stream.
#[derive(Debug)]
pub struct StreamCounters {
    /// Frames received.
    pub rx: Counter,
    /// Frames sent on (forwarded, answered or generated).
    pub tx: Counter,
    /// Frames answered by the node itself (ARP, ICMP).
    pub answered: Counter,
    /// Frames used without an answer (ARP replies learned).
    pub consumed: Counter,
    /// Drops by reason.
    pub drops: [Counter; N_REASONS],
}

impl Default for StreamCounters {
    fn default() -> Self {
        StreamCounters {
            rx: Counter::default(),
            tx: Counter::default(),
            answered: Counter::default(),
            consumed: Counter::default(),
            drops: std::array::from_fn(|_| Counter::default()),
        }
    }
}

impl StreamCounters {
    /// Counts one drop.
    #[inline]
    pub fn drop(&self, r: impl Into<Reason>) {
        self.drops[r.into().index()].inc();
    }

    /// Counts `n` drops of one reason.
    #[inline]
    pub fn drop_n(&self, r: impl Into<Reason>, n: u64) {
        if n > 0 {
            self.drops[r.into().index()].add(n);
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StreamStats {
        StreamStats {
            rx: self.rx.get(),
            tx: self.tx.get(),
            answered: self.answered.get(),
            consumed: self.consumed.get(),
            drops: std::array::from_fn(|i| self.drops[i].get()),
        }
    }
}

/// A snapshot of [`StreamCounters`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames received.
    pub rx: u64,
    /// Frames sent.
    pub tx: u64,
    /// Frames answered.
    pub answered: u64,
    /// Frames consumed.
    pub consumed: u64,
    /// Drops by reason index.
    pub drops: [u64; N_REASONS],
}

impl Default for StreamStats {
    fn default() -> Self {
        StreamStats {
            rx: 0,
            tx: 0,
            answered: 0,
            consumed: 0,
            drops: [0; N_REASONS],
        }
    }
}

impl StreamStats {
    /// Field-wise sum.
    pub fn plus(&self, o: &StreamStats) -> StreamStats {
        StreamStats {
            rx: self.rx + o.rx,
            tx: self.tx + o.tx,
            answered: self.answered + o.answered,
            consumed: self.consumed + o.consumed,
            drops: std::array::from_fn(|i| self.drops[i] + o.drops[i]),
        }
    }

    /// Field-wise difference (for `clear` baselines).
    pub fn minus(&self, o: &StreamStats) -> StreamStats {
        StreamStats {
            rx: self.rx.saturating_sub(o.rx),
            tx: self.tx.saturating_sub(o.tx),
            answered: self.answered.saturating_sub(o.answered),
            consumed: self.consumed.saturating_sub(o.consumed),
            drops: std::array::from_fn(|i| self.drops[i].saturating_sub(o.drops[i])),
        }
    }

    /// Sum of all drops.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Counters of one polling core.
#[derive(Debug, Default)]
pub struct LcoreCounters {
    /// Time spent in polls that moved at least one frame, in nanoseconds.
    pub busy_ns: Counter,
    /// Time spent in polls that found nothing, in nanoseconds.
    pub idle_ns: Counter,
    /// Poll passes over the core's streams.
    pub polls: Counter,
    /// Control messages drained between bursts.
    pub ctl_msgs: Counter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_counter_loses_nothing_to_concurrent_writers() {
        let c = std::sync::Arc::new(SharedCounter::default());
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..100_000).for_each(|_| c.inc()))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(c.get(), 400_000);
    }

    #[test]
    fn reasons_have_unique_names_and_indices() {
        let all: Vec<Reason> = Reason::all().collect();
        assert_eq!(all.len(), N_REASONS);
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = all.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), N_REASONS);
    }

    #[test]
    fn stream_counters_count_by_reason() {
        let c = StreamCounters::default();
        c.drop(NodeDrop::TxFull);
        c.drop(DropReason::BadIhl);
        c.drop_n(NodeDrop::TxFull, 2);
        let s = c.snapshot();
        assert_eq!(s.drops[Reason::Node(NodeDrop::TxFull).index()], 3);
        assert_eq!(s.drops[DropReason::BadIhl.index()], 1);
        assert_eq!(s.dropped(), 4);
        assert_eq!(s.minus(&s).dropped(), 0);
    }
}
