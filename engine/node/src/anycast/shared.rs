//! The anycast state a node's cores share: the path-metrics table, the
//! peer-channel settings, and the counters of `show anycast`.
//!
//! The table is behind a mutex. It is touched when a connection resumes or
//! closes, once a second per serving connection, and when a peer message
//! arrives — never per packet — so the lock stays off the fast path.

use super::metrics::{PathEntry, PathTable};
use super::peer::{self, Body, Message, Refused, WireEntry};
use crate::config::{NodeConfig, ResumePolicy};
// Written by every core of the node (DESIGN.md section 2: shared state).
use crate::stats::SharedCounter as Counter;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Mutex;

/// Counters of `show anycast`.
#[derive(Debug, Default)]
pub struct AnycastCounters {
    /// Resumes started with the careful policy.
    pub resumes_careful: Counter,
    /// Resumes started with the jump policy.
    pub resumes_jump: Counter,
    /// Range requests that found no usable entry.
    pub resumes_no_entry: Counter,
    /// Resumes whose window jumped.
    pub jumped: Counter,
    /// Jumps validated without loss.
    pub validated: Counter,
    /// Careful resumes refused because the RTT did not match.
    pub rtt_mismatch: Counter,
    /// Safe retreats (entry deleted).
    pub retreats: Counter,
    /// Peer messages sent.
    pub peer_tx: Counter,
    /// Peer messages accepted.
    pub peer_rx: Counter,
    /// Peer messages from addresses that are not configured peers.
    pub peer_unknown: Counter,
    /// Malformed peer messages.
    pub peer_malformed: Counter,
    /// Peer messages of another version.
    pub peer_version: Counter,
    /// Peer messages outside the time window.
    pub peer_stale: Counter,
    /// Peer messages with a bad HMAC.
    pub peer_forged: Counter,
    /// Entries learned from peers.
    pub entries_learned: Counter,
    /// "I reset this connection" notices sent.
    pub notices_sent: Counter,
    /// Notices received.
    pub notices_received: Counter,
    /// Connections terminated because a peer reset their client.
    pub terminated_by_notice: Counter,
    /// Peer messages not sent because the next hop's MAC was unknown.
    pub peer_no_arp: Counter,
}

/// What a peer datagram asks of the core that received it.
#[derive(Debug)]
pub enum PeerEvent {
    /// The peer reset this client's connection: terminate ours.
    Reset {
        /// Client address and port.
        client: SocketAddrV4,
        /// The VIP side.
        vip: SocketAddrV4,
    },
    /// A replication message (`overlay::repl`), authenticated.
    Repl(Vec<u8>),
}

/// The node-wide anycast state.
#[derive(Debug)]
pub struct AnycastShared {
    /// This node's name (sender of its messages).
    pub name: String,
    /// Configured peers.
    pub peers: Vec<SocketAddrV4>,
    /// Peer channel port.
    pub listen: u16,
    /// Resume policy.
    pub resume: ResumePolicy,
    key: Vec<u8>,
    /// The key ready for HMAC (`peer::mac`), copied for each message.
    keyed: hmac::Hmac<sha2::Sha256>,
    /// The table.
    pub table: Mutex<PathTable>,
    /// Counters.
    pub counters: AnycastCounters,
}

impl AnycastShared {
    /// The state for a node, or `None` when it has no VIPs.
    pub fn new(cfg: &NodeConfig) -> Option<AnycastShared> {
        let a = &cfg.anycast;
        if a.vips.is_empty() {
            return None;
        }
        Some(AnycastShared {
            name: cfg.name.clone(),
            peers: a.peers.clone(),
            listen: a.listen,
            resume: a.resume,
            key: a.key.clone().unwrap_or_default().into_bytes(),
            keyed: peer::mac(a.key.as_deref().unwrap_or_default().as_bytes()),
            table: Mutex::new(PathTable::new(a.entries, a.prefix, a.entry_lifetime_ns)),
            counters: AnycastCounters::default(),
        })
    }

    /// Whether the peer channel can run (a key and peers are configured).
    pub fn channel(&self) -> bool {
        !self.key.is_empty() && !self.peers.is_empty()
    }

    /// Records a measurement of our own and returns the signed update for
    /// the peers (empty when there is no channel).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        now: u64,
        unix_ms: u64,
        client: Ipv4Addr,
        cwnd: usize,
        min_rtt_ns: u64,
        srtt_ns: u64,
        out: &mut Vec<u8>,
    ) {
        let e = PathEntry {
            cwnd: cwnd.min(u32::MAX as usize) as u32,
            min_rtt_us: (min_rtt_ns / 1000).min(u64::from(u32::MAX)) as u32,
            srtt_us: (srtt_ns / 1000).min(u64::from(u32::MAX)) as u32,
            updated: now,
            from: self.name.clone(),
            in_use: false,
        };
        let w = WireEntry {
            client,
            cwnd: e.cwnd,
            min_rtt_us: e.min_rtt_us,
            srtt_us: e.srtt_us,
        };
        if let Ok(mut t) = self.table.lock() {
            t.record(client, e);
        }
        out.clear();
        if self.channel() {
            let m = Message {
                from: self.name.clone(),
                unix_ms,
                body: Body::Metrics(vec![w]),
            };
            peer::encode_with(&self.keyed, &m, out);
        }
    }

    /// A signed "I reset this connection" notice (empty without a channel).
    pub fn reset_notice(
        &self,
        unix_ms: u64,
        client: SocketAddrV4,
        vip: SocketAddrV4,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        if self.channel() {
            let m = Message {
                from: self.name.clone(),
                unix_ms,
                body: Body::Reset { client, vip },
            };
            peer::encode_with(&self.keyed, &m, out);
            self.counters.notices_sent.inc();
        }
    }

    /// A signed replication message for a peer (empty without a channel).
    pub fn repl_message(&self, unix_ms: u64, body: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.channel() {
            peer::encode_repl_with(&self.keyed, &self.name, unix_ms, body, out);
        }
    }

    /// Handles a datagram from `src`; returns what the caller acts on (a
    /// reset notice's 4-tuple, or a replication message). Refusals are
    /// counted by reason.
    pub fn on_datagram(
        &self,
        now: u64,
        unix_ms: u64,
        src: Ipv4Addr,
        data: &[u8],
    ) -> Option<PeerEvent> {
        let c = &self.counters;
        if !self.peers.iter().any(|p| *p.ip() == src) || self.key.is_empty() {
            c.peer_unknown.inc();
            return None;
        }
        let m = match peer::decode_with(&self.keyed, data, unix_ms) {
            Ok(m) => m,
            Err(r) => {
                match r {
                    Refused::Malformed => c.peer_malformed.inc(),
                    Refused::Version => c.peer_version.inc(),
                    Refused::Stale => c.peer_stale.inc(),
                    Refused::Forged => c.peer_forged.inc(),
                }
                return None;
            }
        };
        c.peer_rx.inc();
        match m.body {
            Body::Metrics(es) => {
                if let Ok(mut t) = self.table.lock() {
                    for e in es {
                        c.entries_learned.inc();
                        t.record(
                            e.client,
                            PathEntry {
                                cwnd: e.cwnd,
                                min_rtt_us: e.min_rtt_us,
                                srtt_us: e.srtt_us,
                                updated: now,
                                from: m.from.clone(),
                                in_use: false,
                            },
                        );
                    }
                }
                None
            }
            Body::Reset { client, vip } => {
                c.notices_received.inc();
                Some(PeerEvent::Reset { client, vip })
            }
            Body::Repl(b) => Some(PeerEvent::Repl(b)),
        }
    }
}
