//! Conditional and range requests: what to send for one request against one
//! object (RFC 9110 13, 14).

use crate::request::{Method, Request};
use crate::{etag, parse_http_date};

#[cfg(test)]
mod tests;

/// Most parts in a multipart/byteranges response; a Range asking for more
/// (after coalescing) is ignored and the whole object is sent, as RFC 9110
/// 14.2 allows.
pub const MAX_RANGES: usize = 16;

/// What the server knows about an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectMeta<'a> {
    /// Length of the representation in bytes (RFC 9110 8.6).
    pub len: u64,
    /// The strong entity-tag, quoted, e.g. `"a1b2"` (RFC 9110 8.8.3).
    pub etag: &'a str,
    /// Last-Modified as unix seconds (RFC 9110 8.8.2).
    pub last_modified: u64,
    /// The Content-Type field value (RFC 9110 8.3).
    pub content_type: &'a str,
}

/// The plan for one request against one object (RFC 9110 13.2.2, 14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// 200 with the whole object (RFC 9110 15.3.1).
    Full,
    /// 304: If-None-Match matched under weak comparison, or was `*`
    /// (RFC 9110 13.1.2, 15.4.5).
    NotModified,
    /// 206 with one range, both ends inclusive (RFC 9110 14.4, 15.3.7.1).
    Single {
        /// First byte offset.
        start: u64,
        /// Last byte offset, inclusive.
        end: u64,
    },
    /// 206 multipart/byteranges (RFC 9110 14.6, 15.3.7.2): 2 to
    /// [`MAX_RANGES`] inclusive ranges, sorted, disjoint and not adjacent
    /// (overlapping or adjacent ranges are coalesced, RFC 9110 15.3.7.2).
    Multi(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */LEN` (RFC 9110 14.4, 15.5.17).
    Unsatisfiable,
}

/// Plans a GET or HEAD `req` against `meta` (RFC 9110 13.2.2 order):
///
/// 1. If-None-Match (RFC 9110 13.1.2): `*` or a tag equal to `meta.etag`
///    under weak comparison gives [`Plan::NotModified`]. An invalid field is
///    ignored.
/// 2. Range (RFC 9110 14.2) applies to GET only; on HEAD it is ignored.
/// 3. If-Range (RFC 9110 13.1.5): an entity-tag must equal `meta.etag` under
///    strong comparison; an HTTP-date must equal `meta.last_modified`
///    exactly; otherwise (also a weak tag or an invalid value) the Range is
///    ignored and the whole object is sent.
/// 4. Range (RFC 9110 14.1.1-14.1.2): only `bytes=` with `first-last`,
///    `first-` and `-suffix` specs. An invalid header (syntax, `first >
///    last`, another unit) is ignored: [`Plan::Full`]. Specs with `first >=
///    len` or a zero suffix are unsatisfiable and dropped; when none remain,
///    [`Plan::Unsatisfiable`] (always so for an empty object). `last` is
///    clamped to `len - 1`, a suffix longer than the object is the whole
///    object. One range left after sorting and coalescing gives
///    [`Plan::Single`], more give [`Plan::Multi`], more than [`MAX_RANGES`]
///    give [`Plan::Full`].
///
/// For [`Method::Other`], which the server answers with 405, the plan is
/// [`Plan::Full`].
pub fn plan(req: &Request, meta: &ObjectMeta) -> Plan {
    if req.method == Method::Other {
        return Plan::Full;
    }
    if let Some(first) = req.if_none_match {
        // Every field line counts (RFC 9110 5.3); a Request built by hand
        // may carry only the first one.
        let matched = std::iter::once(first)
            .chain(req.if_none_match_lines.iter().flatten().copied())
            .any(|f| etag::none_match(f, meta.etag) == Some(true));
        if matched {
            return Plan::NotModified;
        }
    }
    let (Method::Get, Some(range)) = (req.method, req.range) else {
        return Plan::Full;
    };
    if let Some(validator) = req.if_range {
        if !if_range_holds(validator, meta) {
            return Plan::Full;
        }
    }
    plan_range(range, meta.len)
}

/// RFC 9110 13.1.5: does the If-Range validator match the representation?
fn if_range_holds(validator: &str, meta: &ObjectMeta) -> bool {
    let validator = validator.trim_matches([' ', '\t']);
    if validator.starts_with('"') || validator.starts_with("W/") {
        etag::strong_eq(validator, meta.etag)
    } else {
        parse_http_date(validator) == Some(meta.last_modified)
    }
}

/// A range-spec of the bytes unit (RFC 9110 14.1.1).
#[derive(Clone, Copy)]
enum Spec {
    /// `first-pos "-" [ last-pos ]`
    Int(u64, Option<u64>),
    /// `"-" suffix-length`
    Suffix(u64),
}

impl Spec {
    /// The satisfiable part of the spec as an inclusive range within `len`
    /// bytes (RFC 9110 14.1.1, 14.1.2).
    fn resolve(self, len: u64) -> Option<(u64, u64)> {
        match self {
            Spec::Int(first, last) if first < len => {
                Some((first, last.unwrap_or(u64::MAX).min(len - 1)))
            }
            Spec::Suffix(n) if n > 0 && len > 0 => Some((len - n.min(len), len - 1)),
            _ => None,
        }
    }
}

/// Calls `f` for each spec of a `bytes` Range field; `None` when the field
/// is invalid (RFC 9110 14.1.1, 14.2).
fn for_each_spec(field: &str, mut f: impl FnMut(Spec)) -> Option<()> {
    let (unit, set) = field.trim_matches([' ', '\t']).split_once('=')?;
    // Range unit names are case-insensitive (RFC 9110 14.1).
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut any = false;
    // 1#range-spec: OWS around commas and empty elements (RFC 9110 5.6.1).
    for element in set.split(',').map(|e| e.trim_matches([' ', '\t'])) {
        if element.is_empty() {
            continue;
        }
        let (first, last) = element.split_once('-')?;
        let spec = match (number(first), number(last)) {
            (None, Some(n)) if first.is_empty() => Spec::Suffix(n),
            (Some(a), None) if last.is_empty() => Spec::Int(a, None),
            // A last-pos below first-pos makes the spec invalid.
            (Some(a), Some(b)) if a <= b => Spec::Int(a, Some(b)),
            _ => return None,
        };
        any = true;
        f(spec);
    }
    any.then_some(())
}

/// `1*DIGIT`, saturating: an offset beyond u64 is unsatisfiable anyway, and
/// a suffix that long means the whole object.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Plans a Range field against an object of `len` bytes. Allocates only for
/// several satisfiable ranges.
fn plan_range(field: &str, len: u64) -> Plan {
    let mut count = 0usize;
    let mut first = None;
    let valid = for_each_spec(field, |spec| {
        if let Some(r) = spec.resolve(len) {
            count += 1;
            first.get_or_insert(r);
        }
    });
    match (valid, count, first) {
        (None, _, _) => return Plan::Full,
        (Some(()), 0, _) => return Plan::Unsatisfiable,
        (Some(()), 1, Some((start, end))) => return Plan::Single { start, end },
        _ => {}
    }
    // (start, end, position in the header).
    let mut ranges: Vec<(u64, u64, usize)> = Vec::with_capacity(count);
    let _ = for_each_spec(field, |spec| {
        let i = ranges.len();
        ranges.extend(spec.resolve(len).map(|(s, e)| (s, e, i)));
    });
    ranges.sort_unstable();
    // Coalesce overlapping and adjacent ranges (RFC 9110 15.3.7.2); a
    // merged part keeps the earliest position of the ranges it absorbed.
    let mut kept = 0;
    for i in 1..ranges.len() {
        let (start, end, pos) = ranges[i];
        let last = &mut ranges[kept];
        if start <= last.1.saturating_add(1) {
            last.1 = last.1.max(end);
            last.2 = last.2.min(pos);
        } else {
            kept += 1;
            ranges[kept] = (start, end, pos);
        }
    }
    ranges.truncate(kept + 1);
    // RFC 9110 15.3.7.2: parts SHOULD follow the order of the request.
    ranges.sort_unstable_by_key(|r| r.2);
    let ranges: Vec<(u64, u64)> = ranges.into_iter().map(|(s, e, _)| (s, e)).collect();
    match ranges.len() {
        1 => Plan::Single {
            start: ranges[0].0,
            end: ranges[0].1,
        },
        n if n > MAX_RANGES => Plan::Full,
        _ => Plan::Multi(ranges),
    }
}
