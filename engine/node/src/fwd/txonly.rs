//! `txonly` mode: every poll sends a burst of 64-byte UDP frames (60 bytes plus
//! the FCS) from 198.18.0.1 to 198.18.0.2 (RFC 2544's benchmarking range, as
//! testpmd's txonly engine does); received frames are freed.

use super::{frame_from, FwdCtx, StreamMeta};
use crate::stats::StreamCounters;
use anyedge_port::TxQueue;
use std::net::Ipv4Addr;

/// Source address of generated frames.
pub const SRC_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Destination address of generated frames.
pub const DST_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// UDP payload length that makes a 60-byte frame (14 + 20 + 8 + 18).
const PAYLOAD: [u8; 18] = [0; 18];

/// Frees the received burst and fills the transmit burst up to `burst`.
#[inline]
pub fn process<T: TxQueue>(
    ctx: &mut FwdCtx,
    meta: StreamMeta,
    counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    txq: &mut T,
    burst: usize,
) {
    counters.consumed.add(rx.len() as u64);
    rx.clear();
    let p = ctx.addrs.ports.get(meta.tx_port as usize);
    let (src, dst) = p.map(|p| (p.mac, p.eth_peer)).unwrap_or_default();
    while tx.len() < burst {
        let Some(b) = frame_from(txq, counters, |buf| {
            anyedge_wire::emit_udp(buf, dst, src, None, SRC_IP, DST_IP, 64, 9, 9, &PAYLOAD)
        }) else {
            break;
        };
        tx.push(b);
    }
}
