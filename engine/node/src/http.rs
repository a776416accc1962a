//! The HTTP/1.1 service on one TCP connection: requests in, cached objects
//! out (DESIGN.md: serve content straight from the cache region).
//!
//! The protocol work is done by the sans-IO `anyedge_http` crate; this
//! module keeps a connection's request buffer and response progress, moves
//! bytes between them and the TCP connection, and enforces the timeouts that
//! protect a core from slow clients: a header-read timeout from the first
//! byte of a request to its end, and an idle timeout between keep-alive
//! requests. Buffers are allocated once per connection and reused for every
//! request on it.

use anyedge_cache::{Cache, Object};
use anyedge_http::{
    cache_key, parse_request, plan, write_response, write_simple, Chunk, Limits, Method,
    ObjectMeta, Parsed,
};
use anyedge_port::Counter;
use anyedge_tcp::buffer::Shared;
use anyedge_tcp::Conn;
use std::sync::Arc;

/// Time from the first byte of a request to its complete head.
pub const HEADER_TIMEOUT_NS: u64 = 10_000_000_000;
/// Time a keep-alive connection may sit idle between requests.
pub const IDLE_TIMEOUT_NS: u64 = 60_000_000_000;
/// Request bytes buffered per connection (a head plus pipelined requests).
const INBUF: usize = 16 * 1024;

/// Statuses counted one by one in `show http`.
pub const STATUSES: [u16; 15] = [
    200, 206, 304, 400, 404, 405, 408, 414, 416, 431, 500, 501, 502, 504, 505,
];

/// HTTP counters of one core.
#[derive(Debug)]
pub struct HttpCounters {
    /// Requests parsed (complete heads) plus requests refused as malformed.
    pub requests: Counter,
    /// Responses by status, in [`STATUSES`] order.
    pub status: [Counter; STATUSES.len()],
    /// Body bytes queued to clients.
    pub body_bytes: Counter,
    /// Connections closed because a request head did not arrive in time.
    pub header_timeouts: Counter,
    /// Keep-alive connections closed for idling.
    pub idle_timeouts: Counter,
}

impl Default for HttpCounters {
    fn default() -> Self {
        HttpCounters {
            requests: Counter::default(),
            status: std::array::from_fn(|_| Counter::default()),
            body_bytes: Counter::default(),
            header_timeouts: Counter::default(),
            idle_timeouts: Counter::default(),
        }
    }
}

impl HttpCounters {
    fn count(&self, status: u16) {
        if let Some(i) = STATUSES.iter().position(|&s| s == status) {
            self.status[i].inc();
        }
    }
}

/// What the server needs from the node.
pub struct HttpCtx<'a> {
    /// The site's anycast state (path metrics for resumes), if any.
    pub anycast: Option<&'a crate::anycast::shared::AnycastShared>,
    /// The content store.
    pub cache: &'a Cache,
    /// Request limits.
    pub limits: &'a Limits,
    /// Wall-clock time, unix seconds (for Date).
    pub unix_now: u64,
    /// Counters.
    pub counters: &'a HttpCounters,
    /// An overlay edge: a miss is fetched from the gateway instead of
    /// answered 404.
    pub fetch_misses: bool,
}

/// The part of a connection's HTTP state a backup needs to go on.
#[derive(Debug)]
pub struct ReplicaView<'a> {
    /// Request bytes received and not yet answered.
    pub inbuf: &'a [u8],
    /// Whether the connection closes after the response.
    pub close_after: bool,
    /// The current (or last) response's head buffer.
    pub head: &'a [u8],
    /// Its chunks.
    pub chunks: &'a [Chunk],
    /// Its cache key.
    pub key: &'a str,
    /// Its object, while it is being sent.
    pub obj: Option<&'a Arc<Object>>,
}

/// One connection's HTTP state.
#[derive(Debug)]
pub struct HttpConn {
    inbuf: Vec<u8>,
    head: Vec<u8>,
    chunks: Vec<Chunk>,
    next: usize,
    offset: u64,
    obj: Option<Arc<Object>>,
    sending: bool,
    close_after: bool,
    key: String,
    /// Whether this connection resumed from a path-metrics entry.
    pub resumed: bool,
    /// When the connection must have made progress (header or idle timeout).
    pub deadline: Option<u64>,
    waiting_for_head: bool,
    /// A miss for the stack to fetch (overlay edge).
    miss: Option<String>,
    /// Waiting for a fetch: the request stays in the buffer until the
    /// object is in the cache or the fetch failed.
    fetching: bool,
    /// The status a failed fetch left for the waiting request.
    fetch_status: Option<u16>,
    /// Replicated connection (overlay `backup`): answer a request only once
    /// the previous response is acknowledged, so a backup needs the state
    /// of one response at a time.
    pub replicated: bool,
    /// Output commit: the response is ready but waits for the backup's
    /// confirmation before its first byte goes out.
    pub hold: bool,
    /// Responses prepared on this connection (tells the replication that a
    /// new one needs committing).
    answered: u32,
    /// A takeover whose object this node lacked: the key and the strong
    /// ETag the primary served, waiting for the fetch from our gateway.
    refill: Option<(String, String)>,
}

impl HttpConn {
    /// State for a new connection (the header timeout starts now).
    pub fn new(now: u64) -> HttpConn {
        HttpConn {
            inbuf: Vec::with_capacity(INBUF),
            head: Vec::with_capacity(1024),
            chunks: Vec::with_capacity(40),
            next: 0,
            offset: 0,
            obj: None,
            sending: false,
            close_after: false,
            key: String::with_capacity(256),
            resumed: false,
            deadline: Some(now + HEADER_TIMEOUT_NS),
            waiting_for_head: true,
            miss: None,
            fetching: false,
            fetch_status: None,
            replicated: false,
            hold: false,
            answered: 0,
            refill: None,
        }
    }

    /// Responses prepared so far on this connection.
    pub fn answered(&self) -> u32 {
        self.answered
    }

    /// What a backup needs to go on (see [`ReplicaView`]).
    pub fn replica(&self) -> ReplicaView<'_> {
        ReplicaView {
            inbuf: &self.inbuf,
            close_after: self.close_after,
            head: &self.head,
            chunks: &self.chunks,
            key: &self.key,
            obj: self.obj.as_ref(),
        }
    }

    /// A backup's copy of a replicated connection at takeover: `inbuf` is
    /// the unanswered request bytes; the response (head buffer, chunks and
    /// object) resumes `skip` bytes in, where the client's ACK says it got to.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        now: u64,
        inbuf: &[u8],
        close_after: bool,
        head: &[u8],
        chunks: &[Chunk],
        obj: Option<Arc<Object>>,
        mut skip: u64,
    ) -> HttpConn {
        let mut h = HttpConn::new(now);
        h.inbuf.extend_from_slice(inbuf);
        h.close_after = close_after;
        h.head.extend_from_slice(head);
        h.chunks.extend_from_slice(chunks);
        h.obj = obj;
        h.answered = 1;
        h.waiting_for_head = false;
        // Position the pump inside the response stream.
        while h.next < h.chunks.len() {
            let len = h.chunks[h.next].len();
            if skip < len {
                h.offset = skip;
                break;
            }
            skip -= len;
            h.next += 1;
        }
        h.sending = !h.chunks.is_empty();
        h.deadline = None;
        h
    }

    /// A restored response whose object is not cached here: park it until
    /// our gateway brings `key`, then serve it only if its ETag is `etag`
    /// (the same bytes the primary was sending). See [`HttpConn::refilled`].
    pub fn refetch(&mut self, key: &str, etag: &str) {
        self.refill = Some((key.to_string(), etag.to_string()));
        self.fetching = true;
    }

    /// The key and ETag a parked takeover waits for.
    pub fn refill(&self) -> Option<(&str, &str)> {
        self.refill.as_ref().map(|(k, e)| (k.as_str(), e.as_str()))
    }

    /// The object a parked takeover waited for arrived: the response goes on
    /// where the client's ACK said it got to.
    pub fn refilled(&mut self, obj: Arc<Object>) {
        self.refill = None;
        self.fetching = false;
        self.obj = Some(obj);
        self.deadline = None;
    }

    /// The key of a miss to fetch, once (overlay edge).
    pub fn take_miss(&mut self) -> Option<String> {
        self.miss.take()
    }

    /// Whether a request waits for a fetch.
    pub fn fetching(&self) -> bool {
        self.fetching
    }

    /// The fetch for the waiting request ended: the object is in the cache
    /// (`None`), or the request is to be answered with `status`.
    pub fn fetch_done(&mut self, status: Option<u16>, now: u64) {
        self.fetching = false;
        self.fetch_status = status;
        self.deadline = Some(now + HEADER_TIMEOUT_NS);
    }

    /// Reads what arrived, answers every complete request in order
    /// (pipelining), and keeps the send buffer full.
    pub fn serve(&mut self, c: &mut Conn, now: u64, ctx: &HttpCtx) {
        if self.fetching {
            return;
        }
        loop {
            if self.sending {
                if self.hold {
                    break;
                }
                self.pump(c, ctx);
                if self.sending {
                    break;
                }
                if self.close_after {
                    c.close();
                    self.deadline = None;
                    return;
                }
                self.deadline = Some(now + IDLE_TIMEOUT_NS);
                self.waiting_for_head = false;
            }
            let room = INBUF - self.inbuf.len();
            if room > 0 && c.readable() > 0 {
                c.recv_append(&mut self.inbuf, room);
            }
            if self.inbuf.is_empty() {
                break;
            }
            if !self.waiting_for_head {
                // First bytes of the next request: the header timeout runs.
                self.waiting_for_head = true;
                self.deadline = Some(now + HEADER_TIMEOUT_NS);
            }
            if self.replicated && c.unacked() > 0 {
                // The backup tracks one response: the next waits for the ACK.
                break;
            }
            if !self.answer(c, now, ctx) {
                break;
            }
            self.answered = self.answered.wrapping_add(1);
            self.hold = self.replicated;
        }
        if c.at_eof() && !self.sending && !self.fetching {
            c.close();
            self.deadline = None;
        }
    }

    /// Parses one request from the buffer and prepares its response.
    /// Returns false when the head is not complete yet.
    fn answer(&mut self, c: &mut Conn, now: u64, ctx: &HttpCtx) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let limit = ctx.limits.max_headers.min(headers.len());
        let parsed = parse_request(&self.inbuf, ctx.limits, &mut headers[..limit]);
        self.head.clear();
        self.chunks.clear();
        self.next = 0;
        self.offset = 0;
        self.obj = None;
        let used = match parsed {
            Parsed::Partial => return false,
            Parsed::Error(e) => {
                ctx.counters.requests.inc();
                ctx.counters.count(e.status);
                write_simple(e.status, ctx.unix_now, false, false, &mut self.head);
                self.close_after = true;
                self.inbuf.len()
            }
            Parsed::Complete(req, used) => {
                let head_only = req.method == Method::Head;
                self.close_after = !req.keep_alive;
                let status = if req.method == Method::Other {
                    write_simple(405, ctx.unix_now, req.keep_alive, head_only, &mut self.head);
                    405
                } else {
                    self.key.clear();
                    match cache_key(req.path, &mut self.key) {
                        Err(e) => {
                            write_simple(
                                e.status,
                                ctx.unix_now,
                                req.keep_alive,
                                head_only,
                                &mut self.head,
                            );
                            e.status
                        }
                        Ok(()) => match ctx.cache.get(&self.key) {
                            None if ctx.fetch_misses && self.fetch_status.is_none() => {
                                // Overlay edge: fetch it, then answer this
                                // request again from the cache.
                                self.miss = Some(self.key.clone());
                                self.fetching = true;
                                self.deadline = None;
                                return false;
                            }
                            None => {
                                let code = self.fetch_status.take().unwrap_or(404);
                                write_simple(
                                    code,
                                    ctx.unix_now,
                                    req.keep_alive,
                                    head_only,
                                    &mut self.head,
                                );
                                code
                            }
                            Some(obj) => {
                                self.fetch_status = None;
                                let meta = ObjectMeta {
                                    len: obj.len(),
                                    etag: &obj.etag,
                                    last_modified: obj.last_modified,
                                    content_type: obj.content_type,
                                };
                                let p = plan(&req, &meta);
                                write_response(
                                    &p,
                                    &meta,
                                    ctx.unix_now,
                                    req.keep_alive,
                                    head_only,
                                    &mut self.head,
                                    &mut self.chunks,
                                );
                                self.obj = Some(obj);
                                self.maybe_resume(c, now, &p, ctx);
                                status_of(&p)
                            }
                        },
                    }
                };
                // Counted once answered (a fetched miss is answered twice).
                ctx.counters.requests.inc();
                ctx.counters.count(status);
                used
            }
        };
        if self.chunks.is_empty() {
            self.chunks.push(Chunk::Head {
                start: 0,
                len: self.head.len(),
            });
        }
        self.inbuf.drain(..used.min(self.inbuf.len()));
        self.sending = true;
        self.deadline = None;
        true
    }

    /// A Range request that does not start at 0 is a resumed download: with
    /// a fresh path-metrics entry for this client, the connection starts
    /// from the path's saved window instead of slow start (anycast issue).
    fn maybe_resume(&mut self, c: &mut Conn, now: u64, p: &anyedge_http::Plan, ctx: &HttpCtx) {
        use crate::config::ResumePolicy;
        use anyedge_http::Plan;
        let Some(a) = ctx.anycast else { return };
        let start = match p {
            Plan::Single { start, .. } => *start,
            Plan::Multi(r) => r.first().map(|x| x.0).unwrap_or(0),
            _ => 0,
        };
        if start == 0 || self.resumed || a.resume == ResumePolicy::Off {
            return;
        }
        let entry = a
            .table
            .lock()
            .ok()
            .and_then(|mut t| t.take(*c.remote.ip(), now));
        let Some(e) = entry else {
            a.counters.resumes_no_entry.inc();
            return;
        };
        let policy = match a.resume {
            ResumePolicy::Jump => {
                a.counters.resumes_jump.inc();
                anyedge_tcp::resume::Policy::Jump
            }
            _ => {
                a.counters.resumes_careful.inc();
                anyedge_tcp::resume::Policy::Careful
            }
        };
        c.resume(
            policy,
            e.cwnd as usize,
            u64::from(e.min_rtt_us.max(1)) * 1000,
        );
        self.resumed = true;
    }

    /// Copies the next response bytes into the connection's send buffer.
    fn pump(&mut self, c: &mut Conn, ctx: &HttpCtx) {
        while self.next < self.chunks.len() {
            let (n, want) = match self.chunks[self.next] {
                Chunk::Head { start, len } => {
                    let rest = &self.head[start + (self.offset as usize).min(len)..start + len];
                    (c.send(rest), rest.len())
                }
                // Zero-copy TX: the body goes into the send buffer as a
                // reference to the cached object, and segments are cut
                // from the cache region itself.
                Chunk::Object { offset, len } => match &self.obj {
                    Some(o) => {
                        let total = o.bytes().len() as u64;
                        let s = (offset + self.offset).min(total);
                        let e = (offset + len).min(total);
                        let shared: Shared = o.clone();
                        let n = c.send_shared(&shared, s as usize, (e - s) as usize);
                        ctx.counters.body_bytes.add(n as u64);
                        (n, (e - s) as usize)
                    }
                    None => (0, 0),
                },
            };
            self.offset += n as u64;
            if n < want {
                return;
            }
            self.next += 1;
            self.offset = 0;
        }
        self.sending = false;
        self.obj = None;
    }

    /// Runs the header and idle timeouts; returns true when the connection
    /// should be closed.
    pub fn timed_out(&mut self, now: u64, counters: &HttpCounters) -> bool {
        match self.deadline {
            Some(d) if d <= now => {
                if self.waiting_for_head {
                    counters.header_timeouts.inc();
                } else {
                    counters.idle_timeouts.inc();
                }
                self.deadline = None;
                true
            }
            _ => false,
        }
    }
}

fn status_of(p: &anyedge_http::Plan) -> u16 {
    use anyedge_http::Plan;
    match p {
        Plan::Full => 200,
        Plan::NotModified => 304,
        Plan::Single { .. } | Plan::Multi(_) => 206,
        Plan::Unsatisfiable => 416,
    }
}
