//! `macswap` mode: source and destination MAC are swapped and the frame is
//! forwarded (testpmd's macswap engine, the classic loopback benchmark).

use super::{FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::{FrameBuf, TxQueue};

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
    for mut b in rx.drain(..) {
        anyedge_wire::swap_macs(b.data_mut());
        tx.push(b);
    }
}
