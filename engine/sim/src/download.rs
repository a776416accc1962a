//! An HTTP download client for the simulator's host, on the engine's TCP
//! core: it fetches one object and, when its connection is reset (the
//! anycast route moved it to a node that never heard of it), asks again with
//! `Range: bytes=K-` and `If-Range` (RFC 9110 14.2, 13.1.5), as wget and
//! curl do. Each step is logged with its virtual time for the demo's
//! timeline.

use anyedge_tcp::conn::{Conn, ConnConfig, Event};
use std::net::SocketAddrV4;

/// Bytes of response head the client accepts.
const MAX_HEAD: usize = 16 * 1024;

/// One download and its history.
#[derive(Debug)]
pub struct Download {
    /// Server address (the VIP).
    pub remote: SocketAddrV4,
    /// Request path.
    pub path: String,
    cfg: ConnConfig,
    /// The current connection.
    pub conn: Option<Conn>,
    next_port: u16,
    head: Vec<u8>,
    in_body: bool,
    body_left: u64,
    /// The object bytes received so far, in order.
    pub data: Vec<u8>,
    /// Object length, once a response said it.
    pub total: Option<u64>,
    /// Strong ETag of the object, for If-Range.
    pub etag: Option<String>,
    /// (virtual time, what happened).
    pub events: Vec<(u64, String)>,
    /// When the download starts.
    pub start_at: u64,
    /// When the last byte arrived.
    pub done_at: Option<u64>,
    /// Connections reset under the client.
    pub resets: u32,
    /// Requests sent.
    pub requests: u32,
    retry_at: Option<u64>,
    /// Local address of each connection, in order.
    pub conns: Vec<SocketAddrV4>,
    /// (virtual time, bytes) each time another MiB arrived.
    pub progress: Vec<(u64, usize)>,
}

impl Download {
    /// A download of `path` from `remote` starting at `at`, from local
    /// ports counting up from `first_port`.
    pub fn new(
        remote: SocketAddrV4,
        path: &str,
        at: u64,
        cfg: ConnConfig,
        first_port: u16,
    ) -> Self {
        Download {
            remote,
            path: path.to_string(),
            cfg,
            conn: None,
            next_port: first_port,
            head: Vec::new(),
            in_body: false,
            body_left: 0,
            data: Vec::new(),
            total: None,
            etag: None,
            events: Vec::new(),
            start_at: at,
            done_at: None,
            resets: 0,
            requests: 0,
            retry_at: Some(at),
            conns: Vec::new(),
            progress: Vec::new(),
        }
    }

    /// Whether every byte arrived.
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// When the client next needs to run.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        if self.done() && self.conn.as_ref().is_none_or(|c| c.is_closed()) {
            return None;
        }
        let t = self.conn.as_ref().and_then(|c| c.poll_timeout());
        [t, self.retry_at]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(now + 1))
    }

    /// Advances the download: opens or reopens the connection, reads the
    /// response, and handles resets.
    pub fn run(&mut self, now: u64, local_ip: std::net::Ipv4Addr, scratch: &mut [u8]) {
        if self.conn.is_none() && !self.done() && self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.open(now, local_ip);
        }
        let Some(c) = self.conn.as_mut() else { return };
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
        }
        loop {
            let n = match self.conn.as_mut() {
                Some(c) => c.recv(scratch),
                None => 0,
            };
            if n == 0 {
                break;
            }
            let mut bytes = &scratch[..n];
            while !bytes.is_empty() {
                if !self.in_body {
                    let take = bytes.len().min(MAX_HEAD - self.head.len());
                    self.head.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if let Some(used) = self.parse_head(now) {
                        // Give back what belonged to the body.
                        let extra = self.head.split_off(used);
                        self.take_body(now, &extra);
                        self.head.clear();
                    } else {
                        break;
                    }
                } else {
                    let k = bytes.len().min(self.body_left as usize);
                    let (body, rest) = bytes.split_at(k);
                    let b = body.to_vec();
                    self.take_body(now, &b);
                    bytes = rest;
                    if !rest.is_empty() {
                        break;
                    }
                }
            }
        }
        let mut lost = None;
        if let Some(c) = self.conn.as_mut() {
            while let Some(e) = c.poll_event() {
                if matches!(e, Event::Reset | Event::TimedOut) {
                    lost = Some(e);
                }
            }
        }
        if let Some(e) = lost {
            let why = if e == Event::Reset {
                "reset"
            } else {
                "timed out"
            };
            self.events.push((
                now,
                format!(
                    "client: connection {why} at byte {} of {}",
                    self.data.len(),
                    self.total.unwrap_or(0)
                ),
            ));
            self.resets += 1;
            self.conn = None;
            if !self.done() {
                // Ask again at once, as wget does after a reset.
                self.retry_at = Some(now + 1_000_000);
            }
        }
    }

    fn open(&mut self, now: u64, local_ip: std::net::Ipv4Addr) {
        let local = SocketAddrV4::new(local_ip, self.next_port);
        self.next_port = self.next_port.wrapping_add(1).max(1024);
        let mut c = Conn::connect(
            self.cfg,
            local,
            self.remote,
            0x2000 + u32::from(local.port()) * 7919,
            now,
        );
        let have = self.data.len();
        let mut req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\n",
            self.path,
            self.remote.ip()
        );
        if have > 0 {
            req += &format!("Range: bytes={have}-\r\n");
            if let Some(e) = &self.etag {
                req += &format!("If-Range: {e}\r\n");
            }
        }
        req += "\r\n";
        c.send(req.as_bytes());
        self.requests += 1;
        self.events.push((
            now,
            if have > 0 {
                format!(
                    "client: GET {} Range: bytes={have}- (If-Range {})",
                    self.path,
                    self.etag.as_deref().unwrap_or("-")
                )
            } else {
                format!("client: GET {}", self.path)
            },
        ));
        self.head.clear();
        self.in_body = false;
        self.conns.push(local);
        self.conn = Some(c);
    }

    /// Parses the response head; returns its length when complete.
    fn parse_head(&mut self, now: u64) -> Option<usize> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Response::new(&mut headers);
        let used = match r.parse(&self.head) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => return None,
        };
        let code = r.code.unwrap_or(0);
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        let len: u64 = get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if let Some(e) = get("etag") {
            self.etag = Some(e.to_string());
        }
        match code {
            200 => {
                // A full body: start over (If-Range did not match, or first request).
                self.data.clear();
                self.total = Some(len);
            }
            206 => {
                // Content-Range: bytes START-END/TOTAL
                let cr = get("content-range").unwrap_or("");
                let total = cr.rsplit('/').next().and_then(|t| t.parse().ok());
                let start: Option<usize> = cr
                    .strip_prefix("bytes ")
                    .and_then(|s| s.split('-').next())
                    .and_then(|s| s.parse().ok());
                if start != Some(self.data.len()) {
                    self.data.truncate(start.unwrap_or(0));
                }
                self.total = total.or(self.total);
            }
            _ => {}
        }
        self.events
            .push((now, format!("client: HTTP {code}, {len} bytes follow")));
        self.in_body = true;
        self.body_left = len;
        Some(used)
    }

    fn take_body(&mut self, now: u64, bytes: &[u8]) {
        let k = bytes.len().min(self.body_left as usize);
        let before = self.data.len() >> 20;
        self.data.extend_from_slice(&bytes[..k]);
        if self.data.len() >> 20 > before {
            self.progress.push((now, self.data.len()));
        }
        self.body_left -= k as u64;
        if self.body_left == 0 {
            self.in_body = false;
            if self.total.is_some_and(|t| self.data.len() as u64 >= t) && self.done_at.is_none() {
                self.done_at = Some(now);
                self.events.push((
                    now,
                    format!("client: all {} bytes received", self.data.len()),
                ));
                if let Some(c) = self.conn.as_mut() {
                    c.close();
                }
            }
        }
    }
}
