//! `icmpecho` mode: the node answers ARP (RFC 826) and ICMP echo (RFC 792) for
//! its port addresses and every anycast VIP, in place in the received buffer,
//! and drops everything else by reason. The `cdn` mode builds on [`handle`].

use super::{frame_from, FwdCtx, StreamMeta};
use crate::stats::{NodeDrop, StreamCounters};
use anyedge_port::{FrameBuf, TxQueue};
use anyedge_wire::{parse_split, Arp, ARP_REPLY, ARP_REQUEST, ICMP_ECHO_REQUEST, L3, L4};
use std::net::Ipv4Addr;

/// The Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// What the node does with one frame, decided while the frame is borrowed.
enum Action {
    Drop(crate::stats::Reason),
    ArpReply(anyedge_wire::EthInfo),
    Consumed,
    EchoReply(anyedge_wire::EthInfo),
    /// TCP or UDP to one of our addresses: for the caller.
    Service,
}

/// Handles one frame addressed to `port`: answers ARP and echo requests into
/// `tx`, counts drops, and gives back TCP/UDP frames addressed to us (the
/// caller's services take them).
#[inline]
pub fn handle<B: FrameBuf>(
    ctx: &mut FwdCtx,
    port: u16,
    counters: &StreamCounters,
    mut buf: B,
    tx: &mut Vec<B>,
) -> Option<B> {
    let Some(view) = ctx.addrs.ports.get(port as usize).copied() else {
        counters.drop(NodeDrop::NotForUs);
        return None;
    };
    let action = decide(ctx, port, view.mac, view.caps, buf.data(), buf.tail_data());
    match action {
        Action::Drop(r) => counters.drop(r),
        Action::Consumed => counters.consumed.inc(),
        Action::ArpReply(eth) => {
            let len = anyedge_wire::arp_reply_in_place(buf.data_mut(), &eth, view.mac);
            buf.set_len(len);
            counters.answered.inc();
            tx.push(buf);
        }
        Action::EchoReply(eth) => {
            let len = anyedge_wire::icmp_echo_reply_in_place(buf.data_mut(), &eth, view.mac);
            buf.set_len(len);
            counters.answered.inc();
            tx.push(buf);
        }
        Action::Service => return Some(buf),
    }
    None
}

fn decide(
    ctx: &mut FwdCtx,
    port: u16,
    mac: [u8; 6],
    caps: anyedge_wire::ChecksumCaps,
    data: &[u8],
    tail: &[u8],
) -> Action {
    // L2 filter first, as a NIC would: only our unicast MAC and broadcast.
    match data.get(..6) {
        None => return Action::Drop(anyedge_wire::DropReason::Truncated.into()),
        Some(dst) if dst != mac && dst != BROADCAST => {
            return Action::Drop(NodeDrop::NotForUs.into())
        }
        Some(_) => {}
    }
    let frame = match parse_split(data, tail, caps) {
        Ok(f) => f,
        Err(r) => return Action::Drop(r.into()),
    };
    match frame.l3 {
        L3::Arp(a) => arp(ctx, port, frame.eth, &a),
        L3::Ipv4(ip) => {
            if !ctx.addrs.is_local(port, ip.dst) {
                return Action::Drop(NodeDrop::NotOurIp.into());
            }
            match ip.l4 {
                L4::Icmp(i) if i.icmp_type == ICMP_ECHO_REQUEST && i.code == 0 => {
                    Action::EchoReply(frame.eth)
                }
                L4::Icmp(_) => Action::Drop(NodeDrop::IcmpIgnored.into()),
                L4::Tcp(_) | L4::Udp(_) => Action::Service,
                L4::Other { .. } => Action::Drop(NodeDrop::NoService.into()),
            }
        }
    }
}

/// RFC 826 packet reception: merge the sender into the cache if known; if the
/// target is us, add it, and answer a request.
fn arp(ctx: &mut FwdCtx, port: u16, eth: anyedge_wire::EthInfo, a: &Arp) -> Action {
    let ours = ctx.addrs.is_local(port, a.tpa);
    if !ours {
        ctx.arp.refresh(a.spa, a.sha, port, ctx.now);
        return Action::Drop(NodeDrop::ArpIgnored.into());
    }
    ctx.arp.learn(a.spa, a.sha, port, ctx.now);
    match a.op {
        ARP_REQUEST => Action::ArpReply(eth),
        ARP_REPLY => Action::Consumed,
        _ => Action::Drop(anyedge_wire::DropReason::BadArp.into()),
    }
}

/// Builds gratuitous ARP requests (RFC 5227 section 3: sender and target
/// address both ours) for the port address and every VIP, so that neighbours
/// learn the engine's MAC at start.
pub fn gratuitous_arp<T: TxQueue>(
    ctx: &FwdCtx,
    port: u16,
    counters: &StreamCounters,
    txq: &mut T,
    tx: &mut Vec<T::Buf>,
) {
    let Some(view) = ctx.addrs.ports.get(port as usize) else {
        return;
    };
    let own: Option<Ipv4Addr> = view.net.map(|n| n.addr);
    for ip in own.iter().chain(ctx.addrs.vips.iter()) {
        let arp = Arp {
            op: ARP_REQUEST,
            sha: view.mac,
            spa: *ip,
            tha: [0; 6],
            tpa: *ip,
        };
        if let Some(b) = frame_from(txq, counters, |buf| {
            anyedge_wire::emit_arp(buf, BROADCAST, None, &arp)
        }) {
            tx.push(b);
        }
    }
}

/// Answers what can be answered; TCP and UDP to us have no service in this mode.
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
        if handle(ctx, meta.rx_port, counters, b, tx).is_some() {
            counters.drop(NodeDrop::NoService);
        }
    }
}
