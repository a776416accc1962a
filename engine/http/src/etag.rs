//! Entity tags and their comparison (RFC 9110 8.8.3).

/// Splits an entity-tag into (weak, opaque-tag with its quotes):
/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` (RFC 9110 8.8.3).
pub(crate) fn parse(tag: &str) -> Option<(bool, &str)> {
    let (weak, opaque) = match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
    // etagc = %x21 / %x23-7E / obs-text
    if inner
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
    {
        Some((weak, opaque))
    } else {
        None
    }
}

/// Strong comparison (RFC 9110 8.8.3.2): both tags strong and their
/// opaque-tags equal octet by octet.
pub(crate) fn strong_eq(a: &str, b: &str) -> bool {
    matches!((parse(a), parse(b)), (Some((false, x)), Some((false, y))) if x == y)
}

/// Weak comparison (RFC 9110 8.8.3.2): the opaque-tags are equal, whether or
/// not either tag is weak.
pub(crate) fn weak_eq(a: &str, b: &str) -> bool {
    matches!((parse(a), parse(b)), (Some((_, x)), Some((_, y))) if x == y)
}

/// Evaluates If-None-Match (RFC 9110 13.1.2) against the current entity-tag
/// of an existing representation: `Some(true)` when it matches (`*`, or one
/// listed tag equal under weak comparison), `Some(false)` when not, `None`
/// when the field is not valid, so that it is ignored.
pub(crate) fn none_match(field: &str, current: &str) -> Option<bool> {
    let field = field.trim_matches([' ', '\t']);
    if field == "*" {
        return Some(true);
    }
    let mut matched = false;
    let mut any = false;
    let mut rest = field;
    loop {
        // 1#entity-tag: skip OWS and empty list elements (RFC 9110 5.6.1).
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return any.then_some(matched);
        }
        let open = if rest.starts_with("W/\"") {
            3
        } else if rest.starts_with('"') {
            1
        } else {
            return None;
        };
        let close = open + rest[open..].find('"')?;
        let tag = &rest[..=close];
        parse(tag)?;
        any = true;
        matched |= weak_eq(tag, current);
        rest = rest[close + 1..].trim_start_matches([' ', '\t']);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(parse("\"abc\""), Some((false, "\"abc\"")));
        assert_eq!(parse("W/\"abc\""), Some((true, "\"abc\"")));
        assert_eq!(parse("\"\""), Some((false, "\"\"")));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("\"a b\""), None);
        assert_eq!(parse("w/\"a\""), None);
        assert_eq!(parse("\""), None);
    }

    #[test]
    fn comparisons_follow_the_rfc_table() {
        // RFC 9110 8.8.3.2, the example table.
        assert!(!strong_eq("W/\"1\"", "W/\"1\""));
        assert!(weak_eq("W/\"1\"", "W/\"1\""));
        assert!(!strong_eq("W/\"1\"", "W/\"2\""));
        assert!(!weak_eq("W/\"1\"", "W/\"2\""));
        assert!(!strong_eq("W/\"1\"", "\"1\""));
        assert!(weak_eq("W/\"1\"", "\"1\""));
        assert!(strong_eq("\"1\"", "\"1\""));
        assert!(weak_eq("\"1\"", "\"1\""));
    }

    #[test]
    fn if_none_match_lists() {
        let cur = "\"a1b2\"";
        assert_eq!(none_match("*", cur), Some(true));
        assert_eq!(none_match("\"a1b2\"", cur), Some(true));
        assert_eq!(none_match("W/\"a1b2\"", cur), Some(true));
        assert_eq!(none_match("\"x\", W/\"a1b2\"", cur), Some(true));
        assert_eq!(none_match("\"x\",\"y\"", cur), Some(false));
        assert_eq!(none_match(" , \"x\" ,, \"a1b2\" ", cur), Some(true));
        assert_eq!(none_match("\"a,b\", \"a1b2\"", cur), Some(true));
        assert_eq!(none_match("\"a,b\"", "\"a,b\""), Some(true));
        assert_eq!(none_match("a1b2", cur), None);
        assert_eq!(none_match("\"x\" \"a1b2\"", cur), None);
        assert_eq!(none_match("\"x", cur), None);
        assert_eq!(none_match("", cur), None);
        assert_eq!(none_match("*, \"x\"", cur), None);
    }
}
