//! `macswap` mode: source and destination MAC are swapped and the frame is
//! forwarded (testpmd's macswap engine, the classic loopback benchmark).

use super::{FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::{FrameBuf, TxQueue};

/// How many frames ahead of the swap their first line is fetched.
const PREFETCH: usize = 1;

/// Swaps the MACs of each frame and forwards it.
#[inline]
pub fn process<T: TxQueue>(
    _ctx: &mut FwdCtx,
    _meta: StreamMeta,
    _counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    _txq: &mut T,
) {
    // Each frame's header line is fetched PREFETCH frames before it is
    // swapped, as in testpmd's macswap: the frames come cold from the pool,
    // and a miss per frame in turn was the mode's main cost. (Four ahead and
    // the whole burst ahead measured no better on net_null.)
    for b in rx.iter().take(PREFETCH) {
        b.prefetch();
    }
    for i in 0..rx.len() {
        if let Some(ahead) = rx.get(i + PREFETCH) {
            ahead.prefetch();
        }
        anyedge_wire::swap_macs(rx[i].data_mut());
    }
    if tx.is_empty() {
        // The burst becomes the transmit burst without moving a pointer.
        std::mem::swap(rx, tx);
    } else {
        tx.append(rx);
    }
}
