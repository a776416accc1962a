//! The table's part in overlay early data (issue 7; the connection side is
//! in `conn/early.rs`): opening an edge connection with a proposal, and on
//! the gateway deciding whether a SYN's proposal is taken.
//!
//! The TCP core does no cryptography and holds no key: whether a proposal
//! comes from a configured overlay peer is the caller's [`EarlyAuth`] (the
//! node checks an HMAC under the peer key). A refused proposal gives a
//! normal SYN-RECEIVED connection with our own ISN, and the early data that
//! follows it, whose ACK is unacceptable, is dropped and counted rather
//! than answered with a RST.

use super::{ConnId, FourTuple, Table};
use crate::conn::{Conn, Segment};

/// Decides whether an early-data proposal on a SYN is authentic.
pub trait EarlyAuth {
    /// Whether `tag` authenticates the proposal of gateway ISN `isn` on the
    /// SYN with sequence number `syn_seq` (the edge's ISS, so that a tag
    /// does not fit another SYN) for the 4-tuple `t` (our side is
    /// `t.local`).
    fn verify(&self, t: &FourTuple, syn_seq: u32, isn: u32, tag: [u8; 8]) -> bool;
}

/// Refuses every proposal: what a node without an overlay uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEarlyAuth;

impl EarlyAuth for NoEarlyAuth {
    fn verify(&self, _: &FourTuple, _: u32, _: u32, _: [u8; 8]) -> bool {
        false
    }
}

impl<F: Fn(&FourTuple, u32, u32, [u8; 8]) -> bool> EarlyAuth for F {
    fn verify(&self, t: &FourTuple, syn_seq: u32, isn: u32, tag: [u8; 8]) -> bool {
        self(t, syn_seq, isn, tag)
    }
}

impl Table {
    /// Opens an edge connection with early data (see
    /// [`Conn::connect_early`]). `propose` gets our ISS (RFC 6528) and
    /// returns the proposed gateway ISN and its tag, both the caller's (its
    /// seeded randomness and its key).
    pub fn connect_early(
        &mut self,
        now: u64,
        local: std::net::SocketAddrV4,
        remote: std::net::SocketAddrV4,
        propose: impl FnOnce(u32) -> (u32, [u8; 8]),
    ) -> Option<ConnId> {
        let t = FourTuple { local, remote };
        if self.index.contains_key(&t) || self.free.is_empty() {
            return None;
        }
        let iss = self.isn(now, &t);
        let (proposed, tag) = propose(iss);
        let c = Conn::connect_early(self.cfg.conn, local, remote, iss, proposed, tag, now);
        self.insert(t, c, now)
    }

    /// The connection for a SYN that a listener takes: with the proposed
    /// ISN when `auth` verifies the SYN's proposal, else a normal one.
    pub(super) fn accept_syn<A: EarlyAuth + ?Sized>(
        &mut self,
        now: u64,
        t: FourTuple,
        seg: &Segment,
        auth: &A,
    ) -> Conn {
        let cfg = self.cfg.conn;
        match seg.opts.early_data {
            Some(e) if auth.verify(&t, seg.seq, e.isn, e.tag) => {
                self.stats.early_accepted += 1;
                Conn::accept_early(cfg, t.local, t.remote, seg, now)
            }
            Some(e) => {
                self.stats.early_rejected += 1;
                let mut c = Conn::accept(cfg, t.local, t.remote, self.isn(now, &t), seg, now);
                c.mark_early_rejected(e.isn);
                c
            }
            None => Conn::accept(cfg, t.local, t.remote, self.isn(now, &t), seg, now),
        }
    }
}
