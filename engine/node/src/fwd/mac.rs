//! `mac` mode: the source MAC becomes the transmitting port's and the
//! destination its configured peer's (testpmd's mac engine and `--eth-peer`).

use super::{FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::{FrameBuf, TxQueue};

/// Rewrites both MACs of each frame and forwards it.
#[inline]
pub fn process<T: TxQueue>(
    ctx: &mut FwdCtx,
    meta: StreamMeta,
    _counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    _txq: &mut T,
) {
    let p = ctx.addrs.ports.get(meta.tx_port as usize);
    let (src, dst) = p.map(|p| (p.mac, p.eth_peer)).unwrap_or_default();
    for mut b in rx.drain(..) {
        anyedge_wire::set_macs(b.data_mut(), dst, src);
        tx.push(b);
    }
}
