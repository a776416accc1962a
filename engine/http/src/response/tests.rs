use super::*;
use crate::fuzz::check_response;

const META: ObjectMeta<'static> = ObjectMeta {
    len: 10_000,
    etag: "\"a1b2\"",
    last_modified: 784_111_777,
    content_type: "application/octet-stream",
};

const DATE: u64 = 1_700_000_000;

/// The object: byte i is i mod 251.
fn object(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Renders what the chunks say to send.
fn render(head: &[u8], chunks: &[Chunk], obj: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        match *c {
            Chunk::Head { start, len } => out.extend_from_slice(&head[start..start + len]),
            Chunk::Object { offset, len } => {
                out.extend_from_slice(&obj[offset as usize..(offset + len) as usize])
            }
        }
    }
    out
}

fn respond(plan: &Plan, meta: &ObjectMeta, keep_alive: bool, head_only: bool) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut chunks = vec![Chunk::Object { offset: 7, len: 7 }];
    write_response(
        plan,
        meta,
        DATE,
        keep_alive,
        head_only,
        &mut head,
        &mut chunks,
    );
    check_response(&head, &chunks, meta.len, head_only);
    let wire = render(&head, &chunks, &object(meta.len));
    let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        String::from_utf8(wire[..end].to_vec()).unwrap(),
        wire[end..].to_vec(),
    )
}

#[test]
fn full_200() {
    let (head, body) = respond(&Plan::Full, &META, true, false);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         Server: anyedge\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Length: 10000\r\n\
         ETag: \"a1b2\"\r\n\
         Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
         Accept-Ranges: bytes\r\n\
         Connection: keep-alive\r\n\r\n"
    );
    assert_eq!(body, object(10_000));
}

#[test]
fn chunks_for_full_and_head() {
    let mut head = Vec::new();
    let mut chunks = Vec::new();
    write_response(
        &Plan::Full,
        &META,
        DATE,
        false,
        false,
        &mut head,
        &mut chunks,
    );
    assert_eq!(
        chunks,
        [
            Chunk::Head {
                start: 0,
                len: head.len()
            },
            Chunk::Object {
                offset: 0,
                len: 10_000
            }
        ]
    );
    assert!(head.ends_with(b"Connection: close\r\n\r\n"));
    write_response(
        &Plan::Full,
        &META,
        DATE,
        false,
        true,
        &mut head,
        &mut chunks,
    );
    assert_eq!(chunks.len(), 1);
    // HEAD: same Content-Length as GET, no body.
    assert!(std::str::from_utf8(&head)
        .unwrap()
        .contains("Content-Length: 10000\r\n"));
}

#[test]
fn empty_object_200_has_no_object_chunk() {
    let empty = ObjectMeta { len: 0, ..META };
    let (head, body) = respond(&Plan::Full, &empty, true, false);
    assert!(head.contains("Content-Length: 0\r\n"));
    assert!(body.is_empty());
}

#[test]
fn single_206() {
    let (head, body) = respond(
        &Plan::Single {
            start: 100,
            end: 199,
        },
        &META,
        true,
        false,
    );
    assert!(head.starts_with("HTTP/1.1 206 Partial Content\r\n"));
    assert!(head.contains("Content-Length: 100\r\n"));
    assert!(head.contains("Content-Range: bytes 100-199/10000\r\n"));
    assert!(head.contains("Content-Type: application/octet-stream\r\n"));
    assert!(head.contains("ETag: \"a1b2\"\r\n"));
    assert!(head.contains("Accept-Ranges: bytes\r\n"));
    assert_eq!(body, object(10_000)[100..200]);
}

#[test]
fn not_modified_304() {
    let (head, body) = respond(&Plan::NotModified, &META, true, false);
    assert_eq!(
        head,
        "HTTP/1.1 304 Not Modified\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         Server: anyedge\r\n\
         ETag: \"a1b2\"\r\n\
         Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
         Connection: keep-alive\r\n\r\n"
    );
    assert!(body.is_empty());
}

#[test]
fn unsatisfiable_416() {
    let (head, body) = respond(&Plan::Unsatisfiable, &META, false, false);
    assert_eq!(
        head,
        "HTTP/1.1 416 Range Not Satisfiable\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         Server: anyedge\r\n\
         Content-Range: bytes */10000\r\n\
         Content-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    assert!(body.is_empty());
}

#[test]
fn out_of_bounds_plans_become_416() {
    for plan in [
        Plan::Single {
            start: 0,
            end: 10_000,
        },
        Plan::Single { start: 5, end: 4 },
        Plan::Multi(vec![]),
        Plan::Multi(vec![(0, 1), (9_000, 10_000)]),
        Plan::Multi(vec![(0, u64::MAX - 1); 3]),
    ] {
        let big = ObjectMeta {
            len: u64::MAX,
            ..META
        };
        let meta = if matches!(&plan, Plan::Multi(v) if v.len() == 3) {
            big
        } else {
            META
        };
        let mut head = Vec::new();
        let mut chunks = Vec::new();
        write_response(&plan, &meta, DATE, true, false, &mut head, &mut chunks);
        assert!(head.starts_with(b"HTTP/1.1 416 "), "{plan:?}");
        assert_eq!(chunks.len(), 1);
    }
}

/// Parses a multipart/byteranges body (RFC 9110 14.6, RFC 2046 5.1.1) into
/// (Content-Type, Content-Range, data) parts.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<(String, String, Vec<u8>)> {
    let first = format!("--{boundary}\r\n");
    let delim = format!("\r\n--{boundary}");
    assert!(
        body.starts_with(first.as_bytes()),
        "body starts with a delimiter"
    );
    let mut rest = &body[first.len()..];
    let mut parts = Vec::new();
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let fields = std::str::from_utf8(&rest[..end]).unwrap();
        let mut ct = String::new();
        let mut cr = String::new();
        for line in fields.split("\r\n") {
            let (name, value) = line.split_once(": ").unwrap();
            match name {
                "Content-Type" => ct = value.to_string(),
                "Content-Range" => cr = value.to_string(),
                other => panic!("unexpected part field {other}"),
            }
        }
        rest = &rest[end + 4..];
        // The data runs up to the delimiter that Content-Range predicts.
        let (s, e) = cr["bytes ".len()..cr.find('/').unwrap()]
            .split_once('-')
            .unwrap();
        let n = (e.parse::<usize>().unwrap() - s.parse::<usize>().unwrap()) + 1;
        parts.push((ct, cr.clone(), rest[..n].to_vec()));
        rest = &rest[n..];
        assert!(rest.starts_with(delim.as_bytes()));
        rest = &rest[delim.len()..];
        if rest == b"--\r\n" {
            return parts;
        }
        assert!(rest.starts_with(b"\r\n"));
        rest = &rest[2..];
    }
}

#[test]
fn multipart_206_layout() {
    let plan = Plan::Multi(vec![(0, 9), (100, 104), (9_990, 9_999)]);
    let (head, body) = respond(&plan, &META, true, false);
    let boundary = "anyedge-".to_string() + &head.split("boundary=anyedge-").nth(1).unwrap()[..16];
    assert!(head.starts_with("HTTP/1.1 206 Partial Content\r\n"));
    assert!(head.contains(&format!(
        "Content-Type: multipart/byteranges; boundary={boundary}\r\n"
    )));
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert!(!head.contains("Content-Range"));
    let obj = object(10_000);
    let parts = parse_multipart(&body, &boundary);
    assert_eq!(
        parts,
        [
            (
                "application/octet-stream".into(),
                "bytes 0-9/10000".into(),
                obj[0..10].to_vec()
            ),
            (
                "application/octet-stream".into(),
                "bytes 100-104/10000".into(),
                obj[100..105].to_vec()
            ),
            (
                "application/octet-stream".into(),
                "bytes 9990-9999/10000".into(),
                obj[9_990..].to_vec()
            ),
        ]
    );
    // The exact bytes of the first part and the end.
    let first = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-9/10000\r\n\r\n"
    );
    assert!(body.starts_with(first.as_bytes()));
    assert!(body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
}

#[test]
fn multipart_from_plan_with_coalescing() {
    let req = crate::Request {
        method: crate::Method::Get,
        path: "/a",
        minor_version: 1,
        host: None,
        range: Some("bytes=50-59, 0-9, 5-14, -5"),
        if_range: None,
        if_none_match: None,
        if_none_match_lines: [None; 4],
        keep_alive: true,
    };
    let plan = crate::plan(&req, &META);
    // Parts in request order: 50-59 came first, then 0-14 (0-9 and 5-14).
    assert_eq!(plan, Plan::Multi(vec![(50, 59), (0, 14), (9_995, 9_999)]));
    let (head, body) = respond(&plan, &META, true, false);
    let boundary = "anyedge-".to_string() + &head.split("boundary=anyedge-").nth(1).unwrap()[..16];
    let obj = object(10_000);
    let data: Vec<Vec<u8>> = parse_multipart(&body, &boundary)
        .into_iter()
        .map(|p| p.2)
        .collect();
    assert_eq!(
        data,
        [
            obj[50..60].to_vec(),
            obj[0..15].to_vec(),
            obj[9_995..].to_vec()
        ]
    );
}

#[test]
fn multipart_head_only_has_the_length_but_no_parts() {
    let plan = Plan::Multi(vec![(0, 9), (20, 29)]);
    let (_, body) = respond(&plan, &META, true, false);
    let (head, none) = respond(&plan, &META, true, true);
    assert!(none.is_empty());
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
}

#[test]
fn boundary_is_deterministic_and_per_etag() {
    assert_eq!(boundary("\"a1b2\""), boundary("\"a1b2\""));
    assert_ne!(boundary("\"a1b2\""), boundary("\"a1b3\""));
    let b = boundary("\"a1b2\"");
    assert!(b.starts_with(b"anyedge-") && b[8..].iter().all(u8::is_ascii_hexdigit));
}

#[test]
fn metadata_cannot_split_the_head() {
    let meta = ObjectMeta {
        content_type: "text/html\r\nSet-Cookie: x=1",
        ..META
    };
    let (head, _) = respond(&Plan::Full, &meta, true, false);
    assert!(head.contains("Content-Type: text/htmlSet-Cookie: x=1\r\n"));
}

#[test]
fn simple_responses() {
    let mut head = Vec::new();
    write_simple(404, DATE, true, false, &mut head);
    assert_eq!(
        std::str::from_utf8(&head).unwrap(),
        "HTTP/1.1 404 Not Found\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         Server: anyedge\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 14\r\n\
         Connection: keep-alive\r\n\r\n\
         404 Not Found\n"
    );
    write_simple(405, DATE, false, true, &mut head);
    let text = std::str::from_utf8(&head).unwrap();
    assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    assert!(text.contains("Allow: GET, HEAD\r\n"));
    assert!(text.contains("Content-Length: 23\r\n"));
    assert!(text.ends_with("Connection: close\r\n\r\n"));
    for status in [400, 414, 431, 501, 505, 503, 418, 299, 0, 1000] {
        write_simple(status, DATE, false, false, &mut head);
        let len = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let chunks = [
            Chunk::Head { start: 0, len },
            Chunk::Head {
                start: len,
                len: head.len() - len,
            },
        ];
        let sent = check_response(&head, &chunks, 0, false);
        let expect = if (100..=599).contains(&status) {
            status
        } else {
            500
        };
        assert_eq!(sent, expect);
    }
    write_simple(304, DATE, true, false, &mut head);
    let text = std::str::from_utf8(&head).unwrap();
    assert!(!text.contains("Content-Length") && text.ends_with("\r\n\r\n"));
}
