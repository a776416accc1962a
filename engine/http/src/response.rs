//! Response heads and what to transmit (RFC 9110 6, 14.4, 14.6, 15;
//! RFC 9112 4, 6.3, 9.3).

use crate::date::imf_fixdate;
use crate::range::{ObjectMeta, Plan};

#[cfg(test)]
mod tests;

/// A piece of a response, in transmission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes `start..start + len` of the head buffer: the response head, or
    /// the delimiter and header fields of a multipart part, or the closing
    /// delimiter (RFC 9110 14.6).
    Head {
        /// Offset in the head buffer.
        start: usize,
        /// Number of bytes.
        len: usize,
    },
    /// Bytes `offset..offset + len` of the object.
    Object {
        /// Offset in the object.
        offset: u64,
        /// Number of bytes, never 0.
        len: u64,
    },
}

impl Chunk {
    /// Bytes the chunk puts on the stream.
    pub fn len(&self) -> u64 {
        match *self {
            Chunk::Head { len, .. } => len as u64,
            Chunk::Object { len, .. } => len,
        }
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where response bytes go: the head buffer, or a counter that measures what
/// would be written (for an exact multipart Content-Length).
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

struct Count(u64);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

fn put_u64(s: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.put(&buf[i..]);
}

/// A field value from the object's metadata, without the CR, LF and other
/// controls that would split the head (RFC 9110 5.5).
fn put_value(s: &mut impl Sink, v: &str) {
    for piece in v
        .as_bytes()
        .split(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        s.put(piece);
    }
}

fn put_field(s: &mut impl Sink, name: &str, value: &str) {
    s.put(name.as_bytes());
    s.put(b": ");
    put_value(s, value);
    s.put(b"\r\n");
}

fn put_u64_field(s: &mut impl Sink, name: &str, value: u64) {
    s.put(name.as_bytes());
    s.put(b": ");
    put_u64(s, value);
    s.put(b"\r\n");
}

/// `bytes first-last/complete-length` (RFC 9110 14.4).
fn put_range(s: &mut impl Sink, (start, end): (u64, u64), len: u64) {
    s.put(b"bytes ");
    put_u64(s, start);
    s.put(b"-");
    put_u64(s, end);
    s.put(b"/");
    put_u64(s, len);
}

/// Status line (RFC 9112 4), Date (RFC 9110 6.6.1) and Server (RFC 9110
/// 10.2.4). Responses always say HTTP/1.1 (RFC 9110 6.2).
fn start(head: &mut Vec<u8>, status: u16, date: u64) {
    head.put(b"HTTP/1.1 ");
    put_u64(head, u64::from(status));
    head.put(b" ");
    head.put(reason_phrase(status).as_bytes());
    head.put(b"\r\nDate: ");
    head.put(&imf_fixdate(date));
    head.put(b"\r\nServer: anyedge\r\n");
}

/// Connection (RFC 9112 9.3, 9.6) and the empty line that ends the head.
fn finish(head: &mut Vec<u8>, keep_alive: bool) {
    head.put(if keep_alive {
        b"Connection: keep-alive\r\n\r\n".as_slice()
    } else {
        b"Connection: close\r\n\r\n".as_slice()
    });
}

/// ETag (RFC 9110 8.8.3) and Last-Modified (RFC 9110 8.8.2).
fn validators(head: &mut Vec<u8>, meta: &ObjectMeta) {
    put_field(head, "ETag", meta.etag);
    head.put(b"Last-Modified: ");
    head.put(&imf_fixdate(meta.last_modified));
    head.put(b"\r\n");
}

/// The multipart boundary for an object: `anyedge-` and 16 hex digits of
/// the FNV-1a hash of its entity-tag, so that it is the same for every
/// response of one representation (RFC 2046 5.1.1, RFC 9110 14.6).
fn boundary(etag: &str) -> [u8; 24] {
    let hash = etag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut out = *b"anyedge-0000000000000000";
    for (i, slot) in out[8..].iter_mut().enumerate() {
        *slot = b"0123456789abcdef"[(hash >> (60 - 4 * i) & 0xf) as usize];
    }
    out
}

/// The delimiter and header fields in front of one part (RFC 9110 14.6,
/// RFC 2046 5.1.1): the CRLF of a delimiter belongs to it, and the first
/// delimiter needs none.
fn part_head(s: &mut impl Sink, first: bool, b: &[u8], meta: &ObjectMeta, r: (u64, u64)) {
    if !first {
        s.put(b"\r\n");
    }
    s.put(b"--");
    s.put(b);
    s.put(b"\r\n");
    put_field(s, "Content-Type", meta.content_type);
    s.put(b"Content-Range: ");
    put_range(s, r, meta.len);
    s.put(b"\r\n\r\n");
}

fn close_delimiter(s: &mut impl Sink, b: &[u8]) {
    s.put(b"\r\n--");
    s.put(b);
    s.put(b"--\r\n");
}

/// Exact body length of a multipart/byteranges response, or `None` when it
/// does not fit in u64.
fn multipart_len(ranges: &[(u64, u64)], b: &[u8], meta: &ObjectMeta) -> Option<u64> {
    let mut count = Count(0);
    let mut body = 0u64;
    for (i, &r) in ranges.iter().enumerate() {
        part_head(&mut count, i == 0, b, meta, r);
        body = body.checked_add(r.1 - r.0 + 1)?;
    }
    close_delimiter(&mut count, b);
    body.checked_add(count.0)
}

/// Whether the ranges of `plan` lie within an object of `len` bytes; a plan
/// that does not is answered like [`Plan::Unsatisfiable`].
fn in_bounds(plan: &Plan, len: u64) -> bool {
    let ok = |&(s, e): &(u64, u64)| s <= e && e < len;
    match plan {
        Plan::Single { start, end } => ok(&(*start, *end)),
        Plan::Multi(ranges) => !ranges.is_empty() && ranges.iter().all(ok),
        _ => true,
    }
}

/// Writes the response for `plan` into `head` (cleared first) and lists what
/// to send in `chunks` (cleared first): the response head, then, unless
/// `head_only` (a HEAD request, RFC 9110 9.3.2) or the status has no content
/// (304, 416 here), the body as object slices, with part headers from
/// `head` between them for multipart (RFC 9110 14.6).
///
/// Header fields: Date (RFC 9110 6.6.1; `date` in unix seconds), Server,
/// then
/// * 200 and 206: Content-Type, Content-Length (RFC 9110 8.6; for HEAD the
///   length GET would send), Content-Range for a single range (RFC 9110
///   14.4), ETag, Last-Modified (IMF-fixdate, RFC 9110 5.6.7),
///   Accept-Ranges: bytes (RFC 9110 14.3); a multipart response has
///   `Content-Type: multipart/byteranges; boundary=anyedge-<hex>` with the
///   boundary derived from the entity-tag;
/// * 304: ETag and Last-Modified (RFC 9110 15.4.5), no Content-Length;
/// * 416: `Content-Range: bytes */LEN` and `Content-Length: 0`
///   (RFC 9110 15.5.17);
///
/// and last `Connection: keep-alive` or `Connection: close` (RFC 9112 9.3).
/// A `Single` or `Multi` plan with a range outside the object is answered
/// with 416.
pub fn write_response(
    plan: &Plan,
    meta: &ObjectMeta,
    date: u64,
    keep_alive: bool,
    head_only: bool,
    head: &mut Vec<u8>,
    chunks: &mut Vec<Chunk>,
) {
    head.clear();
    chunks.clear();
    let bound = boundary(meta.etag);
    let multipart = match plan {
        Plan::Multi(ranges) if in_bounds(plan, meta.len) => {
            multipart_len(ranges, &bound, meta).map(|len| (ranges, len))
        }
        _ => None,
    };
    let mut body: Option<(u64, u64)> = None;
    match plan {
        Plan::Full => {
            start(head, 200, date);
            put_field(head, "Content-Type", meta.content_type);
            put_u64_field(head, "Content-Length", meta.len);
            body = Some((0, meta.len));
        }
        Plan::Single { start: s, end: e } if in_bounds(plan, meta.len) => {
            start(head, 206, date);
            put_field(head, "Content-Type", meta.content_type);
            put_u64_field(head, "Content-Length", e - s + 1);
            head.put(b"Content-Range: ");
            put_range(head, (*s, *e), meta.len);
            head.put(b"\r\n");
            body = Some((*s, e - s + 1));
        }
        Plan::Multi(_) if multipart.is_some() => {
            start(head, 206, date);
            head.put(b"Content-Type: multipart/byteranges; boundary=");
            head.put(&bound);
            head.put(b"\r\n");
            put_u64_field(head, "Content-Length", multipart.map_or(0, |m| m.1));
        }
        Plan::NotModified => {
            start(head, 304, date);
            validators(head, meta);
            finish(head, keep_alive);
            chunks.push(Chunk::Head {
                start: 0,
                len: head.len(),
            });
            return;
        }
        _ => {
            start(head, 416, date);
            head.put(b"Content-Range: bytes */");
            put_u64(head, meta.len);
            head.put(b"\r\nContent-Length: 0\r\n");
            finish(head, keep_alive);
            chunks.push(Chunk::Head {
                start: 0,
                len: head.len(),
            });
            return;
        }
    }
    validators(head, meta);
    head.put(b"Accept-Ranges: bytes\r\n");
    finish(head, keep_alive);
    chunks.push(Chunk::Head {
        start: 0,
        len: head.len(),
    });
    if head_only {
        return;
    }
    if let Some((ranges, _)) = multipart {
        for (i, &(s, e)) in ranges.iter().enumerate() {
            let at = head.len();
            part_head(head, i == 0, &bound, meta, (s, e));
            chunks.push(Chunk::Head {
                start: at,
                len: head.len() - at,
            });
            chunks.push(Chunk::Object {
                offset: s,
                len: e - s + 1,
            });
        }
        let at = head.len();
        close_delimiter(head, &bound);
        chunks.push(Chunk::Head {
            start: at,
            len: head.len() - at,
        });
    } else if let Some((offset, len)) = body.filter(|b| b.1 > 0) {
        chunks.push(Chunk::Object { offset, len });
    }
}

/// The reason phrase of a status code (RFC 9110 15), or of its class.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

/// Writes a complete response without an object into `head` (cleared
/// first): status line (RFC 9112 4), Date, Server, Content-Type
/// `text/plain; charset=utf-8`, Content-Length (RFC 9110 8.6), Connection
/// (RFC 9112 9.3), and a one-line body such as `404 Not Found\n`, left out
/// when `head_only` (HEAD, RFC 9110 9.3.2). 405 adds `Allow: GET, HEAD`
/// (RFC 9110 10.2.1, 15.5.6). 1xx, 204 and 304 have no content fields and no
/// body (RFC 9110 6.4.1); a status outside 100-599 is sent as 500.
pub fn write_simple(status: u16, date: u64, keep_alive: bool, head_only: bool, head: &mut Vec<u8>) {
    head.clear();
    let status = if (100..=599).contains(&status) {
        status
    } else {
        500
    };
    start(head, status, date);
    if status == 405 {
        head.put(b"Allow: GET, HEAD\r\n");
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    let phrase = reason_phrase(status);
    if !bodiless {
        head.put(b"Content-Type: text/plain; charset=utf-8\r\n");
        // "NNN " + phrase + "\n"
        put_u64_field(head, "Content-Length", 5 + phrase.len() as u64);
    }
    finish(head, keep_alive);
    if !bodiless && !head_only {
        put_u64(head, u64::from(status));
        head.put(b" ");
        head.put(phrase.as_bytes());
        head.put(b"\n");
    }
}
