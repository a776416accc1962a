//! Recycled connection buffers, one pool per table (so per lcore, without a
//! lock).
//!
//! A connection's send and receive rings take their storage with the first
//! byte (`buffer`); when the connection is freed the table keeps that
//! storage here, within a byte budget, and the next connection of the same
//! buffer sizes gets it instead of a fresh allocation (and, for the receive
//! ring, a fresh zeroing). Under connection churn a core then allocates
//! nothing per connection; an idle core gives nothing back beyond the
//! budget.

use crate::buffer::{RecvBuf, SendBuf};
use crate::conn::Conn;

/// Bytes of buffer storage a table keeps for reuse, at most.
pub const POOL_BYTES: usize = 64 << 20;
/// Buffer pairs kept, at most, whatever their size.
pub const POOL_PAIRS: usize = 256;

/// Spare buffer pairs and how often they were reused.
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    spare: Vec<(SendBuf, RecvBuf)>,
    bytes: usize,
    /// Connections that got recycled buffers.
    pub(crate) reused: u64,
}

fn size(tx: &SendBuf, rx: &RecvBuf) -> usize {
    let t = if tx.has_storage() { tx.capacity() } else { 0 };
    let r = if rx.has_storage() { rx.capacity() } else { 0 };
    t + r
}

impl BufPool {
    /// Gives a new connection a spare pair of its sizes, if there is one.
    pub(crate) fn lend(&mut self, c: &mut Conn) {
        let Some(i) = self.spare.iter().rposition(|(t, r)| c.takes_buffers(t, r)) else {
            return;
        };
        let (mut tx, mut rx) = self.spare.swap_remove(i);
        self.bytes -= size(&tx, &rx);
        tx.recycle();
        rx.recycle();
        c.swap_buffers(&mut tx, &mut rx);
        self.reused += 1;
    }

    /// Takes a freed connection's buffers back, if they hold storage and
    /// the budget has room; otherwise they are dropped with it.
    pub(crate) fn reclaim(&mut self, c: &mut Conn) {
        let (mut tx, mut rx) = c.fresh_buffers();
        c.swap_buffers(&mut tx, &mut rx);
        let n = size(&tx, &rx);
        if n > 0 && self.spare.len() < POOL_PAIRS && self.bytes + n <= POOL_BYTES {
            self.bytes += n;
            self.spare.push((tx, rx));
        }
    }

    /// Spare pairs held.
    pub(crate) fn len(&self) -> usize {
        self.spare.len()
    }
}
