//! The one duration grammar of every TOML file and command-line flag: a number and a unit.
//!
//! `250ms`, `10s`, `1.5s`, `2m`, `1h`, `500us`. A number without a unit is refused: the same
//! `"20"` once meant 20 ms in a topology and 20 s in a load profile, so neither is guessed.
//! Pure.

use std::time::Duration;

/// The units a duration may carry, as written in error messages.
pub const UNITS: &str = "us, ms, s, m, h";

/// Longest duration accepted anywhere (about 31 years: a typo, not a test).
const MAX_SECS: f64 = 1e9;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing, or not a number followed by a unit.
    #[error("`{0}` is not a duration (write it with a unit: 250ms, 10s, 2m, 1h)")]
    Malformed(String),
    /// A number with no unit, which could mean seconds or milliseconds.
    #[error("`{0}` has no unit: write {0}s or {0}ms (units: {UNITS})")]
    NoUnit(String),
    /// An unknown unit.
    #[error("`{0}` is not a time unit ({UNITS})")]
    Unit(String),
    /// Negative, not finite, or longer than anyone means.
    #[error("`{0}` is out of range")]
    Range(String),
    /// Zero where a positive length is needed.
    #[error("`{0}` must be more than 0")]
    Zero(String),
}

/// Parses `250ms`, `10s`, `1.5s`, `2m`, `1h`, `500us` (`µs` and `min` too).
///
/// # Errors
/// [`DurationError`], naming the text and what was expected.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(if t.starts_with('-') {
            DurationError::Range(t.to_owned())
        } else {
            DurationError::Malformed(t.to_owned())
        });
    }
    let n: f64 = num
        .parse()
        .map_err(|_| DurationError::Malformed(t.to_owned()))?;
    let secs = match unit {
        "" => return Err(DurationError::NoUnit(t.to_owned())),
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(DurationError::Unit(other.trim().to_owned())),
    };
    if !secs.is_finite() || !(0.0..=MAX_SECS).contains(&secs) {
        return Err(DurationError::Range(t.to_owned()));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// [`parse`] for lengths that must be positive (a run's `--duration`, an ILS interval).
///
/// # Errors
/// As [`parse`], and [`DurationError::Zero`].
pub fn parse_positive(s: &str) -> Result<Duration, DurationError> {
    match parse(s)? {
        d if d.is_zero() => Err(DurationError::Zero(s.trim().to_owned())),
        d => Ok(d),
    }
}

/// Writes a duration in the grammar [`parse`] reads, in the largest unit that keeps it exact
/// (`1500ms`, `2m`, `250us`).
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0s".to_owned()
    } else if ns.is_multiple_of(3_600_000_000_000) {
        format!("{}h", ns / 3_600_000_000_000)
    } else if ns.is_multiple_of(60_000_000_000) {
        format!("{}m", ns / 60_000_000_000)
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{}us", d.as_secs_f64() * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse("500µs"), Ok(Duration::from_micros(500)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn a_bare_number_is_refused_in_every_place() {
        let e = parse("20").unwrap_err();
        assert_eq!(e, DurationError::NoUnit("20".into()));
        assert_eq!(
            e.to_string(),
            "`20` has no unit: write 20s or 20ms (units: us, ms, s, m, h)"
        );
        assert!(matches!(parse("0"), Err(DurationError::NoUnit(_))));
        assert!(matches!(parse("1.5"), Err(DurationError::NoUnit(_))));
    }

    #[test]
    fn bad_text() {
        assert!(matches!(parse(""), Err(DurationError::Malformed(_))));
        assert!(matches!(parse("soon"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse("1.2.3s"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse("5 parsecs"), Err(DurationError::Unit(_))));
        assert!(matches!(parse("5d"), Err(DurationError::Unit(_))));
        assert!(matches!(parse("-1s"), Err(DurationError::Range(_))));
        assert!(matches!(
            parse("99999999999h"),
            Err(DurationError::Range(_))
        ));
        assert!(matches!(parse_positive("0ms"), Err(DurationError::Zero(_))));
        assert_eq!(parse_positive("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn format_round_trips() {
        for d in [
            Duration::ZERO,
            Duration::from_micros(250),
            Duration::from_millis(1500),
            Duration::from_secs(7),
            Duration::from_secs(120),
            Duration::from_secs(7200),
        ] {
            assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
        }
    }
}
