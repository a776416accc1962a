//! A fuzzing entry point that checks the crate's invariants end to end.

use crate::{
    cache_key, parse_request, plan, write_response, write_simple, Chunk, Limits, Method,
    ObjectMeta, Parsed, Plan, MAX_RANGES,
};

/// The objects [`fuzz_one`] plans against: a typical one, a one-byte one and
/// an empty one (for which every range is unsatisfiable, RFC 9110 14.1.1).
pub(crate) const METAS: [ObjectMeta<'static>; 3] = [
    ObjectMeta {
        len: 10_000,
        etag: "\"a1b2\"",
        last_modified: 784_111_777,
        content_type: "application/octet-stream",
    },
    ObjectMeta {
        len: 1,
        etag: "\"x\"",
        last_modified: 0,
        content_type: "text/plain",
    },
    ObjectMeta {
        len: 0,
        etag: "\"e\"",
        last_modified: 1_700_000_000,
        content_type: "text/plain",
    },
];

/// Runs [`parse_request`] on `data` and, on a complete head, [`cache_key`],
/// [`plan`] and [`write_response`] against fixed [`ObjectMeta`]s; on an
/// error, [`write_simple`]. Panics when an invariant breaks: a consumed
/// length beyond the input or the limits, a plan range outside the object,
/// a response head that does not parse back (RFC 9112 4-5), chunks that do
/// not tile the head buffer, an object slice outside the object, or a
/// Content-Length (RFC 9110 8.6) different from the body sent.
pub fn fuzz_one(data: &[u8]) {
    let limits = Limits::default();
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut head = Vec::new();
    let mut chunks = Vec::new();
    match parse_request(data, &limits, &mut headers) {
        Parsed::Complete(req, n) => {
            assert!(n > 0 && n <= data.len() && n <= limits.max_head);
            assert!(req.minor_version <= 1);
            assert!(req.method == Method::Other || req.path.starts_with('/'));
            let mut key = String::new();
            match cache_key(req.path, &mut key) {
                Ok(()) => assert!(key
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['\\', '\0']))),
                Err(e) => assert!(key.is_empty() && matches!(e.status, 400 | 404)),
            }
            let head_only = req.method == Method::Head;
            for meta in &METAS {
                let p = plan(&req, meta);
                check_plan(&p, meta.len);
                write_response(
                    &p,
                    meta,
                    1,
                    req.keep_alive,
                    head_only,
                    &mut head,
                    &mut chunks,
                );
                check_response(&head, &chunks, meta.len, head_only);
            }
        }
        Parsed::Partial => assert!(data.len() <= limits.max_head),
        Parsed::Error(e) => {
            assert!(matches!(e.status, 400 | 414 | 431 | 501 | 505));
            write_simple(e.status, 1, false, false, &mut head);
            chunks.clear();
            chunks.push(Chunk::Head {
                start: 0,
                len: head_len(&head),
            });
            chunks.push(Chunk::Head {
                start: head_len(&head),
                len: head.len() - head_len(&head),
            });
            check_response(&head, &chunks, 0, false);
        }
    }
}

/// Length of the response head at the front of `head` (up to the empty
/// line).
fn head_len(head: &[u8]) -> usize {
    head.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(head.len(), |p| p + 4)
}

/// Panics unless the ranges of `plan` are within an object of `len` bytes,
/// and a multipart plan's parts (in request order) are disjoint,
/// non-adjacent and few enough.
pub(crate) fn check_plan(plan: &Plan, len: u64) {
    match plan {
        Plan::Single { start, end } => assert!(start <= end && *end < len),
        Plan::Multi(ranges) => {
            assert!(ranges.len() >= 2 && ranges.len() <= MAX_RANGES);
            for &(s, e) in ranges {
                assert!(s <= e && e < len);
            }
            let mut sorted = ranges.clone();
            sorted.sort_unstable();
            for w in sorted.windows(2) {
                assert!(w[0].1 + 1 < w[1].0, "not coalesced: {ranges:?}");
            }
        }
        _ => {}
    }
}

/// Panics unless the response in `head`/`chunks` is consistent: see
/// [`fuzz_one`]. Returns the status code.
pub(crate) fn check_response(head: &[u8], chunks: &[Chunk], len: u64, head_only: bool) -> u16 {
    let Some(&Chunk::Head { start: 0, len: n }) = chunks.first() else {
        panic!("first chunk is not the head: {chunks:?}");
    };
    let mut fields = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut fields);
    assert_eq!(
        resp.parse(&head[..n]),
        Ok(httparse::Status::Complete(n)),
        "head does not parse back: {:?}",
        String::from_utf8_lossy(head)
    );
    let status = resp.code.unwrap_or(0);
    let content_length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| {
            std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .expect("numeric Content-Length")
        });
    let mut at = 0usize;
    let mut body = 0u64;
    for (i, chunk) in chunks.iter().enumerate() {
        match *chunk {
            Chunk::Head { start, len } => {
                assert_eq!(start, at, "head chunks must tile the buffer");
                at += len;
                if i > 0 {
                    body += len as u64;
                }
            }
            Chunk::Object { offset, len: l } => {
                assert!(l > 0 && offset.checked_add(l).is_some_and(|end| end <= len));
                body += l;
            }
        }
    }
    assert_eq!(at, head.len(), "head chunks must cover the buffer");
    if head_only || status == 304 || status == 416 {
        assert_eq!(body, 0);
    } else {
        assert_eq!(content_length, Some(body), "Content-Length vs body");
    }
    status
}
