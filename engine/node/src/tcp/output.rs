//! Connection output into frames: segments (copied or zero-copy), the
//! deferred no-connection RSTs and the peer-channel datagrams of a core.

use super::*;
use anyedge_port::FrameBuf;

/// Ethernet header length of the frames the node sends (no VLAN tag), for
/// the port's checksum offload.
const ETH_HEADER_LEN: u8 = 14;

/// IPv4 header length of the frames the node sends (no options).
const IPV4_HEADER_LEN: u16 = 20;

/// Interval between ARP requests for an unresolved next hop (RFC 1122
/// 2.3.2.1 asks for at most one per second).
const ARP_RETRY_NS: u64 = 1_000_000_000;

impl TcpStack {
    /// Sends the RSTs the table deferred under its rate limit
    /// ([`anyedge_tcp::table::Table::poll_deferred_rst`]), as the limit
    /// allows, to clients reachable from `port`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn deferred_rsts<T: TxQueue>(
        &mut self,
        now: u64,
        port: u16,
        addrs: &Addrs,
        arp: &ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
    ) {
        let Some(view) = addrs.ports.get(port as usize) else {
            return;
        };
        while let Some((t, h)) = self.table.poll_deferred_rst(now) {
            let ends = (*t.local.ip(), *t.remote.ip());
            if let Some(b) = bare_tcp_frame(txq, counters, view, arp, ends, &h) {
                self.table.deferred_rst_sent(&h);
                tx.push(b);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_output<T: TxQueue>(
        &mut self,
        now: u64,
        id: ConnId,
        addrs: &Addrs,
        arp: &mut ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
        burst: usize,
    ) -> bool {
        let (Some(c), Some(m)) = (self.table.get_mut(id), self.meta[id].as_mut()) else {
            return false;
        };
        let our_mac = addrs.mac(m.port);
        let peer_mac = match m.peer_mac.or_else(|| arp.lookup(m.next_hop)) {
            Some(mac) => mac,
            None => {
                // Ask for the next hop (at most once a second) and stay pending.
                if m.arp_at.is_some_and(|t| now < t + ARP_RETRY_NS) {
                    return true;
                }
                m.arp_at = Some(now);
                let req = Arp {
                    op: ARP_REQUEST,
                    sha: our_mac,
                    spa: *c.local.ip(),
                    tha: [0; 6],
                    tpa: m.next_hop,
                };
                if let Some(b) =
                    frame_from(txq, counters, |buf| emit_arp(buf, [0xff; 6], None, &req))
                {
                    tx.push(b);
                }
                return true;
            }
        };
        m.peer_mac = Some(peer_mac);
        let (src, dst) = (*c.local.ip(), *c.remote.ip());
        let (zero_copy, tx_csum) = (txq.zero_copy(), txq.tx_csum());
        // Super-segments only where the payload goes by reference.
        let tso = if zero_copy { txq.tso_max() } else { 0 };
        while tx.len() < burst {
            // A resume's unvalidated jump is paced over the RTT
            // (draft-ietf-tsvwg-careful-resume); the credit allows a short
            // burst of about a millisecond.
            if c.pacing_required() {
                if let Some(rate) = c.pacing_rate() {
                    let (credit, at) = m.pace;
                    let earned = (u128::from(rate) * u128::from(now.saturating_sub(at))
                        / 1_000_000_000) as u64;
                    let cap = rate / 1000 + 3000;
                    m.pace = ((credit + earned).min(cap), now);
                    if m.pace.0 < 1500 {
                        return true;
                    }
                }
            } else {
                m.pace = (0, now);
            }
            // The payload goes from the send buffer (a cached object's
            // region, for HTTP bodies) straight into the frame, or, on a
            // port that sends payload by reference, not through the CPU at
            // all: only the headers are written (DESIGN.md section 2).
            let Some((o, at)) = c.poll_segment(now, self.scratch.len(), tso) else {
                return false;
            };
            let h: TcpHeader = o.hdr;
            let c = &*c;
            let by_ref = if zero_copy && o.payload_len >= MIN_HEAD_PAYLOAD {
                c.payload_shared(at, o.payload_len)
            } else {
                None
            };
            let frame = match by_ref {
                Some((data, off)) => {
                    let payload = &(**data).as_ref()[off..off + o.payload_len];
                    // With checksum offload the payload is not even read.
                    let csum = if tx_csum {
                        TcpCsum::Offload
                    } else {
                        TcpCsum::Software
                    };
                    frame_from(txq, counters, |buf| {
                        emit_tcp_head(
                            buf, peer_mac, our_mac, None, src, dst, 64, &h, payload, csum,
                        )
                    })
                    .and_then(|mut b| {
                        // Without a buffer for the tail the segment waits
                        // for retransmission, as with no frame at all.
                        if !txq.attach_tail(&mut b, data, off, o.payload_len) {
                            return None;
                        }
                        if tx_csum {
                            txq.request_tcp_csum(&mut b, ETH_HEADER_LEN, IPV4_HEADER_LEN);
                        }
                        // A super-segment (poll_segment with `tso`) is cut
                        // by the port into segments of the peer's MSS.
                        let mss = c.eff_mss();
                        if o.payload_len > mss {
                            let l4 = b.len()
                                - usize::from(ETH_HEADER_LEN)
                                - usize::from(IPV4_HEADER_LEN);
                            txq.request_tso(
                                &mut b,
                                ETH_HEADER_LEN,
                                IPV4_HEADER_LEN,
                                l4 as u16,
                                mss as u16,
                            );
                        }
                        Some(b)
                    })
                }
                None => frame_from(txq, counters, |buf| {
                    emit_tcp_with(
                        buf,
                        peer_mac,
                        our_mac,
                        None,
                        src,
                        dst,
                        64,
                        &h,
                        o.payload_len,
                        |p| {
                            c.copy_payload(at, p);
                        },
                    )
                }),
            };
            match frame {
                Some(b) => {
                    m.pace.0 = m.pace.0.saturating_sub(o.payload_len as u64 + 40);
                    tx.push(b)
                }
                // Counted as no_buffer; the segment is recovered by retransmission.
                None => return true,
            }
        }
        true
    }

    /// Sends queued peer datagrams from `port` (when its next hop is known).
    pub(super) fn flush_outbox<T: TxQueue>(
        &mut self,
        port: u16,
        addrs: &Addrs,
        arp: &ArpCache,
        counters: &StreamCounters,
        tx: &mut Vec<T::Buf>,
        txq: &mut T,
    ) {
        if self.outbox.is_empty() {
            return;
        }
        let Some(view) = addrs.ports.get(port as usize) else {
            return;
        };
        let Some(net) = view.net else { return };
        let listen = self.anycast.as_ref().map(|a| a.listen).unwrap_or(0);
        let mut outbox = std::mem::take(&mut self.outbox);
        for (dst, payload) in outbox.drain(..) {
            let Some(mac) = view.next_hop(*dst.ip()).and_then(|h| arp.lookup(h)) else {
                if let Some(a) = &self.anycast {
                    a.counters.peer_no_arp.inc();
                }
                continue;
            };
            if let Some(b) = frame_from(txq, counters, |buf| {
                anyedge_wire::emit_udp(
                    buf,
                    mac,
                    view.mac,
                    None,
                    net.addr,
                    *dst.ip(),
                    64,
                    listen,
                    dst.port(),
                    &payload,
                )
            }) {
                if let Some(a) = &self.anycast {
                    a.counters.peer_tx.inc();
                }
                tx.push(b);
            }
            if self.repl_bufs.len() < SPARE_BUFS {
                self.repl_bufs.push(payload);
            }
        }
        outbox.append(&mut self.outbox);
        self.outbox = outbox;
    }
}
