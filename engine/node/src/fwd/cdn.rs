//! `cdn` mode: the full stack. ARP and ICMP are answered as in `icmpecho`;
//! TCP and UDP addressed to the node go to its services. The TCP engine, the
//! HTTP server, the anycast peer channel and the overlay plug in here as their
//! issues land; until then such segments are counted as `no_service`.

use super::{icmpecho, FwdCtx, StreamMeta};
use crate::stats::{NodeDrop, StreamCounters};
use anyedge_port::TxQueue;

/// Runs the burst through the local stack.
#[inline]
pub fn process<T: TxQueue>(
    ctx: &mut FwdCtx,
    meta: StreamMeta,
    counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    _txq: &mut T,
) {
    for b in rx.drain(..) {
        if let Some(_segment) = icmpecho::handle(ctx, meta.rx_port, counters, b, tx) {
            // No transport service is registered yet.
            counters.drop(NodeDrop::NoService);
        }
    }
}
