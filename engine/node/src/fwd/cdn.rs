//! `cdn` mode: the full stack. ARP and ICMP are answered as in `icmpecho`;
//! TCP segments addressed to the node go to the core's TCP stack (its
//! connection table and services). The HTTP server, the anycast peer channel
//! and the overlay plug in here as their issues land; UDP has no service yet
//! and is counted as `no_service`.

use super::{icmpecho, FwdCtx, StreamMeta};
use crate::stats::{NodeDrop, StreamCounters};
use anyedge_port::{FrameBuf, TxQueue};
use anyedge_tcp::Segment;
use anyedge_wire::{parse_split, ChecksumCaps, L3, L4};
use std::net::SocketAddrV4;

/// Runs the burst through the local stack, then sends what the core's
/// connections have pending on this stream's port.
#[inline]
pub fn process<T: TxQueue>(
    ctx: &mut FwdCtx,
    meta: StreamMeta,
    counters: &StreamCounters,
    rx: &mut Vec<T::Buf>,
    tx: &mut Vec<T::Buf>,
    txq: &mut T,
) {
    for b in rx.drain(..) {
        if let Some(segment) = icmpecho::handle(ctx, meta.rx_port, counters, b, tx) {
            transport(ctx, meta, counters, &segment, tx, txq);
        }
    }
    let FwdCtx {
        addrs,
        arp,
        tcp,
        now,
        burst,
        ..
    } = ctx;
    if let Some(t) = tcp.as_mut() {
        t.drain(*now, meta.tx_port, addrs, arp, counters, tx, txq, *burst);
    }
}

/// A TCP or UDP frame to one of our addresses (already validated by
/// `icmpecho::handle`, so checksums are not verified twice).
fn transport<T: TxQueue>(
    ctx: &mut FwdCtx,
    meta: StreamMeta,
    counters: &StreamCounters,
    frame: &T::Buf,
    tx: &mut Vec<T::Buf>,
    txq: &mut T,
) {
    let verified = ChecksumCaps {
        ipv4_verified: true,
        l4_verified: true,
    };
    let Ok(f) = parse_split(frame.data(), frame.tail_data(), verified) else {
        counters.drop(NodeDrop::NoService);
        return;
    };
    let L3::Ipv4(ip) = f.l3 else {
        counters.drop(NodeDrop::NoService);
        return;
    };
    let t = match ip.l4 {
        L4::Tcp(t) => t,
        L4::Udp(u) => {
            // The site's peer channel (anycast issue); other UDP has no service.
            match ctx.tcp.as_mut() {
                Some(stack)
                    if stack.peer_port() == Some(u.dst_port)
                        || stack.repl_port() == Some(u.dst_port) =>
                {
                    counters.consumed.inc();
                    stack.on_peer_datagram(
                        ctx.now,
                        meta.rx_port,
                        SocketAddrV4::new(ip.src, u.src_port),
                        u.payload,
                    );
                }
                _ => counters.drop(NodeDrop::NoService),
            }
            return;
        }
        _ => {
            counters.drop(NodeDrop::NoService);
            return;
        }
    };
    let seg = match Segment::from_wire(&t) {
        Ok(s) => s,
        Err(r) => {
            counters.drop(r);
            return;
        }
    };
    let FwdCtx {
        addrs,
        arp,
        tcp,
        now,
        burst,
    } = ctx;
    let Some(stack) = tcp.as_mut() else {
        counters.drop(NodeDrop::NoService);
        return;
    };
    stack.on_segment(
        *now,
        addrs,
        arp,
        meta.rx_port,
        f.eth.src,
        SocketAddrV4::new(ip.dst, t.dst_port),
        SocketAddrV4::new(ip.src, t.src_port),
        &seg,
        counters,
        tx,
        txq,
        *burst,
    );
}
