//! Event time: a UTC instant in nanoseconds, RFC 3339 parsing and formatting, and the typed
//! durations that rules and flags use ("90s", "30m", "2h", "7d").
//!
//! This module never reads the wall clock: every instant comes from an event.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// An instant in event time: nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A span of event time, non-negative, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(&'static str);

/// `count` per second of `elapsed`, for the rates that run summaries report (a run's own
/// duration, never an input to detection); a zero duration counts as a nanosecond.
pub fn per_second(count: u64, elapsed: std::time::Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_nanos(n: i64) -> Self {
        Timestamp(n)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn saturating_add(self, d: Span) -> Self {
        Timestamp(self.0.saturating_add(d.0))
    }

    pub fn saturating_sub(self, d: Span) -> Self {
        Timestamp(self.0.saturating_sub(d.0))
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0).max(0))
    }

    /// Index of the `bucket`-long interval since the epoch that holds this instant.
    pub fn bucket(self, bucket: Span) -> i64 {
        self.0.div_euclid(bucket.0.max(1))
    }

    /// Parses RFC 3339 (`2026-11-02T14:03:11.512Z`, `2026-11-02T15:03:11+01:00`).
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        parse_rfc3339(s.as_bytes())
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

/// `POW10[n]` is 10 to the `n`.
const POW10: [i64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

const SHAPE: TimeError = TimeError("time is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM))");

fn digits(b: &[u8], at: usize, n: usize) -> Result<i64, TimeError> {
    let part = b.get(at..at + n).ok_or(TimeError("time is truncated"))?;
    part.iter().try_fold(0i64, |acc, &c| if c.is_ascii_digit() { Ok(acc * 10 + i64::from(c - b'0')) } else { Err(SHAPE) })
}

fn expect(b: &[u8], at: usize, allowed: &[u8]) -> Result<(), TimeError> {
    match b.get(at) {
        Some(c) if allowed.contains(c) => Ok(()),
        _ => Err(SHAPE),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` as (year, month, day, hour, minute, second), in one test of all its
/// bytes; `None` exactly when [`head_error`] finds a bad part.
#[inline]
fn head(b: &[u8]) -> Option<[i64; 6]> {
    let h: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    let d = |i: usize| h[i].wrapping_sub(b'0');
    let not_digit = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].iter().fold(0, |bad, &i| bad | u8::from(d(i) > 9));
    let bad_separator = h[4] != b'-' || h[7] != b'-' || !matches!(h[10], b'T' | b't' | b' ') || h[13] != b':' || h[16] != b':';
    if not_digit != 0 || bad_separator {
        return None;
    }
    let two = |i: usize| i64::from(d(i) * 10 + d(i + 1));
    Some([two(0) * 100 + two(2), two(5), two(8), two(11), two(14), two(17)])
}

/// What is wrong with the head, read part by part: the first bad part in reading order.
#[cold]
fn head_error(b: &[u8]) -> Option<TimeError> {
    const PARTS: [(usize, usize, &[u8]); 11] = [
        (0, 4, b""),
        (4, 1, b"-"),
        (5, 2, b""),
        (7, 1, b"-"),
        (8, 2, b""),
        (10, 1, b"Tt "),
        (11, 2, b""),
        (13, 1, b":"),
        (14, 2, b""),
        (16, 1, b":"),
        (17, 2, b""),
    ];
    let check = |&(at, n, allowed): &(usize, usize, &[u8])| {
        if allowed.is_empty() {
            digits(b, at, n).map(drop)
        } else {
            expect(b, at, allowed)
        }
    };
    PARTS.iter().map(check).find_map(Result::err)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
#[inline(always)]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parse_rfc3339(b: &[u8]) -> Result<Timestamp, TimeError> {
    let [year, month, day, hour, minute, second] = head(b).ok_or_else(|| head_error(b).unwrap_or(SHAPE))?;
    // A leap second (:60) is folded onto the last second of its minute.
    let second = second.min(59);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(TimeError("time has an invalid date"));
    }
    if hour > 23 || minute > 59 {
        return Err(TimeError("time has an invalid time of day"));
    }
    let mut at = 19;
    let mut frac = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        // Nanoseconds: the first nine digits count, later ones are below the resolution.
        while let Some(c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            if at - start < 9 {
                frac = frac * 10 + i64::from(c - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(TimeError("time has an empty fraction"));
        }
        frac *= POW10[9 - (at - start).min(9)];
    }
    let offset_secs = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b":")?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimeError("time has an invalid offset"));
            }
            at += 6;
            let secs = oh * 3600 + om * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return Err(TimeError("time lacks a UTC offset (Z or +HH:MM)")),
    };
    if at != b.len() {
        return Err(TimeError("time has trailing characters"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    // In i128: the product alone overflows i64 for the earliest instants that do fit.
    let nanos = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(frac);
    i64::try_from(nanos).map(Timestamp).map_err(|_| TimeError("time is out of range (years 1678 to 2261)"))
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with millisecond precision, or finer when the instant has it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)?;
        if nanos % 1_000_000 == 0 {
            write!(f, ".{:03}Z", nanos / 1_000_000)
        } else if nanos % 1_000 == 0 {
            write!(f, ".{:06}Z", nanos / 1_000)
        } else {
            write!(f, ".{nanos:09}Z")
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(|e| E::custom(format_args!("{e}: {v:?}")))
            }
        }
        d.deserialize_str(V)
    }
}

impl Span {
    pub const ZERO: Span = Span(0);

    pub const fn from_secs(s: i64) -> Self {
        Span(s * NANOS_PER_SEC)
    }

    pub const fn from_nanos(n: i64) -> Self {
        Span(n)
    }

    pub const fn from_millis(ms: i64) -> Self {
        Span(ms * 1_000_000)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Parses `500ms`, `90s`, `30m`, `2h`, `7d`, or a combination such as `1h30m`.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        const HELP: &str = "duration must be a number with a unit: ms, s, m, h, d (e.g. 90s, 30m, 1h30m)";
        let b = s.trim().as_bytes();
        if b.is_empty() {
            return Err(TimeError(HELP));
        }
        let mut total: i64 = 0;
        let mut i = 0;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n: i64 = s.trim()[start..i].parse().map_err(|_| TimeError(HELP))?;
            let unit_start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &b[unit_start..i] {
                b"ns" => 1,
                b"ms" => 1_000_000,
                b"s" => NANOS_PER_SEC,
                b"m" => 60 * NANOS_PER_SEC,
                b"h" => 3600 * NANOS_PER_SEC,
                b"d" => 86_400 * NANOS_PER_SEC,
                _ => return Err(TimeError(HELP)),
            };
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or(TimeError("duration is too large"))?;
        }
        Ok(Span(total))
    }
}

impl FromStr for Span {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Span::parse(s)
    }
}

impl fmt::Display for Span {
    /// The shortest exact form in the units `Span::parse` reads (`1h30m`, `90s`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [
            (86_400 * NANOS_PER_SEC, "d"),
            (3600 * NANOS_PER_SEC, "h"),
            (60 * NANOS_PER_SEC, "m"),
            (NANOS_PER_SEC, "s"),
            (1_000_000, "ms"),
        ] {
            if rest >= unit {
                write!(f, "{}{name}", rest / unit)?;
                rest %= unit;
            }
        }
        if rest > 0 {
            write!(f, "{rest}ns")?;
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Span::parse(&s).map_err(|e| de::Error::custom(format_args!("{e}; got {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_contract_example() {
        let t = Timestamp::parse("2026-11-02T14:03:11.512Z").unwrap();
        assert_eq!(t.nanos(), 1_793_628_191_512_000_000);
        assert_eq!(t.to_string(), "2026-11-02T14:03:11.512Z");
    }

    #[test]
    fn applies_offsets() {
        let a = Timestamp::parse("2026-11-02T15:03:11+01:00").unwrap();
        let b = Timestamp::parse("2026-11-02T14:03:11Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2026-11-02T14:03:11.000Z");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-11-02",
            "2026-11-02T14:03:11",
            "2026-13-02T14:03:11Z",
            "2026-02-30T14:03:11Z",
            "2026-11-02T24:03:11Z",
            "2026-11-02T14:03:11.Z",
            "2026-11-02T14:03:11Zjunk",
            "1793628191",
            // Four-digit years beyond the nanosecond range once wrapped into the 1700s.
            "2263-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1677-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_extremes_round_trip() {
        for t in [Timestamp::MIN, Timestamp::MAX] {
            assert_eq!(Timestamp::parse(&t.to_string()), Ok(t), "{t}");
        }
    }

    #[test]
    fn keeps_sub_millisecond_precision() {
        let t = Timestamp::parse("2026-11-02T14:03:11.000123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-02T14:03:11.000123Z");
        let base = Timestamp::parse("2026-11-02T14:03:11Z").unwrap().nanos();
        for (text, nanos) in [("5", 500_000_000), ("123456789", 123_456_789), ("1234567891", 123_456_789), ("000000001", 1)] {
            let t = Timestamp::parse(&format!("2026-11-02T14:03:11.{text}Z")).unwrap();
            assert_eq!(t.nanos() - base, nanos, "{text}");
        }
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!(Span::parse("90s").unwrap(), Span::from_secs(90));
        assert_eq!(Span::parse("1h30m").unwrap(), Span::from_secs(5400));
        assert_eq!(Span::parse("250ms").unwrap(), Span::from_millis(250));
        assert_eq!(Span::from_secs(5400).to_string(), "1h30m");
        assert!(Span::parse("10").is_err());
        assert!(Span::parse("5 weeks").is_err());
    }

    proptest! {
        /// The one-test head and the part-by-part reading agree on what is a head, and on its
        /// values.
        #[test]
        fn head_agrees_with_reading_part_by_part(text in "[0-9]{0,5}[-0-9:Tt ]{0,16}[0-9:.Z]{0,3}", swap in 0usize..24, with in "[0-9a-zA-Z:. -]") {
            let mut b = text.into_bytes();
            if swap < b.len() {
                b[swap] = with.as_bytes()[0];
            }
            let got = head(&b);
            prop_assert_eq!(got.is_some(), head_error(&b).is_none(), "{:?}", String::from_utf8_lossy(&b));
            if let Some(fields) = got {
                let want = [(0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2)].map(|(at, n)| digits(&b, at, n).unwrap());
                prop_assert_eq!(fields, want);
            }
        }

        #[test]
        fn valid_heads_parse(y in 0i64..10000, mo in 0i64..100, d in 0i64..100, h in 0i64..100, mi in 0i64..100, s in 0i64..100, sep in "[Tt ]") {
            let text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}");
            prop_assert_eq!(head(text.as_bytes()), Some([y, mo, d, h, mi, s]));
        }

        #[test]
        fn format_then_parse_round_trips(n in -2_000_000_000_000_000_000i64..4_000_000_000_000_000_000i64) {
            let t = Timestamp::from_nanos(n);
            prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn span_display_round_trips(n in 0i64..10_000_000_000_000_000) {
            let s = Span(n);
            prop_assert_eq!(Span::parse(&s.to_string()).unwrap(), s);
        }
    }
}
