use super::*;

fn parse_with(buf: &[u8], limits: Limits) -> Result<(Request<'_>, usize), Option<HttpError>> {
    // Leaked so that the borrowed Request can outlive this helper in tests.
    let headers = Box::leak(Box::new([httparse::EMPTY_HEADER; 128]));
    match parse_request(buf, &limits, headers) {
        Parsed::Complete(r, n) => Ok((r, n)),
        Parsed::Partial => Err(None),
        Parsed::Error(e) => Err(Some(e)),
    }
}

fn parse(buf: &[u8]) -> Result<(Request<'_>, usize), Option<HttpError>> {
    parse_with(buf, Limits::default())
}

fn req(buf: &[u8]) -> Request<'_> {
    match parse(buf) {
        Ok((r, n)) => {
            assert_eq!(n, buf.len());
            r
        }
        Err(e) => panic!("{:?}: {e:?}", String::from_utf8_lossy(buf)),
    }
}

fn err(buf: &[u8]) -> HttpError {
    match parse(buf) {
        Err(Some(e)) => e,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

#[test]
fn simple_get() {
    let r = req(b"GET /a/b.bin?x=1 HTTP/1.1\r\nHost: cdn.example\r\nRange: bytes=0-9\r\n\r\n");
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.path, "/a/b.bin");
    assert_eq!(r.minor_version, 1);
    assert_eq!(r.host, Some("cdn.example"));
    assert_eq!(r.range, Some("bytes=0-9"));
    assert_eq!((r.if_range, r.if_none_match), (None, None));
    assert!(r.keep_alive);
}

#[test]
fn head_and_conditional_fields() {
    let r = req(b"HEAD /x HTTP/1.1\r\nhost: h\r\nIF-RANGE: \"a\"\r\nif-none-match: W/\"b\", \"c\"  \r\n\r\n");
    assert_eq!(r.method, Method::Head);
    assert_eq!(r.if_range, Some("\"a\""));
    assert_eq!(r.if_none_match, Some("W/\"b\", \"c\""));
}

#[test]
fn known_methods_are_other_unknown_are_501() {
    for m in ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"] {
        let buf = format!("{m} /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(req(buf.as_bytes()).method, Method::Other, "{m}");
    }
    let r = req(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((r.method, r.path), (Method::Other, "*"));
    let r = req(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert_eq!((r.method, r.path), (Method::Other, "example.com:443"));
    for m in ["BREW", "get", "PROPFIND", "Get"] {
        let buf = format!("{m} /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), HttpError::NOT_IMPLEMENTED, "{m}");
    }
}

#[test]
fn versions() {
    assert_eq!(req(b"GET / HTTP/1.0\r\n\r\n").minor_version, 0);
    for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let buf = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), HttpError::VERSION, "{v}");
    }
    for v in [
        "HTTP/2",
        "HTTP/1.10",
        "HTTX/1.1",
        "http/1.1",
        "HTTP/1.1x",
        "FOO",
    ] {
        let buf = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), HttpError::BAD_REQUEST, "{v}");
    }
    // Still undecided: wait for the end of the line.
    assert_eq!(parse(b"GET / HTTP/2"), Err(None));
    assert_eq!(parse(b"GET / HTTP/2.0\r"), Err(None));
    assert_eq!(parse(b"GET / HTTP/2.0\r\n"), Err(Some(HttpError::VERSION)));
    assert_eq!(parse(b"GET / HTTPS"), Err(Some(HttpError::BAD_REQUEST)));
}

#[test]
fn malformed_is_400() {
    for buf in [
        &b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nBad\r\n\r\n",
        b"GET / HTTP/1.1\rHost: h\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
        b"\rGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nRange: \xff\r\n\r\n",
    ] {
        assert_eq!(
            err(buf),
            HttpError::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn target_forms() {
    let r = req(b"GET http://cdn.example:8080/a/b?q HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_eq!((r.path, r.host), ("/a/b", Some("cdn.example:8080")));
    let r = req(b"GET HTTP://cdn.example HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.path, r.host), ("/", Some("cdn.example")));
    let r = req(b"GET https://cdn.example?q HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.path, "/");
    for target in [
        "*",
        "a/b",
        "cdn.example:80",
        "ftp://h/x",
        "http:///x",
        "http://u@h/x",
        "http://h/x#f",
        "http:/h",
    ] {
        let buf = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), HttpError::BAD_REQUEST, "{target}");
    }
}

#[test]
fn host_rules() {
    assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), HttpError::BAD_REQUEST);
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    // Absolute-form still needs a Host line in HTTP/1.1.
    assert_eq!(
        err(b"GET http://h/ HTTP/1.1\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    assert_eq!(req(b"GET / HTTP/1.0\r\n\r\n").host, None);
    assert_eq!(req(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").host, Some(""));
    assert_eq!(
        req(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").host,
        Some("[::1]:8080")
    );
}

#[test]
fn bodies_are_refused() {
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
        HttpError::BODY
    );
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
        HttpError::BODY
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    assert_eq!(
        err(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -0\r\n\r\n"),
        HttpError::BAD_REQUEST
    );
    let r = req(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n");
    assert_eq!(r.method, Method::Get);
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").method,
        Method::Other
    );
}

#[test]
fn keep_alive_rules() {
    let ka = |buf: &[u8]| req(buf).keep_alive;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n"
    ));
    assert!(ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nconnection: foo ,Keep-Alive\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n"));
}

#[test]
fn repeated_ranges_are_dropped_and_if_none_match_lines_all_kept() {
    let r = req(b"GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
    assert_eq!(r.range, None);
    let r = req(
        b"GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nIf-Range: \"a\"\r\nIf-Range: \"b\"\r\n\r\n",
    );
    assert_eq!(r.range, None);
    let r =
        req(b"GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n");
    // RFC 9110 5.3: a list split over lines is one list.
    assert_eq!(r.if_none_match, Some("\"a\""));
    assert_eq!(
        r.if_none_match_lines,
        [Some("\"a\""), Some("\"b\""), None, None]
    );
}

#[test]
fn partial_within_limits() {
    let full = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(parse(&full[..cut]), Err(None), "cut at {cut}");
    }
    assert!(parse(full).is_ok());
}

#[test]
fn leading_empty_lines_are_skipped() {
    let buf = b"\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let (r, n) = parse(buf).unwrap();
    assert_eq!((r.path, n), ("/a", buf.len()));
}

#[test]
fn pipelining_consumes_exactly_one_head() {
    let first = b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
    let second = b"HEAD /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let mut buf = first.to_vec();
    buf.extend_from_slice(second);
    buf.extend_from_slice(b"GET /thr");
    let (r, n) = parse(&buf).unwrap();
    assert_eq!((r.path, n), ("/one", first.len()));
    let (r, m) = parse(&buf[n..]).unwrap();
    assert_eq!(
        (r.method, r.path, r.keep_alive, m),
        (Method::Head, "/two", false, second.len())
    );
    assert_eq!(parse(&buf[n + m..]), Err(None));
}

fn small() -> Limits {
    Limits {
        max_head: 64,
        max_headers: 3,
    }
}

#[test]
fn long_request_line_is_414() {
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(100));
    assert_eq!(
        parse_with(long.as_bytes(), small()),
        Err(Some(HttpError::URI_TOO_LONG))
    );
    // Still partial while it fits: only more bytes than max_head decide.
    assert_eq!(parse_with(&long.as_bytes()[..64], small()), Err(None));
    assert_eq!(
        parse_with(&long.as_bytes()[..65], small()),
        Err(Some(HttpError::URI_TOO_LONG))
    );
    // The default limit: 8 KiB.
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(9000));
    assert_eq!(parse(long.as_bytes()), Err(Some(HttpError::URI_TOO_LONG)));
}

#[test]
fn long_head_is_431() {
    let big = format!(
        "GET /a HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "b".repeat(100)
    );
    assert_eq!(
        parse_with(big.as_bytes(), small()),
        Err(Some(HttpError::HEADERS_TOO_LARGE))
    );
    // A head of exactly max_head bytes is fine.
    let pad = 64 - "GET /a HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n".len();
    let exact = format!(
        "GET /a HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "b".repeat(pad)
    );
    assert_eq!(exact.len(), 64);
    assert!(parse_with(exact.as_bytes(), small()).is_ok());
    let mut over = exact.into_bytes();
    over.insert(30, b'b');
    assert_eq!(
        parse_with(&over, small()),
        Err(Some(HttpError::HEADERS_TOO_LARGE))
    );
}

#[test]
fn too_many_headers_is_431() {
    let ok = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(parse_with(ok, small()).is_ok());
    let many = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        parse_with(many, small()),
        Err(Some(HttpError::TOO_MANY_HEADERS))
    );
    let mut buf = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..100 {
        buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    assert_eq!(parse(&buf), Err(Some(HttpError::TOO_MANY_HEADERS)));
    // The header array bounds it too.
    let mut two = [httparse::EMPTY_HEADER; 2];
    assert_eq!(
        parse_request(many, &Limits::default(), &mut two),
        Parsed::Error(HttpError::TOO_MANY_HEADERS)
    );
}
