//! `rxonly` mode: frames are received, counted as consumed and freed
//! (testpmd's rxonly engine, for measuring the receive path alone).

use super::{FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::TxQueue;

/// Frees the burst.
#[inline]
pub fn process<T: TxQueue>(
    _ctx: &mut FwdCtx,
    _meta: StreamMeta,
    counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    _tx: &mut Vec<T::Buf>,
    _txq: &mut T,
) {
    counters.consumed.add(rx.len() as u64);
    rx.clear();
}
