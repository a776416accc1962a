//! The edge's side of a miss: one request to the gateway and its answer,
//! collected whole so the object can enter the cache before the client's
//! request (any range, conditional or HEAD) is answered from it.
//!
//! Sans-IO like the HTTP core: bytes come in through [`Fetch::take`], the
//! caller owns the connection. The answer must be HTTP/1.1 (RFC 9112) with
//! a Content-Length or ended by the connection's close; chunked bodies and
//! bodies larger than the cache are refused as bad responses.

use super::Failure;

/// Bytes of response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// How a fetch ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with the whole body; `reusable` when the connection may carry
    /// the next request (no `Connection: close`, length-delimited).
    Object {
        /// The body.
        body: Vec<u8>,
        /// Whether the connection can go back to the pool.
        reusable: bool,
    },
    /// The origin has no such object (404 or 410): the client gets 404.
    NotFound {
        /// Whether the connection can go back to the pool.
        reusable: bool,
    },
    /// The request failed.
    Failed(Failure),
}

/// One request in flight on an edge-gateway connection.
#[derive(Debug)]
pub struct Fetch {
    /// The cache key (`a/b.bin`).
    pub key: String,
    /// When the fetch must have ended.
    pub deadline: u64,
    head: Vec<u8>,
    body: Vec<u8>,
    status: Option<u16>,
    length: Option<usize>,
    close: bool,
    max: usize,
}

impl Fetch {
    /// A fetch of `key` that may bring at most `max` body bytes.
    pub fn new(key: &str, max: usize, deadline: u64) -> Fetch {
        Fetch {
            key: key.to_string(),
            deadline,
            head: Vec::with_capacity(1024),
            body: Vec::new(),
            status: None,
            length: None,
            close: false,
            max,
        }
    }

    /// The request for the gateway (RFC 9112 3: origin-form, a Host).
    pub fn request(&self, host: &str) -> String {
        format!(
            "GET /{} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: anyedge-edge\r\nAccept-Encoding: identity\r\n\r\n",
            self.key
        )
    }

    /// Takes answer bytes; returns the outcome once the answer is complete
    /// or broken.
    pub fn take(&mut self, mut bytes: &[u8]) -> Option<Outcome> {
        if self.status.is_none() {
            let room = MAX_HEAD - self.head.len();
            let n = bytes.len().min(room);
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            match self.parse_head() {
                Ok(Some(used)) => {
                    let rest = self.head.split_off(used);
                    self.body.extend_from_slice(&rest);
                }
                Ok(None) if self.head.len() < MAX_HEAD => return None,
                _ => return Some(Outcome::Failed(Failure::BadResponse)),
            }
        }
        self.body.extend_from_slice(bytes);
        if self.body.len() > self.max {
            return Some(Outcome::Failed(Failure::BadResponse));
        }
        match self.length {
            Some(n) if self.body.len() >= n => {
                self.body.truncate(n);
                Some(self.finish(!self.close))
            }
            _ => None,
        }
    }

    /// Whether any answer byte arrived.
    pub fn started(&self) -> bool {
        !self.head.is_empty() || self.status.is_some()
    }

    /// The connection ended (FIN): a close-delimited body is complete; any
    /// other unfinished answer is broken.
    pub fn eof(&mut self) -> Outcome {
        match (self.status, self.length) {
            (Some(_), None) => self.finish(false),
            _ => Outcome::Failed(Failure::Reset),
        }
    }

    fn finish(&mut self, reusable: bool) -> Outcome {
        match self.status.unwrap_or(0) {
            200 => Outcome::Object {
                body: std::mem::take(&mut self.body),
                reusable,
            },
            404 | 410 => Outcome::NotFound { reusable },
            // The gateway's own timeout stays a timeout for the client.
            504 => Outcome::Failed(Failure::Timeout),
            500..=599 => Outcome::Failed(Failure::Upstream5xx),
            _ => Outcome::Failed(Failure::BadResponse),
        }
    }

    /// Parses the head: `Ok(Some(len))` when complete.
    fn parse_head(&mut self) -> Result<Option<usize>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut headers);
        let used = match r.parse(&self.head) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        };
        if get("transfer-encoding").is_some() {
            // RFC 9112 6.1: chunked bodies are not collected here.
            return Err(());
        }
        self.length = match get("content-length") {
            Some(v) => Some(v.trim().parse().map_err(|_| ())?),
            None => None,
        };
        self.close = r.version == Some(0)
            || get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let code = r.code.unwrap_or(0);
        // A 404 or 5xx body is not kept: only its end matters.
        if code != 200 && self.length.is_none() {
            self.close = true;
        }
        self.status = Some(code);
        Ok(Some(used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_delimited_answer_in_pieces_is_an_object_and_reusable() {
        let mut f = Fetch::new("a.bin", 1 << 20, 0);
        assert!(f
            .request("gw")
            .starts_with("GET /a.bin HTTP/1.1\r\nHost: gw\r\n"));
        assert_eq!(f.take(b"HTTP/1.1 200 OK\r\nContent-Le"), None);
        assert_eq!(f.take(b"ngth: 5\r\n\r\nab"), None);
        assert_eq!(
            f.take(b"cde"),
            Some(Outcome::Object {
                body: b"abcde".to_vec(),
                reusable: true
            })
        );
    }

    #[test]
    fn close_delimited_not_found_and_errors() {
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(f.take(b"HTTP/1.0 200 OK\r\n\r\nxyz"), None);
        assert_eq!(
            f.eof(),
            Outcome::Object {
                body: b"xyz".to_vec(),
                reusable: false
            }
        );
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(
            f.take(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            Some(Outcome::NotFound { reusable: true })
        );
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(
            f.take(b"HTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\nno"),
            Some(Outcome::Failed(Failure::Upstream5xx))
        );
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(
            f.take(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(Outcome::Failed(Failure::BadResponse))
        );
        let mut f = Fetch::new("a", 4, 0);
        assert_eq!(
            f.take(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789"),
            Some(Outcome::Failed(Failure::BadResponse))
        );
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(
            f.take(b"garbage\r\n\r\n"),
            Some(Outcome::Failed(Failure::BadResponse))
        );
        let mut f = Fetch::new("a", 100, 0);
        assert_eq!(
            f.take(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n1"),
            None
        );
        assert_eq!(f.eof(), Outcome::Failed(Failure::Reset));
    }
}
