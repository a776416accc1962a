//! Property tests across the crate: nothing panics, plans stay within the
//! object, Content-Length always matches the chunks.

use crate::fuzz::{check_plan, check_response, METAS};
use crate::*;
use proptest::prelude::*;

/// A Range field built from pieces that are mostly, but not always, valid.
fn range_field() -> impl Strategy<Value = String> {
    let num = prop_oneof![0u64..20, 0u64..12_000, Just(u64::MAX), any::<u64>()];
    let spec = prop_oneof![
        (num.clone(), num.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        num.clone().prop_map(|a| format!("{a}-")),
        num.prop_map(|n| format!("-{n}")),
        Just(String::new()),
        "[-0-9a-z ]{0,4}",
    ];
    (
        prop_oneof![Just("bytes="), Just("BYTES="), Just("bytes"), Just("x=")],
        prop::collection::vec(spec, 0..24),
    )
        .prop_map(|(unit, specs)| format!("{unit}{}", specs.join(",")))
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just("GET"), Just("HEAD"), Just("POST"), Just("BREW")],
        "/[a-z0-9%./]{0,12}",
        prop_oneof![Just("1.1"), Just("1.0"), Just("2.0")],
        prop::option::of(range_field()),
        prop::option::of(prop_oneof![
            Just("\"a1b2\"".to_string()),
            Just("\"x\"".to_string()),
            Just("Sun, 06 Nov 1994 08:49:37 GMT".to_string()),
            "[ -~]{0,10}",
        ]),
        prop::option::of(prop_oneof![
            Just("*".to_string()),
            Just("W/\"a1b2\"".to_string()),
            "[ -~]{0,10}",
        ]),
        prop::option::of(prop_oneof![Just("close"), Just("keep-alive")]),
    )
        .prop_map(|(method, path, version, range, if_range, inm, conn)| {
            let mut s = format!("{method} {path} HTTP/{version}\r\nHost: h\r\n");
            for (name, value) in [
                ("Range", range),
                ("If-Range", if_range),
                ("If-None-Match", inm),
                ("Connection", conn.map(str::to_string)),
            ] {
                if let Some(v) = value {
                    s += &format!("{name}: {v}\r\n");
                }
            }
            s += "\r\n";
            s.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz_one(&data);
    }

    #[test]
    fn parse_never_panics_on_near_requests(
        req in request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let mut data = req;
        for (i, b) in flips {
            let i = i.index(data.len());
            data[i] = b;
        }
        fuzz_one(&data);
    }

    #[test]
    fn structured_requests_hold_the_invariants(req in request()) {
        // fuzz_one checks plans and Content-Length; also check that a valid
        // GET or HEAD completes and consumes the whole head.
        fuzz_one(&req);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        if req.starts_with(b"GET") && !req.windows(8).any(|w| w == b"HTTP/2.0") {
            let parsed = parse_request(&req, &Limits::default(), &mut headers);
            prop_assert!(matches!(parsed, Parsed::Complete(_, n) if n == req.len()));
        }
    }

    #[test]
    fn plans_stay_within_the_object(field in range_field(), len in prop_oneof![0u64..40, any::<u64>()]) {
        let req = Request {
            method: Method::Get,
            path: "/a",
            minor_version: 1,
            host: None,
            range: Some(&field),
            if_range: None,
            if_none_match: None,
            if_none_match_lines: [None; 4],
            keep_alive: true,
        };
        let meta = ObjectMeta { len, ..METAS[0] };
        let p = plan(&req, &meta);
        check_plan(&p, len);
        let mut head = Vec::new();
        let mut chunks = Vec::new();
        for head_only in [false, true] {
            write_response(&p, &meta, 0, true, head_only, &mut head, &mut chunks);
            check_response(&head, &chunks, len, head_only);
        }
    }

    #[test]
    fn content_length_matches_chunks(
        ranges in prop::collection::vec((0u64..1000, 0u64..1000), 0..20),
        len in 0u64..1200,
        keep_alive: bool,
        head_only: bool,
    ) {
        // Any plan, even one that plan() would not make.
        let meta = ObjectMeta { len, ..METAS[0] };
        let ranges: Vec<(u64, u64)> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        let mut head = Vec::new();
        let mut chunks = Vec::new();
        let plans = [
            Plan::Full,
            Plan::NotModified,
            Plan::Unsatisfiable,
            Plan::Single { start: ranges.first().map_or(0, |r| r.0), end: ranges.first().map_or(0, |r| r.1) },
            Plan::Multi(ranges),
        ];
        for p in &plans {
            write_response(p, &meta, 0, keep_alive, head_only, &mut head, &mut chunks);
            check_response(&head, &chunks, len, head_only);
        }
    }
}
