//! Settings types that the drivers run with and the command line parses (see `CLI.md`):
//! times, durations and speeds. They live below both, so the drivers import nothing of the
//! command layer; `commands::args` re-exports them for the CLI.

use std::fmt;

/// A point in time as the user wrote it: absolute, or an offset from the recording's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeArg {
    /// Nanoseconds since the Unix epoch.
    Absolute(u64),
    /// Nanoseconds after the recording's first record.
    FromStart(u64),
}

impl TimeArg {
    /// Resolves against the recording's first receive time.
    pub fn resolve(self, start_ns: u64) -> u64 {
        match self {
            TimeArg::Absolute(ns) => ns,
            TimeArg::FromStart(off) => start_ns.saturating_add(off),
        }
    }
}

/// Replay pacing: as fast as possible, or `factor` times real time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    Max,
    Factor(f64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// `90s`, `5m`, `2h`, `1d`, `500ms`, `250us`, `10ns` (a bare number is seconds) -> ns.
pub fn parse_duration(s: &str) -> Result<u64, ArgError> {
    let err = || ArgError(format!("'{s}' is not a duration: write e.g. 90s, 5m, 2h or 500ms"));
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let unit_ns: u64 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" => 1,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return Err(err()),
    };
    // Integer and fractional parts separately: durations never go through f64 rounding when integral.
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let int: u64 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| err())? };
    let mut total = int.checked_mul(unit_ns).ok_or_else(err)?;
    let mut scale = unit_ns;
    for c in frac_part.chars() {
        let d = c.to_digit(10).ok_or_else(err)? as u64;
        scale /= 10;
        total = total.checked_add(d * scale).ok_or_else(err)?;
    }
    Ok(total)
}

/// RFC 3339 (`2025-01-26T19:14:10Z`, `2025-01-26T19:14:10.5+01:00`), integer ns since the
/// epoch, or an offset from the recording's start (`+90s`, `+5m`).
pub fn parse_time(s: &str) -> Result<TimeArg, ArgError> {
    let s = s.trim();
    if let Some(off) = s.strip_prefix('+') {
        return parse_duration(off).map(TimeArg::FromStart);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(TimeArg::Absolute)
            .map_err(|_| ArgError(format!("'{s}' is out of range for nanoseconds since the epoch")));
    }
    parse_rfc3339(s).map(TimeArg::Absolute)
}

/// `max`, `1x`, `20x`, or a bare positive number.
pub fn parse_speed(s: &str) -> Result<Speed, ArgError> {
    let err = || ArgError(format!("'{s}' is not a speed: write max, 1x, 20x or 20"));
    let s = s.trim();
    if s.eq_ignore_ascii_case("max") {
        return Ok(Speed::Max);
    }
    let num = s.strip_suffix(['x', 'X']).unwrap_or(s);
    let f: f64 = num.parse().map_err(|_| err())?;
    if !(f.is_finite() && f > 0.0) {
        return Err(err());
    }
    Ok(Speed::Factor(f))
}

fn parse_rfc3339(s: &str) -> Result<u64, ArgError> {
    let err = || {
        ArgError(format!(
            "'{s}' is not a time: write RFC 3339 (2025-01-26T19:14:10Z), nanoseconds since the epoch, or an offset like +90s"
        ))
    };
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, ArgError> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<i64>().map_err(|_| err())
        } else {
            Err(err())
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(err());
    }
    let mut rest = &s[19..];
    let mut frac_ns: i64 = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err());
        }
        let mut scale = 100_000_000;
        for c in r[..digits].bytes() {
            frac_ns += i64::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = &r[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let h = num(s.len() - 5..s.len() - 3)?;
            let m = num(s.len() - 2..s.len())?;
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    if secs < 0 {
        return Err(err());
    }
    Ok(secs as u64 * 1_000_000_000 + frac_ns as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats ns since the epoch as RFC 3339 UTC with nanoseconds (`2025-01-26T19:14:10.123456789Z`).
pub fn format_rfc3339(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = ns % 1_000_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("5m").unwrap(), 300_000_000_000);
        assert_eq!(parse_duration("2h").unwrap(), 7_200_000_000_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("2025-01-26T19:14:10Z").unwrap(), TimeArg::Absolute(1_737_918_850_000_000_000));
        assert_eq!(
            parse_time("2025-01-26T20:14:10.5+01:00").unwrap(),
            TimeArg::Absolute(1_737_918_850_500_000_000)
        );
        assert_eq!(parse_time("1737918850000000000").unwrap(), TimeArg::Absolute(1_737_918_850_000_000_000));
        assert_eq!(parse_time("+90s").unwrap(), TimeArg::FromStart(90_000_000_000));
        assert!(parse_time("yesterday").is_err());
        assert_eq!(format_rfc3339(1_737_918_850_500_000_000), "2025-01-26T19:14:10.500000000Z");
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("max").unwrap(), Speed::Max);
        assert_eq!(parse_speed("20x").unwrap(), Speed::Factor(20.0));
        assert_eq!(parse_speed("20").unwrap(), Speed::Factor(20.0));
        assert!(parse_speed("0x").is_err());
        assert!(parse_speed("fast").is_err());
    }
}
