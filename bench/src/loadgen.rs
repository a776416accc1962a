//! An HTTP/1.1 load generator on the engine's own TCP (issue 5's bench/http
//! engine-to-engine figure): N connections to one server, each sending
//! `GET PATH` and waiting for the whole response before the next request
//! (keep-alive), or opening a new connection per request (`Connection:
//! close`), like `wrk -cN`. It runs on one polling thread over any [`Port`]
//! (a mem port in the benchmark), answers ARP, and measures every request's
//! latency (request written to last body byte read) with hdrhistogram.
//!
//! It is a host like `anyedge_node::client`'s, with a connection table
//! instead of one connection: the sans-IO `anyedge_tcp::table::Table` does
//! the TCP, this module the frames and the HTTP.

use anyedge_node::client::neigh::{arp_frame, on_arp, Neighbours};
use anyedge_port::{FrameBuf, MacAddr, Port, RxQueue, TxQueue};
use anyedge_tcp::conn::ConnConfig;
use anyedge_tcp::table::{ConnId, Dispatch, Table, TableConfig};
use anyedge_wire::{emit_tcp, parse_split, ChecksumCaps, Ipv4Addr, L3, L4};
use hdrhistogram::Histogram;
use std::net::SocketAddrV4;

/// ARP request opcode (RFC 826).
const ARP_REQUEST: u16 = 1;
/// Response head bytes accepted.
const MAX_HEAD: usize = 8192;

/// What a run of the load generator counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadStats {
    /// Complete responses with status 200 (while measuring).
    pub requests: u64,
    /// Response bytes read, head and body (while measuring).
    pub bytes: u64,
    /// Responses that were not 200, unparseable heads, and connections
    /// that ended in the middle of a response.
    pub errors: u64,
    /// Connections opened.
    pub opened: u64,
    /// Frames that could not be sent (no buffer, or the ring was full).
    pub tx_dropped: u64,
}

#[derive(Debug, Default)]
struct Slot {
    /// A request is out and its response not complete.
    busy: bool,
    sent_at: u64,
    head: Vec<u8>,
    /// Body bytes still to come, once the head is in.
    body_left: Option<u64>,
}

/// What completing a response updates.
struct Done<'a> {
    measuring: bool,
    close: bool,
    stats: &'a mut LoadStats,
    hist: &'a mut Histogram<u64>,
}

impl Done<'_> {
    fn bytes(&mut self, n: u64) {
        if self.measuring {
            self.stats.bytes += n;
        }
    }

    /// The whole response is in: count it, and close in close mode.
    fn response(&mut self, s: &mut Slot, c: &mut anyedge_tcp::Conn, now: u64) {
        s.busy = false;
        s.body_left = None;
        s.head.clear();
        if self.measuring {
            self.stats.requests += 1;
            let us = (now.saturating_sub(s.sent_at) / 1000).max(1);
            let _ = self.hist.record(us);
        }
        if self.close {
            c.close();
        }
    }
}

/// The load generator (see the module docs).
pub struct LoadGen<P: Port> {
    rx: P::Rx,
    tx: P::Tx,
    mac: MacAddr,
    /// Checksums the port verified already (none on a device; all on an
    /// offloaded mem pair, as on loopback).
    caps: ChecksumCaps,
    ip: Ipv4Addr,
    server: SocketAddrV4,
    neigh: Neighbours,
    table: Table,
    slots: Vec<Slot>,
    request: Vec<u8>,
    close: bool,
    conns: usize,
    open: usize,
    next_port: u16,
    touched: Vec<ConnId>,
    rx_bufs: Vec<P::Buf>,
    tx_bufs: Vec<P::Buf>,
    scratch: Vec<u8>,
    payload: Vec<u8>,
    measuring: bool,
    /// Counters.
    pub stats: LoadStats,
    /// Latency of each measured request, microseconds.
    pub latency_us: Histogram<u64>,
}

impl<P: Port> LoadGen<P> {
    /// `conns` connections from `ip` on queue 0 of `port` to `server`,
    /// asking for `path`; `close`: one request per connection.
    pub fn new(
        mut port: P,
        ip: Ipv4Addr,
        server: SocketAddrV4,
        path: &str,
        conns: usize,
        close: bool,
    ) -> Result<Self, String> {
        let info = port.info();
        let mac = info.mac;
        let caps = anyedge_node::node::rx_checksum_caps(&info.caps);
        let (mut rxs, mut txs) = port.take_queues();
        if rxs.is_empty() || txs.is_empty() {
            return Err("the port has no queues".into());
        }
        let connection = if close { "close" } else { "keep-alive" };
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: {connection}\r\n\r\n");
        let capacity = 2 * conns + 64;
        Ok(LoadGen {
            rx: rxs.swap_remove(0),
            tx: txs.swap_remove(0),
            mac,
            caps,
            ip,
            server,
            neigh: Neighbours::default(),
            table: Table::new(TableConfig {
                capacity,
                conn: ConnConfig::default(),
                ..TableConfig::default()
            }),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            request: request.into_bytes(),
            close,
            conns,
            open: 0,
            next_port: 20000,
            touched: Vec::with_capacity(capacity),
            rx_bufs: Vec::with_capacity(64),
            tx_bufs: Vec::with_capacity(64),
            scratch: vec![0u8; 256 * 1024],
            payload: vec![0u8; 65536],
            measuring: false,
            stats: LoadStats::default(),
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
        })
    }

    /// Whether the server's MAC is known (connections open only then).
    pub fn resolved(&self) -> bool {
        self.neigh.lookup(*self.server.ip()).is_some()
    }

    /// Starts (or stops) counting requests, bytes and latencies.
    pub fn measure(&mut self, on: bool) {
        self.measuring = on;
    }

    /// One poll: frames in, connections served, frames out. Returns whether
    /// anything moved.
    pub fn poll(&mut self, now: u64) -> bool {
        let got = self.rx.rx_burst(&mut self.rx_bufs, 64);
        let bufs = std::mem::take(&mut self.rx_bufs);
        for b in &bufs {
            self.receive(now, b.data(), b.tail_data());
        }
        self.rx_bufs = bufs;
        self.rx_bufs.clear();
        if !self.resolved() {
            self.ask(now);
        } else {
            self.open_more(now);
        }
        let mut touched = std::mem::take(&mut self.touched);
        self.table.handle_timeouts(now, &mut touched);
        touched.sort_unstable();
        touched.dedup();
        let moved = got > 0 || !touched.is_empty();
        for &id in &touched {
            self.serve(now, id);
        }
        touched.clear();
        self.touched = touched;
        self.flush();
        moved
    }

    /// An ARP request for the server, at most once a second (`Neighbours`).
    fn ask(&mut self, now: u64) {
        let hop = *self.server.ip();
        let probe = arp_frame(ARP_REQUEST, self.mac, self.ip, [0xff; 6], [0; 6], hop);
        if let Some((_, f)) = self.neigh.send(now, 0, hop, probe, self.mac, self.ip) {
            self.push_frame(&f);
        }
    }

    fn open_more(&mut self, now: u64) {
        while self.open < self.conns {
            let mut opened = None;
            for _ in 0..64 {
                let p = self.next_port;
                self.next_port = if p == u16::MAX { 20000 } else { p + 1 };
                let local = SocketAddrV4::new(self.ip, p);
                if let Some(id) = self.table.connect(now, local, self.server) {
                    opened = Some(id);
                    break;
                }
            }
            let Some(id) = opened else { return };
            // A fresh connection in the slot; the head buffer keeps its capacity.
            let s = &mut self.slots[id];
            (s.busy, s.sent_at, s.body_left) = (false, 0, None);
            s.head.clear();
            self.open += 1;
            self.stats.opened += 1;
            self.touched.push(id);
        }
    }

    /// One frame: its own bytes and the payload its sender attached by
    /// reference (a 64 KiB super-segment on an offloaded mem pair).
    fn receive(&mut self, now: u64, frame: &[u8], tail: &[u8]) {
        if frame.len() < 6 || (frame[..6] != self.mac && frame[..6] != [0xff; 6]) {
            return;
        }
        let Ok(f) = parse_split(frame, tail, self.caps) else {
            return;
        };
        match f.l3 {
            L3::Arp(a) => {
                for (_, f) in on_arp(&mut self.neigh, 0, &a, self.mac, self.ip) {
                    self.push_frame(&f);
                }
            }
            L3::Ipv4(ip) if ip.dst == self.ip => {
                let L4::Tcp(t) = ip.l4 else { return };
                let Ok(seg) = anyedge_tcp::conn::Segment::from_wire(&t) else {
                    return;
                };
                let local = SocketAddrV4::new(ip.dst, t.dst_port);
                let remote = SocketAddrV4::new(ip.src, t.src_port);
                match self.table.handle(now, local, remote, &seg) {
                    Dispatch::Conn(id) | Dispatch::Accepted(id) => self.touched.push(id),
                    Dispatch::Reply(h) => {
                        let mut buf = [0u8; 128];
                        if let (Some(mac), Some(n)) = (
                            self.neigh.lookup(ip.src),
                            emit_tcp(
                                &mut buf,
                                [0; 6],
                                self.mac,
                                None,
                                ip.dst,
                                ip.src,
                                64,
                                &h,
                                &[],
                            ),
                        ) {
                            buf[..6].copy_from_slice(&mac);
                            self.push_frame(&buf[..n]);
                        }
                    }
                    Dispatch::Dropped => {}
                }
            }
            _ => {}
        }
    }

    /// Reads responses, sends the next request, closes and reaps, and
    /// turns the connection's output into frames.
    fn serve(&mut self, now: u64, id: ConnId) {
        let Some(c) = self.table.get_mut(id) else {
            return;
        };
        let s = &mut self.slots[id];
        let mut done = Done {
            measuring: self.measuring,
            close: self.close,
            stats: &mut self.stats,
            hist: &mut self.latency_us,
        };
        loop {
            // Body bytes are counted and dropped where they lie (no copy),
            // as wrk does with what it reads.
            if let (true, Some(left)) = (s.busy, s.body_left) {
                let n = c.recv_discard(left as usize) as u64;
                if n == 0 {
                    break;
                }
                done.bytes(n);
                s.body_left = Some(left - n);
                if left == n {
                    done.response(s, c, now);
                }
                continue;
            }
            // A head: read a little at a time, so that the body after it
            // mostly stays in the ring.
            let n = c.recv(&mut self.scratch[..2048]);
            if n == 0 {
                break;
            }
            done.bytes(n as u64);
            let mut data = &self.scratch[..n];
            while !data.is_empty() && s.busy {
                if s.body_left.is_none() {
                    let old = s.head.len();
                    let take = data.len().min((MAX_HEAD + 4).saturating_sub(old));
                    s.head.extend_from_slice(&data[..take]);
                    let Some(end) = s.head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if s.head.len() > MAX_HEAD {
                            done.stats.errors += 1;
                            c.abort();
                            s.busy = false;
                        }
                        data = &data[take..];
                        continue;
                    };
                    let Some(len) = head_length(&s.head[..end + 4]) else {
                        done.stats.errors += 1;
                        c.abort();
                        s.busy = false;
                        break;
                    };
                    s.body_left = Some(len);
                    data = &data[end + 4 - old..];
                }
                let left = s.body_left.unwrap_or(0);
                let k = (data.len() as u64).min(left);
                s.body_left = Some(left - k);
                data = &data[k as usize..];
                if left == k {
                    done.response(s, c, now);
                }
            }
        }
        let ready = c.state() == anyedge_tcp::conn::State::Established;
        if ready
            && !s.busy
            && !(self.close && s.sent_at != 0)
            && c.send_room() >= self.request.len()
        {
            c.send(&self.request);
            s.busy = true;
            s.sent_at = now.max(1);
        }
        if self.close && c.at_eof() {
            c.close();
        }
        self.transmit(now, id);
        if self.table.get(id).is_some_and(|c| c.is_closed()) {
            if self.slots[id].busy {
                self.stats.errors += 1;
            }
            self.table.reap(id);
            self.slots[id].busy = false;
            self.open -= 1;
        } else {
            self.table.rearm(id, now);
        }
    }

    fn transmit(&mut self, now: u64, id: ConnId) {
        let Some(mac) = self.neigh.lookup(*self.server.ip()) else {
            return;
        };
        let Some(c) = self.table.get_mut(id) else {
            return;
        };
        let (src, dst) = (*c.local.ip(), *c.remote.ip());
        while let Some(o) = c.poll_transmit(now, &mut self.payload) {
            let Some(mut b) = self.tx.alloc() else {
                self.stats.tx_dropped += 1;
                continue;
            };
            let room = 14 + 20 + 60 + o.payload_len;
            if !b.set_len(room) {
                self.stats.tx_dropped += 1;
                continue;
            }
            match emit_tcp(
                b.data_mut(),
                mac,
                self.mac,
                None,
                src,
                dst,
                64,
                &o.hdr,
                &self.payload[..o.payload_len],
            ) {
                Some(n) if b.set_len(n) => self.tx_bufs.push(b),
                _ => self.stats.tx_dropped += 1,
            }
            if self.tx_bufs.len() >= 32 {
                flush_bufs(&mut self.tx, &mut self.tx_bufs, &mut self.stats);
            }
        }
    }

    fn push_frame(&mut self, frame: &[u8]) {
        match self.tx.alloc() {
            Some(mut b) => {
                if b.set_len(frame.len()) {
                    b.data_mut().copy_from_slice(frame);
                    self.tx_bufs.push(b);
                } else {
                    self.stats.tx_dropped += 1;
                }
            }
            None => self.stats.tx_dropped += 1,
        }
    }

    fn flush(&mut self) {
        flush_bufs(&mut self.tx, &mut self.tx_bufs, &mut self.stats);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
    }
}

/// Sends `bufs` on `tx`; what the ring refuses is dropped and counted.
fn flush_bufs<T: TxQueue>(tx: &mut T, bufs: &mut Vec<T::Buf>, stats: &mut LoadStats) {
    while !bufs.is_empty() {
        if tx.tx_burst(bufs) == 0 {
            stats.tx_dropped += bufs.len() as u64;
            bufs.clear();
        }
    }
}

/// The body length of a complete 200 response head, `None` for any other
/// status or a head without Content-Length (RFC 9112 6.3).
fn head_length(head: &[u8]) -> Option<u64> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(head) {
        Ok(httparse::Status::Complete(_)) if r.code == Some(200) => {}
        _ => return None,
    }
    r.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_head_gives_its_body_length_and_anything_else_nothing() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nETag: \"x\"\r\n\r\n";
        assert_eq!(head_length(ok), Some(1024));
        assert_eq!(
            head_length(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"),
            None
        );
        assert_eq!(head_length(b"HTTP/1.1 200 OK\r\n\r\n"), None, "no length");
        assert_eq!(
            head_length(b"HTTP/1.1 200 OK\r\nContent-Le"),
            None,
            "partial"
        );
    }
}
