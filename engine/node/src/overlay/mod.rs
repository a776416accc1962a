//! The split-TCP overlay (edge -> gateway -> origin), issue 7.
//!
//! A client's one TCP connection to an origin becomes three, each with its
//! own congestion control and loss recovery:
//! - **edge**: serves hits from its cache; a miss goes to the gateway over a
//!   pooled edge-gateway connection, and the answer fills the cache before
//!   the client's request is answered from it ([`fetch`]);
//! - **gateway**: relays each edge connection to the origin over its own
//!   active open, byte for byte in both directions ([`stack`]); an origin
//!   that refuses, resets or does not answer becomes a 502 or 504 for the
//!   edge, so nothing hangs.
//!
//! Connections are opened from the core that needs them and live in its
//! table like any other; the counters here are the node's, summed by
//! `show overlay`.

pub mod early;
pub mod fetch;
pub mod handoff;
pub mod heads;
pub(crate) mod refill;
pub mod repl;
pub(crate) mod repl_stack;
pub mod stack;

use crate::config::{Overlay, OverlayRole};
// Written by every core of the node (DESIGN.md section 2: shared state).
use crate::stats::SharedCounter as Counter;
use std::net::SocketAddrV4;

/// How long an upstream connection (edge -> gateway, gateway -> origin) may
/// take to open before the request fails with 504.
pub const CONNECT_TIMEOUT_NS: u64 = 5_000_000_000;
/// How long an edge waits for the gateway's complete answer.
pub const FETCH_TIMEOUT_NS: u64 = 60_000_000_000;
/// Idle edge-gateway connections kept per core for reuse.
pub const POOL_MAX: usize = 64;

/// Why an overlay request failed; each is counted and becomes the status
/// the client sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The next hop refused the connection (RST to the SYN): 502.
    Refused,
    /// The connection was reset mid-answer: 502.
    Reset,
    /// No connection or no complete answer in time: 504.
    Timeout,
    /// The answer was not HTTP/1.1 we can cache (malformed, chunked,
    /// larger than the cache): 502.
    BadResponse,
    /// The origin answered 5xx: passed on as 502.
    Upstream5xx,
}

impl Failure {
    /// The status the client gets (RFC 9110 15.6.3 502, 15.6.5 504).
    pub fn status(self) -> u16 {
        match self {
            Failure::Timeout => 504,
            _ => 502,
        }
    }
}

/// Overlay counters of a node (all cores).
#[derive(Debug, Default)]
pub struct OverlayCounters {
    /// Edge: misses sent to the gateway.
    pub fetches: Counter,
    /// Edge: objects filled into the cache from the gateway.
    pub fills: Counter,
    /// Edge: body bytes filled.
    pub fill_bytes: Counter,
    /// Edge: fetches answered 404 by the origin.
    pub not_found: Counter,
    /// Edge: fetches that reused a pooled gateway connection.
    pub pool_reuse: Counter,
    /// Edge: gateway connections opened.
    pub upstream_opened: Counter,
    /// Edge: requests sent again because a pooled connection closed under them.
    pub pool_retry: Counter,
    /// Edge: gateway connections opened with early data.
    pub early_opened: Counter,
    /// Edge: ... whose proposal the gateway took (the request saved a round trip).
    pub early_accepted: Counter,
    /// Edge: ... answered by a normal SYN/ACK (a gateway without the scheme or the key).
    pub early_fallback: Counter,
    /// Edge: ... refused with a RST; early data stays off on this core.
    pub early_refused: Counter,
    /// Gateway: edge connections relayed.
    pub relays: Counter,
    /// Gateway: bytes relayed toward the edge.
    pub relayed_down: Counter,
    /// Gateway: bytes relayed toward the origin.
    pub relayed_up: Counter,
    /// Failures by reason (both roles).
    pub refused: Counter,
    /// See [`Failure::Reset`].
    pub reset: Counter,
    /// See [`Failure::Timeout`].
    pub timeout: Counter,
    /// See [`Failure::BadResponse`].
    pub bad_response: Counter,
    /// See [`Failure::Upstream5xx`].
    pub upstream_5xx: Counter,
}

impl OverlayCounters {
    /// Counts a failure by reason.
    pub fn fail(&self, f: Failure) {
        match f {
            Failure::Refused => self.refused.inc(),
            Failure::Reset => self.reset.inc(),
            Failure::Timeout => self.timeout.inc(),
            Failure::BadResponse => self.bad_response.inc(),
            Failure::Upstream5xx => self.upstream_5xx.inc(),
        }
    }
}

/// What every core of a node shares about the overlay.
#[derive(Debug)]
pub struct OverlayShared {
    /// Role and addresses from `[overlay]`.
    pub cfg: Overlay,
    /// Counters.
    pub counters: OverlayCounters,
    /// The site key (`[anycast] key`) that authenticates early data.
    pub key: Option<Vec<u8>>,
    /// Replicated client connections, as primary and as backup ([`repl`]).
    pub repl: repl::ReplShared,
}

impl OverlayShared {
    /// The overlay of a node of `cores` polling cores, if `[overlay]` is
    /// configured.
    pub fn new(cfg: &crate::NodeConfig, cores: usize) -> Option<OverlayShared> {
        cfg.overlay.clone().map(|o| OverlayShared {
            key: o
                .early_data
                .then(|| cfg.anycast.key.clone().map(String::into_bytes))
                .flatten(),
            repl: repl::ReplShared::new(o.backup, cores).with_standby_max(o.standby_max),
            cfg: o,
            counters: OverlayCounters::default(),
        })
    }

    /// Edge: where misses go.
    pub fn gateway(&self) -> Option<SocketAddrV4> {
        (self.cfg.role == OverlayRole::Edge)
            .then_some(self.cfg.gateway)
            .flatten()
    }

    /// Edge: the key that signs early-data proposals, if early data is on.
    pub fn early_edge(&self) -> Option<&[u8]> {
        (self.cfg.role == OverlayRole::Edge)
            .then_some(self.key.as_deref())
            .flatten()
    }

    /// Gateway: the key that verifies proposals, and the port they apply to.
    pub fn early_gateway(&self) -> Option<(&[u8], u16)> {
        (self.cfg.role == OverlayRole::Gateway)
            .then(|| self.key.as_deref().map(|k| (k, self.cfg.listen)))
            .flatten()
    }

    /// Gateway: the origin, and the port it listens on for edges.
    pub fn origin(&self) -> Option<(SocketAddrV4, u16)> {
        (self.cfg.role == OverlayRole::Gateway)
            .then(|| self.cfg.origin.map(|o| (o, self.cfg.listen)))
            .flatten()
    }
}
