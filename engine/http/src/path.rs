//! From a request path to a cache key, safely (RFC 3986 2.1, 3.3, 6.2.2).

use crate::HttpError;

/// Turns the path of a request (as in [`crate::Request::path`]) into a cache
/// key: the percent-decoded (RFC 3986 2.1) segments joined by `/`, without
/// the leading `/`, e.g. `/a/b%20c.bin` -> `a/b c.bin`. `out` is cleared
/// first, and holds the key on success.
///
/// The key is never normalized into something else: instead of resolving dot
/// segments (RFC 3986 5.2.4) or collapsing slashes, a path that would need it
/// is refused, so that one object has one URL. Refused with 400 `bad_path`:
/// * a path not starting with `/`;
/// * empty segments (`//a`, `/a//b`) and `.` or `..` segments, also when
///   spelled with percent-encoded dots (`/a/%2e%2E/b`);
/// * a percent-encoded `/` (`/a%2fb`), so that segments are what they look
///   like;
/// * a backslash, NUL or other control character, raw or encoded;
/// * a malformed percent-encoding (`%4`, `%zz`) or a key that is not UTF-8.
///
/// `/` and any path ending in `/` name a directory: 404 `directory`.
pub fn cache_key(path: &str, out: &mut String) -> Result<(), HttpError> {
    out.clear();
    let Some(rest) = path.strip_prefix('/') else {
        return Err(HttpError::BAD_PATH);
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(HttpError::DIRECTORY);
    }
    // Decode into the String's own buffer: no allocation beyond its growth.
    let mut bytes = std::mem::take(out).into_bytes();
    let result = decode(rest, &mut bytes);
    if result.is_err() {
        bytes.clear();
    }
    match String::from_utf8(bytes) {
        Ok(key) => {
            *out = key;
            result
        }
        Err(e) => {
            let mut bytes = e.into_bytes();
            bytes.clear();
            *out = String::from_utf8(bytes).unwrap_or_default();
            Err(HttpError::BAD_PATH)
        }
    }
}

fn decode(rest: &str, out: &mut Vec<u8>) -> Result<(), HttpError> {
    for (i, segment) in rest.split('/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        let start = out.len();
        let raw = segment.as_bytes();
        let mut j = 0;
        while j < raw.len() {
            let b = if raw[j] == b'%' {
                let hi = raw.get(j + 1).and_then(|&c| hex(c));
                let lo = raw.get(j + 2).and_then(|&c| hex(c));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(HttpError::BAD_PATH);
                };
                j += 3;
                hi << 4 | lo
            } else {
                j += 1;
                raw[j - 1]
            };
            if b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f {
                return Err(HttpError::BAD_PATH);
            }
            out.push(b);
        }
        if matches!(&out[start..], b"" | b"." | b"..") {
            return Err(HttpError::BAD_PATH);
        }
    }
    Ok(())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(path: &str) -> Result<String, HttpError> {
        let mut out = String::from("stale");
        cache_key(path, &mut out).map(|()| out)
    }

    #[test]
    fn plain_paths() {
        assert_eq!(key("/a/b.bin").as_deref(), Ok("a/b.bin"));
        assert_eq!(key("/index.html").as_deref(), Ok("index.html"));
        assert_eq!(key("/a%20b/c%2Bd").as_deref(), Ok("a b/c+d"));
        assert_eq!(key("/caf%C3%A9").as_deref(), Ok("café"));
        assert_eq!(key("/..a/b..").as_deref(), Ok("..a/b.."));
        assert_eq!(key("/.well-known/x").as_deref(), Ok(".well-known/x"));
    }

    #[test]
    fn directories_are_404() {
        assert_eq!(key("/"), Err(HttpError::DIRECTORY));
        assert_eq!(key("/a/"), Err(HttpError::DIRECTORY));
        assert_eq!(key("/a/b/"), Err(HttpError::DIRECTORY));
    }

    #[test]
    fn traversal_and_tricks_are_refused() {
        for path in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/a/%2e%2e/b",
            "/%2e%2E/x",
            "/%2E%2e",
            "/a/%2e/b",
            "/a%00b",
            "/a%2fb",
            "/a%2Fb",
            "/a\\b",
            "/a%5cb",
            "//a",
            "/a//b",
            "/a/./b",
            "/./a",
            "/a/..",
            "/a%0d%0ab",
            "/a%7f",
            "/a%",
            "/a%4",
            "/a%zz",
            "/%c3%28",
            "a/b",
            "",
        ] {
            assert_eq!(key(path), Err(HttpError::BAD_PATH), "{path}");
        }
    }

    #[test]
    fn out_is_cleared_on_error() {
        let mut out = String::from("stale");
        assert!(cache_key("/a/%2e%2e/b", &mut out).is_err());
        assert_eq!(out, "");
        assert!(cache_key("/%c3%28", &mut out).is_err());
        assert_eq!(out, "");
    }

    proptest! {
        #[test]
        fn keys_are_safe(path in "/[a-z%./\\\\0-9A-F]{0,24}") {
            let mut out = String::new();
            if cache_key(&path, &mut out).is_ok() {
                prop_assert!(!out.is_empty());
                prop_assert!(!out.starts_with('/') && !out.ends_with('/'));
                prop_assert!(!out.contains('\\') && !out.contains('\0'));
                for seg in out.split('/') {
                    prop_assert!(!seg.is_empty() && seg != "." && seg != "..");
                }
            } else {
                prop_assert!(out.is_empty());
            }
        }
    }
}
