//! Request heads (RFC 9112 2-3, 9.3), parsed with `httparse`.

use crate::{HttpError, Limits};

#[cfg(test)]
mod tests;

/// The request method (RFC 9110 9), as far as this server cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (RFC 9110 9.3.1).
    Get,
    /// HEAD (RFC 9110 9.3.2).
    Head,
    /// A method defined by RFC 9110 9.3 or RFC 5789 that this server does not
    /// serve: POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH. Answer 405
    /// with `Allow: GET, HEAD` (RFC 9110 15.5.6).
    Other,
}

impl Method {
    /// Maps a method token (case-sensitive, RFC 9110 9.1); `None` for an
    /// unknown method, which gets 501 (RFC 9110 15.6.2).
    fn from_token(token: &str) -> Option<Method> {
        match token {
            "GET" => Some(Method::Get),
            "HEAD" => Some(Method::Head),
            "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" => {
                Some(Method::Other)
            }
            _ => None,
        }
    }
}

/// One parsed request head, borrowing from the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method (RFC 9110 9).
    pub method: Method,
    /// The path of the target (RFC 9112 3.2.1 origin-form, or the path of an
    /// absolute-form target, RFC 9112 3.2.2), without the query, not
    /// percent-decoded; always starts with `/`. For [`Method::Other`] with an
    /// asterisk-form or authority-form target (RFC 9112 3.2.3-3.2.4) it is the
    /// raw target.
    pub path: &'a str,
    /// The minor version of HTTP/1.x: 0 or 1 (RFC 9112 2.3).
    pub minor_version: u8,
    /// The Host field value (RFC 9110 7.2), or the authority of an
    /// absolute-form target, which replaces it (RFC 9112 3.2.2).
    pub host: Option<&'a str>,
    /// The Range field value (RFC 9110 14.2); `None` when absent or sent more
    /// than once (ignored, RFC 9110 14.2), or when If-Range was sent more
    /// than once.
    pub range: Option<&'a str>,
    /// The If-Range field value (RFC 9110 13.1.5).
    pub if_range: Option<&'a str>,
    /// The If-None-Match field value (RFC 9110 13.1.2); `None` when sent on
    /// more than one field line (evaluating it as absent only costs a 200
    /// instead of a 304).
    pub if_none_match: Option<&'a str>,
    /// Every If-None-Match field line (up to four): a list split over
    /// several lines means the same as one comma-joined line (RFC 9110 5.3).
    pub if_none_match_lines: [Option<&'a str>; 4],
    /// Whether the connection persists after the response (RFC 9112 9.3):
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive` (RFC 9112 C.2.2) and no `close`.
    pub keep_alive: bool,
}

/// The outcome of [`parse_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete head, and its length in bytes (including any empty lines
    /// before it, RFC 9112 2.2). The next pipelined request starts there.
    Complete(Request<'a>, usize),
    /// More bytes are needed; what there is is valid so far and within the
    /// limits.
    Partial,
    /// The request is refused with this status; the server answers and
    /// closes the connection (RFC 9112 9.6), since it cannot find the next
    /// request reliably.
    Error(HttpError),
}

/// Parses one request head from the front of `buf` with httparse
/// (RFC 9112 2-3, 5).
///
/// Request bodies are not supported: a request with Content-Length other
/// than 0 or with Transfer-Encoding gets 400 `body` (RFC 9112 6.3 lets a
/// server refuse them; it cannot skip a body it does not parse).
///
/// The status rules, in order:
/// * the request line does not fit in `limits.max_head`: 414 `uri_too_long`
///   (RFC 9110 15.5.15);
/// * the head does not fit: 431 `headers_too_large`; more than
///   `limits.max_headers` (or `headers.len()`) fields: 431
///   `too_many_headers` (RFC 6585 5);
/// * a well-formed version other than HTTP/1.0 or 1.1: 505 `version`
///   (RFC 9110 15.6.6);
/// * malformed syntax (RFC 9112 2.2, 3, 5): 400 `bad_request`;
/// * an unknown method: 501 `not_implemented` (RFC 9110 9.1);
/// * for GET and HEAD, a target that is neither origin-form nor an `http`/
///   `https` absolute-form (RFC 9112 3.2): 400;
/// * HTTP/1.1 without Host, or any request with several Host lines or an
///   invalid Host value: 400 (RFC 9112 3.2);
/// * a body: 400 `body`.
///
/// Anything shorter than the limits that could still become a valid head is
/// [`Parsed::Partial`].
pub fn parse_request<'a>(
    buf: &'a [u8],
    limits: &Limits,
    headers: &'a mut [httparse::Header<'a>],
) -> Parsed<'a> {
    let window = &buf[..buf.len().min(limits.max_head)];
    let slots = headers.len().min(limits.max_headers);
    let mut req = httparse::Request::new(&mut headers[..slots]);
    match req.parse(window) {
        Ok(httparse::Status::Complete(n)) => match finish(&req) {
            Ok(request) => Parsed::Complete(request, n),
            Err(e) => Parsed::Error(e),
        },
        Ok(httparse::Status::Partial) if buf.len() > window.len() => {
            Parsed::Error(if request_line_end(window).is_some() {
                HttpError::HEADERS_TOO_LARGE
            } else {
                HttpError::URI_TOO_LONG
            })
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Error(HttpError::TOO_MANY_HEADERS),
        Err(httparse::Error::Version) => version_error(window, buf.len() > window.len()),
        Err(_) => Parsed::Error(HttpError::BAD_REQUEST),
    }
}

/// The request line of `window` without its line ending, once it is
/// complete (after the empty lines RFC 9112 2.2 lets a server skip).
fn request_line_end(window: &[u8]) -> Option<&[u8]> {
    let start = window
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(window.len());
    let line = &window[start..];
    let end = line.iter().position(|&b| b == b'\n')?;
    let line = &line[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// httparse refuses every version but 1.0 and 1.1. Tell a well-formed
/// `HTTP/x.y` (505, RFC 9110 15.6.6) from garbage (400, RFC 9112 2.3), and
/// wait for the rest of the line while it could still be either.
fn version_error(window: &[u8], truncated: bool) -> Parsed<'static> {
    let (line, complete) = match request_line_end(window) {
        Some(line) => (line, true),
        None if truncated => return Parsed::Error(HttpError::URI_TOO_LONG),
        None => {
            let start = window.iter().position(|&b| b != b'\r' && b != b'\n');
            let line = &window[start.unwrap_or(window.len())..];
            (line.strip_suffix(b"\r").unwrap_or(line), false)
        }
    };
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Error(HttpError::BAD_REQUEST);
    };
    if method.is_empty() || target.is_empty() {
        return Parsed::Error(HttpError::BAD_REQUEST);
    }
    // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 2.3).
    const PATTERN: &[u8] = b"HTTP/0.0";
    let fits = version.len() <= PATTERN.len()
        && version.iter().zip(PATTERN).all(|(&b, &p)| {
            if p == b'0' {
                b.is_ascii_digit()
            } else {
                b == p
            }
        });
    match (fits, complete) {
        (true, false) => Parsed::Partial,
        (true, true)
            if version.len() == PATTERN.len()
                && version != b"HTTP/1.0"
                && version != b"HTTP/1.1" =>
        {
            Parsed::Error(HttpError::VERSION)
        }
        _ => Parsed::Error(HttpError::BAD_REQUEST),
    }
}

/// Checks a complete head and pulls out what the server needs.
fn finish<'a>(req: &httparse::Request<'_, 'a>) -> Result<Request<'a>, HttpError> {
    let (Some(token), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HttpError::BAD_REQUEST);
    };
    let method = Method::from_token(token).ok_or(HttpError::NOT_IMPLEMENTED)?;
    let (path, authority) = match split_target(target) {
        Some(t) => t,
        // CONNECT and OPTIONS have other forms (RFC 9112 3.2.3, 3.2.4); the
        // server answers 405 without looking at the path.
        None if method == Method::Other => (target, None),
        None => return Err(HttpError::BAD_REQUEST),
    };

    let mut out = Request {
        method,
        path,
        minor_version,
        host: None,
        range: None,
        if_range: None,
        if_none_match: None,
        if_none_match_lines: [None; 4],
        keep_alive: minor_version == 1,
    };
    let (mut hosts, mut ranges, mut if_ranges, mut inms) = (0u32, 0u32, 0u32, 0u32);
    let (mut close, mut keep_alive) = (false, false);
    for h in req.headers.iter() {
        let name = h.name;
        let value = || -> Result<&'a str, HttpError> {
            let v = std::str::from_utf8(h.value).map_err(|_| HttpError::BAD_REQUEST)?;
            Ok(v.trim_matches([' ', '\t']))
        };
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            out.host = Some(value()?);
        } else if name.eq_ignore_ascii_case("range") {
            ranges += 1;
            out.range = Some(value()?);
        } else if name.eq_ignore_ascii_case("if-range") {
            if_ranges += 1;
            out.if_range = Some(value()?);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            let v = value()?;
            if let Some(slot) = out.if_none_match_lines.get_mut(inms as usize) {
                *slot = Some(v);
            }
            inms += 1;
            out.if_none_match = out.if_none_match.or(Some(v));
        } else if name.eq_ignore_ascii_case("connection") {
            // Connection = #connection-option (RFC 9110 7.6.1).
            for option in value()?.split(',').map(|o| o.trim_matches([' ', '\t'])) {
                close |= option.eq_ignore_ascii_case("close");
                keep_alive |= option.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // Content-Length = 1*DIGIT (RFC 9110 8.6); only 0 is accepted.
            let v = value()?;
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::BAD_REQUEST);
            }
            if v.bytes().any(|b| b != b'0') {
                return Err(HttpError::BODY);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::BODY);
        }
    }

    // RFC 9112 3.2: exactly one valid Host in HTTP/1.1, at most one in 1.0.
    if hosts > 1 || (hosts == 0 && minor_version == 1) {
        return Err(HttpError::BAD_REQUEST);
    }
    if let Some(host) = out.host {
        if !valid_host(host) {
            return Err(HttpError::BAD_REQUEST);
        }
    }
    if authority.is_some() {
        out.host = authority;
    }
    // A repeated Range or If-Range cannot be evaluated: ignore the Range
    // (RFC 9110 14.2 lets a server ignore it; a full 200 is always correct).
    if ranges > 1 || if_ranges > 1 {
        out.range = None;
    }
    if inms > 4 {
        // Too many lines to evaluate: ignore the precondition (a full 200
        // is always a correct answer).
        out.if_none_match = None;
        out.if_none_match_lines = [None; 4];
    }
    out.keep_alive = !close && (minor_version == 1 || keep_alive);
    Ok(out)
}

/// Splits a request target into the path (query removed) and, for the
/// absolute-form, the authority (RFC 9112 3.2.1-3.2.2, RFC 3986 3). `None`
/// for any other form.
fn split_target(target: &str) -> Option<(&str, Option<&str>)> {
    let strip = |p: &str| p.split(['?', '#']).next().unwrap_or(p).len();
    if target.starts_with('/') {
        if target.contains('#') {
            return None;
        }
        return Some((&target[..strip(target)], None));
    }
    let scheme_end = target.find("://")?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    if rest.contains('#') {
        return None;
    }
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    // An http(s) URI has a non-empty host and no userinfo (RFC 9110 4.2.1,
    // 4.2.4).
    if authority.is_empty() || authority.contains('@') || !valid_host(authority) {
        return None;
    }
    let rest = &rest[auth_end..];
    let path = &rest[..strip(rest)];
    // An empty path means "/" (RFC 9112 3.2.1).
    Some((if path.is_empty() { "/" } else { path }, Some(authority)))
}

/// Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): the
/// characters of reg-name, IP-literal and port. An empty Host is valid.
fn valid_host(host: &str) -> bool {
    host.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
            )
    })
}
