//! Replicated client connections (issue 7, item 3): the messages between a
//! primary and its backup, and the state a node keeps for both roles.
//!
//! A node with `[overlay] backup = "ip:port"` (the backup's peer-channel
//! address) is a primary: for every HTTP client connection it sends the
//! backup a [`Record`], the connection's TCB ([`Snapshot`]) with the
//! application's position (request bytes not yet answered, the response in
//! progress: its head bytes, its chunks, the object's key and ETag, and the
//! sequence number where it starts). Records travel as peer-channel
//! messages (type 3, HMAC-SHA256 under the site key, from configured peers
//! only), so they are authenticated like the path metrics.
//!
//! Each record is the whole state, not a delta: a lost record is repaired
//! by the next one, and the backup confirms each by version ([`Msg::Ack`]).
//! The primary's output commit acknowledges client bytes and sends a
//! response only when the backup has confirmed the record that covers them
//! (the ACK limit of `anyedge_tcp::conn::replica`). A backup that does not
//! confirm within [`ReplShared::timeout_ns`] is marked down: the primary
//! lifts every gate and goes on without replication, and probes the backup
//! ([`Msg::Hello`]) until it answers again.
//!
//! Any node keeps the records it receives as standby state. When a client
//! segment reaches it for a connection it does not have (the primary died,
//! or the anycast route moved), it continues the connection from the record
//! instead of resetting it, and tells the primary ([`Msg::Taken`]) so that
//! the primary forgets the connection without a RST.

use super::heads::HeadEnc;
use anyedge_http::Chunk;
// Written by every core of the node (DESIGN.md section 2: shared state).
use crate::stats::SharedCounter as Counter;
use anyedge_tcp::conn::replica::SNAPSHOT_LEN;
use anyedge_tcp::Snapshot;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A backup that has not confirmed a record for this long is down.
pub const DEFAULT_TIMEOUT_NS: u64 = 200_000_000;
/// An unconfirmed record is sent again after this long.
pub const RETRY_NS: u64 = 10_000_000;
/// While the backup is down, it is probed this often.
pub const PROBE_NS: u64 = 1_000_000_000;
/// A record with no newer version for this long is forgotten.
pub const STANDBY_LIFETIME_NS: u64 = 600_000_000_000;
/// Most standby records a node keeps.
pub const STANDBY_MAX: usize = 65_536;
/// A record of a connection with data in flight that has not been
/// refreshed for this long means the primary is gone: the backup pokes the
/// client so that its ACK comes to take the connection over.
pub const SILENT_NS: u64 = 1_000_000_000;
/// A record's head length field: the head follows with a key to keep it
/// under ([`HeadEnc::Remember`]).
const HEAD_REMEMBER: u16 = 0xfffe;
/// A record's head length field: only the key of a kept head follows
/// ([`HeadEnc::Ref`]).
const HEAD_REF: u16 = 0xffff;
/// Most chunks a record carries (a multipart answer of many ranges is not replicated).
const MAX_CHUNKS: usize = 64;

/// The connection a message is about: the client and the VIP side.
pub type Tuple = (SocketAddrV4, SocketAddrV4);

/// The response in progress on a replicated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resp {
    /// Sequence number of the response's first byte.
    pub seq: u32,
    /// Cache key of the object (empty for an answer without a body).
    pub key: String,
    /// The object's strong ETag, so a backup only serves the same bytes.
    pub etag: String,
    /// The head buffer (response head, multipart delimiters). Empty in a
    /// decoded record whose head came by reference, until the backup
    /// resolves it ([`super::heads`]).
    pub head: Vec<u8>,
    /// The response as chunks of the head buffer and of the object.
    pub chunks: Vec<Chunk>,
    /// How the head travels ([`super::heads`]).
    pub dict: HeadEnc,
}

impl Resp {
    /// Bytes the response puts on the stream.
    pub fn len(&self) -> u64 {
        self.chunks.iter().map(Chunk::len).sum()
    }

    /// Whether the response is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The replicated state of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Client address and port.
    pub client: SocketAddrV4,
    /// The address and port the client connected to.
    pub vip: SocketAddrV4,
    /// Version: each record of a connection has a higher one.
    pub version: u32,
    /// The TCB.
    pub snap: Snapshot,
    /// The connection closes after the response (`Connection: close`).
    pub close_after: bool,
    /// Request bytes received and not yet answered.
    pub inbuf: Vec<u8>,
    /// The response in progress, if any.
    pub resp: Option<Resp>,
}

/// A replication message.
// A message is decoded, handled and dropped one at a time (never stored in
// bulk), so the size of the record variant costs nothing a Box would save.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Primary to backup: a connection's state.
    Record(Record),
    /// Backup to primary: record `version` of the connection is stored.
    Ack(Tuple, u32),
    /// Backup to primary: the backup continues this connection now.
    Taken(Tuple),
    /// Primary to backup: the connection ended; forget it.
    Closed(Tuple),
    /// Backup to primary: the record of this connection could not be kept
    /// (standby table full); the primary serves it unreplicated.
    Refused(Tuple),
    /// A down backup is probed.
    Hello,
    /// ... and answers.
    HelloAck,
}

fn put_tuple(t: &Tuple, out: &mut Vec<u8>) {
    for a in [t.0, t.1] {
        out.extend_from_slice(&a.ip().octets());
        out.extend_from_slice(&a.port().to_be_bytes());
    }
}

impl Msg {
    /// Encodes the message (the body of a peer-channel type 3 message).
    /// `None` when a record does not fit in one datagram.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out).then_some(out)
    }

    /// As [`Msg::encode`], into `out` (cleared first: a reused buffer);
    /// false when a record does not fit the format or a datagram.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> bool {
        out.clear();
        match self {
            Msg::Record(r) => {
                let t = (r.client, r.vip);
                let ok = encode_record(
                    out,
                    &t,
                    r.version,
                    &r.snap,
                    r.close_after,
                    &r.inbuf,
                    r.resp.as_ref(),
                );
                if !ok {
                    return false;
                }
            }
            Msg::Ack(t, v) => {
                out.push(2);
                put_tuple(t, out);
                out.extend_from_slice(&v.to_be_bytes());
            }
            Msg::Taken(t) => {
                out.push(3);
                put_tuple(t, out);
            }
            Msg::Closed(t) => {
                out.push(4);
                put_tuple(t, out);
            }
            Msg::Hello => out.push(5),
            Msg::HelloAck => out.push(6),
            Msg::Refused(t) => {
                out.push(7);
                put_tuple(t, out);
            }
        }
        out.len() + 2 <= crate::anycast::peer::MAX_REPL
    }

    /// Decodes [`Msg::encode`]'s bytes; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Msg> {
        let mut r = Rd(b);
        let m = match r.u8()? {
            1 => {
                let (client, vip) = r.tuple()?;
                let version = r.u32()?;
                let snap = Snapshot::decode(r.take(SNAPSHOT_LEN)?)?;
                let close_after = r.u8()? != 0;
                let n = r.u16()? as usize;
                let inbuf = r.take(n)?.to_vec();
                let resp = match r.u8()? {
                    0 => None,
                    1 => {
                        let seq = r.u32()?;
                        let n = r.u8()? as usize;
                        let key = String::from_utf8(r.take(n)?.to_vec()).ok()?;
                        let n = r.u8()? as usize;
                        let etag = String::from_utf8(r.take(n)?.to_vec()).ok()?;
                        let (head, dict, head_len) = match r.u16()? {
                            HEAD_REMEMBER => {
                                let key = r.u64()?;
                                let n = r.u16()? as usize;
                                (r.take(n)?.to_vec(), HeadEnc::Remember(key), n)
                            }
                            HEAD_REF => {
                                let key = r.u64()?;
                                let n = r.u16()?;
                                (Vec::new(), HeadEnc::Ref(key, n), n as usize)
                            }
                            n => (r.take(n as usize)?.to_vec(), HeadEnc::Plain, n as usize),
                        };
                        let n = r.u8()? as usize;
                        let mut chunks = Vec::with_capacity(n);
                        for _ in 0..n {
                            let kind = r.u8()?;
                            let (a, l) = (r.varint()?, r.varint()?);
                            chunks.push(match kind {
                                0 => {
                                    let (start, len) = (a as usize, l as usize);
                                    if start.checked_add(len)? > head_len {
                                        return None;
                                    }
                                    Chunk::Head { start, len }
                                }
                                1 => Chunk::Object { offset: a, len: l },
                                _ => return None,
                            });
                        }
                        Some(Resp {
                            seq,
                            key,
                            etag,
                            head,
                            chunks,
                            dict,
                        })
                    }
                    _ => return None,
                };
                Msg::Record(Record {
                    client,
                    vip,
                    version,
                    snap,
                    close_after,
                    inbuf,
                    resp,
                })
            }
            2 => {
                let t = r.tuple()?;
                Msg::Ack(t, r.u32()?)
            }
            3 => Msg::Taken(r.tuple()?),
            4 => Msg::Closed(r.tuple()?),
            5 => Msg::Hello,
            6 => Msg::HelloAck,
            7 => Msg::Refused(r.tuple()?),
            _ => return None,
        };
        r.0.is_empty().then_some(m)
    }
}

/// Appends an encoded message to a batch: the messages one poll produces
/// for one peer share a datagram (and its HMAC), each behind its 16-bit
/// length. Returns false when the batch has no room for it.
pub fn push_batch(batch: &mut Vec<u8>, msg: &[u8]) -> bool {
    if batch.len() + 2 + msg.len() > crate::anycast::peer::MAX_REPL {
        return false;
    }
    batch.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    batch.extend_from_slice(msg);
    true
}

/// The messages of a batch ([`push_batch`]); `None` if it is malformed.
pub fn split_batch(b: &[u8]) -> Option<Vec<Msg>> {
    batch_frames(b)?.map(Msg::decode).collect()
}

/// The messages of a batch, undecoded, once its framing is checked whole
/// (`None`: a length runs past the end). A receiver decodes them one by
/// one, with no list of messages built.
pub fn batch_frames(b: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let mut rest = b;
    while !rest.is_empty() {
        let n = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        rest = rest.get(2 + n..)?;
    }
    let mut rest = b;
    Some(std::iter::from_fn(move || {
        let n = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let m = &rest[2..2 + n];
        rest = &rest[2 + n..];
        Some(m)
    }))
}

/// Appends a record message (what `Msg::Record` encodes) from borrowed
/// parts, so that a primary writes its live state without building a
/// [`Record`] first. Returns false when the response does not fit the
/// format (too many chunks, a key or ETag over 255 bytes).
#[allow(clippy::too_many_arguments)]
pub fn encode_record(
    out: &mut Vec<u8>,
    t: &Tuple,
    version: u32,
    snap: &Snapshot,
    close_after: bool,
    inbuf: &[u8],
    resp: Option<&Resp>,
) -> bool {
    out.push(1);
    put_tuple(t, out);
    out.extend_from_slice(&version.to_be_bytes());
    snap.encode(out);
    out.push(close_after as u8);
    out.extend_from_slice(&(inbuf.len().min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&inbuf[..inbuf.len().min(0xffff)]);
    match resp {
        None => out.push(0),
        Some(p) => {
            if p.chunks.len() > MAX_CHUNKS || p.key.len() > 255 || p.etag.len() > 255 {
                return false;
            }
            out.push(1);
            out.extend_from_slice(&p.seq.to_be_bytes());
            for s in [&p.key, &p.etag] {
                out.push(s.len() as u8);
                out.extend_from_slice(s.as_bytes());
            }
            // The head: a length below 0xfffe and the bytes; or 0xfffe,
            // a key, a length and the bytes (the backup keeps them under
            // the key); or 0xffff, a key and a length (the bytes it kept).
            match p.dict {
                HeadEnc::Plain => {
                    if p.head.len() >= HEAD_REMEMBER as usize {
                        return false;
                    }
                    out.extend_from_slice(&(p.head.len() as u16).to_be_bytes());
                    out.extend_from_slice(&p.head);
                }
                HeadEnc::Remember(key) => {
                    let Ok(n) = u16::try_from(p.head.len()) else {
                        return false;
                    };
                    out.extend_from_slice(&HEAD_REMEMBER.to_be_bytes());
                    out.extend_from_slice(&key.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                    out.extend_from_slice(&p.head);
                }
                HeadEnc::Ref(key, n) => {
                    out.extend_from_slice(&HEAD_REF.to_be_bytes());
                    out.extend_from_slice(&key.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            out.push(p.chunks.len() as u8);
            for c in &p.chunks {
                let (kind, a, b) = match *c {
                    Chunk::Head { start, len } => (0u8, start as u64, len as u64),
                    Chunk::Object { offset, len } => (1u8, offset, len),
                };
                out.push(kind);
                put_varint(a, out);
                put_varint(b, out);
            }
        }
    }
    true
}

/// Writes `v` as an unsigned LEB128 varint, 7 bits per byte, low bits
/// first: chunk offsets and lengths are small, and three records of a
/// small response then share one datagram.
fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    /// An unsigned LEB128 varint (see [`put_varint`]).
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn addr(&mut self) -> Option<SocketAddrV4> {
        let ip = Ipv4Addr::from(self.u32()?);
        Some(SocketAddrV4::new(ip, self.u16()?))
    }
    fn tuple(&mut self) -> Option<Tuple> {
        Some((self.addr()?, self.addr()?))
    }
}

/// Counters of replication, in `show overlay`.
#[derive(Debug, Default)]
pub struct ReplCounters {
    /// Primary: records sent (first copies).
    pub records_sent: Counter,
    /// Replication datagrams sent (each carries the messages of one poll
    /// for one peer: records per datagram is records_sent / this).
    pub datagrams: Counter,
    /// Primary: records the backup confirmed.
    pub records_confirmed: Counter,
    /// Primary: records sent again for want of a confirmation.
    pub record_retries: Counter,
    /// Primary: times the backup was found too slow or gone.
    pub backup_timeouts: Counter,
    /// Primary: connections not replicated because their state does not
    /// fit in a datagram (a long pipelined burst, a many-range answer).
    pub too_big: Counter,
    /// Primary: connections served without replication (backup down).
    pub unreplicated: Counter,
    /// Primary: connections the backup took over (told by [`Msg::Taken`]).
    pub taken_over: Counter,
    /// Backup: records stored.
    pub records_stored: Counter,
    /// Backup: connections continued from a record.
    pub takeovers: Counter,
    /// Backup: client segments with a record that could not be continued
    /// (object missing or changed, ACK outside the record): reset as strays.
    /// Also takeovers whose object could not be fetched again with the
    /// primary's ETag: they end in a RST, and the client asks with a Range.
    pub takeover_missing: Counter,
    /// Backup edge: objects of replicated responses it lacked, fetched
    /// from its own gateway ahead of a takeover.
    pub prefetches: Counter,
    /// Backup edge: takeovers that waited for their object from the
    /// gateway (the prefetch had not finished, or the object was purged).
    pub takeover_fetches: Counter,
    /// Malformed replication messages.
    pub malformed: Counter,
    /// Primary: records whose response head went by reference.
    pub head_refs: Counter,
    /// Backup: records whose head reference it could not resolve (not
    /// confirmed: the primary's retry sends the head whole).
    pub head_misses: Counter,
    /// Backup: records refused because the standby table was full.
    pub standby_full: Counter,
    /// Primary: connections the backup refused to hold (served
    /// unreplicated from then on).
    pub refused: Counter,
    /// Backup: clients of silent primaries asked for their position.
    pub pokes: Counter,
}

/// The standby copy of a connection, with when it arrived.
#[derive(Clone, Debug)]
pub struct Standby {
    /// The record.
    pub rec: Record,
    /// Arrival time (node clock).
    pub at: u64,
    /// The primary's peer-channel address.
    pub from: SocketAddrV4,
    /// When the client was last poked for its position ([`ReplShared::to_poke`]).
    pub poked: u64,
}

/// What [`ReplShared::store`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Kept: the newest version of its connection.
    New,
    /// An older version than the one held (confirmed all the same: the
    /// newer one covers it).
    Stale,
    /// Not kept: the standby table is full of live connections. The backup
    /// must say so ([`Msg::Refused`]) rather than confirm.
    Full,
}

const UP: u8 = 0;
const DOWN: u8 = 1;

/// What every core of a node shares about replication.
#[derive(Debug)]
pub struct ReplShared {
    /// The backup's peer-channel address (a primary), or `None`.
    pub backup: Option<SocketAddrV4>,
    /// How long the backup may take to confirm before it is marked down.
    pub timeout_ns: u64,
    state: AtomicU8,
    standby: Mutex<HashMap<Tuple, Standby>>,
    /// Most standby records kept ([`ReplShared::with_standby_max`]).
    standby_max: usize,
    /// Records in `standby`, readable without the lock (the per-segment
    /// takeover check only locks when there is something to find).
    standby_count: AtomicUsize,
    /// Output-commit delay (record sent -> confirmed), microseconds.
    delay: Mutex<hdrhistogram::Histogram<u64>>,
    /// Counters.
    pub counters: ReplCounters,
    /// Backup: the response heads its primaries sent once.
    pub heads: super::heads::BackupHeads,
    /// Confirmations and takeover notices for connections of another core
    /// than the one the datagram reached ([`super::handoff`]).
    pub handoffs: super::handoff::Handoffs,
}

impl ReplShared {
    /// The replication state of a node of `cores` polling cores; `backup`
    /// from `[overlay] backup`.
    pub fn new(backup: Option<SocketAddrV4>, cores: usize) -> ReplShared {
        ReplShared {
            handoffs: super::handoff::Handoffs::new(cores),
            backup,
            timeout_ns: DEFAULT_TIMEOUT_NS,
            state: AtomicU8::new(UP),
            standby: Mutex::new(HashMap::new()),
            standby_max: STANDBY_MAX,
            standby_count: AtomicUsize::new(0),
            delay: Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)
                    .expect("static histogram bounds"),
            ),
            counters: ReplCounters::default(),
            heads: Default::default(),
        }
    }

    /// The same, keeping at most `n` standby records (`[overlay] standby_max`).
    pub fn with_standby_max(mut self, n: usize) -> ReplShared {
        self.standby_max = n.max(1);
        self
    }

    /// Whether new connections are replicated now.
    pub fn active(&self) -> bool {
        self.backup.is_some() && self.state.load(Ordering::Relaxed) == UP
    }

    /// `show overlay`'s word for the state: off (no backup), up or down.
    pub fn state_name(&self) -> &'static str {
        match (self.backup, self.state.load(Ordering::Relaxed)) {
            (None, _) => "off",
            (_, UP) => "up",
            _ => "down",
        }
    }

    /// The backup did not confirm in time; returns true the first time.
    pub fn mark_down(&self) -> bool {
        let was = self.state.swap(DOWN, Ordering::Relaxed);
        if was == UP {
            self.counters.backup_timeouts.inc();
        }
        was == UP
    }

    /// The backup answered a probe.
    pub fn mark_up(&self) {
        self.state.store(UP, Ordering::Relaxed);
    }

    /// Records one output-commit delay.
    pub fn delay_sample(&self, ns: u64) {
        if let Ok(mut h) = self.delay.lock() {
            let _ = h.record((ns / 1000).clamp(1, 60_000_000));
        }
    }

    /// Output-commit delay: (p50, p99, samples), microseconds.
    pub fn delay_figures(&self) -> (u64, u64, u64) {
        self.delay
            .lock()
            .map(|h| (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.len()))
            .unwrap_or((0, 0, 0))
    }

    /// Stores a record from `from` (a newer version replaces an older one).
    pub fn store(&self, now: u64, from: SocketAddrV4, rec: Record) -> Stored {
        let Ok(mut m) = self.standby.lock() else {
            return Stored::Full;
        };
        let t = (rec.client, rec.vip);
        // An older version of the same connection is superseded; a record
        // with other initial sequence numbers is a new connection on the
        // tuple (its versions start again), whose SYN-time record replaces
        // the old one's even if that one's Closed was lost.
        let same_conn =
            |s: &Standby| s.rec.snap.iss == rec.snap.iss && s.rec.snap.irs == rec.snap.irs;
        if m.get(&t)
            .is_some_and(|s| same_conn(s) && s.rec.version >= rec.version)
        {
            return Stored::Stale;
        }
        if m.len() >= self.standby_max && !m.contains_key(&t) {
            m.retain(|_, s| now.saturating_sub(s.at) < STANDBY_LIFETIME_NS);
            self.standby_count.store(m.len(), Ordering::Relaxed);
            if m.len() >= self.standby_max {
                return Stored::Full;
            }
        }
        self.counters.records_stored.inc();
        m.insert(
            t,
            Standby {
                rec,
                at: now,
                from,
                poked: 0,
            },
        );
        self.standby_count.store(m.len(), Ordering::Relaxed);
        Stored::New
    }

    /// Forgets a connection's record.
    pub fn forget(&self, t: &Tuple) {
        if let Ok(mut m) = self.standby.lock() {
            m.remove(t);
            self.standby_count.store(m.len(), Ordering::Relaxed);
        }
    }

    /// Takes the record of a connection for a takeover (a fresh one only).
    pub fn take(&self, now: u64, t: &Tuple) -> Option<Standby> {
        if self.standby_len() == 0 {
            return None;
        }
        let mut m = self.standby.lock().ok()?;
        let s = m.remove(t);
        self.standby_count.store(m.len(), Ordering::Relaxed);
        s.filter(|s| now.saturating_sub(s.at) < STANDBY_LIFETIME_NS)
    }

    /// Records whose primary went silent while the response was not yet
    /// acknowledged: the client may be waiting for data and send nothing,
    /// so the backup asks it where it is (at most once per [`SILENT_NS`]).
    pub fn to_poke(&self, now: u64) -> Vec<Standby> {
        let Ok(mut m) = self.standby.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in m.values_mut() {
            let open = s.rec.resp.as_ref().is_some_and(|r| {
                let end = r.seq.wrapping_add(r.len() as u32);
                (end.wrapping_sub(s.rec.snap.snd_una) as i32) > 0
            });
            let quiet = now.saturating_sub(s.at) >= SILENT_NS
                && now.saturating_sub(s.at) < STANDBY_LIFETIME_NS;
            if open && quiet && now.saturating_sub(s.poked) >= SILENT_NS {
                s.poked = now;
                out.push(s.clone());
            }
        }
        out
    }

    /// Standby records held.
    pub fn standby_len(&self) -> usize {
        self.standby_count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            client: "10.0.1.2:40000".parse().unwrap(),
            vip: "203.0.113.10:80".parse().unwrap(),
            version: 7,
            snap: Snapshot {
                iss: 9,
                rcv_nxt: 77,
                ..Snapshot::default()
            },
            close_after: true,
            inbuf: b"GET /b HTTP/1.1\r\n".to_vec(),
            resp: Some(Resp {
                seq: 1234,
                key: "/a.bin".into(),
                etag: "\"abc\"".into(),
                head: b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
                chunks: vec![
                    Chunk::Head { start: 0, len: 19 },
                    Chunk::Object {
                        offset: 0,
                        len: 1000,
                    },
                ],
                dict: HeadEnc::Plain,
            }),
        }
    }

    #[test]
    fn a_head_goes_whole_with_a_key_or_by_its_key_alone() {
        let mut whole = rec();
        whole.resp.as_mut().unwrap().dict = HeadEnc::Remember(0x0102_0304_0506_0708);
        let b = Msg::Record(whole.clone()).encode().unwrap();
        assert_eq!(Msg::decode(&b), Some(Msg::Record(whole.clone())));
        let mut by_key = rec();
        let r = by_key.resp.as_mut().unwrap();
        r.dict = HeadEnc::Ref(0x0102_0304_0506_0708, 19);
        let plain_len = Msg::Record(rec()).encode().unwrap().len();
        let b = Msg::Record(by_key.clone()).encode().unwrap();
        assert_eq!(
            b.len(),
            plain_len - 19 + 10,
            "the key and length replace the bytes"
        );
        for n in 0..b.len() {
            assert_eq!(Msg::decode(&b[..n]), None, "cut at {n}");
        }
        let Some(Msg::Record(got)) = Msg::decode(&b) else {
            panic!("decodes")
        };
        let g = got.resp.unwrap();
        assert!(g.head.is_empty(), "the backup resolves it");
        assert_eq!(g.dict, HeadEnc::Ref(0x0102_0304_0506_0708, 19));
        assert_eq!(g.chunks, rec().resp.unwrap().chunks);
        // A chunk past the declared length is malformed, as past the bytes.
        by_key.resp.as_mut().unwrap().dict = HeadEnc::Ref(1, 18);
        let b = Msg::Record(by_key).encode().unwrap();
        assert_eq!(Msg::decode(&b), None);
    }

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::Record(rec()),
            Msg::Record(Record {
                resp: None,
                ..rec()
            }),
            Msg::Ack((rec().client, rec().vip), 9),
            Msg::Taken((rec().client, rec().vip)),
            Msg::Closed((rec().client, rec().vip)),
            Msg::Hello,
            Msg::HelloAck,
            Msg::Refused((rec().client, rec().vip)),
        ] {
            let b = m.encode().unwrap();
            assert_eq!(Msg::decode(&b), Some(m.clone()));
            // Every truncation is refused, never misread.
            for n in 0..b.len() {
                assert_eq!(Msg::decode(&b[..n]), None, "{m:?} cut at {n}");
            }
        }
        assert_eq!(rec().resp.unwrap().len(), 1019);
    }

    #[test]
    fn batches_carry_several_messages_and_refuse_overflow() {
        let mut b = Vec::new();
        let one = Msg::Record(rec()).encode().unwrap();
        let mut n = 0;
        while push_batch(&mut b, &one) {
            n += 1;
        }
        assert!(n >= 2 && b.len() <= crate::anycast::peer::MAX_REPL);
        assert!(push_batch(&mut b, &Msg::Hello.encode().unwrap()));
        let ms = split_batch(&b).unwrap();
        assert_eq!(ms.len(), n + 1);
        assert_eq!(ms[0], Msg::Record(rec()));
        assert_eq!(ms[n], Msg::Hello);
        assert_eq!(split_batch(&b[..b.len() - 1]), None);
        assert_eq!(split_batch(&[]), Some(vec![]));
    }

    #[test]
    fn chunk_positions_are_varints_of_any_size() {
        for v in [0, 1, 127, 128, 16_383, 16_384, 5 << 32, u64::MAX] {
            let mut b = Vec::new();
            put_varint(v, &mut b);
            assert_eq!(Rd(&b).varint(), Some(v), "{v}");
            assert!(b.len() <= 10);
            assert_eq!(Rd(&b[..b.len() - 1]).varint(), None, "cut {v}");
        }
        // More than ten continuation bytes is malformed, not a wrap.
        assert_eq!(Rd(&[0x80; 11]).varint(), None);
        let mut r = rec();
        r.resp.as_mut().unwrap().chunks[1] = Chunk::Object {
            offset: 6 << 30,
            len: 1 << 20,
        };
        let m = Msg::Record(r);
        assert_eq!(Msg::decode(&m.encode().unwrap()), Some(m));
    }

    #[test]
    fn a_full_batch_fits_one_frame_with_the_longest_node_name() {
        use crate::anycast::peer::{encode, Body, Message, MAX_REPL};
        let msg = Message {
            from: "n".repeat(64),
            unix_ms: 1,
            body: Body::Repl(vec![7; MAX_REPL]),
        };
        let mut out = Vec::new();
        encode(b"site-secret", &msg, &mut out);
        assert_eq!(
            out.len(),
            1500 - 20 - 8,
            "an IPv4 + UDP packet of 1500 bytes"
        );
    }

    #[test]
    fn a_head_chunk_outside_the_head_is_malformed() {
        let mut r = rec();
        r.resp.as_mut().unwrap().chunks[0] = Chunk::Head { start: 5, len: 19 };
        let b = Msg::Record(r).encode().unwrap();
        assert_eq!(Msg::decode(&b), None);
    }

    #[test]
    fn a_record_too_big_for_a_datagram_is_not_encoded() {
        let mut r = rec();
        r.inbuf = vec![b'x'; 2000];
        assert_eq!(Msg::Record(r).encode(), None);
    }

    #[test]
    fn standby_keeps_the_newest_version_and_takes_it_once() {
        let s = ReplShared::new(None, 1);
        let from = "10.0.2.2:7700".parse().unwrap();
        assert_eq!(s.store(0, from, rec()), Stored::New);
        assert_eq!(
            s.store(
                1,
                from,
                Record {
                    version: 6,
                    ..rec()
                }
            ),
            Stored::Stale
        );
        assert_eq!(
            s.store(
                2,
                from,
                Record {
                    version: 8,
                    ..rec()
                }
            ),
            Stored::New
        );
        let t = (rec().client, rec().vip);
        assert_eq!(s.take(3, &t).map(|x| x.rec.version), Some(8));
        assert!(s.take(4, &t).is_none());
        assert_eq!(s.store(0, from, rec()), Stored::New);
        assert!(s.take(STANDBY_LIFETIME_NS, &t).is_none(), "expired");
    }

    #[test]
    fn a_full_standby_table_refuses_new_connections_but_updates_held_ones() {
        let s = ReplShared::new(None, 1).with_standby_max(2);
        let from = "10.0.2.2:7700".parse().unwrap();
        let on = |port: u16| Record {
            client: SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 2), port),
            ..rec()
        };
        assert_eq!(s.store(0, from, on(1)), Stored::New);
        assert_eq!(s.store(0, from, on(2)), Stored::New);
        assert_eq!(s.store(1, from, on(3)), Stored::Full, "a third connection");
        let newer = Record {
            version: 9,
            ..on(2)
        };
        assert_eq!(
            s.store(1, from, newer),
            Stored::New,
            "a held one still moves on"
        );
        assert_eq!(s.standby_len(), 2);
    }

    #[test]
    fn a_new_connection_on_the_tuple_replaces_an_old_record_of_a_higher_version() {
        let s = ReplShared::new(None, 1);
        let from = "10.0.2.2:7700".parse().unwrap();
        let old = Record {
            version: 9,
            ..rec()
        };
        assert_eq!(s.store(0, from, old.clone()), Stored::New);
        // Its Closed was lost; the tuple's next connection starts at 1.
        let mut new = Record {
            version: 1,
            ..rec()
        };
        new.snap.iss = old.snap.iss.wrapping_add(12345);
        assert_eq!(s.store(1, from, new), Stored::New);
        let t = (rec().client, rec().vip);
        let got = s.take(2, &t).unwrap().rec;
        assert_eq!(
            (got.version, got.snap.iss),
            (1, old.snap.iss.wrapping_add(12345))
        );
    }

    #[test]
    fn a_timeout_marks_the_backup_down_once_until_it_answers() {
        let s = ReplShared::new(Some("10.0.3.2:7700".parse().unwrap()), 1);
        assert_eq!(s.state_name(), "up");
        assert!(s.mark_down());
        assert!(!s.mark_down());
        assert_eq!(s.counters.backup_timeouts.get(), 1);
        assert_eq!(s.state_name(), "down");
        assert!(!s.active());
        s.mark_up();
        assert!(s.active());
    }
}
