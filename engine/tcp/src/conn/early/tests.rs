//! Early data, scripted in virtual time: an edge `Conn` and a gateway
//! (a [`Table`] with a listener, or a plain non-speaking `Conn`) joined by a
//! wire with a one-way delay and a drop filter, like `conn/tests.rs`'s Pair.

use super::*;
use crate::table::{ConnId, Dispatch, FourTuple, Table, TableConfig};
use anyedge_wire::tcp_flags::{ACK, RST, SYN};
use std::net::Ipv4Addr;

const MS: u64 = 1_000_000;
const TAG: [u8; 8] = *b"goodtag!";
const ISS: u32 = 1000;
const PROPOSED: u32 = 0x7000_0000;

fn edge_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000)
}

fn gw_addr() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80)
}

fn cfg() -> ConnConfig {
    ConnConfig {
        send_buf: 64 * 1024,
        recv_buf: 64 * 1024,
        ..ConnConfig::default()
    }
}

fn request(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(13) ^ 0x5a).collect()
}

#[derive(Clone, Debug)]
struct Wire {
    at: u64,
    to_gw: bool,
    hdr: TcpHeader,
    payload: Vec<u8>,
}

fn seg<'a>(h: &TcpHeader, payload: &'a [u8]) -> Segment<'a> {
    Segment {
        seq: h.seq,
        ack: h.ack,
        flags: h.flags,
        window: h.window,
        opts: h.options,
        payload,
    }
}

/// The far end of the edge's connection.
enum Gw {
    /// A table; `auth_ok` says whether its verifier accepts [`TAG`].
    Table {
        t: Box<Table>,
        id: Option<ConnId>,
        auth_ok: bool,
    },
    /// A peer without the scheme: a plain `Conn::accept` with its own ISN.
    Plain(Box<Option<Conn>>),
}

type DropFilter = Box<dyn FnMut(&Wire) -> bool>;

struct EPair {
    edge: Conn,
    gw: Gw,
    now: u64,
    delay: u64,
    queue: Vec<Wire>,
    sent: Vec<Wire>,
    drop: DropFilter,
    busy: [u64; 2],
    /// Serialization time per segment (12 us, about 1 Gbit/s for full
    /// segments); 0 makes a burst arrive at once, so that the gateway sees
    /// the SYN and the early data before it answers.
    spacing: u64,
    /// What the gateway application read, and when it first read something.
    gw_got: Vec<u8>,
    gw_first_data_at: Option<u64>,
    /// The response the gateway application sends once the request is in.
    response: Vec<u8>,
    resp_sent: usize,
    request_len: usize,
    /// What the edge application read, and when its first byte came.
    edge_got: Vec<u8>,
    edge_first_data_at: Option<u64>,
    /// When the edge first received a SYN-ACK.
    edge_synack_at: Option<u64>,
    edge_events: Vec<Event>,
}

impl EPair {
    fn new(edge: Conn, gw: Gw, delay: u64) -> EPair {
        EPair {
            edge,
            gw,
            now: 0,
            delay,
            queue: Vec::new(),
            sent: Vec::new(),
            drop: Box::new(|_| false),
            busy: [0; 2],
            spacing: 12_000,
            gw_got: Vec::new(),
            gw_first_data_at: None,
            response: Vec::new(),
            resp_sent: 0,
            request_len: usize::MAX,
            edge_got: Vec::new(),
            edge_first_data_at: None,
            edge_synack_at: None,
            edge_events: Vec::new(),
        }
    }

    /// An early edge against a table gateway (listening unless `listen` is false).
    fn early(delay: u64, auth_ok: bool, listen: bool) -> EPair {
        let edge = Conn::connect_early(cfg(), edge_addr(), gw_addr(), ISS, PROPOSED, TAG, 0);
        EPair::new(edge, table_gw(auth_ok, listen), delay)
    }

    fn gw_conn(&mut self) -> Option<&mut Conn> {
        match &mut self.gw {
            Gw::Table { t, id, .. } => id.and_then(|i| t.get_mut(i)),
            Gw::Plain(c) => c.as_mut().as_mut(),
        }
    }

    fn table(&self) -> &Table {
        match &self.gw {
            Gw::Table { t, .. } => t,
            Gw::Plain(_) => panic!("no table"),
        }
    }

    fn put(&mut self, to_gw: bool, hdr: TcpHeader, payload: Vec<u8>) {
        let dir = usize::from(to_gw);
        self.busy[dir] = self.busy[dir].max(self.now) + self.spacing;
        let w = Wire {
            at: self.busy[dir] + self.delay,
            to_gw,
            hdr,
            payload,
        };
        self.sent.push(w.clone());
        if !(self.drop)(&w) {
            self.queue.push(w);
        }
    }

    /// The applications' turn, then every pending segment onto the wire.
    fn flush(&mut self) {
        let now = self.now;
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        if let Some(c) = self.gw_conn() {
            loop {
                let n = c.recv(&mut buf);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        if !got.is_empty() {
            self.gw_first_data_at.get_or_insert(now);
            self.gw_got.extend_from_slice(&got);
        }
        if self.gw_got.len() >= self.request_len && self.resp_sent < self.response.len() {
            let resp = std::mem::take(&mut self.response);
            let from = self.resp_sent;
            if let Some(c) = self.gw_conn() {
                let n = c.send(&resp[from..]);
                self.resp_sent += n;
            }
            self.response = resp;
        }
        loop {
            let n = self.edge.recv(&mut buf);
            if n == 0 {
                break;
            }
            self.edge_first_data_at.get_or_insert(now);
            self.edge_got.extend_from_slice(&buf[..n]);
        }
        while let Some(e) = self.edge.poll_event() {
            self.edge_events.push(e);
        }
        while let Some(o) = self.edge.poll_transmit(now, &mut buf) {
            self.put(true, o.hdr, buf[..o.payload_len].to_vec());
        }
        let mut out = Vec::new();
        if let Some(c) = self.gw_conn() {
            while let Some(o) = c.poll_transmit(now, &mut buf) {
                out.push((o.hdr, buf[..o.payload_len].to_vec()));
            }
        }
        for (h, p) in out {
            self.put(false, h, p);
        }
    }

    fn deliver_to_gw(&mut self, w: &Wire) {
        let s = seg(&w.hdr, &w.payload);
        let now = self.now;
        let reply = match &mut self.gw {
            Gw::Table { t, id, auth_ok } => {
                let ok = *auth_ok;
                let auth = move |_: &FourTuple, _: u32, _: u32, tag: [u8; 8]| ok && tag == TAG;
                match t.handle_with(now, gw_addr(), edge_addr(), &s, &auth) {
                    Dispatch::Accepted(i) | Dispatch::Conn(i) => {
                        *id = Some(i);
                        None
                    }
                    Dispatch::Reply(h) => Some(h),
                    Dispatch::Dropped => None,
                }
            }
            Gw::Plain(c) => {
                match c.as_mut() {
                    Some(c) => c.handle_segment(now, &s),
                    None if s.flags == SYN => {
                        **c = Some(Conn::accept(cfg(), gw_addr(), edge_addr(), 5000, &s, now));
                    }
                    None => {}
                }
                None
            }
        };
        if let Some(h) = reply {
            self.put(false, h, Vec::new());
        }
    }

    fn step(&mut self) -> bool {
        self.flush();
        let next_q = self.queue.iter().map(|w| w.at).min();
        let next_t = [
            self.edge.poll_timeout(),
            self.gw_conn().and_then(|c| c.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = [next_q, next_t].into_iter().flatten().min() else {
            return false;
        };
        self.now = self.now.max(next);
        let (due, rest): (Vec<Wire>, Vec<Wire>) =
            self.queue.drain(..).partition(|w| w.at <= self.now);
        self.queue = rest;
        for w in due {
            if w.to_gw {
                self.deliver_to_gw(&w);
            } else {
                if w.hdr.flags & (SYN | ACK) == SYN | ACK {
                    self.edge_synack_at.get_or_insert(self.now);
                }
                self.edge.handle_segment(self.now, &seg(&w.hdr, &w.payload));
            }
        }
        let now = self.now;
        if self.edge.poll_timeout().is_some_and(|t| t <= now) {
            self.edge.handle_timeout(now);
        }
        if let Some(c) = self.gw_conn() {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
        }
        true
    }

    fn run_until(&mut self, mut done: impl FnMut(&mut EPair) -> bool, limit: u64) {
        while !done(self) {
            assert!(self.now <= limit, "not done by {} ms", self.now / MS);
            if !self.step() {
                assert!(done(self), "stalled at {} ms", self.now / MS);
                return;
            }
        }
    }

    /// Sends `req` from the edge at once and `resp` from the gateway when
    /// the request is in; runs until both are read.
    fn exchange(&mut self, req: &[u8], resp: &[u8], limit: u64) {
        assert_eq!(self.edge.send(req), req.len());
        self.request_len = req.len();
        self.response = resp.to_vec();
        let (rl, sl) = (req.len(), resp.len());
        self.run_until(|p| p.gw_got.len() >= rl && p.edge_got.len() >= sl, limit);
        // A little longer, so that duplicates would show.
        let end = self.now + 3_000 * MS;
        while self.now < end && self.step() {}
        assert!(self.gw_got == req, "gateway got the request once, in order");
        assert!(self.edge_got == resp, "edge got the response");
        eprintln!(
            "request at gateway app {:.3} ms, response at edge app {:.3} ms, \
             edge SYNs {}, edge retransmits {}, outcome {:?}",
            self.gw_first_data_at.unwrap_or(0) as f64 / 1e6,
            self.edge_first_data_at.unwrap_or(0) as f64 / 1e6,
            self.syns_to_gw(),
            self.edge.stats().retransmits,
            self.edge.early_outcome()
        );
    }

    fn syns_to_gw(&self) -> usize {
        self.sent
            .iter()
            .filter(|w| w.to_gw && w.hdr.flags & SYN != 0)
            .count()
    }
}

fn table_gw(auth_ok: bool, listen: bool) -> Gw {
    let mut t = Table::new(TableConfig {
        capacity: 16,
        conn: cfg(),
        ..TableConfig::default()
    });
    if listen {
        t.listen(80);
    }
    Gw::Table {
        t: Box::new(t),
        id: None,
        auth_ok,
    }
}

#[test]
fn edge_sends_data_right_after_its_syn_within_the_initial_window() {
    let mut c = Conn::connect_early(cfg(), edge_addr(), gw_addr(), ISS, PROPOSED, TAG, 0);
    assert_eq!(c.state(), State::SynSent);
    assert_eq!(c.early_outcome(), Some(EarlyOutcome::Pending));
    let req = request(20_000);
    assert_eq!(c.send(&req), req.len());
    let mut buf = [0u8; 2048];
    let syn = c.poll_transmit(0, &mut buf).unwrap();
    assert_eq!((syn.hdr.flags, syn.hdr.seq), (SYN, ISS));
    assert_eq!(
        syn.hdr.options.early_data,
        Some(EarlyData {
            isn: PROPOSED,
            tag: TAG
        })
    );
    assert!(syn.hdr.options.timestamps.is_some() && syn.hdr.options.window_scale.is_some());
    let mut next = ISS + 1;
    let mut bytes = 0;
    while let Some(o) = c.poll_transmit(0, &mut buf) {
        assert_eq!(o.hdr.seq, next);
        assert_eq!(o.hdr.ack, PROPOSED + 1);
        assert_eq!(o.hdr.flags & (ACK | SYN), ACK);
        assert!(
            o.payload_len <= 536,
            "the default MSS until the SYN-ACK says more"
        );
        assert_eq!(o.hdr.options.timestamps, None, "not negotiated yet");
        assert_eq!(o.hdr.options.early_data, None);
        assert_eq!(&buf[..o.payload_len], &req[bytes..bytes + o.payload_len]);
        next += o.payload_len as u32;
        bytes += o.payload_len;
    }
    assert_eq!(bytes, crate::cc::initial_window(536), "RFC 6928 IW for 536");
}

/// Happy path: the request reaches the gateway application half an RTT
/// after connect, before the edge sees the SYN-ACK; a normal handshake
/// takes 1.5 RTT. The response is back at the edge after 1 RTT instead of 2.
#[test]
fn early_data_saves_one_rtt() {
    let delay = 15 * MS; // RTT 30 ms
    let req = request(400);
    let resp = request(3000);
    let mut p = EPair::early(delay, true, true);
    p.exchange(&req, &resp, 10_000 * MS);
    let gw_at = p.gw_first_data_at.unwrap();
    let edge_at = p.edge_first_data_at.unwrap();
    assert!(
        gw_at < p.edge_synack_at.unwrap(),
        "data before the edge sees the SYN-ACK"
    );
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Accepted));
    assert!(p.edge_events.contains(&Event::Connected));
    assert_eq!(p.edge.stats().retransmits, 0);
    let s = p.table().stats();
    assert_eq!((s.early_accepted, s.early_rejected), (1, 0));
    assert!(p.gw_conn().unwrap().early_accepted());

    // Again with the SYN and the request arriving in one burst: the
    // gateway is established by the data and its SYN-ACK acknowledges it.
    let mut b = EPair::early(delay, true, true);
    b.spacing = 0;
    b.exchange(&req, &resp, 10_000 * MS);
    assert_eq!(b.gw_first_data_at, Some(delay));
    assert_eq!(b.edge_first_data_at, Some(2 * delay));
    let sa = b.sent.iter().find(|w| w.hdr.flags == SYN | ACK).unwrap();
    assert_eq!(sa.hdr.ack, ISS + 1 + req.len() as u32);

    // The same exchange with a normal handshake.
    let edge = Conn::connect(cfg(), edge_addr(), gw_addr(), ISS, 0);
    let mut n = EPair::new(edge, table_gw(true, true), delay);
    n.exchange(&req, &resp, 10_000 * MS);
    let n_gw = n.gw_first_data_at.unwrap();
    let n_edge = n.edge_first_data_at.unwrap();
    eprintln!(
        "RTT 30 ms: request at gateway app {:.3} ms early vs {:.3} ms normal; \
         response at edge app {:.3} ms early vs {:.3} ms normal",
        gw_at as f64 / 1e6,
        n_gw as f64 / 1e6,
        edge_at as f64 / 1e6,
        n_edge as f64 / 1e6
    );
    // 0.5 RTT and 1.5 RTT, plus the wire's serialization (12 us a segment).
    assert!(gw_at >= delay && gw_at < delay + MS, "{gw_at}");
    assert!(n_gw >= 3 * delay && n_gw < 3 * delay + MS, "{n_gw}");
    assert!(
        edge_at >= 2 * delay && edge_at < 2 * delay + MS,
        "{edge_at}"
    );
    assert!(n_edge >= 4 * delay && n_edge < 4 * delay + MS, "{n_edge}");
}

/// The SYN and the early data arrive together, before the gateway has
/// answered: the SYN-ACK (SEQ = the proposed ISN) acknowledges the data,
/// and the gateway can answer right behind it.
#[test]
fn gateway_syn_ack_acknowledges_data_queued_in_syn_received() {
    let mut edge = Conn::connect_early(cfg(), edge_addr(), gw_addr(), ISS, PROPOSED, TAG, 0);
    let req = request(1000);
    edge.send(&req);
    let mut buf = [0u8; 2048];
    let mut segs = Vec::new();
    while let Some(o) = edge.poll_transmit(0, &mut buf) {
        segs.push((o.hdr, buf[..o.payload_len].to_vec()));
    }
    assert_eq!(segs.len(), 3, "SYN and two 536-byte segments");
    let mut t = Table::new(TableConfig {
        conn: cfg(),
        ..TableConfig::default()
    });
    t.listen(80);
    let auth = |_: &FourTuple, seq: u32, isn: u32, tag: [u8; 8]| {
        seq == ISS && isn == PROPOSED && tag == TAG
    };
    let mut id = None;
    for (h, p) in &segs {
        match t.handle_with(MS, gw_addr(), edge_addr(), &seg(h, p), &auth) {
            Dispatch::Accepted(i) | Dispatch::Conn(i) => id = Some(i),
            d => panic!("{d:?}"),
        }
    }
    let c = t.get_mut(id.unwrap()).unwrap();
    assert_eq!(c.state(), State::Established, "acceptable by construction");
    assert_eq!(c.readable(), 1000);
    assert_eq!(c.send(b"HTTP/1.1 200 OK\r\n\r\n"), 19);
    let sa = c.poll_transmit(MS, &mut buf).unwrap();
    assert_eq!(sa.hdr.flags, SYN | ACK);
    assert_eq!(sa.hdr.seq, PROPOSED);
    assert_eq!(sa.hdr.ack, ISS + 1 + 1000, "acknowledges the early data");
    let data = c.poll_transmit(MS, &mut buf).unwrap();
    assert_eq!((data.hdr.seq, data.payload_len), (PROPOSED + 1, 19));
    let data_hdr = data.hdr;
    assert!(c.poll_transmit(MS, &mut buf).is_none());
    assert_eq!(t.stats().early_accepted, 1);
    // The edge takes both.
    edge.handle_segment(2 * MS, &seg(&sa.hdr, &[]));
    assert_eq!(edge.state(), State::Established);
    assert_eq!(edge.buffered().0, 0, "all early data acknowledged");
    assert!(
        edge.ts_ok && edge.sack_ok && edge.ws_ok,
        "options now in force"
    );
    edge.handle_segment(2 * MS, &seg(&data_hdr, b"HTTP/1.1 200 OK\r\n\r\n"));
    assert_eq!(edge.readable(), 19);
}

/// A lost SYN: the early data finds no connection (and gets a RST without
/// ACK, which the edge ignores); the RTO resends SYN and data, and the
/// gateway application gets the request once.
#[test]
fn lost_syn_is_retransmitted_with_the_data() {
    for spacing in [12_000, 0] {
        lost_syn(spacing);
    }
}

fn lost_syn(spacing: u64) {
    let mut p = EPair::early(15 * MS, true, true);
    p.spacing = spacing;
    let mut first = true;
    p.drop = Box::new(move |w| {
        let d = first && w.to_gw && w.hdr.flags & SYN != 0;
        first &= !d;
        d
    });
    let req = request(1500);
    p.exchange(&req, &request(100), 10_000 * MS);
    assert_eq!(p.syns_to_gw(), 2);
    assert!(p.edge.stats().retransmits >= 3, "the data went again");
    assert!(p
        .sent
        .iter()
        .any(|w| !w.to_gw && w.hdr.flags & RST != 0 && w.hdr.flags & ACK == 0));
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Accepted));
    assert!(p.gw_first_data_at.unwrap() > 1000 * MS, "after the 1 s RTO");
}

/// Lost early data: the SYN-ACK acknowledges only the SYN and the normal
/// rules repair the hole.
#[test]
fn lost_early_data_is_repaired() {
    let mut p = EPair::early(15 * MS, true, true);
    let mut first = true;
    p.drop = Box::new(move |w| {
        let d = first && w.to_gw && w.hdr.seq == ISS + 1 + 536;
        first &= !d;
        d
    });
    let req = request(2500);
    p.exchange(&req, &request(5000), 10_000 * MS);
    assert_eq!(p.syns_to_gw(), 1);
    assert!(p.edge.stats().retransmits >= 1);
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Accepted));
}

/// A lost SYN-ACK: the gateway took the early data (established by it,
/// or by the data that followed its SYN-ACK) and answered. The edge sees an
/// ACK numbered from the proposed ISN, repeats its SYN at once, and the
/// gateway repeats its SYN-ACK and its answer: one RTT lost, not an RTO.
/// When everything from the gateway is lost for a while, the edge's RTO
/// resends SYN and data, and the gateway does not deliver the data twice.
#[test]
fn lost_syn_ack_is_sent_again_for_the_repeated_syn() {
    for spacing in [12_000, 0] {
        // Only the SYN-ACK lost: the answer comes one RTT late.
        let p = lost_syn_ack(spacing, 0);
        assert_eq!(p.edge.stats().retransmits, 0, "no data sent twice");
        let at = p.edge_first_data_at.unwrap();
        assert!((60 * MS..61 * MS).contains(&at), "{at}");
        // All the gateway's segments lost for just over the edge's 1 s
        // RTO: the RTO path.
        let p = lost_syn_ack(spacing, 1005 * MS);
        assert!(p.edge.stats().retransmits >= 3, "data sent again");
        let at = p.edge_first_data_at.unwrap();
        assert!((1030 * MS..1031 * MS).contains(&at), "{at}");
    }
}

fn lost_syn_ack(spacing: u64, blackout: u64) -> EPair {
    let mut p = EPair::early(15 * MS, true, true);
    p.spacing = spacing;
    let mut first = true;
    p.drop = Box::new(move |w| {
        let d = first && !w.to_gw && w.hdr.flags & SYN != 0;
        first &= !d;
        d || (!w.to_gw && w.at < blackout)
    });
    let req = request(1200);
    let resp = request(4000);
    p.exchange(&req, &resp, 10_000 * MS);
    assert_eq!(p.syns_to_gw(), 2);
    let synacks = p
        .sent
        .iter()
        .filter(|w| !w.to_gw && w.hdr.flags == SYN | ACK)
        .count();
    assert_eq!(synacks, 2);
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Accepted));
    assert!(
        p.gw_first_data_at.unwrap() < 20 * MS,
        "the first copy was taken"
    );
    p
}

/// A gateway without the scheme answers with its own ISN (and RSTs the
/// early data, whose ACK it cannot accept): the edge adopts the ISN and
/// sends the data again.
#[test]
fn non_speaker_syn_ack_falls_back_to_a_normal_handshake() {
    let edge = Conn::connect_early(cfg(), edge_addr(), gw_addr(), ISS, PROPOSED, TAG, 0);
    let mut p = EPair::new(edge, Gw::Plain(Box::new(None)), 15 * MS);
    let req = request(1500);
    p.exchange(&req, &request(700), 10_000 * MS);
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::FellBack));
    assert_eq!(p.edge.state(), State::Established);
    assert!(p
        .sent
        .iter()
        .any(|w| !w.to_gw && w.hdr.flags == RST && w.hdr.seq == PROPOSED + 1));
    assert_eq!(p.syns_to_gw(), 1, "no new SYN: the data follows the ACK");
    // 1500 bytes went as 3 segments of 536, again as 1448 + 52.
    assert_eq!(p.edge.stats().retransmits, 2, "the early data went again");
    // 1.5 RTT, as a normal handshake.
    let at = p.gw_first_data_at.unwrap();
    assert!((45 * MS..46 * MS).contains(&at), "{at}");
}

/// A RST answering the SYN: the connection reports Reset and
/// `early_refused`, so that the caller can retry without early data.
#[test]
fn rst_answer_reports_reset_and_refused() {
    let mut p = EPair::early(15 * MS, true, false);
    p.edge.send(&request(800));
    p.run_until(|p| p.edge.is_closed(), 1_000 * MS);
    p.flush();
    assert!(p.edge_events.contains(&Event::Reset));
    assert!(p.edge.early_refused());
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Refused));
    assert!(p.now < 31 * MS);
}

/// No answer at all: SYN and data are retransmitted on each RTO, then a
/// clean abort with TimedOut.
#[test]
fn no_answer_times_out_cleanly() {
    let mut p = EPair::early(15 * MS, true, true);
    p.drop = Box::new(|w| w.to_gw);
    p.edge.send(&request(800));
    p.run_until(|p| p.edge.is_closed(), 1_000_000 * MS);
    p.flush();
    assert!(p.edge_events.contains(&Event::TimedOut));
    let retries = cfg().syn_retries as usize;
    assert_eq!(p.syns_to_gw(), retries + 1);
    let data = p.sent.iter().filter(|w| !w.payload.is_empty()).count();
    assert_eq!(data, 2 * (retries + 1), "the data went with each SYN");
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::Pending));
    assert!(p.edge.poll_timeout().is_none());
    let mut buf = [0u8; 2048];
    assert!(
        p.edge.poll_transmit(p.now, &mut buf).is_none(),
        "no RST, no data"
    );
}

/// A bad tag: a normal SYN for the gateway (its own ISN), the early data
/// dropped and counted without a RST, and the edge falls back.
#[test]
fn table_connect_early_proposes_from_its_iss() {
    let mut t = Table::new(TableConfig {
        conn: cfg(),
        ..TableConfig::default()
    });
    let mut seen = 0;
    let id = t
        .connect_early(0, edge_addr(), gw_addr(), |iss| {
            seen = iss;
            (iss ^ 0xffff_0000, [iss as u8; 8])
        })
        .unwrap();
    let c = t.get_mut(id).unwrap();
    let mut buf = [0u8; 64];
    let syn = c.poll_transmit(0, &mut buf).unwrap();
    assert_eq!(syn.hdr.seq, seen);
    let e = syn.hdr.options.early_data.unwrap();
    assert_eq!((e.isn, e.tag), (seen ^ 0xffff_0000, [seen as u8; 8]));
    assert!(t
        .connect_early(0, edge_addr(), gw_addr(), |_| (0, [0; 8]))
        .is_none());
}

#[test]
fn bad_tag_is_a_normal_syn_and_its_early_data_is_dropped() {
    let mut p = EPair::early(15 * MS, false, true);
    let req = request(1500);
    p.exchange(&req, &request(300), 10_000 * MS);
    let s = p.table().stats();
    assert_eq!((s.early_accepted, s.early_rejected), (0, 1));
    assert_eq!(s.early_dropped, 3, "three early segments");
    assert!(!p.sent.iter().any(|w| !w.to_gw && w.hdr.flags & RST != 0));
    assert_eq!(p.edge.early_outcome(), Some(EarlyOutcome::FellBack));
    let gw = p.gw_conn().unwrap();
    assert!(!gw.early_accepted());
    assert_ne!(gw.iss, Seq(PROPOSED));
}

/// Closing during the early phase: the FIN follows the data once the
/// SYN-ACK has come, and the gateway sees the request, then end of stream.
#[test]
fn close_in_the_early_phase_sends_the_fin_after_the_syn_ack() {
    let mut p = EPair::early(15 * MS, true, true);
    let req = request(700);
    p.edge.send(&req);
    p.edge.close();
    assert_eq!(p.edge.state(), State::SynSent);
    assert_eq!(p.edge.send(b"more"), 0, "closed for sending");
    p.request_len = req.len();
    p.run_until(
        |p| p.gw_conn().is_some_and(|c| c.at_eof()) && p.gw_got.len() == 700,
        5_000 * MS,
    );
    assert!(p.gw_got == req);
    p.run_until(|p| p.edge.state() == State::FinWait2, 1_000 * MS);
    assert!(p.gw_first_data_at.unwrap() < 16 * MS);
}

/// Aborting during the early phase resets the gateway's connection, which
/// the early data had established.
#[test]
fn abort_in_the_early_phase_resets_the_gateway() {
    let mut p = EPair::early(15 * MS, true, true);
    p.spacing = 0;
    p.edge.send(&request(300));
    p.run_until(|p| p.gw_got.len() == 300, 1_000 * MS);
    assert_eq!(p.gw_conn().unwrap().state(), State::Established);
    p.edge.abort();
    p.run_until(|p| p.gw_conn().is_some_and(|c| c.is_closed()), 1_000 * MS);
}
