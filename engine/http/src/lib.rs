//! Sans-IO HTTP/1.1 for the anyedge CDN node: request heads in, response
//! heads and a list of object slices out.
//!
//! The crate never touches a socket, a clock or a thread. The server feeds it
//! bytes and the current time as integers, and gets back what to send:
//!
//! 1. [`parse_request`] parses one request head from the front of a receive
//!    buffer (RFC 9112 2-3, 9.3) into a borrowed [`Request`], or says
//!    [`Parsed::Partial`], or gives the [`HttpError`] status to answer with.
//!    Pipelined requests are parsed one after the other: a complete head
//!    reports how many bytes it consumed.
//! 2. [`cache_key`] turns the request path into a safe cache key
//!    (RFC 3986 2.1 percent-decoding, no traversal).
//! 3. [`plan`] evaluates If-None-Match, If-Range and Range against an
//!    [`ObjectMeta`] (RFC 9110 13, 14) into a [`Plan`].
//! 4. [`write_response`] writes the response head (and multipart part
//!    headers) into a reusable buffer and lists the [`Chunk`]s to transmit:
//!    head bytes and slices of the cached object, which the node sends
//!    zero-copy. [`write_simple`] writes the small error responses.
//!
//! Nothing a peer sends makes this crate panic ([`fuzz_one`] checks that), and
//! the per-request path allocates only when a caller's reusable buffer has to
//! grow, plus the `Vec` of a [`Plan::Multi`].
#![forbid(unsafe_code)]

mod date;
mod etag;
mod fuzz;
mod path;
mod range;
mod request;
mod response;

#[cfg(test)]
mod proptests;

pub use date::{http_date, parse_http_date};
pub use fuzz::fuzz_one;
pub use path::cache_key;
pub use range::{plan, ObjectMeta, Plan, MAX_RANGES};
pub use request::{parse_request, Method, Parsed, Request};
pub use response::{write_response, write_simple, Chunk};

/// Re-exported so that callers can size the header array for
/// [`parse_request`] without naming the dependency themselves.
pub use httparse;

/// Limits on a request head (RFC 9112 2.3, RFC 6585 5: a server may refuse a
/// request line or header section that is too large).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head in bytes: the request line, the header field
    /// lines and the empty line that ends them. Beyond it: 414 when the
    /// request line alone does not fit (RFC 9110 15.5.15), 431 otherwise
    /// (RFC 6585 5).
    pub max_head: usize,
    /// Most header field lines in a request; more gives 431
    /// (`too_many_headers`). The header array given to [`parse_request`]
    /// bounds this too.
    pub max_headers: usize,
}

impl Default for Limits {
    /// 8 KiB of head and 100 header fields, like common origin servers.
    fn default() -> Self {
        Limits {
            max_head: 8192,
            max_headers: 100,
        }
    }
}

/// A request that gets an error response instead of an object: the status
/// code to send (RFC 9110 15) and a short, static reason for the counters.
///
/// The reasons are `bad_request` (400, RFC 9112 3), `body` (400: a request
/// body, which this server does not accept, RFC 9112 6), `bad_path` (400, see
/// [`cache_key`]), `directory` (404), `uri_too_long` (414, RFC 9110 15.5.15),
/// `headers_too_large` and `too_many_headers` (431, RFC 6585 5),
/// `not_implemented` (501, RFC 9110 15.6.2) and `version` (505, RFC 9110
/// 15.6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The response status code (RFC 9110 15).
    pub status: u16,
    /// A short counter name, e.g. `"bad_request"`.
    pub reason: &'static str,
}

impl HttpError {
    /// 400 `bad_request`: malformed request (RFC 9112 2.2, 3).
    pub const BAD_REQUEST: HttpError = HttpError::new(400, "bad_request");
    /// 400 `body`: the request has a body (Content-Length > 0 or
    /// Transfer-Encoding, RFC 9112 6.1-6.3), which this server refuses.
    pub const BODY: HttpError = HttpError::new(400, "body");
    /// 400 `bad_path`: the path is not a safe cache key (RFC 3986 2.1, 3.3).
    pub const BAD_PATH: HttpError = HttpError::new(400, "bad_path");
    /// 404 `directory`: the path names a directory, which is never served.
    pub const DIRECTORY: HttpError = HttpError::new(404, "directory");
    /// 414 `uri_too_long` (RFC 9110 15.5.15).
    pub const URI_TOO_LONG: HttpError = HttpError::new(414, "uri_too_long");
    /// 431 `headers_too_large` (RFC 6585 5).
    pub const HEADERS_TOO_LARGE: HttpError = HttpError::new(431, "headers_too_large");
    /// 431 `too_many_headers` (RFC 6585 5).
    pub const TOO_MANY_HEADERS: HttpError = HttpError::new(431, "too_many_headers");
    /// 501 `not_implemented`: an unknown method (RFC 9110 9.1, 15.6.2).
    pub const NOT_IMPLEMENTED: HttpError = HttpError::new(501, "not_implemented");
    /// 505 `version`: a well-formed HTTP version other than 1.0 and 1.1
    /// (RFC 9110 15.6.6, RFC 9112 2.3).
    pub const VERSION: HttpError = HttpError::new(505, "version");

    const fn new(status: u16, reason: &'static str) -> Self {
        HttpError { status, reason }
    }
}
