use super::*;

const META: ObjectMeta<'static> = ObjectMeta {
    len: 10_000,
    etag: "\"a1b2\"",
    last_modified: 784_111_777,
    content_type: "application/octet-stream",
};

fn get(range: &str) -> Request<'_> {
    Request {
        method: Method::Get,
        path: "/a",
        minor_version: 1,
        host: Some("h"),
        range: Some(range),
        if_range: None,
        if_none_match: None,
        if_none_match_lines: [None; 4],
        keep_alive: true,
    }
}

fn p(range: &str) -> Plan {
    plan(&get(range), &META)
}

fn single(start: u64, end: u64) -> Plan {
    Plan::Single { start, end }
}

#[test]
fn no_range_is_full() {
    let mut r = get("");
    r.range = None;
    assert_eq!(plan(&r, &META), Plan::Full);
}

#[test]
fn range_forms() {
    assert_eq!(p("bytes=0-499"), single(0, 499));
    assert_eq!(p("bytes=500-999"), single(500, 999));
    assert_eq!(p("bytes=9500-"), single(9500, 9999));
    assert_eq!(p("bytes=-500"), single(9500, 9999));
    assert_eq!(p("bytes=0-0"), single(0, 0));
    assert_eq!(p("bytes=-1"), single(9999, 9999));
    assert_eq!(p("bytes=9999-"), single(9999, 9999));
    // Unit names are case-insensitive; OWS around list commas.
    assert_eq!(p("Bytes=0-1"), single(0, 1));
    assert_eq!(p(" bytes=0-1 ,"), single(0, 1));
}

#[test]
fn clamping() {
    assert_eq!(p("bytes=9000-20000"), single(9000, 9999));
    assert_eq!(p("bytes=0-99999999999999999999999"), single(0, 9999));
    // A suffix longer than the object is the whole object.
    assert_eq!(p("bytes=-20000"), single(0, 9999));
    assert_eq!(p("bytes=-99999999999999999999999"), single(0, 9999));
}

#[test]
fn invalid_headers_are_ignored() {
    for field in [
        "bytes=500-499",
        "bytes=0-1,5-4",
        "items=0-1",
        "bytes 0-1",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=a-b",
        "bytes=1",
        "bytes=0-1-2",
        "bytes=+1-2",
        "bytes= 0 - 1",
        "bytes=0x10-20",
        "bytes=0-1;2-3",
        "=0-1",
        "",
    ] {
        assert_eq!(p(field), Plan::Full, "{field}");
    }
}

#[test]
fn unsatisfiable() {
    assert_eq!(p("bytes=10000-"), Plan::Unsatisfiable);
    assert_eq!(p("bytes=10000-10005"), Plan::Unsatisfiable);
    assert_eq!(p("bytes=-0"), Plan::Unsatisfiable);
    assert_eq!(p("bytes=20000-30000, -0"), Plan::Unsatisfiable);
    assert_eq!(p("bytes=99999999999999999999999-"), Plan::Unsatisfiable);
    // Unsatisfiable specs are dropped when others remain.
    assert_eq!(p("bytes=20000-30000, 0-9"), single(0, 9));
}

#[test]
fn empty_object_is_always_unsatisfiable() {
    let empty = ObjectMeta { len: 0, ..META };
    for field in [
        "bytes=0-",
        "bytes=0-0",
        "bytes=-1",
        "bytes=-0",
        "bytes=0-1,3-4",
    ] {
        assert_eq!(plan(&get(field), &empty), Plan::Unsatisfiable, "{field}");
    }
    // An invalid header is still ignored.
    assert_eq!(plan(&get("bytes=1-0"), &empty), Plan::Full);
}

#[test]
fn multi_ranges() {
    assert_eq!(p("bytes=0-9,20-29"), Plan::Multi(vec![(0, 9), (20, 29)]));
    // In request order (RFC 9110 15.3.7.2).
    assert_eq!(
        p("bytes=-10, 0-9, 100-199"),
        Plan::Multi(vec![(9990, 9999), (0, 9), (100, 199)])
    );
    // Overlapping and adjacent ranges coalesce.
    assert_eq!(
        p("bytes=0-9,5-19,20-29,40-49,45-"),
        Plan::Multi(vec![(0, 29), (40, 9999)])
    );
    // Coalescing down to one range gives a single part.
    assert_eq!(p("bytes=0-9,10-19"), single(0, 19));
    assert_eq!(p("bytes=0-,-100"), single(0, 9999));
    assert_eq!(p("bytes=5-9,0-4,10-10"), single(0, 10));
}

#[test]
fn too_many_ranges_is_full() {
    let ranges: Vec<String> = (0..=MAX_RANGES as u64)
        .map(|i| format!("{}-{}", i * 10, i * 10))
        .collect();
    let field = format!("bytes={}", ranges.join(","));
    assert_eq!(p(&field), Plan::Full);
    let ranges: Vec<String> = (0..MAX_RANGES as u64)
        .map(|i| format!("{}-{}", i * 10, i * 10))
        .collect();
    let field = format!("bytes={}", ranges.join(","));
    assert!(matches!(p(&field), Plan::Multi(v) if v.len() == MAX_RANGES));
    // Many ranges that coalesce into few are fine.
    let ranges: Vec<String> = (0..1000).map(|i| format!("{i}-{i}")).collect();
    assert_eq!(p(&format!("bytes={}", ranges.join(","))), single(0, 999));
}

#[test]
fn if_range_etag() {
    let mut r = get("bytes=0-9");
    r.if_range = Some("\"a1b2\"");
    assert_eq!(plan(&r, &META), single(0, 9));
    r.if_range = Some("\"other\"");
    assert_eq!(plan(&r, &META), Plan::Full);
    // Weak tags never match under strong comparison.
    r.if_range = Some("W/\"a1b2\"");
    assert_eq!(plan(&r, &META), Plan::Full);
    r.if_range = Some("\"a1b2");
    assert_eq!(plan(&r, &META), Plan::Full);
    // Without a Range, If-Range does nothing.
    r.range = None;
    assert_eq!(plan(&r, &META), Plan::Full);
}

#[test]
fn if_range_date() {
    let mut r = get("bytes=0-9");
    r.if_range = Some("Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(plan(&r, &META), single(0, 9));
    r.if_range = Some("Sun, 06 Nov 1994 08:49:38 GMT");
    assert_eq!(plan(&r, &META), Plan::Full);
    r.if_range = Some("Sun, 06 Nov 1994 08:49:36 GMT");
    assert_eq!(plan(&r, &META), Plan::Full);
    r.if_range = Some("Sunday, 06-Nov-94 08:49:37 GMT");
    assert_eq!(plan(&r, &META), Plan::Full);
    r.if_range = Some("garbage");
    assert_eq!(plan(&r, &META), Plan::Full);
    // A failed If-Range also lifts an unsatisfiable range.
    r.range = Some("bytes=20000-");
    assert_eq!(plan(&r, &META), Plan::Full);
}

#[test]
fn if_none_match() {
    let mut r = get("bytes=0-9");
    for field in [
        "\"a1b2\"",
        "W/\"a1b2\"",
        "\"x\", \"a1b2\"",
        "\"x\",W/\"a1b2\"",
        "*",
    ] {
        r.if_none_match = Some(field);
        assert_eq!(plan(&r, &META), Plan::NotModified, "{field}");
    }
    // HEAD too.
    r.method = Method::Head;
    assert_eq!(plan(&r, &META), Plan::NotModified);
    r.method = Method::Get;
    for field in ["\"x\"", "\"x\", W/\"y\"", "a1b2", "\"a1b2\" junk"] {
        r.if_none_match = Some(field);
        assert_eq!(plan(&r, &META), single(0, 9), "{field}");
    }
    // If-None-Match is evaluated before If-Range and Range.
    r.if_none_match = Some("\"a1b2\"");
    r.if_range = Some("\"other\"");
    r.range = Some("bytes=99999-");
    assert_eq!(plan(&r, &META), Plan::NotModified);
}

#[test]
fn range_is_ignored_on_head_and_other_methods() {
    let mut r = get("bytes=0-9");
    r.method = Method::Head;
    assert_eq!(plan(&r, &META), Plan::Full);
    r.method = Method::Other;
    assert_eq!(plan(&r, &META), Plan::Full);
    r.if_none_match = Some("*");
    assert_eq!(plan(&r, &META), Plan::Full);
}
