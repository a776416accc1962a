//! `io` mode: frames go out unchanged on the paired port (testpmd's io engine).

use super::{FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::TxQueue;

/// Moves the received burst to the transmit burst. No byte is touched.
#[inline]
pub fn process<T: TxQueue>(
    _ctx: &mut FwdCtx,
    _meta: StreamMeta,
    _counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    _txq: &mut T,
) {
    tx.append(rx);
}
