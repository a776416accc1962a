//! HTTP dates: IMF-fixdate (RFC 9110 5.6.7), with a civil calendar written
//! here (proleptic Gregorian, days since 1970-01-01).

/// The last second an IMF-fixdate can show: 9999-12-31 23:59:59 UTC.
const MAX_UNIX: u64 = 253_402_300_799;

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Length of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const LEN: usize = 29;

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day count since 1970-01-01 of a civil date (inverse of
/// [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The IMF-fixdate bytes of `unix` (clamped to year 9999).
pub(crate) fn imf_fixdate(unix: u64) -> [u8; LEN] {
    let unix = unix.min(MAX_UNIX) as i64;
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    let two = |out: &mut [u8], v: i64| {
        out[0] = b'0' + (v / 10) as u8;
        out[1] = b'0' + (v % 10) as u8;
    };
    two(&mut out[5..7], i64::from(day));
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year % 100);
    two(&mut out[17..19], secs / 3600);
    two(&mut out[20..22], secs / 60 % 60);
    two(&mut out[23..25], secs % 60);
    out
}

/// Appends the IMF-fixdate (RFC 9110 5.6.7) of `unix` seconds to `out`,
/// e.g. `Sun, 06 Nov 1994 08:49:37 GMT` for 784111777. Times after
/// 9999-12-31 23:59:59, which the format cannot show, are clamped to it.
pub fn http_date(unix: u64, out: &mut String) {
    let bytes = imf_fixdate(unix);
    // Every byte comes from the ASCII tables above.
    out.extend(bytes.iter().map(|&b| char::from(b)));
}

/// Parses an IMF-fixdate (RFC 9110 5.6.7) into unix seconds. The obsolete
/// rfc850-date and asctime-date forms, dates before 1970, invalid calendar
/// dates, a day name that does not match the date and anything around the
/// date give `None`.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let b: &[u8; LEN] = s.as_bytes().try_into().ok()?;
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if &b[3..5] != b", "
        || b[7] != b' '
        || b[11] != b' '
        || b[16] != b' '
        || b[19] != b':'
        || b[22] != b':'
        || &b[25..] != b" GMT"
    {
        return None;
    }
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| m[..] == b[8..11])? as u32 + 1;
    let year = i64::from(num(12..16)?);
    let (hour, minute, second) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if DAYS[days.rem_euclid(7) as usize][..] != b[..3] {
        return None;
    }
    let unix = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    u64::try_from(unix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fmt(unix: u64) -> String {
        let mut s = String::new();
        http_date(unix, &mut s);
        s
    }

    #[test]
    fn known_dates() {
        assert_eq!(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(fmt(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fmt(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(fmt(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(fmt(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(fmt(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(fmt(MAX_UNIX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(fmt(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn appends() {
        let mut s = String::from("Date: ");
        http_date(0, &mut s);
        assert_eq!(s, "Date: Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn parses_fixdate_only() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"),
            Some(951_782_400)
        );
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT", // rfc850-date
            "Sun Nov  6 08:49:37 1994",       // asctime-date
            "Mon, 06 Nov 1994 08:49:37 GMT",  // wrong day name
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sun, 06 Nov 1994 08:60:37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Wed, 29 Feb 1995 00:00:00 GMT",
            "Thu, 00 Jan 1970 00:00:00 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sun, 0x Nov 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_round_trip_over_the_range() {
        let last = (MAX_UNIX / 86_400) as i64;
        let mut day = 0;
        while day <= last {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            assert!(d >= 1 && d <= days_in_month(y, m));
            day += 17;
        }
    }

    proptest! {
        #[test]
        fn round_trip(unix in 0..=MAX_UNIX) {
            let s = fmt(unix);
            prop_assert_eq!(s.len(), LEN);
            prop_assert_eq!(parse_http_date(&s), Some(unix));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_http_date(&s);
        }
    }
}
