//! An HTTP download client on the engine's sans-IO TCP core: it fetches one
//! object and, when its connection is reset (the anycast route moved it to a
//! node that never heard of it), asks again with `Range: bytes=K-` and
//! `If-Range` (RFC 9110 14.2, 13.1.5), as wget and curl do. It is the client
//! of the patent's takeover story: the simulator's hosts run it in virtual
//! time and `anyedge get` runs it on a real port. Each step is logged with
//! its time for the demo's timeline.
//!
//! Like the TCP core it reads no clock: the caller passes `now` to
//! [`Download::run`] and moves segments between the connection and the wire.

use anyedge_tcp::conn::{Conn, ConnConfig, Event};
use std::net::SocketAddrV4;

/// Where the object's bytes go: memory (the simulator checks every byte) or
/// a file (`anyedge get -o`). Bytes always arrive in order; a `200` after a
/// resumed request restarts the object and a `206` may start below the end.
pub trait Sink {
    /// Bytes held.
    fn len(&self) -> u64;
    /// Whether nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Keeps the first `len` bytes.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
    /// Appends bytes at the end.
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl Sink for Vec<u8> {
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        Vec::truncate(self, len as usize);
        Ok(())
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A file written from its start; what is already in it counts as received,
/// so a download into an existing partial file resumes like `curl -C -`.
#[derive(Debug)]
pub struct FileSink {
    file: std::fs::File,
    len: u64,
}

impl FileSink {
    /// Opens (or creates) `path`; with `resume` its current bytes are kept,
    /// otherwise it is emptied.
    pub fn open(path: &std::path::Path, resume: bool) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(!resume)
            .open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSink { file, len })
    }
}

impl Sink for FileSink {
    fn len(&self) -> u64 {
        self.len
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// Bytes of response head the client accepts.
const MAX_HEAD: usize = 16 * 1024;

/// One download and its history.
#[derive(Debug)]
pub struct Download<S: Sink = Vec<u8>> {
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
    pub data: S,
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
    /// Base of the initial sequence numbers of the client's connections;
    /// a real client sets a random one (RFC 6528).
    pub isn_base: u32,
    /// Largest read rate in bytes per second (`--limit-rate`, as wget and
    /// curl have): a slower reader closes the TCP window.
    pub rate_limit: Option<u64>,
    /// Connections opened without any body byte arriving, in a row, before
    /// the client gives up (wget's `--tries`).
    pub tries: u32,
    failed_in_row: u32,
    read_total: u64,
    /// Why the download stopped early: a sink error or too many tries.
    pub error: Option<String>,
}

impl Download<Vec<u8>> {
    /// A download of `path` from `remote` into memory, starting at `at`, from
    /// local ports counting up from `first_port`.
    pub fn new(
        remote: SocketAddrV4,
        path: &str,
        at: u64,
        cfg: ConnConfig,
        first_port: u16,
    ) -> Self {
        Download::with_sink(remote, path, at, cfg, first_port, Vec::new())
    }
}

impl<S: Sink> Download<S> {
    /// A download of `path` from `remote` into `sink`, starting at `at`,
    /// from local ports counting up from `first_port`. Bytes already in the
    /// sink count as received: the first request asks for the rest.
    pub fn with_sink(
        remote: SocketAddrV4,
        path: &str,
        at: u64,
        cfg: ConnConfig,
        first_port: u16,
        sink: S,
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
            data: sink,
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
            isn_base: 0x2000,
            rate_limit: None,
            tries: 20,
            failed_in_row: 0,
            read_total: 0,
            error: None,
        }
    }

    /// Whether every byte arrived.
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// Whether the download is over: every byte arrived, or it failed.
    pub fn finished(&self) -> bool {
        self.done() || self.error.is_some()
    }

    /// When the client next needs to run.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        if self.finished() && self.conn.as_ref().is_none_or(|c| c.is_closed()) {
            return None;
        }
        let t = self.conn.as_ref().and_then(|c| c.poll_timeout());
        // A rate-limited reader comes back when it may read again.
        let read = self.rate_limit.map(|_| now + 1_000_000);
        [t, self.retry_at, read]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(now + 1))
    }

    /// Bytes the rate limit lets the client read now.
    fn read_budget(&self, now: u64) -> usize {
        match self.rate_limit {
            None => usize::MAX,
            Some(r) => {
                let allowed =
                    (now.saturating_sub(self.start_at) as u128 * r as u128 / 1_000_000_000) as u64;
                allowed.saturating_sub(self.read_total) as usize
            }
        }
    }

    /// Advances the download: opens or reopens the connection, reads the
    /// response, and handles resets.
    pub fn run(&mut self, now: u64, local_ip: std::net::Ipv4Addr, scratch: &mut [u8]) {
        if self.conn.is_none() && !self.finished() && self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            self.open(now, local_ip);
        }
        let Some(c) = self.conn.as_mut() else { return };
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
        }
        loop {
            let want = scratch.len().min(self.read_budget(now));
            let n = match self.conn.as_mut() {
                Some(c) if want > 0 => c.recv(&mut scratch[..want]),
                _ => 0,
            };
            if n == 0 {
                break;
            }
            self.read_total += n as u64;
            let mut bytes = &scratch[..n];
            while !bytes.is_empty() && self.error.is_none() {
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
                    self.take_body(now, body);
                    bytes = rest;
                    if !rest.is_empty() {
                        break;
                    }
                }
            }
        }
        let (failed, done) = (self.error.is_some(), self.done());
        if let Some(c) = self.conn.as_mut() {
            if failed {
                c.abort();
            } else if done {
                // Idempotent: the close handshake starts once.
                c.close();
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
            if !self.finished() {
                self.failed_in_row += 1;
                if self.failed_in_row >= self.tries {
                    self.error = Some(format!(
                        "gave up after {} connections in a row without a body byte (last one {why})",
                        self.failed_in_row
                    ));
                } else {
                    // Ask again at once, as wget does after a reset.
                    self.retry_at = Some(now + 1_000_000);
                }
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
            self.isn_base
                .wrapping_add(u32::from(local.port()).wrapping_mul(7919)),
            now,
        );
        let have = self.data.len();
        let mut req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: anyedge-get\r\n",
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
            Ok(httparse::Status::Partial) if self.head.len() < MAX_HEAD => return None,
            Ok(httparse::Status::Partial) => {
                self.error = Some(format!("response head longer than {MAX_HEAD} bytes"));
                return None;
            }
            Err(e) => {
                self.error = Some(format!("malformed response head: {e}"));
                return None;
            }
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
        let res = match code {
            // A full body: start over (If-Range did not match, or first request).
            200 => {
                self.total = Some(len);
                self.data.truncate(0)
            }
            206 => {
                // Content-Range: bytes START-END/TOTAL (RFC 9110 14.4)
                let cr = get("content-range").unwrap_or("");
                let total = cr.rsplit('/').next().and_then(|t| t.parse().ok());
                let start: Option<u64> = cr
                    .strip_prefix("bytes ")
                    .and_then(|s| s.split('-').next())
                    .and_then(|s| s.parse().ok());
                self.total = total.or(self.total);
                match start {
                    Some(k) if k <= self.data.len() => self.data.truncate(k),
                    _ => {
                        self.error =
                            Some(format!("206 with a Content-Range we did not ask for: {cr}"));
                        return None;
                    }
                }
            }
            // The file we hold is already the whole object (RFC 9110 15.5.17).
            416 if self.data.len() > 0 => {
                let total: Option<u64> = get("content-range")
                    .and_then(|cr| cr.rsplit('/').next())
                    .and_then(|t| t.parse().ok());
                if total == Some(self.data.len()) {
                    self.total = total;
                    self.done_at = Some(now);
                    self.events
                        .push((now, "client: the object was already complete".into()));
                } else {
                    self.error = Some(format!("HTTP 416 for bytes={}-", self.data.len()));
                }
                Ok(())
            }
            _ => {
                self.error = Some(format!("HTTP {code} {}", r.reason.unwrap_or("")));
                Ok(())
            }
        };
        if let Err(e) = res {
            self.error = Some(format!("output: {e}"));
        }
        self.events
            .push((now, format!("client: HTTP {code}, {len} bytes follow")));
        if self.error.is_some() || self.done() {
            return None;
        }
        self.in_body = true;
        self.body_left = len;
        Some(used)
    }

    fn take_body(&mut self, now: u64, bytes: &[u8]) {
        let k = bytes.len().min(self.body_left as usize);
        if k > 0 {
            self.failed_in_row = 0;
        }
        let before = self.data.len() >> 20;
        if let Err(e) = self.data.append(&bytes[..k]) {
            self.error = Some(format!("output: {e}"));
            return;
        }
        if self.data.len() >> 20 > before {
            self.progress.push((now, self.data.len() as usize));
        }
        self.body_left -= k as u64;
        if self.body_left == 0 {
            self.in_body = false;
            if self.total.is_some_and(|t| self.data.len() >= t) && self.done_at.is_none() {
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
